"""The temperature study: what T does to samples of a checkpoint. An experiment, not the sampler.

    python -m results.temperature --data data/shakespeare_train.txt   # results/temperature.json

Per temperature: the samples' NLL under the model at T = 1, the share of their words seen in the
training text and of distinct words, and the entropy of the distributions they were drawn from;
beside it, how often the reference study's sampler starts with the vocabulary's last character.
Draws figures/temperature.png.
"""

import argparse
import json
import re
import sys
from pathlib import Path

import torch

from dataset import Vocab
from figures.draw import draw_temperature
from model import CheckpointError, load_checkpoint
from sampling import DEFAULT_PROMPTS, sample

ROOT = Path(__file__).resolve().parents[1]

STUDY_TEMPERATURES = [0.2, 0.5, 0.7, 1.0, 1.5, 2.0, 4.0]


@torch.no_grad()
def sample_scores(
    model, vocab: str, prompt: str, texts: list[str], temperatures: list[float]
) -> tuple:
    """Per sample, summed over its generated characters: their NLL under the model at T = 1, and the
    entropy of the distributions softmax(logits / T) they were drawn from; one forward pass over
    all."""
    v = Vocab(vocab)
    prefix = prompt or v.chars[v.pad]  # what sample() feeds first
    device = next(model.parameters()).device
    ids = torch.stack([v.encode(prefix + t[len(prompt) :]) for t in texts]).to(device)
    logits = model(ids[:, :-1])[0][
        :, len(prefix) - 1 :
    ].double()  # (B, length, V): one per generated char
    nll = -torch.log_softmax(logits, -1).gather(2, ids[:, len(prefix) :, None]).sum((1, 2))
    t = torch.tensor(temperatures, dtype=torch.float64, device=logits.device)[:, None, None]
    p = torch.softmax(logits / t, -1)
    entropy = -(p * torch.log(p.clamp_min(1e-300))).sum((1, 2))
    return nll.tolist(), entropy.tolist()


def temperature_study(
    model,
    vocab: str,
    train_text: str,
    temperatures=STUDY_TEMPERATURES,
    num_samples=50,
    length=300,
    seed=0,
    prompt="",
    context="What say you, my lo",
) -> dict:
    """Measure what T does to samples: NLL under the model at T = 1, known and distinct words, entropy."""
    words_of = lambda text: re.findall(r"[A-Za-z']+", text)  # runs of letters and apostrophes
    known = set(words_of(train_text))
    rows = [(t, j) for t in temperatures for j in range(num_samples)]
    texts = sample(
        model, vocab, [prompt] * len(rows), [t for t, _ in rows], length, [j for _, j in rows], seed
    )
    nll, entropy = sample_scores(model, vocab, prompt, texts, [t for t, _ in rows])
    result = dict(
        prompt=prompt, num_samples=num_samples, length=length, seed=seed, per_temperature=[]
    )
    for t in temperatures:
        idx = [i for i, (tt, _) in enumerate(rows) if tt == t]
        words = [w for i in idx for w in words_of(texts[i][len(prompt) :])]
        result["per_temperature"].append(
            dict(
                temperature=t,
                nll_at_t1=sum(nll[i] for i in idx) / (len(idx) * length),
                known_word_share=sum(w in known for w in words) / max(len(words), 1),
                distinct_word_share=len(set(words)) / max(len(words), 1),
                entropy=sum(entropy[i] for i in idx) / (len(idx) * length),
                words=len(words),
                example=texts[idx[0]][len(prompt) :][:120],
            )
        )
    device = next(model.parameters()).device
    with torch.no_grad():
        logits = model(Vocab(vocab).encode(context)[None].to(device))[0][0, -1]
    result["context"] = dict(
        text=context,
        distribution={
            str(t): torch.softmax(logits.double() / t, -1).tolist() for t in (0.7, 1.0, 4.0)
        },
    )
    prompts = [p for p in DEFAULT_PROMPTS if set(p) <= set(vocab)]
    result["reference_sampler"] = reference_bug(model, vocab, prompts, num_samples * 20, seed)
    return result


@torch.no_grad()
def reference_bug(model, vocab: str, prompts: list[str], n: int, seed: int) -> dict:
    """How often the first generated character is the last of the vocabulary, for each prompt at T =
    1: with the reference study's sampler (one softmax over the logits of every prompt position at
    once, the flat index clamped into the vocabulary) and with the correct one (last position
    only)."""
    gen, device = torch.Generator().manual_seed(seed), next(model.parameters()).device
    shares = {}
    for prompt in prompts:
        logits = model(Vocab(vocab).encode(prompt)[None].to(device))[0][0]
        flat = torch.multinomial(
            torch.softmax(logits.flatten().double(), -1).cpu(), n, True, generator=gen
        )
        right = torch.multinomial(
            torch.softmax(logits[-1].double(), -1).cpu(), n, True, generator=gen
        )
        shares[prompt] = dict(
            reference=(flat.clamp(max=len(vocab) - 1) == len(vocab) - 1).float().mean().item(),
            correct=(right == len(vocab) - 1).float().mean().item(),
        )
    return dict(last_char=vocab[-1], samples_per_prompt=n, first_char_share=shares)


def main(argv=None):
    p = argparse.ArgumentParser(description="What the temperature does to samples.")
    p.add_argument(
        "--checkpoint", default="checkpoints/lstm.pt", help="a .pt file (default: %(default)s)"
    )
    p.add_argument(
        "--data", help="training text, for the known-word share (default: the checkpoint's)"
    )
    p.add_argument("--seed", type=int, default=0, help="same seed, same samples")
    p.add_argument("--out", default=str(ROOT / "results" / "temperature.json"), help="the numbers")
    p.add_argument("--figure", default=str(ROOT / "figures" / "temperature.png"), help="the figure")
    args = p.parse_args(argv)
    try:
        path = Path(args.checkpoint)
        model, ckpt = load_checkpoint(path)
        data = Path(args.data or ckpt["corpus"]["path"])
        text = data.read_text(encoding="utf-8")
    except (CheckpointError, OSError) as e:
        sys.exit(f"temperature.py: error: {e}")
    command = "python -m results.temperature " + " ".join(sys.argv[1:] if argv is None else argv)
    result = dict(command=command) | temperature_study(model, ckpt["vocab"], text, seed=args.seed)
    result.update(checkpoint=str(path), data=str(data))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    draw_temperature(result, ckpt["vocab"], Path(args.figure))
    for r in result["per_temperature"]:
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}))


if __name__ == "__main__":
    main()
