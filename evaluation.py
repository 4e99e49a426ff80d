"""Reading a text in order: the three protocols of evaluation (chunks, stateful, dynamic) and
dynamic evaluation's updates (SGD, and Krause et al.'s RMS with its gradient statistics); and
nanoGPT's protocol, blocks. A library for main.py, generate.py and results/reading.py.

    from evaluation import read, blocks
    nll, hit = read(model, vocab.encode(text, unknown=-1), "stateful")  # per character
    blocks(model, vocab, text, 256)  # nanoGPT's: loss, bits, acc, count
"""

import copy
import math
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F

from dataset import STATEFUL, Chunks, Split, Vocab, known_ids, opening_words
from model import atomic_save, load_checkpoint
from trainer import EVAL_BATCH, count_correct, run_epoch

READ_AS = " "  # what a character outside the vocabulary is read as; it is not scored
PROTOCOLS = {
    "chunks": "each segment from a zero state: the study's protocol",
    "stateful": "the text in order, the state carried from segment to segment",
    "dynamic": "stateful, and a gradient step on each segment once it is scored",
}
# main.py --val-tail reads the tail in blocks of these: nanoGPT's block sizes on a CPU and on a GPU
BLOCKS = (64, 256)


def streams(data: torch.Tensor, num_streams: int, seg_len: int, fill: int) -> tuple:
    """Targets data[1:] cut into `num_streams` contiguous streams of S characters (S a multiple of
    seg_len) and their inputs, (B, S) each, read side by side. Unknown characters (-1 in `data`) are
    read as `fill` and, like the padding after the end, are targets of -1: not scored."""
    n = len(data) - 1
    width = math.ceil(n / num_streams / seg_len) * seg_len
    x = torch.full((num_streams * width,), fill, dtype=torch.long)
    y = torch.full((num_streams * width,), -1, dtype=torch.long)
    x[:n], y[:n] = torch.where(data[:-1] < 0, fill, data[:-1]), data[1:]
    return x.view(num_streams, width), y.view(num_streams, width)


# Dynamic evaluation's settings per model family, chosen on the dev plays by results/reading.py
# (every setting tried is in results/reading/*.json); generate.py --adapt reads with these.
DYNAMIC = {
    "RNN": dict(seg_len=30, streams=1, rule="rms", lr=3.33e-05, decay=0.00037),
    "LSTM": dict(seg_len=60, streams=1, rule="rms", lr=1e-4, decay=0.00111),
    "RNN-256": dict(seg_len=60, streams=1, rule="rms", lr=3.33e-05, decay=0.00111),
}


def family(config: dict) -> str:
    """RNN, LSTM, or e.g. RNN-256 for a width other than the study's 128."""
    name = config["kind"].upper()
    return name if config["hidden_size"] == 128 else f"{name}-{config['hidden_size']}"


def dynamic_settings(config: dict) -> tuple[dict, str]:
    """The dynamic-evaluation settings for a model -> (settings, the family they were chosen for):
    its family's, else its kind's at the study's width, else the LSTM's (none chosen for it yet)."""
    fam = next(f for f in (family(config), config["kind"].upper(), "LSTM") if f in DYNAMIC)
    return DYNAMIC[fam], fam


def score_text(model, vocab: Vocab, text: str, stats: list | None, device="cpu") -> dict:
    """A text read under each protocol (chunks: 30-character segments from a zero state; stateful;
    dynamic with the settings of dynamic_settings, on a copy of `model`) -> per protocol its loss
    (nats and bits per character), accuracy and the negative log-likelihood of each character,
    over every character but the first whose target is in the vocabulary."""
    data = vocab.encode(text, unknown=-1)
    fill = vocab.stoi.get(READ_AS, vocab.pad)
    dyn, _ = dynamic_settings(asdict(model.config))
    reads = {
        "chunks": dict(seg_len=30, num_streams=64),  # segments are independent: batched
        "stateful": dict(seg_len=30, num_streams=1),
        "dynamic": dict(seg_len=dyn["seg_len"], num_streams=dyn["streams"]),
    }
    result = {}
    for protocol, kw in reads.items():
        net, update = model, None
        if protocol == "dynamic":
            net = copy.deepcopy(model)
            update = dynamic_update(net, dyn, stats)
        nll, hit = read(net, data, protocol, update=update, fill=fill, device=device, **kw)
        scored = ~nll.isnan()
        loss = nll[scored].mean().item()
        acc = hit[scored].double().mean().item()
        result[protocol] = dict(loss=loss, bits=loss / math.log(2), acc=acc, nll=nll)
    return result


def dynamic_update(model, s: dict, stats: list | None = None):
    """The update `s` names for `model`: SGD, or RMS with the gradient statistics `stats`."""
    if s["rule"] == "sgd":
        return SGD(model, s["lr"])
    return RMS(model, s["lr"], s["decay"], stats)


class SGD:
    """Dynamic evaluation's plain update: theta -= lr * grad."""

    def __init__(self, model, lr: float):
        self.lr = lr

    @torch.no_grad()
    def __call__(self, model) -> None:
        for p in model.parameters():
            p.sub_(p.grad, alpha=self.lr)


class RMS:
    """Krause et al. (2018)'s update: each gradient divided by its root-mean-square over the training
    text at the trained weights, plus a decay back towards the trained weights that is larger where
    that RMS is (each parameter's rate capped at 1, i.e. the full way back):

        theta += decay * min(rms / mean(rms), 1 / decay) * (theta_0 - theta) - lr * grad / (rms + eps)
    """

    def __init__(self, model, lr: float, decay: float, grad_ms: list, eps: float = 1e-5):
        self.lr, self.decay, self.eps = lr, decay, eps
        self.rms = [ms.sqrt() for ms in grad_ms]
        mean = sum(r.mean() for r in self.rms) / len(self.rms)
        self.rate = [(decay * r / mean).clamp(max=1.0) for r in self.rms]
        self.start = [p.detach().clone() for p in model.parameters()]

    @torch.no_grad()
    def __call__(self, model) -> None:
        for p, p0, rms, rate in zip(model.parameters(), self.start, self.rms, self.rate):
            p.add_(rate * (p0 - p)).addcdiv_(p.grad, rms + self.eps, value=-self.lr)


# RMS's gradient statistics are taken over the training text in these segments and streams, whatever
# the segment length dynamic evaluation then reads with (the settings were chosen with these).
STATS_SEG_LEN, STATS_BATCH = 30, 64


def grad_ms(model, data: torch.Tensor, seg_len: int, batch: int, device) -> list:
    """Per parameter: the mean square of the gradient of a batch's mean loss, over the training text
    read as `batch` streams of seg_len segments at the trained weights (RMS's statistics)."""
    x, y = streams(data, batch, seg_len, 0)
    sums, hidden, steps = [torch.zeros_like(p) for p in model.parameters()], None, 0
    model.eval()
    for t in range(0, x.shape[1], seg_len):
        xs, ys = x[:, t : t + seg_len].to(device), y[:, t : t + seg_len].to(device)
        logits, hidden = model(xs, hidden)
        hidden = detach(hidden)
        if (ys >= 0).any():
            model.zero_grad(set_to_none=True)
            F.cross_entropy(logits.flatten(0, 1), ys.flatten(), ignore_index=-1).backward()
            for s, p in zip(sums, model.parameters()):
                s.addcmul_(p.grad, p.grad)
            steps += 1
    model.zero_grad(set_to_none=True)
    return [s / steps for s in sums]


def evaluate(model, vocab: Vocab, split: Split, eval_context: int, held_out, device):
    """Exact loss and accuracy of one model: on the train and val chunks of `split`, on val with
    `eval_context` characters of context, and on each held-out text (`held_out`: name -> (path,
    text)): in its chunks that hold no unknown character (the study's protocol), and read in order
    with the state carried (every character whose target is known). With --val-tail (the split's
    val_start), also the validation tail under tail_scores."""
    chunks = split.chunks
    fed = Chunks(chunks.data, chunks.seq_len, eval_context, vocab.pad)
    result = {}
    for name, each, ids in (
        ("train", chunks, split.train),
        ("val", chunks, split.val),
        ("val_context", fed, split.val),
    ):
        loss, acc = run_epoch(model, each, ids, EVAL_BATCH, device)
        result |= {f"{name}_loss": loss, f"{name}_acc": acc}
    result["eval_context"] = eval_context
    for name, (path, held) in held_out.items():
        data = vocab.encode(held, unknown=-1)
        each = Chunks(data, chunks.seq_len, chunks.context, vocab.pad)
        ids = known_ids(each)
        loss, acc = run_epoch(model, each, ids, EVAL_BATCH, device)
        result |= {f"{name}_loss": loss, f"{name}_acc": acc, name: path}
        result |= {f"{name}_chunks": len(ids), f"{name}_dropped": len(each) - len(ids)}
        if name in STATEFUL:
            fill = vocab.stoi.get(READ_AS, 0)
            nll, hit = read(model, data, "stateful", chunks.seq_len, fill=fill, device=device)
            scored = ~nll.isnan()
            result[f"{name}_stateful_loss"] = nll[scored].mean().item()
            result[f"{name}_stateful_acc"] = hit[scored].double().mean().item()
    if split.val_start is not None:  # --val-tail
        result |= tail_scores(model, vocab, chunks.data[split.val_start :], chunks.seq_len, device)
    return result


def add_statistics(path: Path, text: str, device="cpu") -> None:
    """Store in the checkpoint at `path` what adapting it needs from its training text `text`:
    RMS's gradient statistics ("grad_ms", one tensor per parameter) and prompts from the text's
    opening words ("prompts"), so that generate.py --adapt needs nothing else."""
    model, ckpt = load_checkpoint(path, device)
    data = Vocab(ckpt["vocab"]).encode(text, unknown=-1)
    stats = grad_ms(model, data, STATS_SEG_LEN, STATS_BATCH, device)
    ckpt |= dict(grad_ms=[s.cpu() for s in stats], prompts=opening_words(text))
    ckpt["model"] = {k: v.cpu() for k, v in ckpt["model"].items()}
    atomic_save(ckpt, path)


def detach(hidden):
    return tuple(h.detach() for h in hidden) if isinstance(hidden, tuple) else hidden.detach()


def read(
    model, data, protocol="stateful", seg_len=30, num_streams=1, update=None, fill=0, device="cpu"
):
    """Score every character of `data` (encoded, -1 unknown) but the first, in order -> the negative
    log-likelihood of each target (nan where not scored) and whether the argmax predicted it, both
    (len(data) - 1,) in the text's order. `update(model)`, for dynamic, is applied after each
    segment is scored, with the gradient of that segment's mean loss: no score depends on a gradient
    from its own character or one read after it. It changes `model`'s weights."""
    x, y = streams(data, num_streams, seg_len, fill)
    nll = torch.full(y.shape, math.nan, dtype=torch.float64)
    hit = torch.zeros(y.shape, dtype=torch.bool)
    hidden, dynamic = None, protocol == "dynamic"
    model.eval()
    for t in range(0, x.shape[1], seg_len):
        xs, ys = x[:, t : t + seg_len].to(device), y[:, t : t + seg_len].to(device)
        if protocol == "chunks":
            hidden = None
        with torch.set_grad_enabled(dynamic):
            logits, hidden = model(xs, hidden)
            scored = ys >= 0
            losses = F.cross_entropy(logits.transpose(1, 2), ys.clamp(min=0), reduction="none")
            nll[:, t : t + seg_len] = losses.detach().double().where(scored, math.nan).cpu()
            hit[:, t : t + seg_len] = (logits.detach().argmax(-1) == ys).cpu()
            hidden = detach(hidden)
            if dynamic and scored.any():
                model.zero_grad(set_to_none=True)
                (losses[scored].mean()).backward()
                update(model)
    n = len(data) - 1
    return nll.flatten()[:n], hit.flatten()[:n]


@torch.no_grad()
def blocks(model, vocab: Vocab, text, block_size: int, device="cpu", batch_size=EVAL_BATCH) -> dict:
    """nanoGPT's protocol: `text` (a str, or ids with -1 unknown) read in non-overlapping blocks of
    B = `block_size`, each from a zero state. Block i reads ids[i*B : (i+1)*B] and predicts
    ids[i*B+1 : (i+1)*B+1], the last block shorter, so every character but the first is predicted
    once, after up to B of those before it -> loss (nats/char), bits, acc and count: over every
    predicted character in the vocabulary (an unknown one is read as READ_AS, not scored)."""
    data = vocab.encode(text, unknown=-1) if isinstance(text, str) else text
    if len(data) < 2:
        raise ValueError("a text of fewer than two characters has nothing to predict")
    # a block is a stream of one segment: x, y (num_blocks, B), the last row padded with -1 targets
    num_blocks = math.ceil((len(data) - 1) / block_size)
    x, y = streams(data, num_blocks, block_size, vocab.stoi.get(READ_AS, vocab.pad))
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    correct = torch.zeros((), device=device, dtype=torch.long)
    model.eval()
    for start in range(0, num_blocks, batch_size):
        xs, ys = x[start : start + batch_size].to(device), y[start : start + batch_size].to(device)
        logits = model(xs)[0]  # (b, B, V)
        losses = F.cross_entropy(logits.transpose(1, 2), ys, ignore_index=-1, reduction="none")
        loss_sum += losses.double().sum()  # an ignored target adds 0
        correct += count_correct(logits, ys)  # the argmax is never -1
    count = int((y >= 0).sum())
    loss = loss_sum.item() / count
    return dict(loss=loss, bits=loss / math.log(2), acc=correct.item() / count, count=count)


def tail_scores(model, vocab: Vocab, tail: torch.Tensor, seq_len: int, device) -> dict:
    """main.py --val-tail: the held-out tail (ids) read in blocks of each of BLOCKS, nanoGPT's
    protocol, and in order with the state carried."""
    result = {}
    for size in BLOCKS:
        r = blocks(model, vocab, tail, size, device)
        result |= {f"val_blocks{size}_loss": r["loss"], f"val_blocks{size}_acc": r["acc"]}
    nll, hit = read(model, tail, "stateful", seq_len, fill=vocab.pad, device=device)
    result |= dict(val_stateful_loss=nll.mean().item(), val_stateful_acc=hit.double().mean().item())
    return result
