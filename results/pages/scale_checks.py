"""The scale grid's checks beside the grid (results/scale/, written by `python -m results.scale`):
each cell's learning rate at the largest budget, and the LSTM's forget-gate bias at 1."""

import statistics

from results.pages.common import load, mean_std, path, prose, table
from results.pages.scale import CELLS, beyond, budget_name, budgets, gap_cell, grid


def named_runs(tag: str) -> dict:
    """results/scale/*TAG*.json by run name (the grid's learning-rate checks and ablation)."""
    return {
        p.stem: load(f"results/scale/{p.name}")
        for p in sorted(path("results/scale").glob(f"*{tag}*.json"))
    }


def evaluated(m: dict) -> dict:
    r = next(iter(m["models"].values()))
    return r["evaluation"] | dict(val_loss=r["best"]["val_loss"], lr=r["settings"]["lr"])


def lr_block() -> str:
    """The learning-rate checks: each cell at the largest budget and full data at its recipe's
    learning rate, half and twice it; the rate of lowest dev-plays loss is the cell's choice, and
    the cells are ranked on the test plays at the recipes' rates and at the chosen ones."""
    cells = grid()
    top = budgets(next(iter(cells.values()))[0]["corpus"]["vocab_size"])[-1]  # the largest
    checks = named_runs(f"-{budget_name(top)}-f1-lr")
    rows, plain, chosen = [], {}, {}
    for kind in CELLS:
        base = [m for m in cells.get((kind, top, 1.0), []) if per_run_seed(m) == 0]
        trials = base + [m for n, m in checks.items() if n.startswith(kind + "-")]
        if not base or len(trials) < 3:
            continue
        scores = sorted((evaluated(m) for m in trials), key=lambda e: e["lr"])
        best = min(scores, key=lambda e: e["dev_loss"])
        plain[kind] = evaluated(base[0])["test_loss"]
        chosen[kind] = best["test_loss"]
        for e in scores:
            dev = f"{e['dev_loss']:.4f}"
            recipe = " (recipe)" if e["lr"] == plain_lr(base[0]) else ""
            rows.append([kind.upper(), f"{e['lr']:g}{recipe}", f"{e['val_loss']:.4f}",
                         f"**{dev}**" if e is best else dev, f"{e['test_loss']:.4f}",
                         f"{e['test_stateful_loss']:.4f}"])  # fmt: skip
    if not rows:
        return prose(
            """The learning-rate checks at {top} have not run yet.""", top=budget_name(top)
        )
    order = lambda losses: " < ".join(k.upper() for k in sorted(losses, key=losses.get))
    header = ["cell", "learning rate", "validation", "dev plays", "test plays, chunks",
              "test plays, stateful"]  # fmt: skip
    return table(header, rows) + "\n\n" + prose(
        """Each cell at {top}, all the text, seed 0, at its recipe's learning rate, half and twice
        it; bold: the lowest dev-plays loss, the rate the cell would take. Ranked on the test plays
        (chunks, lowest first), at the recipes' rates: {plain}; at the rates chosen on the dev
        plays: {chosen}. {changed}""",
        top=budget_name(top), plain=order(plain), chosen=order(chosen),
        changed="The ranking does not change." if order(plain) == order(chosen)
        else "The ranking changes: at this budget the verdict hangs on the learning rate.",
    )  # fmt: skip


def verdict_of(diffs: list) -> str:
    """A seed-paired difference in words (negative: better)."""
    if len(diffs) < 2:
        return f"{diffs[0]:+.4f} on one seed, no verdict yet"
    if not beyond(diffs):
        return "level (within twice the seeds' spread)"
    return "better" if statistics.mean(diffs) < 0 else "worse"


def per_run_seed(m: dict) -> int:
    return next(iter(m["models"].values()))["settings"]["seed"]


def plain_lr(m: dict) -> float:
    return next(iter(m["models"].values()))["settings"]["lr"]


def forget_block() -> str:
    """The LSTM with its forget-gate bias started at 1 against the same seeds without, at 544K and
    full data."""
    cells = grid()
    ablated = {per_run_seed(m): evaluated(m) for m in named_runs("-forget1-").values()}
    vocab = next(iter(cells.values()))[0]["corpus"]["vocab_size"]
    budget = budgets(vocab)[2]  # the study's width for the LSTM, as results.scale plans it
    plain = {per_run_seed(m): evaluated(m) for m in cells.get(("lstm", budget, 1.0), [])}
    seeds = sorted(s for s in ablated if s in plain)
    if not seeds:
        return prose("""The forget-gate ablation has not run yet.""")
    keys = {"validation": "val_loss", "dev plays": "dev_loss", "test plays, chunks": "test_loss",
            "test plays, stateful": "test_stateful_loss"}  # fmt: skip
    rows = []
    for name, runs in (("PyTorch's (near 0)", plain), ("1 (char-rnn's)", ablated)):
        rows.append([name] + [mean_std([runs[s][k] for s in seeds]) for k in keys.values()])
    diffs = {k: [ablated[s][k] - plain[s][k] for s in seeds] for k in keys.values()}
    rows.append(["1 minus 0, same seed"] + [gap_cell(diffs[k]) for k in keys.values()])
    said = "; ".join(f"{name}, {verdict_of(diffs[key])}" for name, key in keys.items())
    return table(["forget-gate bias at the start", *keys], rows) + "\n\n" + prose(
        """The LSTM at 544K (width 128), all the text, its recipe unchanged but for the forget gate's
        bias started at 1 (`--forget-bias`; Jozefowicz, Zaremba & Sutskever 2015; char-rnn does
        it), seeds {seeds}, against the grid's runs of the same seeds; nats/char, mean ± std. The bias at
        1 against PyTorch's, seed by seed: {said}.""",
        seeds=", ".join(map(str, seeds)), said=said,
    )  # fmt: skip


BLOCKS = {"scale-lr": lr_block, "scale-forget": forget_block}
