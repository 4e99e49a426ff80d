"""Against nanoGPT on its own split (results/peer.json, written by `python -m results.peer`): its
text, cut, protocol and CPU budget, on this machine."""

import statistics

from results.pages.common import load, mean_std, path, prose, table, wrap
from results.pages.reading import NANOGPT

NANOGPT_CPU = dict(loss=1.88, params="0.8M", minutes=3)  # its README: the CPU command's result
GPU_READ = (
    5000 * 64 * 256
)  # its GPU run's iterations x batch x block (config/train_shakespeare_char.py)
TARGET_GAP = (
    0.15  # nats: the LSTM at nanoGPT's CPU budget below it by this, every seed (blocks of 64)
)


LABELS = {"cpu": "nanoGPT's CPU time", "30min": "30 min of 2 cores"}


def chars_read(run: dict) -> int:
    """Characters a run of ours read in training: steps x batch x chunk length (its metrics in
    results/peer/ where the record predates storing it)."""
    if "chars_read" in run:
        return run["chars_read"]
    m = load(f"results/peer/{run['kind']}-{run['budget']}-seed{run['seed']}.json")
    return run["steps"] * m["models"][run["kind"]]["settings"]["batch_size"] * 30


def seeds(n: int) -> str:
    return f"{n} seed{'s' if n > 1 else ''}"


def peer() -> dict | None:
    return load("results/peer.json") if path("results/peer.json").exists() else None


def by_kind(runs: dict, budget: str = "cpu") -> dict:
    kinds = {}
    for _, r in sorted(runs.items()):
        if r["budget"] == budget:
            kinds.setdefault(r["kind"], []).append(r)
    return kinds


def order(runs: dict, budget: str, score: str = "val_blocks256_loss") -> list:
    """The cells at `budget`, lowest mean loss first (in blocks of 256 unless told)."""
    kinds = by_kind(runs, budget)
    return sorted(kinds, key=lambda k: statistics.mean(r[score] for r in kinds[k]))


def orders(runs: dict) -> str:
    """A sentence on the cells' order at the two budgets (those run at both)."""
    cpu, hour = order(runs, "cpu"), order(runs, "30min")
    cpu, hour = [k for k in cpu if k in hour], [k for k in hour if k in cpu]
    names = lambda ks: ", ".join(k.upper() for k in ks)  # noqa: E731
    if len(hour) < 2:
        return ""
    if cpu == hour:
        return (
            f"In blocks of 256 the cells keep their order at both budgets: {names(hour)}, by mean."
        )
    return (
        f"In blocks of 256 the cells' means, lowest first, run {names(cpu)} at nanoGPT's CPU time"
        f" and {names(hour)} in the hour; the budgets differ in size, recipe and time at once, so"
        " neither order is the cell's alone."
    )


def fused_gru(p: dict) -> str:
    """How the GRU's runs at nanoGPT's CPU time moved when the fused GRU replaced nn.GRU's path."""
    before, now = p.get("gru_cpu_before_fused"), by_kind(p["runs"]).get("gru")
    if not before or not now:
        return ""
    old = {k: r for k, r in p["runs"].items() if not (r["kind"] == "gru" and r["budget"] == "cpu")}
    by64 = lambda runs: ", ".join(k.upper() for k in order(runs, "cpu", "val_blocks64_loss"))  # noqa: E731
    was = list(before.values())
    return prose(
        """The GRU's {n} runs at nanoGPT's CPU time were trained again once the GRU ran through
        `fused.GruRecurrence` instead of `nn.GRU` (`python -m results.peer --models gru`; the earlier
        runs are kept in results/peer.json as `gru_cpu_before_fused`). In the same wall time it read
        {old_chars:,.0f} characters before and {new_chars:,.0f} now, and its loss in blocks of 64
        went from {old64} to {new64}. At this budget the cells' order by mean in blocks of 64,
        lowest first, was {old_order} and is {new_order}.""",
        n=len(now),
        old_chars=statistics.mean(r["chars_read"] for r in was),
        new_chars=statistics.mean(chars_read(r) for r in now),
        old64=mean_std([r["val_blocks64_loss"] for r in was]),
        new64=mean_std([r["val_blocks64_loss"] for r in now]),
        old_order=by64(old | before),
        new_order=by64(p["runs"]),
    )


def peer_table() -> str:
    p = peer()
    n = p["nanogpt"]
    rows = [
        ["nanoGPT, its README (A100 GPU)", NANOGPT["params"], f"{GPU_READ:,}", "about 3 min", "",
         f"{NANOGPT['loss']:.4f} (estimate)", "", ""],
        ["nanoGPT, its README (CPU command)", NANOGPT_CPU["params"], "", "about 3 min",
         f"about {NANOGPT_CPU['loss']:.2f} (estimate)", "", "", ""],
        [f"nanoGPT, its CPU command here (commit {n['commit'][:7]})", f"{n['params_reported']:,}",
         f"{n['evals'][-1]['step'] * 12 * 64:,}",
         f"{n['wall_s']:.0f} s ({min(n['walls_s']):.0f}-{max(n['walls_s']):.0f})",
         f"**{n['blocks64']['loss']:.4f}** (estimate {n['final_val']:.4f})", "", "", ""],
    ]  # fmt: skip
    for budget, kind, runs in [(b, k, r) for b in LABELS for k, r in by_kind(p["runs"], b).items()]:
        get = lambda key, runs=runs: [r[key] for r in runs]  # noqa: E731
        threads = f", {runs[0]['threads']} thread" if runs[0].get("threads") == 1 else ""
        rows.append([
            f"{kind.upper()}, ours, {LABELS[budget]} ({seeds(len(runs))})", f"{runs[0]['params']:,}",
            f"{statistics.mean(chars_read(r) for r in runs):,.0f}",
            f"{mean_std(get('wall_s'), '.0f')} s{threads}", mean_std(get("val_blocks64_loss")),
            mean_std(get("val_blocks256_loss")), mean_std(get("val_stateful_loss")),
            mean_std([r["dynamic"]["loss"] for r in runs]),
        ])  # fmt: skip
    header = ["model", "parameters", "characters read in training", "wall time",
              "blocks of 64", "blocks of 256", "state carried", "dynamic"]  # fmt: skip
    moved = fused_gru(p)
    return table(header, rows) + "\n\n" + prose(
        """Nats/char on nanoGPT's validation split, the last {tail:,} characters of tiny-shakespeare
        (`main.py --val-tail 0.1`: the first 1,003,854 train), every character scored once; mean ±
        std over seeds. nanoGPT's own log estimates its loss from {iters} random windows per
        evaluation; its checkpoint (step {step}, the best of its estimates) is scored here exactly,
        in blocks of 64, its context. All on {machine}, {threads} threads, torch {torch}, back to
        back, the machine otherwise idle: nanoGPT's command (`{command}`) took {walls} s in {runs}
        runs, median {wall:.0f} s, and each of our runs trained for as many steps as fit in that
        median (sized by a probe of the same model just before; `python -m results.peer --nanogpt
        DIR`); the long budget's rows are described below the next table. Wall times are training
        and its validations, nanoGPT's the whole command. Characters read: iterations x batch x
        block for nanoGPT, steps x batch x chunk length for ours.""",
        tail=p["tail_chars"], iters=20, step=n["checkpoint_step"], machine=p["machine"],
        threads=n["threads"], torch=p["torch"], command=n["command"], wall=n["wall_s"],
        walls=", ".join(f"{w:.0f}" for w in n["walls_s"]), runs=len(n["walls_s"]),
    ) + ("\n\n" + moved if moved else "")  # fmt: skip


def peer_finding() -> str:
    p = peer()
    n, kinds = p["nanogpt"], by_kind(p["runs"])
    blocks = {k: [r["val_blocks64_loss"] for r in runs] for k, runs in kinds.items()}
    best = min(blocks, key=lambda k: statistics.mean(blocks[k]))
    gaps = [n["blocks64"]["loss"] - x for x in blocks["lstm"]]
    text = prose(
        """**On nanoGPT's own split and in its CPU command's wall time on this machine, the LSTM
        scores {lstm} nats/char in blocks of 64 against nanoGPT's {nano:.4f}** ({gaps} lower,
        {seeds}){best}.""",
        lstm=mean_std(blocks["lstm"]), nano=n["blocks64"]["loss"], seeds=seeds(len(gaps)),
        gaps=f"{min(gaps):.2f}" + (f" to {max(gaps):.2f}" if len(gaps) > 1 else ""),
        best="" if best == "lstm" else f", the {best.upper()} {mean_std(blocks[best])}",
    )  # fmt: skip
    cells = by_kind(p["runs"], "30min")
    long = cells.get("lstm")
    if not long:
        dyn = mean_std([r["dynamic"]["loss"] for r in kinds[best]])
        text += f" Adapting as it reads, the {best.upper()} reaches {dyn}, nanoGPT's GPU model"
        text += f" {NANOGPT['loss']:.4f} statically."
    else:
        text += " " + prose(
            """**In half an hour of both cores, the LSTM ({params:,} parameters, a fifth of nanoGPT's
            GPU model) scores {static} in blocks of 256 against that model's {gpu:.4f}** ({seeds});
            {stateful} with its state carried, {dynamic} adapting as it reads.""",
            static=mean_std([r["val_blocks256_loss"] for r in long]), gpu=NANOGPT["loss"],
            seeds=seeds(len(long)), params=long[0]["params"],
            stateful=mean_std([r["val_stateful_loss"] for r in long]),
            dynamic=mean_std([r["dynamic"]["loss"] for r in long]),
        )  # fmt: skip
        others = [f"the {k.upper()} {mean_std([r['val_blocks256_loss'] for r in runs])}"
                  for k, runs in cells.items() if k != "lstm"]  # fmt: skip
        if others:
            text += f" At that budget and size, in blocks of 256: {', '.join(others)}."
    link = "[On nanoGPT's split](results/README.md#on-nanogpts-split)"
    return "- " + wrap(f"{text} {link}").replace("\n", "\n  ")


TARGETS = {  # the long budget's targets for the LSTM: nanoGPT's GPU figure statically, and beyond
    "blocks of 256": ("val_blocks256_loss", NANOGPT["loss"]),
    "state carried": ("val_stateful_loss", 1.45),
    "adapting": ("dynamic", 1.35),
}


def score(run: dict, key: str) -> float:
    return run["dynamic"]["loss"] if key == "dynamic" else run[key]


def met(runs: list, key: str, target: float) -> str:
    """How many seeds score below `target` in `key`, and their mean ± std."""
    scores = [score(r, key) for r in runs]
    return f"{sum(x < target for x in scores)} of {len(scores)} ({mean_std(scores)})"


def peer_long() -> str:
    """The long budget: the recipe chosen on the training text, each cell's size, the targets."""
    p = peer()
    choice, gpu = p["choice"], p["nanogpt_gpu"]
    chosen = min(choice, key=lambda name: choice[name]["val_blocks256_loss"])
    rows = []
    for name, r in choice.items():
        loss = f"{r['val_blocks256_loss']:.4f}"
        recipe = ", ".join(f"{k} {v}" for k, v in r["recipe"].items()) or "the LSTM's default"
        rows.append([f"`{name}`", recipe, f"{r['steps']:,}", f"{r['chars_read']:,}",
                     f"{r['wall_s']:.0f} s", f"**{loss}**" if name == chosen else loss])  # fmt: skip
    header = ["candidate", "recipe (over the default)", "steps", "characters read", "wall time",
              "held-out training text, blocks of 256"]  # fmt: skip
    first = next(iter(choice.values()))
    cells = by_kind(p["runs"], "30min")
    sizes = ", ".join(f"{k.upper()} {r[0]['width']} ({r[0]['params']:,})" for k, r in cells.items())
    lstm = cells.get("lstm", [])
    targets = "; ".join(
        f"{what} below {target:.4f}: {met(lstm, key, target)}"
        for what, (key, target) in TARGETS.items()
    )
    targets = f"Seeds of the LSTM that meet each target on the validation tail: {targets}."
    shares = [r["steps_taken"] / r["steps"] for rs in cells.values() for r in rs]
    taken = ""
    if shares:
        few = f"{min(shares):.0%} to {max(shares):.0%} of their" if min(shares) < 1 else "all their"
        taken = f": the runs took {few} planned steps"
    reads = {k: [chars_read(r) for r in rs] for k, rs in cells.items()}
    ranges = [f"{k.upper()} {min(c):,} to {max(c):,}" for k, c in reads.items() if len(c) > 1]
    lead = (
        "The machine's speed differs from one session to the next, and with it what an hour reads"
    )
    spread = f"{lead}: {', '.join(ranges)} characters." if ranges else ""
    return table(header, rows) + "\n\n" + prose(
        """The long budget, half an hour of both cores per model, given as an hour of one thread
        (two runs side by side; `python -m results.peer --budget 30min --part 1/2`, and `2/2`
        beside it). Its recipe was chosen without the validation tail: each candidate trained the
        LSTM at width {width} ({params:,} parameters) for {choose} s at one thread on the first 90%
        of nanoGPT's training text and was scored in blocks of 256 on the last 10% of it (table:
        nats/char, seed 0); the lowest, `{chosen}`, is every cell's recipe. Each cell is at its
        widest under a fifth of nanoGPT's GPU model ({gpu:,} parameters, counted by its own class):
        {sizes}. {targets} {orders} Each run's steps were sized by a probe of the same model just before
        it; a candidate's wall time is what it then took, up to {over:.0%} over its plan. The long
        runs are held to their hour by `main.py --max-seconds`, the cosine ending with the time
        where the machine is slower than its probe{taken}. {spread} Like nanoGPT, which keeps the checkpoint
        of its best validation estimate, each run keeps its epoch of lowest validation loss (the
        tail in chunks).""",
        width=first["width"], params=first["params"], gpu=gpu["params_reported"],
        choose=first["budget_s"], chosen=chosen, sizes=sizes or "the runs are not in yet",
        targets=targets if lstm else "", taken=taken, spread=spread, orders=orders(p["runs"]),
        over=max(r["wall_s"] / r["budget_s"] for r in choice.values()) - 1,
    )  # fmt: skip


BLOCKS = {"peer": peer_table, "peer-long": peer_long, "peer-finding": peer_finding}
