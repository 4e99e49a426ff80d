"""Train the vanilla RNN and the LSTM on character-level Shakespeare, side by side.

    python main.py                        # the study's file if prepared, else the stand-in; both models
    python main.py --data data/shakespeare_train.txt --test data/shakespeare_test.txt
    python main.py --preset reference     # the study's training settings, exactly
    python main.py --eval-only            # re-measure the checkpoints in --out-dir
    python main.py --resume               # continue an interrupted run

Per model it keeps <out-dir>/<kind>.pt (the best by validation loss: weights, vocabulary, settings)
and <kind>.last.pt (the latest state, for --resume), and writes <out-dir>/metrics.json and figures.
The training machinery (one epoch, the step, the schedule, resume) is in trainer.py.
"""

import argparse
import json
import math
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch

from data.prepare import default_corpus, source_of
from dataset import (
    HELD_OUT,
    CorpusError,
    Split,
    Vocab,
    load_corpus,
    read_text,
    sha256,
)
from evaluation import add_statistics, evaluate
from figures.draw import draw_figures
from model import (
    MODELS,
    CheckpointError,
    device_flag,
    load_checkpoint,
    machine,
)
from sampling import fitting_prompts, sample
from trainer import (
    FEW_STEPS,
    RECIPES,
    STUDIED,
    STUDY,
    Settings,
    TrainingError,
    resolve,
    summary,
    train_model,
)

ROOT = Path(__file__).resolve().parent
SAMPLE_LENGTH = 200  # characters of the sample a run ends with
RUNS = (
    "runs"  # where a run writes by default (git-ignored): the shipped checkpoints/ stay as they are
)

# --flag: (help, type), one per field of Settings; the help gets each recipe's value appended
FLAGS = {
    "epochs": ("passes over the training chunks", "count"),
    "batch_size": ("chunks per step", "count"),
    "lr": ("Adam's peak learning rate", "positive"),
    "beta1": ("Adam's first-moment decay", "fraction"),
    "beta2": ("Adam's second-moment decay", "fraction"),
    "eps": ("Adam's epsilon", "positive"),
    "warmup_steps": ("linear learning-rate warm-up, in steps", "count0"),
    "schedule": ("after warm-up: constant, or cosine to 0", ["constant", "cosine"]),
    "grad_clip": ("clip the gradient norm to this, 0: off", "non-negative"),
    "dropout": ("dropout between recurrent layers", "fraction"),
    "shift": ("move training chunks right by 0..seq_len-1 where the next one trains too", bool),
    "ema": ("validate and keep a moving average of the weights, this decay per step", "fraction"),
    "init_gain": ("scale the recurrent initial weights by this", "positive"),
    "weight_decay": ("AdamW's decay of the weight matrices (not biases), 0: Adam", "non-negative"),
    "seq_len": ("characters per chunk", "count"),
    "context": ("feed each chunk's K preceding characters first, unscored", "count0"),
    "hidden_size": ("embedding and hidden width", "count"),
    "num_layers": ("stacked recurrent layers", "count"),
    "seed": ("seed for weights, shuffling and dropout", int),
    "split_seed": ("seed of the train/validation chunk split", int),
    "val_fraction": ("share of the chunks held out for validation", "fraction"),
    "train_fraction": ("train on this nested share of the training chunks", "share"),
    "patience": ("stop when validation has not improved for this many epochs, 0: never", "count0"),
    "forget_bias": ("LSTM: start the forget gates' bias at 1", bool),
    "val_tail": ("hold out the text's last share, not random chunks, 0: off", "fraction"),
    "max_steps": ("stop after this many optimizer steps, the schedule too, 0: off", "count0"),
}


def number(kind, minimum=0, strict=True, below=None):
    """argparse type: a finite `kind` above `minimum` (at least it, when not strict), below `below`."""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (math.isfinite(value) and (value > minimum if strict else value >= minimum)):
            sign = "positive" if strict else "non-negative"
            raise argparse.ArgumentTypeError(f"must be a {sign} number, got {text}")
        if below is not None and value >= below:
            raise argparse.ArgumentTypeError(f"must be below {below}, got {value}")
        return value

    return parse


TYPES = {
    "count": number(int),
    "count0": number(int, strict=False),
    "positive": number(float),
    "non-negative": number(float, strict=False),
    "fraction": number(float, strict=False, below=1),
    "share": number(float, below=1 + 1e-9),
}


def shown(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return value if isinstance(value, str) else f"{value:g}"


def add_setting(group, name: str) -> None:
    """--name for the Settings field `name`; absent from the namespace unless given."""
    what, kind = FLAGS[name]
    ours = {kind: shown(getattr(s, name)) for kind, s in RECIPES["default"].items()}
    ref = shown(getattr(STUDY, name))
    per_model = ", ".join(f"{kind.upper()} {value}" for kind, value in ours.items())
    default = ref if set(ours.values()) == {ref} else f"{per_model}; reference {ref}"
    kw = dict(help=f"{what} (default: {default})", default=argparse.SUPPRESS)
    if kind is bool:
        kw["action"] = argparse.BooleanOptionalAction
    elif isinstance(kind, list):
        kw["choices"] = kind
    else:
        kw["type"] = TYPES.get(kind, kind)
    group.add_argument(f"--{name.replace('_', '-')}", **kw)


DEFAULT_CORPUS = (
    "data/shakespeare_train.txt, the study's file, if prepared; else data/gutenberg_train.txt, "
    "the stand-in, prepared if missing"
)
EVAL_CONTEXT = "also score val after this many preceding characters of context (default: 30)"
DESCRIPTION = """Train a vanilla RNN and an LSTM on characters. The recipe (--preset) sets each
model's training; reference is the study's, exactly. Every flag below overrides it for every model."""


def get_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(usage="%(prog)s [options]", description=DESCRIPTION)
    p.add_argument("--data", help=f"UTF-8 corpus (default: {DEFAULT_CORPUS})")
    for name, what in HELD_OUT.items():
        p.add_argument(f"--{name}", help=f"also score the best checkpoints on this text: {what}")
    p.add_argument(
        "--models",
        nargs="+",
        choices=[*MODELS],
        default=STUDIED,
        help="in order (default: rnn lstm)",
    )
    p.add_argument(
        "--preset", choices=[*RECIPES], default="default", help="the recipe (default: default)"
    )
    r = p.add_argument_group("settings (a flag overrides the recipe for every model)")
    for f in fields(Settings):
        add_setting(r, f.name)
    p.add_argument("--eval-context", type=TYPES["count0"], default=30, help=EVAL_CONTEXT)
    p.add_argument(
        "--device",
        type=device_flag,
        default="auto",
        help="auto (CUDA, MPS, CPU), cpu, cuda[:N] or mps (default: auto)",
    )
    p.add_argument("--threads", type=TYPES["count"], help="CPU threads (default: torch's)")
    p.add_argument("--max-seconds", type=TYPES["non-negative"], default=0.0,
                   help="stop a model's training once its training and validations took this "
                   "many seconds, its cosine ending with the time if sooner than with the steps: "
                   "a cap on --max-steps for a slow machine (default: 0, none)")  # fmt: skip
    p.add_argument("--out-dir", help=f"checkpoints and metrics (default: {RUNS}/<corpus name>/)")
    p.add_argument("--figures-dir", help="loss and accuracy figures (default: --out-dir)")
    p.add_argument("--eval-only", action="store_true", help="evaluate the checkpoints in --out-dir")
    p.add_argument("--rescore", metavar="METRICS", help="--eval-only: add to this metrics.json")
    p.add_argument("--resume", action="store_true", help="continue unfinished models from .last.pt")
    p.add_argument("--init-from", help="start from these weights (a .pt file or a folder of them)")
    args = p.parse_args(argv)
    if getattr(args, "val_tail", 0) and hasattr(args, "val_fraction"):
        p.error("--val-tail and --val-fraction each choose the validation text: give one")
    return args


def given(args: argparse.Namespace) -> dict:
    """The settings flags given on the command line (the others are absent from `args`)."""
    return {f.name: getattr(args, f.name) for f in fields(Settings) if hasattr(args, f.name)}


def report(kind: str, epoch: int, r: dict, held_out) -> str:
    """The line --eval-only prints for one checkpoint."""
    fmt = lambda key: f"{r[f'{key}_loss']:.4f} acc {r[f'{key}_acc']:.4f}"
    parts = [f"train loss {fmt('train')}", f"val loss {fmt('val')}"]
    parts += [f"val with {r['eval_context']} chars of context {fmt('val_context')}"]
    return f"{kind}: epoch {epoch} | " + " | ".join(parts + [f"{n} {fmt(n)}" for n in held_out])


def evaluate_checkpoints(
    kinds, out_dir: Path, text, eval_context, held_out, device, rescore, command
):
    """--eval-only: re-measure each checkpoint in `out_dir` on the split of `text`, and with
    `rescore` add what it measured to the evaluation in that run's metrics."""
    metrics = json.loads(rescore.read_text()) if rescore else None
    for kind in kinds:
        model, ckpt = load_checkpoint(out_dir / f"{kind}.pt", device)
        unknown = "".join(sorted(set(text) - set(ckpt["vocab"])))
        if unknown:
            raise CorpusError(f"corpus has characters outside {kind}.pt's vocabulary: {unknown!r}")
        s, vocab = Settings.from_dict(ckpt["settings"]), Vocab(ckpt["vocab"])
        split = s.split(vocab.encode(text), vocab.pad)
        r = evaluate(model, vocab, split, eval_context, held_out, device)
        print(report(kind, ckpt["epoch"], r, held_out))
        if metrics is not None:
            if ckpt["best_val_loss"] != metrics["models"][kind]["best"]["val_loss"]:
                raise CheckpointError(f"{kind}.pt is not the best checkpoint of {rescore}'s run")
            metrics["models"][kind]["evaluation"] |= r
    if metrics is not None:
        metrics["rescored"] = metrics.get("rescored", []) + [command]
        rescore.write_text(json.dumps(metrics, indent=1) + "\n")


def check_writable(*folders) -> None:
    """Fail now, not after hours of training."""
    for folder in folders:
        try:
            Path(folder).mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=folder).close()
        except OSError as e:
            raise OSError(f"cannot write to {folder}: {e.strerror}") from None


@dataclass
class Corpus:
    """The text a run trains on, as the models see it, and the texts it also scores."""

    text: str
    vocab: Vocab
    split: Split  # the one split, shared by the models
    record: dict  # path, source, SHA-256, length and vocabulary size: stored with every result
    held_out: dict  # name -> (path, text)


def train_all(
    kinds, settings, corpus: Corpus, out_dir: Path, device, eval_context, resume, init, seconds=0.0
):
    """Train and evaluate each of `kinds` in turn -> (their records, exit status). A model whose
    training stops (non-finite loss, Ctrl-C) keeps the record of its last complete epoch."""
    records, status = {}, 0
    for kind in kinds:
        s = settings[kind]
        try:
            record = train_model(kind, s, corpus.split, corpus.vocab, corpus.record, out_dir,
                                 device, resume, init, seconds)  # fmt: skip
        except (KeyboardInterrupt, TrainingError) as e:
            last_path = out_dir / f"{kind}.last.pt"
            if last_path.exists():
                model, last = load_checkpoint(last_path)
                records[kind] = summary(last["settings"], last["history"], last["best"], model)
            if isinstance(e, KeyboardInterrupt):
                why = f"{kind} keeps its latest state; run with --resume to continue"
                print(f"\ninterrupted: {why}", file=sys.stderr)
                return records, 130
            print(f"main.py: error: {e}; the last good checkpoints are kept", file=sys.stderr)
            status = 1
            continue  # the other models still train
        trained_on = corpus.text[: corpus.split.val_start]  # --val-tail: not the held-out tail
        add_statistics(out_dir / f"{kind}.pt", trained_on, device)
        model, _ = load_checkpoint(out_dir / f"{kind}.pt", device)
        record["evaluation"] = evaluate(
            model, corpus.vocab, corpus.split, eval_context, corpus.held_out, device
        )
        records[kind] = record
    return records, status


def load(path: Path, settings: dict, held_out: dict) -> Corpus:
    """Read, check and split the corpus for `settings` (one Settings per model)."""
    s = next(iter(settings.values()))  # a flag sets seq_len and the split for every model alike
    text, vocab, data = load_corpus(path, s.seq_len)
    split = s.split(data, vocab.pad)
    digest = sha256(text)
    record = dict(path=shown_path(path), source=source_of(digest), sha256=digest, chars=len(text))
    record["vocab_size"] = len(vocab)
    return Corpus(text, vocab, split, record, held_out)


def shown_path(path) -> str:
    """A path as results record it: relative to the repository when inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def steps_warning(kind: str, s: Settings, num_train: int) -> str | None:
    """One line when a run has too few optimizer steps to learn (a small text, few epochs)."""
    steps = s.total_steps(num_train)
    if steps < FEW_STEPS:
        return (
            f"warning: {kind} takes only {steps} optimizer steps ({s.epochs} epochs of "
            f"{math.ceil(num_train / s.batch_size)}); under ~{FEW_STEPS} a model learns little: "
            "give more --epochs (or more text)"
        )
    return None


def train(args, flags: dict, path: Path, held_out: dict, command: str, started: float) -> int:
    """Train every model of args.models, then write metrics.json and the figures; exit status."""
    out_dir = Path(args.out_dir or ROOT / RUNS / path.stem)
    figures_dir = Path(args.figures_dir or out_dir)
    check_writable(out_dir, figures_dir)
    settings = {kind: resolve(kind, args.preset, flags) for kind in args.models}
    corpus = load(path, settings, held_out)
    threads = torch.get_num_threads()
    c = corpus.record
    print(f"device {args.device} | threads {threads} | corpus {c['path']} ({c['source']}): "
          f"{c['chars']:,} characters, {c['vocab_size']} distinct, sha256 {c['sha256'][:12]}...")  # fmt: skip
    for kind, s in settings.items():
        if s.forget_bias and kind != "lstm":
            raise TrainingError("--forget-bias is for the LSTM only (train it with --models lstm)")
        print(f"{kind}: " + ", ".join(f"{k} {v}" for k, v in asdict(s).items()))
        if warning := steps_warning(kind, s, len(corpus.split.train)):
            print(warning, file=sys.stderr)
    print("epoch lines: * marks a new best validation loss, whose weights <model>.pt keeps")
    init = Path(args.init_from) if args.init_from else None
    records, status = train_all(args.models, settings, corpus, out_dir, args.device,
                                args.eval_context, args.resume, init, args.max_seconds)  # fmt: skip
    if records:
        metrics = dict(command=command, flags=flags, preset=args.preset, corpus=corpus.record)
        metrics |= dict(device=str(args.device), machine=machine(args.device), threads=threads)
        wall_s = round(time.perf_counter() - started, 1)
        metrics |= dict(torch=torch.__version__, models=records, wall_s=wall_s)
        (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
        draw_figures(records, figures_dir)
        print(ending(records, out_dir, figures_dir, args.device))
    return status


def ending(records: dict, out_dir: Path, figures_dir: Path, device) -> str:
    """What a run ends with: each model's best validation loss, where its files are, and a sample
    from the better model."""
    bests = {k: r["best"]["val_loss"] for k, r in records.items() if r["best"]}
    lines = ["best validation loss: " + ", ".join(
        f"{k.upper()} {v:.4f} nats/char ({v / math.log(2):.3f} bits)" for k, v in bests.items()
    )]  # fmt: skip
    lines.append(f"checkpoints and metrics.json in {shown_path(out_dir)}/, figures in "
                 f"{shown_path(figures_dir)}/")  # fmt: skip
    if bests:
        kind = min(bests, key=bests.get)
        path = out_dir / f"{kind}.pt"
        model, ckpt = load_checkpoint(path, device)
        prompt = fitting_prompts(ckpt)[0]
        text = sample(model, ckpt["vocab"], [prompt], [0.7], SAMPLE_LENGTH, [0])[0]
        lines += [f"a sample from the {kind.upper()} (python generate.py --checkpoint "
                  f"{shown_path(path)}), T = 0.7:", text]  # fmt: skip
    return "\n".join(lines)


def main(argv=None):
    started = time.perf_counter()
    command = " ".join(["python main.py", *(sys.argv[1:] if argv is None else argv)])
    args = get_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    flags = given(args)
    try:
        path = default_corpus(args.data)
        held = {
            n: (getattr(args, n), read_text(getattr(args, n))) for n in HELD_OUT if getattr(args, n)
        }
        if args.eval_only:
            rescore = args.rescore and Path(args.rescore)
            evaluate_checkpoints(
                args.models,
                Path(args.out_dir),
                read_text(path),
                args.eval_context,
                held,
                args.device,
                rescore,
                command,
            )
            return
        status = train(args, flags, path, held, command, started)
    except (CorpusError, CheckpointError, TrainingError, OSError) as e:
        sys.exit(f"main.py: error: {e}")
    if status:
        sys.exit(status)


if __name__ == "__main__":
    main()
