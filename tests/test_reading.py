"""Reading a text in order (evaluation.read, baseline.read_probs): each protocol against a loop written
out by hand, dynamic evaluation's causality, its update rules step by step, and the adaptive
n-gram's counts against a refit."""

import copy
import json
import math

import pytest
import torch
import torch.nn.functional as F
from conftest import make_text

import baseline
import evaluation
import generate
import trainer
from dataset import Chunks, Vocab, sha256
from model import build_model, save_checkpoint
from sampling import sample

VOCAB = 10
FILL = 3


def tiny(kind: str, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(dict(kind=kind, vocab_size=VOCAB, hidden_size=16, num_layers=2)).eval()


def text(n: int = 200, seed: int = 0, unknown=()) -> torch.Tensor:
    data = torch.randint(VOCAB, (n,), generator=torch.Generator().manual_seed(seed))
    data[list(unknown)] = -1
    return data


def hand_stateful(model, data) -> torch.Tensor:
    """One character at a time through model.step, the state carried from the first to the last."""
    hidden, out = model.init_hidden(1, "cpu"), []
    for i in range(len(data) - 1):
        x = data[i] if data[i] >= 0 else torch.tensor(FILL)
        logits, hidden = model.step(x[None], hidden)
        y = data[i + 1]
        out.append(-F.log_softmax(logits[0].double(), -1)[y].item() if y >= 0 else math.nan)
    return torch.tensor(out, dtype=torch.float64)


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_stateful_with_one_stream_is_the_hand_rolled_loop(kind):
    model, data = tiny(kind), text(200, unknown=[50, 51, 120])
    nll, _ = evaluation.read(model, data, "stateful", seg_len=7, fill=FILL)
    expected = hand_stateful(model, data)
    assert torch.equal(nll.isnan(), expected.isnan())  # unknown targets (and only they) unscored
    assert nll.isnan().sum() == 3
    torch.testing.assert_close(nll, expected, atol=1e-5, rtol=0, equal_nan=True)


def test_chunks_protocol_is_the_chunk_evaluation():
    """30-character segments from a zero state score what run_epoch scores on the same chunks, for
    one stream or several."""
    model, data = tiny("lstm"), text(30 * 12 + 1)
    loss, acc = trainer.run_epoch(model, Chunks(data, 30), torch.arange(12), 5, "cpu")
    for streams in (3, 1):
        nll, hit = evaluation.read(model, data, "chunks", 30, streams, fill=FILL)
        assert nll.mean().item() == pytest.approx(loss, abs=1e-6)
        assert hit.double().mean().item() == pytest.approx(acc, abs=1e-12)
    stateful, _ = evaluation.read(model, data, "stateful", 30, 1, fill=FILL)
    torch.testing.assert_close(stateful[:30], nll[:30])  # both start from a zero state
    assert (stateful[30:] - nll[30:]).abs().max() > 1e-3  # then only one carries it on


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_dynamic_with_learning_rate_zero_is_stateful(kind):
    model, data = tiny(kind), text(150, unknown=[40])
    stateful, _ = evaluation.read(model, data, "stateful", 10, 2, fill=FILL)
    for update in (evaluation.SGD(model, 0.0), evaluation.RMS(model, 0.0, 0.0, ms_of(model))):
        dynamic, _ = evaluation.read(copy.deepcopy(model), data, "dynamic", 10, 2, update, FILL)
        torch.testing.assert_close(dynamic, stateful, atol=1e-6, rtol=0, equal_nan=True)
    moved, _ = evaluation.read(
        copy.deepcopy(model), data, "dynamic", 10, 2, evaluation.SGD(model, 1.0), FILL
    )
    assert (moved[10:] - stateful[10:]).abs().nanmean() > 1e-3  # a real step does change scores


def ms_of(model, value: float = 1e-4):
    return [torch.full_like(p, value) for p in model.parameters()]


def updates(model):
    ms = [torch.rand_like(p) * 1e-3 + 1e-5 for p in model.parameters()]
    return {"sgd": evaluation.SGD(model, 0.5), "rms": evaluation.RMS(model, 1e-3, 0.1, ms)}


@pytest.mark.parametrize("rule", ["sgd", "rms"])
@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_dynamic_is_causal(kind, rule):
    """Change one character: every score read before it is bit-identical, its own included up to
    the target itself (one stream: the text's order)."""
    data, p = text(120), 47  # the 7th of a 10-character segment
    changed = data.clone()
    changed[p] = (data[p] + 1) % VOCAB
    runs = []
    for d in (data, changed):
        model = tiny(kind)
        runs.append(evaluation.read(model, d, "dynamic", 10, 1, updates(model)[rule], FILL)[0])
    assert torch.equal(runs[0][: p - 1], runs[1][: p - 1])  # targets 1..p-1
    assert not torch.equal(runs[0][p:], runs[1][p:])  # what follows does see it


def test_dynamic_with_streams_is_causal_in_reading_order():
    """B streams are read side by side, segment t of every stream before segment t + 1 of any: a
    change in stream 1's segment t leaves stream 0 through segment t, and stream 1 before it,
    untouched."""
    data = text(2 * 40 + 1)  # 2 streams of 40 targets, 4 segments of 10
    changed = data.clone()
    changed[40 + 25] = (data[40 + 25] + 1) % VOCAB  # stream 1, segment 2, its 5th input
    runs = []
    for d in (data, changed):
        model = tiny("lstm")
        nll, _ = evaluation.read(model, d, "dynamic", 10, 2, evaluation.SGD(model, 0.5), FILL)
        runs.append(nll.view(2, 40))
    a, b = runs
    assert torch.equal(a[0, :30], b[0, :30]) and torch.equal(a[1, :24], b[1, :24])
    assert not torch.equal(a[0, 30:], b[0, 30:])  # stream 0's next segment learnt from it


@pytest.mark.parametrize("rule", ["sgd", "rms"])
def test_dynamic_update_by_hand(rule):
    """Three segments: score one, step on its mean loss, score the next from the carried state with
    the stepped weights; the RMS step written out from its formula, its decay pulling back."""
    model, data = tiny("rnn"), text(31)
    ms = [torch.rand_like(p) * 1e-3 + 1e-5 for p in model.parameters()]
    lr, decay = (0.5, 0.0) if rule == "sgd" else (1e-3, 0.9)  # some rates capped at 1
    update = evaluation.SGD(model, lr) if rule == "sgd" else evaluation.RMS(model, lr, decay, ms)
    nll, _ = evaluation.read(copy.deepcopy(model), data, "dynamic", 10, 1, update, FILL)

    hand, start = copy.deepcopy(model), [p.detach().clone() for p in model.parameters()]
    rms = [m.sqrt() for m in ms]
    mean = sum(r.mean() for r in rms) / len(rms)
    hidden, expected = None, []
    for t in range(0, 30, 10):
        logits, hidden = hand(data[None, t : t + 10], hidden)
        hidden = hidden.detach()
        losses = F.cross_entropy(logits[0], data[t + 1 : t + 11], reduction="none")
        expected.append(losses.detach().double())
        hand.zero_grad()
        losses.mean().backward()
        with torch.no_grad():
            for p, p0, r in zip(hand.parameters(), start, rms):
                if rule == "sgd":
                    p -= lr * p.grad
                else:
                    rate = torch.minimum(decay * r / mean, torch.ones_like(r))
                    p += rate * (p0 - p) - lr * p.grad / (r + 1e-5)
    torch.testing.assert_close(nll, torch.cat(expected), atol=1e-5, rtol=0)


def test_grad_ms_is_the_mean_squared_batch_gradient():
    model, data = tiny("lstm"), text(2 * 20 + 1)
    ms = evaluation.grad_ms(model, data, 10, 2, "cpu")
    x, y = data[:-1].view(2, 20), data[1:].view(2, 20)
    hand, hidden, squares = copy.deepcopy(model), None, []
    for t in (0, 10):
        logits, hidden = hand(x[:, t : t + 10], hidden)
        hidden = tuple(h.detach() for h in hidden)
        hand.zero_grad()
        F.cross_entropy(logits.reshape(-1, VOCAB), y[:, t : t + 10].reshape(-1)).backward()
        squares.append([p.grad**2 for p in hand.parameters()])
    for got, a, b in zip(ms, *squares):
        torch.testing.assert_close(got, (a + b) / 2)


# The count model read the same ways --------------------------------------------------------------


def test_ngram_protocols_by_hand():
    corpus = make_text(800)
    vocab = Vocab.from_text(corpus)
    train, heard = corpus[:3000], corpus[3000 : 3000 + 30 * 20 + 1]
    kn = baseline.KneserNey(4, len(vocab), 3).fit([train])
    chunks = Chunks(vocab.encode(heard), 30)
    windows = baseline.windows_of(chunks, torch.arange(20), vocab)
    expected = torch.tensor(baseline.target_probs(kn, windows), dtype=torch.float64)
    torch.testing.assert_close(baseline.read_probs(kn, heard, "chunks"), expected)
    stateful = [kn.prob(heard[p], heard[max(0, p - 3) : p]) for p in range(1, len(heard))]
    assert baseline.read_probs(kn, heard, "stateful").tolist() == stateful


def test_adaptive_ngram_counts_equal_a_refit_with_the_same_discounts():
    """Counting a text's n-grams one character at a time gives the tables of fitting on the training
    windows plus that text, discounts held at the first fit's."""
    corpus = make_text(600)
    train, heard = corpus[:2000], corpus[2000:2600]
    kn = baseline.KneserNey(5, 30, 3).fit([train])
    grown = copy.deepcopy(kn)
    for i in range(len(heard)):
        grown.add(heard, i)
    refit = baseline.KneserNey(5, 30, 3).fit([train, heard])
    for key, table in refit.tables.items():
        table = refit._table(table["counts"], kn.tables[key]["d"])
        assert dict(grown.tables[key]["counts"]) == dict(table["counts"])
        assert dict(grown.tables[key]["total"]) == dict(table["total"])
        for h, g in table["gamma"].items():
            assert grown.tables[key]["gamma"][h] == pytest.approx(g, abs=1e-9)
    assert grown.prob("e", "th") != kn.prob("e", "th")


def test_adaptive_ngram_is_causal_and_learns():
    corpus = make_text(800)
    kn = baseline.KneserNey(6, 30, 3).fit([corpus[:2000]])
    heard = corpus[2000:2601]
    p = 317
    changed = heard[:p] + ("x" if heard[p] != "x" else "y") + heard[p + 1 :]
    a = baseline.read_probs(copy.deepcopy(kn), heard, "dynamic")
    b = baseline.read_probs(copy.deepcopy(kn), changed, "dynamic")
    assert torch.equal(a[: p - 1], b[: p - 1])
    static = baseline.read_probs(kn, heard, "stateful")
    assert torch.equal(a[:30], static[:30])  # nothing is added before the first segment is scored
    assert -a.log().mean() < -static.log().mean()  # the text's own counts help on the rest of it


def test_search_steps_rates_on_one_grid():
    """A rate three steps down and back up is the start again, bit for bit, and reads as typed."""
    from results.reading import neighbours

    start = dict(lr=1e-4, decay=1e-2, seg_len=30)
    s = start
    for _ in range(3):
        s = neighbours(s, "decay", start)[1]
    assert s["decay"] == 0.00037
    for _ in range(3):
        s = neighbours(s, "decay", start)[0]
    assert s == start
    assert [t["lr"] for t in neighbours(start, "lr", start)] == [0.0003, 3.33e-05]
    assert [t["seg_len"] for t in neighbours(dict(start, seg_len=60), "seg_len", start)] == [
        30,
        120,
    ]


def test_reading_study_end_to_end(tmp_path):
    """results/reading.py on small texts: the search log holds every setting tried, the chosen
    ones come from it, and each row's scores equal a read with its settings."""
    import results.reading as reading

    corpus = make_text(1500)
    for name, part in (("train", corpus[:4000]), ("dev", corpus[4000:5500])):
        (tmp_path / f"{name}.txt").write_text(part)
    (tmp_path / "test.txt").write_text(corpus[5500:7000])
    vocab = Vocab.from_text(corpus[:4000])
    torch.manual_seed(0)
    model = build_model(dict(kind="lstm", vocab_size=len(vocab), hidden_size=8, num_layers=1))
    run = tmp_path / "run"
    run.mkdir()
    save_checkpoint(run / "lstm.pt", model, vocab.chars, settings=dict(seed=0))
    out = tmp_path / "reading.json"
    t = {n: str(tmp_path / f"{n}.txt") for n in ("train", "dev", "test")}
    argv = ["--checkpoints", str(run / "lstm.pt"), "--data", t["train"], "--dev", t["dev"]]
    argv += ["--test", t["test"]]
    reading.main([*argv, "--search-chars", "300", "--out", str(out)])
    result = json.loads(out.read_text())
    chosen, log = result["chosen"]["LSTM-8"], result["search"]["LSTM-8"]
    dynamic = [r for r in log if r["settings"]["protocol"] == "dynamic"]
    assert len(dynamic) >= 4
    assert len({json.dumps(r["settings"], sort_keys=True) for r in log}) == len(log)  # none twice
    best = min(dynamic, key=lambda r: r["loss"])
    assert dict(chosen["dynamic"], protocol="dynamic") == best["settings"]
    row = result["rows"]["LSTM-8/0/dynamic"]
    s = row["settings"]
    data = vocab.encode(open(t["test"]).read(), unknown=-1)
    moved = copy.deepcopy(model).eval()
    if s["rule"] == "sgd":
        update = evaluation.SGD(moved, s["lr"])
    else:
        stats = evaluation.grad_ms(model, vocab.encode(corpus[:4000]), 30, 64, "cpu")
        update = evaluation.RMS(moved, s["lr"], s["decay"], stats)
    fill = vocab.stoi[" "]
    nll, _ = evaluation.read(moved, data, "dynamic", s["seg_len"], s["streams"], update, fill)
    assert row["test"]["loss"] == pytest.approx(nll.nanmean().item(), abs=1e-6)
    assert 0 <= row["mixture"]["weight"] <= 1
    assert set(result["ngram"]) == {
        f"{p}/{n}" for p in evaluation.PROTOCOLS for n in ("dev", "test")
    }


def adapt_checkpoint(tmp_path, corpus: str, statistics: bool = True):
    """A small RNN checkpoint trained on `corpus` (as main.py leaves it: with the statistics)."""
    vocab = Vocab.from_text(corpus)
    torch.manual_seed(0)
    model = build_model(dict(kind="rnn", vocab_size=len(vocab), hidden_size=16, num_layers=2))
    (tmp_path / "train.txt").write_text(corpus)
    record = dict(path=str(tmp_path / "train.txt"), sha256=sha256(corpus))
    save_checkpoint(tmp_path / "rnn.pt", model, vocab.chars, corpus=record)
    if statistics:
        evaluation.add_statistics(tmp_path / "rnn.pt", corpus)
    return model.eval(), vocab


@pytest.mark.parametrize("rule", ["sgd", "rms"])
def test_generate_adapt_samples_from_the_adapted_weights(tmp_path, monkeypatch, capsys, rule):
    """--adapt FILE: the sample is the one the weights adapted by evaluation.read give; at learning
    rate 0 it is the unadapted sample."""
    corpus = make_text(600)
    model, vocab = adapt_checkpoint(tmp_path, corpus[:2000])
    play = tmp_path / "play.txt"
    play.write_text(corpus[2000:2600] + "\u00e9")  # one character outside the vocabulary
    s = dict(rule=rule, lr=0.3 if rule == "sgd" else 3e-3, decay=0.01, seg_len=10, streams=1)
    monkeypatch.setitem(evaluation.DYNAMIC, "RNN-16", s)
    argv = ["--checkpoint", str(tmp_path / "rnn.pt"), "--prime", "The ", "--seed", "3"]

    def sampled(*extra):
        generate.main([*argv, "--length", "80", *extra])
        return capsys.readouterr()

    plain, adapted = sampled(), sampled("--adapt", str(play))
    unknown = sum(c not in vocab.stoi for c in play.read_text())
    assert unknown >= 1 and f"({unknown} outside the vocabulary" in adapted.err
    hand = copy.deepcopy(model)
    stats = None
    if rule == "rms":
        stats = evaluation.grad_ms(model, vocab.encode(corpus[:2000]), 30, 64, "cpu")  # not seg_len
    data = vocab.encode(play.read_text(), unknown=-1)
    update = evaluation.dynamic_update(hand, s, stats)
    evaluation.read(hand, data, "dynamic", 10, 1, update, vocab.stoi[" "])
    expected = sample(hand, vocab.chars, ["The "], [0.7], 80, [0], 3)[0]
    assert adapted.out.strip() == expected.strip() != plain.out.strip()
    monkeypatch.setitem(evaluation.DYNAMIC, "RNN-16", dict(s, lr=0.0, decay=0.0))
    assert sampled("--adapt", str(play)).out == plain.out


def test_adapt_data_gives_the_statistics_a_checkpoint_stores(tmp_path, monkeypatch, capsys):
    """A checkpoint written before checkpoints held statistics adapts with --adapt-data TRAINING_TEXT
    exactly as one that stores them."""
    corpus = make_text(600)
    (tmp_path / "play.txt").write_text(corpus[2000:2600])
    monkeypatch.setitem(evaluation.DYNAMIC, "RNN-16", dict(rule="rms", lr=3e-3, decay=0.01,
                                                          seg_len=10, streams=1))  # fmt: skip
    argv = ["--checkpoint", str(tmp_path / "rnn.pt"), "--adapt", str(tmp_path / "play.txt")]
    texts = []
    for stored in (True, False):
        adapt_checkpoint(tmp_path, corpus[:2000], statistics=stored)
        extra = [] if stored else ["--adapt-data", str(tmp_path / "train.txt")]
        generate.main([*argv, *extra, "--length", "40", "--prime", "The "])
        texts.append(capsys.readouterr().out)
    assert texts[0] == texts[1]


def test_a_checkpoint_without_statistics_names_the_text_it_trained_on():
    """With a held-out tail the text it trained on is the corpus less the tail: for nanoGPT's split,
    the first 1,003,854 characters of tiny-shakespeare (nanoGPT's own count)."""
    corpus = dict(path="data/tinyshakespeare.txt", chars=1_115_394)
    tail = generate.trained_on(dict(corpus=corpus, settings=dict(val_tail=0.1)))
    assert tail.endswith("the first 1,003,854 characters of data/tinyshakespeare.txt")
    assert generate.trained_on(dict(corpus=corpus, settings=dict(val_tail=0.0))) == corpus["path"]


def test_dynamic_settings_are_the_ones_chosen_on_the_dev_plays():
    """evaluation.DYNAMIC (what generate.py --adapt uses) holds, per family, the dynamic setting with
    the lowest dev-plays loss in the committed search logs, and every row was read with it."""
    from pathlib import Path

    files = sorted((Path(__file__).resolve().parents[1] / "results" / "reading").glob("*.json"))
    assert files
    for path in files:
        result = json.loads(path.read_text())
        for fam, log in result["search"].items():
            dynamic = [r for r in log if r["settings"]["protocol"] == "dynamic"]
            best = min(dynamic, key=lambda r: r["loss"])["settings"]
            best = {k: v for k, v in best.items() if k != "protocol"}
            assert evaluation.DYNAMIC[fam] == best == result["chosen"][fam]["dynamic"]
            rows = [r for k, r in result["rows"].items() if k.startswith(f"{fam}/")]
            assert len(rows) == 3 * len(evaluation.PROTOCOLS)
            assert all(
                r["settings"] == result["chosen"][fam][k.split("/")[2]]
                for k, r in ((k, r) for k, r in result["rows"].items() if k.startswith(f"{fam}/"))
            )
