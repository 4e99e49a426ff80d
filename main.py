"""Train the vanilla RNN and the LSTM on character-level Shakespeare, side by side.

    python main.py                                        # prepare data if missing, train both, draw figures
    python main.py --data data/shakespeare_train.txt --unseen data/shakespeare_unseen.txt
    python main.py --eval-only                            # re-measure the checkpoints in --out-dir
    python main.py --resume                               # continue an interrupted run

Per model it keeps <out-dir>/<kind>.pt (best by validation loss) and <kind>.last.pt (latest state,
for --resume), and writes <out-dir>/metrics.json and the loss and accuracy figures.
"""
import argparse
import json
import math
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from dataset import (Chunks, CorpusError, Vocab, known_ids, load_corpus, read_text, sha256, shiftable,
                     split_ids)
from figures.draw import draw_figures
from model import (MODELS, CheckpointError, build_model, load_checkpoint, resolve_device, rng_state,
                   save_checkpoint, set_rng_state)

ROOT = Path(__file__).resolve().parent
DEFAULT_DATA = ROOT / "data" / "shakespeare_train.txt"
# The reference study's training settings, exactly (`--preset reference`), and our default recipe: the
# same model, data and protocol, trained with warm-up, cosine decay, clipping, shifted training chunks and
# a moving average of the weights (chosen by the sweep in results/sweep/, see README).
PRESETS = {"reference": dict(epochs=20, batch_size=64, lr=1e-3, beta2=0.999, dropout=0.0, grad_clip=0.0,
                             schedule="constant", warmup_steps=0, patience=0, shift=False, ema=0.0, init_gain=1.0)}
DEFAULTS = dict(epochs=None, batch_size=None, lr=None, beta2=None, dropout=None, grad_clip=1.0, schedule="cosine",
                warmup_steps=None, patience=0, shift=True, ema=0.99, init_gain=None)
# What the defaults leave as None each model sets for itself (a flag given sets it for all models), as
# chosen by the sweep: dropout between layers helped the LSTM and not the RNN. Both learn more per second
# with small batches: on the CPU a step's cost grows far more slowly than its batch (bench.py: at batch
# 16 the LSTM runs 80-95% as many characters per second as at 64), so the extra updates more than pay.
# The RNN's step is cheaper still per character at batch 32 (its products are too small to keep two
# cores busy at 16), and there, with the learning rate scaled up by about sqrt(2), 14 epochs beat 12 at
# batch 16 in about the same time. The LSTM learns faster, early and to the end, with Adam's beta2 at
# 0.99 rather than 0.999 (a shorter memory of gradient scale suits small batches; nanoGPT's char config
# does too), and far faster with its initial weights scaled up 3x (scale_init): 24 epochs then beat 30
# without it (the RNN scored worse scaled). Both validate and keep a moving average of their weights
# (make_ema). The RNN's epoch count is the fewest that scored as well as more (its best came at epoch 14
# of 16); the LSTM's 24 trade 0.004 against 30 for a fifth of its time, and 20 fall behind.
PER_MODEL = {"rnn": dict(epochs=14, batch_size=32, lr=4e-3, beta2=0.999, dropout=0.0, warmup_steps=200, init_gain=1.0),
             "lstm": dict(epochs=24, batch_size=16, lr=3e-3, beta2=0.99, dropout=0.1, warmup_steps=100, init_gain=3.0)}
# Settings a resumed run must share with the run it continues (epochs may grow), and the values of those
# added since, for checkpoints made before they were.
LEGACY_SETTINGS = dict(beta2=0.999, ema=0.0, init_gain=1.0)
RESUME_KEYS = ("seq_len", "batch_size", "lr", "beta2", "dropout", "grad_clip", "schedule", "warmup_steps", "shift",
               "ema", "init_gain", "context", "hidden_size", "num_layers", "seed", "split_seed")


class TrainingError(RuntimeError):
    """Training cannot go on (non-finite loss, refused resume); the message is one line."""


def number(kind, minimum=0, strict=True):
    """argparse type: a finite `kind` above `minimum` (or at least it, when not strict)."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (math.isfinite(value) and (value > minimum if strict else value >= minimum)):
            raise argparse.ArgumentTypeError(f"must be a {'positive' if strict else 'non-negative'} number, got {text}")
        return value
    return parse


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """--help shows a flag's default only where it has one: None means unset, or each model's own value,
    which the help text then states."""

    def _get_help_string(self, action):
        return action.help if action.default is None else super()._get_help_string(action)


def per_model(key: str) -> str:
    """Help text: each model's own default for `key`."""
    return "(default: " + ", ".join(f"{kind.upper()} {PER_MODEL[kind][key]:g}" for kind in PER_MODEL) + ")"


def model_settings(kind: str, settings: dict) -> dict:
    """The settings `kind` trains with: those left None take the model's own default from PER_MODEL."""
    return {k: PER_MODEL[kind][k] if v is None and k in PER_MODEL[kind] else v for k, v in settings.items()}


def get_args(argv=None):
    p = argparse.ArgumentParser(usage="%(prog)s [options]", formatter_class=HelpFormatter,
                                description="Train a vanilla RNN and an LSTM on characters.")
    p.add_argument("--data", default=str(DEFAULT_DATA), help="UTF-8 corpus (the default is prepared if missing)")
    p.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS), help="models to train, in order")
    p.add_argument("--preset", choices=list(PRESETS), help="start from a named set of training settings")
    p.add_argument("--epochs", type=number(int), help=f"passes over the training chunks {per_model('epochs')}")
    p.add_argument("--batch-size", type=number(int), help=f"chunks per optimizer step {per_model('batch_size')}")
    p.add_argument("--seq-len", type=number(int), default=30, help="characters per chunk")
    p.add_argument("--lr", type=number(float), help=f"Adam's learning rate {per_model('lr')}")
    p.add_argument("--beta2", type=number(float), help=f"Adam's second-moment decay {per_model('beta2')}")
    p.add_argument("--dropout", type=number(float, strict=False),
                   help=f"dropout between recurrent layers {per_model('dropout')}")
    p.add_argument("--grad-clip", type=number(float, strict=False), help="clip the gradient norm to this (0: off)")
    p.add_argument("--schedule", choices=["constant", "cosine"],
                   help="learning rate after warm-up: constant, or cosine decay to 0 over --epochs")
    p.add_argument("--warmup-steps", type=number(int, strict=False),
                   help=f"linear learning-rate warm-up steps {per_model('warmup_steps')}")
    p.add_argument("--ema", type=number(float, strict=False),
                   help="validate and keep an exponential moving average of the weights, updated each step with "
                        "this decay (0: the weights as trained)")
    p.add_argument("--init-gain", type=number(float),
                   help=f"multiply the recurrent layers' initial weights (PyTorch's uniform in +-1/sqrt(hidden)) "
                        f"by this {per_model('init_gain')}")
    p.add_argument("--patience", type=number(int, strict=False),
                   help="stop after this many epochs without a better val loss (0: off)")
    p.add_argument("--shift", action=argparse.BooleanOptionalAction,
                   help="train on chunks moved right by a random 0..seq_len-1 characters, where the next "
                        "chunk is a training chunk too (validation is unchanged)")
    p.add_argument("--context", type=number(int, strict=False), default=0,
                   help="feed each chunk's K preceding characters first, unscored")
    p.add_argument("--eval-context", type=number(int, strict=False), default=30,
                   help="also report val loss with this many preceding characters fed first")
    p.add_argument("--unseen", help="also score the best checkpoints on this text (chunks with unknown chars dropped)")
    p.add_argument("--unseen-start", type=number(int, strict=False), default=0,
                   help="score --unseen from this character on")
    p.add_argument("--hidden-size", type=number(int), default=128, help="embedding and hidden width")
    p.add_argument("--num-layers", type=number(int), default=4, help="stacked recurrent layers")
    p.add_argument("--seed", type=int, default=0, help="seed for weights, shuffling and dropout")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the 80/20 chunk split (shared by all models)")
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu or cuda[:N]")
    p.add_argument("--threads", type=number(int), help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--out-dir", default=str(ROOT / "checkpoints"), help="checkpoints and metrics.json go here")
    p.add_argument("--figures-dir", default=str(ROOT / "figures"), help="loss.png and accuracy.png go here")
    p.add_argument("--eval-only", action="store_true", help="evaluate the checkpoints in --out-dir; train nothing")
    p.add_argument("--resume", action="store_true", help="continue unfinished models from <kind>.last.pt")
    p.add_argument("--init-from", help="start from these weights (a .pt file or a folder of them), fresh optimizer")
    p.set_defaults(**DEFAULTS)
    args = p.parse_args(argv)
    if args.preset:  # preset values replace the defaults; flags given explicitly still win
        p.set_defaults(**PRESETS[args.preset])
        args = p.parse_args(argv)
    for flag in ("dropout", "ema"):
        if getattr(args, flag) is not None and getattr(args, flag) >= 1:
            p.error(f"argument --{flag}: must be below 1, got {getattr(args, flag)}")
    try:
        args.device = resolve_device(args.device)
    except (ValueError, RuntimeError) as e:
        p.error(str(e))
    return args


def count_correct(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Accuracy's numerator: how many next characters the argmax predicts, (B, T, V) vs (B, T)."""
    return (logits.argmax(-1) == targets).sum()


def run_epoch(model, chunks, ids, batch_size, device, train=None, desc="") -> tuple[float, float]:
    """One pass over chunk `ids` -> (loss, accuracy) per character, exact over every scored character.

    `train`, when given, holds optimizer, scheduler, grad_clip, ema (or None), generator and shiftable
    (bool per chunk id, or None): the pass then shuffles, optionally shifts, and takes an optimizer step
    per batch, after which it updates the moving average of the weights.
    """
    model.train(train is not None)
    if train:
        ids = ids[torch.randperm(len(ids), generator=train["generator"])]
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    correct = torch.zeros((), device=device, dtype=torch.long)
    steps = range(0, len(ids), batch_size)
    with torch.set_grad_enabled(train is not None):
        for step, start in enumerate(tqdm(steps, desc=desc, leave=False, disable=not sys.stderr.isatty())):
            batch_ids, shifts = ids[start:start + batch_size], None
            if train and train["shiftable"] is not None:
                shifts = torch.randint(chunks.seq_len, batch_ids.shape, generator=train["generator"])
                shifts *= train["shiftable"][batch_ids]
            x, y = (t.to(device) for t in chunks.batch(batch_ids, shifts))
            logits = model(x)[0][:, -y.shape[1]:]  # (B, L, V): the burn-in positions are not scored
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            if train:
                if not torch.isfinite(loss):  # one host sync a step: free on the CPU
                    raise TrainingError(f"{desc}: loss became {loss.item()} at step {step + 1}")
                train["optimizer"].zero_grad(set_to_none=True)
                loss.backward()
                if train["grad_clip"]:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), train["grad_clip"], foreach=True)
                train["optimizer"].step()
                train["scheduler"].step()
                if train["ema"]:
                    train["ema"].update_parameters(model)
            loss_sum += loss.detach().double() * y.numel()
            correct += count_correct(logits, y)
    n = len(ids) * chunks.seq_len
    return loss_sum.item() / n, correct.item() / n


def scale_init(model, gain: float) -> None:
    """Multiply the recurrent layers' initial weights by `gain` (biases, embedding and read-out keep
    PyTorch's). PyTorch draws them uniform in +-1/sqrt(hidden); at that scale each LSTM layer passes on
    a fraction of its input (its gates sit near 0.5), so a 4-layer stack starts with its upper layers
    and read-out all but silent and spends its first epochs waking them (PER_MODEL has the gains)."""
    if gain != 1.0:
        with torch.no_grad():
            for name, weight in model.rnn.named_parameters():
                if name.startswith("weight"):
                    weight.mul_(gain)


def make_optimizer(model, lr: float, beta2: float = 0.999) -> torch.optim.Adam:
    """Adam, fused: one kernel over all parameters. The default (a loop over tensors) took 10-20% of an
    LSTM step on the CPU; the update is the same Adam."""
    return torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, beta2), fused=True)


def make_ema(model, decay: float):
    """An exponential moving average of `model`'s weights for run_epoch to update after every step (None
    if decay is 0). Validated instead of the weights as trained, it scores as if the learning rate had
    already decayed: the steps' noise averages out, so a recipe reaches a given loss epochs sooner."""
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay)) if decay else None


def lr_lambda(warmup_steps: int, total_steps: int, schedule: str):
    """Multiplier of the base learning rate at a step: linear warm-up, then constant or cosine to 0."""
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        if schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return 0.5 * (1 + math.cos(math.pi * progress))
    return factor


def validated(model, train: dict):
    """The weights a run validates and keeps: the moving average when there is one, else the model's own."""
    return train["ema"].module if train["ema"] else model


def check_resume(last: dict, settings: dict, corpus: dict, vocab: str, path) -> None:
    """Refuse to continue a run on other data or with other settings, saying what differs."""
    before = LEGACY_SETTINGS | last["settings"]
    diffs = [f"{k} {before.get(k)} -> {settings[k]}" for k in RESUME_KEYS if before.get(k) != settings[k]]
    if last["corpus"]["sha256"] != corpus["sha256"]:
        diffs.insert(0, f"corpus sha256 {last['corpus']['sha256'][:12]}... -> {corpus['sha256'][:12]}...")
    elif last["vocab"] != vocab:
        diffs.insert(0, "vocabulary")
    if diffs:
        raise TrainingError(f"cannot resume from {path}: {'; '.join(diffs)} (use --init-from for weights only)")


def restore_training_state(last: dict, model, train: dict) -> None:
    """Continue where `last` stopped: weights, optimizer, schedule, moving average, every random stream."""
    model.load_state_dict(last["model"])
    train["optimizer"].load_state_dict(last["optimizer"])
    train["scheduler"].load_state_dict(last["scheduler"])
    set_rng_state(last["rng"], train["generator"])
    if train["ema"]:
        train["ema"].load_state_dict(last["ema"])


def setup_training(kind: str, settings: dict, vocab_size: int, split: dict, device) -> tuple:
    """A freshly seeded model of `kind` and run_epoch's `train` dict (optimizer, schedule, clipping, moving
    average, shuffling generator, shiftable chunks) for `settings` as model_settings resolved them."""
    torch.manual_seed(settings["seed"]), np.random.seed(settings["seed"]), random.seed(settings["seed"])
    generator = torch.Generator().manual_seed(settings["seed"])
    model = build_model(dict(kind=kind, vocab_size=vocab_size, hidden_size=settings["hidden_size"],
                             num_layers=settings["num_layers"], dropout=settings["dropout"])).to(device)
    scale_init(model, settings["init_gain"])
    optimizer = make_optimizer(model, settings["lr"], settings["beta2"])
    total_steps = settings["epochs"] * math.ceil(len(split["train"]) / settings["batch_size"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(settings["warmup_steps"], total_steps, settings["schedule"]))
    return model, dict(optimizer=optimizer, scheduler=scheduler, grad_clip=settings["grad_clip"],
                       ema=make_ema(model, settings["ema"]),
                       generator=generator, shiftable=split["shiftable"] if settings["shift"] else None)


def train_model(kind, args, settings, corpus, vocab, split, record: dict) -> None:
    """Train one model, keeping <kind>.pt (best) and <kind>.last.pt (latest); fills `record` as it goes."""
    out = Path(args.out_dir)
    best_path, last_path = out / f"{kind}.pt", out / f"{kind}.last.pt"
    settings = model_settings(kind, settings)
    epochs, batch_size, dropout = settings["epochs"], settings["batch_size"], settings["dropout"]
    model, train = setup_training(kind, settings, len(vocab), split, args.device)
    optimizer, scheduler, generator = train["optimizer"], train["scheduler"], train["generator"]
    history, best, epoch, wall, stopped = [], None, 0, 0.0, False
    if args.resume and last_path.exists():
        _, last = load_checkpoint(last_path)  # on the CPU; load_state_dict copies onto the device
        check_resume(last, settings, corpus, vocab.chars, last_path)
        restore_training_state(last, model, train)
        history, epoch, best, stopped = last["history"], last["epoch"], last["best"], last["stopped"]
        wall = history[-1]["wall_s"] if history else 0.0
        done = stopped or epoch >= epochs
        print(f"{kind}: {'finished' if done else 'resuming after'} epoch {epoch} ({last_path})")
    elif args.init_from:
        source = Path(args.init_from) / f"{kind}.pt" if Path(args.init_from).is_dir() else Path(args.init_from)
        init, _ = load_checkpoint(source)
        if init.config != model.config:
            raise TrainingError(f"--init-from {source}: model settings {init.config} differ from {model.config}")
        model.load_state_dict(init.state_dict())
    record.update(params=sum(p.numel() for p in model.parameters()), dropout=dropout, epochs=epochs,
                  batch_size=batch_size, lr=settings["lr"], warmup_steps=settings["warmup_steps"],
                  beta2=settings["beta2"], ema=settings["ema"], init_gain=settings["init_gain"],
                  history=history, best=best)
    extra = dict(settings=settings, corpus=corpus)
    while epoch < epochs and not stopped:
        epoch += 1
        t0 = time.perf_counter()
        train_loss, train_acc = run_epoch(model, split["chunks"], split["train"], batch_size, args.device,
                                          train, desc=f"{kind} epoch {epoch}")
        val_loss, val_acc = run_epoch(validated(model, train), split["chunks"], split["val"], 1024, args.device)
        wall += time.perf_counter() - t0
        row = dict(epoch=epoch, train_loss=train_loss, train_acc=train_acc, val_loss=val_loss,
                   val_acc=val_acc, wall_s=round(wall, 2))
        history.append(row)
        if best is None or val_loss < best["val_loss"]:
            best = record["best"] = row
            save_checkpoint(best_path, validated(model, train), vocab.chars, optimizer, epoch, history, val_loss,
                            **extra)
        stopped = bool(args.patience) and epoch - best["epoch"] >= args.patience
        save_checkpoint(last_path, model, vocab.chars, optimizer, epoch, history, best["val_loss"], best=best,
                        stopped=stopped, scheduler=scheduler.state_dict(), rng=rng_state(generator),
                        ema=train["ema"].state_dict() if train["ema"] else None, **extra)
        print(f"{kind} epoch {epoch:3d} | train loss {train_loss:.4f} acc {train_acc:.4f} | "
              f"val loss {val_loss:.4f} acc {val_acc:.4f} | {wall:6.1f}s" + (" *" if best is row else "")
              + (f" | no gain in {args.patience} epochs: stop" if stopped else ""))


def evaluate(model, vocab: Vocab, text: str, seq_len: int, split_seed: int, context: int, args) -> dict:
    """Exact loss and accuracy of one model: train and val chunks, val with --eval-context characters
    fed first, and, with --unseen, the unseen text's chunks that hold no unknown character."""
    data = vocab.encode(text, unknown=-1)
    pad = vocab.stoi.get("\n", 0)
    plain, fed = Chunks(data, seq_len, context, pad), Chunks(data, seq_len, args.eval_context, pad)
    train_ids, val_ids = split_ids(len(plain), split_seed)
    result = {}
    for name, chunks, ids in (("train", plain, train_ids), ("val", plain, val_ids), ("val_context", fed, val_ids)):
        result[f"{name}_loss"], result[f"{name}_acc"] = run_epoch(model, chunks, ids, 1024, args.device)
    result["eval_context"] = args.eval_context
    if args.unseen:
        unseen_text = read_text(args.unseen)[args.unseen_start:]
        unseen = Chunks(vocab.encode(unseen_text, unknown=-1), seq_len, context, pad)
        ids = known_ids(unseen)
        result["unseen_loss"], result["unseen_acc"] = run_epoch(model, unseen, ids, 1024, args.device)
        result.update(unseen=f"{args.unseen}[{args.unseen_start}:]", unseen_chunks=len(ids),
                      unseen_dropped=len(unseen) - len(ids))
    return result


def evaluate_checkpoints(args, text):
    """--eval-only: re-measure each checkpoint in --out-dir on the split of --data; train nothing."""
    for kind in args.models:
        model, ckpt = load_checkpoint(Path(args.out_dir) / f"{kind}.pt", args.device)
        settings = ckpt.get("settings", {})
        unknown = sorted(set(text) - set(ckpt["vocab"]))
        if unknown:
            raise CorpusError(f"corpus has characters outside {kind}.pt's vocabulary: {''.join(unknown)!r}")
        r = evaluate(model, Vocab(ckpt["vocab"]), text, settings.get("seq_len", args.seq_len),
                     settings.get("split_seed", args.split_seed), settings.get("context", args.context), args)
        print(f"{kind}: epoch {ckpt['epoch']} | train loss {r['train_loss']:.4f} acc {r['train_acc']:.4f} | "
              f"val loss {r['val_loss']:.4f} acc {r['val_acc']:.4f} | val with {args.eval_context} chars of "
              f"context {r['val_context_loss']:.4f} acc {r['val_context_acc']:.4f}"
              + (f" | unseen {r['unseen_loss']:.4f} acc {r['unseen_acc']:.4f}" if args.unseen else ""))


def cpu_name() -> str:
    """The processor's model name, for the record of where a run ran."""
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine(device) -> str:
    """The CPU, or the GPU when training runs on one."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()


def prepare_default_corpus(path: Path) -> None:
    if path == DEFAULT_DATA and not path.exists():
        print(f"{path} is missing: preparing it with data/prepare.py", flush=True)
        from data.prepare import prepare
        prepare("gutenberg", path)


def main(argv=None):
    started, command = time.perf_counter(), " ".join(["python main.py", *(sys.argv[1:] if argv is None else argv)])
    args = get_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        prepare_default_corpus(Path(args.data).resolve())
        if args.eval_only:
            return evaluate_checkpoints(args, load_corpus(args.data, args.seq_len)[0])
        text, vocab, data = load_corpus(args.data, args.seq_len)
        for folder in (args.out_dir, args.figures_dir):  # fail now, not after hours of training
            try:
                Path(folder).mkdir(parents=True, exist_ok=True)
                tempfile.TemporaryFile(dir=folder).close()
            except OSError as e:
                raise OSError(f"cannot write to {folder}: {e.strerror}") from None
        corpus = dict(path=str(args.data), sha256=sha256(text), chars=len(text), vocab_size=len(vocab))
        settings = {k: v for k, v in vars(args).items() if k not in ("device", "eval_only", "resume", "init_from")}
        print(f"device {args.device} | threads {torch.get_num_threads()} | corpus {corpus}")
        for kind in args.models:  # what each model trains with: flags over its recipe
            resolved = model_settings(kind, settings)
            print(f"{kind}: " + ", ".join(f"{k} {resolved[k]}" for k in RESUME_KEYS + ("epochs",)))
        chunks = Chunks(data, args.seq_len, args.context, pad=vocab.stoi.get("\n", 0))
        train_ids, val_ids = split_ids(len(chunks), args.split_seed)
        split = dict(chunks=chunks, train=train_ids, val=val_ids, shiftable=shiftable(train_ids, len(chunks)))
        metrics = dict(command=command, settings=settings, corpus=corpus, device=str(args.device),
                       machine=machine(args.device), threads=torch.get_num_threads(), torch=torch.__version__,
                       models={})
        status = 0
        for kind in args.models:
            record = metrics["models"][kind] = {}
            try:
                train_model(kind, args, settings, corpus, vocab, split, record)
                model, _ = load_checkpoint(Path(args.out_dir) / f"{kind}.pt", args.device)
                record["evaluation"] = evaluate(model, vocab, text, args.seq_len, args.split_seed, args.context, args)
            except KeyboardInterrupt:
                print(f"\ninterrupted: {kind} keeps its latest state; run with --resume to continue", file=sys.stderr)
                status = 130
                break
            except TrainingError as e:  # this model stops; the others still train
                print(f"main.py: error: {e}; the last good checkpoints are kept", file=sys.stderr)
                status = 1
        metrics["models"] = {k: m for k, m in metrics["models"].items() if m.get("history")}
        metrics["wall_s"] = round(time.perf_counter() - started, 1)
        if metrics["models"]:
            (Path(args.out_dir) / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
            draw_figures(metrics["models"], args.figures_dir)
        if status:
            sys.exit(status)
    except (CorpusError, CheckpointError, TrainingError, OSError) as e:
        sys.exit(f"main.py: error: {e}")


if __name__ == "__main__":
    main()
