"""Draw a training run's per-epoch loss and accuracy curves, train and validation, for every model in it.

    python figures/draw.py                                              # checkpoints/metrics.json -> figures/
    python figures/draw.py results/runs/default-seed1.json --out-dir /tmp/seed1

main.py draws them at the end of each run; this redraws them from any metrics.json it wrote.
"""
import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def draw_figures(models: dict, figures_dir) -> None:
    """loss.png and accuracy.png in `figures_dir`: train (dashed) and validation (solid) per epoch."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    Path(figures_dir).mkdir(parents=True, exist_ok=True)
    for metric, label in (("loss", "cross-entropy (nats/char)"), ("acc", "next-character accuracy")):
        fig, ax = plt.subplots(figsize=(6, 4))
        for i, (kind, m) in enumerate(models.items()):
            epochs = [r["epoch"] for r in m["history"]]
            for split, style in (("train", "--"), ("val", "-")):
                ax.plot(epochs, [r[f"{split}_{metric}"] for r in m["history"]], style, color=f"C{i}",
                        label=f"{kind.upper()} {'validation' if split == 'val' else split}")
        ax.set(xlabel="epoch", ylabel=label, title=f"{label} per epoch")
        ax.grid(alpha=0.3), ax.legend()
        fig.tight_layout()
        fig.savefig(Path(figures_dir) / f"{'loss' if metric == 'loss' else 'accuracy'}.png", dpi=120)
        plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description="Redraw loss.png and accuracy.png from a run's metrics.json.")
    p.add_argument("metrics", nargs="?", default=str(ROOT / "checkpoints" / "metrics.json"),
                   help="a metrics.json written by main.py")
    p.add_argument("--out-dir", default=str(ROOT / "figures"), help="where loss.png and accuracy.png go")
    args = p.parse_args(argv)
    try:
        models = json.loads(Path(args.metrics).read_text())["models"]
        if not models or not all(m.get("history") for m in models.values()):
            raise ValueError("it holds no model with a training history")
        draw_figures(models, args.out_dir)
    except (OSError, ValueError, KeyError, TypeError) as e:
        sys.exit(f"draw.py: error: cannot draw from {args.metrics}: {e}")
    print(f"{', '.join(models)}: loss.png and accuracy.png in {args.out_dir}")


if __name__ == "__main__":
    main()
