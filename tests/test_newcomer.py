"""A newcomer's own text, start to finish: nothing the repository ships is overwritten, prompts fit
the model, --adapt and --score work from a clone with nothing prepared, a run ends with a result,
small texts are warned about, and the console says what each thing is."""

import argparse
import json
import shutil
import subprocess
import sys

import pytest
import torch
from conftest import ROOT, train_args

import evaluation
import generate
import main
import trainer
from dataset import Vocab, make_split, opening_words
from figures import draw
from sampling import fitting_prompts

GREEK = "Καλημέρα φίλε μου, πού είσαι σήμερα;\nΗ θάλασσα είναι ήσυχη και ο ήλιος λάμπει.\n" * 60
TINY = ["--hidden-size", "8", "--num-layers", "1"]


def git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """The repository as a fresh clone of the working tree: its files but no ignored one (no data
    prepared, no run)."""
    where = tmp_path_factory.mktemp("clone")
    listed = git("ls-files", "--cached", "--others", "--exclude-standard", cwd=ROOT).stdout
    for name in listed.splitlines():
        if (ROOT / name).is_file():
            (where / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, where / name)
    git("init", "-q", cwd=where)
    git("add", "-A", cwd=where)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "clone", cwd=where)
    return where


def test_a_users_own_text_from_train_to_score_leaves_the_clone_unchanged(clone):
    """Train on one's own text with the default folders, sample with no prompt, adapt to another
    text and score it: every step succeeds and no tracked file changes."""
    (clone / "mine.txt").write_text(GREEK, encoding="utf-8")
    (clone / "play.txt").write_text(GREEK[::-1], encoding="utf-8")
    env = dict(MKL_CBWR="COMPATIBLE", OMP_NUM_THREADS="1")
    run = lambda *args: subprocess.run(
        [sys.executable, *args], cwd=clone, capture_output=True, text=True, env=env | dict(PATH="")
    )
    trained = run("main.py", "--data", "mine.txt", "--epochs", "2", *TINY)
    assert trained.returncode == 0, trained.stderr
    assert "a sample from the" in trained.stdout and "runs/mine/" in trained.stdout
    steps = [
        run("generate.py", "--length", "20"),
        run("generate.py", "--adapt", "play.txt", "--length", "20"),
        run("generate.py", "--score", "play.txt", "--heatmap", "heat.html"),
    ]
    for step in steps:
        assert step.returncode == 0, step.stderr
    assert "checkpoint runs/mine/" in steps[0].stderr  # the run just trained, not the shipped one
    assert "adapted to play.txt" in steps[1].stderr
    assert steps[2].stdout.count("dynamic ") == 2  # both models, each under every protocol
    assert (clone / "heat.html").stat().st_size > len(GREEK) // 2
    status = git("status", "--porcelain", "--untracked-files=no", cwd=clone).stdout
    assert status == "", status


def test_a_run_writes_under_runs_by_default_and_ends_with_its_result(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(main, "ROOT", tmp_path)
    text = tmp_path / "mine.txt"
    text.write_text(GREEK, encoding="utf-8")
    main.main(["--data", str(text), "--epochs", "1", "--models", "rnn", *TINY])
    out = capsys.readouterr()
    folder = tmp_path / "runs" / "mine"
    assert {p.name for p in folder.iterdir()} >= {"rnn.pt", "metrics.json", "loss.png"}
    best = json.loads((folder / "metrics.json").read_text())["models"]["rnn"]["best"]["val_loss"]
    assert f"RNN {best:.4f} nats/char ({best / 0.6931471805599453:.3f} bits)" in out.out
    assert "a sample from the RNN" in out.out and "warning: rnn takes only" in out.err


def test_the_prompts_a_checkpoint_reads_come_from_its_own_alphabet():
    greek = dict(vocab="".join(sorted(set(GREEK))), prompts=opening_words(GREEK))
    assert fitting_prompts(greek) == ["Καλημέρα ", "Η "]  # the text's opening words, no two alike
    assert fitting_prompts(dict(vocab="abcdefghT ")) == ["The "]  # the defaults it can read
    assert fitting_prompts(dict(vocab="xyz")) == [""]  # else the start of a text


def test_the_checkpoint_carries_what_adapting_needs(tmp_path):
    """The gradient statistics a run stores equal those computed by hand on its training text."""
    text = tmp_path / "mine.txt"
    text.write_text(GREEK, encoding="utf-8")
    main.main(train_args(text, tmp_path, *TINY))
    model, ckpt = generate.load(tmp_path / "rnn.pt", "cpu")
    data = Vocab(ckpt["vocab"]).encode(GREEK)
    by_hand = evaluation.grad_ms(model, data, 30, 64, "cpu")
    assert all(torch.allclose(a, b) for a, b in zip(ckpt["grad_ms"], by_hand))
    assert ckpt["prompts"] == opening_words(GREEK)


def test_score_reads_each_protocol_as_evaluation_read_does(tmp_path, capsys):
    text = tmp_path / "mine.txt"
    text.write_text(GREEK, encoding="utf-8")
    main.main(train_args(text, tmp_path, *TINY))
    capsys.readouterr()
    play = tmp_path / "play.txt"
    play.write_text("Καλημέρα! " + GREEK[:500] + "Z", encoding="utf-8")  # Z: outside the vocabulary
    generate.main(["--score", str(play), "--checkpoint", str(tmp_path / "rnn.pt")])
    out = capsys.readouterr().out
    model, ckpt = generate.load(tmp_path / "rnn.pt", "cpu")
    vocab = Vocab(ckpt["vocab"])
    data = vocab.encode(play.read_text(encoding="utf-8"), unknown=-1)
    fill = vocab.stoi[" "]
    for protocol, streams in (("chunks", 1), ("stateful", 1)):
        nll, _ = evaluation.read(model, data, protocol, 30, streams, fill=fill)
        assert f"{protocol:9s} {nll.nanmean().item():.4f} nats/char" in out
    unknown = sum(c not in vocab.stoi for c in play.read_text(encoding="utf-8")[1:])
    assert unknown == 2 and f"{unknown} outside its vocabulary" in out  # '!' and 'Z'


def test_warm_up_is_never_longer_than_a_tenth_of_the_run():
    settings = trainer.resolve("rnn", "default", dict(epochs=2))  # the recipe's warm-up: 200 steps
    split = make_split(torch.arange(6001) % 5, 30)  # 160 training chunks: 5 steps of 32 an epoch
    _, t = trainer.setup_training("rnn", settings, 5, split, "cpu")
    assert t.optimizer.param_groups[0]["lr"] == settings.lr  # warm-up: 1 step of the run's 10


def test_a_one_epoch_curve_is_drawn_with_markers_and_its_best_epoch(tmp_path, monkeypatch):
    calls = []
    plt = draw.pyplot()
    real = plt.Axes.plot
    monkeypatch.setattr(
        plt.Axes, "plot", lambda ax, *a, **k: calls.append((a, k)) or real(ax, *a, **k)
    )
    row = dict(epoch=1, train_loss=2.0, val_loss=2.1, train_acc=0.3, val_acc=0.29)
    draw.draw_figures(dict(rnn=dict(history=[row], best=row)), tmp_path)
    assert sum(k.get("marker") == "." for _, k in calls) == 4  # train and val, in both figures
    assert sum(a[-1] == "*" for a, _ in calls) == 2  # the best epoch, starred in both


def test_samples_on_the_console_say_their_temperature_and_prompt(tmp_path, capsys):
    text = tmp_path / "mine.txt"
    text.write_text(GREEK, encoding="utf-8")
    main.main(train_args(text, tmp_path, *TINY))
    capsys.readouterr()
    argv = ["--checkpoint", str(tmp_path / "rnn.pt"), "--temperature", "0.5", "1", "--length", "5"]
    generate.main(argv)
    out = capsys.readouterr().out
    assert "--- T 0.5 | prompt 'Καλημέρα ' | sample 0 ---" in out and "--- T 1 | prompt 'Η '" in out


@pytest.mark.parametrize("script", [main, generate])
def test_help_shows_every_default(script, monkeypatch):
    """Every option with a default names it in its help (an on/off switch is off unless given; an
    option without one does nothing unless given)."""
    parsers = []

    def stop(parser, *args):
        parsers.append(parser)
        raise KeyboardInterrupt  # before the parsed arguments are used

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", stop)
    with pytest.raises(KeyboardInterrupt):
        script.get_args([])
    switches = (argparse._StoreTrueAction, argparse._HelpAction, argparse._AppendAction)
    options = [a for a in parsers[0]._actions if a.option_strings and not isinstance(a, switches)]
    defaults = [a for a in options if a.default is not None]
    assert len(defaults) > 5 and [a.dest for a in defaults if "default" not in a.help] == []


def test_the_readme_shows_the_two_commands_on_its_first_screen():
    lines = ROOT.joinpath("README.md").read_text().splitlines()
    assert len(lines) <= 200
    first = "\n".join(lines[:20])
    assert "python main.py && python generate.py" in first and "python -m pytest" in first
