import json

import pytest


def test_side_by_side_time_to_quality_alternates_and_stops_ours_once_it_has_caught_up(monkeypatch):
    import bench
    losses = {"reference": [1.9, 1.7, 1.62, 1.58], "default": [1.8, 1.6, 1.55, 1.5, 1.4]}
    calls = []

    def fake_epochs(kind, recipe, data, seed, device="cpu"):  # 1 s per reference epoch, 2 s per default epoch
        for loss in losses[recipe]:
            calls.append(recipe)
            yield loss, 1.0 if recipe == "reference" else 2.0

    monkeypatch.setattr(bench, "training_epochs", fake_epochs)
    row = bench.time_to_quality_side_by_side("rnn", {}, seed=0)
    # ours pauses at 1.60 (both targets reached) while the reference reaches 1.62, resumes when the
    # reference's best drops to 1.58, and is not trained past 1.55: its last two epochs never run
    assert calls == ["reference", "default", "reference", "default", "reference", "reference", "default"]
    assert row["1.60"] == dict(reference_s=4.0, default_s=4.0, ratio=1.0)
    assert row["reference_best"] == dict(reference_s=4.0, default_s=6.0, ratio=4.0 / 6.0)
    assert row["reference_best_loss"] == 1.58


def test_whole_run_estimate_alternates_recipes_and_scales_median_epochs_by_epoch_counts(monkeypatch):
    import bench
    import main
    calls = []

    def fake_epochs(kind, recipe, data, seed, reference_loop=True, device="cpu"):  # first epoch slow (warm-up)
        assert not reference_loop  # both recipes on main.py's loop
        for seconds in [9.0, 2.0, 3.0, 2.0] if recipe == "default" else [9.0, 1.0, 1.0, 1.5]:
            calls.append((kind, recipe))
            yield 1.0, seconds

    monkeypatch.setattr(bench, "training_epochs", fake_epochs)
    row = bench.whole_run_side_by_side({}, epochs=3)
    assert calls == [(k, r) for k in ("rnn", "lstm") for _ in range(4) for r in ("default", "reference")]
    default_epochs = main.PER_MODEL["rnn"]["epochs"] + main.PER_MODEL["lstm"]["epochs"]
    assert row["rnn"]["default"] == dict(epoch_s=2.0, epochs=main.PER_MODEL["rnn"]["epochs"])
    reference_epochs = main.PRESETS["reference"]["epochs"]
    assert row["lstm"]["reference"] == dict(epoch_s=1.0, epochs=reference_epochs)
    assert row["default_s"] == 2.0 * default_epochs and row["reference_s"] == 2.0 * reference_epochs
    assert row["ratio"] == default_epochs / reference_epochs


def test_recorded_whole_run_ratio_is_none_without_both_recipes_runs(tmp_path):
    import bench
    (tmp_path / "default-seed0.json").write_text(json.dumps(dict(wall_s=300.0)))
    assert bench.whole_run_recorded(tmp_path)["ratio"] is None
    (tmp_path / "reference-seed0.json").write_text(json.dumps(dict(wall_s=150.0)))
    (tmp_path / "reference-seed1.json").write_text(json.dumps(dict(wall_s=250.0)))
    assert bench.whole_run_recorded(tmp_path)["ratio"] == 1.5


def test_a_failing_child_run_fails_the_bench(tmp_path):
    import bench
    with pytest.raises(RuntimeError, match="main.py --models rnn failed with exit status 1"):
        bench.peak_memory_mb("rnn", str(tmp_path / "missing.txt"))
