import json

import pytest


def test_side_by_side_time_to_quality_alternates_and_stops_ours_once_it_has_caught_up(monkeypatch):
    import race

    losses = {"reference": [1.9, 1.7, 1.62, 1.58], "default": [1.8, 1.6, 1.55, 1.5, 1.4]}
    calls = []

    def fake_epochs(
        kind, recipe, data, seed, device="cpu"
    ):  # 1 s per reference epoch, 2 s per default epoch
        for loss in losses[recipe]:
            calls.append(recipe)
            yield loss, 1.0 if recipe == "reference" else 2.0

    monkeypatch.setattr(race, "training_epochs", fake_epochs)
    row = race.time_to_quality_side_by_side("rnn", {}, seed=0)
    # ours pauses at 1.60 (both targets reached) while the reference reaches 1.62, resumes when the
    # reference's best drops to 1.58, and is not trained past 1.55: its last two epochs never run
    assert calls == [
        "reference",
        "default",
        "reference",
        "default",
        "reference",
        "reference",
        "default",
    ]
    assert row["1.60"] == dict(reference_s=4.0, default_s=4.0, ratio=1.0)
    assert row["reference_best"] == dict(reference_s=4.0, default_s=6.0, ratio=4.0 / 6.0)
    assert row["reference_best_loss"] == 1.58


def test_whole_run_estimate_alternates_recipes_and_scales_median_epochs_by_epoch_counts(
    monkeypatch,
):
    import race
    import trainer

    calls = []

    def fake_epochs(
        kind, recipe, data, seed, reference_loop=True, device="cpu"
    ):  # first epoch slow (warm-up)
        assert not reference_loop  # both recipes on main.py's loop
        for seconds in [9.0, 2.0, 3.0, 2.0] if recipe == "default" else [9.0, 1.0, 1.0, 1.5]:
            calls.append((kind, recipe))
            yield 1.0, seconds

    monkeypatch.setattr(race, "training_epochs", fake_epochs)
    row = race.whole_run_side_by_side({}, epochs=3)
    assert calls == [
        (k, r) for k in ("rnn", "lstm") for _ in range(4) for r in ("default", "reference")
    ]
    ours = trainer.RECIPES["default"]
    default_epochs = ours["rnn"].epochs + ours["lstm"].epochs
    assert row["rnn"]["default"] == dict(epoch_s=2.0, epochs=ours["rnn"].epochs)
    reference_epochs = trainer.STUDY.epochs
    assert row["lstm"]["reference"] == dict(epoch_s=1.0, epochs=reference_epochs)
    assert row["default_s"] == 2.0 * default_epochs and row["reference_s"] == 2.0 * reference_epochs
    assert row["ratio"] == default_epochs / reference_epochs


def test_recorded_time_to_quality_is_the_median_ratio_and_none_where_never_reached(tmp_path):
    import race

    def run(path, rnn, lstm):  # (val loss, wall s) per epoch for each model
        history = lambda rows: [dict(val_loss=v, wall_s=t) for v, t in rows]
        path.write_text(
            json.dumps(
                dict(models=dict(rnn=dict(history=history(rnn)), lstm=dict(history=history(lstm))))
            )
        )

    run(tmp_path / "reference-seed0.json", [(1.7, 10), (1.58, 20)], [(1.9, 10), (1.8, 20)])
    run(tmp_path / "reference-seed1.json", [(1.7, 10), (1.55, 30)], [(1.9, 10), (1.85, 20)])
    run(tmp_path / "default-seed0.json", [(1.6, 4), (1.5, 8)], [(1.85, 5), (1.78, 10)])
    run(tmp_path / "default-seed1.json", [(1.54, 6)], [(2.0, 5), (1.95, 10)])
    r = race.time_to_quality_recorded(tmp_path)
    assert r["rnn"]["1.60"] == dict(
        reference_s=[20, 30], default_s=[4, 6], ratio=5.0
    )  # 20/4 and 30/6
    # to each reference seed's own best (1.58, 1.55): 20/8 = 2.5 and 30/6 = 5, median 3.75
    assert r["rnn"]["reference_best"] == dict(reference_s=[20, 30], default_s=[8, 6], ratio=3.75)
    assert r["lstm"]["1.60"]["ratio"] is None and r["lstm"]["reference_best"]["default_s"] == [
        10,
        None,
    ]
    assert r["lstm"]["reference_best"]["ratio"] == 2.0  # seed 0 only: 20 / 10


def test_a_failing_child_run_fails_the_bench(tmp_path):
    import bench

    with pytest.raises(RuntimeError, match="main.py --models rnn failed with exit status 1"):
        bench.peak_memory_mb("rnn", str(tmp_path / "missing.txt"))


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_a_cells_gemm_flops_are_six_per_weight_and_character(kind):
    """step_gemms against the parameter count: every weight of the recurrent layers and the read-out
    is two FLOPs per character forward, three times that in a training step."""
    import bench
    from model import num_params

    hidden, vocab, layers = 48, 65, 4
    weights = num_params(kind, hidden, vocab, layers) - 2 * vocab * hidden - vocab  # less embedding
    weights -= layers * bench.GATES[kind] * 2 * hidden  # and the biases
    weights += hidden * vocab  # the read-out's matrix is the only one counted twice above
    gemms = bench.step_gemms(kind, 16, 30, hidden, layers, vocab)
    flops_per_char = 3 * sum(2 * m * k * n * c for m, k, n, c in gemms) / (16 * 30)
    assert flops_per_char == 6 * weights


def test_a_cells_row_is_its_rounds_against_the_lstms(monkeypatch):
    """cell_row: the step time from the median rate, ratios to the LSTM round by round, and the
    FLOP rate over sgemm's."""
    import bench

    chars = bench.CELL_STEP["batch"] * bench.CELL_STEP["seq_len"]
    per_round = {
        ("lstm", "train"): [1000.0, 2000.0, 1500.0],
        ("gru", "train"): [800.0, 1000.0, 1000.0],  # 1.25x, 2x, 1.5x the LSTM's time
        ("gru", "sgemm"): [4e9, 4e9, 4e9],
        ("lstm", "sample"): [100.0, 100.0, 100.0],
        ("gru", "sample"): [50.0, 80.0, 100.0],
    }
    gemms = bench.step_gemms("gru", 16, 30, 10, 4, 20)
    row = bench.cell_row("gru", 10, gemms, per_round, 20)
    assert row["step_ms"] == pytest.approx(1e3 * chars / 1000.0)
    assert row["step_ratio"] == dict(median=1.5, min=1.25, max=2.0)
    flops_per_char = 3 * sum(2 * m * k * n * c for m, k, n, c in gemms) / chars
    assert row["sgemm_fraction"]["median"] == pytest.approx(1000.0 * flops_per_char / 4e9)
    assert row["sampling_ratio"]["median"] == pytest.approx(1.25) and row["sampling_chars_s"] == 80
