"""Comparing with nanoGPT's character-level Shakespeare: its split (main.py --val-tail, prepare.py
--source tinyshakespeare-full), its protocol (evaluation.blocks) and a step budget (--max-steps),
each against the same number reached another way."""

import hashlib
import json
import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from conftest import make_text, train_args

import evaluation
import generate
import main
import trainer
from data import prepare
from dataset import Chunks, Vocab, load_corpus, make_split, tail_start
from model import build_model, load_checkpoint

NANOGPT_CHARS = 1_115_394  # tiny-shakespeare; nanoGPT trains on data[:int(n * 0.9)]
VOCAB = Vocab("abcdefghij")
TINY = ("--hidden-size", 8, "--num-layers", 1, "--device", "cpu")


def tiny(kind: str, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(dict(kind=kind, vocab_size=len(VOCAB), hidden_size=16, num_layers=2)).eval()


def ids(n: int, seed: int = 0, unknown=()) -> torch.Tensor:
    data = torch.randint(len(VOCAB), (n,), generator=torch.Generator().manual_seed(seed))
    data[list(unknown)] = -1
    return data


@torch.no_grad()
def hand_blocks(model, data: torch.Tensor, block_size: int, fill: int) -> tuple:
    """Each character j >= 1 predicted on its own: one forward call from the zero state on the
    characters of its block before it, data[(j - 1) // B * B : j] -> (loss, accuracy, count)."""
    nll, hits = [], []
    for j in range(1, len(data)):
        if data[j] < 0:
            continue
        x = data[(j - 1) // block_size * block_size : j].clone()
        x[x < 0] = fill
        logits = model(x[None])[0][0, -1].double()
        nll.append(-F.log_softmax(logits, -1)[data[j]].item())
        hits.append(logits.argmax().item() == data[j].item())
    return sum(nll) / len(nll), sum(hits) / len(hits), len(nll)


@torch.no_grad()
def hand_stateful(model, data: torch.Tensor) -> float:
    """The text one character at a time through model.step, the state carried throughout."""
    hidden, nll = model.init_hidden(1, "cpu"), []
    for i in range(len(data) - 1):
        logits, hidden = model.step(data[i][None], hidden)
        nll.append(-F.log_softmax(logits[0].double(), -1)[data[i + 1]].item())
    return sum(nll) / len(nll)


# --- the split --------------------------------------------------------------------------------


def test_the_tail_is_held_out_and_no_training_chunk_reads_it():
    data, L, share = torch.arange(1000), 7, 0.23  # each character's id is its position
    cut = int(1000 * (1 - share))
    split = make_split(data, L, val_tail=share)
    assert split.val_start == cut == 770
    assert torch.equal(split.chunks.data[split.val_start :], data[cut:])  # the held-out text
    x, y = split.chunks.batch(split.train)
    assert cut - L <= max(x.max(), y.max()) < cut  # no training chunk reads the tail
    x, y = split.chunks.batch(split.train, (L - 1) * split.shiftable[split.train])
    assert max(x.max(), y.max()) < cut  # nor one moved right by --shift, as far as it goes
    x, y = split.chunks.batch(split.val)
    assert min(x.min(), y.min()) >= cut  # every validation chunk lies in the tail
    first = math.ceil(cut / L) * L  # the first chunk start in the tail
    assert x.flatten().tolist() == list(range(first, len(split.chunks) * L))  # all of them
    assert len(split.train) + len(split.val) == len(split.chunks) - 1  # one chunk across the cut
    for share_of_train in (0.5, 0.25):  # --train-fraction: nested subsets of the head
        sub = make_split(data, L, val_tail=share, train_fraction=share_of_train)
        assert set(sub.train.tolist()) < set(split.train.tolist())
        assert torch.equal(sub.val, split.val) and sub.val_start == cut


def test_the_random_split_is_untouched_without_a_tail():
    plain = make_split(torch.arange(3001) % 5, 30)
    assert plain.val_start is None and len(plain.val) == 20  # 20% of 100 chunks


def test_val_tail_cuts_where_nanogpt_does(tmp_path, monkeypatch):
    """prepare.py --source tinyshakespeare-full writes the whole text, and --val-tail 0.1 on a text
    of tiny-shakespeare's length holds out exactly nanoGPT's val_data = data[int(n * 0.9):]."""
    rng = torch.Generator().manual_seed(0)
    letters = "abcdefghijklmnopqrstuvwxyz \n"
    text = "".join(letters[i] for i in torch.randint(len(letters), (NANOGPT_CHARS,), generator=rng))
    (tmp_path / "input.txt").write_text(text)
    facts = dict(chars=len(text), vocab_size=len(set(text)))
    facts["sha256"] = hashlib.sha256(text.encode()).hexdigest()
    monkeypatch.setitem(prepare.SOURCES, "tinyshakespeare-full", facts)
    out = prepare.prepare("tinyshakespeare-full", tmp_path / "full.txt", tmp_path / "input.txt")
    assert out.read_text() == text
    full, vocab, data = load_corpus(out)
    split = make_split(data, 30, val_tail=0.1)
    n = len(data)
    assert split.val_start == tail_start(n, 0.1) == int(n * 0.9) == 1_003_854
    assert vocab.decode(split.chunks.data[split.val_start :]) == text[int(n * 0.9) :]
    assert n - split.val_start == 111_540


# --- nanoGPT's protocol ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("block_size", [7, 64, 299, 1000])
def test_blocks_is_each_character_predicted_alone_within_its_block(kind, block_size):
    model, data = tiny(kind), ids(300, unknown=[40, 41, 200])
    got = evaluation.blocks(model, VOCAB, data, block_size, batch_size=3)  # several batches
    loss, acc, count = hand_blocks(model, data, block_size, fill=VOCAB.pad)
    assert got["count"] == count == 299 - 3  # every character from the second on, once
    assert got["loss"] == pytest.approx(loss, abs=1e-5)
    assert got["acc"] == pytest.approx(acc, abs=1e-12)
    assert got["bits"] == pytest.approx(got["loss"] / math.log(2), abs=1e-12)
    assert evaluation.blocks(model, VOCAB, data, block_size) == pytest.approx(got, abs=1e-6)


def test_blocks_of_the_chunk_length_are_the_chunks_and_the_last_partial_block():
    """B = seq_len: the training code's chunk evaluation over every chunk (run_epoch), plus the
    characters after the last whole chunk read as one shorter block from a zero state."""
    model, data, L = tiny("lstm"), ids(317), 30
    chunks = Chunks(data, L)  # 10 chunks: targets 1..300; the last block predicts 301..316
    loss, _ = trainer.run_epoch(model, chunks, torch.arange(len(chunks)), 4, "cpu")
    with torch.no_grad():
        tail = data[len(chunks) * L :]
        logits = model(tail[None, :-1])[0][0].double()
        rest = F.cross_entropy(logits, tail[1:], reduction="sum").item()
    got = evaluation.blocks(model, VOCAB, data, L)
    assert got["count"] == 316 and len(chunks) * L + len(tail) - 1 == 316
    assert got["loss"] == pytest.approx((loss * len(chunks) * L + rest) / 316, abs=1e-5)
    nll, _ = evaluation.read(model, data, "chunks", seg_len=L, num_streams=4)
    assert got["loss"] == pytest.approx(nll.mean().item(), abs=1e-6)  # the study's chunk read


def test_blocks_reads_a_string_with_unknown_characters_as_read_as():
    vocab = Vocab("abc ")  # READ_AS, " ", is 3; the padding 0
    model = build_model(dict(kind="rnn", vocab_size=4, hidden_size=8, num_layers=1)).eval()
    got = evaluation.blocks(model, vocab, "ab cxa bca?bc", 4)
    ids_ = vocab.encode("ab cxa bca?bc", unknown=-1)
    loss, acc, count = hand_blocks(model, ids_, 4, fill=vocab.stoi[evaluation.READ_AS])
    assert got["count"] == count == 10 and got["loss"] == pytest.approx(loss, abs=1e-5)


# --- main.py --val-tail and generate.py --blocks ---------------------------------------------------


@pytest.fixture(scope="module")
def tail_run(tmp_path_factory):
    """A one-epoch RNN run holding out the last 10% of a small text."""
    tmp = tmp_path_factory.mktemp("tail")
    data, out = tmp / "tiny.txt", tmp / "run"
    data.write_text(make_text(600), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(main, "draw_figures", lambda *a, **k: None)
        main.main(train_args(data, out, *TINY, "--val-tail", "0.1"))
    return data, out, json.loads((out / "metrics.json").read_text())


def test_val_tail_run_scores_the_tail_as_nanogpt_and_in_order(tail_run):
    data, out, metrics = tail_run
    text = data.read_text()
    tail = text[int(len(text) * 0.9) :]
    m = metrics["models"]["rnn"]
    assert m["settings"]["val_tail"] == 0.1 and m["settings"]["max_steps"] == 0
    model, ckpt = load_checkpoint(out / "rnn.pt")
    vocab = Vocab(ckpt["vocab"])
    tail_ids = vocab.encode(tail)
    r = m["evaluation"]
    for size in evaluation.BLOCKS:
        loss, acc, count = hand_blocks(model, tail_ids, size, fill=vocab.pad)
        assert r[f"val_blocks{size}_loss"] == pytest.approx(loss, abs=1e-5), size
        assert r[f"val_blocks{size}_acc"] == pytest.approx(acc, abs=1e-12), size
        assert count == len(tail) - 1
    assert r["val_stateful_loss"] == pytest.approx(hand_stateful(model, tail_ids), abs=1e-5)
    # the chunk validation: every 30-character chunk of the text that starts in the tail
    cut, L, nll = len(text) - len(tail), 30, []
    whole = vocab.encode(text)
    with torch.no_grad():
        for start in range(math.ceil(cut / L) * L, len(text) - L, L):
            logits = model(whole[None, start : start + L])[0][0]
            nll.append(F.cross_entropy(logits, whole[start + 1 : start + L + 1]).item())
    assert r["val_loss"] == pytest.approx(sum(nll) / len(nll), abs=1e-5)
    assert m["best"]["val_loss"] == pytest.approx(r["val_loss"], abs=1e-6)  # the same chunks


def test_eval_only_and_generate_blocks_give_the_val_tail_numbers_again(tail_run, tmp_path, capsys):
    data, out, metrics = tail_run
    metrics_copy = tmp_path / "metrics.json"
    metrics_copy.write_text(json.dumps(metrics))
    rescore = ["--eval-only", "--rescore", str(metrics_copy), "--device", "cpu"]
    main.main(["--data", str(data), "--models", "rnn", "--out-dir", str(out), *rescore])
    again = json.loads(metrics_copy.read_text())["models"]["rnn"]["evaluation"]
    before = metrics["models"]["rnn"]["evaluation"]
    assert {k: again[k] for k in before} == pytest.approx(before, abs=1e-9)  # the same split
    text = data.read_text()
    (tmp_path / "tail.txt").write_text(text[int(len(text) * 0.9) :])
    scores = tmp_path / "scores.json"
    generate.main(["--checkpoint", str(out / "rnn.pt"), "--score", str(tmp_path / "tail.txt"),
                   "--blocks", "64", "256", "--output", str(scores), "--device", "cpu"])  # fmt: skip
    printed = capsys.readouterr().out
    got = json.loads(scores.read_text())["scores"][str(out / "rnn.pt")]
    for size in (64, 256):
        assert got[f"blocks{size}"]["loss"] == pytest.approx(before[f"val_blocks{size}_loss"], 1e-9)
        assert f"blocks{size}" in printed and "nanoGPT's protocol" in printed
    assert set(got) == {"unknown", "chunks", "stateful", "dynamic", "blocks64", "blocks256"}


def test_ordinary_runs_write_no_tail_keys(tmp_path, monkeypatch):
    monkeypatch.setattr(main, "draw_figures", lambda *a, **k: None)
    data = tmp_path / "tiny.txt"
    data.write_text(make_text(600), encoding="utf-8")
    main.main(train_args(data, tmp_path, *TINY))
    r = json.loads((tmp_path / "metrics.json").read_text())["models"]["rnn"]["evaluation"]
    assert not [k for k in r if "blocks" in k or k.startswith("val_stateful")]


def test_val_tail_and_val_fraction_are_one_choice(capsys):
    with pytest.raises(SystemExit):
        main.get_args(["--val-tail", "0.1", "--val-fraction", "0.2"])
    assert "give one" in capsys.readouterr().err


# --- the step budget --------------------------------------------------------------------------


def test_max_steps_stops_mid_epoch_where_the_schedule_ends(tmp_path, monkeypatch):
    monkeypatch.setattr(main, "draw_figures", lambda *a, **k: None)
    data = tmp_path / "tiny.txt"
    data.write_text(make_text(600), encoding="utf-8")
    _, vocab, encoded = load_corpus(data)
    num_train = len(make_split(encoded, 30).train)
    per_epoch = math.ceil(num_train / 8)
    steps = per_epoch + 5  # one whole epoch and five steps of the next
    flags = ("--batch-size", 8, "--max-steps", steps, "--schedule", "cosine", "--warmup-steps", 1)
    main.main(train_args(data, tmp_path, *TINY, *flags, epochs=4))
    m = json.loads((tmp_path / "metrics.json").read_text())["models"]["rnn"]
    assert m["settings"]["max_steps"] == steps and [r["epoch"] for r in m["history"]] == [1, 2]
    last = torch.load(tmp_path / "rnn.last.pt", weights_only=True)
    assert last["epoch"] == 2 and last["scheduler"]["last_epoch"] == steps
    assert {int(s["step"]) for s in last["optimizer"]["state"].values()} == {steps}  # Adam's count
    # the schedule was laid over `steps`, not 4 epochs: its end, cosine's 0, is where training stops
    assert trainer.lr_lambda(1, steps, "cosine")(steps) == 0  # the end of the cosine
    assert last["optimizer"]["param_groups"][0]["lr"] == 0 == last["scheduler"]["_last_lr"][0]
    assert trainer.lr_lambda(1, 4 * per_epoch, "cosine")(steps) > 0.3  # over 4 epochs instead
    best = torch.load(tmp_path / "rnn.pt", weights_only=True)["best_val_loss"]
    assert best == min(r["val_loss"] for r in m["history"])  # validated at the stop, best kept


def test_a_budget_beyond_the_run_changes_nothing():
    s = trainer.RECIPES["default"]["rnn"]
    assert replace(s, max_steps=10_000).total_steps(93) == s.epochs * math.ceil(93 / s.batch_size)
    assert s.total_steps(93) == s.epochs * math.ceil(93 / s.batch_size)
    assert replace(s, max_steps=7).total_steps(93) == 7


def test_max_seconds_stops_training_at_the_deadline_and_validates_there(tmp_path, monkeypatch):
    clock = iter(range(10**6))  # a clock that advances a second each time it is read
    monkeypatch.setattr(trainer.time, "perf_counter", lambda: float(next(clock)))
    monkeypatch.setattr(main, "draw_figures", lambda *a, **k: None)
    data = tmp_path / "tiny.txt"
    data.write_text(make_text(600), encoding="utf-8")
    _, vocab, encoded = load_corpus(data)
    per_epoch = math.ceil(len(make_split(encoded, 30).train) / 8)
    flags = ("--batch-size", 8, "--max-seconds", 6)
    main.main(train_args(data, tmp_path, *TINY, *flags, epochs=4))
    m = json.loads((tmp_path / "metrics.json").read_text())["models"]["rnn"]
    last = torch.load(tmp_path / "rnn.last.pt", weights_only=True)
    # six seconds of this clock are a few of the first epoch's steps: it stops there, validated
    assert [r["epoch"] for r in m["history"]] == [1]
    taken = last["scheduler"]["last_epoch"]
    assert 0 < taken < per_epoch
    # and the cosine ended with the time, not at the steps of 4 epochs (still near its top there)
    lr = last["optimizer"]["param_groups"][0]["lr"]
    assert lr < 0.1 * m["settings"]["lr"] * trainer.lr_lambda(0, 4 * per_epoch, "cosine")(taken)


def test_with_a_time_budget_the_cosine_follows_whichever_of_steps_and_time_is_further():
    spent = iter([0.0, 0.5, 0.9])
    f = trainer.lr_lambda(10, 110, "cosine", lambda: next(spent))
    assert f(5) == 0.6  # warm-up: no time read
    assert f(60) == pytest.approx(0.5)  # half the steps, no time: the steps lead
    assert f(20) == pytest.approx(0.5)  # a tenth of the steps, half the time: the time leads
    assert f(20) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.9)))
