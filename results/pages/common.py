"""What every page module shares: reading result files, seeds as mean ± std, tables and prose."""

import json
import statistics
import textwrap
from pathlib import Path

from data.prepare import SOURCES

ROOT = Path(__file__).resolve().parents[2]
KINDS = ("rnn", "lstm")  # the study's two models
WIDTH = 100  # prose is wrapped to this; Markdown joins the lines again


def path(name: str) -> Path:
    """A file or folder of the repository (ROOT is read at each call, so tests can move it)."""
    return ROOT / name


def load(name: str) -> dict | list:
    return json.loads(path(name).read_text())


def runs(recipe: str, folder: str = "results/runs") -> list[dict]:
    """Every seed's metrics of a named run (FOLDER/RECIPE-seedS.json), seed 0 first."""
    return [json.loads(p.read_text()) for p in sorted(path(folder).glob(f"{recipe}-seed*.json"))]


PICK = {  # one number of a model's record
    "val": lambda r: r["best"]["val_loss"],
    "val_acc": lambda r: r["best"]["val_acc"],
    "epoch": lambda r: r["best"]["epoch"],
    "wall": lambda r: r["history"][-1]["wall_s"],
    "context": lambda r: r["evaluation"]["val_context_loss"],
    **{k: (lambda r, k=k: r["evaluation"][f"{k}_loss"]) for k in ("dev", "test", "unseen")},
    **{f"{k}_acc": (lambda r, k=k: r["evaluation"][f"{k}_acc"]) for k in ("test", "unseen")},
}


def per_seed(recipe: str, kind: str, key: str) -> list[float]:
    """One number per seed run of `recipe` (a key of PICK)."""
    return [PICK[key](m["models"][kind]) for m in runs(recipe) if kind in m["models"]]


def mean(values: list) -> float:
    return statistics.mean(values)


def mean_std(values: list, fmt: str = ".4f", scale: float = 1.0) -> str:
    values = [scale * v for v in values]
    if len(values) < 2:
        return format(values[0], fmt) if values else "-"
    return f"{mean(values):{fmt}} ± {statistics.stdev(values):{fmt}}"


def versus(a: list, b: list) -> str:
    """How seeds `a` compare with seeds `b` (lower is better): a tie when the means are no further
    apart than the two standard deviations together."""
    gap = mean(a) - mean(b)
    if abs(gap) <= statistics.stdev(a) + statistics.stdev(b):
        return "ties it"
    return f"is {abs(gap):.3f} {'behind' if gap > 0 else 'ahead'}"


def table(header: list[str], rows: list[list]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def prose(template: str, **values) -> str:
    """A paragraph written as a template over several source lines, filled in and wrapped."""
    return wrap(" ".join(template.format(**values).split()))


def wrap(text: str) -> str:
    return textwrap.fill(text, WIDTH, break_long_words=False, break_on_hyphens=False)


def shown(command: str) -> str:
    """A recorded command without its output folders."""
    drop = {"--out-dir", "--figures-dir"}
    words = command.split()
    return " ".join(w for i, w in enumerate(words) if w not in drop and words[i - 1] not in drop)


def corpus_name(sha: str) -> str:
    names = {
        "gutenberg": "Gutenberg *Coriolanus* + *Richard III* (the stand-in)",
        "tinyshakespeare": "the study's file (first {chars:,} characters of tiny-shakespeare)",
    }
    source = next(k for k, v in SOURCES.items() if v["sha256"] == sha and k in names)
    return names[source].format(chars=SOURCES[source].get("chars", 0))
