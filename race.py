"""The race against the reference study's loop, for bench.py: the study's Dataset and training
step copied faithfully, and the side-by-side runs that time each recipe to a validation loss.

Not a script: bench.py calls it (python bench.py). Both recipes train in one process, an epoch of
one then an epoch of the other, so that the machine's drift between processes cancels.
"""

import copy
import json
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from dataset import Split, Vocab
from trainer import EVAL_BATCH, RECIPES, STUDIED, resolve, run_epoch, setup_training, train_epochs


class ReferenceDataset(torch.utils.data.Dataset):
    """The reference's data path: every item is built from Python lists of character indices."""

    def __init__(self, text: str, stoi: dict, seq_len: int):
        self.text, self.stoi, self.seq_len = text, stoi, seq_len

    def __len__(self):
        return (len(self.text) - 1) // self.seq_len

    def __getitem__(self, i):
        chunk = self.text[i * self.seq_len : (i + 1) * self.seq_len + 1]
        return torch.tensor([self.stoi[c] for c in chunk[:-1]]), torch.tensor(
            [self.stoi[c] for c in chunk[1:]]
        )


def as_reference(model):
    """A copy of `model` that calls nn.RNN / nn.LSTM as modules, as the reference does (no CPU fast path)."""
    plain = copy.deepcopy(model)
    plain.fused = False
    return plain


def sync(device) -> None:
    """Wait for the GPU's queued work, so that a timer read next counts it (a no-op on the CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def reference_steps(model, optimizer, loader, steps: int, device="cpu") -> int:
    """The reference's training step, `steps` times; returns the characters trained on."""
    model.train()
    chars = 0
    for step, (x, y) in enumerate(loader):
        if step == steps:
            break
        x, y = x.to(device), y.to(device)  # the reference moved each batch to the GPU, as here
        logits, _ = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss.item()  # the reference logged every step
        chars += y.numel()
    return chars


@dataclass
class BenchData:
    """The study's file as both loops train on it: main.py's split, and the reference's Dataset of
    its training chunks."""

    split: Split
    reference: torch.utils.data.Dataset
    vocab: Vocab

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)


def time_to(curve: list, target: float) -> float | None:
    """Seconds at the first epoch whose validation loss is at most `target` (None: never reached);
    `curve` holds (validation loss, seconds since the start) per epoch."""
    return next((round(t, 2) for v, t in curve if v <= target), None)


def time_ratio(reference: list, default: list, target: float) -> dict:
    """How many times sooner the default recipe's curve first reaches `target` than the reference's."""
    r, d = time_to(reference, target), time_to(default, target)
    return dict(reference_s=r, default_s=d, ratio=r / d if r and d else None)


def time_to_quality_recorded(runs_dir: Path) -> dict:
    """time_ratio from the per-epoch times the seed runs in `runs_dir` recorded, each in its own
    process, paired by seed, to 1.60 and to each reference seed's own best; median over the
    seeds."""
    result = {}
    for kind in STUDIED:
        curves = {
            recipe: [
                [
                    (r["val_loss"], r["wall_s"])
                    for r in json.loads(p.read_text())["models"][kind]["history"]
                ]
                for p in sorted(runs_dir.glob(f"{recipe}-seed*.json"))
            ]
            for recipe in RECIPES
        }
        pairs = list(zip(curves["reference"], curves["default"]))
        result[kind] = {}
        for name, target in (
            ("1.60", lambda r: 1.60),
            ("reference_best", lambda r: min(v for v, _ in r)),
        ):
            rows = [time_ratio(r, d, target(r)) for r, d in pairs]
            found = [row["ratio"] for row in rows if row["ratio"]]
            result[kind][name] = dict(
                reference_s=[row["reference_s"] for row in rows],
                default_s=[row["default_s"] for row in rows],
                ratio=statistics.median(found) if found else None,
            )
    return result


def training_epochs(
    kind: str, recipe: str, data: BenchData, seed: int, reference_loop: bool = True, device="cpu"
):
    """Train `kind` from scratch and yield (validation loss, seconds of training + validation) per
    epoch. The reference recipe trains on the reference's loop (reference_steps: DataLoader,
    per-tensor Adam) if `reference_loop`; everything else is main.py's own epochs
    (main.train_epochs)."""
    s = resolve(kind, recipe, dict(seed=seed))
    model, trainer = setup_training(kind, s, data.vocab_size, data.split, device)
    if not (recipe == "reference" and reference_loop):
        rows = train_epochs(model, trainer, data.split, s.batch_size, device, 0, s.epochs)
        yield from ((row["val_loss"], row["seconds"]) for row in rows)
        return
    model = as_reference(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=s.lr)  # the study's, not the trainer's
    loader = torch.utils.data.DataLoader(
        data.reference,
        batch_size=s.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    val = data.split
    for _ in range(s.epochs):
        t0 = time.perf_counter()
        reference_steps(model, optimizer, loader, len(loader), device)
        loss = run_epoch(model, val.chunks, val.val, EVAL_BATCH, device)[0]  # syncs: .item()
        yield loss, time.perf_counter() - t0


def time_to_quality_side_by_side(
    kind: str, data: BenchData, seed: int, fixed: float = 1.60, device="cpu"
) -> dict:
    """Both recipes trained in this process, an epoch of one then an epoch of the other, and the
    wall time each takes to first reach `fixed` and the reference's best. The reference runs all its
    epochs (its best is known only then); ours pauses once it has reached both targets as they
    stand, resumes if the reference's best drops below its own, and stops when the reference is done
    and ours has caught up."""
    runs = {
        r: training_epochs(kind, r, data, seed, device=device) for r in ("reference", "default")
    }
    curves = {r: [] for r in runs}  # (val loss, seconds since start) per epoch
    done = set()
    best = lambda r: min((v for v, _ in curves[r]), default=math.inf)
    while "reference" not in done or (
        "default" not in done and best("default") > best("reference")
    ):
        for r in runs:
            if r in done or (r == "default" and best(r) <= min(best("reference"), fixed)):
                continue
            try:
                loss, seconds = next(runs[r])
            except StopIteration:
                done.add(r)
                continue
            curves[r].append((loss, seconds + (curves[r][-1][1] if curves[r] else 0.0)))
    row = {
        "reference_best_loss": best("reference"),
        "curves": {r: [[round(v, 4), round(t, 2)] for v, t in c] for r, c in curves.items()},
    }
    for name, target in ((f"{fixed:.2f}", fixed), ("reference_best", best("reference"))):
        row[name] = time_ratio(curves["reference"], curves["default"], target)
    return row


def whole_run_side_by_side(data: BenchData, epochs: int, device="cpu") -> dict:
    """The wall time of main.py's whole default run over that of `--preset reference` (ratio), both
    on main.py's loop: an epoch (training + validation) of each recipe in turn, `epochs` + 1 of each
    per model (the first is warm-up), and each recipe's median epoch times its epoch count, summed
    over the models. Startup, checkpoint writes and the final evaluation, alike for both, are left
    out."""
    seconds = {"default": 0.0, "reference": 0.0}
    row = {}
    for kind in STUDIED:
        runs = {
            r: training_epochs(kind, r, data, 0, reference_loop=False, device=device)
            for r in seconds
        }
        times = {r: [] for r in runs}
        for _ in range(epochs + 1):
            for r in runs:
                times[r].append(next(runs[r])[1])
        row[kind] = {}
        for r in runs:
            count = resolve(kind, r, {}).epochs
            epoch_s = statistics.median(times[r][1:])
            row[kind][r] = dict(epoch_s=round(epoch_s, 2), epochs=count)
            seconds[r] += epoch_s * count
    return row | dict(
        default_s=round(seconds["default"], 1),
        reference_s=round(seconds["reference"], 1),
        ratio=seconds["default"] / seconds["reference"],
    )


def time_to_quality(data: BenchData, seeds: list, device) -> dict:
    """time_to_quality_side_by_side for each model and seed, and the median ratio over the seeds."""
    result = {}
    for kind in STUDIED:
        rows = [time_to_quality_side_by_side(kind, data, seed, device=device) for seed in seeds]
        found = [r["reference_best"]["ratio"] for r in rows if r["reference_best"]["ratio"]]
        result[kind] = dict(
            seeds=seeds, runs=rows, ratio=statistics.median(found) if found else None
        )
        times = [
            f"{r['reference_best']['reference_s']} s -> {r['reference_best']['default_s']} s"
            for r in rows
        ]
        print(f"{kind}: time to the reference's best " + ", ".join(times), flush=True)
    return result
