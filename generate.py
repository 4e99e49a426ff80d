"""Sample text from a trained checkpoint, with a temperature; or score a text with it.

    python generate.py                                   # the newest run's best model, T = 0.7
    python generate.py --prime "ROMEO:" --temperature 0.7 1 4 --length 200 --seed 1
    python generate.py --checkpoint runs/mine/lstm.pt --prime "ROMEO:"
    python generate.py --adapt my_play.txt --prime "ROMEO:"   # adapt the weights to a text first
    python generate.py --score my_play.txt --heatmap loss.html   # nats/char under each protocol
    python generate.py --score my_play.txt --blocks 64 256       # ... and nanoGPT's, per block size

Without --checkpoint it uses the best model of the newest run under runs/ (what `python main.py`
just trained), else the committed checkpoints/. The prompt is fed once; then each step samples from
softmax(last-position logits / T) and feeds that one character back, carrying the hidden state. All
samples of a call run as one batch. Sample j of a prompt draws its uniforms from (seed, prompt, j),
so the same seed gives the same text alone or in a batch. stdout holds the samples.
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

import evaluation
from dataset import CorpusError, Vocab, read_text, sha256, tail_start
from figures.draw import draw_heatmap
from model import (
    CheckpointError,
    device_flag,
    load_checkpoint,
)
from sampling import fitting_prompts, sample

ROOT = Path(__file__).resolve().parent
BLOCKS = "each block from a zero state: nanoGPT's protocol"  # what a --blocks row is


def default_folder() -> Path:
    """The newest run's folder under runs/ (by its metrics.json), else the committed checkpoints/."""
    runs = sorted(ROOT.glob("runs/*/metrics.json"), key=lambda p: p.stat().st_mtime)
    folder = runs[-1].parent if runs else ROOT / "checkpoints"
    return folder.relative_to(Path.cwd()) if folder.is_relative_to(Path.cwd()) else folder


def best_checkpoints(folder: Path) -> list[Path]:
    """The best checkpoints in `folder` (its *.last.pt excluded), the lowest validation loss first."""
    scored = []
    for path in sorted(folder.glob("*.pt")):
        if not path.name.endswith(".last.pt"):
            scored.append((load_checkpoint(path)[1]["best_val_loss"], path))
    if not scored:
        raise CheckpointError(f"no checkpoint in {folder} (run main.py first to train one)")
    return [path for _, path in sorted(scored)]


def find_best_checkpoint(folder: Path) -> Path:
    """The checkpoint in `folder` with the lowest best validation loss."""
    return best_checkpoints(folder)[0]


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
    p.add_argument(
        "--checkpoint",
        nargs="+",
        help="one .pt file; several with --score "
        "(default: the best in the newest run under runs/, else in checkpoints/)",
    )
    p.add_argument(
        "--prime",
        action="append",
        help="prompt text; repeat for several (default: five short prompts the model can read)",
    )
    p.add_argument("--prime-file", help="read one (long) prompt from this UTF-8 file")
    p.add_argument(
        "--temperature",
        type=temperature,
        nargs="+",
        default=[0.7],
        help="one or more T; 0 = greedy (default: 0.7)",
    )
    p.add_argument("--greedy", action="store_true", help="always take the most likely character")
    p.add_argument(
        "--top-k",
        type=count(0),
        default=0,
        help="sample among the k most likely characters (default: 0, all)",
    )
    p.add_argument(
        "--length",
        type=count(1),
        default=100,
        help="characters to generate after each prompt (default: 100)",
    )
    p.add_argument(
        "--num-samples",
        type=count(1),
        default=1,
        help="samples per prompt and temperature (default: 1)",
    )
    p.add_argument("--seed", type=int, default=0, help="same seed, same text (default: 0)")
    p.add_argument(
        "--device",
        type=device_flag,
        default="auto",
        help="auto (CUDA, MPS, CPU), cpu, cuda[:N] or mps (default: auto)",
    )
    p.add_argument(
        "--skip-unknown",
        action="store_true",
        help="drop prompt characters outside the vocabulary (default: refuse them)",
    )
    p.add_argument(
        "--output", help="also write the samples, or the scores, here (.json: with what made them)"
    )
    p.add_argument(
        "--adapt",
        metavar="FILE",
        help="first read this UTF-8 text with dynamic evaluation (the weights adapt to it)",
    )
    p.add_argument(
        "--adapt-data",
        metavar="FILE",
        help="the text the model trained on, for the "
        "update's gradient statistics (default: those the checkpoint stores)",
    )
    p.add_argument(
        "--score",
        metavar="FILE",
        help="score this UTF-8 text under each protocol "
        "(chunks, stateful, dynamic) instead of sampling",
    )
    p.add_argument(
        "--blocks",
        type=count(1),
        nargs="+",
        metavar="B",
        help="with --score: also read the text in blocks of B characters, each from a zero state "
        "(nanoGPT's protocol), a row per B",
    )
    p.add_argument(
        "--heatmap",
        metavar="OUT",
        help="with --score: draw the start of the text "
        "coloured by each character's loss, one row per model (.png or .html)",
    )
    args = p.parse_args(argv)  # fmt: skip
    if args.prime and any(not prime for prime in args.prime):
        p.error("--prime is empty: give the text to start from, or leave --prime out")
    if args.blocks and not args.score:
        p.error("--blocks is a protocol of --score: give --score FILE too")
    if args.heatmap and not args.score:
        p.error("--heatmap draws what --score measures: give --score FILE too")
    if args.checkpoint and len(args.checkpoint) > 1 and not args.score:
        p.error("sampling takes one --checkpoint (several are for --score)")
    return args


def prime_file(path: str) -> str:
    """The one prompt --prime-file holds, refusing an empty or undecodable file by name."""
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"--prime-file {path} is not UTF-8 text (byte {e.start})") from None
    if not text:
        raise ValueError(f"--prime-file {path} is empty")
    return text


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


def load(path: Path, device) -> tuple:
    """A checkpoint, saying which -> (model, checkpoint)."""
    model, ckpt = load_checkpoint(path, device)
    print(
        f"checkpoint {path}: {ckpt['config']['kind']}, epoch {ckpt['epoch']}, "
        f"best val loss {ckpt['best_val_loss']:.4f}",
        file=sys.stderr,
    )
    return model, ckpt


def trained_on(ckpt: dict) -> str:
    """The text a checkpoint trained on, for --adapt-data: its corpus, less any held-out tail."""
    corpus = ckpt.get("corpus", {})
    if "path" not in corpus:
        return "FILE, the text it trained on"
    tail = ckpt.get("settings", {}).get("val_tail", 0)
    if not tail:
        return corpus["path"]
    n = tail_start(corpus["chars"], tail)
    return f"FILE, its training text: the first {n:,} characters of {corpus['path']}"


def statistics(ckpt: dict, path: Path, model, adapt_data: str | None, read_path: str, device):
    """RMS's gradient statistics for adapting the model: over --adapt-data when given (never the
    text being read), else those the checkpoint stores."""
    if adapt_data:
        train = read_text(adapt_data)
        if sha256(train) == sha256(read_text(read_path)):
            raise ValueError(f"--adapt-data {adapt_data} is the text being read: give the text "
                             "the model trained on")  # fmt: skip
        data = Vocab(ckpt["vocab"]).encode(train, unknown=-1)
        return evaluation.grad_ms(
            model, data, evaluation.STATS_SEG_LEN, evaluation.STATS_BATCH, device
        )
    if "grad_ms" not in ckpt:
        raise ValueError(f"{path} stores no gradient statistics (an older checkpoint, or one "
                         f"kept small): add --adapt-data {trained_on(ckpt)}")  # fmt: skip
    return [s.to(device) for s in ckpt["grad_ms"]]


def adapt(model, ckpt: dict, path: Path, text_path: str, adapt_data, device) -> dict:
    """Read the text at `text_path` in order with dynamic evaluation (evaluation.dynamic_settings),
    so that sampling continues in its manner; changes `model`. -> what was read, its loss."""
    s, fam = evaluation.dynamic_settings(ckpt["config"])
    v = Vocab(ckpt["vocab"])
    text = read_text(text_path)
    data = v.encode(text, unknown=-1)
    if len(data) < 2:
        raise ValueError(f"--adapt {text_path}: nothing to read")
    t0 = time.perf_counter()
    stats = (
        statistics(ckpt, path, model, adapt_data, text_path, device) if s["rule"] == "rms" else None
    )
    stats_seconds, t0 = round(time.perf_counter() - t0, 1), time.perf_counter()
    update = evaluation.dynamic_update(model, s, stats)
    fill = v.stoi.get(evaluation.READ_AS, v.pad)
    nll, _ = evaluation.read(
        model, data, "dynamic", s["seg_len"], s["streams"], update, fill, device
    )
    record = dict(path=str(text_path), chars=len(text), unknown=int((data < 0).sum()),
                  seconds=round(time.perf_counter() - t0, 1), stats_seconds=stats_seconds,
                  loss=nll.nanmean().item(), settings=s)  # fmt: skip
    print(
        f"adapted to {text_path}: {len(text):,} characters ({record['unknown']} outside the "
        f"vocabulary, read as {v.chars[fill]!r}) with the {fam} settings in {record['seconds']}s, "
        f"{record['loss']:.4f} nats/char",
        file=sys.stderr,
    )
    return record


def score(paths: list[Path], args) -> dict:
    """--score: each checkpoint reading the text under each protocol; printed, and -> the scores."""
    text, scores = read_text(args.score), {}
    for path in paths:
        model, ckpt = load(path, args.device)
        vocab = Vocab(ckpt["vocab"])
        stats = statistics(ckpt, path, model, args.adapt_data, args.score, args.device)
        result = evaluation.score_text(model, vocab, text, stats, args.device)
        for size in args.blocks or ():
            result[f"blocks{size}"] = evaluation.blocks(model, vocab, text, size, args.device)
        unknown = sum(c not in vocab.stoi for c in text[1:])
        params = sum(p.numel() for p in model.parameters())
        print(f"{path} ({ckpt['config']['kind']}, {params:,} parameters) on {args.score}: "
              f"{len(text):,} characters, {unknown} outside its vocabulary (read as "
              f"{evaluation.READ_AS!r}, not scored)")  # fmt: skip
        for protocol, r in result.items():
            what = evaluation.PROTOCOLS.get(protocol, BLOCKS)
            print(f"  {protocol:9s} {r['loss']:.4f} nats/char  {r['bits']:.4f} bits/char  "
                  f"accuracy {r['acc']:.2%}   ({what})")  # fmt: skip
        scores[str(path)] = dict(unknown=unknown, **{p: r for p, r in result.items()})
    if args.heatmap:
        losses = {name: r["stateful"]["nll"] for name, r in scores.items()}
        draw_heatmap(text, losses, Path(args.heatmap))
        print(f"heatmap of the stateful read: {args.heatmap}", file=sys.stderr)
    return scores


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


def generate(path: Path, args, command: str) -> None:
    """Sampling: the prompts continued at each temperature, printed (and written with --output)."""
    model, ckpt = load(path, args.device)
    vocab = ckpt["vocab"]
    adapted = args.adapt and adapt(model, ckpt, path, args.adapt, args.adapt_data, args.device)
    given = (args.prime or []) + ([prime_file(args.prime_file)] if args.prime_file else [])
    prompts = clean_prompts(given or fitting_prompts(ckpt), vocab, args.skip_unknown)
    temps = [0.0] if args.greedy else args.temperature
    # a prompt given k times draws samples 0..k*n-1, as --num-samples k*n would: k texts
    rows = [
        (p, t, prompts[:i].count(p) * args.num_samples + j)
        for i, p in enumerate(prompts)
        for t in temps
        for j in range(args.num_samples)
    ]
    print(f"temperature {temps} | top-k {args.top_k or 'all'} | length {args.length} | "
          f"seed {args.seed} | {len(rows)} samples", file=sys.stderr)  # fmt: skip
    stream = None
    if len(rows) == 1:  # a single sample is written as it is produced
        sys.stdout.write(rows[0][0])
        stream = lambda c: (sys.stdout.write(c), sys.stdout.flush())
    prompts, temps, ids = (list(column) for column in zip(*rows))
    texts = sample(model, vocab, prompts, temps, args.length, ids, args.seed, args.top_k, stream)
    if stream:
        print()
    for (p, t, j), text in zip(rows, texts) if not stream else ():
        print(f"--- T {t:g} | prompt {p!r} | sample {j} ---\n{text}\n")
    if args.output:
        write(Path(args.output), rows, texts, args, path, command, adapted)


def main(argv=None):
    args = get_args(argv)
    command = " ".join(["python generate.py", *(sys.argv[1:] if argv is None else argv)])
    try:
        paths = [Path(c) for c in args.checkpoint or []]
        if args.score:
            scores = score(paths or best_checkpoints(default_folder()), args)
            if args.output:
                drop = lambda r: {k: v for k, v in r.items() if k != "nll"}
                out = {p: {k: drop(v) if isinstance(v, dict) else v for k, v in r.items()}
                       for p, r in scores.items()}  # fmt: skip
                Path(args.output).write_text(
                    json.dumps(dict(command=command, scores=out), indent=1)
                )
            return
        generate(paths[0] if paths else find_best_checkpoint(default_folder()), args, command)
    except (CheckpointError, CorpusError, ValueError, OSError) as e:
        sys.exit(f"generate.py: error: {e}")


if __name__ == "__main__":
    main()
