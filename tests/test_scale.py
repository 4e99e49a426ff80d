"""The pieces of the scale study: the equal-parameter ladder, nested shares of the training text,
the GRU as a third cell, early stopping and the grid's plan."""

import json
from dataclasses import asdict

import pytest
import torch
from conftest import ROOT, make_text, train_args

import main
import trainer
from dataset import SUBSET_BLOCK, make_split, train_subset
from model import GATES, build_model, load_checkpoint, num_params, width_for
from results import scale, scale_reads
from sampling import sample


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("hidden", [8, 37, 128])
def test_the_parameter_count_by_formula_is_the_models(kind, hidden):
    model = build_model(dict(kind=kind, vocab_size=65, hidden_size=hidden, num_layers=4))
    assert num_params(kind, hidden, 65) == sum(p.numel() for p in model.parameters())


def test_the_ladder_gives_each_cell_the_width_nearest_each_lstm_budget():
    for lstm_width in (32, 64, 128, 256):
        budget = num_params("lstm", lstm_width, 65)
        for kind in GATES:
            width = width_for(kind, budget, 65)
            count = lambda h, kind=kind, budget=budget: abs(num_params(kind, h, 65) - budget)
            assert count(width) <= min(count(width - 1), count(width + 1))  # nearest
            assert count(width) <= 0.03 * budget  # within 3% of the budget
    widths = [width_for("rnn", num_params("lstm", w, 65), 65) for w in (32, 64, 128, 256)]
    assert widths == [61, 125, 253, 508]  # the ladder for tiny-shakespeare's 65 characters


def test_smaller_shares_of_the_training_text_are_nested_and_leave_validation_alone():
    data = torch.arange(30 * 2000 + 1) % 7
    full = make_split(data, 30)
    shares = {f: make_split(data, 30, train_fraction=f) for f in (0.125, 0.25, 0.5, 1.0)}
    for f, split in shares.items():
        assert torch.equal(split.val, full.val)
        assert len(split.train) == round(f * len(full.train))
        assert set(split.train.tolist()) <= set(full.train.tolist())
    for small, large in zip((0.125, 0.25, 0.5), (0.25, 0.5, 1.0)):
        assert set(shares[small].train.tolist()) <= set(shares[large].train.tolist())
    assert torch.equal(shares[1.0].train, full.train)  # the whole share is the study's split
    kept = shares[0.125].train  # kept passages are whole blocks of consecutive chunks but one
    blocks = torch.unique(kept // SUBSET_BLOCK, return_counts=True)[1]
    in_train = torch.bincount(full.train // SUBSET_BLOCK)
    assert (blocks == in_train[torch.unique(kept // SUBSET_BLOCK)]).sum() >= len(blocks) - 1


def test_a_share_is_drawn_the_same_way_every_time():
    train = torch.randperm(900, generator=torch.Generator().manual_seed(1))[:700]
    assert torch.equal(train_subset(train, 900, 0.3, 0), train_subset(train, 900, 0.3, 0))
    assert not torch.equal(train_subset(train, 900, 0.3, 0), train_subset(train, 900, 0.3, 1))


def test_a_gru_trains_checkpoints_and_samples(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text(make_text(600))
    main.main(train_args(text, tmp_path, "--hidden-size", "12", models=("gru",)))
    model, ckpt = load_checkpoint(tmp_path / "gru.pt")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert ckpt["config"]["kind"] == "gru" and metrics["models"]["gru"]["params"] == num_params(
        "gru", 12, len(ckpt["vocab"])
    )
    out = sample(model, ckpt["vocab"], ["The ", "The "], [0.0, 0.0], 30, [0, 1])
    logits, hidden = model(torch.tensor([[ckpt["vocab"].index(c) for c in "The "]]))
    step, _ = model.step(logits[:, -1].argmax(-1), hidden)  # step() agrees with forward()
    full, _ = model(torch.tensor([[ckpt["vocab"].index(c) for c in out[0][:5]]]))
    assert out[0] == out[1] and torch.allclose(step, full[:, -1], atol=1e-5)


def test_early_stopping_ends_a_run_patience_epochs_after_its_best(tmp_path, monkeypatch):
    text = tmp_path / "t.txt"
    text.write_text(make_text(600))
    flags = ["--hidden-size", "8", "--lr", "1", "--patience", "2", "--warmup-steps", "0"]
    main.main(train_args(text, tmp_path, *flags, epochs=30))  # lr 1: diverges, stops improving
    history = json.loads((tmp_path / "metrics.json").read_text())["models"]["rnn"]["history"]
    best = min(history, key=lambda r: r["val_loss"])["epoch"]
    assert len(history) == best + 2 < 30


def test_the_grid_gives_every_share_its_full_data_runs_step_ceiling():
    runs = scale.plan(65)
    cells = [(r["kind"], r["budget"], r["args"]["train_fraction"], r["args"]["seed"]) for r in runs]
    assert len(set(cells)) == len(cells) or len({r["name"] for r in runs}) == len(runs)
    assert len([r for r in runs if "lr" not in r["args"] and "forget_bias" not in r["args"]]) == (
        3 * 3 * 4 * 3 + 3 * 2  # cells x budgets x shares x seeds, and the largest budget
    )
    for r in runs:
        full = next(
            q
            for q in runs
            if (q["kind"], q["budget"]) == (r["kind"], r["budget"])
            and q["args"]["train_fraction"] == 1
        )
        assert r["args"]["epochs"] * r["args"]["train_fraction"] == pytest.approx(
            full["args"]["epochs"]
        )


def test_the_grus_recipe_is_its_trial_with_the_lowest_dev_plays_loss():
    """trainer.RECIPES' GRU recipe is the setting of the trial (results/runs/gru-recipe-*) that
    scored lowest on the dev plays, as experiments.sh's gru step chooses it."""
    trials = [json.loads(p.read_text()) for p in ROOT.glob("results/runs/gru-recipe-*-seed0.json")]
    assert len(trials) == 3
    best = min(trials, key=lambda m: m["models"]["gru"]["evaluation"]["dev_loss"])
    chosen = dict(best["models"]["gru"]["settings"], seed=0)
    assert asdict(trainer.RECIPES["default"]["gru"]) | dict(seed=0) == chosen


def test_the_forget_gate_bias_starts_at_one_and_is_for_the_lstm_only(tmp_path):
    settings = trainer.resolve("lstm", "default", dict(forget_bias=True, hidden_size=6))
    split = make_split(torch.arange(3001) % 5, 30)
    model, _ = trainer.setup_training("lstm", settings, 5, split, "cpu")
    for layer in range(4):
        b_ih, b_hh = (getattr(model.rnn, f"bias_{w}_l{layer}") for w in ("ih", "hh"))
        assert (b_ih[6:12] == 1).all() and (b_hh[6:12] == 0).all()  # gates i, f, g, o: f
        assert not (b_ih[:6] == 1).all()  # the other gates keep PyTorch's initialisation
    text = tmp_path / "t.txt"
    text.write_text(make_text(300))
    with pytest.raises(SystemExit, match="--forget-bias is for the LSTM only"):
        main.main(train_args(text, tmp_path, "--forget-bias", models=("rnn",)))


def test_the_loss_by_position_in_a_chunk_averages_back_to_the_whole_read(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text(make_text(600))
    main.main(train_args(text, tmp_path, "--hidden-size", "12", models=("lstm",)))
    read_text = make_text(200, seed=1)
    r = scale_reads.read_run(tmp_path / "lstm.pt", read_text, text.read_text())
    for protocol in ("chunks", "stateful"):
        by_pos, counts = r[f"{protocol}_by_position"], torch.tensor(r["counts"])
        assert len(by_pos) == 30 and counts.sum() == len(read_text) - 1
        mean = (torch.tensor(by_pos, dtype=torch.float64) * counts).sum() / counts.sum()
        assert mean.item() == pytest.approx(r[f"{protocol}_loss"], abs=1e-9)
    model, ckpt = load_checkpoint(tmp_path / "lstm.pt")  # position 1: one step from a zero state
    ids = torch.tensor([ckpt["vocab"].index(c) for c in read_text])
    starts = torch.arange(0, len(ids) - 1, 30)
    logits, _ = model(ids[starts].unsqueeze(1))
    first = torch.nn.functional.cross_entropy(logits[:, 0], ids[starts + 1])
    assert r["chunks_by_position"][0] == pytest.approx(first.item(), abs=1e-5)
    assert r["stateful_by_position"][0] != pytest.approx(first.item(), abs=1e-3)  # carried


@pytest.fixture
def scale_page(tmp_path, monkeypatch):
    """results/pages/scale.py reading a results/scale/ in tmp_path that holds only the grid's
    544K full-data runs of seeds 0 and 1; returns a writer of variants of them."""
    from results.pages import common
    from results.pages import scale_checks as page

    folder = tmp_path / "results" / "scale"
    folder.mkdir(parents=True)
    for kind in scale.CELLS:
        for seed in (0, 1):
            name = f"{kind}-544K-f1-seed{seed}.json"
            (folder / name).write_text((ROOT / "results" / "scale" / name).read_text())
    monkeypatch.setattr(common, "ROOT", tmp_path)

    def variant(name, tag, budget=None, **changes):
        m = json.loads((folder / f"{name}.json").read_text())
        r = next(iter(m["models"].values()))
        for key, value in changes.items():
            where = r["settings"] if key in r["settings"] else r["evaluation"]
            where[key] = value
        kind, was, share, seed = name.split("-")
        (folder / f"{kind}-{budget or was}-{share}{tag}-{seed}.json").write_text(json.dumps(m))
        return r

    return page, variant


def test_the_forget_gate_table_pairs_each_ablated_run_with_its_own_seed(scale_page):
    page, variant = scale_page
    plain = [variant(f"lstm-544K-f1-seed{s}", "-forget1", forget_bias=True) for s in (0, 1)]
    for s, delta in ((0, -0.01), (1, -0.02)):
        variant(f"lstm-544K-f1-seed{s}", "-forget1", forget_bias=True,
                test_loss=plain[s]["evaluation"]["test_loss"] + delta)  # fmt: skip
    block = page.forget_block()
    assert "-0.0150 ± 0.0071 (2)" in block  # mean and std of -0.01 and -0.02, by hand
    assert "+0.0000 ± 0.0000 (2)" in block  # the other columns: the same runs
    assert "test plays, chunks, better;" in " ".join(block.split())  # 0.0150 beyond twice 0.0071
    variant("lstm-544K-f1-seed1", "-forget1", forget_bias=True,
            test_loss=plain[1]["evaluation"]["test_loss"] + 0.02)  # fmt: skip
    assert "test plays, chunks, level" in " ".join(page.forget_block().split())  # +0.005 ± 0.0212
    assert [len(runs) for runs in page.grid().values()] == [2, 2, 2]  # the ablation stays out


def test_the_learning_rate_check_takes_each_cells_dev_best_rate_and_ranks_again(scale_page):
    page, variant = scale_page
    base = {k: json.loads((page.path("results/scale") / f"{k}-544K-f1-seed0.json").read_text())
            for k in scale.CELLS}  # fmt: skip
    for kind in scale.CELLS:  # stand-ins for the largest budget's runs, where the checks are
        variant(f"{kind}-544K-f1-seed0", "", budget="2.14M")
    test = {k: base[k]["models"][k]["evaluation"]["test_loss"] for k in scale.CELLS}
    dev = {k: base[k]["models"][k]["evaluation"]["dev_loss"] for k in scale.CELLS}
    worst = max(test, key=test.get)
    for kind in scale.CELLS:
        lr = base[kind]["models"][kind]["settings"]["lr"]
        better = kind == worst  # the worst cell's doubled rate wins on dev and beats every test
        variant(f"{kind}-2.14M-f1-seed0", "-lr2x", lr=2 * lr, dev_loss=dev[kind] - (1 if better else -1),
                test_loss=min(test.values()) - 0.5 if better else test[kind] + 1)  # fmt: skip
        variant(f"{kind}-2.14M-f1-seed0", "-lr0.5x", lr=lr / 2, dev_loss=dev[kind] + 1,
                test_loss=test[kind] - 2)  # fmt: skip
    block = page.lr_block()
    plain = " < ".join(k.upper() for k in sorted(test, key=test.get))
    assert f"at the recipes' rates: {plain};" in " ".join(block.split())
    assert f"chosen on the dev plays: {worst.upper()} < " in " ".join(block.split())
    assert "The ranking changes" in block
    assert block.count("**") == 2 * len(scale.CELLS)  # one dev-best rate per cell
