"""Sample text from a trained checkpoint, with a temperature.

    python generate.py                                   # best checkpoint, five prompts, T = 0.7
    python generate.py --prime "ROMEO:" --temperature 0.7 1 4 --length 200 --seed 1
    python generate.py --checkpoint runs/mine/lstm.pt --prime "ROMEO:"
    python generate.py --adapt my_play.txt --prime "ROMEO:"   # adapt the weights to a text first

The prompt is fed once; then each step samples from softmax(last-position logits / T) and feeds
that one character back, carrying the hidden state. All samples of a call (every prompt, temperature
and sample) run as one batch. Sample j of a prompt draws its uniforms from (seed, prompt, j), so the
same seed gives the same text whether it is generated alone or in a batch. stdout holds the samples.
"""

import argparse
import json
import math
import os
import sys
import time
import zlib
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

import trainer
from dataset import CorpusError, Vocab, read_text, sha256
from model import CheckpointError, device_flag, load_checkpoint

ROOT = Path(__file__).resolve().parent
DEFAULT_PROMPTS = ["The ", "And ", "But ", "She ", "He "]


def find_best_checkpoint(folder: Path) -> Path:
    """The checkpoint in `folder` with the lowest best validation loss (its *.last.pt files excluded)."""
    scored = []
    for path in sorted(folder.glob("*.pt")):
        if not path.name.endswith(".last.pt"):
            scored.append((load_checkpoint(path)[1]["best_val_loss"], path))
    if not scored:
        raise CheckpointError(f"no checkpoint in {folder} (run main.py first to train one)")
    return min(scored)[1]


def next_chars(logits, temperature, top_k, uniforms, greedy=None):
    """Sample one index per row from softmax(logits / T) restricted to the top k, by inverse CDF.

    logits (B, V); temperature (B, 1), 1 where `greedy` (B,) marks rows that take the argmax
    instead; uniforms (B,) in [0, 1). Returns the indices.
    """
    scaled = logits / temperature
    if top_k:
        kth = scaled.topk(min(top_k, scaled.shape[-1]), dim=-1).values[:, -1:]
        scaled = scaled.masked_fill(scaled < kth, -math.inf)
    cdf = torch.softmax(scaled, dim=-1).cumsum(-1)
    chars = (
        torch.searchsorted(cdf, uniforms[:, None] * cdf[:, -1:])
        .squeeze(1)
        .clamp_(max=logits.shape[-1] - 1)
    )
    return chars if greedy is None else torch.where(greedy, logits.argmax(-1), chars)


@torch.inference_mode()
def sample(
    model,
    vocab: str,
    prompts: list[str],
    temperatures: list[float],
    length: int,
    sample_ids: list[int],
    seed: int = 0,
    top_k: int = 0,
    stream=None,
) -> list[str]:
    """Continue each prompts[i] by `length` characters at temperatures[i] -> prompt + continuation.

    Row i draws its uniforms from the seed (seed, crc32(prompts[i]), sample_ids[i]): independent of
    the batch it is in and of its temperature, so temperatures are compared on common random
    numbers. All rows advance one character per step together; a row whose prompt is longer than the
    shortest keeps reading its prompt while the others already sample:

        step s:    0 1 2 3 4 5 6          (P = prompt char read, g = generated char)
        "ab"       . g g g                 row 0 samples from step 0 on (after its prompt)
        "abcd"     P P g g g               row 1 reads 2 more prompt chars first
    """
    if length == 0:
        return list(prompts)
    device = next(model.parameters()).device
    v = Vocab(vocab)
    start = v.chars[v.pad]  # what an empty prompt starts from: the newline, as a text's start
    encoded = [v.encode(p or start).tolist() for p in prompts]
    lens = [len(e) for e in encoded]
    shortest, longest = min(lens), max(lens)
    padded = torch.tensor([e + [0] * (longest - len(e)) for e in encoded], device=device)
    temps = torch.tensor(temperatures, dtype=torch.float, device=device)[:, None]
    greedy = (temps[:, 0] == 0) if (temps == 0).any() else None
    temps = temps.masked_fill(temps == 0, 1.0)
    steps, offset = longest - shortest + length, np.array(lens) - shortest
    uniforms = draws(prompts, sample_ids, seed, length, offset, steps).to(device)
    logits, hidden = model(padded[:, :shortest])
    logits, chosen = logits[:, -1], []
    for s in range(steps):
        chars = next_chars(logits, temps, top_k, uniforms[s], greedy)
        chosen.append(chars)
        if stream is not None:
            stream(vocab[int(chars[0])])
        if shortest + s < longest:  # rows still reading their prompt feed its next character
            reading = torch.tensor(offset > s, device=device)
            chars = torch.where(reading, padded[:, shortest + s], chars)
        if s + 1 < steps:
            logits, hidden = model.step(chars, hidden)
    chosen = torch.stack(chosen, 1).tolist()  # (B, steps)
    return [
        p + "".join(vocab[i] for i in row[o : o + length])
        for p, row, o in zip(prompts, chosen, offset.tolist())
    ]


def draws(prompts, sample_ids, seed: int, length: int, offset, steps: int) -> torch.Tensor:
    """uniforms[s, i]: the draw row i uses at step s, its own j-th draw once it has read its prompt
    (rows still reading their prompt ignore theirs)."""
    rows = np.stack(
        [
            np.random.default_rng([seed, zlib.crc32(p.encode()), j]).random(length)
            for p, j in zip(prompts, sample_ids)
        ]
    )  # (B, length)
    index = np.clip(np.arange(steps)[:, None] - offset[None, :], 0, length - 1)  # (steps, B)
    return torch.tensor(np.take_along_axis(rows.T, index, 0), dtype=torch.float)


def temperature(text: str) -> float:
    value = float(text)
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(
            f"temperature must be a finite number >= 0 (0 = greedy), got {text}"
        )
    return value


def count(minimum: int):
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text}")
        return value

    return parse


def get_args(argv=None):
    p = argparse.ArgumentParser(
        usage="%(prog)s [options]", description="Sample text from a trained character model."
    )
    p.add_argument("--checkpoint", help="a .pt file (default: the best one in checkpoints/)")
    p.add_argument(
        "--prime", action="append", help="prompt text; repeat for several (default: five prompts)"
    )
    p.add_argument("--prime-file", help="read one (long) prompt from this UTF-8 file")
    p.add_argument(
        "--temperature",
        type=temperature,
        nargs="+",
        default=[0.7],
        help="one or more T; 0 = greedy",
    )
    p.add_argument(
        "--greedy", action="store_true", help="always take the most likely character (T = 0)"
    )
    p.add_argument(
        "--top-k",
        type=count(0),
        default=0,
        help="sample among the k most likely characters (0: all)",
    )
    p.add_argument(
        "--length", type=count(0), default=100, help="characters to generate after each prompt"
    )
    p.add_argument(
        "--num-samples", type=count(1), default=1, help="samples per prompt and temperature"
    )
    p.add_argument("--seed", type=int, default=0, help="same seed, same text")
    p.add_argument(
        "--device",
        type=device_flag,
        default="auto",
        help="auto (CUDA, MPS, CPU), cpu, cuda[:N] or mps",
    )
    p.add_argument(
        "--skip-unknown", action="store_true", help="drop prompt characters outside the vocabulary"
    )
    p.add_argument(
        "--output", help="also write the samples here (.json: with prompt, T, seed, checkpoint)"
    )
    p.add_argument(
        "--adapt",
        metavar="FILE",
        help="first read this UTF-8 text with dynamic evaluation (the weights adapt to it)",
    )
    p.add_argument(
        "--adapt-data",
        help="the training text, for --adapt's gradient statistics (default: the checkpoint's)",
    )
    args = p.parse_args(argv)
    return args


def clean_prompts(prompts: list[str], vocab: str, skip_unknown: bool) -> list[str]:
    """Refuse (or, with --skip-unknown, drop with a warning) prompt characters outside the vocabulary."""
    unknown = sorted({c for p in prompts for c in p} - set(vocab))
    if unknown and not skip_unknown:
        raise ValueError(
            f"prompt characters not in the model's vocabulary: {''.join(unknown)!r} "
            f"(use --skip-unknown to drop them)"
        )
    if unknown:
        print(
            f"warning: dropping prompt characters not in the vocabulary: {''.join(unknown)!r}",
            file=sys.stderr,
        )
    return ["".join(c for c in p if c in vocab) for p in prompts]


def load(checkpoint: str | None, device) -> tuple:
    """The checkpoint asked for, or the best one in checkpoints/ -> (path, model, vocab)."""
    path = Path(checkpoint or find_best_checkpoint(Path(os.path.relpath(ROOT / "checkpoints"))))
    model, ckpt = load_checkpoint(path, device)
    print(
        f"checkpoint {path}: {ckpt['config']['kind']}, epoch {ckpt['epoch']}, "
        f"best val loss {ckpt['best_val_loss']:.4f}",
        file=sys.stderr,
    )
    return path, model, ckpt["vocab"]


def adapt(model, vocab: str, path: str, corpus: dict, train_path: str | None, device) -> dict:
    """Read the text at `path` in order with dynamic evaluation, the dev plays' settings for this
    model's family (trainer.DYNAMIC; another width takes its kind's), so that sampling continues in
    its manner; changes `model`. -> what was read, how long it took, its loss."""
    fam = trainer.family(asdict(model.config))
    s = trainer.DYNAMIC.get(fam) or trainer.DYNAMIC[model.config.kind.upper()]
    v = Vocab(vocab)
    text = read_text(path)
    data = v.encode(text, unknown=-1)
    if len(data) < 2:
        raise ValueError(f"--adapt {path}: nothing to read")
    stats, t0 = None, time.perf_counter()
    if s["rule"] == "rms":  # its statistics come from the training text, as in Krause et al.
        train = read_text(train_path or corpus["path"])
        if not train_path and sha256(train) != corpus["sha256"]:
            raise ValueError(f"{corpus['path']} is not the text this checkpoint trained on")
        train = v.encode(train, unknown=-1)
        stats = trainer.grad_ms(model, train, trainer.STATS_SEG_LEN, trainer.STATS_BATCH, device)
    stats_seconds, t0 = round(time.perf_counter() - t0, 1), time.perf_counter()
    update = trainer.dynamic_update(model, s, stats)
    fill = v.stoi.get(trainer.READ_AS, v.pad)
    nll, _ = trainer.read(model, data, "dynamic", s["seg_len"], s["streams"], update, fill, device)
    record = dict(
        path=str(path),
        chars=len(text),
        unknown=int((data < 0).sum()),
        seconds=round(time.perf_counter() - t0, 1),
        stats_seconds=stats_seconds,
        loss=nll.nanmean().item(),
        settings=s,
    )
    print(
        f"adapted to {path}: {len(text):,} characters ({record['unknown']} outside the vocabulary, "
        f"read as {v.chars[fill]!r}) in {record['seconds']}s (gradient statistics {stats_seconds}s), "
        f"{record['loss']:.4f} nats/char",
        file=sys.stderr,
    )
    return record


def write(out: Path, rows: list, texts: list[str], args, path: Path, command: str, adapted) -> None:
    """The samples as text, or (.json) one record per sample with what made it."""
    if out.suffix != ".json":
        out.write_text("\n\n".join(texts) + "\n", encoding="utf-8")
        return
    keys = dict(seed=args.seed, top_k=args.top_k, checkpoint=str(path), command=command)
    if adapted:
        keys["adapted"] = adapted
    records = [
        dict(prompt=p, temperature=t, seed=args.seed, sample=j) | keys | dict(text=x)
        for (p, t, j), x in zip(rows, texts)
    ]
    out.write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")


def main(argv=None):
    args = get_args(argv)
    try:
        path, model, vocab = load(args.checkpoint, args.device)
        adapted = None
        if args.adapt:
            corpus = load_checkpoint(path)[1].get("corpus", {})
            adapted = adapt(model, vocab, args.adapt, corpus, args.adapt_data, args.device)
        from_file = [Path(args.prime_file).read_text(encoding="utf-8")] if args.prime_file else []
        prompts = (args.prime or []) + from_file or DEFAULT_PROMPTS
        prompts = clean_prompts(prompts, vocab, args.skip_unknown)
        temps = [0.0] if args.greedy else args.temperature
        # a prompt given k times draws samples 0..k*n-1, as --num-samples k*n would: k texts
        rows = [
            (p, t, prompts[:i].count(p) * args.num_samples + j)
            for i, p in enumerate(prompts)
            for t in temps
            for j in range(args.num_samples)
        ]
        print(
            f"temperature {temps} | top-k {args.top_k or 'all'} | length {args.length} | "
            f"seed {args.seed} | {len(rows)} samples",
            file=sys.stderr,
        )
        stream = None
        if len(rows) == 1:  # a single sample is written as it is produced
            sys.stdout.write(rows[0][0])
            stream = lambda c: (sys.stdout.write(c), sys.stdout.flush())
        prompts, temps, ids = (list(column) for column in zip(*rows))
        texts = sample(
            model, vocab, prompts, temps, args.length, ids, args.seed, args.top_k, stream
        )
        print("\n" if stream else "\n\n".join(texts) + "\n", end="")
        if args.output:
            command = " ".join(["python generate.py", *(sys.argv[1:] if argv is None else argv)])
            write(Path(args.output), rows, texts, args, path, command, adapted)
    except (CheckpointError, CorpusError, ValueError, OSError) as e:
        sys.exit(f"generate.py: error: {e}")


if __name__ == "__main__":
    main()
