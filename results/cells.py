"""Inside the networks: the units that track the position in a line and a speaker's header, in the
RNN and the LSTM side by side, against untrained networks of the same shape, with a causal check.

    python -m results.cells        # results/cells.json and figures/cells*.png, from checkpoints/

Each checkpoint reads the first --chars of the test plays in order, its state carried, through the
cell equations written out (trace), so that every layer's state (the LSTM's c and h, the RNN's and
the GRU's h) and the LSTM's gates are seen at every character. A unit's line-position score is
|Pearson r| with the number of characters since the last newline; its header score the AUROC for
"inside a speaker's header line" (an all-capitals name line ending in ':'), as |AUROC - 0.5| + 0.5.
The same is done for 3 randomly initialised networks of each shape (the control). The causal check
holds the top line unit at its mean while reading and measures the loss on newline targets and on
the others, against a random unit of the same layer.
"""

import argparse
import json
import re
import sys
from pathlib import Path

import torch

from baseline import KneserNey, windows_of
from dataset import Vocab, make_split, read_text
from figures.draw import draw_cells
from model import PARAMS, build_model, load_checkpoint

CONTROLS = 3  # random initialisations per shape
HEADER = re.compile(r"^[A-Z][A-Z' ]*[A-Z]:$")  # a speaker's name line, e.g. "KING RICHARD III:"


@torch.no_grad()
def trace(model, data: torch.Tensor, clamp: tuple | None = None) -> dict:
    """Read `data` (T,) in order from a zero state -> {"logits": (T, V), (state, layer): (T, H)}, and
    for the LSTM {("gates", layer): counts of each gate below 0.1 and above 0.9, (2, 3, H)}.
    `clamp` = (state, layer, unit, value) holds that unit at `value` after every step."""
    kind, rnn = model.kind, model.rnn
    layers, hidden = rnn.num_layers, rnn.hidden_size
    h = [torch.zeros(hidden) for _ in range(layers)]
    c = [torch.zeros(hidden) for _ in range(layers)]
    weights = [[getattr(rnn, f"{p}_l{layer}") for p in PARAMS] for layer in range(layers)]
    keep = {(s, layer): [] for layer in range(layers) for s in ("c", "h")[kind != "lstm" :]}
    gates = {("gates", layer): torch.zeros(2, 3, hidden) for layer in range(layers)}
    out = []
    for x in model.embedding(data):
        for layer, (w_ih, w_hh, b_ih, b_hh) in enumerate(weights):
            a, b = x @ w_ih.T + b_ih, h[layer] @ w_hh.T + b_hh
            if kind == "rnn":
                h[layer] = torch.tanh(a + b)
            elif kind == "gru":
                (ar, az, an), (br, bz, bn) = a.chunk(3), b.chunk(3)
                r, z = torch.sigmoid(ar + br), torch.sigmoid(az + bz)
                h[layer] = (1 - z) * torch.tanh(an + r * bn) + z * h[layer]
            else:
                i, f, g, o = (a + b).chunk(4)
                i, f, o = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o)
                c[layer] = f * c[layer] + i * torch.tanh(g)
                h[layer] = o * torch.tanh(c[layer])
                sigmoids = torch.stack([i, f, o])
                gates["gates", layer] += torch.stack([sigmoids < 0.1, sigmoids > 0.9])
            if clamp and clamp[1] == layer:
                (c if clamp[0] == "c" else h)[layer][clamp[2]] = clamp[3]
                h[layer] = torch.tanh(c[layer]) * o if clamp[0] == "c" else h[layer]
            for s in ("c", "h"):
                if (s, layer) in keep:
                    keep[s, layer].append((c if s == "c" else h)[layer].clone())
            x = h[layer]
        out.append(model.fc(x))
    result = {key: torch.stack(v) for key, v in keep.items()} | {"logits": torch.stack(out)}
    return result | (gates if kind == "lstm" else {})


def line_position(text: str) -> torch.Tensor:
    """Per character: how many characters since the last newline (0 on the character after it)."""
    pos, n = [], 0
    for ch in text:
        pos.append(n)
        n = 0 if ch == "\n" else n + 1
    return torch.tensor(pos, dtype=torch.float64)


def in_header(text: str) -> torch.Tensor:
    """Per character: whether it lies in a speaker's header line (its newline included)."""
    labels = []
    for line in text.split("\n"):
        labels += [bool(HEADER.match(line))] * (len(line) + 1)
    return torch.tensor(labels[: len(text)])


def pearson(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Correlation of each column of x (T, H) with y (T,); 0 for a constant column."""
    x, y = x.double() - x.double().mean(0), y.double() - y.double().mean()
    norm = x.norm(dim=0) * y.norm()
    return torch.where(norm > 0, (x * y[:, None]).sum(0) / norm, torch.zeros(()))


def auroc(x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per column of x (T, H): the probability that a positive outranks a negative (ties half)."""
    ranks = torch.empty_like(x, dtype=torch.float64)
    for j in range(x.shape[1]):  # average ranks, so that ties count half
        values, inverse, counts = torch.unique(x[:, j], return_inverse=True, return_counts=True)
        ends = counts.cumsum(0).double()
        ranks[:, j] = (ends - (counts.double() - 1) / 2)[inverse]
    pos, neg = labels.sum().item(), (~labels).sum().item()
    return (ranks[labels].sum(0) - pos * (pos + 1) / 2) / (pos * neg)


def best_units(states: dict, position: torch.Tensor, header: torch.Tensor) -> dict:
    """The unit of highest |r| with the line position, and of highest |AUROC - 0.5| for headers."""
    best = {}
    for (state, layer), x in states.items():
        r, a = pearson(x, position), auroc(x, header)
        for name, score, value in (("line", r.abs(), r), ("header", (a - 0.5).abs(), a)):
            unit = int(score.argmax())
            if name not in best or score[unit] > best[name]["score"]:
                best[name] = dict(layer=layer, unit=unit, state=state, score=float(score[unit]))
                best[name]["corr" if name == "line" else "auroc"] = float(value[unit])
    return {k: {x: v for x, v in u.items() if x != "score"} for k, u in best.items()}


def nll(logits: torch.Tensor, data: torch.Tensor) -> torch.Tensor:
    """The loss of each target data[1:] given logits[:-1]."""
    return torch.nn.functional.cross_entropy(logits[:-1], data[1:], reduction="none")


def causal(model, data, traced: dict, unit: dict, newline: int, seed: int) -> dict:
    """Loss change on newline targets and on the others when `unit` (and, as the control, a random
    unit of its layer) is held at its mean while reading."""
    base = nll(traced["logits"], data)
    is_newline = data[1:] == newline
    out = {}
    other = int(
        torch.randint(model.rnn.hidden_size, (1,), generator=torch.Generator().manual_seed(seed))
    )
    for name, j in (("top", unit["unit"]), ("random", other)):
        mean = traced[unit["state"], unit["layer"]][:, j].mean().item()
        held = nll(trace(model, data, (unit["state"], unit["layer"], j, mean))["logits"], data)
        out[name] = dict(unit=j, newline=(held - base)[is_newline].mean().item(),
                         other=(held - base)[~is_newline].mean().item())  # fmt: skip
    return out


def newline_curve(probs: torch.Tensor, position: torch.Tensor, top: int = 80) -> list:
    """Mean P(newline next) at each number of characters since the last newline, 0..top-1."""
    return [
        probs[position == k].mean().item() if (position == k).any() else None for k in range(top)
    ]


def ngram_newline(train: str, text: str, vocab: Vocab) -> torch.Tensor:
    """The 6-gram's P(newline next) after each character of `text`, its context never cut."""
    split = make_split(vocab.encode(train), 30, 0, vocab.pad, 0)
    kn = KneserNey(6, len(vocab), 3).fit(windows_of(split.chunks, split.train, vocab))
    return torch.tensor([kn.prob("\n", text[max(0, i - 4) : i + 1]) for i in range(len(text))])


def get_args(argv=None):
    p = argparse.ArgumentParser(description="Units that track a line and a speaker.")
    p.add_argument("--checkpoints", nargs="+", default=["checkpoints/rnn.pt", "checkpoints/lstm.pt"],
                   help="the networks (default: %(default)s)")  # fmt: skip
    p.add_argument(
        "--text", default="data/shakespeare_test.txt", help="read (default: %(default)s)"
    )
    p.add_argument("--train", default="data/shakespeare_train.txt",
                   help="the 6-gram's training text (default: %(default)s)")  # fmt: skip
    p.add_argument("--chars", type=int, default=50_000, help="of --text (default: %(default)s)")
    p.add_argument("--out", default="results/cells.json", help="(default: %(default)s)")
    p.add_argument("--figures", default="figures", help="folder (default: %(default)s)")
    return p.parse_args(argv)


def main(argv=None):
    args = get_args(argv)
    torch.set_num_threads(1)  # batch-1 steps: threads only add overhead
    text = read_text(args.text)[: args.chars]
    position, header = line_position(text)[:-1], in_header(text)[:-1]  # the inputs' characters
    out = dict(
        command=" ".join(["python -m results.cells", *(sys.argv[1:] if argv is None else argv)])
    )
    out |= dict(text=args.text, chars=len(text), header_chars=int(header.sum()), models={})
    traces = {}
    for path in args.checkpoints:
        model, ckpt = load_checkpoint(path)
        vocab = Vocab(ckpt["vocab"])
        data = vocab.encode("".join(c if c in vocab.stoi else " " for c in text))
        traced = trace(model, data)
        states = {k: v[:-1] for k, v in traced.items() if isinstance(k, tuple) and k[0] != "gates"}
        kind = model.kind
        row = dict(checkpoint=str(path), best=best_units(states, position, header), controls=[])
        row["causal"] = causal(model, data, traced, row["best"]["line"], vocab.stoi["\n"], 0)
        for seed in range(CONTROLS):
            torch.manual_seed(seed)
            control = build_model(ckpt["config"]).eval()
            c = trace(control, data)
            c = {k: v[:-1] for k, v in c.items() if isinstance(k, tuple) and k[0] != "gates"}
            row["controls"].append(best_units(c, position, header))
        probs = torch.softmax(traced["logits"], -1)[:-1, vocab.stoi["\n"]]
        row["p_newline"] = newline_curve(probs, position)
        if kind == "lstm":
            steps = len(data)
            row["gates"] = {str(layer): (traced["gates", layer] / steps).tolist()
                            for layer in range(model.rnn.num_layers)}  # fmt: skip
        out["models"][kind] = row
        traces[kind] = (traced, data, vocab)
        print(f"{path}: {row['best']}", flush=True)
    train = read_text(args.train)
    vocab = Vocab.from_text(train)
    clean = "".join(c if c in vocab.stoi else " " for c in text)
    out["ngram_p_newline"] = newline_curve(ngram_newline(train, clean, vocab)[:-1], position)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    draw_cells(out, traces, text, line_position(text).numpy(), Path(args.figures))


if __name__ == "__main__":
    main()
