import json
from dataclasses import replace

import pytest
import torch
from conftest import run_script, train_args

import generate
import main
import trainer

SMALL = ["--hidden-size", "32", "--num-layers", "2", "--batch-size", "32"]


def test_one_epoch_of_each_model_then_generate(tmp_path, tiny_corpus, capsys):
    out, figs = tmp_path / "ckpt", tmp_path / "figs"
    main.main(
        train_args(tiny_corpus, out, "--device", "cpu", *SMALL, models=None, figures_dir=figs)
    )
    assert {p.name for p in out.iterdir()} == {
        "rnn.pt",
        "lstm.pt",
        "rnn.last.pt",
        "lstm.last.pt",
        "metrics.json",
    }
    assert {p.name for p in figs.iterdir()} == {"loss.png", "accuracy.png"}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["corpus"]["chars"] == len(tiny_corpus.read_text())
    assert metrics["flags"]["epochs"] == 1 and metrics["device"] == "cpu"
    for kind in ("rnn", "lstm"):
        m = metrics["models"][kind]
        assert len(m["history"]) == 1 and m["best"] == m["history"][0]
        assert set(m["best"]) == {
            "epoch",
            "train_loss",
            "train_acc",
            "val_loss",
            "val_acc",
            "wall_s",
        }
        ckpt = torch.load(out / f"{kind}.pt", weights_only=True)
        assert ckpt["best_val_loss"] == m["best"]["val_loss"] and ckpt["config"]["kind"] == kind
    capsys.readouterr()
    generate.main(["--checkpoint", str(out / "lstm.pt"), "--length", "40", "--temperature", "1"])
    samples = capsys.readouterr().out.strip().split("\n\n")
    assert len(samples) == 5 and samples[0].startswith(
        "--- T 1 | prompt 'The ' | sample 0 ---\nThe "
    )


def test_eval_only_reproduces_the_best_validation_loss(tmp_path, tiny_corpus, capsys):
    out = tmp_path / "ckpt"
    main.main(train_args(tiny_corpus, out, *SMALL, epochs=2, figures_dir=tmp_path))
    best = json.loads((out / "metrics.json").read_text())["models"]["rnn"]["best"]
    capsys.readouterr()
    main.main(["--data", str(tiny_corpus), "--eval-only", "--models", "rnn", "--out-dir", str(out)])
    line = capsys.readouterr().out
    assert f"val loss {best['val_loss']:.4f} acc {best['val_acc']:.4f}" in line


def test_reference_preset_and_explicit_flags():
    args = main.get_args(["--preset", "reference", "--epochs", "3"])
    rnn, lstm = (trainer.resolve(kind, args.preset, main.given(args)) for kind in ("rnn", "lstm"))
    assert (rnn.batch_size, rnn.lr, rnn.dropout, rnn.grad_clip, rnn.epochs, rnn.ema) == (
        64,
        1e-3,
        0.0,
        0.0,
        3,
        0,
    )
    assert rnn == lstm  # the preset sets every per-model setting, for both models alike


def test_per_model_defaults_unless_a_flag_sets_them_for_all(tmp_path, tiny_corpus):
    settings = main.given(main.get_args([]))
    ours = trainer.RECIPES["default"]
    assert trainer.resolve("lstm", "default", settings).batch_size == ours["lstm"].batch_size
    assert trainer.resolve("rnn", "default", settings).epochs == ours["rnn"].epochs
    out = tmp_path / "ckpt"
    flags = ["--hidden-size", "16", "--num-layers", "2", "--warmup-steps", "3"]
    main.main(train_args(tiny_corpus, out, *flags, models=None, figures_dir=tmp_path))
    models = json.loads((out / "metrics.json").read_text())["models"]
    for kind, m in models.items():
        default = ours[kind]
        assert (
            m["settings"]["epochs"],
            m["settings"]["batch_size"],
            m["settings"]["lr"],
            m["settings"]["dropout"],
            m["settings"]["warmup_steps"],
            m["settings"]["beta2"],
            m["settings"]["ema"],
        ) == (1, default.batch_size, default.lr, default.dropout, 3, default.beta2, default.ema)
        last = torch.load(out / f"{kind}.last.pt", weights_only=True)
        saved = last["settings"]  # what --resume checks
        assert (saved["batch_size"], saved["dropout"], saved["beta2"]) == (
            default.batch_size,
            default.dropout,
            default.beta2,
        )
        assert tuple(last["optimizer"]["param_groups"][0]["betas"]) == (
            0.9,
            default.beta2,
        )  # Adam got it
        assert last["optimizer"]["param_groups"][0]["initial_lr"] == default.lr
    assert (
        models["rnn"]["settings"]["dropout"] != models["lstm"]["settings"]["dropout"]
    )  # so the test tells the models apart
    assert models["rnn"]["settings"]["lr"] != models["lstm"]["settings"]["lr"]


def test_init_gain_scales_the_recurrent_weights_alone_and_the_reference_keeps_pytorchs(tiny_corpus):
    from dataset import load_corpus, make_split

    _, vocab, data = load_corpus(tiny_corpus)
    split = make_split(data, 30)
    settings = trainer.resolve(
        "lstm", "default", main.given(main.get_args(["--hidden-size", "16"]))
    )
    assert trainer.resolve("lstm", "reference", main.given(main.get_args([]))).init_gain == 1.0
    assert settings.init_gain == trainer.RECIPES["default"]["lstm"].init_gain != 1.0
    plain, _ = trainer.setup_training(
        "lstm", replace(settings, init_gain=1.0), len(vocab), split, "cpu"
    )
    scaled, run = trainer.setup_training(
        "lstm", replace(settings, init_gain=2.5), len(vocab), split, "cpu"
    )
    plain, scaled = dict(plain.named_parameters()), dict(scaled.named_parameters())
    for name, weight in scaled.items():
        gain = 2.5 if name.startswith("rnn.weight") else 1.0
        assert torch.equal(weight, plain[name] * gain), name
    assert any(name.startswith("rnn.weight") for name in scaled)
    averaged = dict(
        run.ema.module.named_parameters()
    )  # the moving average starts from the scaled weights
    assert all(torch.equal(averaged[name], weight) for name, weight in scaled.items())


def test_the_moving_average_of_the_weights_is_what_is_validated_and_kept(tiny_corpus):
    from dataset import Split, load_corpus, make_split

    _, vocab, data = load_corpus(tiny_corpus)
    full = make_split(data, 30)
    split = Split(full.chunks, full.train[:96], full.val)
    settings = trainer.resolve(
        "lstm", "default", main.given(main.get_args(["--ema", "0.6", "--hidden-size", "16"]))
    )
    model, run = trainer.setup_training("lstm", settings, len(vocab), split, "cpu")
    snapshots = []  # the weights after each optimizer step, as the schedule steps
    step = run.scheduler.step
    run.scheduler.step = lambda: (
        step(),
        snapshots.append([p.detach().clone() for p in model.parameters()]),
    )
    trainer.run_epoch(model, split.chunks, split.train, 16, "cpu", run)
    assert len(snapshots) == 6
    expected = snapshots[0]  # the first step's weights, then w <- 0.6 w + 0.4 w_step
    for snap in snapshots[1:]:
        expected = [0.6 * e + 0.4 * s for e, s in zip(expected, snap)]
    averaged = list(run.validated(model).parameters())
    assert all(torch.allclose(a, e, atol=1e-6) for a, e in zip(averaged, expected))
    assert not torch.equal(averaged[0], snapshots[-1][0])  # it is not the weights as trained
    model2, run2 = trainer.setup_training(
        "lstm", replace(settings, ema=0.0), len(vocab), split, "cpu"
    )
    assert run2.ema is None and run2.validated(model2) is model2


@pytest.fixture
def stopped_run(tmp_path, tiny_corpus, monkeypatch):
    """A 3-epoch run of the RNN (--ema 0.9, a 3-step warm-up) stopped by Ctrl-C before epoch 3,
    in tmp_path / "ckpt". Returns what runs main.py again with the same flags: run(out_dir, *more)."""
    flags = ["--ema", "0.9", "--seed", "1", "--warmup-steps", "3", "--threads", "1", *SMALL]
    run = lambda out, *more: main.main(
        train_args(tiny_corpus, out, *flags, *more, epochs=3, figures_dir=tmp_path)
    )
    real, epochs = trainer.run_epoch, []

    def stop_before_epoch_3(*args, **kwargs):
        if kwargs.get("trainer") or len(args) > 5:  # a training pass
            epochs.append(1)
            if len(epochs) == 3:
                raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(trainer, "run_epoch", stop_before_epoch_3)
    with pytest.raises(SystemExit):
        run(tmp_path / "ckpt")
    monkeypatch.setattr(trainer, "run_epoch", real)
    return run


def test_checkpoints_keep_the_averaged_weights_and_the_resume_state_the_trained_ones(
    tmp_path, stopped_run
):
    out = tmp_path / "ckpt"
    last = torch.load(out / "rnn.last.pt", weights_only=True)
    # the average is taken once a step
    assert last["epoch"] == 2 and last["ema"]["n_averaged"] == last["scheduler"]["last_epoch"] > 3
    averaged = {
        k.removeprefix("module."): v for k, v in last["ema"].items() if k.startswith("module.")
    }
    best = torch.load(out / "rnn.pt", weights_only=True)
    assert best["epoch"] == 2  # the loss still falls here
    # rnn.pt holds the average; last.pt the weights as trained
    assert all(torch.equal(best["model"][k], averaged[k]) for k in averaged)
    assert not torch.equal(last["model"]["fc.weight"], averaged["fc.weight"])


def test_resume_continues_the_average_to_where_the_uninterrupted_run_ends(tmp_path, stopped_run):
    """The stopped run, resumed, ends where the uninterrupted run does: the same average and
    weights, with the schedule past its 3-step warm-up and well into the cosine."""
    out = tmp_path / "ckpt"
    stopped_at = torch.load(out / "rnn.last.pt", weights_only=True)["scheduler"]["last_epoch"]
    stopped_run(out, "--resume")
    stopped_run(tmp_path / "straight")
    resumed = torch.load(out / "rnn.last.pt", weights_only=True)
    straight = torch.load(tmp_path / "straight" / "rnn.last.pt", weights_only=True)
    steps = straight["scheduler"]["last_epoch"]
    assert resumed["scheduler"]["last_epoch"] == steps and steps == 3 * stopped_at // 2
    # the cosine decayed
    assert straight["scheduler"]["_last_lr"][0] < 0.1 * trainer.RECIPES["default"]["rnn"].lr
    assert resumed["ema"]["n_averaged"] == straight["ema"]["n_averaged"]
    assert all(
        torch.allclose(resumed["ema"][k], straight["ema"][k], atol=1e-5) for k in straight["ema"]
    )
    assert all(
        torch.allclose(resumed["model"][k], straight["model"][k], atol=1e-5)
        for k in straight["model"]
    )


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--lr", "0"], "--lr: must be a positive number"),
        (["--lr", "abc"], "--lr: 'abc' is not a number"),
        (["--epochs", "-1"], "--epochs: must be a positive number"),
        (["--batch-size", "0"], "--batch-size: must be a positive number"),
        (["--seq-len", "x"], "--seq-len: 'x' is not a number"),
        (["--ema", "1"], "--ema: must be below 1, got 1.0"),
    ],
)
def test_bad_flags_give_one_line_errors(flags, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main.get_args(flags)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_bad_corpus_and_missing_checkpoint_messages(tmp_path):
    result = run_script("main.py", "--data", tmp_path / "nope.txt", "--out-dir", tmp_path)
    assert (
        result.returncode == 1
        and result.stderr.strip() == f"main.py: error: corpus not found: {tmp_path / 'nope.txt'}"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_script("generate.py", "--checkpoint", empty / "rnn.pt")
    assert (
        result.returncode == 1
        and "run main.py first" in result.stderr
        and "Traceback" not in result.stderr
    )


def test_default_corpus_is_the_study_file_else_the_prepared_stand_in(
    tmp_path, tiny_corpus, monkeypatch, capsys
):
    import data.prepare

    out = {
        "gutenberg": tmp_path / "data" / "gutenberg_train.txt",
        "tinyshakespeare": tmp_path / "data" / "shakespeare_train.txt",
    }
    calls = []

    def fake_prepare(source, out=None):
        calls.append(source)
        data.prepare.OUT[source].parent.mkdir(parents=True, exist_ok=True)
        data.prepare.OUT[source].write_text(tiny_corpus.read_text())

    monkeypatch.setattr(data.prepare, "OUT", out)
    monkeypatch.setattr(data.prepare, "prepare", fake_prepare)
    flags = ["--epochs", "1", "--models", "rnn", "--figures-dir", str(tmp_path / "f"), *SMALL]
    main.main([*flags, "--out-dir", str(tmp_path / "a")])
    first = capsys.readouterr().out.splitlines()[0]
    assert calls == ["gutenberg"] and first.startswith(f"main.py: corpus {out['gutenberg']}")
    assert "stand-in" in first and "not prepared" in first
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert metrics["corpus"]["path"] == str(out["gutenberg"])
    out["tinyshakespeare"].write_text(tiny_corpus.read_text()[:-100])  # the study's file, prepared
    main.main([*flags, "--out-dir", str(tmp_path / "b")])
    first = capsys.readouterr().out.splitlines()[0]
    assert calls == ["gutenberg"] and first.startswith(f"main.py: corpus {out['tinyshakespeare']}")
    metrics = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert metrics["corpus"]["path"] == str(out["tinyshakespeare"])


def test_rescore_adds_the_held_out_scores_to_the_runs_own_metrics(tmp_path, tiny_corpus, capsys):
    out = tmp_path / "ckpt"
    main.main(train_args(tiny_corpus, out, *SMALL, figures_dir=tmp_path))
    metrics = out / "metrics.json"
    before = json.loads(metrics.read_text())
    (tmp_path / "dev.txt").write_text(tiny_corpus.read_text()[:3000])
    rescore = ["--data", str(tiny_corpus), "--eval-only", "--models", "rnn", "--out-dir", str(out)]
    rescore += ["--dev", str(tmp_path / "dev.txt"), "--rescore", str(metrics)]
    main.main(rescore)
    after = json.loads(metrics.read_text())
    ev = after["models"]["rnn"]["evaluation"]
    assert f"dev {ev['dev_loss']:.4f}" in capsys.readouterr().out and ev["dev_chunks"] == 99
    assert {k: v for k, v in ev.items() if not k.startswith("dev")} == before["models"]["rnn"][
        "evaluation"
    ]
    assert after["rescored"][0].startswith("python main.py") and "--rescore" in after["rescored"][0]
    other = json.loads(metrics.read_text())
    other["models"]["rnn"]["best"]["val_loss"] += 1
    metrics.write_text(json.dumps(other))
    with pytest.raises(SystemExit, match="not the best checkpoint of .*metrics.json's run"):
        main.main(rescore)
