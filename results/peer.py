"""Our models against nanoGPT on its own split: its text, cut, protocol and CPU budget, one machine.

    python data/prepare.py --source tinyshakespeare-full      # data/tinyshakespeare.txt
    python -m results.peer --nanogpt ../nanoGPT                # its CPU command timed, then ours

nanoGPT (github.com/karpathy/nanoGPT) runs from its own checkout, never copied here, with its data
prepared by its own script from the same text (`cp data/tinyshakespeare.txt
../nanoGPT/data/shakespeare_char/input.txt && python ../nanoGPT/data/shakespeare_char/prepare.py`);
its validation text is checked to be our held-out tail, character for character. Its README's CPU
command is timed first, three times; the median wall time is the budget: each of our runs trains
for as many optimizer steps as fit in it (`main.py --max-steps`, sized by a probe of the same model
on the same machine just before), on the same 1,003,854 characters (`--val-tail 0.1`). Every model,
nanoGPT's checkpoint included, is then scored exactly on the 111,540-character tail in blocks of 64
and 256 (nanoGPT's protocol, every character once), read in order with the state carried, and
adapting (dynamic evaluation with generate.py --adapt's settings). Results: results/peer.json,
each of our runs' metrics in results/peer/, the best LSTM in checkpoints/nanogpt-split/. A run
already in results/peer.json is skipped. Keep the machine otherwise idle while it runs: the budget
is wall time.
"""

import argparse
import importlib.util
import json
import math
import pickle
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from dataset import Vocab, load_corpus
from evaluation import READ_AS, dynamic_settings, dynamic_update, read, streams
from model import cpu_name, load_checkpoint, num_params, width_for
from trainer import EVAL_BATCH, resolve, run_epoch, setup_training

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "peer.json"
SHIPPED = (
    ROOT / "checkpoints" / "nanogpt-split" / "lstm-cpu.pt"
)  # the best LSTM at nanoGPT's budget
DATA = "data/tinyshakespeare.txt"
VAL_TAIL = 0.1  # nanoGPT's cut: int(n * 0.9)
NANOGPT_CPU = (  # its README's command for a CPU ("about 3 minutes")
    "python train.py config/train_shakespeare_char.py --device=cpu --compile=False --eval_iters=20 "
    "--log_interval=1 --block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128 "
    "--max_iters=2000 --lr_decay_iters=2000 --dropout=0.0"
)
BUDGET = num_params("lstm", 128, 65)  # the LSTM at the study's width: every cell at its count
PROBE_STEPS = 200  # optimizer steps timed to size a run to the budget (after 10 untimed)


def nanogpt(folder: Path, tail: str, repeats: int) -> dict:
    """Run nanoGPT's CPU command in its checkout `repeats` times, timed (the median is the budget);
    score the last run's best checkpoint exactly."""
    data = folder / "data" / "shakespeare_char"
    meta = pickle.loads((data / "meta.pkl").read_bytes())
    val = np.fromfile(data / "val.bin", dtype=np.uint16)
    if "".join(meta["itos"][int(i)] for i in val) != tail:
        raise SystemExit(f"{data}/val.bin is not our held-out tail: prepare it from {DATA}")
    out = ROOT / "runs" / "peer" / "nanogpt"
    out.mkdir(parents=True, exist_ok=True)
    walls = []
    for _ in range(repeats):
        start = time.perf_counter()
        log = subprocess.run([sys.executable, *NANOGPT_CPU.split()[1:], f"--out_dir={out}"],
                             cwd=folder, check=True, capture_output=True, text=True).stdout  # fmt: skip
        walls.append(round(time.perf_counter() - start, 1))
    (out / "log.txt").write_text(log)
    line = r"step (\d+): train loss ([\d.]+), val loss ([\d.]+)"
    evals = [dict(step=int(s), train=float(t), val=float(v)) for s, t, v in re.findall(line, log)]
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True,
                            text=True).stdout.strip()  # fmt: skip
    gpt, ckpt = load_gpt(folder, out / "ckpt.pt")
    ids = torch.tensor([meta["stoi"][c] for c in tail])
    return dict(commit=commit, command=NANOGPT_CPU, walls_s=walls, wall_s=statistics.median(walls),
                threads=torch.get_num_threads(), evals=evals, final_val=evals[-1]["val"],
                params=sum(p.numel() for p in gpt.parameters()), params_reported=gpt.get_num_params(),
                checkpoint_step=ckpt["iter_num"], blocks64=gpt_blocks(gpt, ids, 64))  # fmt: skip


def load_gpt(folder: Path, path: Path):
    """nanoGPT's model class from its checkout (imported, not copied) and its checkpoint."""
    spec = importlib.util.spec_from_file_location("nanogpt_model", folder / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    gpt = module.GPT(module.GPTConfig(**ckpt["model_args"]))
    state = {k.removeprefix("_orig_mod."): v for k, v in ckpt["model"].items()}
    gpt.load_state_dict(state)
    return gpt.eval(), ckpt


@torch.no_grad()
def gpt_blocks(gpt, ids: torch.Tensor, size: int) -> dict:
    """nanoGPT's protocol, exact: every character but the first, in non-overlapping blocks of
    `size` (the same blocks as evaluation.blocks)."""
    x, y = streams(ids, math.ceil((len(ids) - 1) / size), size, 0)
    total, correct = 0.0, 0
    for start in range(0, len(x), EVAL_BATCH):
        xs, ys = x[start : start + EVAL_BATCH], y[start : start + EVAL_BATCH]
        logits, _ = gpt(xs, ys)  # with targets it returns every position's logits
        losses = F.cross_entropy(logits.transpose(1, 2), ys, ignore_index=-1, reduction="sum")
        total += losses.item()
        correct += int((logits.argmax(-1) == ys).sum())
    count = int((y >= 0).sum())
    return dict(loss=total / count, bits=total / count / math.log(2), acc=correct / count)


def probe(kind: str, width: int, split, vocab_size: int) -> tuple[float, float]:
    """Seconds per optimizer step and per validation pass of this model on this machine, now."""
    s = resolve(kind, "default", dict(hidden_size=width, val_tail=VAL_TAIL))
    model, trainer = setup_training(kind, s, vocab_size, split, "cpu")
    run_epoch(model, split.chunks, split.train, s.batch_size, "cpu", trainer, max_steps=10)
    start = time.perf_counter()
    run_epoch(model, split.chunks, split.train, s.batch_size, "cpu", trainer, max_steps=PROBE_STEPS)
    step = (time.perf_counter() - start) / PROBE_STEPS
    start = time.perf_counter()
    run_epoch(trainer.validated(model), split.chunks, split.val, EVAL_BATCH, "cpu")
    return step, time.perf_counter() - start


def steps_in(budget: float, step: float, val: float, per_epoch: int) -> int:
    """The most optimizer steps whose training and end-of-epoch validations fit in `budget` s."""
    steps = int(budget / step)
    while steps * step + math.ceil(steps / per_epoch) * val > budget:
        steps -= 1
    return steps


def ours(kind: str, seed: int, budget: float, corpus) -> dict:
    """One of our models trained within `budget` seconds on nanoGPT's split, then scored."""
    text, vocab, data = corpus
    width = width_for(kind, BUDGET, len(vocab))
    s = resolve(kind, "default", dict(hidden_size=width, val_tail=VAL_TAIL))
    split = s.split(data, vocab.pad)
    per_epoch = math.ceil(len(split.train) / s.batch_size)
    step, val = probe(kind, width, split, len(vocab))
    steps = steps_in(budget, step, val, per_epoch)
    name = f"{kind}-cpu-seed{seed}"
    folder = f"runs/peer/{name}"
    flags = ["--data", DATA, "--val-tail", str(VAL_TAIL), "--models", kind, "--hidden-size",
             str(width), "--seed", str(seed), "--epochs", str(math.ceil(steps / per_epoch)),
             "--max-steps", str(steps), "--out-dir", folder, "--figures-dir", folder]  # fmt: skip
    subprocess.run([sys.executable, "main.py", *flags], cwd=ROOT, check=True)
    metrics = json.loads((ROOT / folder / "metrics.json").read_text())
    (ROOT / "results" / "peer").mkdir(exist_ok=True)
    (ROOT / "results" / "peer" / f"{name}.json").write_text(json.dumps(metrics, indent=1) + "\n")
    r = metrics["models"][kind]
    return dict(kind=kind, seed=seed, params=r["params"], width=width, steps=steps,
                probe=dict(step_s=step, val_s=val), wall_s=r["history"][-1]["wall_s"],
                dynamic=adapt(ROOT / folder / f"{kind}.pt", text[split.val_start :]),
                **{k: r["evaluation"][k] for k in r["evaluation"] if k.startswith("val_")})  # fmt: skip


def adapt(path: Path, tail: str) -> dict:
    """The tail read with dynamic evaluation: generate.py --adapt's settings, the checkpoint's
    gradient statistics (over the training text only)."""
    model, ckpt = load_checkpoint(path)
    settings, family = dynamic_settings(ckpt["config"])
    vocab = Vocab(ckpt["vocab"])
    data = vocab.encode(tail, unknown=-1)
    update = dynamic_update(model, settings, ckpt["grad_ms"])
    fill = vocab.stoi.get(READ_AS, vocab.pad)
    nll, _ = read(model, data, "dynamic", settings["seg_len"], settings["streams"], update, fill)
    loss = nll[~nll.isnan()].mean().item()
    return dict(loss=loss, bits=loss / math.log(2), settings=settings, family=family)


def main(argv=None):
    p = argparse.ArgumentParser(description="Our models against nanoGPT on its split and budget.")
    p.add_argument("--nanogpt", type=Path, help="a nanoGPT checkout, its data prepared")
    p.add_argument("--models", nargs="+", default=["lstm", "rnn", "gru"], help="our cells")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--repeats", type=int, default=3, help="times nanoGPT's command is timed")
    args = p.parse_args(argv)
    done = json.loads(OUT.read_text()) if OUT.exists() else {"runs": {}}
    corpus = load_corpus(ROOT / DATA)
    tail = corpus[0][int(len(corpus[0]) * (1 - VAL_TAIL)) :]
    if "nanogpt" not in done:
        if args.nanogpt is None:
            p.error("give --nanogpt DIR: its CPU command's wall time is the budget")
        done |= dict(nanogpt=nanogpt(args.nanogpt.resolve(), tail, args.repeats), machine=cpu_name(),
                     torch=torch.__version__, tail_chars=len(tail))  # fmt: skip
        OUT.write_text(json.dumps(done, indent=1) + "\n")
    budget = done["nanogpt"]["wall_s"]
    for kind in args.models:
        for seed in args.seeds:
            name = f"{kind}-cpu-seed{seed}"
            if name not in done["runs"]:
                print(f"{name}: {budget:.0f} s, nanoGPT's wall time", flush=True)
                done["runs"][name] = ours(kind, seed, budget, corpus)
                OUT.write_text(json.dumps(done, indent=1) + "\n")
    ship(done["runs"])


def ship(runs: dict) -> None:
    """The LSTM seed of lowest loss in blocks of 64 -> checkpoints/nanogpt-split/lstm-cpu.pt."""
    lstm = {name: r for name, r in runs.items() if r["kind"] == "lstm"}
    if lstm:
        best = min(lstm, key=lambda name: lstm[name]["val_blocks64_loss"])
        SHIPPED.parent.mkdir(exist_ok=True)
        shutil.copy(ROOT / "runs" / "peer" / best / "lstm.pt", SHIPPED)


if __name__ == "__main__":
    main()
