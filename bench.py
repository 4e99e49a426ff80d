"""Speed against the reference study's loops, measured side by side in one process.

    python bench.py                                   # full run: results/bench.json
    python bench.py --quick --out /tmp/bench.json     # under a minute, same JSON shape
    python bench.py --device cuda --out results/bench-cuda.json    # the same on a GPU (cuDNN on)

Timings drift ~20% between processes on a shared machine, so the contenders run interleaved
(A B A B ...) in this one process and only medians and ratios are reported; a ratio is the median of
the per-round ratios, with their range.
1. training throughput (characters/s) at batch 64: our step (trainer.run_epoch, fused Adam, the moving
   average of the weights, and for the RNN and the GRU fused.recurrence) vs a faithful copy of the
   reference's (a Dataset building Python lists per item, a DataLoader, nn.RNN / nn.LSTM called as
   modules, per-tensor Adam, loss.item() every step), both without dropout as the reference trained;
   and ours with each model's default recipe (its batch size and dropout);
2. achieved FLOP rate of our step / this machine's sgemm rate on the step's own matrix shapes, timed
   in the same rounds;
3. time to quality (race.py): the reference preset on the reference's loop and our default
   recipe on ours, trained side by side (an epoch of each in turn), wall time of training +
   validation to reach a val loss of 1.60 and the reference's best (--quick: the same ratio of the
   seed runs in results/runs/, as recorded);
4. the whole run: main.py's default recipe against its `--preset reference`, both on main.py's loop,
   an epoch of each in turn; each recipe's median epoch times its epoch count, summed over the
   models (--quick: one epoch of each);
5. peak resident memory of a one-epoch training run of each model (a child process);
6. sampling speed: the reference's one-sample-at-a-time loop vs model.sample at batch 1 and 25.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from dataset import CorpusError, load_corpus, make_split
from model import (
    GATES,
    LADDER,
    RECURRENT,
    build_model,
    cpu_name,
    device_flag,
    machine,
    num_params,
    width_for,
)
from race import (
    BenchData,
    ReferenceDataset,
    as_reference,
    reference_steps,
    sync,
    time_to_quality,
    time_to_quality_recorded,
    whole_run_side_by_side,
)
from sampling import sample
from trainer import STUDIED, Trainer, resolve, run_epoch, setup_training

ROOT = Path(__file__).resolve().parent


def our_steps(
    model, optimizer, ema, chunks, ids, batch_size: int, steps: int, generator, device="cpu"
) -> int:
    """main.run_epoch on `steps` batches: exactly the training loop main.py runs, moving average included."""
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    trainer = Trainer(optimizer, scheduler, 1.0, ema, generator, None)
    run_epoch(model, chunks, ids[: steps * batch_size], batch_size, device, trainer)
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
    gates = GATES[kind]
    return [
        (
            batch * seq_len,
            hidden,
            gates * hidden,
            layers,
        ),  # input projections, all time steps at once
        (
            batch,
            hidden,
            gates * hidden,
            layers * seq_len,
        ),  # recurrent projections, one per time step
        (batch * seq_len, hidden, vocab, 1),
    ]  # read-out


def step_flops_per_char(gemms: list, chars: int) -> float:
    """A training step's GEMM FLOPs per character: 3x the forward's (the two gradient products)."""
    return 3 * sum(2 * m * k * n * c for m, k, n, c in gemms) / chars


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


def peak_memory_mb(kind: str, data: str, epochs: int = 1, device="cpu") -> float:
    """Peak resident memory of `main.py --models KIND` for one epoch, read from the child's rusage."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "main.py"),
                "--models",
                kind,
                "--epochs",
                str(epochs),
                "--data",
                data,
                "--out-dir",
                tmp,
                "--figures-dir",
                tmp,
                "--device",
                str(device),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        code = os.waitstatus_to_exitcode(status)
    if code:
        raise RuntimeError(
            f"the one-epoch run of main.py --models {kind} failed with exit status {code}"
        )
    return usage.ru_maxrss / 1024


def environment(device) -> dict:
    """Where the timings ran: the CPU and torch, and on a GPU its name, CUDA, cuDNN and driver versions."""
    found = dict(
        cpu=cpu_name(),
        threads=torch.get_num_threads(),
        torch=torch.__version__,
        python=platform.python_version(),
        device=str(device),
    )
    if device.type == "cuda":
        found |= dict(
            gpu=machine(device),
            cuda=torch.version.cuda,
            cudnn=torch.backends.cudnn.version(),
            cudnn_enabled=torch.backends.cudnn.enabled,
        )
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


def step_contenders(kind: str, data: BenchData, steps: int, device) -> dict:
    """Each contender of training_speed: a function that runs `steps` steps and returns its units
    (characters trained on, or FLOPs for sgemm)."""
    split, vocab_size = data.split, data.vocab_size
    torch.manual_seed(0)
    model = build_model(dict(kind=kind, vocab_size=vocab_size)).to(device)
    reference = as_reference(model)
    optimizer = torch.optim.Adam(reference.parameters(), lr=1e-3)  # the reference's
    ours = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)  # main.py's
    recipe = resolve(kind, "default", {})  # dropout included
    default_model, default = setup_training(kind, recipe, vocab_size, split, device)
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(recipe.ema))  # as main.py trains
    loader = torch.utils.data.DataLoader(data.reference, batch_size=64, shuffle=True)
    gen, batch = torch.Generator().manual_seed(0), recipe.batch_size
    chunks, ids = split.chunks, split.train
    default_steps = steps * 64 // batch  # the same characters as 64-chunk steps
    gemms = step_gemms(kind, 64, 30, 128, 4, vocab_size)
    return {
        "reference": lambda: reference_steps(reference, optimizer, loader, steps, device),
        "ours": lambda: our_steps(model, ours, ema, chunks, ids, 64, steps, gen, device),
        "ours_default_batch": lambda: our_steps(
            default_model,
            default.optimizer,
            default.ema,
            chunks,
            ids,
            batch,
            default_steps,
            gen,
            device,
        ),
        "sgemm": lambda: sgemm_steps(gemms, steps, device),
    }


def training_speed(kind: str, data: BenchData, reps: int, steps: int, device) -> dict:
    """Characters per second of the reference's step and ours (batch 64, no dropout), of ours at the
    default recipe's batch and dropout, and the sgemm rate on the step's shapes, interleaved."""
    contenders = step_contenders(kind, data, steps, device)
    gemms = step_gemms(kind, 64, 30, 128, 4, data.vocab_size)
    flops_per_char = step_flops_per_char(gemms, 64 * 30)
    batch = resolve(kind, "default", {}).batch_size
    interleave(contenders, 1, device)  # warm-up: allocator, oneDNN primitives / cuDNN plans
    per_round = interleave(contenders, reps, device)
    rates = {name: statistics.median(r) for name, r in per_round.items()}
    throughput = ratios(per_round["ours"], per_round["reference"])
    fraction = ratios([r * flops_per_char for r in per_round["ours"]], per_round["sgemm"])
    ours_default = rates["ours_default_batch"]
    return dict(reference_chars_s=round(rates["reference"]), ours_chars_s=round(rates["ours"]),
                ratio=throughput["median"], ratio_range=[throughput["min"], throughput["max"]],
                default_batch=batch, ours_default_batch_chars_s=round(ours_default),
                ours_default_batch_steps_s=ours_default / (30 * batch),
                reference_steps_s=rates["reference"] / (30 * 64), flops_per_char=flops_per_char,
                sgemm_gflops=rates["sgemm"] / 1e9,
                achieved_gflops=rates["ours"] * flops_per_char / 1e9,
                sgemm_fraction=fraction["median"],
                sgemm_fraction_range=[fraction["min"], fraction["max"]])  # fmt: skip


def sampling_speed(kind: str, vocab: str, reps: int, length: int, device) -> dict:
    """Characters per second: the reference's one-sample loop against model.sample at batch 1 and 25."""
    torch.manual_seed(0)
    model = build_model(dict(kind=kind, vocab_size=len(vocab))).to(device).eval()
    reference = as_reference(model)
    batch = lambda n: (
        length * len(sample(model, vocab, ["T"] * n, [0.7] * n, length, list(range(n))))
    )
    samplers = {
        "reference_batch1": lambda: reference_sampling(reference, vocab, length),
        "ours_batch1": lambda: batch(1),
        "ours_batch25": lambda: batch(25),
    }
    s = {name: statistics.median(r) for name, r in interleave(samplers, reps, device).items()}
    return {k: round(v) for k, v in s.items()} | dict(
        ratio_batch1=s["ours_batch1"] / s["reference_batch1"],
        ratio_batch25=s["ours_batch25"] / s["reference_batch1"],
    )


CELL_STEP = dict(batch=16, seq_len=30, dropout=0.1, layers=4)  # every cell's step in cell_speed


def cell_contenders(kind: str, budget: int, data: BenchData, steps: int, length: int, device):
    """One cell at one budget: main.py's training step (run_epoch: fused Adam, the moving average)
    at CELL_STEP's batch and dropout, sgemm on that step's shapes, and model.sample at batch 1."""
    vocab_size, batch = data.vocab_size, CELL_STEP["batch"]
    width = width_for(kind, budget, vocab_size)
    torch.manual_seed(0)
    config = dict(kind=kind, vocab_size=vocab_size, hidden_size=width, dropout=CELL_STEP["dropout"])
    model = build_model(config).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=device.type != "mps")
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.999))
    gen, chunks, ids = torch.Generator().manual_seed(0), data.split.chunks, data.split.train
    gemms = step_gemms(kind, batch, CELL_STEP["seq_len"], width, CELL_STEP["layers"], vocab_size)
    prompt = data.vocab.chars[0]
    return (
        width,
        gemms,
        {
            "train": lambda: our_steps(
                model, optimizer, ema, chunks, ids, batch, steps, gen, device
            ),
            "sgemm": lambda: sgemm_steps(gemms, steps, device),
            "sample": lambda: (
                length * len(sample(model, data.vocab.chars, [prompt], [0.7], length, [0]))
            ),
        },
    )


def cell_speed(data: BenchData, reps: int, steps: int, length: int, budgets, threads, device):
    """Each cell's training and sampling step at every budget, for each thread count: per budget the
    rounds interleave the RNN, the LSTM and the GRU (and sgemm on each one's shapes), so each ratio
    to the LSTM is the median of ratios measured back to back."""
    rows, all_threads = [], torch.get_num_threads()
    for count in threads:
        torch.set_num_threads(count)
        for budget in budgets:
            made = {k: cell_contenders(k, budget, data, steps, length, device) for k in RECURRENT}
            contenders = {
                (k, part): fn for k, (_, _, fns) in made.items() for part, fn in fns.items()
            }
            interleave(contenders, 1, device)  # warm-up
            per_round = interleave(contenders, reps, device)
            cells = {
                k: cell_row(k, w, g, per_round, data.vocab_size) for k, (w, g, _) in made.items()
            }
            for kind, c in cells.items():
                ratio, share = c["step_ratio"]["median"], c["sgemm_fraction"]["median"]
                print(
                    f"{count} thread(s), {budget:,} params, {kind}: step {c['step_ms']:.1f} ms, "
                    f"{ratio:.2f}x the LSTM's, {share:.0%} of sgemm",
                    flush=True,
                )
            rows.append(dict(threads=count, budget=budget, cells=cells))
    torch.set_num_threads(all_threads)
    return rows


def cell_row(kind: str, width: int, gemms: list, per_round: dict, vocab_size: int) -> dict:
    """A cell's numbers from the rounds: its step time, its step's and its sampling's time over the
    LSTM's (round by round), and its FLOP rate over sgemm's on the same shapes."""
    train, chars = per_round[(kind, "train")], CELL_STEP["batch"] * CELL_STEP["seq_len"]
    flops_per_char = step_flops_per_char(gemms, chars)
    return dict(
        width=width,
        params=num_params(kind, width, vocab_size),
        step_ms=1e3 * chars / statistics.median(train),
        step_ratio=ratios(per_round[("lstm", "train")], train),
        sgemm_fraction=ratios([r * flops_per_char for r in train], per_round[(kind, "sgemm")]),
        sampling_chars_s=round(statistics.median(per_round[(kind, "sample")])),
        sampling_ratio=ratios(per_round[("lstm", "sample")], per_round[(kind, "sample")]),
    )


def get_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(usage="%(prog)s [options]", description=__doc__.split("\n")[0])
    p.add_argument(
        "--data",
        default="data/shakespeare_train.txt",
        help="the study's file (python data/prepare.py --source tinyshakespeare)",
    )
    p.add_argument(
        "--device",
        type=device_flag,
        default="auto",
        help="auto (CUDA, MPS, CPU), cpu, cuda[:N] (cuDNN on) or mps",
    )
    p.add_argument("--quick", action="store_true", help="few repeats: finishes in under a minute")
    p.add_argument("--out", default=str(ROOT / "results" / "bench.json"), help="the JSON")
    p.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0],
        help="seeds of the side-by-side time-to-quality runs (about 5 minutes each)",
    )
    args = p.parse_args(argv)
    return args


def bench_data(path: str) -> BenchData:
    """main.py's split of the study's file on the study's protocol, and the reference's Dataset."""
    try:
        text, vocab, encoded = load_corpus(path)
    except CorpusError as e:  # the timings are on the study's file, which a fresh clone lacks
        sys.exit(f"bench.py: error: {e} (python data/prepare.py --source tinyshakespeare)")
    split = make_split(encoded, 30, 0, vocab.pad, 0)
    reference = ReferenceDataset(text, vocab.stoi, 30)
    return BenchData(split, torch.utils.data.Subset(reference, split.train.tolist()), vocab)


def step_rates(data: BenchData, quick: bool, device) -> dict:
    """Throughput, sgemm fraction and sampling speed of each model."""
    reps, steps, length = (3, 4, 50) if quick else (7, 40, 300)
    result = dict(throughput={}, throughput_ratio={}, sgemm_fraction={}, sampling={})
    for kind in STUDIED:
        t = result["throughput"][kind] = training_speed(kind, data, reps, steps, device)
        result["throughput_ratio"][kind] = t.pop("ratio")
        result["sgemm_fraction"][kind] = t.pop("sgemm_fraction")
        s = result["sampling"][kind] = sampling_speed(kind, data.vocab.chars, reps, length, device)
        print(f"{kind}: train {t['reference_chars_s']:,} -> {t['ours_chars_s']:,} chars/s "
              f"({result['throughput_ratio'][kind]:.2f}x), {result['sgemm_fraction'][kind]:.0%} of "
              f"sgemm | sampling {s['reference_batch1']:,} -> {s['ours_batch1']:,} (batch 1), "
              f"{s['ours_batch25']:,} (batch 25) chars/s", flush=True)  # fmt: skip
    return result


def cell_rates(data: BenchData, quick: bool, device) -> dict:
    """The per-cell table: every ladder budget on one thread and on all (--quick: two budgets, the
    current thread count)."""
    budgets = [num_params("lstm", w, data.vocab_size) for w in LADDER]
    threads = (
        sorted({1, torch.get_num_threads()}) if device.type == "cpu" else [torch.get_num_threads()]
    )
    if quick:
        return dict(
            cell_step=CELL_STEP, cells=cell_speed(data, 2, 2, 20, budgets[:2], threads[-1:], device)
        )
    return dict(cell_step=CELL_STEP, cells=cell_speed(data, 9, 8, 200, budgets, threads, device))


def run_rates(data: BenchData, args) -> dict:
    """Time to quality, the whole run and peak memory."""
    recorded = time_to_quality_recorded(ROOT / "results" / "runs")
    result = dict(time_to_quality_recorded=recorded)
    if args.quick:  # no training here: the ratios the seed runs recorded
        result["time_to_quality_ratio"] = {
            k: v["reference_best"]["ratio"] for k, v in recorded.items()
        }
    else:
        runs = result["time_to_quality"] = time_to_quality(data, args.seeds, args.device)
        result["time_to_quality_ratio"] = {k: v["ratio"] for k, v in runs.items()}
    epochs = 1 if args.quick else 3
    result["whole_run"] = whole_run_side_by_side(data, epochs=epochs, device=args.device)
    result["whole_run_ratio"] = result["whole_run"]["ratio"]
    memory = {kind: peak_memory_mb(kind, args.data, device=args.device) for kind in STUDIED}
    result["peak_memory_mb"] = {kind: round(mb, 1) for kind, mb in memory.items()}
    return result


def main(argv=None):
    args = get_args(argv)
    data = bench_data(args.data)
    result = dict(machine=environment(args.device) | dict(quick=args.quick))
    result |= step_rates(data, args.quick, args.device) | cell_rates(data, args.quick, args.device)
    result |= run_rates(data, args)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    keys = ("throughput_ratio", "sgemm_fraction", "time_to_quality_ratio", "whole_run_ratio")
    print(json.dumps({k: result[k] for k in keys}, indent=1))


if __name__ == "__main__":
    main()
