"""The headline: both models under both recipes over seeds (results/runs/), the committed run, the
quickstart run, and the two figures drawn from them."""

from dataclasses import asdict

from figures.draw import draw_comparison, draw_seeds
from results.pages.common import (
    KINDS,
    corpus_name,
    load,
    mean,
    mean_std,
    path,
    per_seed,
    prose,
    runs,
    shown,
    table,
)
from results.pages.ngram import NGRAM, ngram
from trainer import RECIPES, STUDY

# The reference study's reported numbers (its README), for comparison only.
REFERENCE = {
    "rnn": dict(train_loss=1.4140, val_loss=1.5644, train_acc=0.5691, val_acc=0.5355),
    "lstm": dict(train_loss=1.5952, val_loss=1.6645, train_acc=0.5282, val_acc=0.5138),
}
LABELS = {
    "reference": "the study's settings (`--preset reference`)",
    "default": "our default recipe",
}
COMMITTED = "results/runs/default-seed0.json"  # the run behind checkpoints/ and figures/


def headline() -> str:
    rows = []
    for kind in KINDS:
        for recipe, label in LABELS.items():
            rows.append([
                f"**{kind.upper()}**" if recipe == "default" else kind.upper(), label,
                len(per_seed(recipe, kind, "val")), mean_std(per_seed(recipe, kind, "val")),
                mean_std(per_seed(recipe, kind, "val_acc"), ".2f", 100) + "%",
                mean_std(per_seed(recipe, kind, "test")),
                mean_std(per_seed(recipe, kind, "test_acc"), ".2f", 100) + "%",
            ])  # fmt: skip
        ref = REFERENCE[kind]
        rows.append([kind.upper(), "as the study reported it", 1, f"{ref['val_loss']:.4f}",
                     f"{ref['val_acc']:.2%}", "", ""])  # fmt: skip
    g = ngram()
    rows.append([f"{NGRAM[0]}-gram", "modified Kneser-Ney counts, same chunks and context limit",
                 "-", f"{g['val_loss']:.4f}", "", f"{g['test_loss']:.4f}", ""])  # fmt: skip
    header = ["model", "trained with", "seeds", "validation loss", "val acc", "test-plays loss",
              "test acc"]  # fmt: skip
    seed0 = ", ".join(
        f"{k.upper()} {r['best']['val_loss']:.4f}" for k, r in load(COMMITTED)["models"].items()
    )
    caption = prose(
        """Mean ± std over seeds: {val:,} validation chunks of the study's file, {test:,} chunks of
        the test plays (*The Winter's Tale*, *Measure for Measure*, *The Taming of the Shrew*, *The
        Tempest*). `checkpoints/` holds seed 0 of the default recipe: {seed0}.""",
        val=g["val_chunks"], test=g["test_chunks"], seed0=seed0,
    )  # fmt: skip
    return table(header, rows) + "\n\n" + caption


def quickstart() -> str:
    m = load("results/runs/quickstart-seed0.json")
    c = m["corpus"]
    rows = [
        [kind.upper(), r["settings"]["epochs"], f"{r['best']['val_loss']:.4f}",
         f"{r['best']['val_acc']:.2%}", f"{r['history'][-1]['wall_s'] / 60:.1f} min"]
        for kind, r in m["models"].items()
    ]  # fmt: skip
    caption = prose(
        """`{command}` here (seed 0; {machine}, {threads} threads, torch {torch}) on {name}:
        {chars:,} characters, {vocab} distinct, {minutes:.1f} min.""",
        command=m["command"], machine=m["machine"], threads=m["threads"], torch=m["torch"],
        name=corpus_name(c["sha256"]), chars=c["chars"], vocab=c["vocab_size"],
        minutes=m["wall_s"] / 60,
    )  # fmt: skip
    header = ["model", "epochs", "best validation loss", "val acc", "training time"]
    return caption + "\n\n" + table(header, rows)


def curves() -> str:
    m = load(COMMITTED)
    best = ", ".join(
        f"{k.upper()} {r['best']['val_loss']:.4f} at epoch {r['best']['epoch']}"
        for k, r in m["models"].items()
    )
    return (
        '<img src="../figures/loss.png" width="49%" alt="loss per epoch"> '
        '<img src="../figures/accuracy.png" width="49%" alt="accuracy per epoch">\n\n'
        + prose(
            """The curves of the run behind `checkpoints/` (seed 0 of the default recipe on {name},
            `bash results/experiments.sh default`); best validation loss {best}, starred.""",
            name=corpus_name(m["corpus"]["sha256"]),
            best=best,
        )  # fmt: skip
    )


def sample() -> str:
    r = next(r for r in load("results/samples.json") if r["temperature"] == 0.7)
    return (
        f"`{r['command']}`, the first of its samples (T = {r['temperature']:g}, "
        f"`{r['checkpoint']}`):\n\n```text\n{r['text'].rstrip()}\n```"
    )


RECIPE_COLUMNS = {
    "epochs": "epochs", "batch_size": "batch", "lr": "lr", "beta2": "Adam beta2",
    "warmup_steps": "warm-up steps", "schedule": "schedule", "grad_clip": "clip",
    "dropout": "dropout", "shift": "shifted chunks", "ema": "weight average",
    "weight_decay": "weight decay", "init_gain": "initial gain",
}  # fmt: skip


def recipe() -> str:
    def fmt(v):
        if isinstance(v, bool):
            return "yes" if v else "no"
        return f"{v:g}" if isinstance(v, float) else v

    rows = [
        ["default", kind.upper(), *(fmt(asdict(s)[k]) for k in RECIPE_COLUMNS)]
        for kind, s in RECIPES["default"].items()
        if kind in KINDS  # the GRU's recipe is shown with the scale study that chose it
    ]
    rows.append(["`--preset reference`", "both", *(fmt(getattr(STUDY, k)) for k in RECIPE_COLUMNS)])
    return table(["recipe", "model", *RECIPE_COLUMNS.values()], rows)


def committed_run() -> str:
    m = load(COMMITTED)
    rows = []
    for kind, r in m["models"].items():
        best, ev, ref = r["best"], r["evaluation"], REFERENCE[kind]
        rows += [
            [f"{kind.upper()} (ours, best epoch)", best["epoch"], f"{best['train_loss']:.4f}",
             f"{best['train_acc']:.2%}", f"**{best['val_loss']:.4f}**", f"{best['val_acc']:.2%}",
             f"{ev['val_context_loss']:.4f}"],
            [f"{kind.upper()} reference study", STUDY.epochs, f"{ref['train_loss']:.4f}",
             f"{ref['train_acc']:.2%}", f"{ref['val_loss']:.4f}", f"{ref['val_acc']:.2%}", ""],
        ]  # fmt: skip
    walls = ", ".join(
        f"{k.upper()} {r['history'][-1]['wall_s']:.0f} s" for k, r in m["models"].items()
    )
    header = ["model", "epoch", "train loss", "train acc", "val loss", "val acc",
              "val loss, 30 chars of context"]  # fmt: skip
    return table(header, rows) + "\n\n" + prose(
        """`{command}` on the study's file, with the unseen plays: {minutes:.1f} min in all
        (training and validation: {walls}) on {device} ({machine}), {threads} threads, torch
        {torch}. Corpus sha256 `{sha}...`.""",
        command=shown(m["command"]), minutes=m["wall_s"] / 60, walls=walls, device=m["device"],
        machine=m["machine"], threads=m["threads"], torch=m["torch"],
        sha=m["corpus"]["sha256"][:16],
    )  # fmt: skip


def comparison() -> str:
    rows = []
    for recipe in LABELS:
        for kind in KINDS:
            seeds = per_seed(recipe, kind, "val")
            pick = lambda key, fmt=".4f", scale=1, r=recipe, k=kind: mean_std(
                per_seed(r, k, key), fmt, scale
            )
            rows.append([
                recipe, kind.upper(), len(seeds), mean_std(seeds), pick("val_acc", ".2f", 100) + "%",
                pick("epoch", ".1f"), pick("context"), pick("dev"), pick("test"),
                pick("test_acc", ".2f", 100) + "%", pick("unseen"), pick("wall", ".0f"),
            ])  # fmt: skip
    header = ["recipe", "model", "seeds", "best val loss", "val acc", "epoch of best",
              "val loss, 30 chars of context", "dev plays loss", "test plays loss", "test acc",
              "all unseen plays", "wall time (s)"]  # fmt: skip
    per = lambda recipe, kind, key: ", ".join(f"{v:.4f}" for v in per_seed(recipe, kind, key))
    each = lambda key: "; ".join(
        f"{recipe} {kind.upper()} {per(recipe, kind, key)}" for recipe in LABELS for kind in KINDS
    )
    flags = sorted({extra_flags(m["command"]) for r in LABELS for m in runs(r)})
    machines = "; ".join(
        f"{recipe} seed {next(iter(m['models'].values()))['settings']['seed']} {m['machine']} "
        f"({m['threads']} threads)"
        for recipe in LABELS
        for m in runs(recipe)
    )
    return table(header, rows) + "\n\n" + prose(
        """Per seed (0, 1, 2), best validation loss: {val}. Per seed, test plays: {test}. Where each
        ran: {machines}.""",
        val=each("val"), test=each("test"), machines=machines,
    ) + "\n\n" + prose(
        """Each run is `python main.py --data data/shakespeare_train.txt --unseen
        data/shakespeare_unseen.txt --dev data/shakespeare_dev.txt --test data/shakespeare_test.txt
        --seed S` (S = 0, 1, 2) with {flags}, run by `bash results/experiments.sh default
        reference`.""",
        flags=", ".join(f"`{f}`" if "--" in f else "no other flag" for f in flags),
    )  # fmt: skip


def extra_flags(command: str) -> str:
    """The flags of a main.py command other than its texts, seed and output folders."""
    drop = {"--data", "--unseen", "--dev", "--test", "--seed", "--out-dir", "--figures-dir"}
    words = command.removeprefix("python main.py").split()
    kept = [
        w for i, w in enumerate(words) if w not in drop and (i == 0 or words[i - 1] not in drop)
    ]
    return " ".join(kept)


def context() -> str:
    g = ngram(60)
    return prose(
        """Fed their {context} preceding characters first (unscored), the default checkpoints score
        {k0_rnn:.4f} (RNN) and {k0_lstm:.4f} (LSTM) on the validation chunks, against {val_rnn:.4f}
        and {val_lstm:.4f} from a zero state (means of {seeds} seeds); the 6-gram given 60 preceding
        characters scores {ngram_val:.4f} on validation. Carrying the state through the whole text,
        and adapting while reading it, are measured on the unseen plays below ([Reading in
        order](#reading-in-order)).""",
        context=load(COMMITTED)["models"]["lstm"]["evaluation"]["eval_context"],
        seeds=len(per_seed("default", "rnn", "context")),
        k0_rnn=mean(per_seed("default", "rnn", "context")),
        k0_lstm=mean(per_seed("default", "lstm", "context")),
        val_rnn=mean(per_seed("default", "rnn", "val")),
        val_lstm=mean(per_seed("default", "lstm", "val")),
        ngram_val=g["val_loss"],
    )


def held_out() -> str:
    """The committed checkpoints, the n-gram and their mixtures on validation, dev and test plays."""
    m, g, mix = load(COMMITTED), ngram(), load("results/mixture.json")
    rows = [
        [kind.upper(), *(f"{m['models'][kind]['evaluation'][f'{t}_loss']:.4f}" for t in TEXTS)]
        for kind in KINDS
    ]
    rows.append([f"{NGRAM[0]}-gram, modified KN", *(f"{g[f'{t}_loss']:.4f}" for t in TEXTS)])
    rows += [
        [f"{kind.upper()} + {r['order']}-gram, weight {r['weight']:.2f} on the network",
         f"{r['val_loss']:.4f}", f"{r['dev_loss']:.4f}", f"**{r['test_loss']:.4f}**"]
        for kind, r in mix["mixture"].items()
    ]  # fmt: skip
    header = ["model (seed 0, default recipe)", "val loss", "dev plays loss", "test plays loss"]
    return table(header, rows) + "\n\n" + prose(
        """`{scored}` scored the checkpoints; `{mixed}` fitted the n-gram and chose each weight on
        the dev plays ({dev:,} chunks); {test:,} test-play chunks.""",
        scored=shown((m.get("rescored") or [m["command"]])[-1]), mixed=shown(mix["command"]),
        dev=mix["dev_chunks"], test=mix["test_chunks"],
    )  # fmt: skip


TEXTS = ("val", "dev", "test")
BLOCKS = {
    "headline": headline,
    "quickstart": quickstart,
    "curves": curves,
    "sample": sample,
    "recipe": recipe,
    "committed-run": committed_run,
    "comparison": comparison,
    "context": context,
    "held-out": held_out,
}


def draw(rnn256: str) -> None:
    """figures/seeds.png and figures/comparison.png from the seed runs and the n-gram."""
    g = ngram()
    label = f"modified KN {NGRAM[0]}-gram"
    curve = lambda k, r: [[h["val_loss"] for h in m["models"][k]["history"]] for m in runs(r)]
    curves = {(k, r): curve(k, r) for k in KINDS for r in LABELS}
    curves["rnn", "hidden 256"] = curve("rnn", rnn256)  # the LSTM's parameter budget
    draw_seeds(curves, (label, g["val_loss"]), path("figures/seeds.png"))
    names = {"reference": "study's settings", "default": "default recipe"}
    rows = {
        (k, names[r]): dict(val=per_seed(r, k, "val"), unseen=per_seed(r, k, "test"))
        for k in KINDS
        for r in LABELS
    }
    ref = dict(val=g["val_loss"], unseen=g["test_loss"], label=label)
    draw_comparison(rows, ref, path("figures/comparison.png"))
