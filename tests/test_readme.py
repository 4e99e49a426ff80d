"""Both README pages are what the committed result files say, and the check notices when they do not."""

import json
import shutil
from dataclasses import replace

import pytest
import torch
from conftest import ROOT, run_script

import trainer
from results import render as render_module
from results.pages import BLOCKS, common


def test_readme_pages_are_rendered_from_the_committed_results():
    result = run_script("-m", "results.render", "--check")
    assert result.returncode == 0, result.stderr


def test_the_checkpoints_agree_with_the_run_that_wrote_them():
    """checkpoints/ holds the committed pair (their run: results/runs/default-seed0.json) until the
    user's own `python main.py` replaces them and writes checkpoints/metrics.json beside them."""
    own = ROOT / "checkpoints" / "metrics.json"
    metrics = json.loads(
        (own if own.exists() else ROOT / "results" / "runs" / "default-seed0.json").read_text()
    )
    for kind, m in metrics["models"].items():
        ckpt = torch.load(ROOT / "checkpoints" / f"{kind}.pt", weights_only=True)
        assert (
            ckpt["best_val_loss"] == m["best"]["val_loss"] and ckpt["epoch"] == m["best"]["epoch"]
        )
        assert ckpt["corpus"]["sha256"] == metrics["corpus"]["sha256"]
    for name in ("loss.png", "accuracy.png", "temperature.png", "seeds.png", "comparison.png"):
        assert (ROOT / "figures" / name).stat().st_size > 10_000


# For each rendered block, one value in the file it is rendered from (a path into the JSON).
SOURCES = {
    "headline": ("results/runs/default-seed1.json", ["models", "lstm", "best", "val_loss"]),
    "held-out": ("results/mixture.json", ["mixture", "lstm", "test_loss"]),
    "quickstart": ("results/runs/quickstart-seed0.json", ["models", "rnn", "best", "val_acc"]),
    "curves": ("results/runs/default-seed0.json", ["models", "rnn", "best", "val_loss"]),
    "sample": ("results/samples.json", [0, "text"]),
    "findings": ("results/bench.json", ["time_to_quality_ratio", "lstm"]),
    "committed-run": (
        "results/runs/default-seed0.json",
        ["models", "rnn", "evaluation", "val_context_loss"],
    ),
    "comparison": ("results/runs/reference-seed1.json", ["models", "rnn", "best", "val_loss"]),
    "context": ("results/baseline-context60.json", ["results", 1, "val_loss"]),  # modified KN
    "reading": ("results/reading/lstm.json", ["rows", "LSTM/1/dynamic", "test", "loss"]),
    "reading-search": ("results/reading/rnn.json", ["search", "RNN", 0, "loss"]),
    "reading-verdict": (
        "results/reading/lstm.json",
        ["rows", "LSTM/2/dynamic", "nanogpt_val", "loss"],
    ),
    "reading-headline": (
        "results/reading/rnn256.json",
        ["rows", "RNN-256/0/stateful", "test", "loss"],
    ),
    "rnn256": ("results/runs/rnn256-lr4e-3-ep14-seed0.json", ["models", "rnn", "best", "val_loss"]),
    "adapted": ("results/sample-adapted.json", [0, "text"]),
    "adapt-cost": ("results/sample-adapted.json", [0, "adapted", "chars"]),
    "baseline": ("results/baseline.json", ["results", 0, "val_loss"]),
    "sweep": ("results/sweep/rnn-e30-lr3e-3.json", ["models", "rnn", "best", "val_loss"]),
    "samples": ("results/samples.json", [-1, "text"]),
    "temperature": ("results/temperature.json", ["per_temperature", 0, "entropy"]),
    "bench": ("results/bench.json", ["throughput", "rnn", "reference_chars_s"]),
    "small": ("results/runs/small-e100-seed0.json", ["models", "lstm", "best", "epoch"]),
    "cells": ("results/cells.json", ["models", "lstm", "best", "line", "corr"]),
    "cells-finding": ("results/cells.json", ["models", "lstm", "causal", "top", "newline"]),
    "gru-recipe": (
        "results/runs/gru-recipe-rnn-seed0.json",
        ["models", "gru", "evaluation", "dev_loss"],
    ),
    "scale": ("results/scale/rnn-38K-f1-seed0.json", ["models", "rnn", "evaluation", "test_loss"]),
    "scale-gap": ("results/scale/rnn-38K-f1-seed0.json", ["models", "rnn", "best", "val_loss"]),
    "scale-fit": (
        "results/scale/lstm-38K-f1-seed0.json",
        ["models", "lstm", "evaluation", "test_loss"],
    ),
    "scale-position": ("results/scale_reads.json", ["runs", "lstm-544K-f1-seed0", "dynamic_loss"]),
    "scale-rerun": ("results/scale_rerun.json", ["rerun"]),
    "scale-anchors": (
        "results/scale/rnn-141K-f1-seed0.json",
        ["models", "rnn", "evaluation", "test_loss"],
    ),
    "scale-forget": (
        "results/scale/lstm-544K-f1-forget1-seed0.json",
        ["models", "lstm", "evaluation", "test_loss"],
    ),
    "scale-lr": (
        "results/scale/gru-2.14M-f1-lr2x-seed0.json",
        ["models", "gru", "evaluation", "dev_loss"],
    ),
    "scale-finding": (
        "results/scale/rnn-2.14M-f1-seed0.json",
        ["models", "rnn", "evaluation", "test_loss"],
    ),
    "bench-cells": ("results/bench.json", ["cells", 0, "cells", "lstm", "step_ms"]),
    "peer": ("results/peer.json", ["runs", "lstm-cpu-seed0", "val_blocks64_loss"]),
    "peer-long": ("results/peer.json", ["choice", "seq30", "val_blocks256_loss"]),
    "peer-finding": ("results/peer.json", ["nanogpt", "blocks64", "loss"]),
    "small-advice": ("results/runs/small-e20-seed0.json", ["models", "rnn", "best", "val_loss"]),
}


@pytest.fixture
def render(tmp_path, monkeypatch):
    """results/render.py, reading a copy of the results and pages in tmp_path."""
    shutil.copytree(
        ROOT / "results", tmp_path / "results", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    monkeypatch.setattr(common, "ROOT", tmp_path)
    return render_module


def changed(value):
    return (
        value + 0.1
        if isinstance(value, float)
        else value + 1
        if isinstance(value, int)
        else value + "!"
    )


@pytest.mark.parametrize("block", sorted(SOURCES) + ["recipe"])
def test_the_check_fails_when_a_number_in_a_results_file_changes(
    render, tmp_path, monkeypatch, block
):
    render.main(["--check"])  # the copy is up to date
    before = BLOCKS[block]()
    if block == "recipe":  # rendered from main.py's recipe table rather than from a results file
        recipe = trainer.RECIPES["default"]
        monkeypatch.setitem(recipe, "lstm", replace(recipe["lstm"], epochs=25))
    else:
        name, keys = SOURCES[block]
        data = json.loads((tmp_path / name).read_text())
        inner = data
        for key in keys[:-1]:
            inner = inner[key]
        inner[keys[-1]] = changed(inner[keys[-1]])
        (tmp_path / name).write_text(json.dumps(data))
    assert BLOCKS[block]() != before
    with pytest.raises(SystemExit, match="out of date"):
        render.main(["--check"])


def test_every_block_has_a_negative_test(render):
    assert set(BLOCKS) == set(SOURCES) | {"recipe"}


def test_a_gap_within_the_seeds_spread_is_called_a_tie(render):
    """The verdict's wording: means closer than the two standard deviations together tie."""
    assert common.versus([1.0, 1.2], [1.1, 1.1]) == "ties it"  # stdev 0.141 + 0 > 0
    assert common.versus([1.50, 1.52], [1.40, 1.42]) == "is 0.100 behind"  # 0.1 > 0.028
    assert common.versus([1.40, 1.42], [1.50, 1.52]) == "is 0.100 ahead"


def test_the_first_screen_links_the_study_and_shows_its_curves():
    """The README's first 50 lines: the study linked, the three cells named, the loss and accuracy
    curves of the committed run, and the two commands."""
    first = "\n".join((ROOT / "README.md").read_text().splitlines()[:50])
    assert "https://github.com/SangbeomJeong/Language_Modeling_project" in first
    assert all(name in first for name in ("RNN", "LSTM", "GRU"))
    for figure in ("figures/loss.png", "figures/accuracy.png"):
        assert f"]({figure})" in first and (ROOT / figure).is_file()
    assert "python main.py && python generate.py" in first and "python -m pytest -q" in first
