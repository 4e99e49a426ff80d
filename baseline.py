"""Count-based baseline: an interpolated Kneser-Ney character n-gram, on the networks' protocol.

    python baseline.py --data data/shakespeare_train.txt --unseen data/shakespeare_unseen.txt \
        --out results/baseline.json

It is fitted on the training chunks of the same 80/20 split and scores the same 30 targets per chunk
with its context restricted to the chunk, as a zero initial state restricts the RNN: the first
target of a chunk is predicted from one character, the second from two, and so on up to order - 1.
"""

import argparse
import json
import math
import sys
from collections import Counter, defaultdict
from pathlib import Path

import torch

from dataset import (
    HELD_OUT,
    Chunks,
    CorpusError,
    Vocab,
    known_ids,
    load_corpus,
    make_split,
    read_text,
)
from model import load_checkpoint


class KneserNey:
    """Interpolated Kneser-Ney over characters (Chen & Goodman 1998), with one discount per order
    (`discounts=1`, the classic form) or three, for counts 1, 2 and 3+ (`discounts=3`, modified KN).

    The highest order in play uses raw counts; the orders below it use continuation counts
    N1+(. g), the number of distinct characters seen before g. The base is uniform over the
    vocabulary.
    """

    def __init__(self, order: int, vocab_size: int, discounts: int = 1):
        self.order, self.vocab_size, self.discounts = order, vocab_size, discounts

    def fit(self, windows: list[str]) -> "KneserNey":
        raw = {k: Counter() for k in range(1, self.order + 1)}
        for w in windows:
            for k in raw:
                raw[k].update(w[i : i + k] for i in range(len(w) - k + 1))
        cont = {k: Counter(g[1:] for g in raw[k + 1]) for k in range(1, self.order)}
        self.tables = {(k, True): self._table(raw[k]) for k in raw}
        self.tables.update({(k, False): self._table(cont[k]) for k in cont})
        return self

    def _table(self, counts: Counter, d: list | None = None) -> dict:
        """Counts plus, per context h, the total count and the mass D(c) taken from its successors;
        the discounts D(c) are estimated from the counts unless given."""
        d = self._discounts(counts) if d is None else d
        total, gamma = defaultdict(int), defaultdict(float)
        for g, c in counts.items():
            total[g[:-1]] += c
            gamma[g[:-1]] += d[min(c, 3)]
        return dict(counts=counts, total=total, gamma=gamma, d=d)

    def _discounts(self, counts: Counter) -> list:
        """D(0..3): one y for every count, or Chen & Goodman's D1, D2, D3+ (y where undefined)."""
        n = [sum(c == i for c in counts.values()) for i in range(1, 5)]  # count-of-counts n1..n4
        y = n[0] / (n[0] + 2 * n[1]) if n[0] else 0.5
        if self.discounts == 1:
            return [0.0, y, y, y]
        return [0.0] + [
            k - (k + 1) * y * n[k] / n[k - 1] if n[k - 1] and n[k] else y for k in (1, 2, 3)
        ]

    def add(self, text: str, i: int) -> None:
        """Count the n-grams of `text` that end at character i, as fit() would have counted them:
        the adaptive (cache) form. The discounts stay those of the fit."""
        for k in range(min(self.order, i + 1), 0, -1):
            gram = text[i - k + 1 : i + 1]
            if self._bump(self.tables[(k, True)], gram) and k > 1:  # a new type: one more
                self._bump(self.tables[(k - 1, False)], gram[1:])  # distinct predecessor

    @staticmethod
    def _bump(table: dict, gram: str) -> bool:
        """One more count of `gram` in `table`; whether it was unseen before."""
        c = table["counts"][gram]
        table["counts"][gram] = c + 1
        table["total"][gram[:-1]] += 1
        table["gamma"][gram[:-1]] += table["d"][min(c + 1, 3)] - table["d"][min(c, 3)]
        return c == 0

    def prob(self, char: str, context: str, top: bool = True) -> float:
        """P(char | context), with the context cut to the last order - 1 characters."""
        context = (
            context[len(context) - self.order + 1 :] if len(context) >= self.order else context
        )
        lower = self.prob(char, context[1:], top=False) if context else 1.0 / self.vocab_size
        t = self.tables[(len(context) + 1, top or len(context) + 1 == self.order)]
        total = t["total"].get(context, 0)
        if total == 0:
            return lower
        c = t["counts"].get(context + char, 0)
        return max(c - t["d"][min(c, 3)], 0) / total + t["gamma"][context] / total * lower


def windows_of(chunks: Chunks, ids, vocab: Vocab) -> list[str]:
    """Each chunk as its K + seq_len + 1 characters: context, input, and the one character after it."""
    x, y = chunks.batch(ids)
    return [vocab.decode(row) + vocab.chars[int(last)] for row, last in zip(x, y[:, -1])]


def target_probs(model: KneserNey, windows: list[str], context: int = 0) -> list[float]:
    """P(target) of each window's characters after the first 1 + context, in order."""
    cache, probs = {}, []  # (context, char) pairs repeat a lot: compute each once
    for w in windows:
        for t in range(1 + context, len(w)):
            key = (w[max(0, t - model.order + 1) : t], w[t])
            if key not in cache:
                cache[key] = model.prob(key[1], key[0])
            probs.append(cache[key])
    return probs


def read_probs(model: KneserNey, text: str, protocol: str, seg_len: int = 30) -> torch.Tensor:
    """P(target) of text[1:], read in segments of seg_len targets as the networks read it
    (evaluation.read): `chunks` cuts each context at its segment's start, `stateful` never cuts it,
    `dynamic` also adds each segment's n-grams once it is scored. It changes `model` when dynamic."""
    probs, cache, added = [], {}, 0
    for p in range(1, len(text)):
        start = 0 if protocol != "chunks" else (p - 1) // seg_len * seg_len
        context = text[max(start, p - model.order + 1) : p]
        if protocol == "dynamic":
            probs.append(model.prob(text[p], context))
            if p % seg_len == 0 or p == len(text) - 1:  # the segment is scored: count it
                for i in range(added, p + 1):
                    model.add(text, i)
                added = p + 1
        else:
            key = (context, text[p])
            if key not in cache:
                cache[key] = model.prob(text[p], context)
            probs.append(cache[key])
    return torch.tensor(probs, dtype=torch.float64)


@torch.no_grad()
def network_probs(net, chunks: Chunks, ids) -> torch.Tensor:
    """The network's probability of every scored target of chunks `ids`, in the windows' order."""
    probs = []
    for start in range(0, len(ids), 1024):
        x, y = chunks.batch(ids[start : start + 1024])
        logits = net(x)[0][:, -y.shape[1] :].double()
        probs.append(torch.softmax(logits, -1).gather(2, y[..., None]).flatten())
    return torch.cat(probs)


def mixed_loss(net_p: torch.Tensor, count_p: torch.Tensor, w: float) -> float:
    """Nats/char of p = w net + (1 - w) n-gram, from each model's probability of every target."""
    return -torch.log(w * net_p + (1 - w) * count_p).mean().item()


def mix_weight(net_p: torch.Tensor, count_p: torch.Tensor) -> float:
    """The weight w in 0, 0.01, ..., 1 of p = w net + (1 - w) n-gram that scores best on these."""
    return min((k / 100 for k in range(101)), key=lambda w: mixed_loss(net_p, count_p, w))


def mixture(net_p: dict, count_p: dict) -> dict:
    """Interpolate the network's and the n-gram's next-character distributions with the one weight
    that scores best on the dev plays; the loss of each text at that weight."""
    weight = mix_weight(net_p["dev"], count_p["dev"])
    losses = {f"{name}_loss": mixed_loss(net_p[name], count_p[name], weight) for name in net_p}
    return dict(weight=weight, **losses)


def score(model: KneserNey, windows: list[str], context: int = 0) -> float:
    """Mean negative log-likelihood (nats/char) of each window's characters after the first 1 + context."""
    probs = target_probs(model, windows, context)
    return sum(-math.log(p) for p in probs) / len(probs)


def get_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Interpolated Kneser-Ney character n-gram baseline.")
    p.add_argument(
        "--data", default="data/shakespeare_train.txt", help="the training corpus (as for main.py)"
    )
    p.add_argument(
        "--orders", type=int, nargs="+", default=[3, 4, 5, 6, 7], help="n-gram orders to fit"
    )
    p.add_argument(
        "--discounts",
        type=int,
        nargs="+",
        choices=[1, 3],
        default=[1, 3],
        help="1: interpolated KN with one discount per order; 3: modified KN (counts 1, 2, 3+)",
    )
    p.add_argument("--seq-len", type=int, default=30, help="characters per chunk")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the 80/20 chunk split")
    p.add_argument(
        "--context",
        type=int,
        default=0,
        help="score each chunk after its K preceding characters, as main.py --context does",
    )
    for name in HELD_OUT:  # --unseen, --dev, --test, as main.py scores them
        p.add_argument(
            f"--{name}", help="also score this text (chunks with unknown characters dropped)"
        )
    p.add_argument(
        "--mix",
        nargs="+",
        metavar="CHECKPOINT",
        help="with --dev: also score each network interpolated with the modified-KN n-gram of "
        "the last --orders, the weight chosen on the dev plays",
    )
    p.add_argument("--out", help="write the numbers to this JSON file")
    args = p.parse_args(argv)
    if args.mix and not args.dev:
        p.error("--mix needs --dev: the weight is chosen on the dev plays")
    return args


def texts(args) -> tuple:
    """The split, the vocabulary, and the (chunks, ids) scored of each text: val and the held-out."""
    try:
        _, vocab, data = load_corpus(args.data, args.seq_len)
        held = {name: read_text(getattr(args, name)) for name in HELD_OUT if getattr(args, name)}
    except CorpusError as e:
        sys.exit(f"baseline.py: error: {e} (python data/prepare.py --source tinyshakespeare)")
    split = make_split(data, args.seq_len, 0, vocab.pad, args.split_seed)  # fitted without context
    scored = {"val": (Chunks(data, args.seq_len, args.context, vocab.pad), split.val)}
    for name, text in held.items():
        chunks = Chunks(vocab.encode(text, unknown=-1), args.seq_len, args.context, vocab.pad)
        scored[name] = (chunks, known_ids(chunks))
    return split, vocab, scored


def fit_and_score(args, train: list[str], windows: dict, vocab_size: int) -> list[dict]:
    """One row per (discounts, order): the loss on every scored text."""
    results = []
    for discounts in args.discounts:
        for order in args.orders:
            model = KneserNey(order, vocab_size, discounts).fit(train)
            row = dict(order=order, discounts=discounts)
            row |= {f"{name}_loss": score(model, w, args.context) for name, w in windows.items()}
            results.append(row)
            held = "".join(f" | {n} {row[f'{n}_loss']:.4f}" for n in windows if n != "val")
            print(
                f"order {order}, {discounts} discount(s): val {row['val_loss']:.4f} nats/char "
                f"({row['val_loss'] / math.log(2):.4f} bits/char){held}",
                flush=True,
            )
    return results


def mix(args, train: list[str], windows: dict, scored: dict, vocab: Vocab) -> dict:
    """Each --mix network interpolated with the modified-KN n-gram of the last order."""
    counts = KneserNey(args.orders[-1], len(vocab), 3).fit(train)
    count_p = {
        name: torch.tensor(target_probs(counts, w, args.context), dtype=torch.float64)
        for name, w in windows.items()
    }
    mixed = {}
    for path in args.mix:
        net, ckpt = load_checkpoint(path)
        if ckpt["vocab"] != vocab.chars:
            sys.exit(f"baseline.py: error: {path} has another vocabulary than {args.data}")
        net_p = {name: network_probs(net, *scored[name]) for name in windows}
        row = dict(checkpoint=str(path), order=args.orders[-1], **mixture(net_p, count_p))
        mixed[net.config.kind] = row
        shown = ", ".join(
            f"{k} {v:.4f}" for k, v in row.items() if k.endswith("loss") or k == "weight"
        )
        print(f"{path} mixed with the {args.orders[-1]}-gram: {shown}", flush=True)
    return mixed


def main(argv=None):
    args = get_args(argv)
    split, vocab, scored = texts(args)
    train = windows_of(split.chunks, split.train, vocab)
    windows = {name: windows_of(chunks, ids, vocab) for name, (chunks, ids) in scored.items()}
    results = fit_and_score(args, train, windows, len(vocab))
    mixed = mix(args, train, windows, scored, vocab) if args.mix else {}
    if args.out:
        out = dict(
            command="python baseline.py " + " ".join(sys.argv[1:] if argv is None else argv),
            data=args.data,
            seq_len=args.seq_len,
            split_seed=args.split_seed,
            context=args.context,
            val_chunks=len(windows["val"]),
            results=results,
        )
        for name in HELD_OUT:
            out |= {name: getattr(args, name), f"{name}_chunks": len(windows.get(name, []))}
        if mixed:
            out["mixture"] = mixed
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
