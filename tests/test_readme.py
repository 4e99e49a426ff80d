"""The README's tables are what the committed result files say."""
import json
import sys
from pathlib import Path

import torch

from conftest import ROOT, run_script


def test_readme_tables_are_rendered_from_the_committed_results():
    result = run_script("results/render.py", "--check")
    assert result.returncode == 0, result.stderr


def test_the_checkpoints_agree_with_the_run_that_wrote_them():
    """checkpoints/ holds the committed pair (their run: results/runs/default-seed0.json) until the user's
    own `python main.py` replaces them and writes checkpoints/metrics.json beside them."""
    own = ROOT / "checkpoints" / "metrics.json"
    metrics = json.loads((own if own.exists() else ROOT / "results" / "runs" / "default-seed0.json").read_text())
    for kind, m in metrics["models"].items():
        ckpt = torch.load(ROOT / "checkpoints" / f"{kind}.pt", weights_only=True)
        assert ckpt["best_val_loss"] == m["best"]["val_loss"] and ckpt["epoch"] == m["best"]["epoch"]
        assert ckpt["corpus"]["sha256"] == metrics["corpus"]["sha256"]
    for name in ("loss.png", "accuracy.png", "temperature.png", "seeds.png"):
        assert (ROOT / "figures" / name).stat().st_size > 10_000
