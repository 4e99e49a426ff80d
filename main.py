"""Train the vanilla RNN and the LSTM on character-level Shakespeare, side by side.

    python main.py                        # prepare the default corpus if missing, train both
    python main.py --data data/shakespeare_train.txt --unseen data/shakespeare_unseen.txt
    python main.py --preset reference     # the study's training settings, exactly
    python main.py --eval-only            # re-measure the checkpoints in --out-dir
    python main.py --resume               # continue an interrupted run

Per model it keeps <out-dir>/<kind>.pt (the best by validation loss: weights, vocabulary, metrics)
and <kind>.last.pt (the latest state, for --resume), and writes <out-dir>/metrics.json and figures.
"""
import argparse
import json
import math
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from dataset import (HELD_OUT, Chunks, CorpusError, Split, Vocab, known_ids, load_corpus, make_split,
                     read_text, sha256)
from figures.draw import draw_figures
from model import (MODELS, CheckpointError, build_model, load_checkpoint, machine, resolve_device,
                   save_checkpoint)

ROOT = Path(__file__).resolve().parent
DEFAULT_DATA = ROOT / "data" / "shakespeare_train.txt"
EVAL_BATCH = 1024  # chunks per evaluation batch; evaluation is exact whatever it is

# The training recipes: the study's, exactly, and our default, per model (the sweep that chose it
# is in results/README.md). A flag given on the command line overrides the recipe, for every model.
STUDY = dict(epochs=20, batch_size=64, lr=1e-3, beta2=0.999, warmup_steps=0, schedule="constant",
             grad_clip=0.0, dropout=0.0, shift=False, ema=0.0, init_gain=1.0, weight_decay=0.0)
RECIPES = {
    "reference": {"rnn": STUDY, "lstm": STUDY},
    "default": {
        "rnn": dict(epochs=14, batch_size=32, lr=4e-3, beta2=0.999, warmup_steps=200,
                    schedule="cosine", grad_clip=1.0, dropout=0.0, shift=True, ema=0.99,
                    init_gain=1.0, weight_decay=0.1),
        "lstm": dict(epochs=24, batch_size=16, lr=3e-3, beta2=0.99, warmup_steps=100,
                     schedule="cosine", grad_clip=1.0, dropout=0.1, shift=True, ema=0.99,
                     init_gain=3.0, weight_decay=0.1)},
}
TRAINING = tuple(STUDY)  # what a recipe sets
MODEL = ("seq_len", "context", "hidden_size", "num_layers", "seed", "split_seed")  # shared by models
RESUME_KEYS = TRAINING[1:] + MODEL  # what a resumed run keeps from the one it continues (epochs grow)


class TrainingError(RuntimeError):
    """Training cannot go on (non-finite loss, refused resume); the message is one line."""


def resolve(kind: str, recipe: str, flags: dict) -> dict:
    """The settings `kind` trains with: the flags given (not None) over its recipe."""
    return RECIPES[recipe][kind] | {k: v for k, v in flags.items() if v is not None}


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


def recipe_default(key: str) -> str:
    """Help text: each model's default for `key`, and the study's."""
    def show(value):
        if isinstance(value, bool):
            return "on" if value else "off"
        return value if isinstance(value, str) else f"{value:g}"
    ours = RECIPES["default"]
    rnn, lstm = show(ours["rnn"][key]), show(ours["lstm"][key])
    return f"(default: RNN {rnn}, LSTM {lstm}; reference {show(STUDY[key])})"


def get_args(argv=None):
    p = argparse.ArgumentParser(usage="%(prog)s [options]",
                                description="Train a vanilla RNN and an LSTM on characters.")
    p.add_argument("--data", default=str(DEFAULT_DATA),
                   help="UTF-8 corpus (the default is prepared if missing)")
    for name, what in HELD_OUT.items():
        p.add_argument(f"--{name}", help=f"also score the best checkpoints on this text: {what} "
                                         "(chunks with characters outside the vocabulary dropped)")
    p.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS),
                   help="models to train, in order")
    p.add_argument("--preset", choices=list(RECIPES), default="default",
                   help="the recipe; reference is the study's training, exactly (default: default)")
    r = p.add_argument_group("training (a flag overrides the recipe for every model)")
    r.add_argument("--epochs", type=number(int),
                   help=f"passes over the training chunks {recipe_default('epochs')}")
    r.add_argument("--batch-size", type=number(int),
                   help=f"chunks per step {recipe_default('batch_size')}")
    r.add_argument("--lr", type=number(float), help=f"Adam's learning rate {recipe_default('lr')}")
    r.add_argument("--beta2", type=number(float),
                   help=f"Adam's second-moment decay {recipe_default('beta2')}")
    r.add_argument("--warmup-steps", type=number(int, strict=False),
                   help=f"linear learning-rate warm-up {recipe_default('warmup_steps')}")
    r.add_argument("--schedule", choices=["constant", "cosine"],
                   help=f"after warm-up: constant, or cosine to 0 {recipe_default('schedule')}")
    r.add_argument("--grad-clip", type=number(float, strict=False),
                   help=f"clip the gradient norm to this, 0: off {recipe_default('grad_clip')}")
    r.add_argument("--dropout", type=number(float, strict=False, below=1),
                   help=f"dropout between recurrent layers {recipe_default('dropout')}")
    r.add_argument("--shift", action=argparse.BooleanOptionalAction,
                   help="train on chunks moved right by 0..seq_len-1 characters where the next "
                        f"chunk is a training chunk too {recipe_default('shift')}")
    r.add_argument("--ema", type=number(float, strict=False, below=1),
                   help="validate and keep a moving average of the weights, this decay per step; "
                        f"0: the weights as trained {recipe_default('ema')}")
    r.add_argument("--weight-decay", type=number(float, strict=False),
                   help=f"AdamW's decay of the weight matrices {recipe_default('weight_decay')}")
    r.add_argument("--init-gain", type=number(float),
                   help=f"scale the recurrent initial weights by this {recipe_default('init_gain')}")
    p.add_argument("--seq-len", type=number(int), default=30,
                   help="characters per chunk (default: 30)")
    p.add_argument("--context", type=number(int, strict=False), default=0,
                   help="feed each chunk's K preceding characters first, unscored (default: 0)")
    p.add_argument("--eval-context", type=number(int, strict=False), default=30,
                   help="also score val with this many preceding characters fed first (default: 30)")
    p.add_argument("--hidden-size", type=number(int), default=128,
                   help="embedding and hidden width (default: 128)")
    p.add_argument("--num-layers", type=number(int), default=4,
                   help="stacked recurrent layers (default: 4)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed for weights, shuffling and dropout (default: 0)")
    p.add_argument("--split-seed", type=int, default=0,
                   help="seed of the 80/20 chunk split (default: 0)")
    p.add_argument("--device", default="auto",
                   help="auto (CUDA if available), cpu or cuda[:N] (default: auto)")
    p.add_argument("--threads", type=number(int), help="CPU threads for torch (default: torch's)")
    p.add_argument("--out-dir", default=str(ROOT / "checkpoints"),
                   help="checkpoints and metrics.json go here")
    p.add_argument("--figures-dir", default=str(ROOT / "figures"),
                   help="loss.png and accuracy.png go here")
    p.add_argument("--eval-only", action="store_true",
                   help="evaluate the checkpoints in --out-dir; train nothing")
    p.add_argument("--rescore", metavar="METRICS",
                   help="with --eval-only: add the evaluation to this metrics.json of the run that "
                        "wrote the checkpoints")
    p.add_argument("--resume", action="store_true",
                   help="continue unfinished models from <kind>.last.pt")
    p.add_argument("--init-from",
                   help="start from these weights (a .pt file or a folder of them), fresh optimizer")
    args = p.parse_args(argv)
    try:
        args.device = resolve_device(args.device)
    except (ValueError, RuntimeError) as e:
        p.error(str(e))
    return args


@dataclass
class Trainer:
    """What a training pass changes besides the model."""

    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    grad_clip: float  # 0: off
    ema: AveragedModel | None  # the moving average of the weights, validated and kept
    generator: torch.Generator  # shuffling and shifts
    shiftable: torch.Tensor | None  # per chunk id: may it move right (None: no chunk moves)

    def shifts(self, ids: torch.Tensor, seq_len: int) -> torch.Tensor | None:
        if self.shiftable is None:
            return None
        return torch.randint(seq_len, ids.shape, generator=self.generator) * self.shiftable[ids]

    def step(self, model, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), self.grad_clip, foreach=True)
        self.optimizer.step()
        self.scheduler.step()
        if self.ema:
            self.ema.update_parameters(model)

    def validated(self, model):
        """The weights a run validates and keeps: the moving average when there is one."""
        return self.ema.module if self.ema else model


def count_correct(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Accuracy's numerator: how many next characters the argmax predicts, (B, T, V) vs (B, T)."""
    return (logits.argmax(-1) == targets).sum()


def run_epoch(model, chunks: Chunks, ids, batch_size: int, device, trainer: Trainer | None = None,
              desc: str = "") -> tuple[float, float]:
    """One pass over chunk `ids` -> (loss, accuracy) per character, exact over every scored one.
    With a `trainer` it shuffles, shifts and takes a step per batch; without, it evaluates."""
    model.train(trainer is not None)
    if trainer is not None:
        ids = ids[torch.randperm(len(ids), generator=trainer.generator)]
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    correct = torch.zeros((), device=device, dtype=torch.long)
    steps = tqdm(range(0, len(ids), batch_size), desc=desc, leave=False,
                 disable=not sys.stderr.isatty())
    with torch.set_grad_enabled(trainer is not None):
        for step, start in enumerate(steps):
            batch_ids = ids[start:start + batch_size]
            shifts = trainer.shifts(batch_ids, chunks.seq_len) if trainer is not None else None
            x, y = (t.to(device) for t in chunks.batch(batch_ids, shifts))
            logits = model(x)[0][:, -y.shape[1]:]  # (B, L, V): the burn-in positions are not scored
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            if trainer is not None:
                if not torch.isfinite(loss):  # one host sync a step: free on the CPU
                    raise TrainingError(f"{desc}: loss became {loss.item()} at step {step + 1}")
                trainer.step(model, loss)
            loss_sum += loss.detach().double() * y.numel()
            correct += count_correct(logits, y)
    n = len(ids) * chunks.seq_len
    return loss_sum.item() / n, correct.item() / n


def scale_init(model, gain: float) -> None:
    """Multiply the recurrent layers' initial weights by `gain`: at PyTorch's scale each LSTM layer
    passes on a fraction of its input (its gates sit near 0.5): the upper layers start near
    silent."""
    with torch.no_grad():
        for name, weight in model.rnn.named_parameters():
            if name.startswith("weight"):
                weight.mul_(gain)


def lr_lambda(warmup_steps: int, total_steps: int, schedule: str):
    """Multiplier of the base learning rate at a step: linear warm-up, then constant or cosine."""
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        if schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return 0.5 * (1 + math.cos(math.pi * progress))
    return factor


def setup_training(kind: str, settings: dict, vocab_size: int, split: Split, device) -> tuple:
    """A freshly seeded model of `kind` and its Trainer, for `settings` as resolve() gives them."""
    torch.manual_seed(settings["seed"])
    np.random.seed(settings["seed"])
    random.seed(settings["seed"])
    generator = torch.Generator().manual_seed(settings["seed"])
    config = dict(kind=kind, vocab_size=vocab_size, hidden_size=settings["hidden_size"],
                  num_layers=settings["num_layers"], dropout=settings["dropout"])
    model = build_model(config).to(device)
    scale_init(model, settings["init_gain"])
    # fused: one kernel over all parameters (a loop over tensors took 10-20% of an LSTM step)
    betas = (0.9, settings["beta2"])
    if settings["weight_decay"]:  # AdamW, decaying the weight matrices (not biases)
        groups = [dict(params=[p for p in model.parameters() if p.dim() > 1],
                       weight_decay=settings["weight_decay"]),
                  dict(params=[p for p in model.parameters() if p.dim() <= 1], weight_decay=0.0)]
        optimizer = torch.optim.AdamW(groups, lr=settings["lr"], betas=betas, fused=True)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=settings["lr"], betas=betas, fused=True)
    total_steps = settings["epochs"] * math.ceil(len(split.train) / settings["batch_size"])
    factor = lr_lambda(settings["warmup_steps"], total_steps, settings["schedule"])
    ema = None
    if settings["ema"]:
        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(settings["ema"]))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    shiftable = split.shiftable if settings["shift"] else None
    return model, Trainer(optimizer, scheduler, settings["grad_clip"], ema, generator, shiftable)


def rng_state(generator: torch.Generator) -> dict:
    """Every random stream a resumed run continues: torch (weights, dropout), shuffling, numpy,
    python. Held as bytes, which no map_location moves off the CPU, where set_rng_state needs
    them."""
    _, keys, pos, has_gauss, gauss = np.random.get_state()
    version, py_state, py_gauss = random.getstate()
    state = dict(torch=torch.get_rng_state().numpy().tobytes(),
                 shuffle=generator.get_state().numpy().tobytes(),
                 numpy=dict(keys=keys.astype(np.uint32).tobytes(), pos=pos, has_gauss=has_gauss,
                            gauss=gauss),
                 python=dict(version=version, state=list(py_state), gauss=py_gauss))
    if torch.cuda.is_available():
        state["cuda"] = [s.numpy().tobytes() for s in torch.cuda.get_rng_state_all()]
    return state


def set_rng_state(state: dict, generator: torch.Generator) -> None:
    """Restore what rng_state saved, whatever device the run continues on."""
    as_tensor = lambda data: torch.frombuffer(bytearray(data), dtype=torch.uint8)
    torch.set_rng_state(as_tensor(state["torch"]))
    generator.set_state(as_tensor(state["shuffle"]))
    n = state["numpy"]
    keys = np.frombuffer(n["keys"], dtype=np.uint32)
    np.random.set_state(("MT19937", keys, n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([as_tensor(s) for s in state["cuda"]])


def check_resume(last: dict, settings: dict, corpus: dict, vocab: str, path) -> None:
    """Refuse to continue a run on other data or with other settings, saying what differs."""
    before = last["settings"]
    diffs = [f"{k} {before.get(k)} -> {settings[k]}" for k in RESUME_KEYS if before.get(k) != settings[k]]
    if last["corpus"]["sha256"] != corpus["sha256"]:
        old, new = last["corpus"]["sha256"][:12], corpus["sha256"][:12]
        diffs.insert(0, f"corpus sha256 {old}... -> {new}...")
    elif last["vocab"] != vocab:
        diffs.insert(0, "vocabulary")
    if diffs:
        raise TrainingError(f"cannot resume from {path}: {'; '.join(diffs)} "
                            "(use --init-from for weights only)")


def restore(last: dict, model, trainer: Trainer) -> None:
    """Continue where `last` stopped: weights, optimizer, schedule, moving average, random streams."""
    model.load_state_dict(last["model"])
    trainer.optimizer.load_state_dict(last["optimizer"])
    trainer.scheduler.load_state_dict(last["scheduler"])
    set_rng_state(last["rng"], trainer.generator)
    if trainer.ema:
        trainer.ema.load_state_dict(last["ema"])


def init_from(path: Path, kind: str, model) -> None:
    """Start from the weights in `path` (a checkpoint, or a folder holding <kind>.pt)."""
    source = path / f"{kind}.pt" if path.is_dir() else path
    init, _ = load_checkpoint(source)
    if init.config != model.config:
        raise TrainingError(f"--init-from {source}: model settings {init.config} differ from "
                            f"{model.config}")
    model.load_state_dict(init.state_dict())


def train_epochs(model, trainer: Trainer, split: Split, batch_size: int, device, first: int,
                 last: int, desc: str = ""):
    """Train epochs first+1..last, yielding each one's row: losses, accuracies and its seconds."""
    for epoch in range(first + 1, last + 1):
        t0 = time.perf_counter()
        train_loss, train_acc = run_epoch(model, split.chunks, split.train, batch_size, device,
                                          trainer, desc=f"{desc} epoch {epoch}")
        val_loss, val_acc = run_epoch(trainer.validated(model), split.chunks, split.val,
                                      EVAL_BATCH, device)
        yield dict(epoch=epoch, train_loss=train_loss, train_acc=train_acc, val_loss=val_loss,
                   val_acc=val_acc, seconds=time.perf_counter() - t0)


def summary(settings: dict, history: list, best: dict | None, params: int) -> dict:
    """A model's entry in metrics.json."""
    return dict(params=params, **{k: settings[k] for k in TRAINING}, history=history, best=best)


def train_model(kind: str, settings: dict, split: Split, vocab: Vocab, corpus: dict, out_dir: Path,
                device, resume: bool = False, init: Path | None = None) -> dict:
    """Train one model, keeping <kind>.pt (best) and <kind>.last.pt (latest); returns its record."""
    best_path, last_path = out_dir / f"{kind}.pt", out_dir / f"{kind}.last.pt"
    model, trainer = setup_training(kind, settings, len(vocab), split, device)
    history, best, epoch = [], None, 0
    if resume and last_path.exists():
        _, last = load_checkpoint(last_path)  # on the CPU; load_state_dict copies onto the device
        check_resume(last, settings, corpus, vocab.chars, last_path)
        restore(last, model, trainer)
        history, epoch, best = last["history"], last["epoch"], last["best"]
        done = "finished" if epoch >= settings["epochs"] else "resuming after"
        print(f"{kind}: {done} epoch {epoch} ({last_path})")
    elif init is not None:
        init_from(init, kind, model)
    wall = history[-1]["wall_s"] if history else 0.0
    extra = dict(settings=settings, corpus=corpus)
    rows = train_epochs(model, trainer, split, settings["batch_size"], device, epoch,
                        settings["epochs"], kind)
    for row in rows:
        epoch = row["epoch"]
        wall += row.pop("seconds")
        row["wall_s"] = round(wall, 2)
        history.append(row)
        improved = best is None or row["val_loss"] < best["val_loss"]
        if improved:
            best = row
            save_checkpoint(best_path, trainer.validated(model), vocab.chars, epoch, history,
                            row["val_loss"], **extra)
        ema = trainer.ema.state_dict() if trainer.ema else None
        save_checkpoint(last_path, model, vocab.chars, epoch, history, best["val_loss"], best=best,
                        optimizer=trainer.optimizer.state_dict(), ema=ema,
                        scheduler=trainer.scheduler.state_dict(), rng=rng_state(trainer.generator),
                        **extra)
        print(f"{kind} epoch {epoch:3d} | train loss {row['train_loss']:.4f} acc {row['train_acc']:.4f}"
              f" | val loss {row['val_loss']:.4f} acc {row['val_acc']:.4f} | {wall:6.1f}s"
              + (" *" if improved else ""))
    return summary(settings, history, best, sum(p.numel() for p in model.parameters()))


def evaluate(model, vocab: Vocab, text: str, settings: dict, eval_context: int, held_out: dict,
             device) -> dict:
    """Exact loss and accuracy of one model: on the train and val chunks of `text`, on val with
    `eval_context` characters fed first, and on the chunks of each held-out text (`held_out`:
    name -> (path, text)) that hold no unknown character."""
    seq_len, context = settings["seq_len"], settings["context"]
    data = vocab.encode(text, unknown=-1)
    split = make_split(data, seq_len, context, vocab.pad, settings["split_seed"])
    fed = Chunks(data, seq_len, eval_context, vocab.pad)
    result = {}
    for name, chunks, ids in (("train", split.chunks, split.train),
                              ("val", split.chunks, split.val),
                              ("val_context", fed, split.val)):
        loss, acc = run_epoch(model, chunks, ids, EVAL_BATCH, device)
        result |= {f"{name}_loss": loss, f"{name}_acc": acc}
    result["eval_context"] = eval_context
    for name, (path, held) in held_out.items():
        chunks = Chunks(vocab.encode(held, unknown=-1), seq_len, context, vocab.pad)
        ids = known_ids(chunks)
        loss, acc = run_epoch(model, chunks, ids, EVAL_BATCH, device)
        result |= {f"{name}_loss": loss, f"{name}_acc": acc, name: path, f"{name}_chunks": len(ids),
                   f"{name}_dropped": len(chunks) - len(ids)}
    return result


def evaluate_checkpoints(kinds: list, out_dir: Path, text: str, eval_context: int, held_out: dict,
                         device, rescore: Path | None = None, command: str = "") -> None:
    """--eval-only: re-measure each checkpoint in `out_dir` on the split of `text`, and with
    `rescore` add what it measured to the evaluation in that run's metrics."""
    metrics = json.loads(rescore.read_text()) if rescore else None
    for kind in kinds:
        model, ckpt = load_checkpoint(out_dir / f"{kind}.pt", device)
        unknown = "".join(sorted(set(text) - set(ckpt["vocab"])))
        if unknown:
            raise CorpusError(f"corpus has characters outside {kind}.pt's vocabulary: {unknown!r}")
        r = evaluate(model, Vocab(ckpt["vocab"]), text, ckpt["settings"], eval_context, held_out,
                     device)
        line = (f"{kind}: epoch {ckpt['epoch']} | train loss {r['train_loss']:.4f} acc "
                f"{r['train_acc']:.4f} | val loss {r['val_loss']:.4f} acc {r['val_acc']:.4f} | val with "
                f"{eval_context} chars of context {r['val_context_loss']:.4f} acc "
                f"{r['val_context_acc']:.4f}")
        for name in held_out:
            line += f" | {name} {r[f'{name}_loss']:.4f} acc {r[f'{name}_acc']:.4f}"
        print(line)
        if metrics is not None:
            if ckpt["best_val_loss"] != metrics["models"][kind]["best"]["val_loss"]:
                raise CheckpointError(f"{kind}.pt is not the best checkpoint of the run in {rescore}")
            metrics["models"][kind]["evaluation"] |= r
    if metrics is not None:
        metrics["rescored"] = metrics.get("rescored", []) + [command]
        rescore.write_text(json.dumps(metrics, indent=1) + "\n")


def prepare_default_corpus(path: Path) -> None:
    if path == DEFAULT_DATA and not path.exists():
        print(f"{path} is missing: preparing it with data/prepare.py", flush=True)
        from data.prepare import prepare
        prepare("gutenberg", path)


def check_writable(*folders) -> None:
    """Fail now, not after hours of training."""
    for folder in folders:
        try:
            Path(folder).mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=folder).close()
        except OSError as e:
            raise OSError(f"cannot write to {folder}: {e.strerror}") from None


def train_all(kinds: list, settings: dict, split: Split, text: str, vocab: Vocab, corpus: dict,
              out_dir: Path, device, eval_context: int, held_out: dict, resume: bool,
              init: Path | None) -> tuple:
    """Train and evaluate each of `kinds` in turn -> (their records, exit status). A model whose
    training stops (non-finite loss, Ctrl-C) keeps the record of its last complete epoch."""
    records, status = {}, 0
    for kind in kinds:
        try:
            record = train_model(kind, settings[kind], split, vocab, corpus, out_dir, device,
                                 resume,
                                 init)
        except (KeyboardInterrupt, TrainingError) as e:
            last_path = out_dir / f"{kind}.last.pt"
            if last_path.exists():
                model, last = load_checkpoint(last_path)
                params = sum(p.numel() for p in model.parameters())
                records[kind] = summary(last["settings"], last["history"], last["best"], params)
            if isinstance(e, KeyboardInterrupt):
                print(f"\ninterrupted: {kind} keeps its latest state; run with --resume to continue",
                      file=sys.stderr)
                return records, 130
            print(f"main.py: error: {e}; the last good checkpoints are kept", file=sys.stderr)
            status = 1
            continue  # the other models still train
        model, _ = load_checkpoint(out_dir / f"{kind}.pt", device)
        record["evaluation"] = evaluate(model, vocab, text, settings[kind], eval_context, held_out,
                                        device)
        records[kind] = record
    return records, status


def main(argv=None):
    started = time.perf_counter()
    command = " ".join(["python main.py", *(sys.argv[1:] if argv is None else argv)])
    args = get_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        prepare_default_corpus(Path(args.data).resolve())
        text, vocab, data = load_corpus(args.data, args.seq_len)
        held_out = {name: (getattr(args, name), read_text(getattr(args, name)))
                    for name in HELD_OUT if getattr(args, name)}
        out_dir = Path(args.out_dir)
        if args.eval_only:
            evaluate_checkpoints(args.models, out_dir, text, args.eval_context, held_out, args.device,
                                 args.rescore and Path(args.rescore), command)
            return
        check_writable(out_dir, args.figures_dir)
        flags = {k: v for k, v in vars(args).items()
                 if k not in ("device", "eval_only", "resume", "init_from")}
        settings = {kind: resolve(kind, args.preset, flags) for kind in args.models}
        corpus = dict(path=str(args.data), sha256=sha256(text), chars=len(text),
                      vocab_size=len(vocab))
        threads = torch.get_num_threads()
        print(f"device {args.device} | threads {threads} | corpus {corpus}")
        for kind in args.models:
            print(f"{kind}: " + ", ".join(f"{k} {settings[kind][k]}" for k in TRAINING + MODEL))
        split = make_split(data, args.seq_len, args.context, vocab.pad, args.split_seed)
        init = Path(args.init_from) if args.init_from else None
        records, status = train_all(args.models, settings, split, text, vocab, corpus, out_dir,
                                    args.device, args.eval_context, held_out, args.resume, init)
        if records:
            metrics = dict(command=command, settings=flags, corpus=corpus, device=str(args.device),
                           machine=machine(args.device), threads=threads, torch=torch.__version__,
                           models=records, wall_s=round(time.perf_counter() - started, 1))
            (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
            draw_figures(records, args.figures_dir)
        if status:
            sys.exit(status)
    except (CorpusError, CheckpointError, TrainingError, OSError) as e:
        sys.exit(f"main.py: error: {e}")


if __name__ == "__main__":
    main()
