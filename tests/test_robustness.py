"""Interruption, resume, numerical faults, determinism and bad input, run against the real scripts."""

import json
import math
import os
import random
import signal
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import ROOT, train_args

import main
import trainer
from trainer import set_rng_state

SMALL = (
    "--hidden-size 24 --num-layers 2 --batch-size 16 --threads 1 --seed 3 --schedule cosine"
    " --warmup-steps 5 --dropout 0.1 --shift"
).split()


def strip_times(metrics: dict) -> dict:
    """Metrics without what legitimately differs between runs: wall times, the command and folders."""
    for m in metrics["models"].values():
        for row in m["history"] + [m["best"]]:
            row.pop("wall_s")
    for key in ("wall_s", "command"):
        metrics.pop(key)
    return metrics


def weights(path):
    return torch.load(path, weights_only=True)["model"]


# main.py in a child process that kills itself with SIGKILL while writing the RNN's epoch-3 resume
# checkpoint: half a temporary file on disk, as a power cut or the OOM killer would leave it. The
# kill comes at a fixed point of the run, not after a wait, so no timing can change the outcome.
KILLED_MID_SAVE = """
import os, runpy, signal, sys
from pathlib import Path
import model
real = model.atomic_save
def save(obj, path):
    path = Path(path)
    if path.name == "rnn.last.pt" and obj["epoch"] == 3:
        with open(path.with_name(f".{path.name}.{os.getpid()}.tmp"), "wb") as f:
            f.write(b"torn")
        os.kill(os.getpid(), signal.SIGKILL)
    real(obj, path)
model.atomic_save = save
sys.argv[0] = "main.py"
runpy.run_path("main.py", run_name="__main__")
"""


def test_killed_run_resumes_to_the_same_result_as_an_uninterrupted_one(
    tmp_path, tiny_corpus, capsys
):
    """The killed part runs in another process, so equal weights also show that separate
    same-seed runs agree bit for bit (one thread)."""
    killed = tmp_path / "killed"
    argv = lambda out: train_args(tiny_corpus, out, *SMALL, models=None, epochs=4)
    child = subprocess.run(
        [sys.executable, "-c", KILLED_MID_SAVE, *argv(killed)],
        cwd=ROOT,
        env=dict(os.environ, MKL_CBWR="COMPATIBLE"),
        capture_output=True,
        text=True,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert "rnn epoch   2" in child.stdout and "rnn epoch   3" not in child.stdout  # died saving
    assert torch.load(killed / "rnn.last.pt", weights_only=True)["epoch"] == 2
    assert not (killed / "metrics.json").exists() and not (killed / "lstm.pt").exists()
    main.main(argv(tmp_path / "a"))
    capsys.readouterr()
    main.main([*argv(killed), "--resume"])
    assert "rnn: resuming after epoch 2" in capsys.readouterr().out
    reference = strip_times(json.loads((tmp_path / "a" / "metrics.json").read_text()))
    assert strip_times(json.loads((killed / "metrics.json").read_text())) == reference
    for kind in ("rnn", "lstm"):
        expected, got = weights(tmp_path / "a" / f"{kind}.pt"), weights(killed / f"{kind}.pt")
        assert all(torch.equal(expected[k], got[k]) for k in expected), f"{kind} weights differ"
    main.main([*argv(killed), "--resume"])  # all finished: nothing to do
    again = capsys.readouterr().out
    assert "rnn: finished epoch 4" in again and "lstm: finished epoch 4" in again
    assert " | train loss" not in again


def test_resume_refuses_other_settings_or_data(tmp_path, tiny_corpus, capsys):
    out = tmp_path / "run"
    main.main(train_args(tiny_corpus, out, *SMALL))
    before = (out / "rnn.pt").read_bytes()
    with pytest.raises(SystemExit) as refused:
        main.main(train_args(tiny_corpus, out, *SMALL[:-1], "--lr", "0.5", "--resume", epochs=2))
    err = capsys.readouterr().err
    assert refused.value.code == 1 and "cannot resume" in err
    # the RNN's own rate, then 0.5
    assert f"lr {trainer.RECIPES['default']['rnn'].lr} -> 0.5" in err
    other = tmp_path / "other.txt"
    other.write_text(tiny_corpus.read_text() + "more text\n")
    with pytest.raises(SystemExit):
        main.main(train_args(other, out, *SMALL, "--resume", epochs=2))
    assert "corpus sha256" in capsys.readouterr().err
    assert (out / "rnn.pt").read_bytes() == before
    last = torch.load(out / "rnn.last.pt", weights_only=True)
    settings = trainer.Settings(**last["settings"])
    trainer.check_resume(
        last, replace(settings, epochs=9), last["corpus"], last["vocab"], "rnn.last.pt"
    )  # may grow
    with pytest.raises(trainer.TrainingError, match="init_gain 1.0 -> 3.0"):
        trainer.check_resume(
            last, replace(settings, init_gain=3.0), last["corpus"], last["vocab"], "rnn.last.pt"
        )


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoints(
    tmp_path, tiny_corpus, monkeypatch, capsys
):
    out = tmp_path / "run"
    real, calls = trainer.F.cross_entropy, []

    def failing(*args, **kwargs):
        calls.append(1)
        loss = real(*args, **kwargs)
        return loss * math.nan if len(calls) == 40 else loss  # epoch 2 of about 28 steps each

    monkeypatch.setattr(trainer.F, "cross_entropy", failing)
    with pytest.raises(SystemExit) as exit_info:
        main.main(train_args(tiny_corpus, out, *SMALL, epochs=3))
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "rnn epoch 2: loss became nan at step" in err and "last good checkpoints are kept" in err
    assert torch.load(out / "rnn.last.pt", weights_only=True)["epoch"] == 1
    assert all(torch.isfinite(w).all() for w in weights(out / "rnn.pt").values())
    assert len(json.loads((out / "metrics.json").read_text())["models"]["rnn"]["history"]) == 1


def test_ctrl_c_keeps_the_latest_state_and_writes_what_it_has(tmp_path, tiny_corpus, monkeypatch):
    out = tmp_path / "run"
    real, calls = trainer.F.cross_entropy, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 60:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(trainer.F, "cross_entropy", interrupted)
    with pytest.raises(SystemExit) as exit_info:
        main.main(train_args(tiny_corpus, out, *SMALL, models=None, epochs=5))
    assert exit_info.value.code == 130
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["models"]) == ["rnn"] and len(metrics["models"]["rnn"]["history"]) == 2
    assert (out / "loss.png").exists() and (out / "accuracy.png").exists()
    assert torch.load(out / "rnn.last.pt", weights_only=True)["epoch"] == 2


def test_init_from_starts_from_trained_weights_with_a_fresh_optimizer(
    tmp_path, tiny_corpus, capsys
):
    first, second, fresh = tmp_path / "first", tmp_path / "second", tmp_path / "fresh"
    main.main(train_args(tiny_corpus, first, *SMALL, epochs=3))
    main.main(train_args(tiny_corpus, second, *SMALL, "--init-from", first))
    main.main(train_args(tiny_corpus, fresh, *SMALL))
    loss = lambda d: json.loads((d / "metrics.json").read_text())["models"]["rnn"]["history"][0][
        "train_loss"
    ]
    assert loss(second) < loss(fresh) - 0.1
    assert (
        torch.load(second / "rnn.last.pt", weights_only=True)["optimizer"]["state"][0]["step"] < 40
    )
    bigger = [*SMALL, "--hidden-size", "16", "--init-from", first / "rnn.pt"]
    with pytest.raises(SystemExit):
        main.main(train_args(tiny_corpus, tmp_path / "x", *bigger))
    assert "model settings" in capsys.readouterr().err


def test_rng_states_restore_from_a_checkpoint_mapped_to_another_device(tmp_path, tiny_corpus):
    """On a GPU, --resume reads <kind>.last.pt with every tensor mapped to the device, and
    torch.set_rng_state and Generator.set_state accept only CPU byte tensors. Mapped to the meta
    device (a stand-in for a GPU: its tensors hold no data the CPU can read), the saved states still
    restore."""
    out = tmp_path / "run"
    main.main(train_args(tiny_corpus, out, *SMALL))
    on_meta = torch.load(out / "rnn.last.pt", map_location="meta", weights_only=True)
    assert on_meta["model"]["fc.weight"].device.type == "meta"
    draws = []
    for last in (on_meta, torch.load(out / "rnn.last.pt", weights_only=True)):
        generator = torch.Generator()
        set_rng_state(last["rng"], generator)
        draws.append(
            (
                torch.rand(4),
                torch.randperm(50, generator=generator),
                np.random.rand(2),
                random.random(),
            )
        )
    for a, b in zip(*draws):
        assert torch.equal(torch.as_tensor(a), torch.as_tensor(b))
    torch.manual_seed(123)  # a different state, to show that restoring really moves it
    set_rng_state(on_meta["rng"], torch.Generator())
    assert torch.equal(torch.rand(4), draws[0][0])
