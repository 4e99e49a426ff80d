"""Reading unseen plays in order: every checkpoint and the 6-gram under the three protocols.

    python -m results.reading --checkpoints checkpoints/lstm.pt runs/default-seed1/lstm.pt ... \
        --out results/reading/lstm.json

chunks (the study's: each 30-character segment from a zero state), stateful (the state carried
along) and dynamic (stateful, plus a gradient step on each segment once it is scored), all through
evaluation.read, and the modified-KN 6-gram read the same three ways (baseline.read_probs: context cut
at segments, not cut, and adding each scored segment's counts). The dynamic settings (rule, learning
rate, decay, segment length, streams) and the streams of stateful are chosen per model family on
the first --search-chars of the dev plays, with seed 0's checkpoint; every setting tried is kept.
Then each checkpoint is scored on the dev plays, the test plays and nanoGPT's validation split
(the last 10% of tiny-shakespeare, read on its own), and mixed with the 6-gram under the same
protocol (weight chosen on the dev plays). Results are written after each step, and a rerun skips
what the file already holds.
"""

import argparse
import copy
import json
import math
import sys
import time
from pathlib import Path

import torch

import evaluation
from baseline import KneserNey, mix_weight, mixed_loss, read_probs, windows_of
from data.prepare import TEST_START
from dataset import Vocab, make_split, read_text
from evaluation import PROTOCOLS, READ_AS, dynamic_update, family, grad_ms, read
from model import device_flag, load_checkpoint

NANOGPT_VAL_START = 1_003_854  # int(0.9 * len(input.txt)): nanoGPT's shakespeare_char split
ORDER = 6


def row_key(family: str, seed: int, protocol: str) -> str:
    """The key of one checkpoint's read under one protocol in the results' "rows"."""
    return f"{family}/{seed}/{protocol}"


def score(nll: torch.Tensor, hit: torch.Tensor) -> dict:
    scored = ~nll.isnan()
    loss = nll[scored].mean().item()
    return dict(loss=loss, bits=loss / math.log(2), acc=hit[scored].double().mean().item())


def net_read(model, data, protocol, s: dict, stats, fill, device) -> tuple:
    """(nll, hit, seconds) of one read with settings `s`, on a copy of `model` when dynamic."""
    update = None
    if protocol == "dynamic":
        model = copy.deepcopy(model)
        update = dynamic_update(model, s, stats)
    t0 = time.perf_counter()
    nll, hit = read(model, data, protocol, s["seg_len"], s["streams"], update, fill, device)
    return nll, hit, time.perf_counter() - t0


def neighbours(s: dict, key: str, start: dict) -> list:
    """Settings one step from `s` along `key`: for a rate, x3 and /3 on the grid start x 3^k (to 3
    significant figures, the same number by every path), the next value otherwise."""
    if key in ("lr", "decay"):
        k = round(math.log(s[key] / start[key], 3))
        return [dict(s, **{key: float(f"{start[key] * 3.0**j:.3g}")}) for j in (k + 1, k - 1)]
    values = {"seg_len": [10, 20, 30, 60, 120], "streams": [1, 4]}[key]
    i = values.index(s[key])
    return [dict(s, **{key: values[j]}) for j in (i - 1, i + 1) if 0 <= j < len(values)]


def search(model, data, stats, fill, log: list, device) -> dict:
    """Coordinate search on `data`: stateful's streams, then for each rule its rate (and RMS's decay),
    the segment length and the streams, one step at a time while the loss falls. -> chosen."""
    done = {json.dumps(r["settings"], sort_keys=True): r for r in log}

    def trial(protocol, s):
        key = json.dumps(dict(s, protocol=protocol), sort_keys=True)
        if key not in done:
            nll, hit, seconds = net_read(model, data, protocol, s, stats, fill, device)
            row = dict(settings=dict(s, protocol=protocol), seconds=seconds, **score(nll, hit))
            log.append(row)
            done[key] = row
            print(f"  {protocol} {s}: {row['loss']:.4f} ({seconds:.0f} s)", flush=True)
        return done[key]["loss"]

    base = dict(seg_len=30, streams=1)
    stateful = min((dict(base, streams=b) for b in (1, 4)), key=lambda s: trial("stateful", s))
    best, best_loss = None, math.inf
    for start, keys in (
        (dict(base, rule="sgd", lr=0.1), ["lr", "seg_len", "streams"]),
        (dict(base, rule="rms", lr=1e-4, decay=1e-2), ["lr", "decay", "seg_len", "streams"]),
    ):
        s, loss = start, trial("dynamic", start)
        for key in keys:
            improved = True
            while improved:
                improved = False
                for t in neighbours(s, key, start):
                    if (t_loss := trial("dynamic", t)) < loss:
                        s, loss, improved = t, t_loss, True
                        break
        if loss < best_loss:
            best, best_loss = s, loss
    return dict(chunks=dict(base, streams=64), stateful=stateful, dynamic=best)


def ngram_probs(kn: KneserNey, text: str, protocol: str) -> tuple:
    t0 = time.perf_counter()
    probs = read_probs(copy.deepcopy(kn) if protocol == "dynamic" else kn, text, protocol)
    return probs, time.perf_counter() - t0


def get_args(argv=None):
    p = argparse.ArgumentParser(description="Score checkpoints and the 6-gram reading in order.")
    p.add_argument("--checkpoints", nargs="+", required=True, help="one family, seed 0 among them")
    p.add_argument("--data", default="data/shakespeare_train.txt", help="the training text")
    p.add_argument("--dev", default="data/shakespeare_dev.txt", help="for choosing settings")
    p.add_argument("--test", default="data/shakespeare_test.txt", help="for reporting")
    p.add_argument("--search-chars", type=int, default=100_000, help="of the dev plays, searched")
    p.add_argument("--device", type=device_flag, default="cpu", help="auto, cpu, cuda[:N] or mps")
    p.add_argument("--threads", type=int, help="CPU threads (default: torch's)")
    p.add_argument("--out", required=True, help="results (.json), resumed if present")
    return p.parse_args(argv)


def held_texts(args) -> dict:
    """The texts scored: dev plays, test plays, and nanoGPT's validation split (the test plays' end)."""
    test = read_text(args.test)
    texts = {"dev": read_text(args.dev), "test": test}
    if len(test) > NANOGPT_VAL_START - TEST_START:
        texts["nanogpt_val"] = test[NANOGPT_VAL_START - TEST_START :]
    return texts


def ngram_reads(train: str, vocab: Vocab, texts: dict, masks: dict, out: dict) -> dict:
    """The 6-gram, fitted on the training chunks of the split, read under each protocol -> its
    probability of every scored target, per (protocol, text); the losses go into `out`."""
    split = make_split(vocab.encode(train), 30, 0, vocab.pad, 0)
    kn = KneserNey(ORDER, len(vocab), 3).fit(windows_of(split.chunks, split.train, vocab))
    clean = {n: "".join(c if c in vocab.stoi else READ_AS for c in t) for n, t in texts.items()}
    count_p = {}
    for protocol in PROTOCOLS:
        for name in texts:
            probs, seconds = ngram_probs(kn, clean[name], protocol)
            count_p[protocol, name] = probs[masks[name]]
            loss = -probs[masks[name]].log().mean().item()
            out.setdefault("ngram", {})[f"{protocol}/{name}"] = dict(loss=loss, seconds=seconds)
            print(f"{ORDER}-gram {protocol} {name}: {loss:.4f} ({seconds:.0f} s)", flush=True)
    return count_p


def protocol_row(model, encoded: dict, masks: dict, count_p: dict, protocol: str, s: dict, stats,
                 fill: int, device) -> dict:  # fmt: skip
    """One checkpoint's scores under one protocol with settings `s`, and mixed with the 6-gram at
    the weight that scores best on the dev plays."""
    row, net_p = dict(settings=s), {}
    for name, data in encoded.items():
        nll, hit, seconds = net_read(model, data, protocol, s, stats, fill, device)
        row[name] = dict(score(nll, hit), seconds=seconds)
        net_p[name] = (-nll[masks[name]]).exp()
        print(f"  {protocol} {name}: {row[name]['loss']:.4f} ({seconds:.0f} s)", flush=True)
    w = mix_weight(net_p["dev"], count_p[protocol, "dev"])
    row["mixture"] = dict(weight=w)
    for name in ("dev", "test"):
        row["mixture"][name] = mixed_loss(net_p[name], count_p[protocol, name], w)
    return row


def choose(model, fam: str, dev: torch.Tensor, stats, fill: int, out: dict, device) -> dict:
    """The settings of `fam`, searched on the start of the dev plays; every trial logged in `out`."""
    print(f"{fam}: searching on the first {len(dev) - 1:,} dev characters", flush=True)
    log = out.setdefault("search", {}).setdefault(fam, [])
    return search(model, dev, stats, fill, log, device)


def main(argv=None):
    args = get_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    train = read_text(args.data)
    vocab = Vocab.from_text(train)
    texts = held_texts(args)
    encoded = {n: vocab.encode(t, unknown=-1) for n, t in texts.items()}
    masks = {n: encoded[n][1:] >= 0 for n in texts}
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out = json.loads(out_path.read_text()) if out_path.exists() else {}
    command = "python -m results.reading " + " ".join(sys.argv[1:] if argv is None else argv)
    sizes = {n: dict(chars=len(t), unknown=int((~masks[n]).sum())) for n, t in texts.items()}
    out |= dict(command=command, protocols=PROTOCOLS, read_as=READ_AS, texts=sizes)
    out["search_chars"] = args.search_chars
    save = lambda: out_path.write_text(json.dumps(out, indent=1) + "\n")
    fill = vocab.stoi[READ_AS]
    count_p = ngram_reads(train, vocab, texts, masks, out)
    save()
    models = [(path, *load_checkpoint(path, args.device)) for path in args.checkpoints]
    models.sort(key=lambda m: m[2]["settings"]["seed"])  # seed 0 first: it chooses the settings
    rows = out.setdefault("rows", {})
    for path, model, ckpt in models:
        fam, seed = family(ckpt["config"]), ckpt["settings"]["seed"]
        if all(row_key(fam, seed, p) in rows for p in PROTOCOLS):
            continue
        t0 = time.perf_counter()
        data = vocab.encode(train)
        stats = grad_ms(model, data, evaluation.STATS_SEG_LEN, evaluation.STATS_BATCH, args.device)
        stats_s = time.perf_counter() - t0
        if fam not in out.setdefault("chosen", {}):
            dev = encoded["dev"][: args.search_chars + 1]
            out["chosen"][fam] = choose(model, fam, dev, stats, fill, out, args.device)
            save()
        params = sum(p.numel() for p in model.parameters())
        for protocol in PROTOCOLS:
            s, key = out["chosen"][fam][protocol], row_key(fam, seed, protocol)
            if key in rows:
                continue
            print(f"{key}:", flush=True)
            row = protocol_row(
                model, encoded, masks, count_p, protocol, s, stats, fill, args.device
            )
            rows[key] = dict(family=fam, seed=seed, checkpoint=str(path), params=params) | row
            if protocol == "dynamic" and s["rule"] == "rms":
                rows[key]["grad_stats_seconds"] = stats_s
            save()


if __name__ == "__main__":
    main()
