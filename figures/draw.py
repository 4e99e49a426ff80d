"""The figures of runs and results: loss and accuracy curves, the seeds, the comparison, heatmaps,
the cells and the temperature (the scale study's are in figures/scale.py).

    python figures/draw.py                  # checkpoints/metrics.json -> figures/
    python figures/draw.py results/runs/default-seed1.json --out-dir /tmp/seed1

main.py draws loss.png and accuracy.png at the end of each run, and this redraws them from any
metrics.json it wrote; results/render.py draws seeds.png and comparison.png from results/.
"""

import argparse
import html
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def draw_figures(models: dict, figures_dir) -> None:
    """loss.png and accuracy.png in `figures_dir`: train (dashed) and validation (solid) per epoch,
    a dot per epoch (a one-epoch run shows too) and a star at each model's best epoch."""
    plt = pyplot()
    Path(figures_dir).mkdir(parents=True, exist_ok=True)
    for metric, label in (
        ("loss", "cross-entropy (nats/char)"),
        ("acc", "next-character accuracy"),
    ):
        fig, ax = plt.subplots(figsize=(6, 4))
        for i, (kind, m) in enumerate(models.items()):
            epochs = [r["epoch"] for r in m["history"]]
            for split, style in (("train", "--"), ("val", "-")):
                values = [r[f"{split}_{metric}"] for r in m["history"]]
                name = f"{kind.upper()} {'validation' if split == 'val' else split}"
                ax.plot(epochs, values, style, marker=".", color=f"C{i}", label=name)
            if m["history"]:  # the epoch of lowest validation loss: what <kind>.pt keeps
                best = min(m["history"], key=lambda r: r["val_loss"])
                ax.plot(best["epoch"], best[f"val_{metric}"], "*", ms=12, color=f"C{i}")
        ax.set(xlabel="epoch", ylabel=label, title=f"{label} per epoch")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(
            Path(figures_dir) / f"{'loss' if metric == 'loss' else 'accuracy'}.png", dpi=120
        )
        plt.close(fig)


HEATMAP_CHARS = 600  # the passage a heatmap shows: the start of the text
HEATMAP_WIDTH = 80  # characters per line


def draw_heatmap(text: str, losses: dict, out: Path) -> None:
    """The start of `text` coloured by each character's loss (white 0 to red 6 nats), one block per
    model (`losses`: name -> nll per character, text[1:] aligned, nan where not scored): an .html
    page, or a .png."""
    passage = text[1 : HEATMAP_CHARS + 1]
    shade = lambda v: "#ddd" if v != v else f"rgba(220,30,30,{min(float(v), 6) / 6:.2f})"
    if out.suffix == ".html":
        blocks = []
        for name, nll in losses.items():
            spans = "".join(
                f'<span style="background:{shade(v)}" title="{float(v):.2f}">'
                f"{html.escape(c)}</span>"
                for c, v in zip(passage, nll.tolist())
            )
            blocks.append(
                f"<h3>{html.escape(name)}</h3><pre style='white-space:pre-wrap'>{spans}</pre>"
            )
        out.write_text("<meta charset='utf-8'>" + "".join(blocks), encoding="utf-8")
        return
    plt = pyplot()
    lines = [passage[i : i + HEATMAP_WIDTH] for i in range(0, len(passage), HEATMAP_WIDTH)]
    fig, axes = plt.subplots(len(losses), 1, figsize=(12, 0.25 * len(lines) * len(losses) + 1))
    for ax, (name, nll) in zip(np.atleast_1d(axes), losses.items()):
        grid = np.full((len(lines), HEATMAP_WIDTH), np.nan)
        flat = nll[: len(passage)].numpy()
        grid.flat[: len(flat)] = flat
        ax.imshow(grid, cmap="Reds", vmin=0, vmax=6, aspect="auto")
        for row, line in enumerate(lines):
            for col, c in enumerate(line):
                ax.text(
                    col, row, "\u21b5" if c == "\n" else c, ha="center", va="center", fontsize=6
                )
        ax.set(title=f"{name}: loss of each character (nats, white 0, red 6)", xticks=[], yticks=[])
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


CELL_LINES = 8  # lines of text the cells figure colours


def draw_cells(out: dict, traces: dict, text: str, position: list, folder: Path) -> None:
    """cells.png: the same lines coloured by each model's top line-position unit (blue -1 to red +1
    after scaling by the unit's largest value); cells_more.png: that unit against the position in
    the line, the LSTM's gate saturation per unit (Karpathy et al.'s scatter) and P(newline) against
    the characters since the last newline."""
    plt = pyplot()
    folder.mkdir(parents=True, exist_ok=True)
    start = text.index("\n", len(text) // 3) + 1
    lines = text[start:].split("\n")[:CELL_LINES]
    span = sum(len(line) + 1 for line in lines)
    width = max(map(len, lines)) + 1
    fig, axes = plt.subplots(len(out["models"]), 1, figsize=(12, 0.3 * CELL_LINES * 2 + 1))
    for ax, (kind, row) in zip(np.atleast_1d(axes), out["models"].items()):
        u = row["best"]["line"]
        values = traces[kind][0][u["state"], u["layer"]][start : start + span, u["unit"]]
        values = (values / values.abs().max()).numpy()
        grid, k = np.full((len(lines), width), np.nan), 0
        for r, line in enumerate(lines):
            grid[r, : len(line) + 1] = values[k : k + len(line) + 1]
            for col, ch in enumerate(line):
                ax.text(col, r, ch, ha="center", va="center", fontsize=7)
            k += len(line) + 1
        ax.imshow(grid, cmap="coolwarm", vmin=-1, vmax=1, aspect="auto")
        name = (
            f"{kind.upper()} layer {u['layer'] + 1} {u['state']}[{u['unit']}], r = {u['corr']:.2f}"
        )
        ax.set(title=f"{name} with the characters since the last newline", xticks=[], yticks=[])
    fig.tight_layout()
    fig.savefig(folder / "cells.png", dpi=120)
    plt.close(fig)
    draw_cell_curves(out, traces, position, folder / "cells_more.png")


def draw_cell_curves(out: dict, traces: dict, position, path: Path) -> None:
    """cells_more.png: the top unit against the position in the line, the LSTM's gates, P(newline)."""
    plt = pyplot()
    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(15, 4))
    position = np.minimum(position, 79)
    for i, (kind, row) in enumerate(out["models"].items()):
        u = row["best"]["line"]
        values = traces[kind][0][u["state"], u["layer"]][:, u["unit"]].numpy()
        means = [
            values[position == k].mean() if (position == k).any() else np.nan for k in range(80)
        ]
        a1.plot(range(80), means, color=f"C{i}", label=f"{kind.upper()} {u['state']}[{u['unit']}]")
        a3.plot(row["p_newline"], color=f"C{i}", label=kind.upper())
    a3.plot(out["ngram_p_newline"], color="k", lw=0.8, label="6-gram")
    a1.set(xlabel="characters since the last newline", ylabel="mean activation", title="top unit")
    a3.set(xlabel="characters since the last newline", ylabel="mean P(newline next)",
           title="who knows a line is ending")  # fmt: skip
    gates = out["models"].get("lstm", {}).get("gates", {})
    for layer, counts in gates.items():
        low, high = np.array(counts[0]), np.array(counts[1])  # (3 gates, H)
        a2.scatter(low.flatten(), high.flatten(), s=4, label=f"layer {int(layer) + 1}")
    a2.set(xlabel="fraction of time below 0.1", ylabel="fraction of time above 0.9",
           title="LSTM gates (input, forget, output) per unit")  # fmt: skip
    for ax in (a1, a2, a3):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def draw_seeds(curves: dict, ngram: tuple, path) -> None:
    """seeds.png: validation loss per epoch, mean over seeds with a band of one std, every curve
    whole. curves: {(kind, recipe): [per-seed lists of val loss]}; ngram: (label, val loss)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    styles = {"reference": "--", "default": "-", "hidden 256": ":"}
    for (kind, recipe), seeds in curves.items():
        n = min(map(len, seeds))  # a shorter seed run: average the common epochs
        a = np.array([c[:n] for c in seeds])
        mean, std = a.mean(0), a.std(0, ddof=1) if len(a) > 1 else np.zeros(n)
        epochs = np.arange(1, n + 1)
        color = "C0" if kind == "rnn" else "C1"
        ax.plot(
            epochs,
            mean,
            styles[recipe],
            color=color,
            label=f"{kind.upper()} {recipe} ({len(seeds)} seeds)",
        )
        ax.fill_between(epochs, mean - std, mean + std, color=color, alpha=0.2)
    ax.axhline(ngram[1], color="k", lw=0.8, label=ngram[0])
    ax.set(
        xlabel="epoch",
        ylabel="validation loss (nats/char), log scale",
        yscale="log",
        title="validation loss, mean ± std over seeds (the study's file)",
    )
    low, high = ax.get_ylim()
    ticks = [
        t
        for t in (1.35, 1.4, 1.45, 1.5, 1.6, 1.7, 1.8, 2.0, 2.25, 2.5, 3.0, 3.5, 4.0)
        if low <= t <= high
    ]
    ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def draw_comparison(rows: dict, ngram: dict, path) -> None:
    """comparison.png: validation and test-plays loss, mean ± std over seeds, of both models under
    both recipes; the n-gram as a line. rows: {(kind, recipe): {"val": [...], "unseen": [...]}}."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    recipes = list(dict.fromkeys(recipe for _, recipe in rows))
    for ax, split, title in zip(axes, ("val", "unseen"), ("validation chunks", "test plays")):
        for i, kind in enumerate(("rnn", "lstm")):
            x = np.arange(len(recipes)) + (i - 0.5) * 0.25
            values = [rows[(kind, r)][split] for r in recipes]
            mean = [np.mean(v) for v in values]
            std = [np.std(v, ddof=1) if len(v) > 1 else 0.0 for v in values]
            ax.errorbar(x, mean, yerr=std, fmt="o", capsize=4, color=f"C{i}", label=kind.upper())
        ax.axhline(ngram[split], color="k", lw=0.8, ls="--", label=ngram["label"])
        ax.set_xticks(np.arange(len(recipes)), recipes)
        ax.set_xlim(-0.6, len(recipes) - 0.4)
        ax.set(title=title, ylabel="loss (nats/char)")
        ax.grid(alpha=0.3, axis="y")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def draw_temperature(result: dict, vocab: str, path: Path) -> None:
    """figures/temperature.png: the four measures against T, and one next-character distribution."""
    plt = pyplot()
    rows = result["per_temperature"]
    ts = [r["temperature"] for r in rows]
    fig = plt.figure(figsize=(12, 6.5))
    panels = [
        ("nll_at_t1", "NLL of samples under the model at T=1 (nats/char)"),
        ("known_word_share", "share of words found in the training text"),
        ("distinct_word_share", "share of distinct words"),
        ("entropy", "entropy of the sampling distribution (nats/step)"),
    ]
    for i, (key, title) in enumerate(panels):
        ax = fig.add_subplot(2, 3, i + 1 + (i >= 2))
        ax.plot(ts, [r[key] for r in rows], "o-")
        ax.set(xscale="log", xlabel="temperature T", title=title)
        ax.minorticks_off()
        ax.set_xticks(ts, [f"{t:g}" for t in ts])
        ax.title.set_fontsize(9)
        ax.grid(alpha=0.3)
    ax = fig.add_subplot(1, 3, 3)
    dist = result["context"]["distribution"]
    top = np.argsort(dist["1.0"])[::-1][:12]
    for i, t in enumerate(dist):
        ax.barh(
            np.arange(len(top)) + (i - 1) * 0.27,
            [dist[t][j] for j in top],
            height=0.27,
            label=f"T={t}",
        )
    ax.set_yticks(np.arange(len(top)), [repr(vocab[j])[1:-1] for j in top])
    ax.invert_yaxis()
    ax.legend()
    ax.set(xlabel="probability")
    ax.set_title(f"next character after {result['context']['text']!r}", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(
        description="Redraw loss.png and accuracy.png from a run's metrics.json."
    )
    p.add_argument(
        "metrics",
        nargs="?",
        default=str(ROOT / "checkpoints" / "metrics.json"),
        help="a metrics.json written by main.py",
    )
    p.add_argument(
        "--out-dir", default=str(ROOT / "figures"), help="where loss.png and accuracy.png go"
    )
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
