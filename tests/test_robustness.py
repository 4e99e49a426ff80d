"""Interruption, resume, numerical faults, determinism and bad input, run against the real scripts."""
import json
import math
import os
import signal
import subprocess
import sys
import time

import random

import numpy as np
import pytest
import torch

import main
from conftest import ROOT, run_script
from main import set_rng_state
from model import save_checkpoint, VanillaRNN

SMALL = ["--hidden-size", "24", "--num-layers", "2", "--batch-size", "16", "--threads", "1",
         "--seed", "3",
         "--schedule", "cosine", "--warmup-steps", "5", "--dropout", "0.1", "--shift"]


def strip_times(metrics: dict) -> dict:
    """Metrics without what legitimately differs between runs: wall times, the command and folders."""
    for m in metrics["models"].values():
        for row in m["history"] + [m["best"]]:
            row.pop("wall_s")
    for key in ("wall_s", "command"):
        metrics.pop(key)
    for key in ("out_dir", "figures_dir"):
        metrics["settings"].pop(key)
    return metrics


def weights(path):
    return torch.load(path, weights_only=True)["model"]


def train_cmd(corpus, out, epochs=6):
    return [sys.executable, "main.py", "--data", str(corpus), "--epochs", str(epochs), "--out-dir",
            str(out),
            "--figures-dir", str(out), *SMALL]


def test_killed_run_resumes_to_the_same_result_and_runs_are_deterministic(tmp_path, tiny_corpus):
    """Slow (about 20 s): three real training processes, one of them killed with SIGKILL mid-run."""
    env = dict(os.environ, MKL_CBWR="COMPATIBLE")
    for name in ("a", "b"):  # two uninterrupted runs: determinism
        subprocess.run(train_cmd(tiny_corpus, tmp_path / name), cwd=ROOT, env=env, check=True,
                       capture_output=True)
    killed = tmp_path / "killed"
    proc = subprocess.Popen(train_cmd(tiny_corpus, killed), cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    last, deadline = killed / "rnn.last.pt", time.time() + 120
    while time.time() < deadline and not (last.exists() and torch.load(last,
                                                                       weights_only=True)["epoch"] >= 2):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "metrics.json").exists(), "the run finished before it could be killed"
    assert not (killed / "lstm.pt").exists()
    resumed = run_script("main.py", *train_cmd(tiny_corpus, killed)[2:], "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "rnn: resuming after epoch 2" in resumed.stdout or "rnn: resuming after epoch 3" in resumed.stdout
    reference = strip_times(json.loads((tmp_path / "a" / "metrics.json").read_text()))
    assert strip_times(json.loads((tmp_path / "b" / "metrics.json").read_text())) == reference
    assert strip_times(json.loads((killed / "metrics.json").read_text())) == reference
    for kind in ("rnn", "lstm"):
        expected = weights(tmp_path / "a" / f"{kind}.pt")
        for other in (tmp_path / "b", killed):
            got = weights(other / f"{kind}.pt")
            assert all(torch.equal(expected[k],
                                   got[k]) for k in expected), f"{kind} weights differ in {other}"
    again = run_script("main.py", *train_cmd(tiny_corpus, killed)[2:], "--resume")  # all finished: nothing to do
    assert again.returncode == 0 and "rnn: finished epoch 6" in again.stdout and "lstm: finished epoch 6" in again.stdout
    assert " | train loss" not in again.stdout


def test_resume_refuses_other_settings_or_data(tmp_path, tiny_corpus):
    out = tmp_path / "run"
    main.main(["--data", str(tiny_corpus), "--epochs", "1", "--models", "rnn", "--out-dir",
               str(out),
               "--figures-dir", str(out), *SMALL])
    before = (out / "rnn.pt").read_bytes()
    result = run_script("main.py", "--data", tiny_corpus, "--epochs", "2", "--models", "rnn",
                        "--out-dir", out,
                        "--figures-dir", out, *SMALL[:-1], "--lr", "0.5", "--resume")
    assert result.returncode == 1 and "cannot resume" in result.stderr
    assert f"lr {main.RECIPES['default']['rnn']['lr']} -> 0.5" in result.stderr  # the RNN's own rate, then 0.5
    other = tmp_path / "other.txt"
    other.write_text(tiny_corpus.read_text() + "more text\n")
    result = run_script("main.py", "--data", other, "--epochs", "2", "--models", "rnn", "--out-dir",
                        out,
                        "--figures-dir", out, *SMALL, "--resume")
    assert result.returncode == 1 and "corpus sha256" in result.stderr
    assert (out / "rnn.pt").read_bytes() == before
    last = torch.load(out / "rnn.last.pt", weights_only=True)
    settings = dict(last["settings"])
    main.check_resume(last, settings | dict(epochs=9), last["corpus"], last["vocab"], "rnn.last.pt")  # may grow
    with pytest.raises(main.TrainingError, match="init_gain 1.0 -> 3.0"):
        main.check_resume(last, settings | dict(init_gain=3.0), last["corpus"], last["vocab"],
                          "rnn.last.pt")


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoints(tmp_path, tiny_corpus,
                                                                   monkeypatch, capsys):
    out = tmp_path / "run"
    real, calls = main.F.cross_entropy, []

    def failing(*args, **kwargs):
        calls.append(1)
        loss = real(*args, **kwargs)
        return loss * math.nan if len(calls) == 40 else loss  # epoch 2 of about 28 steps each

    monkeypatch.setattr(main.F, "cross_entropy", failing)
    with pytest.raises(SystemExit) as exit_info:
        main.main(["--data", str(tiny_corpus), "--epochs", "3", "--models", "rnn", "--out-dir",
                   str(out),
                   "--figures-dir", str(out), *SMALL])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "rnn epoch 2: loss became nan at step" in err and "last good checkpoints are kept" in err
    assert torch.load(out / "rnn.last.pt", weights_only=True)["epoch"] == 1
    assert all(torch.isfinite(w).all() for w in weights(out / "rnn.pt").values())
    assert len(json.loads((out / "metrics.json").read_text())["models"]["rnn"]["history"]) == 1


def test_ctrl_c_keeps_the_latest_state_and_writes_what_it_has(tmp_path, tiny_corpus, monkeypatch):
    out = tmp_path / "run"
    real, calls = main.F.cross_entropy, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 60:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(main.F, "cross_entropy", interrupted)
    with pytest.raises(SystemExit) as exit_info:
        main.main(["--data", str(tiny_corpus), "--epochs", "5", "--out-dir", str(out),
                   "--figures-dir", str(out), *SMALL])
    assert exit_info.value.code == 130
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["models"]) == ["rnn"] and len(metrics["models"]["rnn"]["history"]) == 2
    assert (out / "loss.png").exists() and (out / "accuracy.png").exists()
    assert torch.load(out / "rnn.last.pt", weights_only=True)["epoch"] == 2


def test_init_from_starts_from_trained_weights_with_a_fresh_optimizer(tmp_path, tiny_corpus,
                                                                      capsys):
    first, second, fresh = tmp_path / "first", tmp_path / "second", tmp_path / "fresh"
    common = ["--data", str(tiny_corpus), "--models", "rnn", *SMALL]
    main.main([*common, "--epochs", "3", "--out-dir", str(first), "--figures-dir", str(first)])
    main.main([*common, "--epochs", "1", "--out-dir", str(second), "--figures-dir", str(second),
               "--init-from", str(first)])
    main.main([*common, "--epochs", "1", "--out-dir", str(fresh), "--figures-dir", str(fresh)])
    loss = lambda d: json.loads((d / "metrics.json").read_text())["models"]["rnn"]["history"][0]["train_loss"]
    assert loss(second) < loss(fresh) - 0.1
    assert torch.load(second / "rnn.last.pt",
                      weights_only=True)["optimizer"]["state"][0]["step"] < 40
    with pytest.raises(SystemExit):
        main.main([*common, "--hidden-size", "16", "--epochs", "1", "--out-dir",
                   str(tmp_path / "x"),
                   "--figures-dir", str(tmp_path / "x"), "--init-from", str(first / "rnn.pt")])
    assert "model settings" in capsys.readouterr().err


def test_rng_states_restore_from_a_checkpoint_mapped_to_another_device(tmp_path, tiny_corpus):
    """On a GPU, --resume reads <kind>.last.pt with every tensor mapped to the device, and
    torch.set_rng_state and Generator.set_state accept only CPU byte tensors. Mapped to the meta
    device (a stand-in for a GPU: its tensors hold no data the CPU can read), the saved states still
    restore."""
    out = tmp_path / "run"
    main.main(["--data", str(tiny_corpus), "--epochs", "1", "--models", "rnn", "--out-dir",
               str(out),
               "--figures-dir", str(out), *SMALL])
    on_meta = torch.load(out / "rnn.last.pt", map_location="meta", weights_only=True)
    assert on_meta["model"]["fc.weight"].device.type == "meta"
    draws = []
    for last in (on_meta, torch.load(out / "rnn.last.pt", weights_only=True)):
        generator = torch.Generator()
        set_rng_state(last["rng"], generator)
        draws.append((torch.rand(4), torch.randperm(50, generator=generator), np.random.rand(2),
                      random.random()))
    for a, b in zip(*draws):
        assert torch.equal(torch.as_tensor(a), torch.as_tensor(b))
    torch.manual_seed(123)  # a different state, to show that restoring really moves it
    set_rng_state(on_meta["rng"], torch.Generator())
    assert torch.equal(torch.rand(4), draws[0][0])
