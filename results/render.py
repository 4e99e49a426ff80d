"""Render the tables, figures and numbered sentences of README.md and results/README.md from the
files the runs wrote; nothing in them is typed by hand.

    python results/render.py            # rewrite both pages' marked blocks, redraw two figures
    python results/render.py --check    # exit 1 if either page is not what the files say

A block is the text between `<!-- begin NAME -->` and `<!-- end NAME -->`.
"""

import argparse
import json
import math
import re
import statistics
import sys
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from data.prepare import SOURCES  # noqa: E402
from figures.draw import draw_comparison, draw_seeds  # noqa: E402
from results.reading import NANOGPT_VAL_START  # noqa: E402
from trainer import PROTOCOLS, RECIPES, STUDY  # noqa: E402

PAGES = ("README.md", "results/README.md")
# The reference study's reported numbers (its README), for comparison only.
REFERENCE = {
    "rnn": dict(train_loss=1.4140, val_loss=1.5644, train_acc=0.5691, val_acc=0.5355),
    "lstm": dict(train_loss=1.5952, val_loss=1.6645, train_acc=0.5282, val_acc=0.5138),
}
KINDS = ("rnn", "lstm")
LABELS = {
    "reference": "the study's settings (`--preset reference`)",
    "default": "our default recipe",
}
NGRAM = (6, 3)  # the count-based bar: modified Kneser-Ney (3 discounts), order 6


def load(path) -> dict:
    return json.loads((ROOT / path).read_text())


def runs(recipe: str) -> list[dict]:
    paths = sorted((ROOT / "results" / "runs").glob(f"{recipe}-seed*.json"))
    return [json.loads(p.read_text()) for p in paths]


def per_seed(recipe: str, kind: str, key: str) -> list[float]:
    """One number per seed run: 'val' (best val loss), 'val_acc', 'unseen', 'unseen_acc', 'context',
    'epoch', 'wall'."""
    held = lambda key: lambda r: r["evaluation"].get(key)  # None where a run was not scored on it
    pick = {
        "val": lambda r: r["best"]["val_loss"],
        "val_acc": lambda r: r["best"]["val_acc"],
        "dev": held("dev_loss"),
        "test": held("test_loss"),
        "test_acc": held("test_acc"),
        "unseen": lambda r: r["evaluation"]["unseen_loss"],
        "unseen_acc": lambda r: r["evaluation"]["unseen_acc"],
        "context": lambda r: r["evaluation"]["val_context_loss"],
        "epoch": lambda r: r["best"]["epoch"],
        "wall": lambda r: r["history"][-1]["wall_s"],
    }[key]
    return [pick(m["models"][kind]) for m in runs(recipe) if kind in m["models"]]


def mean(values: list) -> float:
    return statistics.mean(v for v in values if v is not None)


def mean_std(values: list, fmt: str = ".4f", scale: float = 1.0) -> str:
    values = [scale * v for v in values if v is not None]
    if len(values) < 2:
        return format(values[0], fmt) if values else "-"
    return f"{mean(values):{fmt}} ± {statistics.stdev(values):{fmt}}"


def ngram(context: int = 0) -> dict:
    """The modified-KN 6-gram's row of the baseline run (scored without or with preceding characters)."""
    b = load("results/baseline.json" if context == 0 else f"results/baseline-context{context}.json")
    row = next(r for r in b["results"] if (r["order"], r["discounts"]) == NGRAM)
    return row | {k: v for k, v in b.items() if k.endswith("_chunks")}


def shown(command: str) -> str:
    """A recorded command without the machine's own paths (data, unseen text, output folders)."""
    # paths, and --unseen-start, a flag of the older context-60 runs that the unseen text replaced
    drop = {"--data", "--unseen", "--dev", "--test", "--unseen-start", "--out-dir", "--figures-dir"}
    words, kept = command.split(), []
    for i, word in enumerate(words):
        if word not in drop and (i == 0 or words[i - 1] not in drop):
            kept.append(word)
    return " ".join(kept)


def headline() -> str:
    lines = [
        "| model | trained with | seeds | validation loss | val acc | test-plays loss | test acc |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind in KINDS:
        for recipe, label in LABELS.items():
            cells = [
                mean_std(per_seed(recipe, kind, "val")),
                mean_std(per_seed(recipe, kind, "val_acc"), ".2f", 100) + "%",
                mean_std(per_seed(recipe, kind, "test")),
                mean_std(per_seed(recipe, kind, "test_acc"), ".2f", 100) + "%",
            ]
            name = f"**{kind.upper()}**" if recipe == "default" else kind.upper()
            lines.append(
                f"| {name} | {label} | {len(per_seed(recipe, kind, 'val'))} | "
                + " | ".join(cells)
                + " |"
            )
        lines.append(
            f"| {kind.upper()} | as the study reported it | 1 | {REFERENCE[kind]['val_loss']:.4f} | "
            f"{REFERENCE[kind]['val_acc']:.2%} | | |"
        )
    g = ngram()
    seed0 = {
        k: r["best"]["val_loss"]
        for k, r in load("results/runs/default-seed0.json")["models"].items()
    }
    lines.append(
        f"| {NGRAM[0]}-gram | modified Kneser-Ney counts, same chunks and context limit | - | "
        f"{g['val_loss']:.4f} | | {g['test_loss']:.4f} | |"
    )
    lines += [
        "",
        f"Cross-entropy in nats per character (bits = nats / ln 2) over every target: the "
        f"{g['val_chunks']:,} validation chunks of the study's file, and {g['test_chunks']:,} "
        "chunks of the test plays (*The Winter's Tale*, *Measure for Measure*, *The Taming of the "
        "Shrew*, *The Tempest*), which neither model saw and no setting was chosen on. Mean ± std "
        "over seeds, from `results/runs/` and `results/baseline.json` "
        "(`bash results/experiments.sh`). The checkpoints in `checkpoints/` are seed 0 of the "
        "default recipe: "
        + ", ".join(f"{k.upper()} validation {v:.4f}" for k, v in seed0.items())
        + ".",
    ]
    return "\n".join(lines)


def corpus_name(sha: str) -> str:
    names = {
        "gutenberg": "Gutenberg *Coriolanus* + *Richard III* (the stand-in)",
        "tinyshakespeare": "the study's file (first 268,330 characters of tiny-shakespeare)",
    }
    return next(
        (names[k] for k, v in SOURCES.items() if v["sha256"] == sha and k in names), "a corpus"
    )


def quickstart() -> str:
    m = load("results/runs/quickstart-seed0.json")
    c = m["corpus"]
    lines = [
        f"What `{m['command']}` gave here (seed 0; {m['machine']}, {m['threads']} threads, "
        f"torch {m['torch']}), trained on {corpus_name(c['sha256'])}: {c['chars']:,} characters, "
        f"{c['vocab_size']} distinct. `python main.py` took {m['wall_s'] / 60:.1f} min.",
        "",
        "| model | epochs | best validation loss | val acc | training time |",
        "|---|---|---|---|---|",
    ]
    for kind, r in m["models"].items():
        lines.append(
            f"| {kind.upper()} | {r['epochs']} | {r['best']['val_loss']:.4f} | "
            f"{r['best']['val_acc']:.2%} | {r['history'][-1]['wall_s'] / 60:.1f} min |"
        )
    return "\n".join(lines)


def curves() -> str:
    m = load("results/runs/default-seed0.json")
    best = ", ".join(
        f"{k.upper()} {r['best']['val_loss']:.4f} at epoch {r['best']['epoch']}"
        for k, r in m["models"].items()
    )
    return (
        '<img src="figures/loss.png" width="49%" alt="loss per epoch"> '
        '<img src="figures/accuracy.png" width="49%" alt="accuracy per epoch">\n\n'
        f"The curves `main.py` draws, as committed: `{m['command']}`, seed 0 of the default "
        f"recipe on {corpus_name(m['corpus']['sha256'])}, the run behind `checkpoints/`; best "
        f"validation loss {best}. `python main.py` redraws both for your own run."
    )


def sample() -> str:
    r = next(r for r in load("results/samples.json") if r["temperature"] == 0.7)
    return (
        f"`{r['command']}`, the first of its samples (T = {r['temperature']:g}, "
        f"`{r['checkpoint']}`):\n\n```text\n{r['text'].rstrip()}\n```"
    )


def recipe() -> str:
    cols = [
        ("epochs", "epochs"),
        ("batch_size", "batch"),
        ("lr", "lr"),
        ("beta2", "Adam beta2"),
        ("warmup_steps", "warm-up steps"),
        ("schedule", "schedule"),
        ("grad_clip", "clip"),
        ("dropout", "dropout"),
        ("shift", "shifted chunks"),
        ("ema", "weight average"),
        ("weight_decay", "weight decay"),
        ("init_gain", "initial gain"),
    ]

    def fmt(v):
        if isinstance(v, bool):
            return "yes" if v else "no"
        return f"{v:g}" if isinstance(v, float) else v

    lines = [
        "| recipe | model | " + " | ".join(c for _, c in cols) + " |",
        "|---" * (len(cols) + 2) + "|",
    ]
    for kind in KINDS:
        values = asdict(RECIPES["default"][kind])
        lines.append(
            f"| default | {kind.upper()} | "
            + " | ".join(str(fmt(values[k])) for k, _ in cols)
            + " |"
        )
    lines.append(
        "| `--preset reference` | both | "
        + " | ".join(str(fmt(getattr(STUDY, k))) for k, _ in cols)
        + " |"
    )
    return "\n".join(lines)


def prose(template: str, **values) -> str:
    """A sentence written as a template over several source lines, filled in and joined into one."""
    return " ".join(template.format(**values).split())


FINDINGS = [
    """**The study's ranking reproduces under its own settings:** RNN {ref_rnn}, LSTM {ref_lstm} on
    validation (it reported {study_rnn:.4f} and {study_lstm:.4f}). {stopped}
    [Comparison](results/README.md#rnn-or-lstm)""",
    """**Trained well, the {val_winner} wins on the two plays:** LSTM {lstm}, RNN {rnn}{every}. The
    recipe moves the LSTM by {gain:.2f} nats/char, {more} than the {gap:.3f} between the
    architectures. [Recipe sweep](results/README.md#how-the-default-recipe-was-chosen)""",
    """**On the test plays the {unseen_winner} is ahead:** RNN {unseen_rnn}, LSTM {unseen_lstm}
    with the default recipe; under the study's settings RNN {ref_test_rnn}, LSTM
    {ref_test_lstm}{fitting}. [Comparison](results/README.md#rnn-or-lstm)""",
    """**Against the count model on the test plays:** the modified Kneser-Ney 6-gram scores
    {ngram_val:.4f} on validation and {ngram_test:.4f} on the test plays; the default LSTM, its
    weight decay chosen on the dev plays, is {below_val} it on validation and {below_unseen} it on the
    test plays ({lstm_test_mean:.4f}, mean of {seeds} seeds). Interpolated with the n-gram, one weight
    chosen on the dev plays, the seed-0 networks score RNN {mix_rnn:.4f} and LSTM {mix_lstm:.4f}.
    [Dev and test plays](results/README.md#dev-and-test-plays)""",
    """**Read in order and adapting as it reads, the LSTM scores {lstm_dynamic} on the test
    plays** (chunk by chunk {lstm_chunks}, its state carried {lstm_stateful}); the adaptive 6-gram
    {cache:.4f}, the RNN {rnn_dynamic}. At the LSTM's parameter budget (hidden 256) the RNN
    {budget}. [Reading in order](results/README.md#reading-in-order)""",
    """**The study's samples began with 'z' because of its sampler, not its model:** re-created on
    our checkpoint, its sampler starts with 'z' {bug_low:.0%}-{bug_high:.0%} of the time, the
    correct one {correct:.0%}. Our recipe reaches the study's best loss {speed_rnn:.1f}x (RNN) and
    {speed_lstm:.1f}x (LSTM) sooner. [Sampling](results/README.md#sampling),
    [speed](results/README.md#speed)""",
]


def findings() -> str:
    ref = {k: per_seed("reference", k, "val") for k in KINDS}
    dflt = {k: per_seed("default", k, "val") for k in KINDS}
    unseen = {k: per_seed("default", k, "test") for k in KINDS}
    ref_test = {k: per_seed("reference", k, "test") for k in KINDS}
    winner = lambda d: "LSTM" if mean(d["lstm"]) < mean(d["rnn"]) else "RNN"
    val_winner, unseen_winner = winner(dflt), winner(unseen)
    every = all((a < b) == (val_winner == "LSTM") for a, b in zip(dflt["lstm"], dflt["rnn"]))
    gain = mean(ref["lstm"]) - mean(dflt["lstm"])
    gap = abs(mean(dflt["lstm"]) - mean(dflt["rnn"]))
    g = ngram()
    bug = load("results/temperature.json")["reference_sampler"]["first_char_share"].values()
    speed = load("results/bench.json")["time_to_quality_ratio"]
    committed = load("results/runs/default-seed0.json")["models"]["lstm"]["evaluation"]
    mix = load("results/mixture.json")["mixture"]
    stopped = all(e == STUDY.epochs for e in per_seed("reference", "lstm", "epoch"))
    fitting = (val_winner, unseen_winner) == ("LSTM", "RNN")  # ahead on validation, behind on test
    values = dict(
        ref_rnn=mean_std(ref["rnn"]),
        ref_lstm=mean_std(ref["lstm"]),
        study_rnn=REFERENCE["rnn"]["val_loss"],
        study_lstm=REFERENCE["lstm"]["val_loss"],
        stopped="Every LSTM seed has its best at the last epoch: it was stopped while still "
        "learning."
        if stopped
        else "",
        val_winner=val_winner,
        lstm=mean_std(dflt["lstm"]),
        rnn=mean_std(dflt["rnn"]),
        every=", in every seed" if every else "",
        gain=gain,
        gap=gap,
        more="more" if gain > gap else "less",
        unseen_winner=unseen_winner,
        unseen_rnn=mean_std(unseen["rnn"]),
        unseen_lstm=mean_std(unseen["lstm"]),
        ref_test_rnn=mean_std(ref_test["rnn"]),
        ref_test_lstm=mean_std(ref_test["lstm"]),
        fitting="; the LSTM's lead on validation is in fitting the two training plays"
        if fitting
        else "",
        ngram_val=g["val_loss"],
        ngram_unseen=g["unseen_loss"],
        ngram_test=g["test_loss"],
        lstm_test_mean=mean(unseen["lstm"]),
        seeds=len(unseen["lstm"]),
        mix_rnn=mix["rnn"]["test_loss"],
        mix_lstm=mix["lstm"]["test_loss"],
        below_val="below" if mean(dflt["lstm"]) < g["val_loss"] else "above",
        below_unseen="below" if mean(unseen["lstm"]) < g["test_loss"] else "above",
        context=committed["eval_context"],
        fed_rnn=mean(per_seed("default", "rnn", "context")),
        fed_lstm=mean(per_seed("default", "lstm", "context")),
        bug_low=min(v["reference"] for v in bug),
        bug_high=max(v["reference"] for v in bug),
        correct=max(v["correct"] for v in bug),
        speed_rnn=speed["rnn"],
        speed_lstm=speed["lstm"],
    )
    values |= reading_findings()
    return "\n".join("- " + prose(template, **values) for template in FINDINGS)


def reading_findings() -> dict:
    r = reading()
    test = lambda fam, p: read_seeds(r, fam, p, lambda row: row["test"]["loss"])
    values = {
        f"{fam.lower().replace('-', '')}_{p}": mean_std(test(fam, p))
        for fam in FAMILIES
        for p in PROTOCOLS
    }
    values["cache"] = r["ngram"]["dynamic/test"]["loss"]
    parts = [f"{versus(test('RNN-256', p), test('LSTM', p))} {WHEN[p]}" for p in PROTOCOLS]
    values["budget"] = ", ".join(parts[:-1]) + ", and " + parts[-1]
    return values


WHEN = {"chunks": "reading chunks", "stateful": "carrying its state", "dynamic": "when adapting"}


def versus(a: list, b: list) -> str:
    """How seeds `a` compare with seeds `b` (lower is better): a tie when the means are no further
    apart than the two standard deviations together."""
    gap = mean(a) - mean(b)
    if abs(gap) <= statistics.stdev(a) + statistics.stdev(b):
        return "ties it"
    return f"is {abs(gap):.3f} {'behind' if gap > 0 else 'ahead'}"


def committed_run() -> str:
    m = load("results/runs/default-seed0.json")
    lines = [
        "| model | epoch | train loss | train acc | val loss | val acc | val loss, 30 chars of context |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, r in m["models"].items():
        best, ev, ref = r["best"], r["evaluation"], REFERENCE[kind]
        lines += [
            f"| {kind.upper()} (ours, best epoch) | {best['epoch']} | {best['train_loss']:.4f} | "
            f"{best['train_acc']:.2%} | **{best['val_loss']:.4f}** | {best['val_acc']:.2%} | "
            f"{ev['val_context_loss']:.4f} |",
            f"| {kind.upper()} reference study | 20 | {ref['train_loss']:.4f} | {ref['train_acc']:.2%} | "
            f"{ref['val_loss']:.4f} | {ref['val_acc']:.2%} | |",
        ]
    walls = ", ".join(
        f"{k.upper()} {r['history'][-1]['wall_s']:.0f} s" for k, r in m["models"].items()
    )
    lines += [
        "",
        f"`{shown(m['command'])}` on the study's file, with the unseen plays: "
        f"{m['wall_s'] / 60:.1f} min in all (training and validation: {walls}) on {m['device']}"
        + (f" ({m['machine']})" if "machine" in m else "")
        + f", {m['threads']} threads, torch {m['torch']}. Corpus sha256 "
        f"`{m['corpus']['sha256'][:16]}...`.",
    ]
    return "\n".join(lines)


def comparison() -> str:
    lines = [
        "| recipe | model | seeds | best val loss | val acc | epoch of best | "
        "val loss, 30 chars of context | dev plays loss | test plays loss | test acc | "
        "all unseen plays | wall time (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for recipe in ("reference", "default"):
        for kind in KINDS:
            seeds = per_seed(recipe, kind, "val")
            if seeds:
                lines.append(
                    f"| {recipe} | {kind.upper()} | {len(seeds)} | {mean_std(seeds)} | "
                    f"{mean_std(per_seed(recipe, kind, 'val_acc'), '.2f', 100)}% | "
                    f"{mean_std(per_seed(recipe, kind, 'epoch'), '.1f')} | "
                    f"{mean_std(per_seed(recipe, kind, 'context'))} | "
                    f"{mean_std(per_seed(recipe, kind, 'dev'))} | "
                    f"{mean_std(per_seed(recipe, kind, 'test'))} | "
                    f"{mean_std(per_seed(recipe, kind, 'test_acc'), '.2f', 100)}% | "
                    f"{mean_std(per_seed(recipe, kind, 'unseen'))} | "
                    f"{mean_std(per_seed(recipe, kind, 'wall'), '.0f')} |"
                )
    per = lambda recipe, kind, key: ", ".join(f"{v:.4f}" for v in per_seed(recipe, kind, key))
    lines += [
        "",
        "Per seed (0, 1, 2), best validation loss: "
        + "; ".join(
            f"{recipe} {kind.upper()} {per(recipe, kind, 'val')}"
            for recipe in LABELS
            for kind in KINDS
        )
        + ".",
    ]
    lines += [
        "Per seed, test plays: "
        + "; ".join(
            f"{recipe} {kind.upper()} {per(recipe, kind, 'test')}"
            for recipe in LABELS
            for kind in KINDS
        )
        + "."
    ]
    flags = sorted(
        {
            re.sub(r" --seed \d+", "", shown(m["command"])).removeprefix("python main.py").strip()
            for r in ("reference", "default")
            for m in runs(r)
        }
    )
    lines += [
        "",
        "Each run is `python main.py --data data/shakespeare_train.txt --unseen data/shakespeare_unseen.txt "
        "--dev data/shakespeare_dev.txt --test data/shakespeare_test.txt "
        "--seed S` (S = 0, 1, 2) with "
        + ", ".join(f"`{f}`" if f else "no other flag" for f in flags)
        + ", run by `bash results/experiments.sh default reference`.",
    ]
    return "\n".join(lines)


CONTEXT = """Fed their {context} preceding characters first (unscored), the default checkpoints
score {k0_rnn:.4f} (RNN) and {k0_lstm:.4f} (LSTM) on the validation chunks, against {val_rnn:.4f} and
{val_lstm:.4f} from a zero state (means of {seeds} seeds); the 6-gram given 60 preceding characters
scores {ngram_val:.4f} on validation. Carrying the state through the whole text, and adapting while
reading it, are measured on the unseen plays below ([Reading in order](#reading-in-order))."""


def context() -> str:
    g = ngram(60)
    return prose(
        CONTEXT,
        context=load("results/runs/default-seed0.json")["models"]["lstm"]["evaluation"][
            "eval_context"
        ],
        seeds=len(per_seed("default", "rnn", "context")),
        k0_rnn=mean(per_seed("default", "rnn", "context")),
        k0_lstm=mean(per_seed("default", "lstm", "context")),
        val_rnn=mean(per_seed("default", "rnn", "val")),
        val_lstm=mean(per_seed("default", "lstm", "val")),
        ngram_val=g["val_loss"],
    )


# Reading in order ---------------------------------------------------------------------------------

FAMILIES = ("RNN", "LSTM", "RNN-256")
NANOGPT = dict(loss=1.4697, params="10.7M", context=256)  # nanoGPT's README, shakespeare_char
TEXTS = {"dev": "dev plays", "test": "test plays", "nanogpt_val": "nanoGPT's val split"}


def rnn256() -> str:
    """The name (results/runs/NAME-seedS.json) of the equal-budget RNN trial chosen on the dev plays."""
    trials = sorted((ROOT / "results" / "runs").glob("rnn256-*-seed0.json"))
    dev = lambda p: json.loads(p.read_text())["models"]["rnn"]["evaluation"]["dev_loss"]
    return min(trials, key=dev).name.removesuffix("-seed0.json")


def reading() -> dict:
    """results/reading/*.json merged: rows, search logs and choices of every family; the n-gram."""
    merged = dict(rows={}, search={}, chosen={})
    for path in sorted((ROOT / "results" / "reading").glob("*.json")):
        r = json.loads(path.read_text())
        for key in ("rows", "search", "chosen"):
            merged[key] |= r.get(key, {})
        merged |= {k: v for k, v in r.items() if k not in ("rows", "search", "chosen")}
    return merged


def read_seeds(r: dict, fam: str, protocol: str, key) -> list:
    """One value per seed of `fam` read under `protocol`; key(row) picks it."""
    rows = [
        v
        for k, v in sorted(r["rows"].items())
        if k.startswith(f"{fam}/") and k.endswith(f"/{protocol}")
    ]
    return [key(row) for row in rows]


def setting(s: dict, protocol: str) -> str:
    if protocol == "chunks":
        return "30-char segments, zero state"
    streams = f"{s['streams']} stream{'s' if s['streams'] > 1 else ''}"
    if protocol == "stateful":
        return streams
    rate = f"lr {s['lr']:.3g}" + (f", decay {s['decay']:.3g}" if s["rule"] == "rms" else "")
    return f"{s['rule'].upper()} {rate}, {s['seg_len']}-char segments, {streams}"


def val_loss(fam: str) -> list:
    recipe = {"RNN": ("default", "rnn"), "LSTM": ("default", "lstm"), "RNN-256": (rnn256(), "rnn")}
    return per_seed(*recipe[fam], "val")


def reading_table() -> str:
    r = reading()
    lines = [
        "| model | params | protocol | setting (chosen on the dev plays) | seeds | val loss | "
        "dev plays | test plays | test bits/char | test acc | nanoGPT val | s per test read |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for fam in FAMILIES:
        for protocol in PROTOCOLS:
            rows = read_seeds(r, fam, protocol, lambda row: row)
            if not rows:
                continue
            get = lambda text, k, rows=rows: [row[text][k] for row in rows]
            val = mean_std(val_loss(fam)) if protocol == "chunks" else ""
            lines.append(
                f"| {fam} | {rows[0]['params']:,} | {protocol} | "
                f"{setting(rows[0]['settings'], protocol)} | {len(rows)} | {val} | "
                f"{mean_std(get('dev', 'loss'))} | {mean_std(get('test', 'loss'))} | "
                f"{mean_std(get('test', 'bits'), '.3f')} | "
                f"{mean_std(get('test', 'acc'), '.2f', 100)}% | "
                f"{mean_std(get('nanogpt_val', 'loss'))} | {mean(get('test', 'seconds')):.0f} |"
            )
    for protocol in PROTOCOLS:
        g = {t: r["ngram"][f"{protocol}/{t}"] for t in TEXTS}
        form = {"chunks": "context cut at segments", "stateful": "context never cut",
                "dynamic": "adds each scored segment's counts"}[protocol]  # fmt: skip
        lines.append(
            f"| 6-gram, modified KN | - | {protocol} | {form} | - | | {g['dev']['loss']:.4f} | "
            f"{g['test']['loss']:.4f} | {g['test']['loss'] / math.log(2):.3f} | | "
            f"{g['nanogpt_val']['loss']:.4f} | {g['test']['seconds']:.0f} |"
        )
    for fam in FAMILIES:
        for protocol in PROTOCOLS:
            mixed = read_seeds(r, fam, protocol, lambda row: row["mixture"])
            if mixed:
                w = mean([m["weight"] for m in mixed])
                lines.append(
                    f"| {fam} + 6-gram | | {protocol} | weight {w:.2f} on the network (dev plays) | "
                    f"{len(mixed)} | | {mean_std([m['dev'] for m in mixed])} | "
                    f"{mean_std([m['test'] for m in mixed])} | | | | |"
                )
    lines.append(
        f"| nanoGPT (their published number) | {NANOGPT['params']} | static, context "
        f"{NANOGPT['context']} | a transformer trained on the first 90% of tiny-shakespeare | 1 | | | | | | "
        f"{NANOGPT['loss']:.4f} | |"
    )
    t = r["texts"]
    lines += [
        "",
        f"Nats per character over every character of each text but its first, read in order "
        f"(dev plays {t['dev']['chars']:,} characters, test plays {t['test']['chars']:,}, nanoGPT's "
        f"validation split {t['nanogpt_val']['chars']:,}: characters {NANOGPT_VAL_START:,} to the end "
        f"of tiny-shakespeare, the end of the test plays, read on its own from the trained weights). "
        f"A character outside the vocabulary is read as {r['read_as']!r} and not scored "
        f"(dev plays {t['dev']['unknown']}, test plays {t['test']['unknown']}), so chunks differs "
        f"from the headline's test-plays column, which drops each chunk holding one, in the third "
        f"decimal. Validation is "
        f"scored under the chunks protocol only: its chunks interleave with the training text. "
        f"Mean ± std over seeds 0, 1, 2; seconds: the mean of one read of the test plays, one CPU "
        f"thread, with another job on the machine's other core (the adapted sample below times one read on "
        f"both cores). "
        f"`bash results/experiments.sh reading` wrote `results/reading/`.",
    ]
    return "\n".join(lines)


def rnn256_trials() -> str:
    chosen = rnn256()
    lines = [
        "| run | hidden | lr | epochs | seeds | best val loss | epoch of best | dev plays loss | "
        "test plays loss |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    names = sorted(
        {p.name.rsplit("-seed", 1)[0] for p in (ROOT / "results" / "runs").glob("rnn256-*")}
    )
    for name in names:
        s = runs(name)[0]["models"]["rnn"]["settings"]
        seeds = per_seed(name, "rnn", "val")
        test = mean_std(per_seed(name, "rnn", "test")) if name == chosen else "(not used)"
        dev = mean_std(per_seed(name, "rnn", "dev"))
        lines.append(
            f"| `{name}` | {s['hidden_size']} | {s['lr']:g} | {s['epochs']} | {len(seeds)} | "
            f"{mean_std(seeds)} | {mean_std(per_seed(name, 'rnn', 'epoch'), '.1f')} | "
            + (f"**{dev}**" if name == chosen else dev)
            + f" | {test} |"
        )
    params = runs(chosen)[0]["models"]["rnn"]["params"]
    lines += [
        "",
        f"The default RNN recipe at hidden 256 ({params:,} parameters, the LSTM has 544,318), its "
        f"learning rate and epochs chosen by the lowest dev-plays loss of seed 0: `{chosen}`, then "
        f"seeds 1 and 2 (`bash results/experiments.sh rnn256`).",
    ]
    return "\n".join(lines)


def reading_search() -> str:
    r = reading()
    lines = []
    for fam in FAMILIES:
        log = r["search"].get(fam)
        if not log:
            continue
        chosen = r["chosen"][fam]
        lines += [
            f"**{fam}** (seed 0, the first {r['search_chars']:,} characters of the dev plays):",
            "",
            "| protocol | rule | lr | decay | segment | streams | loss | seconds |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in log:
            s = row["settings"]
            best = {k: v for k, v in s.items() if k != "protocol"} == chosen[s["protocol"]]
            loss = f"**{row['loss']:.4f}**" if best else f"{row['loss']:.4f}"
            lines.append(
                f"| {s['protocol']} | {s.get('rule', '-')} | {s['lr']:.3g} | "
                if "lr" in s
                else f"| {s['protocol']} | - | - | "
            )
            lines[-1] += (
                f"{s['decay']:.3g} | " if "decay" in s else "- | "
            ) + f"{s['seg_len']} | {s['streams']} | {loss} | {row['seconds']:.0f} |"
        lines.append("")
    return "\n".join(lines).rstrip()


def reading_verdict() -> str:
    r = reading()
    test = lambda fam, p: read_seeds(r, fam, p, lambda row: row["test"]["loss"])
    out = []
    for protocol in PROTOCOLS:
        ranked = sorted(
            (f for f in FAMILIES if test(f, protocol)), key=lambda f: mean(test(f, protocol))
        )
        shown_ = ", ".join(f"{f} {mean_std(test(f, protocol))}" for f in ranked)
        out.append(f"- **{protocol}**, test plays, best first: {shown_}; 6-gram "
                   f"{r['ngram'][f'{protocol}/test']['loss']:.4f}.")  # fmt: skip
    lstm = test("LSTM", "dynamic")
    nano = read_seeds(r, "LSTM", "dynamic", lambda row: row["nanogpt_val"]["loss"])
    cache = r["ngram"]["dynamic/test"]["loss"]
    out.append(prose(
        """- **Targets.** The default LSTM with dynamic evaluation scores {lstm} on the test plays
        (target below 1.50: {met}; the adaptive 6-gram scores {cache:.4f}: {vs_cache}), and {nano}
        on nanoGPT's validation split, against nanoGPT's published {nano_ref:.4f} ({vs_nano}): a
        544K-parameter network that adapts while it reads, against a static {params}-parameter
        transformer with a {ctx}-character context trained on 3.7 times our training text.""",
        lstm=mean_std(lstm), met="met" if mean(lstm) < 1.50 else "not met", cache=cache,
        vs_cache="below it" if mean(lstm) < cache else "above it", nano=mean_std(nano),
        nano_ref=NANOGPT["loss"], vs_nano="below it" if mean(nano) < NANOGPT["loss"] else "above it",
        params=NANOGPT["params"], ctx=NANOGPT["context"],
    ))  # fmt: skip
    return "\n".join(out)


def reading_headline() -> str:
    r = reading()
    lines = [
        "| test plays, read in order | chunks (the study's) | stateful | dynamic evaluation |",
        "|---|---|---|---|",
    ]
    for fam in FAMILIES:
        cells = [
            mean_std(read_seeds(r, fam, p, lambda row: row["test"]["loss"])) for p in PROTOCOLS
        ]
        if cells[0] != "-":
            label = "RNN, hidden 256 (the LSTM's budget)" if fam == "RNN-256" else fam
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    g = [f"{r['ngram'][f'{p}/test']['loss']:.4f}" for p in PROTOCOLS]
    lines.append("| 6-gram (dynamic: adds each read segment's counts) | " + " | ".join(g) + " |")
    lines += [
        "",
        "Nats/char, mean ± std over 3 seeds; every setting chosen on the dev plays "
        "(`results/reading/`, [Reading in order](results/README.md#reading-in-order)).",
    ]
    return "\n".join(lines)


def adapted() -> str:
    plain, adapt = (load(f"results/sample-{n}.json")[0] for n in ("plain", "adapted"))
    a = adapt["adapted"]
    return "\n".join([
        f"`{plain['command']}`:", "", "```text", plain["text"], "```", "",
        f"`{adapt['command']}` (read {a['chars']:,} characters in {a['seconds']:.0f} s, "
        f"{a['loss']:.4f} nats/char while reading):", "", "```text", adapt["text"], "```",
    ])  # fmt: skip


def adapt_cost() -> str:
    a = load("results/sample-adapted.json")[0]["adapted"]
    s = a["settings"]
    return prose(
        """Reading the {chars:,} characters of the test plays took {seconds:.0f} s with the LSTM on
        this 2-core CPU (about {per:.0f} s per 100,000 characters; {rule}, chosen on the dev plays),
        after {stats:.0f} s for the update's gradient statistics over the training text, and reading
        them it scored {loss:.4f} nats/char. Samples of both:
        [adapting before sampling](results/README.md#reading-in-order).""",
        chars=a["chars"], seconds=a["seconds"], per=a["seconds"] / a["chars"] * 1e5,
        rule=setting(s, "dynamic"), loss=a["loss"], stats=a["stats_seconds"],
    )  # fmt: skip


def held_out() -> str:
    """The committed checkpoints, the n-gram and their mixtures on validation, dev and test plays."""
    m, g, mix = load("results/runs/default-seed0.json"), ngram(), load("results/mixture.json")
    lines = [
        "| model (seed 0, default recipe) | val loss | dev plays loss | test plays loss |",
        "|---|---|---|---|",
    ]
    for kind in KINDS:
        ev = m["models"][kind]["evaluation"]
        lines.append(
            f"| {kind.upper()} | {ev['val_loss']:.4f} | {ev['dev_loss']:.4f} | {ev['test_loss']:.4f} |"
        )
    lines.append(
        f"| {NGRAM[0]}-gram, modified KN | {g['val_loss']:.4f} | {g['dev_loss']:.4f} | "
        f"{g['test_loss']:.4f} |"
    )
    for kind, r in mix["mixture"].items():
        lines.append(
            f"| {kind.upper()} + {r['order']}-gram, weight {r['weight']:.2f} on the network | "
            f"{r['val_loss']:.4f} | {r['dev_loss']:.4f} | **{r['test_loss']:.4f}** |"
        )
    lines += [
        "",
        f"`{shown(m.get('rescored', [m['command']])[-1])}` scored the checkpoints; "
        f"`{shown(mix['command'])}` fitted "
        f"the n-gram and chose each weight on the dev plays ({mix['dev_chunks']:,} chunks); "
        f"{mix['test_chunks']:,} test-play chunks.",
    ]
    return "\n".join(lines)


def baseline() -> str:
    b = load("results/baseline.json")
    lines = [
        f"`{shown(b['command'])}`: {b['val_chunks']:,} validation chunks, {b['unseen_chunks']:,} "
        "unseen-play chunks.",
        "",
        "| n-gram order | KN, one discount: val loss | unseen loss | modified KN (3 discounts): val loss | "
        "unseen loss |",
        "|---|---|---|---|---|",
    ]
    cell = lambda r, k: f"{r[k]:.4f}" if k in r else "-"
    for path, suffix in (
        ("results/baseline.json", ""),
        ("results/baseline-context60.json", ", 60 chars of context"),
    ):
        rows = {(r["order"], r["discounts"]): r for r in load(path)["results"]}
        for order in sorted({o for o, _ in rows}):
            one, three = rows.get((order, 1), {}), rows.get((order, 3), {})
            lines.append(
                f"| {order}{suffix} | {cell(one, 'val_loss')} | {cell(one, 'unseen_loss')} | "
                f"{cell(three, 'val_loss')} | {cell(three, 'unseen_loss')} |"
            )
    return "\n".join(lines)


def sweep() -> str:
    files = {p.stem for p in (ROOT / "results" / "sweep").glob("*.json")}
    index = load("results/sweep.json")  # the question each run answered, and its flags
    questions = index["questions"]
    listed = {name for names in questions.values() for name in names}
    if listed != set(index["runs"]):
        raise SystemExit("render.py: results/sweep.json lists runs that answer no question")
    if files != listed:
        raise SystemExit(
            f"render.py: sweep runs without a question, or missing: {sorted(files ^ listed)}"
        )
    head = [
        "| run | model | seed | epochs | batch | lr | beta2 | warm-up | dropout | shifted | average | "
        "init gain | best epoch | best val loss |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines = []
    for question, names in questions.items():
        dev = "dev" in question
        lines += [f"**{question}**", ""] + (dev_sweep(names) if dev else head)
        scores = []
        for name in names if not dev else []:
            m = load(f"results/sweep/{name}.json")
            s = m["settings"]
            for kind, r in m["models"].items():
                # runs made before beta2, ema and init_gain were settings trained with these
                r = dict(beta2=0.999, ema=0.0, init_gain=1.0) | r
                get = lambda key, s=s, r=r: s[key] if s.get(key) is not None else r[key]
                lines.append(
                    f"| `{name}` | {kind.upper()} | {s['seed']} | {get('epochs')} | "
                    f"{get('batch_size')} | {get('lr'):g} | {get('beta2'):g} | "
                    f"{get('warmup_steps')} | {get('dropout'):g} | {'yes' if s['shift'] else 'no'} | "
                    f"{'EMA ' + format(get('ema'), 'g') if get('ema') else 'none'} | "
                    f"{get('init_gain'):g} | {r['best']['epoch']} | {r['best']['val_loss']:.4f} |"
                )
                scores.append((r["best"]["val_loss"], kind, name))
        lines.append("")
        for kind in KINDS:
            mine = [(v, n) for v, k, n in scores if k == kind]
            if mine:
                lines.append(f"Lowest {kind.upper()}: `{min(mine)[1]}`, {min(mine)[0]:.4f}.")
        lines.append("")
    return "\n".join(lines).rstrip()


def dev_sweep(names: list) -> list:
    """Runs judged on the dev plays, each beside the committed default checkpoints (seed 0)."""
    lines = [
        "| run | model | dropout between layers | embedding / output dropout | weight decay | "
        "input noise | best val loss | dev plays loss |",
        "|---|---|---|---|---|---|---|---|",
    ]
    committed = load("results/runs/default-seed0.json")["models"]
    rows = [("default, `checkpoints/`", kind, committed[kind]) for kind in KINDS]
    rows += [
        (f"`{name}`", kind, r)
        for name in names
        for kind, r in load(f"results/sweep/{name}.json")["models"].items()
    ]
    best = {}
    for name, kind, r in rows:
        get = lambda key, r=r: r.get(key, 0.0)
        dev = r["evaluation"]["dev_loss"]
        lines.append(
            f"| {name} | {kind.upper()} | {get('dropout'):g} | {get('embed_dropout'):g} / "
            f"{get('output_dropout'):g} | {get('weight_decay'):g} | {get('input_noise'):g} | "
            f"{r['best']['val_loss']:.4f} | {dev:.4f} |"
        )
        best[kind] = min(best.get(kind, (dev, name)), (dev, name))
    lines += [""] + [
        f"Lowest {kind.upper()} on the dev plays: {name}, {dev:.4f}."
        for kind, (dev, name) in best.items()
    ]
    return lines


def samples() -> str:
    records = load("results/samples.json")
    out = [
        f"`{records[0]['command']}` (checkpoint `{records[0]['checkpoint']}`, seed {records[0]['seed']}):"
    ]
    for t in sorted({r["temperature"] for r in records}):
        texts = ["\n".join(r["text"].splitlines()) for r in records if r["temperature"] == t]
        out += ["", f"**T = {t:g}**", "", "```text", "\n\n".join(texts), "```"]
    return "\n".join(out)


def temperature() -> str:
    s = load("results/temperature.json")
    lines = [
        "`python results/temperature.py --data data/shakespeare_train.txt --seed 0`: "
        f"{s['num_samples']} samples x {s['length']} characters per T, seed {s['seed']}, "
        f"checkpoint `{s['checkpoint']}`:",
        "",
        "| T | NLL at T=1 (nats/char) | words found in training text | distinct words "
        "| entropy (nats/step) |",
        "|---|---|---|---|---|",
    ]
    for r in s["per_temperature"]:
        lines.append(
            f"| {r['temperature']:g} | {r['nll_at_t1']:.3f} | {r['known_word_share']:.1%} | "
            f"{r['distinct_word_share']:.1%} | {r['entropy']:.3f} |"
        )
    bug = s["reference_sampler"]
    lines += [
        "",
        f"First generated character = {bug['last_char']!r} (the vocabulary's last), "
        f"{bug['samples_per_prompt']:,} draws per prompt at T = 1:",
        "",
        "| prompt | reference study's sampler | correct sampler |",
        "|---|---|---|",
    ]
    lines += [
        f"| `{p!r}` | {v['reference']:.1%} | {v['correct']:.1%} |"
        for p, v in bug["first_char_share"].items()
    ]
    return "\n".join(lines)


def bench() -> str:
    b = load("results/bench.json")
    mc, t, s, w = b["machine"], b["throughput"], b["sampling"], b["whole_run"]
    q = b["time_to_quality"]
    seeds = " ".join(map(str, q["rnn"]["seeds"]))
    lines = [
        f"`python bench.py --seeds {seeds}` on {mc['cpu']}, {mc['threads']} threads, torch {mc['torch']}:",
        "",
        "| | RNN | LSTM |",
        "|---|---|---|",
    ]
    row = lambda name, f: lines.append(f"| {name} | {f('rnn')} | {f('lstm')} |")
    span = lambda r, f: f" ({f(r[0])}-{f(r[1])} over rounds)"
    fmt = lambda x: "never" if x is None else f"{x:.0f}"
    row("training, reference step (chars/s, batch 64)", lambda k: f"{t[k]['reference_chars_s']:,}")
    row("training, our step (chars/s, batch 64)", lambda k: f"{t[k]['ours_chars_s']:,}")
    row(
        "**throughput ratio**",
        lambda k: (
            f"**{b['throughput_ratio'][k]:.2f}x**" + span(t[k]["ratio_range"], lambda x: f"{x:.2f}")
        ),
    )
    row(
        "our default recipe's step: batch, chars/s",
        lambda k: f"{t[k]['default_batch']}, {t[k]['ours_default_batch_chars_s']:,}",
    )
    row(
        "optimizer steps/s: reference (batch 64) / ours (default batch)",
        lambda k: f"{t[k]['reference_steps_s']:.1f} / {t[k]['ours_default_batch_steps_s']:.1f}",
    )
    row("sgemm rate on the step's shapes (GFLOP/s)", lambda k: f"{t[k]['sgemm_gflops']:.0f}")
    row("our step's FLOP rate (GFLOP/s)", lambda k: f"{t[k]['achieved_gflops']:.1f}")
    row(
        "**fraction of sgemm rate**",
        lambda k: (
            f"**{b['sgemm_fraction'][k]:.0%}**"
            + span(t[k]["sgemm_fraction_range"], lambda x: f"{x:.0%}")
        ),
    )
    pair = lambda k, key: "; ".join(
        f"{fmt(r[key]['reference_s'])} / {fmt(r[key]['default_s'])}" for r in q[k]["runs"]
    )
    row(f"time to val loss 1.60 (s, seeds {seeds}): reference / default", lambda k: pair(k, "1.60"))
    row(
        f"time to the reference run's best (s, seeds {seeds}): reference / default",
        lambda k: pair(k, "reference_best"),
    )
    row(
        "the reference run's best val loss",
        lambda k: ", ".join(f"{r['reference_best_loss']:.4f}" for r in q[k]["runs"]),
    )
    row(
        "**time-to-quality ratio** (to the reference's best; median over seeds)",
        lambda k: (
            f"**{b['time_to_quality_ratio'][k]:.1f}x** ("
            + ", ".join(f"{r['reference_best']['ratio']:.2f}" for r in q[k]["runs"])
            + ")"
        ),
    )
    row(
        "main.py's loop, an epoch of each in turn (s): reference preset / default",
        lambda k: f"{w[k]['reference']['epoch_s']:.2f} / {w[k]['default']['epoch_s']:.2f}",
    )
    row(
        "epochs: reference preset / default",
        lambda k: f"{w[k]['reference']['epochs']} / {w[k]['default']['epochs']}",
    )
    row("peak resident memory, one training epoch (MB)", lambda k: f"{b['peak_memory_mb'][k]:.0f}")
    row("sampling, reference loop (chars/s, 1 sample)", lambda k: f"{s[k]['reference_batch1']:,}")
    row(
        "sampling, ours (chars/s, batch 1 / batch 25)",
        lambda k: f"{s[k]['ours_batch1']:,} / {s[k]['ours_batch25']:,}",
    )
    row(
        "**sampling ratio** (batch 1 / batch 25)",
        lambda k: f"**{s[k]['ratio_batch1']:.1f}x / {s[k]['ratio_batch25']:.0f}x**",
    )
    lines += [
        "",
        f"Whole run, both models: {w['default_s']:.0f} s of epochs for the default recipe against "
        f"{w['reference_s']:.0f} s for `--preset reference`, **{b['whole_run_ratio']:.2f}x** (median "
        "epoch time times the epoch count, summed over the models).",
    ]
    return "\n".join(lines)


BLOCKS = {
    "held-out": held_out,
    "headline": headline,
    "quickstart": quickstart,
    "curves": curves,
    "sample": sample,
    "recipe": recipe,
    "findings": findings,
    "committed-run": committed_run,
    "comparison": comparison,
    "context": context,
    "baseline": baseline,
    "reading": reading_table,
    "reading-search": reading_search,
    "reading-verdict": reading_verdict,
    "reading-headline": reading_headline,
    "rnn256": rnn256_trials,
    "adapted": adapted,
    "adapt-cost": adapt_cost,
    "sweep": sweep,
    "samples": samples,
    "temperature": temperature,
    "bench": bench,
}


def draw() -> None:
    """figures/seeds.png and figures/comparison.png from the seed runs and the n-gram."""
    g = ngram()
    label = f"modified KN {NGRAM[0]}-gram"
    curve = lambda k, r: [[h["val_loss"] for h in m["models"][k]["history"]] for m in runs(r)]
    curves = {(k, r): curve(k, r) for k in KINDS for r in ("reference", "default")}
    curves["rnn", "hidden 256"] = curve("rnn", rnn256())  # the LSTM's parameter budget
    draw_seeds(curves, (label, g["val_loss"]), ROOT / "figures" / "seeds.png")
    rows = {
        (k, r): dict(val=per_seed(r, k, "val"), unseen=per_seed(r, k, "test"))
        for k in KINDS
        for r in LABELS
    }
    names = {"reference": "study's settings", "default": "default recipe"}
    rows = {(k, names[r]): v for (k, r), v in rows.items()}
    draw_comparison(
        rows,
        dict(val=g["val_loss"], unseen=g["test_loss"], label=label),
        ROOT / "figures" / "comparison.png",
    )


def render(page: str) -> str:
    def block(match):
        return f"<!-- begin {match.group(1)} -->\n{BLOCKS[match.group(1)]()}\n<!-- end {match.group(1)} -->"

    return re.sub(r"<!-- begin (\S+) -->\n.*?<!-- end \1 -->", block, page, flags=re.S)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Render README.md and results/README.md from the results."
    )
    parser.add_argument("--check", action="store_true", help="fail if either page is out of date")
    args = parser.parse_args(argv)
    stale = []
    for name in PAGES:
        path = ROOT / name
        old = path.read_text()
        new = render(old)
        if args.check and new != old:
            stale.append(name)
        elif not args.check:
            path.write_text(new)
    if stale:
        sys.exit(f"{', '.join(stale)} out of date: run python results/render.py")
    if not args.check:
        draw()


if __name__ == "__main__":
    main()
