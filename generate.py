"""Sample text from a trained checkpoint, with a temperature.

    python generate.py                                   # best checkpoint, five prompts, T = 0.7
    python generate.py --prime "ROMEO:" --temperature 0.7 1 4 --length 200 --seed 1
    python generate.py --study results/temperature.json  # what T does: figures/temperature.png

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
import zlib
from pathlib import Path

import numpy as np
import torch

from figures.draw import draw_temperature
from model import CheckpointError, load_checkpoint, resolve_device

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
    chars = torch.searchsorted(cdf,
                               uniforms[:, None] * cdf[:, -1:]).squeeze(1).clamp_(max=logits.shape[-1] - 1)
    return chars if greedy is None else torch.where(greedy, logits.argmax(-1), chars)


@torch.inference_mode()
def sample(model, vocab: str, prompts: list[str], temperatures: list[float], length: int,
           sample_ids: list[int], seed: int = 0, top_k: int = 0, stream=None) -> list[str]:
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
    stoi = {c: i for i, c in enumerate(vocab)}
    start = "\n" if "\n" in stoi else vocab[0]  # what an empty prompt starts from
    encoded = [[stoi[c] for c in (p or start)] for p in prompts]
    lens = [len(e) for e in encoded]
    shortest, longest = min(lens), max(lens)
    padded = torch.tensor([e + [0] * (longest - len(e)) for e in encoded], device=device)
    temps = torch.tensor(temperatures, dtype=torch.float, device=device)[:, None]
    greedy = (temps[:, 0] == 0) if (temps == 0).any() else None
    temps = temps.masked_fill(temps == 0, 1.0)
    steps = longest - shortest + length
    # uniforms[s, i]: the draw row i uses at step s (rows still reading their prompt ignore theirs)
    draws = np.stack([np.random.default_rng([seed, zlib.crc32(p.encode()), j]).random(length)
                      for p, j in zip(prompts, sample_ids)])  # (B, length)
    offset = np.array(lens) - shortest
    index = np.clip(np.arange(steps)[:, None] - offset[None, :], 0, length - 1)  # (steps, B)
    uniforms = torch.tensor(np.take_along_axis(draws.T, index, 0), dtype=torch.float, device=device)
    logits, hidden = model(padded[:, :shortest])
    logits, chosen = logits[:, -1], []
    for s in range(steps):
        chars = next_chars(logits, temps, top_k, uniforms[s], greedy)
        chosen.append(chars)
        if stream is not None:
            stream(vocab[int(chars[0])])
        if shortest + s < longest:  # rows still reading their prompt feed its next character instead
            chars = torch.where(torch.tensor(offset > s, device=device), padded[:, shortest + s],
                                chars)
        if s + 1 < steps:
            logits, hidden = model.step(chars, hidden)
    chosen = torch.stack(chosen, 1).tolist()  # (B, steps)
    return [p + "".join(vocab[i] for i in row[o:o + length]) for p, row, o in zip(prompts, chosen,
                                                                                  offset.tolist())]


STUDY_TEMPERATURES = [0.2, 0.5, 0.7, 1.0, 1.5, 2.0, 4.0]


@torch.no_grad()
def sample_scores(model, vocab: str, prompt: str, texts: list[str],
                  temperatures: list[float]) -> tuple:
    """Per sample, summed over its generated characters: their NLL under the model at T = 1, and the
    entropy of the distributions softmax(logits / T) they were drawn from; one forward pass over
    all."""
    stoi = {c: i for i, c in enumerate(vocab)}
    prefix = prompt or ("\n" if "\n" in stoi else vocab[0])  # what sample() feeds first
    ids = torch.tensor([[stoi[c] for c in prefix + t[len(prompt):]] for t in texts],
                       device=next(model.parameters()).device)
    logits = model(ids[:, :-1])[0][:, len(prefix) - 1:].double()  # (B, length, V): one per generated char
    nll = -torch.log_softmax(logits, -1).gather(2, ids[:, len(prefix):, None]).sum((1, 2))
    t = torch.tensor(temperatures, dtype=torch.float64, device=logits.device)[:, None, None]
    p = torch.softmax(logits / t, -1)
    entropy = -(p * torch.log(p.clamp_min(1e-300))).sum((1, 2))
    return nll.tolist(), entropy.tolist()


def temperature_study(model, vocab: str, train_text: str, temperatures=STUDY_TEMPERATURES,
                      num_samples=50,
                      length=300, seed=0, prompt="", context="What say you, my lo") -> dict:
    """Measure what T does to samples: NLL under the model at T = 1, known and distinct words, entropy."""
    import re
    words_of = lambda text: re.findall(r"[A-Za-z']+", text)  # maximal runs of letters and apostrophes
    known = set(words_of(train_text))
    rows = [(t, j) for t in temperatures for j in range(num_samples)]
    texts = sample(model, vocab, [prompt] * len(rows), [t for t, _ in rows], length,
                   [j for _, j in rows], seed)
    nll, entropy = sample_scores(model, vocab, prompt, texts, [t for t, _ in rows])
    result = dict(prompt=prompt, num_samples=num_samples, length=length, seed=seed,
                  per_temperature=[])
    for t in temperatures:
        idx = [i for i, (tt, _) in enumerate(rows) if tt == t]
        words = [w for i in idx for w in words_of(texts[i][len(prompt):])]
        result["per_temperature"].append(dict(
            temperature=t,
            nll_at_t1=sum(nll[i] for i in idx) / (len(idx) * length),
            known_word_share=sum(w in known for w in words) / max(len(words), 1),
            distinct_word_share=len(set(words)) / max(len(words), 1),
            entropy=sum(entropy[i] for i in idx) / (len(idx) * length),
            words=len(words), example=texts[idx[0]][len(prompt):][:120]))
    stoi = {c: i for i, c in enumerate(vocab)}
    with torch.no_grad():
        logits = model(torch.tensor([[stoi[c] for c in context]],
                                    device=next(model.parameters()).device))[0][0, -1]
    result["context"] = dict(text=context, distribution={
        str(t): torch.softmax(logits.double() / t, -1).tolist() for t in (0.7, 1.0, 4.0)})
    prompts = [p for p in DEFAULT_PROMPTS if set(p) <= set(vocab)]
    result["reference_sampler"] = reference_bug(model, vocab, prompts, num_samples * 20, seed)
    return result


@torch.no_grad()
def reference_bug(model, vocab: str, prompts: list[str], n: int, seed: int) -> dict:
    """How often the first generated character is the last of the vocabulary, for each prompt at T =
    1: with the reference study's sampler (one softmax over the logits of every prompt position at
    once, the flat index clamped into the vocabulary) and with the correct one (last position
    only)."""
    stoi, gen = {c: i for i, c in enumerate(vocab)}, torch.Generator().manual_seed(seed)
    shares = {}
    for prompt in prompts:
        logits = model(torch.tensor([[stoi[c] for c in prompt]],
                                    device=next(model.parameters()).device))[0][0]
        flat = torch.multinomial(torch.softmax(logits.flatten().double(), -1).cpu(), n, True,
                                 generator=gen)
        right = torch.multinomial(torch.softmax(logits[-1].double(), -1).cpu(), n, True,
                                  generator=gen)
        shares[prompt] = dict(reference=(flat.clamp(max=len(vocab) - 1) == len(vocab) - 1).float().mean().item(),
                              correct=(right == len(vocab) - 1).float().mean().item())
    return dict(last_char=vocab[-1], samples_per_prompt=n, first_char_share=shares)


def temperature(text: str) -> float:
    value = float(text)
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"temperature must be a finite number >= 0 (0 = greedy), got {text}")
    return value


def count(minimum: int):
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text}")
        return value
    return parse


def get_args(argv=None):
    p = argparse.ArgumentParser(usage="%(prog)s [options]",
                                description="Sample text from a trained character model.")
    p.add_argument("--checkpoint", help="a .pt file (default: the best one in checkpoints/)")
    p.add_argument("--prime", action="append",
                   help="prompt text; repeat for several (default: five prompts)")
    p.add_argument("--prime-file", help="read one (long) prompt from this UTF-8 file")
    p.add_argument("--temperature", type=temperature, nargs="+", default=[0.7],
                   help="one or more T; 0 = greedy")
    p.add_argument("--greedy", action="store_true",
                   help="always take the most likely character (T = 0)")
    p.add_argument("--top-k", type=count(0), default=0,
                   help="sample among the k most likely characters (0: all)")
    p.add_argument("--length", type=count(0), default=100,
                   help="characters to generate after each prompt")
    p.add_argument("--num-samples", type=count(1), default=1,
                   help="samples per prompt and temperature")
    p.add_argument("--seed", type=int, default=0, help="same seed, same text")
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu or cuda[:N]")
    p.add_argument("--skip-unknown", action="store_true",
                   help="drop prompt characters outside the vocabulary")
    p.add_argument("--output",
                   help="also write the samples here (.json: with prompt, T, seed, checkpoint)")
    p.add_argument("--study", metavar="JSON",
                   help="run the temperature study, write its numbers here")
    p.add_argument("--study-figure", default=str(ROOT / "figures" / "temperature.png"),
                   help="the study's figure")
    p.add_argument("--data",
                   help="study only: training text for the known-word share (default: the checkpoint's)")
    args = p.parse_args(argv)
    try:
        args.device = resolve_device(args.device)
    except (ValueError, RuntimeError) as e:
        p.error(str(e))
    return args


def clean_prompts(prompts: list[str], vocab: str, skip_unknown: bool) -> list[str]:
    """Refuse (or, with --skip-unknown, drop with a warning) prompt characters outside the vocabulary."""
    unknown = sorted({c for p in prompts for c in p} - set(vocab))
    if unknown and not skip_unknown:
        raise ValueError(f"prompt characters not in the model's vocabulary: {''.join(unknown)!r} "
                         f"(use --skip-unknown to drop them)")
    if unknown:
        print(f"warning: dropping prompt characters not in the vocabulary: {''.join(unknown)!r}",
              file=sys.stderr)
    return ["".join(c for c in p if c in vocab) for p in prompts]


def main(argv=None):
    args = get_args(argv)
    try:
        path = Path(args.checkpoint or find_best_checkpoint(Path(os.path.relpath(ROOT / "checkpoints"))))
        model, ckpt = load_checkpoint(path, args.device)
        vocab = ckpt["vocab"]
        print(f"checkpoint {path}: {ckpt['config']['kind']}, epoch {ckpt['epoch']}, "
              f"best val loss {ckpt['best_val_loss']:.4f}", file=sys.stderr)
        if args.study:
            data = Path(args.data or ckpt["corpus"]["path"])
            result = temperature_study(model, vocab, data.read_text(encoding="utf-8"),
                                       seed=args.seed)
            result.update(checkpoint=str(path), data=str(data))
            Path(args.study).parent.mkdir(parents=True, exist_ok=True)
            Path(args.study).write_text(json.dumps(result, indent=1) + "\n")
            draw_temperature(result, vocab, Path(args.study_figure))
            for r in result["per_temperature"]:
                rounded = {k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}
                print(json.dumps(rounded))
            return
        from_file = [Path(args.prime_file).read_text(encoding="utf-8")] if args.prime_file else []
        prompts = (args.prime or []) + from_file or DEFAULT_PROMPTS
        prompts = clean_prompts(prompts, vocab, args.skip_unknown)
        temps = [0.0] if args.greedy else args.temperature
        # a prompt given k times draws samples 0..k*n-1, as --num-samples k*n would: k different
        # texts
        rows = [(p, t, prompts[:i].count(p) * args.num_samples + j)
                for i, p in enumerate(prompts) for t in temps for j in range(args.num_samples)]
        print(f"temperature {temps} | top-k {args.top_k or 'all'} | length {args.length} | seed {args.seed} | "
              f"{len(rows)} samples", file=sys.stderr)
        stream = None
        if len(rows) == 1:  # a single sample is written as it is produced
            sys.stdout.write(rows[0][0])
            stream = lambda c: (sys.stdout.write(c), sys.stdout.flush())
        texts = sample(model, vocab, [r[0] for r in rows], [r[1] for r in rows], args.length,
                       [r[2] for r in rows], args.seed, args.top_k, stream)
        print("\n" if stream else "\n\n".join(texts) + "\n", end="")
        if args.output:
            command = " ".join(["python generate.py", *(sys.argv[1:] if argv is None else argv)])
            records = [dict(prompt=p, temperature=t, seed=args.seed, sample=j, top_k=args.top_k,
                            checkpoint=str(path), command=command, text=x) for (p, t,
                                                                                j), x in zip(rows,
                                                                                             texts)]
            out = Path(args.output)
            out.write_text(json.dumps(records,
                                      indent=1) + "\n" if out.suffix == ".json" else "\n\n".join(texts) + "\n",
                           encoding="utf-8")
    except (CheckpointError, ValueError, OSError) as e:
        sys.exit(f"generate.py: error: {e}")


if __name__ == "__main__":
    main()
