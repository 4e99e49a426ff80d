"""Speed against the reference study's loops, measured side by side in one process.

    python bench.py                                   # full run: results/bench.json
    python bench.py --quick --out /tmp/bench.json     # under a minute, same JSON shape
    python bench.py --device cuda --out results/bench-cuda.json    # the same on a GPU (cuDNN on)

Timings drift ~20% between processes on a shared machine, so the contenders run interleaved
(A B A B ...) in this one process and only medians and ratios are reported; a ratio is the median of
the per-round ratios, with their range.
1. training throughput (characters/s) at batch 64: our step (main.run_epoch, fused Adam, the moving
   average of the weights, and for the RNN model.tanh_recurrence) vs a faithful copy of the
   reference's (a Dataset building Python lists per item, a DataLoader, nn.RNN / nn.LSTM called as
   modules, per-tensor Adam, loss.item() every step), both without dropout as the reference trained;
   and ours with each model's default recipe (its batch size and dropout);
2. achieved FLOP rate of our step / this machine's sgemm rate on the step's own matrix shapes, timed
   in the same rounds;
3. time to quality: the reference preset on the reference's loop and our default recipe on ours,
   trained side by side (an epoch of each in turn), wall time of training + validation to reach a
   val loss of 1.60 and the reference's best (--quick: the same ratio of the seed runs in
   results/runs/, as recorded);
4. the whole run: main.py's default recipe against its `--preset reference`, both on main.py's loop,
   an epoch of each in turn; each recipe's median epoch times its epoch count, summed over the
   models (--quick: one epoch of each);
5. peak resident memory of a one-epoch training run of each model (a child process);
6. sampling speed: the reference's one-sample-at-a-time loop vs generate.sample at batch 1 and 25.
"""
import argparse
import copy
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

import generate
import main as train
from main import RECIPES
from dataset import Split, load_corpus, make_split
from model import MODELS, build_model, cpu_name, resolve_device

ROOT = Path(__file__).resolve().parent


class ReferenceDataset(torch.utils.data.Dataset):
    """The reference's data path: every item is built from Python lists of character indices."""

    def __init__(self, text: str, stoi: dict, seq_len: int):
        self.text, self.stoi, self.seq_len = text, stoi, seq_len

    def __len__(self):
        return (len(self.text) - 1) // self.seq_len

    def __getitem__(self, i):
        chunk = self.text[i * self.seq_len:(i + 1) * self.seq_len + 1]
        return torch.tensor([self.stoi[c] for c in chunk[:-1]]), torch.tensor([self.stoi[c] for c in chunk[1:]])


def as_reference(model):
    """A copy of `model` that calls nn.RNN / nn.LSTM as modules, as the reference does (no CPU fast path)."""
    plain = copy.deepcopy(model)
    plain.fast_rnn = False
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


def our_steps(model, optimizer, ema, chunks, ids, batch_size: int, steps: int, generator,
              device="cpu") -> int:
    """main.run_epoch on `steps` batches: exactly the training loop main.py runs, moving average included."""
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    trainer = train.Trainer(optimizer, scheduler, 1.0, ema, generator, None)
    train.run_epoch(model, chunks, ids[:steps * batch_size], batch_size, device, trainer)
    return min(len(ids), steps * batch_size) * chunks.seq_len


def interleave(contenders: dict, reps: int, device="cpu") -> dict:
    """Run each contender once per round, `reps` rounds; each contender's rate (units/s) in every round."""
    rates = {name: [] for name in contenders}
    for _ in range(reps):
        for name, fn in contenders.items():
            sync(device)
            t0 = time.perf_counter()
            units = fn()
            sync(device)
            rates[name].append(units / (time.perf_counter() - t0))
    return rates


def ratios(a: list, b: list) -> dict:
    """a / b round by round (the two ran back to back, so drift between rounds cancels): median and range."""
    r = [x / y for x, y in zip(a, b)]
    return dict(median=statistics.median(r), min=min(r), max=max(r))


def step_gemms(kind: str, batch: int, seq_len: int, hidden: int, layers: int, vocab: int) -> list:
    """(m, k, n, count) of the forward GEMMs of one step; a training step costs 3x their FLOPs
    (forward, plus gradients for inputs and weights): 3 * sum 2*m*k*n*count."""
    gates = 4 if kind == "lstm" else 1
    return [(batch * seq_len, hidden, gates * hidden, layers),  # input projections, all time steps at once
            (batch, hidden, gates * hidden, layers * seq_len),  # recurrent projections, one per time step
            (batch * seq_len, hidden, vocab, 1)]  # read-out


def sgemm_steps(gemms: list, steps: int, device="cpu") -> float:
    """torch.mm on a step's GEMM shapes, each as often as `steps` training steps run it (3x the
    forward count: forward and the two gradient products cost the same FLOPs); returns the FLOPs
    done. Timed in the same rounds as the training steps, it gives the machine's rate on exactly
    this work."""
    flops = 0.0
    for m, k, n, count in gemms:
        a, b = torch.randn(m, k, device=device), torch.randn(k, n, device=device)
        for _ in range(3 * count * steps):
            torch.mm(a, b)
        flops += 3 * count * steps * 2 * m * k * n
    return flops


@dataclass
class BenchData:
    """The study's file as both loops train on it: main.py's split, and the reference's Dataset of
    its training chunks."""

    split: Split
    reference: torch.utils.data.Dataset
    vocab_size: int


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
    for kind in MODELS:
        curves = {recipe: [[(r["val_loss"],
                             r["wall_s"]) for r in json.loads(p.read_text())["models"][kind]["history"]]
                           for p in sorted(runs_dir.glob(f"{recipe}-seed*.json"))] for recipe in RECIPES}
        pairs = list(zip(curves["reference"], curves["default"]))
        result[kind] = {}
        for name, target in (("1.60", lambda r: 1.60),
                             ("reference_best", lambda r: min(v for v, _ in r))):
            rows = [time_ratio(r, d, target(r)) for r, d in pairs]
            found = [row["ratio"] for row in rows if row["ratio"]]
            result[kind][name] = dict(reference_s=[row["reference_s"] for row in rows],
                                      default_s=[row["default_s"] for row in rows],
                                      ratio=statistics.median(found) if found else None)
    return result


def recipe_settings(kind: str, recipe: str) -> dict:
    """main.py's settings for `kind` under `recipe` ("reference" or "default"), with its other defaults."""
    return train.resolve(kind, recipe, vars(train.get_args(["--device", "cpu"])))


def training_epochs(kind: str, recipe: str, data: BenchData, seed: int, reference_loop: bool = True,
                    device="cpu"):
    """Train `kind` from scratch and yield (validation loss, seconds of training + validation) per
    epoch. The reference recipe trains on the reference's loop (reference_steps: DataLoader,
    per-tensor Adam) if `reference_loop`; everything else is main.py's own epochs
    (main.train_epochs)."""
    s = recipe_settings(kind, recipe) | dict(seed=seed)
    model, trainer = train.setup_training(kind, s, data.vocab_size, data.split, device)
    if not (recipe == "reference" and reference_loop):
        rows = train.train_epochs(model, trainer, data.split, s["batch_size"], device, 0,
                                  s["epochs"])
        yield from ((row["val_loss"], row["seconds"]) for row in rows)
        return
    model = as_reference(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=s["lr"])  # the study's, in place of the trainer's
    loader = torch.utils.data.DataLoader(data.reference, batch_size=s["batch_size"], shuffle=True,
                                         generator=torch.Generator().manual_seed(seed))
    val = data.split
    for _ in range(s["epochs"]):
        t0 = time.perf_counter()
        reference_steps(model, optimizer, loader, len(loader), device)
        loss = train.run_epoch(model, val.chunks, val.val, train.EVAL_BATCH, device)[0]  # syncs: .item()
        yield loss, time.perf_counter() - t0


def time_to_quality_side_by_side(kind: str, data: BenchData, seed: int, fixed: float = 1.60,
                                 device="cpu") -> dict:
    """Both recipes trained in this process, an epoch of one then an epoch of the other, and the
    wall time each takes to first reach `fixed` and the reference's best. The reference runs all its
    epochs (its best is known only then); ours pauses once it has reached both targets as they
    stand, resumes if the reference's best drops below its own, and stops when the reference is done
    and ours has caught up."""
    runs = {r: training_epochs(kind, r, data, seed, device=device) for r in ("reference",
                                                                             "default")}
    curves = {r: [] for r in runs}  # (val loss, seconds since start) per epoch
    done = set()
    best = lambda r: min((v for v, _ in curves[r]), default=math.inf)
    while "reference" not in done or ("default" not in done and best("default") > best("reference")):
        for r in runs:
            if r in done or (r == "default" and best(r) <= min(best("reference"), fixed)):
                continue
            try:
                loss, seconds = next(runs[r])
            except StopIteration:
                done.add(r)
                continue
            curves[r].append((loss, seconds + (curves[r][-1][1] if curves[r] else 0.0)))
    row = {"reference_best_loss": best("reference"),
           "curves": {r: [[round(v, 4), round(t, 2)] for v, t in c] for r, c in curves.items()}}
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
    for kind in MODELS:
        runs = {r: training_epochs(kind, r, data, 0, reference_loop=False,
                                   device=device) for r in seconds}
        times = {r: [] for r in runs}
        for _ in range(epochs + 1):
            for r in runs:
                times[r].append(next(runs[r])[1])
        row[kind] = {}
        for r in runs:
            count = recipe_settings(kind, r)["epochs"]
            epoch_s = statistics.median(times[r][1:])
            row[kind][r] = dict(epoch_s=round(epoch_s, 2), epochs=count)
            seconds[r] += epoch_s * count
    return row | dict(default_s=round(seconds["default"], 1),
                      reference_s=round(seconds["reference"], 1),
                      ratio=seconds["default"] / seconds["reference"])


def peak_memory_mb(kind: str, data: str, epochs: int = 1, device="cpu") -> float:
    """Peak resident memory of `main.py --models KIND` for one epoch, read from the child's rusage."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "--models", kind,
                                 "--epochs", str(epochs),
                                 "--data", data, "--out-dir", tmp, "--figures-dir", tmp, "--device",
                                 str(device)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        code = os.waitstatus_to_exitcode(status)
    if code:
        raise RuntimeError(f"the one-epoch run of main.py --models {kind} failed with exit status {code}")
    return usage.ru_maxrss / 1024


def machine(device) -> dict:
    """Where the timings ran: the CPU and torch, and on a GPU its name, CUDA, cuDNN and driver versions."""
    found = dict(cpu=cpu_name(), threads=torch.get_num_threads(), torch=torch.__version__,
                 python=platform.python_version(), device=str(device))
    if device.type == "cuda":
        found |= dict(gpu=torch.cuda.get_device_name(device), cuda=torch.version.cuda,
                      cudnn=torch.backends.cudnn.version(),
                      cudnn_enabled=torch.backends.cudnn.enabled)
        try:  # the driver's version is not in torch; NVIDIA's bindings have it where they are installed
            import pynvml
            pynvml.nvmlInit()
            found["driver"] = pynvml.nvmlSystemGetDriverVersion()
        except Exception:
            found["driver"] = None
    return found


def reference_sampling(model, vocab: str, length: int) -> int:
    """The reference's loop, corrected: one sample, one character per module call, .item() each step."""
    x, hidden = torch.tensor([[vocab.index("T")]], device=next(model.parameters()).device), None
    with torch.no_grad():
        for _ in range(length):
            logits, hidden = model(x, hidden)
            x = torch.multinomial(torch.softmax(logits[0, -1] / 0.7, -1), 1).view(1, 1)
            x.item()
    return length


def training_speed(kind: str, data: BenchData, reps: int, steps: int, device) -> dict:
    """Characters per second of the reference's step and ours (batch 64, no dropout), of ours at the
    default recipe's batch and dropout, and the sgemm rate on the step's shapes, interleaved."""
    split, vocab_size = data.split, data.vocab_size
    torch.manual_seed(0)
    model = build_model(dict(kind=kind, vocab_size=vocab_size)).to(device)
    reference = as_reference(model)
    optimizer = torch.optim.Adam(reference.parameters(), lr=1e-3)  # the reference's
    ours = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)  # main.py's
    recipe = recipe_settings(kind, "default")  # dropout included
    default_model, default_trainer = train.setup_training(kind, recipe, vocab_size, split, device)
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(recipe["ema"]))  # as main.py trains
    loader = torch.utils.data.DataLoader(data.reference, batch_size=64, shuffle=True)
    generator = torch.Generator().manual_seed(0)
    batch = recipe["batch_size"]
    gemms = step_gemms(kind, 64, 30, 128, 4, vocab_size)
    flops_per_char = 3 * sum(2 * m * k * n * c for m, k, n, c in gemms) / (64 * 30)
    chunks, ids = split.chunks, split.train
    contenders = {
        "reference": lambda: reference_steps(reference, optimizer, loader, steps, device),
        "ours": lambda: our_steps(model, ours, ema, chunks, ids, 64, steps, generator, device),
        "ours_default_batch": lambda: our_steps(default_model, default_trainer.optimizer,
                                                default_trainer.ema, chunks, ids, batch,
                                                steps * 64 // batch, generator, device),
        "sgemm": lambda: sgemm_steps(gemms, steps, device)}
    interleave(contenders, 1, device)  # warm-up: allocator, oneDNN primitives / cuDNN plans
    per_round = interleave(contenders, reps, device)
    rates = {name: statistics.median(r) for name, r in per_round.items()}
    throughput = ratios(per_round["ours"], per_round["reference"])
    fraction = ratios([r * flops_per_char for r in per_round["ours"]], per_round["sgemm"])
    return dict(reference_chars_s=round(rates["reference"]), ours_chars_s=round(rates["ours"]),
                ratio=throughput["median"], ratio_range=[throughput["min"], throughput["max"]],
                default_batch=batch, ours_default_batch_chars_s=round(rates["ours_default_batch"]),
                ours_default_batch_steps_s=rates["ours_default_batch"] / (30 * batch),
                reference_steps_s=rates["reference"] / (30 * 64), flops_per_char=flops_per_char,
                sgemm_gflops=rates["sgemm"] / 1e9,
                achieved_gflops=rates["ours"] * flops_per_char / 1e9,
                sgemm_fraction=fraction["median"],
                sgemm_fraction_range=[fraction["min"], fraction["max"]])


def sampling_speed(kind: str, vocab: str, reps: int, length: int, device) -> dict:
    """Characters per second: the reference's one-sample loop against generate.sample at batch 1 and 25."""
    torch.manual_seed(0)
    model = build_model(dict(kind=kind, vocab_size=len(vocab))).to(device).eval()
    reference = as_reference(model)
    batch = lambda n: length * len(generate.sample(model, vocab, ["T"] * n, [0.7] * n, length,
                                                   list(range(n))))
    samplers = {"reference_batch1": lambda: reference_sampling(reference, vocab, length),
                "ours_batch1": lambda: batch(1), "ours_batch25": lambda: batch(25)}
    s = {name: statistics.median(r) for name, r in interleave(samplers, reps, device).items()}
    return {k: round(v) for k, v in s.items()} | dict(
        ratio_batch1=s["ours_batch1"] / s["reference_batch1"],
        ratio_batch25=s["ours_batch25"] / s["reference_batch1"])


def time_to_quality(data: BenchData, seeds: list, device) -> dict:
    """time_to_quality_side_by_side for each model and seed, and the median ratio over the seeds."""
    result = {}
    for kind in MODELS:
        rows = [time_to_quality_side_by_side(kind, data, seed, device=device) for seed in seeds]
        found = [r["reference_best"]["ratio"] for r in rows if r["reference_best"]["ratio"]]
        result[kind] = dict(seeds=seeds, runs=rows,
                            ratio=statistics.median(found) if found else None)
        times = [f"{r['reference_best']['reference_s']} s -> {r['reference_best']['default_s']} s"
                 for r in rows]
        print(f"{kind}: time to the reference's best " + ", ".join(times), flush=True)
    return result


def main(argv=None):
    p = argparse.ArgumentParser(usage="%(prog)s [options]",
                                description="Benchmark against the reference loops.")
    p.add_argument("--data", default="data/shakespeare_train.txt",
                   help="corpus to train on (python data/prepare.py --source tinyshakespeare)")
    p.add_argument("--device", default="cpu",
                   help="cpu, or cuda[:N] to time both loops on a GPU (cuDNN on)")
    p.add_argument("--quick", action="store_true", help="few repeats: finishes in under a minute")
    p.add_argument("--out", default=str(ROOT / "results" / "bench.json"),
                   help="where to write the JSON")
    p.add_argument("--seeds", type=int, nargs="+", default=[0],
                   help="seeds of the side-by-side time-to-quality runs (about 5 minutes each)")
    args = p.parse_args(argv)
    try:
        device = resolve_device(args.device)
    except ValueError as e:
        p.error(str(e))
    reps, steps, length = (3, 4, 50) if args.quick else (7, 40, 300)
    text, vocab, encoded = load_corpus(args.data)
    split = make_split(encoded, 30, 0, vocab.pad, 0)  # main.py's, on the study's protocol
    reference = torch.utils.data.Subset(ReferenceDataset(text, vocab.stoi, 30),
                                        split.train.tolist())
    data = BenchData(split, reference, len(vocab))
    result = dict(machine=machine(device) | dict(quick=args.quick), throughput={},
                  throughput_ratio={}, sgemm_fraction={}, sampling={})
    for kind in MODELS:
        t = result["throughput"][kind] = training_speed(kind, data, reps, steps, device)
        result["throughput_ratio"][kind] = t.pop("ratio")
        result["sgemm_fraction"][kind] = t.pop("sgemm_fraction")
        s = result["sampling"][kind] = sampling_speed(kind, vocab.chars, reps, length, device)
        print(f"{kind}: train {t['reference_chars_s']:,} -> {t['ours_chars_s']:,} chars/s "
              f"({result['throughput_ratio'][kind]:.2f}x), {result['sgemm_fraction'][kind]:.0%} of "
              f"sgemm | sampling {s['reference_batch1']:,} -> {s['ours_batch1']:,} (batch 1), "
              f"{s['ours_batch25']:,} (batch 25) chars/s", flush=True)
    recorded = time_to_quality_recorded(ROOT / "results" / "runs")
    result["time_to_quality_recorded"] = recorded
    if args.quick:  # no training here: the ratios the seed runs recorded
        result["time_to_quality_ratio"] = {k: v["reference_best"]["ratio"] for k, v in recorded.items()}
    else:
        result["time_to_quality"] = time_to_quality(data, args.seeds, device)
        result["time_to_quality_ratio"] = {k: v["ratio"] for k, v in result["time_to_quality"].items()}
    result["whole_run"] = whole_run_side_by_side(data, epochs=1 if args.quick else 3, device=device)
    result["whole_run_ratio"] = result["whole_run"]["ratio"]
    result["peak_memory_mb"] = {kind: round(peak_memory_mb(kind, args.data, device=device), 1)
                                for kind in MODELS}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    keys = ("throughput_ratio", "sgemm_fraction", "time_to_quality_ratio", "whole_run_ratio")
    print(json.dumps({k: result[k] for k in keys}, indent=1))


if __name__ == "__main__":
    main()
