"""How the default recipe was chosen: the sweep's runs (results/sweep/), grouped by the question each
answered (results/sweep.json)."""

from results.pages.common import KINDS, load, path, table
from results.pages.seeds import COMMITTED

RETIRED = ("embed_dropout", "output_dropout", "input_noise")  # settings of removed features


def sweep() -> str:
    files = {p.stem for p in path("results/sweep").glob("*.json")}
    index = load("results/sweep.json")  # the question each run answered
    questions = index["questions"]
    listed = {name for names in questions.values() for name in names}
    if listed != set(index["runs"]) or files != listed:
        raise SystemExit(
            f"results/sweep.json and results/sweep/ disagree: {sorted(files ^ listed)}"
        )
    parts = []
    for question, names in questions.items():
        lines = (dev_sweep if "dev" in question else val_sweep)(names)
        parts.append(f"**{question}**\n\n" + "\n".join(lines))
    return "\n\n".join(parts)


def val_sweep(names: list) -> list:
    """Runs judged on validation, with the lowest of each model."""
    rows, scores = [], []
    for name in names:
        for kind, r in load(f"results/sweep/{name}.json")["models"].items():
            s = r["settings"]
            rows.append([
                f"`{name}`", kind.upper(), s["seed"], s["epochs"], s["batch_size"], f"{s['lr']:g}",
                f"{s['beta2']:g}", s["warmup_steps"], f"{s['dropout']:g}",
                "yes" if s["shift"] else "no", f"EMA {s['ema']:g}" if s["ema"] else "none",
                f"{s['init_gain']:g}", r["best"]["epoch"], f"{r['best']['val_loss']:.4f}",
            ])  # fmt: skip
            scores.append((r["best"]["val_loss"], kind, name))
    header = ["run", "model", "seed", "epochs", "batch", "lr", "beta2", "warm-up", "dropout",
              "shifted", "average", "init gain", "best epoch", "best val loss"]  # fmt: skip
    kinds = {kind for _, kind, _ in scores}
    lowest = {k: min((v, n) for v, kind, n in scores if kind == k) for k in kinds}
    return [table(header, rows), ""] + [
        f"Lowest {kind.upper()}: `{lowest[kind][1]}`, {lowest[kind][0]:.4f}."
        for kind in KINDS
        if kind in lowest
    ]


def dev_sweep(names: list) -> list:
    """Runs judged on the dev plays, each beside the committed default checkpoints (seed 0)."""
    committed = load(COMMITTED)["models"]
    runs = [("default, `checkpoints/`", kind, committed[kind]) for kind in KINDS]
    runs += [
        (f"`{name}`", kind, r)
        for name in names
        for kind, r in load(f"results/sweep/{name}.json")["models"].items()
    ]
    rows, best = [], {}
    for name, kind, r in runs:
        s, old = r["settings"], dict.fromkeys(RETIRED, 0.0) | r.get("retired_settings", {})
        dev = r["evaluation"]["dev_loss"]
        rows.append([
            name, kind.upper(), f"{s['dropout']:g}",
            f"{old['embed_dropout']:g} / {old['output_dropout']:g}", f"{s['weight_decay']:g}",
            f"{old['input_noise']:g}", f"{r['best']['val_loss']:.4f}", f"{dev:.4f}",
        ])  # fmt: skip
        best[kind] = min(best.get(kind, (dev, name)), (dev, name))
    header = ["run", "model", "dropout between layers", "embedding / output dropout",
              "weight decay", "input noise", "best val loss", "dev plays loss"]  # fmt: skip
    return [table(header, rows), ""] + [
        f"Lowest {kind.upper()} on the dev plays: {name}, {dev:.4f}."
        for kind, (dev, name) in best.items()
    ]


BLOCKS = {"sweep": sweep}
