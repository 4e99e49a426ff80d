import json

import pytest
import torch

import generate
import main
from conftest import run_script

SMALL = ["--hidden-size", "32", "--num-layers", "2", "--batch-size", "32"]


def test_one_epoch_of_each_model_then_generate(tmp_path, tiny_corpus, capsys):
    out, figs = tmp_path / "ckpt", tmp_path / "figs"
    main.main(["--data", str(tiny_corpus), "--epochs", "1", "--out-dir", str(out), "--figures-dir", str(figs),
               "--device", "cpu", *SMALL])
    assert {p.name for p in out.iterdir()} == {"rnn.pt", "lstm.pt", "rnn.last.pt", "lstm.last.pt", "metrics.json"}
    assert {p.name for p in figs.iterdir()} == {"loss.png", "accuracy.png"}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["corpus"]["chars"] == len(tiny_corpus.read_text())
    assert metrics["settings"]["epochs"] == 1 and metrics["device"] == "cpu"
    for kind in ("rnn", "lstm"):
        m = metrics["models"][kind]
        assert len(m["history"]) == 1 and m["best"] == m["history"][0]
        assert set(m["best"]) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "wall_s"}
        ckpt = torch.load(out / f"{kind}.pt", weights_only=True)
        assert ckpt["best_val_loss"] == m["best"]["val_loss"] and ckpt["config"]["kind"] == kind
    capsys.readouterr()
    generate.main(["--checkpoint", str(out / "lstm.pt"), "--length", "40", "--temperature", "1"])
    samples = capsys.readouterr().out.strip().split("\n\n")
    assert len(samples) == 5 and samples[0].startswith("The ")


def test_eval_only_reproduces_the_best_validation_loss(tmp_path, tiny_corpus, capsys):
    out = tmp_path / "ckpt"
    main.main(["--data", str(tiny_corpus), "--epochs", "2", "--models", "rnn", "--out-dir", str(out),
               "--figures-dir", str(tmp_path), *SMALL])
    best = json.loads((out / "metrics.json").read_text())["models"]["rnn"]["best"]
    capsys.readouterr()
    main.main(["--data", str(tiny_corpus), "--eval-only", "--models", "rnn", "--out-dir", str(out)])
    line = capsys.readouterr().out
    assert f"val loss {best['val_loss']:.4f} acc {best['val_acc']:.4f}" in line


def test_reference_preset_and_explicit_flags():
    args = main.get_args(["--preset", "reference", "--epochs", "3"])
    assert (args.batch_size, args.lr, args.dropout, args.grad_clip, args.epochs) == (64, 1e-3, 0.0, 0.0, 3)
    for kind in ("rnn", "lstm"):  # the preset sets every per-model setting, for both models alike
        assert main.model_settings(kind, vars(args)) == vars(args)


def test_per_model_defaults_unless_a_flag_sets_them_for_all(tmp_path, tiny_corpus):
    settings = vars(main.get_args([]))
    assert main.model_settings("lstm", settings)["batch_size"] == main.PER_MODEL["lstm"]["batch_size"]
    assert main.model_settings("rnn", settings)["epochs"] == main.PER_MODEL["rnn"]["epochs"]
    out = tmp_path / "ckpt"
    main.main(["--data", str(tiny_corpus), "--epochs", "1", "--hidden-size", "16", "--num-layers", "2",
               "--warmup-steps", "3", "--out-dir", str(out), "--figures-dir", str(tmp_path)])
    models = json.loads((out / "metrics.json").read_text())["models"]
    for kind, m in models.items():
        default = main.PER_MODEL[kind]
        assert (m["epochs"], m["batch_size"], m["dropout"], m["warmup_steps"], m["beta2"]) == (
            1, default["batch_size"], default["dropout"], 3, default["beta2"])
        last = torch.load(out / f"{kind}.last.pt", weights_only=True)
        saved = last["settings"]  # what --resume checks
        assert (saved["batch_size"], saved["dropout"], saved["beta2"]) == (
            default["batch_size"], default["dropout"], default["beta2"])
        assert tuple(last["optimizer"]["param_groups"][0]["betas"]) == (0.9, default["beta2"])  # Adam got it
    assert models["rnn"]["dropout"] != models["lstm"]["dropout"]  # so the test tells the models apart


@pytest.mark.parametrize("flags, message", [
    (["--lr", "0"], "--lr: must be a positive number"),
    (["--lr", "abc"], "--lr: 'abc' is not a number"),
    (["--epochs", "-1"], "--epochs: must be a positive number"),
    (["--batch-size", "0"], "--batch-size: must be a positive number"),
    (["--seq-len", "x"], "--seq-len: 'x' is not a number"),
])
def test_bad_flags_give_one_line_errors(flags, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main.get_args(flags)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_bad_corpus_and_missing_checkpoint_messages(tmp_path):
    result = run_script("main.py", "--data", tmp_path / "nope.txt", "--out-dir", tmp_path)
    assert result.returncode == 1 and result.stderr.strip() == f"main.py: error: corpus not found: {tmp_path / 'nope.txt'}"
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_script("generate.py", "--checkpoint", empty / "rnn.pt")
    assert result.returncode == 1 and "run main.py first" in result.stderr and "Traceback" not in result.stderr


def test_missing_default_corpus_is_prepared_first(tmp_path, tiny_corpus, monkeypatch, capsys):
    import data.prepare
    default = tmp_path / "data" / "shakespeare_train.txt"
    calls = []

    def fake_prepare(source, out):
        calls.append(source)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(tiny_corpus.read_text())

    monkeypatch.setattr(main, "DEFAULT_DATA", default)
    monkeypatch.setattr(data.prepare, "prepare", fake_prepare)
    main.main(["--data", str(default), "--epochs", "1", "--models", "rnn", "--out-dir", str(tmp_path / "o"),
               "--figures-dir", str(tmp_path / "o"), *SMALL])
    assert calls == ["gutenberg"] and "is missing: preparing it with data/prepare.py" in capsys.readouterr().out
