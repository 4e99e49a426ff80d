"""The scale grid's three cells at 544K parameters and full data, read again: does the gap between
the cells live in the first characters of a chunk (context) or everywhere (capacity)?

    python -m results.scale_reads   # after python -m results.scale; writes results/scale_reads.json

For each such run whose checkpoint is in runs/scale/NAME/, the test plays are read in 30-character
chunks from a zero state (the study's protocol) and with the state carried, and the loss is averaged
at each position within the chunk (1 = the first character predicted after a chunk starts); then
read with dynamic evaluation (generate.py --adapt's settings, RMS's gradient statistics from the
training text). A run already in the JSON is skipped.
"""

import argparse
import copy
import json
from dataclasses import asdict
from pathlib import Path

import torch

from data.prepare import HELD_OUT_FILES
from dataset import Vocab, read_text
from evaluation import (
    READ_AS,
    STATS_BATCH,
    STATS_SEG_LEN,
    dynamic_settings,
    dynamic_update,
    grad_ms,
    read,
)
from model import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "scale_reads.json"
SEG_LEN = 30  # the chunk length of the study's protocol
RUNS = "-544K-f1-seed"  # the runs read: every cell at the study's budget, full data, each seed


def by_position(nll: torch.Tensor, seg_len: int = SEG_LEN) -> tuple[list, list]:
    """Per-character losses of a read whose segments start every `seg_len` targets (nan: not
    scored) -> (mean loss, count) at each position 1..seg_len within a segment."""
    n = len(nll)
    padded = torch.full((-(-n // seg_len) * seg_len,), float("nan"), dtype=torch.float64)
    padded[:n] = nll
    table = padded.view(-1, seg_len)
    scored = ~table.isnan()
    counts = scored.sum(0)
    sums = torch.where(scored, table, 0.0).sum(0)
    return (sums / counts).tolist(), counts.tolist()


def read_run(path: Path, text: str, train: str, device="cpu") -> dict:
    """One checkpoint on one text: loss by position (zero state and carried), and the three
    protocols' totals (nats/char over every scored character). RMS's gradient statistics: the
    checkpoint's, else computed on `train`, its training text (grid runs that predate storing them)."""
    model, ckpt = load_checkpoint(path, device)
    vocab = Vocab(ckpt["vocab"])
    data = vocab.encode(text, unknown=-1)
    fill = vocab.stoi.get(READ_AS, vocab.pad)
    result = dict(params=sum(p.numel() for p in model.parameters()))
    for protocol, streams in (("chunks", 64), ("stateful", 1)):
        nll, _ = read(model, data, protocol, SEG_LEN, streams, fill=fill, device=device)
        result[f"{protocol}_loss"] = nll[~nll.isnan()].mean().item()
        result[f"{protocol}_by_position"], result["counts"] = by_position(nll)
    settings, fam = dynamic_settings(asdict(model.config))
    net = copy.deepcopy(model)
    if "grad_ms" in ckpt:
        stats = [s.to(device) for s in ckpt["grad_ms"]]
    else:
        stats = grad_ms(model, vocab.encode(train, unknown=-1), STATS_SEG_LEN, STATS_BATCH, device)
    update = dynamic_update(net, settings, stats)
    nll, _ = read(
        net, data, "dynamic", settings["seg_len"], settings["streams"], update, fill, device
    )
    result |= dict(dynamic_loss=nll[~nll.isnan()].mean().item(), dynamic=settings, family=fam)
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description="Read the 544K full-data grid runs by position.")
    p.add_argument("--test", default=f"data/{HELD_OUT_FILES['test']}", help="the text read")
    p.add_argument("--data", default="data/shakespeare_train.txt", help="the runs' training text")
    p.add_argument("--runs", default="runs/scale", help="the grid's run folders")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args(argv)
    done = json.loads(OUT.read_text()) if OUT.exists() else {"test": args.test, "runs": {}}
    text, train = read_text(ROOT / args.test), read_text(ROOT / args.data)
    for folder in sorted((ROOT / args.runs).glob(f"*{RUNS}*")):
        kind = folder.name.split("-")[0]
        if folder.name in done["runs"] or not (folder / f"{kind}.pt").exists():
            continue
        print(f"reading {args.test} with {folder.name}", flush=True)
        done["runs"][folder.name] = read_run(folder / f"{kind}.pt", text, train, args.device)
        OUT.write_text(json.dumps(done, indent=1) + "\n")  # after each run: resumable


if __name__ == "__main__":
    main()
