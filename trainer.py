"""The training machinery main.py and bench.py share: settings, one epoch, the step, the schedule,
the set-up of model and optimizer, random-number state and resume. A library, not a script.

    from trainer import Settings, setup_training, train_epochs
"""

import math
import random
import sys
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from dataset import Chunks, Split, Vocab, make_split
from model import ModelConfig, build_model, init_recurrent, load_checkpoint, save_checkpoint

FEW_STEPS = 500  # optimizer steps under which main.py warns that a run will learn little
EVAL_BATCH = 1024  # chunks per evaluation batch; evaluation is exact whatever it is


@dataclass(frozen=True)
class Settings:
    """Everything one model's run trains with: what a recipe sets, then what all models share.
    Checkpoints and metrics store exactly `asdict()` of it."""

    epochs: int  # passes over the training chunks
    batch_size: int  # chunks per step
    lr: float  # Adam's peak learning rate
    beta2: float  # Adam's second-moment decay
    warmup_steps: int  # linear learning-rate warm-up, at most a tenth of the run's steps
    schedule: str  # after warm-up: "constant", or "cosine" to 0
    grad_clip: float  # clip the gradient norm to this; 0: off
    dropout: float  # between recurrent layers
    shift: bool  # move training chunks right by 0..seq_len-1 where the next chunk trains too
    ema: float  # validate and keep a moving average of the weights, this decay per step; 0: off
    init_gain: float  # scale the recurrent initial weights by this
    weight_decay: float  # AdamW's decay of the weight matrices (never biases); 0: plain Adam
    beta1: float = 0.9  # Adam's first-moment decay
    eps: float = 1e-8  # Adam's epsilon
    seq_len: int = 30  # characters per chunk
    context: int = 0  # characters fed before each chunk, unscored
    hidden_size: int = 128  # embedding and hidden width
    num_layers: int = 4  # stacked recurrent layers
    seed: int = 0  # weights, shuffling and dropout
    split_seed: int = 0  # the 80/20 chunk split
    val_fraction: float = 0.2  # chunks held out for validation (unless val_tail)
    train_fraction: float = 1.0  # train on this nested share of the training chunks (dataset.py)
    patience: int = 0  # stop when validation has not improved for this many epochs; 0: never
    forget_bias: bool = False  # LSTM: start the forget gates' bias at 1 (char-rnn's init)
    val_tail: float = 0.0  # hold out the text's last share instead of val_fraction's chunks; 0: off
    max_steps: int = 0  # stop after this many optimizer steps, the schedule laid over them; 0: off

    @classmethod
    def from_dict(cls, saved: dict) -> "Settings":
        """Settings as a checkpoint stored them. One written before a field existed holds what was
        then fixed in the code, which is the field's default; keys of no field (paths) are ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in saved.items() if k in names})

    def split(self, data: torch.Tensor, pad: int) -> Split:
        """The chunks of the encoded text `data` and their split, as these settings cut them."""
        return make_split(
            data, self.seq_len, self.context, pad, self.split_seed, self.val_fraction,
            self.train_fraction, self.val_tail,
        )  # fmt: skip

    def total_steps(self, num_train: int) -> int:
        """The optimizer steps a run on `num_train` chunks takes: what the schedule spans."""
        steps = self.epochs * math.ceil(num_train / self.batch_size)
        return min(steps, self.max_steps) if self.max_steps else steps

    def model_config(self, kind: str, vocab_size: int) -> ModelConfig:
        return ModelConfig(kind, vocab_size, self.hidden_size, self.num_layers, self.dropout)


# The training recipes: the study's, exactly, and our default, per model (the sweep that chose the
# RNN's and the LSTM's, and the trials that chose the GRU's, are in results/README.md). Every other
# value a run uses is a default of Settings. A flag on the command line overrides the recipe.
STUDY = Settings(epochs=20, batch_size=64, lr=1e-3, beta2=0.999, warmup_steps=0,
                 schedule="constant", grad_clip=0.0, dropout=0.0, shift=False, ema=0.0,
                 init_gain=1.0, weight_decay=0.0)  # fmt: skip
RECIPES = {
    "reference": {"rnn": STUDY, "lstm": STUDY, "gru": STUDY},
    "default": {
        "rnn": Settings(epochs=14, batch_size=32, lr=4e-3, beta2=0.999, warmup_steps=200,
                        schedule="cosine", grad_clip=1.0, dropout=0.0, shift=True, ema=0.99,
                        init_gain=1.0, weight_decay=0.1),
        "lstm": Settings(epochs=24, batch_size=16, lr=3e-3, beta2=0.99, warmup_steps=100,
                         schedule="cosine", grad_clip=1.0, dropout=0.1, shift=True, ema=0.99,
                         init_gain=3.0, weight_decay=0.1),
        "gru": Settings(epochs=24, batch_size=16, lr=3e-3, beta2=0.99, warmup_steps=100,
                        schedule="cosine", grad_clip=1.0, dropout=0.1, shift=True, ema=0.99,
                        init_gain=1.0, weight_decay=0.1),
    },
}  # fmt: skip
STUDIED = ["rnn", "lstm"]  # the models the study compared: what main.py trains by default


def resolve(kind: str, recipe: str, flags: dict) -> Settings:
    """The settings `kind` trains with: the flags given over its recipe."""
    return replace(RECIPES[recipe][kind], **flags)


# What a resumed run must keep from the one it continues; only `epochs` may grow.
KEPT_ON_RESUME = tuple(f.name for f in fields(Settings) if f.name != "epochs")


class TrainingError(RuntimeError):
    """Training cannot go on (non-finite loss, refused resume); the message is one line."""


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
        if self.grad_clip:  # rescale all gradients together when their joint norm exceeds it
            torch.nn.utils.clip_grad_norm_(model.parameters(), self.grad_clip, foreach=True)
        self.optimizer.step()
        self.scheduler.step()  # the schedule counts steps, not epochs
        if self.ema:
            self.ema.update_parameters(model)

    @property
    def steps(self) -> int:
        """Optimizer steps taken so far (the schedule's count, which resume restores)."""
        return self.scheduler.last_epoch

    def validated(self, model):
        """The weights a run validates and keeps: the moving average when there is one."""
        return self.ema.module if self.ema else model


def count_correct(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Accuracy's numerator: how many next characters the argmax predicts, (B, T, V) vs (B, T)."""
    return (logits.argmax(-1) == targets).sum()


def run_epoch(model, chunks: Chunks, ids, batch_size: int, device, trainer=None, desc="",
              max_steps=None, deadline=None):  # fmt: skip
    """One pass over chunk `ids` -> (loss, accuracy) per character, exact over every scored one.
    With a `trainer` it shuffles, shifts and takes a step per batch, stopping after `max_steps`
    batches when given, or at time.perf_counter() `deadline` (the loss then over the batches
    taken); without, it evaluates."""
    model.train(trainer is not None)
    if trainer is not None:
        ids = ids[torch.randperm(len(ids), generator=trainer.generator)]
        ids = ids if max_steps is None else ids[: max_steps * batch_size]
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    correct = torch.zeros((), device=device, dtype=torch.long)
    tty = sys.stderr.isatty()
    steps = tqdm(range(0, len(ids), batch_size), desc=desc, leave=False, disable=not tty)
    with torch.set_grad_enabled(trainer is not None):
        for step, start in enumerate(steps):
            if deadline is not None and step and time.perf_counter() > deadline:
                ids = ids[:start]  # the batches taken
                break
            batch_ids = ids[start : start + batch_size]
            shifts = trainer.shifts(batch_ids, chunks.seq_len) if trainer is not None else None
            x, y = (t.to(device) for t in chunks.batch(batch_ids, shifts))
            logits = model(x)[0][:, -y.shape[1] :]  # (B, L, V): the context is not scored
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            if trainer is not None:
                if not torch.isfinite(loss):  # one host sync a step: free on the CPU
                    raise TrainingError(f"{desc}: loss became {loss.item()} at step {step + 1}")
                trainer.step(model, loss)
            # a batch's mean times its targets: the last, smaller batch weighs what it holds
            loss_sum += loss.detach().double() * y.numel()
            correct += count_correct(logits, y)
    n = len(ids) * chunks.seq_len
    return loss_sum.item() / n, correct.item() / n


def lr_lambda(warmup_steps: int, total_steps: int, schedule: str, spent=None):
    """Multiplier of the base learning rate at a step: linear warm-up, then constant or cosine.
    With `spent` (a function: the share of a time budget used so far), the cosine's progress is
    the further of the steps' and the time's, so that it ends with the time on a slow machine."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        if schedule == "constant":
            return 1.0
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        progress = min(1.0, max(progress, spent()) if spent else progress)
        return 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def schedule(s: Settings, num_train: int, spent=None):
    """The learning-rate multiplier of a run of `s` on `num_train` chunks (lr_lambda)."""
    total_steps = s.total_steps(num_train)
    return lr_lambda(min(s.warmup_steps, total_steps // 10), total_steps, s.schedule, spent)


def make_optimizer(model, s: Settings) -> torch.optim.Optimizer:
    """Adam, or AdamW decaying only the weight matrices (dim > 1: not biases) when s.weight_decay.
    fused: one kernel over all parameters (a loop over tensors took 10-20% of an LSTM step)."""
    kw = dict(lr=s.lr, betas=(s.beta1, s.beta2), eps=s.eps, fused=True)
    if not s.weight_decay:
        return torch.optim.Adam(model.parameters(), **kw)
    params = list(model.parameters())
    groups = [
        dict(params=[p for p in params if p.dim() > 1], weight_decay=s.weight_decay),
        dict(params=[p for p in params if p.dim() <= 1], weight_decay=0.0),
    ]
    return torch.optim.AdamW(groups, **kw)


def setup_training(kind: str, s: Settings, vocab_size: int, split: Split, device) -> tuple:
    """A freshly seeded model of `kind` and its Trainer, for the resolved settings `s`."""
    torch.manual_seed(s.seed)
    np.random.seed(s.seed)
    random.seed(s.seed)
    generator = torch.Generator().manual_seed(s.seed)
    model = build_model(s.model_config(kind, vocab_size)).to(device)
    init_recurrent(model, s.init_gain, s.forget_bias)
    optimizer = make_optimizer(model, s)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule(s, len(split.train)))
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(s.ema)) if s.ema else None
    shiftable = split.shiftable if s.shift else None
    return model, Trainer(optimizer, scheduler, s.grad_clip, ema, generator, shiftable)


def train_epochs(model, trainer: Trainer, split: Split, batch_size, device, first, last, desc="",
                 max_steps=0, end=None):  # fmt: skip
    """Train epochs first+1..last, yielding each one's row: losses, accuracies and its seconds.
    With `max_steps`, training stops once the run has taken that many optimizer steps, mid-epoch
    if need be; that last, shorter epoch is validated and yields its row like the others. With
    `end` (a time.perf_counter() time), it also stops there, leaving room for a validation as long
    as the last one: a cap for a machine slower than planned."""
    val_s = 0.0  # the last validation's seconds
    for epoch in range(first + 1, last + 1):
        left = max_steps - trainer.steps if max_steps else None  # the steps the budget allows
        if left is not None and left <= 0:
            return
        deadline = None if end is None else end - val_s
        if deadline is not None and time.perf_counter() >= deadline:
            return
        t0 = time.perf_counter()
        name = f"{desc} epoch {epoch}"
        train_loss, train_acc = run_epoch(
            model, split.chunks, split.train, batch_size, device, trainer, name, left, deadline
        )
        t1 = time.perf_counter()
        validated = trainer.validated(model)
        val_loss, val_acc = run_epoch(validated, split.chunks, split.val, EVAL_BATCH, device)
        val_s = time.perf_counter() - t1
        seconds = time.perf_counter() - t0
        yield dict(
            epoch=epoch,
            train_loss=train_loss,
            train_acc=train_acc,
            val_loss=val_loss,
            val_acc=val_acc,
            seconds=seconds,
        )


def rng_state(generator: torch.Generator) -> dict:
    """Every random stream a resumed run continues: torch (weights, dropout), shuffling, numpy,
    python. Held as bytes, which no map_location moves off the CPU, where set_rng_state needs
    them."""
    _, keys, pos, has_gauss, gauss = np.random.get_state()
    version, py_state, py_gauss = random.getstate()
    numpy = dict(keys=keys.astype(np.uint32).tobytes(), pos=pos, has_gauss=has_gauss, gauss=gauss)
    state = dict(
        torch=torch.get_rng_state().numpy().tobytes(),
        shuffle=generator.get_state().numpy().tobytes(),
        numpy=numpy,
        python=dict(version=version, state=list(py_state), gauss=py_gauss),
    )
    if torch.cuda.is_available():
        state["cuda"] = [s.numpy().tobytes() for s in torch.cuda.get_rng_state_all()]
    return state


def as_tensor(data: bytes) -> torch.Tensor:
    return torch.frombuffer(bytearray(data), dtype=torch.uint8)


def set_rng_state(state: dict, generator: torch.Generator) -> None:
    """Restore what rng_state saved, whatever device the run continues on."""
    torch.set_rng_state(as_tensor(state["torch"]))
    generator.set_state(as_tensor(state["shuffle"]))
    n = state["numpy"]
    keys = np.frombuffer(n["keys"], dtype=np.uint32)
    np.random.set_state(("MT19937", keys, n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([as_tensor(s) for s in state["cuda"]])


def check_resume(last: dict, s: Settings, corpus: dict, vocab: str, path) -> None:
    """Refuse to continue a run on other data or with other settings, saying what differs."""
    before = Settings.from_dict(last["settings"])
    diffs = [
        f"{k} {getattr(before, k)} -> {getattr(s, k)}"
        for k in KEPT_ON_RESUME
        if getattr(before, k) != getattr(s, k)
    ]
    if last["corpus"]["sha256"] != corpus["sha256"]:
        old, new = last["corpus"]["sha256"][:12], corpus["sha256"][:12]
        diffs.insert(0, f"corpus sha256 {old}... -> {new}...")
    elif last["vocab"] != vocab:
        diffs.insert(0, "vocabulary")
    if diffs:
        why = "; ".join(diffs)
        raise TrainingError(f"cannot resume from {path}: {why} (use --init-from for weights only)")


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
        raise TrainingError(f"--init-from {source}: model settings {init.config} differ")
    model.load_state_dict(init.state_dict())


def summary(s: dict, history: list, best: dict | None, model) -> dict:
    """A model's entry in metrics.json."""
    params = sum(p.numel() for p in model.parameters())
    return dict(params=params, settings=s, history=history, best=best)


def resume_state(trainer: Trainer, best: dict) -> dict:
    """What <kind>.last.pt holds beyond the weights: enough to continue the run exactly."""
    ema = trainer.ema.state_dict() if trainer.ema else None
    optimizer, scheduler = trainer.optimizer.state_dict(), trainer.scheduler.state_dict()
    return dict(
        best=best,
        optimizer=optimizer,
        scheduler=scheduler,
        ema=ema,
        rng=rng_state(trainer.generator),
    )


def start(kind: str, model, trainer: Trainer, s: Settings, run: dict, resume: bool, init) -> tuple:
    """(history, best, epoch) to go on from: those of <kind>.last.pt with `resume`, else fresh
    (from the weights in `init`, when given)."""
    last_path = Path(run["out_dir"]) / f"{kind}.last.pt"
    if resume and last_path.exists():
        _, last = load_checkpoint(last_path)  # on the CPU; load_state_dict copies onto the device
        check_resume(last, s, run["corpus"], run["vocab"].chars, last_path)
        restore(last, model, trainer)
        epoch = last["epoch"]
        done = epoch >= s.epochs or 0 < s.max_steps <= trainer.steps
        print(f"{kind}: {'finished' if done else 'resuming after'} epoch {epoch}")
        return last["history"], last["best"], epoch
    if init is not None:
        init_from(init, kind, model)
    return [], None, 0


def epoch_line(kind: str, row: dict, improved: bool) -> str:
    """What an epoch prints; * marks a new best validation loss, whose weights <kind>.pt now holds."""
    losses = f"train loss {row['train_loss']:.4f} acc {row['train_acc']:.4f} | val loss "
    losses += f"{row['val_loss']:.4f} acc {row['val_acc']:.4f}"
    mark = " *" if improved else ""
    return f"{kind} epoch {row['epoch']:3d} | {losses} | {row['wall_s']:6.1f}s{mark}"


def train_model(
    kind: str,
    s: Settings,
    split: Split,
    vocab: Vocab,
    corpus: dict,
    out_dir: Path,
    device,
    resume: bool = False,
    init: Path | None = None,
    max_seconds: float = 0.0,
) -> dict:
    """Train one model, keeping <kind>.pt (best) and <kind>.last.pt (latest); returns its record.
    With `max_seconds`, training stops once its training and validations took that long."""
    model, trainer = setup_training(kind, s, len(vocab), split, device)
    run = dict(out_dir=out_dir, corpus=corpus, vocab=vocab)
    history, best, epoch = start(kind, model, trainer, s, run, resume, init)
    wall = history[-1]["wall_s"] if history else 0.0
    extra = dict(settings=asdict(s), corpus=corpus)
    stopped = s.patience and best and epoch - best["epoch"] >= s.patience  # before an interruption
    last = epoch if stopped else s.epochs
    end = None
    if max_seconds:  # a resumed run's time counts; the cosine ends with the time, if sooner
        begin, left = time.perf_counter(), max_seconds - wall
        end = begin + left
        spent = lambda: (time.perf_counter() - begin) / left  # noqa: E731
        trainer.scheduler.lr_lambdas[0] = schedule(s, len(split.train), spent)
    rows = train_epochs(
        model, trainer, split, s.batch_size, device, epoch, last, kind, s.max_steps, end
    )
    for row in rows:
        epoch, wall = row["epoch"], wall + row.pop("seconds")
        row["wall_s"] = round(wall, 2)
        history.append(row)
        improved = best is None or row["val_loss"] < best["val_loss"]
        best = row if improved else best
        saved = dict(
            vocab=vocab.chars, epoch=epoch, history=history, best_val_loss=best["val_loss"]
        )
        if improved:  # the moving average, where there is one, is what is kept
            save_checkpoint(out_dir / f"{kind}.pt", trainer.validated(model), **saved, **extra)
        state = resume_state(trainer, best) | extra
        save_checkpoint(out_dir / f"{kind}.last.pt", model, **saved, **state)
        print(epoch_line(kind, row, improved))
        if s.patience and epoch - best["epoch"] >= s.patience:
            print(f"{kind}: no better validation loss for {s.patience} epochs: stopped early")
            break
    return summary(asdict(s), history, best, model)
