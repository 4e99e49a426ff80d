"""RNN, LSTM and GRU by size and data: the grid's runs (results/scale/, written by
`python -m results.scale`), as tables and figures/scale.png."""

import math
import statistics

from figures.scale import draw_positions, draw_scale, draw_scale_gap
from results.pages.common import load, mean_std, path, per_seed, prose, table
from results.scale import CELLS, FRACTIONS, budget_name, plan

PROTOCOLS = {"chunks": "test_loss", "stateful": "test_stateful_loss"}  # evaluation keys
SCORES = {  # what the gaps compare: the test plays under each protocol, and validation
    "validation": lambda r: r["best"]["val_loss"],
    **{p: (lambda r, k=k: r["evaluation"][k]) for p, k in PROTOCOLS.items()},
}


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


def gaps() -> dict:
    """(protocol, kind, budget, share) -> the kind's test-plays loss minus the LSTM's, one per seed
    both have (paired by seed), for the RNN and the GRU."""
    seeded = {
        key: {m["models"][key[0]]["settings"]["seed"]: m["models"][key[0]] for m in runs}
        for key, runs in grid().items()
    }
    out = {}
    for (kind, budget, share), by_seed in seeded.items():
        lstm = seeded.get(("lstm", budget, share), {})
        if kind == "lstm" or not lstm:
            continue
        for protocol, score in SCORES.items():
            diffs = [score(by_seed[s]) - score(lstm[s])
                     for s in sorted(by_seed) if s in lstm]  # fmt: skip
            if diffs:
                out[(protocol, kind, budget, share)] = diffs
    return out


def seed_std(values: list) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def gap_table() -> str:
    """The RNN-LSTM and GRU-LSTM gaps per budget and share, seed-paired, and where they are beyond
    the seeds' spread."""
    g = gaps()
    keys = sorted({(b, f) for _, _, b, f in g})
    cols = [(k, p) for k in ("rnn", "gru") for p in SCORES]
    rows = [[budget_name(b), f"{f:g}"] + [gap_cell(g.get((p, k, b, f))) for k, p in cols]
            for b, f in keys]  # fmt: skip
    named = {"validation": "validation", "chunks": "test, chunks", "stateful": "test, stateful"}
    header = ["budget", "share"] + [f"{k.upper()} - LSTM, {named[p]}" for k, p in cols]
    return table(header, rows) + "\n\n" + prose(
        """Loss of the cell minus the LSTM's at the same budget, share and seed (negative: the cell is
        ahead), on the validation chunks and on the test plays, mean ± std over the seeds both have,
        their number in brackets. On the test plays in chunks, where a gap is beyond twice its spread
        over at least two seeds: the RNN ahead in {rnn[0]} and behind in {rnn[1]} of {rnn[2]}
        budget-share cells, the GRU ahead in {gru[0]} and behind in {gru[1]} of {gru[2]}.""",
        rnn=verdicts(g, "rnn", keys), gru=verdicts(g, "gru", keys),
    )  # fmt: skip


def verdicts(g: dict, kind: str, keys: list) -> tuple[int, int]:
    """In how many (budget, share) cells `kind` is clearly ahead of the LSTM, clearly behind, and
    how many have two seeds or more."""
    diffs = [d for b, f in keys if len(d := g.get(("chunks", kind, b, f), [])) > 1]
    clear = [statistics.mean(d) for d in diffs if beyond(d)]
    return sum(x < 0 for x in clear), sum(x > 0 for x in clear), len(diffs)


def gap_cell(diffs: list | None) -> str:
    if not diffs:
        return "-"
    if len(diffs) == 1:
        return f"{diffs[0]:+.4f} (1)"
    return f"{statistics.mean(diffs):+.4f} ± {seed_std(diffs):.4f} ({len(diffs)})"


def beyond(diffs: list | None) -> bool:
    """A gap clear of noise: at least two seeds, mean further from zero than twice their std."""
    return bool(diffs) and len(diffs) > 1 and abs(statistics.mean(diffs)) > 2 * seed_std(diffs)


def fit(points: list) -> dict | None:
    """L(N) = E + A * N^-alpha through (N, loss) points by least squares: alpha on a grid, E and A
    linear for each -> E, A, alpha and the root-mean-square residual; None when the points are
    fewer than four (three parameters through three points leave no error to give)."""
    if len(points) < 4:
        return None
    best = None
    for alpha in [i / 1000 for i in range(1, 2001)]:
        xs = [n**-alpha for n, _ in points]
        ys = [y for _, y in points]
        mx, my = statistics.mean(xs), statistics.mean(ys)
        a = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        e = my - a * mx
        rms = math.sqrt(statistics.mean([(e + a * x - y) ** 2 for x, y in zip(xs, ys)]))
        if best is None or rms < best["rms"]:
            best = dict(E=e, A=a, alpha=alpha, rms=rms)
    return best


def mean_loss(runs: list, kind: str, key: str = "test_loss") -> float:
    return statistics.mean(m["models"][kind]["evaluation"][key] for m in runs)


def fit_block() -> str:
    """The power-law fit per cell at full data on the test plays, read in chunks."""
    cells = grid()
    lines = []
    for kind in CELLS:
        full = [runs for (k, _, f), runs in cells.items() if k == kind and f == 1.0]
        points = sorted((runs[0]["models"][kind]["params"], mean_loss(runs, kind)) for runs in full)
        shown = ", ".join(f"{y:.4f} at {n:,}" for n, y in points)
        result = fit(points)
        if result is None:
            lines.append(f"{kind.upper()} {shown}: too few budgets to fit")
        else:
            rises = [f"{n:,}" for (_, a), (n, b) in zip(points, points[1:]) if b >= a]
            lines.append(
                f"{kind.upper()} {shown}: E = {result['E']:.3f}, A = {result['A']:.3g}, alpha = "
                f"{result['alpha']:.3f}, residual {result['rms']:.4f}"
                + (f" (the loss does not fall at {', '.join(rises)}: at this amount of text no"
                   " law in N alone holds)" if rises else "")
            )  # fmt: skip
    return prose(
        """L(N) = E + A·N^-alpha fitted to each cell's test-plays loss (chunks, mean over seeds) at
        full data: {lines}. A fit needs at least four budgets: three parameters through three points
        leave no error to give.""",
        lines="; ".join(lines),
    )


def position_block() -> str:
    """results/scale_reads.json: the cells at 544K and full data, by position within the chunk."""
    reads = load("results/scale_reads.json")
    kinds = {
        k: [r for n, r in sorted(reads["runs"].items()) if n.startswith(k + "-")] for k in CELLS
    }
    spans = ((1, 1), (2, 10), (11, 30))
    rows = []
    for kind, runs in kinds.items():
        if not runs:
            continue
        totals = [
            mean_std([r[f"{p}_loss"] for r in runs]) for p in ("chunks", "stateful", "dynamic")
        ]
        by_span = [mean_std([statistics.mean(r[f"{p}_by_position"][lo - 1 : hi]) for r in runs])
                   for p in PROTOCOLS for lo, hi in spans]  # fmt: skip
        rows.append([kind.upper(), f"{runs[0]['params']:,}", len(runs), *totals, *by_span])
    header = ["cell", "parameters", "seeds", "chunks", "state carried", "dynamic",
              "zero state: position 1", "2-10", "11-30", "carried: position 1", "2-10", "11-30"]  # fmt: skip
    return table(header, rows) + "\n\n" + prose(
        """`python -m results.scale_reads` on {test}: every character but the first, nats/char, mean ±
        std over seeds; positions within the 30-character chunk of the study's protocol (1: the first
        character predicted after the chunk starts). Dynamic: generate.py --adapt's settings, those
        chosen on the dev plays for the study's RNN and LSTM (the GRU takes the LSTM's; none were
        tuned at these widths), RMS's gradient statistics over the training text.""",
        test=reads["test"],
    )  # fmt: skip


def rerun_block() -> str:
    r = load("results/scale_rerun.json")
    return prose(
        """Reproduced: `{name}` trained again from its recorded command (`python -m results.scale
        --rerun {name}`, {wall} s) reaches a best validation loss of {again:.4f} against {was:.4f}
        recorded, a difference of {diff:+.4f}.""",
        name=r["name"], wall=r["wall_s"], again=r["rerun"], was=r["recorded"], diff=r["difference"],
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
    gap_points = {}
    cells = grid()
    for (protocol, kind, budget, share), diffs in sorted(gaps().items()):
        params = cells[(kind, budget, share)][0]["models"][kind]["params"]
        row = (params, statistics.mean(diffs), seed_std(diffs))
        gap_points.setdefault((protocol, kind, share), []).append(row)
    draw_scale_gap(gap_points, path("figures/scale_gap.png"))
    reads = load("results/scale_reads.json")["runs"]
    curves = {}
    for kind in CELLS:
        runs = [r for n, r in reads.items() if n.startswith(kind + "-")]
        for protocol in PROTOCOLS:
            if runs:
                by_pos = [r[f"{protocol}_by_position"] for r in runs]
                curves[(kind, protocol)] = [statistics.mean(v) for v in zip(*by_pos)]
    if ("lstm", "chunks") in curves:
        draw_positions(curves, path("figures/scale_position.png"))


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


def full_data_gaps(kind: str) -> list[tuple[int, list]]:
    """(budget, seed-paired test-plays gaps to the LSTM, chunks) at full data, smallest first."""
    return sorted((b, d) for (p, k, b, f), d in gaps().items()
                  if p == "chunks" and k == kind and f == 1.0)  # fmt: skip


def verdict(diffs: list) -> str:
    """A seed-paired gap to the LSTM in words: clear of twice its spread, or not, or one seed."""
    if len(diffs) < 2:
        return "one seed"
    if not beyond(diffs):
        return "level with the LSTM"
    return "ahead of the LSTM" if statistics.mean(diffs) < 0 else "behind the LSTM"


def growing(rows: list) -> bool:
    """Whether a cell's gap to the LSTM rises (the LSTM gaining) at every step up in budget."""
    means = [statistics.mean(d) for _, d in rows]
    return len(means) > 1 and all(a < b for a, b in zip(means, means[1:]))


def anchors() -> str:
    """Where the grid agrees with the two anchors, and where not, from the full-data gaps."""
    rnn, gru = full_data_gaps("rnn"), full_data_gaps("gru")
    said = lambda rows: "; ".join(
        f"{budget_name(b)} {statistics.mean(d):+.3f} ({verdict(d)})" for b, d in rows
    )  # fmt: skip
    rnn_leads_small = bool(rnn) and statistics.mean(rnn[0][1]) < 0
    cells = grid()
    top = max(b for _, b, _ in cells)
    losses = [mean_loss(cells[(k, top, 1.0)], k) for k in CELLS if (k, top, 1.0) in cells]
    return prose(
        """**Against the anchors.** Karpathy, Johnson & Fei-Fei (2015) found the LSTM and the GRU
        ahead of the vanilla RNN on character-level text, further ahead as the models grew; Collins,
        Sohl-Dickstein & Sussillo (2017) found that at equal parameters well-tuned cells hold about
        the same information per parameter, gated cells being mainly easier to train. Here, with all
        the training text, the RNN minus the LSTM on the test plays (chunks) is {rnn}. {trend}
        The GRU minus the LSTM: {gru}. At {top} with all the text the three cells lie within
        {within:.3f} nats/char of each other (Collins et al. would have them level; the seeds' spread
        is in the table above).
        Each cell keeps the recipe tuned for it at the study's width
        and data, so a small model here is also one trained away from its tuning; the
        learning-rate checks at the largest budget test how much a recipe moves a ranking.""",
        rnn=said(rnn), gru=said(gru), top=budget_name(top), within=max(losses) - min(losses),
        trend=("The LSTM gains on the RNN as the models grow, as Karpathy et al. found, but "
               + ("from behind: the RNN leads at the smallest budget, which they did not see."
                  if rnn_leads_small else "from ahead.")) if growing(rnn)
        else "The LSTM does not gain steadily on the RNN as the models grow, unlike Karpathy et al.",
    )  # fmt: skip


def scale_finding() -> str:
    """The README's finding: where the verdict holds by size and data, and where it flips."""
    g = gaps()
    cells = sorted({(b, f) for _, _, b, f in g})
    ahead, behind, n = verdicts(g, "rnn", cells)
    top = max(b for b, _ in cells)
    at_top, gru_top = (g.get(("chunks", k, top, 1.0), []) for k in ("rnn", "gru"))
    lead = "the RNN is ahead of the LSTM" if ahead > behind else "the LSTM is ahead of the RNN"
    return "- " + prose(
        """**By size and data, {lead}: clearly ahead in {most} of {n} budget-share cells** (two
        seeds or more; test plays, chunks){trend}. At {top} with all the text: RNN minus LSTM
        {gap}, GRU minus LSTM {gru}. [By size and
        data](results/README.md#rnn-lstm-or-gru-by-size-and-data)""",
        lead=lead, most=max(ahead, behind), n=n, top=budget_name(top), gap=gap_cell(at_top),
        trend=", the LSTM gaining as both grow" if growing(full_data_gaps("rnn")) else "",
        gru=gap_cell(gru_top),
    ).replace("\n", "\n  ")  # fmt: skip


BLOCKS = {
    "scale": scale_table,
    "gru-recipe": gru_recipe,
    "scale-gap": gap_table,
    "scale-fit": fit_block,
    "scale-position": position_block,
    "scale-rerun": rerun_block,
    "scale-anchors": anchors,
    "scale-finding": scale_finding,
}
