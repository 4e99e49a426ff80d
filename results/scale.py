"""RNN, LSTM and GRU by size and data: the grid of runs behind results/README.md's scale section.

    python -m results.scale --list                  # the plan, and which runs are done
    python -m results.scale --threads 1 --part 1/2  # train what is missing, every 2nd run from the 1st
    python -m results.scale --rerun NAME            # train run NAME again from its recorded command

Each run is one `python main.py` (the cell's default recipe unchanged, one model) into
runs/scale/NAME/, its metrics copied to results/scale/NAME.json; a run whose JSON exists is skipped,
so the grid resumes and can be run in parts side by side. Sizes are the equal-parameter ladder: the
LSTM at widths 32..256 sets each budget, the RNN and the GRU take the width whose count is nearest
(model.width_for). Data: a nested share of the training chunks (--train-fraction); a share f trains
for epochs / f with early stopping, so every run has its full-data run's step ceiling.
"""

import argparse
import json
import math
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from data.prepare import HELD_OUT_FILES
from dataset import STATEFUL, load_corpus
from model import LADDER, num_params, width_for
from trainer import RECIPES

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "scale"
CELLS = ("rnn", "lstm", "gru")
FRACTIONS = (0.125, 0.25, 0.5, 1.0)
SEEDS = (0, 1, 2)
PATIENCE = 3  # epochs of full data (3/f epochs at share f) without a better validation loss


def budget_name(params: int) -> str:
    return f"{params / 1e6:.2f}M" if params >= 1e6 else f"{round(params / 1e3)}K"


def plan(vocab_size: int) -> list[dict]:
    """Every run of the grid, most informative first: seed 0 of every cell, budget and share, then
    seeds 1 and 2, the forget-gate ablation, then the largest budget and the learning-rate checks."""
    budgets = [num_params("lstm", w, vocab_size) for w in LADDER]
    runs = []

    def add(kind, budget, fraction, seed, tag="", **flags):
        width = width_for(kind, budget, vocab_size)
        name = f"{kind}-{budget_name(budget)}-f{fraction:g}{tag}-seed{seed}"
        epochs = round(RECIPES["default"][kind].epochs / fraction)
        args = dict(hidden_size=width, train_fraction=fraction, epochs=epochs, seed=seed)
        args |= dict(patience=math.ceil(PATIENCE / fraction)) | flags
        runs.append(dict(name=name, kind=kind, budget=budget, args=args))

    for seed in SEEDS:
        for budget in budgets[:3]:
            for fraction in FRACTIONS:
                for kind in CELLS:
                    add(kind, budget, fraction, seed)
    for seed in SEEDS:  # the forget-gate bias at 1 (char-rnn's init), at the study's size
        add("lstm", budgets[2], 1.0, seed, tag="-forget1", forget_bias=True)
    for fraction in (1.0, 0.125):
        for kind in CELLS:
            add(kind, budgets[3], fraction, 0)
    for kind in CELLS:  # does a cell's ranking hang on its learning rate? At the largest budget
        for factor in (0.5, 2):
            lr = RECIPES["default"][kind].lr * factor
            add(kind, budgets[3], 1.0, 0, tag=f"-lr{factor:g}x", lr=lr)
    return runs


def command(run: dict, data: str) -> list[str]:
    flags = []
    for key, value in run["args"].items():
        flag = "--" + key.replace("_", "-")
        flags += [flag] if value is True else [flag, f"{value:g}" if key == "lr" else str(value)]
    folder = f"runs/scale/{run['name']}"
    where = ["--out-dir", folder, "--figures-dir", folder]
    held = [w for name in STATEFUL for w in (f"--{name}", f"data/{HELD_OUT_FILES[name]}")]
    return ["python", "main.py", "--data", data, *held, "--models", run["kind"], *flags, *where]


def get_args(argv=None):
    p = argparse.ArgumentParser(description="Train the scale grid's missing runs.")
    p.add_argument("--data", default="data/shakespeare_train.txt", help="the training text")
    p.add_argument("--part", default="1/1", help="K/N: every N-th run of the plan from the K-th")
    p.add_argument("--threads", type=int, help="CPU threads per run (default: torch's)")
    p.add_argument("--cells", nargs="+", choices=CELLS, default=CELLS, help="only these cells")
    p.add_argument(
        "--list", action="store_true", help="print the plan and what is done; train none"
    )
    p.add_argument("--rerun", metavar="NAME", help="train a done run again from its own command")
    return p.parse_args(argv)


def rerun(name: str) -> dict:
    """Train run `name` again from the command its JSON recorded, into runs/scale-rerun/NAME, and
    compare the best validation losses -> results/scale_rerun.json."""
    recorded = json.loads((OUT / f"{name}.json").read_text())
    folder = f"runs/scale-rerun/{name}"
    cmd = shlex.split(recorded["command"].replace(f"runs/scale/{name}", folder))
    start = time.perf_counter()
    subprocess.run([sys.executable, *cmd[1:]], cwd=ROOT, check=True)
    again = json.loads((ROOT / folder / "metrics.json").read_text())
    best = [next(iter(m["models"].values()))["best"]["val_loss"] for m in (recorded, again)]
    result = dict(name=name, command=" ".join(cmd), recorded=best[0], rerun=best[1],
                  difference=best[1] - best[0], wall_s=round(time.perf_counter() - start))  # fmt: skip
    (ROOT / "results" / "scale_rerun.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def main(argv=None):
    args = get_args(argv)
    if args.rerun:
        print(rerun(args.rerun))
        return
    k, n = (int(v) for v in args.part.split("/"))
    _, vocab, _ = load_corpus(ROOT / args.data)
    runs = [r for r in plan(len(vocab)) if r["kind"] in args.cells][k - 1 :: n]
    OUT.mkdir(parents=True, exist_ok=True)
    for i, run in enumerate(runs, 1):
        done = (OUT / f"{run['name']}.json").exists()
        if args.list or done:
            print(f"{'done' if done else 'todo'} {run['name']} {run['args']}")
            continue
        print(f"[{i}/{len(runs)}] {run['name']}", flush=True)
        cmd = command(run, args.data) + (["--threads", str(args.threads)] if args.threads else [])
        subprocess.run(cmd, cwd=ROOT, check=True)
        metrics = ROOT / "runs" / "scale" / run["name"] / "metrics.json"
        shutil.copy(metrics, OUT / f"{run['name']}.json")
    if not args.list:
        print(f"{len(runs)} runs of part {args.part} done", file=sys.stderr)


if __name__ == "__main__":
    main()
