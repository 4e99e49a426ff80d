"""RNN, LSTM and GRU by size and data: the grid's runs (results/scale/, written by
`python -m results.scale`), as tables and figures/scale.png."""

import statistics

from figures.draw import draw_scale
from results.pages.common import load, mean_std, path, per_seed, prose, table
from results.scale import CELLS, FRACTIONS, budget_name, plan

PROTOCOLS = {"chunks": "test_loss", "stateful": "test_stateful_loss"}  # evaluation keys


def grid() -> dict:
    """(kind, budget, fraction) -> the runs of the grid's plain cells (no lr check, no ablation)."""
    cells, names = {}, {}
    for p in sorted(path("results/scale").glob("*.json")):
        m = load(f"results/scale/{p.name}")
        kind, r = next(iter(m["models"].items()))
        s = r["settings"]
        if "-lr" in p.stem or s["forget_bias"]:
            continue
        vocab = m["corpus"]["vocab_size"]
        names = names or {budget_name(b): b for b in budgets(vocab)}
        budget = names[p.stem.split("-")[1]]
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


def gru_recipe() -> str:
    """The GRU's recipe trials (results/runs/gru-recipe-*): the one of lowest dev-plays loss is its
    default recipe."""
    trials = {p.name[11:-11]: load(f"results/runs/{p.name}")["models"]["gru"]
              for p in sorted(path("results/runs").glob("gru-recipe-*-seed0.json"))}  # fmt: skip
    chosen = min(trials, key=lambda t: trials[t]["evaluation"]["dev_loss"])
    rows = []
    for name, r in trials.items():
        s, dev = r["settings"], f"{r['evaluation']['dev_loss']:.4f}"
        rows.append([f"`{name}`", s["epochs"], s["batch_size"], f"{s['lr']:g}", f"{s['dropout']:g}",
                     f"{s['init_gain']:g}", f"{r['best']['val_loss']:.4f}",
                     f"**{dev}**" if name == chosen else dev])  # fmt: skip
    header = ["trial", "epochs", "batch", "lr", "dropout", "initial gain", "best val loss",
              "dev plays loss"]  # fmt: skip
    spread = sorted(r["evaluation"]["dev_loss"] for r in trials.values())
    gap, noise = spread[1] - spread[0], statistics.stdev(per_seed("default", "lstm", "dev"))
    return table(header, rows) + "\n\n" + prose(
        """The GRU at the study's width ({params:,} parameters), seed 0, under the LSTM's recipe, the
        LSTM's at PyTorch's initial scale, and the RNN's (`bash results/experiments.sh gru`); its
        default recipe is the trial of lowest dev-plays loss, `{chosen}`, {gap:.4f} below the
        next{tie}.""",
        params=next(iter(trials.values()))["params"], chosen=chosen, gap=gap,
        tie=f", less than the LSTM seeds' spread on the dev plays ({noise:.4f}): a tie, settled by "
        "the rule" if gap < noise else "",
    )  # fmt: skip


BLOCKS = {"scale": scale_table, "gru-recipe": gru_recipe}
