"""A small text: how many epochs 5,200 characters need (results/runs/small-e*-seed0.json, written by
`bash results/experiments.sh small`)."""

import math

from dataset import split_ids, train_subset
from results.pages.common import load, path, prose, table
from trainer import FEW_STEPS


def small_runs() -> dict:
    """epochs -> the run's metrics."""
    runs = [
        load(f"results/runs/{p.name}") for p in path("results/runs").glob("small-e*-seed0.json")
    ]
    return {m["models"]["rnn"]["settings"]["epochs"]: m for m in sorted(runs, key=epochs_of)}


def epochs_of(m: dict) -> int:
    return m["models"]["rnn"]["settings"]["epochs"]


def len_train(m: dict, kind: str) -> int:
    """Training chunks of the run, as dataset.py splits its text."""
    s = m["models"][kind]["settings"]
    chunks = (m["corpus"]["chars"] - 1) // s["seq_len"]
    train, _ = split_ids(chunks, s["split_seed"], s["val_fraction"])
    return len(train_subset(train, chunks, s["train_fraction"], s["split_seed"]))


def small() -> str:
    runs = small_runs()
    rows = []
    for m in runs.values():
        for kind, r in m["models"].items():
            s = r["settings"]
            steps = s["epochs"] * math.ceil(len_train(m, kind) / s["batch_size"])
            rows.append([kind.upper(), s["epochs"], f"{steps:,}", f"{r['best']['val_loss']:.4f}",
                         r["best"]["epoch"]])  # fmt: skip
    header = ["model", "epochs", "optimizer steps", "best validation loss", "epoch of best"]
    corpus = next(iter(runs.values()))["corpus"]
    return table(header, rows) + "\n\n" + prose(
        """`bash results/experiments.sh small`: `python main.py --data data/small.txt --epochs E`, the
        first {chars:,} characters of the study's file ({vocab} distinct), seed 0. A uniform guess
        scores {uniform:.2f} nats/char.""",
        chars=corpus["chars"], vocab=corpus["vocab_size"], uniform=math.log(corpus["vocab_size"]),
    )  # fmt: skip


def small_advice() -> str:
    """The README's advice for a small text, from the same runs."""
    runs = small_runs()
    few, *more = runs
    best = lambda e: " / ".join(f"{r['best']['val_loss']:.2f}" for r in runs[e]["models"].values())
    at = max(r["best"]["epoch"] for e in more for r in runs[e]["models"].values())
    return prose(
        """On a small text an epoch is a few optimizer steps, and `main.py` warns under {steps}: on
        the first {chars:,} characters of the study's file, {few} epochs leave RNN / LSTM at {b0}
        nats/char on validation, {more} epochs reach {b1}, each best by epoch {at} and kept there
        ([a small text](results/README.md#a-small-text)).""",
        steps=FEW_STEPS, chars=runs[few]["corpus"]["chars"], few=few, b0=best(few),
        more=" and ".join(map(str, more)), b1=" and ".join(best(e) for e in more), at=at,
    )  # fmt: skip


BLOCKS = {"small": small, "small-advice": small_advice}
