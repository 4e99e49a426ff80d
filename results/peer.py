"""Our models against nanoGPT on its own split: its text, cut, protocol and CPU budget, one machine.

    python data/prepare.py --source tinyshakespeare-full      # data/tinyshakespeare.txt
    python -m results.peer --nanogpt ../nanoGPT                # its CPU command timed, then ours

nanoGPT (github.com/karpathy/nanoGPT) runs from its own checkout, never copied here, with its data
prepared by its own script from the same text (`cp data/tinyshakespeare.txt
../nanoGPT/data/shakespeare_char/input.txt && python ../nanoGPT/data/shakespeare_char/prepare.py`);
its validation text is checked to be our held-out tail, character for character. Its README's CPU
command is timed first, three times; the median wall time is the budget: each of our runs trains for
as many optimizer steps as fit in it (`main.py --max-steps`, sized by a probe of the same model on
the same machine just before; `--max-seconds` caps it, the cosine ending with the time, should the
machine slow down), on the same 1,003,854 characters (`--val-tail 0.1`). Every model, nanoGPT's
checkpoint included, is then scored exactly on the 111,540-character tail in blocks of 64 and 256
(nanoGPT's protocol, every character once), read in order with the state carried, and adapting
(dynamic evaluation with generate.py --adapt's settings). Results: results/peer.json, each of our
runs' metrics in results/peer/, the best LSTM in checkpoints/nanogpt-split/. A run already in
results/peer.json is skipped. Keep the machine otherwise idle while it runs: the budget is wall
time.

    OMP_NUM_THREADS=1 python -m results.peer --budget 30min --part 1/2 &   # and 2/2 beside it

The long budget: 30 minutes of the machine's two cores per model, given as an hour of one thread
(two parts run side by side). Each cell takes its widest model under a fifth of nanoGPT's GPU model
(counted by its own class, so --nanogpt once), and the recipe chosen first on the training text
alone: each of CANDIDATES trains the LSTM for CHOOSE_S seconds on the first 90% of nanoGPT's
training text and is scored in blocks of 256 on the rest; the lowest is every cell's recipe.
"""

import argparse
import fcntl
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
SHIPPED = ROOT / "checkpoints" / "nanogpt-split" / "lstm-cpu.pt"  # the best LSTM at each budget
DATA = "data/tinyshakespeare.txt"
VAL_TAIL = 0.1  # nanoGPT's cut: int(n * 0.9)
NANOGPT_CPU = (  # its README's command for a CPU ("about 3 minutes")
    "python train.py config/train_shakespeare_char.py --device=cpu --compile=False --eval_iters=20 "
    "--log_interval=1 --block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128 "
    "--max_iters=2000 --lr_decay_iters=2000 --dropout=0.0"
)
BUDGET = num_params("lstm", 128, 65)  # the LSTM at the study's width: every cell at its count
PROBE_STEPS = 200  # optimizer steps timed to size a run to the budget (after 10 untimed)
NANOGPT_GPU = (
    dict(  # its README's GPU run: config/train_shakespeare_char.py over train.py's defaults
        n_layer=6, n_head=6, n_embd=384, block_size=256, bias=False, dropout=0.2, vocab_size=65
    )
)
LONG_S, LONG_THREADS = 3600, 1  # budget "30min": half an hour of both cores, as an hour of one
CHOOSE_S = 900  # each candidate's time when the long budget's recipe is chosen
CANDIDATES = {  # the LSTM's recipe for the long budget, over its default: chosen on the training text
    "seq30": {},
    "seq100": dict(seq_len=100),
    "seq250": dict(seq_len=250),
    "seq100-drop0.2": dict(seq_len=100, dropout=0.2),
}


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


def probe(kind: str, s, split, vocab_size: int) -> tuple[float, float]:
    """Seconds per optimizer step and per validation pass of this model on this machine, now."""
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


def widest(kind: str, cap: int, vocab_size: int) -> int:
    """The widest model of `kind` (4 layers) whose parameter count is at most `cap`."""
    return max(h for h in range(1, 4096) if num_params(kind, h, vocab_size) <= cap)


def ours(
    kind: str,
    seed: int,
    seconds: float,
    corpus,
    name: str,
    width: int,
    data: str = DATA,
    threads: int | None = None,
    recipe: dict | None = None,
    dynamic: bool = True,
) -> dict:
    """One of our models trained within `seconds` on `data` less its last tenth, then scored on
    that tenth (in blocks, state carried, and with `dynamic`, adapting)."""
    text, vocab, ids = corpus
    recipe = recipe or {}
    s = resolve(kind, "default", dict(hidden_size=width, val_tail=VAL_TAIL) | recipe)
    split = s.split(ids, vocab.pad)
    per_epoch = math.ceil(len(split.train) / s.batch_size)
    if threads:
        torch.set_num_threads(threads)
    step, val = probe(kind, s, split, len(vocab))
    steps = steps_in(seconds, step, val, per_epoch)
    folder = f"runs/peer/{name}"
    flags = ["--data", data, "--val-tail", str(VAL_TAIL), "--models", kind, "--hidden-size",
             str(width), "--seed", str(seed), "--epochs", str(math.ceil(steps / per_epoch)),
             "--max-steps", str(steps), "--max-seconds", str(seconds), "--out-dir", folder,
             "--figures-dir", folder]  # fmt: skip
    flags += [w for k, v in recipe.items() for w in (f"--{k.replace('_', '-')}", str(v))]
    flags += ["--threads", str(threads)] if threads else []
    subprocess.run([sys.executable, "main.py", *flags], cwd=ROOT, check=True)
    metrics = json.loads((ROOT / folder / "metrics.json").read_text())
    (ROOT / "results" / "peer").mkdir(exist_ok=True)
    (ROOT / "results" / "peer" / f"{name}.json").write_text(json.dumps(metrics, indent=1) + "\n")
    r = metrics["models"][kind]
    last = torch.load(ROOT / folder / f"{kind}.last.pt", weights_only=True)
    taken = last["scheduler"]["last_epoch"]  # fewer than `steps` where the time ran out first
    tail = text[split.val_start :]
    return dict(kind=kind, seed=seed, params=r["params"], width=width, steps=steps,
                steps_taken=taken, budget_s=seconds,
                probe=dict(step_s=step, val_s=val), wall_s=r["history"][-1]["wall_s"],
                recipe=recipe, threads=threads or torch.get_num_threads(),
                chars_read=taken * s.batch_size * s.seq_len,
                dynamic=adapt(ROOT / folder / f"{kind}.pt", tail) if dynamic else None,
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


def gpu_params(folder: Path) -> dict:
    """nanoGPT's GPU model, counted by its own class: the long budget's cap is a fifth of it."""
    spec = importlib.util.spec_from_file_location("nanogpt_model", folder / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    gpt = module.GPT(module.GPTConfig(**NANOGPT_GPU))
    return dict(config=NANOGPT_GPU, params_reported=gpt.get_num_params(),
                params=sum(p.numel() for p in gpt.parameters()))  # fmt: skip


def current() -> dict:
    return json.loads(OUT.read_text()) if OUT.exists() else {"runs": {}}


def record(section: str, name: str | None, value) -> dict:
    """Read results/peer.json afresh and set SECTION[NAME], or SECTION without a name (two parts
    may run side by side, each adding its own runs: one at a time, under a lock)."""
    lock = ROOT / "runs" / "peer" / "record.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        done = current()
        if name is None:
            done[section] = value
        else:
            done.setdefault(section, {})[name] = value
        OUT.write_text(json.dumps(done, indent=1) + "\n")
    return done


def mine(items: list, part: str) -> list:
    k, n = map(int, part.split("/"))
    return items[k - 1 :: n]


def pick(choice: dict) -> str:
    """The candidate recipe of lowest loss in blocks of 256 on the held-out slice of training text."""
    return min(choice, key=lambda name: choice[name]["val_blocks256_loss"])


def choose(text: str, cap: int, part: str) -> str:
    """The long budget's recipe: each candidate trains the LSTM for CHOOSE_S seconds on the first
    90% of nanoGPT's training text and is scored on the rest of it (never on the validation tail)."""
    train = ROOT / "runs" / "peer" / "choose" / "train.txt"
    train.parent.mkdir(parents=True, exist_ok=True)
    train.write_text(text[: int(len(text) * (1 - VAL_TAIL))], encoding="utf-8")
    corpus = load_corpus(train)
    width = widest("lstm", cap, len(Vocab.from_text(text)))
    for name in mine(list(CANDIDATES), part):
        if name not in current().get("choice", {}):
            print(f"candidate {name}: {CHOOSE_S} s on the training text", flush=True)
            r = ours("lstm", 0, CHOOSE_S, corpus, f"choose-{name}", width,
                     str(train.relative_to(ROOT)), LONG_THREADS, CANDIDATES[name], dynamic=False)  # fmt: skip
            record("choice", name, r)
    while not all(n in (choice := current().get("choice", {})) for n in CANDIDATES):
        print("waiting for the other parts' candidates", flush=True)
        time.sleep(60)
    return pick(choice)


def main(argv=None):
    p = argparse.ArgumentParser(description="Our models against nanoGPT on its split and budget.")
    p.add_argument("--nanogpt", type=Path, help="a nanoGPT checkout, its data prepared")
    p.add_argument("--budget", choices=["cpu", "30min"], default="cpu",
                   help="cpu: nanoGPT's CPU command's wall time; 30min: half an hour of both cores, "
                   "the recipe chosen on the training text (default: cpu)")  # fmt: skip
    p.add_argument("--models", nargs="+", default=["lstm", "rnn", "gru"], help="our cells")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--repeats", type=int, default=3, help="times nanoGPT's command is timed")
    p.add_argument("--part", default="1/1", help="K/N: every N-th run from the K-th (30min)")
    args = p.parse_args(argv)
    done = current()
    corpus = load_corpus(ROOT / DATA)
    tail = corpus[0][int(len(corpus[0]) * (1 - VAL_TAIL)) :]
    if args.nanogpt is None and ("nanogpt" not in done or "nanogpt_gpu" not in done):
        p.error(
            "give --nanogpt DIR: its CPU command's wall time and its GPU model's size are needed"
        )
    if "nanogpt" not in done:
        found = dict(nanogpt=nanogpt(args.nanogpt.resolve(), tail, args.repeats), machine=cpu_name(),
                     torch=torch.__version__, tail_chars=len(tail))  # fmt: skip
        done = current() | found
        OUT.write_text(json.dumps(done, indent=1) + "\n")
    if "nanogpt_gpu" not in done:
        done = record("nanogpt_gpu", None, gpu_params(args.nanogpt.resolve()))
    plan = [(kind, seed) for kind in args.models for seed in args.seeds]
    if args.budget == "cpu":
        seconds, threads, recipe = done["nanogpt"]["wall_s"], None, {}
        widths = {k: width_for(k, BUDGET, len(corpus[1])) for k in args.models}
    else:
        cap = done["nanogpt_gpu"]["params_reported"] // 5
        seconds, threads = LONG_S, LONG_THREADS
        recipe = CANDIDATES[choose(corpus[0], cap, args.part)]
        widths = {k: widest(k, cap, len(corpus[1])) for k in args.models}
        plan = mine(plan, args.part)
    for kind, seed in plan:
        name = f"{kind}-{args.budget}-seed{seed}"
        if name not in current()["runs"]:
            print(f"{name}: {seconds:.0f} s at {threads or 'all'} threads", flush=True)
            r = ours(kind, seed, seconds, corpus, name, widths[kind], DATA, threads, recipe)
            record("runs", name, r | dict(budget=args.budget))
            ship(args.budget)


SCORE = {"cpu": "val_blocks64_loss", "30min": "val_blocks256_loss"}  # each budget's protocol
# 2.1M parameters are 17 MB in float32 with their gradient statistics: the long budget's LSTM is
# shipped in half precision (its static losses move by under 1e-5), without them (--adapt-data gives them)
HALF = {"30min"}


def compact(source: Path, dest: Path) -> None:
    """The checkpoint at `source`, its weights in half precision and no gradient statistics."""
    ckpt = torch.load(source, map_location="cpu", weights_only=True)
    ckpt["model"] = {k: v.half() if v.is_floating_point() else v for k, v in ckpt["model"].items()}
    ckpt.pop("grad_ms", None)
    torch.save(ckpt, dest)


def ship(budget: str) -> None:
    """The budget's LSTM seed of lowest loss in its protocol's blocks ->
    checkpoints/nanogpt-split/lstm-BUDGET.pt, as soon as it is trained (recorded as `shipped`)."""
    runs = current()["runs"]
    lstm = {n: r for n, r in runs.items() if r["kind"] == "lstm" and r.get("budget") == budget}
    best = min(lstm, key=lambda n: lstm[n][SCORE[budget]], default=None)
    source = ROOT / "runs" / "peer" / str(best) / "lstm.pt"
    if best and source.exists():
        dest = SHIPPED.with_name(f"lstm-{budget}.pt")
        if budget in HALF:
            compact(source, dest)
        else:
            shutil.copy(source, dest)
        record("shipped", budget, best)


if __name__ == "__main__":
    main()
