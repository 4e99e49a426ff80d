"""RNN, LSTM and GRU by size and data: the grid's runs (results/scale/, written by
`python -m results.scale`), as tables and figures/scale.png."""

import statistics

from figures.draw import draw_scale
from results.pages.common import load, mean_std, path, prose, table
from results.scale import CELLS, FRACTIONS, budget_name, plan

PROTOCOLS = {"chunks": "test_loss", "stateful": "test_stateful_loss"}  # evaluation keys


def grid() -> dict:
    """(kind, budget, fraction) -> the runs of the grid's plain cells (no lr check, no ablation)."""
    cells = {}
    for p in sorted(path("results/scale").glob("*.json")):
        m = load(f"results/scale/{p.name}")
        kind, r = next(iter(m["models"].items()))
        s = r["settings"]
        if "-lr" in p.stem or s["forget_bias"]:
            continue
        budget = next(b for b in budgets(m["corpus"]["vocab_size"]) if budget_name(b) in p.stem)
        cells.setdefault((kind, budget, s["train_fraction"]), []).append(m)
    return cells


def budgets(vocab_size: int) -> list[int]:
    return sorted({r["budget"] for r in plan(vocab_size)})


def scale_table() -> str:
    cells = grid()
    vocab = next(iter(cells.values()))[0]["corpus"]["vocab_size"]
    rows = []
    for budget in budgets(vocab):
        for kind in CELLS:
            for fraction in FRACTIONS:
                runs = cells.get((kind, budget, fraction), [])
                if not runs:
                    continue
                r = [next(iter(m["models"].values())) for m in runs]
                losses = {
                    p: mean_std([x["evaluation"][k] for x in r]) for p, k in PROTOCOLS.items()
                }
                rows.append([
                    budget_name(budget), kind.upper(), r[0]["settings"]["hidden_size"],
                    f"{r[0]['params']:,}", f"{fraction:g}", len(r),
                    mean_std([x["best"]["val_loss"] for x in r]), losses["chunks"],
                    losses["stateful"],
                ])  # fmt: skip
    header = ["budget", "cell", "width", "parameters", "share of the text", "seeds",
              "validation", "test plays, chunks", "test plays, stateful"]  # fmt: skip
    done = sum(1 for _ in path("results/scale").glob("*.json"))
    cpu = sum(
        m["wall_s"] * m["threads"] for m in map(load_scale, path("results/scale").glob("*.json"))
    )
    return table(header, rows) + "\n\n" + prose(
        """Nats/char, mean ± std over the seeds done. The grid so far: {done} of {planned} runs of
        `python -m results.scale`, {hours:.1f} CPU hours (each run's wall time times its
        threads).""",
        done=done, planned=len(plan(vocab)), hours=cpu / 3600,
    )  # fmt: skip


def load_scale(file) -> dict:
    return load(f"results/scale/{file.name}")


def draw() -> None:
    """figures/scale.png: test-plays loss against parameters, a line per cell and share."""
    points = {}
    for (kind, _, fraction), runs in grid().items():
        r = [next(iter(m["models"].values())) for m in runs]
        for protocol, key in PROTOCOLS.items():
            losses = [x["evaluation"][key] for x in r]
            spread = statistics.stdev(losses) if len(losses) > 1 else 0.0
            points.setdefault((protocol, kind, fraction), []).append(
                (r[0]["params"], statistics.mean(losses), spread)
            )
    draw_scale(points, path("figures/scale.png"))


BLOCKS = {"scale": scale_table}
