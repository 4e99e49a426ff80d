"""Sampling from a character model: the prompt is fed once, then each step draws a character from
softmax(last logits / T) and feeds it back, carrying the hidden state. generate.py, main.py (the
sample a run ends with) and the temperature study use it.

    from sampling import sample
    texts = sample(model, vocab, ["The "], [0.7], length=200, sample_ids=[0])
"""

import math
import zlib

import numpy as np
import torch


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


DEFAULT_PROMPTS = ["The ", "And ", "But ", "She ", "He "]


def fitting_prompts(ckpt: dict) -> list[str]:
    """The prompts a checkpoint samples from when none is given: the default prompts its vocabulary
    can read, else the opening words of its training text that it stores, else the start of a text."""
    fit = [p for p in DEFAULT_PROMPTS if set(p) <= set(ckpt["vocab"])]
    return fit or ckpt.get("prompts") or [""]


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
    stoi = {c: i for i, c in enumerate(vocab)}
    start = "\n" if "\n" in stoi else vocab[0]  # an empty prompt starts as a text does (Vocab.pad)
    encoded = [[stoi[c] for c in p or start] for p in prompts]
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
