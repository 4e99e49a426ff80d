"""The reading study's choices (results/reading.py): what each setting is chosen on, that the chosen
setting is the one read with, that every text starts from the trained model, and where RMS's decay
and gradient statistics come from. Each expected value is computed another way, on small texts.

    python -m pytest -q tests/test_reading_choices.py
"""

import copy
import json
import math

import pytest
import torch
import torch.nn.functional as F
from conftest import make_text

import evaluation
from baseline import KneserNey
from dataset import Vocab
from model import build_model, load_checkpoint, save_checkpoint
from results import reading

FAMILY = "LSTM-16"
SEARCH_CHARS = 300


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models gain nothing from a second thread, and on a busy machine it costs a lot."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def trained_lstm(vocab: Vocab, text: str, steps: int = 50):
    """A tiny LSTM after a few Adam steps on `text`: better than uniform, worse than the 6-gram, so
    the mixture weights fall inside (0, 1)."""
    torch.manual_seed(0)
    model = build_model(dict(kind="lstm", vocab_size=len(vocab), hidden_size=16, num_layers=1))
    windows = vocab.encode(text).unfold(0, 31, 1)  # (N, 31): 30 inputs and the character after
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(steps):
        batch = windows[torch.randint(len(windows), (16,))]
        logits, _ = model(batch[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> dict:
    """The training text, three texts to read and seed 0's checkpoint, as files."""
    root = tmp_path_factory.mktemp("reading")
    corpus = make_text(1500)
    texts = dict(
        train=corpus[:2000],
        plays=corpus[2000:2600],
        more_plays=corpus[2600:3200],
        refrain=("the king " * 70)[:600],  # a text that rewards a fast-learning dynamic setting
    )
    files = {name: root / f"{name}.txt" for name in texts}
    for name, text in texts.items():
        files[name].write_text(text)
    vocab = Vocab.from_text(texts["train"])
    files["checkpoint"] = root / "lstm.pt"
    save_checkpoint(
        files["checkpoint"],
        trained_lstm(vocab, texts["train"]),
        vocab.chars,
        settings=dict(seed=0),
    )
    return dict(files=files, texts=texts, vocab=vocab, fill=vocab.stoi[evaluation.READ_AS])


def run_study(study: dict, out, dev: str, test: str) -> dict:
    """results/reading.py on seed 0's checkpoint, choosing on `dev` and reporting on `test`."""
    f = study["files"]
    argv = ["--checkpoints", str(f["checkpoint"]), "--data", str(f["train"])]
    argv += ["--dev", str(f[dev]), "--test", str(f[test]), "--search-chars", str(SEARCH_CHARS)]
    reading.main([*argv, "--out", str(out)])
    return json.loads(out.read_text())


def weights(result: dict) -> dict:
    return {key: row["mixture"]["weight"] for key, row in result["rows"].items()}


def trials(result: dict) -> list:
    return [(r["settings"], r["loss"]) for r in result["search"][FAMILY]]


def test_settings_are_chosen_on_dev_alone(study, tmp_path):
    """Another test text leaves every choice as it was (search, chosen settings, mixture weights);
    another dev text changes some."""
    first = run_study(study, tmp_path / "a.json", dev="plays", test="refrain")
    other_test = run_study(study, tmp_path / "b.json", dev="plays", test="more_plays")
    other_dev = run_study(study, tmp_path / "c.json", dev="refrain", test="plays")

    assert other_test["chosen"] == first["chosen"]
    assert trials(other_test) == trials(first)
    assert weights(other_test) == weights(first)
    dynamic = f"{FAMILY}/0/dynamic"
    assert first["rows"][dynamic]["test"]["loss"] != other_test["rows"][dynamic]["test"]["loss"]
    assert 0 < min(weights(first).values()) and max(weights(first).values()) < 1

    assert other_dev["chosen"][FAMILY]["dynamic"] != first["chosen"][FAMILY]["dynamic"]
    assert weights(other_dev) != weights(first)


# A search landscape with one clear winner, neither rule's start: loss = 1 at this setting, one
# more per grid step away from it along any key, and RMS never better than 10.
WINNER = dict(seg_len=60, streams=4, rule="sgd", lr=0.0111)  # lr two steps down from 0.1
SEG_LENS = [10, 20, 30, 60, 120]


def planted_loss(protocol: str, s: dict) -> float:
    if protocol == "stateful":
        return 1.0 if s["streams"] == 4 else 2.0
    if s["rule"] == "rms":
        return 10.0
    steps = abs(round(math.log(s["lr"] / 0.1, 3)) + 2)
    return 1.0 + steps + abs(SEG_LENS.index(s["seg_len"]) - 3) + (s["streams"] != 4)


def test_chosen_setting_is_the_one_used(study, tmp_path, monkeypatch):
    """With the search's reads replaced by a planted landscape, the search finds its one minimum,
    and each row's losses are those of evaluation.read with that setting, its update built by hand."""
    real_search, real_read = reading.search, reading.net_read

    def planted_read(model, data, protocol, s, stats, fill, device):
        nll = torch.full((len(data) - 1,), planted_loss(protocol, s), dtype=torch.float64)
        return nll, torch.zeros(len(data) - 1, dtype=torch.bool), 0.0

    def search(*args, **kwargs):  # the planted reads during the search only, real ones after it
        monkeypatch.setattr(reading, "net_read", planted_read)
        try:
            return real_search(*args, **kwargs)
        finally:
            monkeypatch.setattr(reading, "net_read", real_read)

    monkeypatch.setattr(reading, "search", search)
    result = run_study(study, tmp_path / "out.json", dev="plays", test="more_plays")
    chosen = result["chosen"][FAMILY]
    assert chosen == dict(
        chunks=dict(seg_len=30, streams=64), stateful=dict(seg_len=30, streams=4), dynamic=WINNER
    )

    model, _ = load_checkpoint(study["files"]["checkpoint"])
    vocab, fill = study["vocab"], study["fill"]

    def hand(name: str, protocol: str, seg_len: int, streams: int, lr=None) -> float:
        data = vocab.encode(study["texts"][name], unknown=-1)
        moved = copy.deepcopy(model)
        update = evaluation.SGD(moved, lr) if protocol == "dynamic" else None
        nll, _ = evaluation.read(moved, data, protocol, seg_len, streams, update, fill)
        return nll.nanmean().item()

    rows = {p: result["rows"][f"{FAMILY}/0/{p}"] for p in evaluation.PROTOCOLS}
    assert {p: row["settings"] for p, row in rows.items()} == chosen
    for name, key in (("plays", "dev"), ("more_plays", "test")):
        expected = dict(
            chunks=hand(name, "chunks", 30, 64),
            stateful=hand(name, "stateful", 30, 4),
            dynamic=hand(name, "dynamic", 60, 4, lr=0.0111),
        )
        got = {p: row[key]["loss"] for p, row in rows.items()}
        assert got == pytest.approx(expected, abs=1e-9)  # the same arithmetic: equal to the bit
        start = hand(name, "dynamic", 30, 1, lr=0.1)  # sgd's start reads measurably otherwise
        assert abs(start - rows["dynamic"][key]["loss"]) > 1e-4


def test_each_text_starts_from_the_same_model(study):
    """A dynamic read of one text scores the same whether or not another was read dynamically first:
    the network's weights and the adaptive 6-gram's counts are those of training each time."""
    model, _ = load_checkpoint(study["files"]["checkpoint"])
    texts, vocab, fill = study["texts"], study["vocab"], study["fill"]
    first, second = (vocab.encode(texts[n], unknown=-1) for n in ("refrain", "plays"))
    train = vocab.encode(texts["train"])
    stats = evaluation.grad_ms(
        model, train, evaluation.STATS_SEG_LEN, evaluation.STATS_BATCH, "cpu"
    )
    rules = dict(sgd=dict(lr=1.0), rms=dict(lr=3e-3, decay=1e-3))
    for s in (dict(seg_len=10, streams=1, rule=r, **rates) for r, rates in rules.items()):
        alone = reading.net_read(copy.deepcopy(model), second, "dynamic", s, stats, fill, "cpu")[0]
        reading.net_read(model, first, "dynamic", s, stats, fill, "cpu")
        after = reading.net_read(model, second, "dynamic", s, stats, fill, "cpu")[0]
        torch.testing.assert_close(after, alone, rtol=0, atol=0, equal_nan=True)  # bit for bit
        adapted = copy.deepcopy(model)  # what a read in place would leave behind
        update = evaluation.dynamic_update(adapted, s, stats)
        evaluation.read(adapted, first, "dynamic", s["seg_len"], s["streams"], update, fill)
        moved = reading.net_read(adapted, second, "dynamic", s, stats, fill, "cpu")[0]
        assert (moved - alone).abs().nanmean() > 1e-3

    kn = KneserNey(reading.ORDER, len(vocab), 3).fit([texts["train"]])
    fresh = copy.deepcopy(kn)
    alone, _ = reading.ngram_probs(copy.deepcopy(kn), texts["plays"], "dynamic")
    reading.ngram_probs(kn, texts["refrain"], "dynamic")
    after, _ = reading.ngram_probs(kn, texts["plays"], "dynamic")
    torch.testing.assert_close(after, alone, rtol=0, atol=0)
    assert kn.tables == fresh.tables
    grown = copy.deepcopy(kn)  # what counting the first text into the model would leave behind
    for i in range(len(texts["refrain"])):
        grown.add(texts["refrain"], i)
    assert not torch.equal(reading.ngram_probs(grown, texts["plays"], "dynamic")[0], alone)


def test_rms_decays_to_trained_weights(study):
    """With learning rate 0 and a decay, many segments of a dynamic read bring every weight back to
    the checkpoint's, though the weights were moved after the update was built."""
    checkpoint = torch.load(study["files"]["checkpoint"], weights_only=True)["model"]
    model, _ = load_checkpoint(study["files"]["checkpoint"])
    generator = torch.Generator().manual_seed(0)
    ms = [torch.rand(p.shape, generator=generator) * 1e-3 + 1e-4 for p in model.parameters()]
    update = evaluation.dynamic_update(model, dict(rule="rms", lr=0.0, decay=0.5), ms)
    assert 0.1 < min(r.min() for r in update.rate) and max(r.max() for r in update.rate) < 1
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=generator))
    moved = {k: v.clone() for k, v in model.state_dict().items()}
    assert all((moved[k] - v).abs().max() > 0.5 for k, v in checkpoint.items())

    data = study["vocab"].encode(study["texts"]["plays"][:301], unknown=-1)
    evaluation.read(model, data, "dynamic", 2, 1, update, study["fill"])  # some 150 steps
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, checkpoint[key], atol=1e-6, rtol=0)


def hand_grad_ms(model, data: torch.Tensor, seg_len: int, batch: int) -> list:
    """The mean over segments of each parameter's squared gradient of the batch's mean loss, the
    targets data[1:] laid out as `batch` rows of equal width (a multiple of seg_len), padded after
    the end with unscored targets and inputs of index 0."""
    n = len(data) - 1
    width = -(-n // (batch * seg_len)) * seg_len
    x = torch.zeros(batch * width, dtype=torch.long)
    y = torch.full((batch * width,), -1, dtype=torch.long)
    x[:n], y[:n] = data[:-1], data[1:]
    x, y = x.view(batch, width), y.view(batch, width)
    model, squares, hidden = copy.deepcopy(model), [], None
    params = list(model.parameters())
    for t in range(0, width, seg_len):
        logits, hidden = model(x[:, t : t + seg_len], hidden)
        hidden = tuple(h.detach() for h in hidden)
        targets = y[:, t : t + seg_len]
        scored = targets >= 0
        if scored.any():
            grads = torch.autograd.grad(F.cross_entropy(logits[scored], targets[scored]), params)
            squares.append([g.square() for g in grads])
    return [torch.stack(per_segment).mean(0) for per_segment in zip(*squares)]


def test_rms_statistics_come_from_training_text(study, tmp_path, monkeypatch):
    """RMS's statistics differ from text to text; every RMS the study builds, in the search and in
    the rows (RMS's start made the choice, so that the rows build one too), gets the ones of the
    training text, at evaluation's STATS_SEG_LEN and STATS_BATCH."""
    model, _ = load_checkpoint(study["files"]["checkpoint"])
    vocab, texts = study["vocab"], study["texts"]
    train, dev = vocab.encode(texts["train"]), vocab.encode(texts["plays"], unknown=-1)
    expected = hand_grad_ms(model, train, evaluation.STATS_SEG_LEN, evaluation.STATS_BATCH)
    on_dev = evaluation.grad_ms(model, dev, evaluation.STATS_SEG_LEN, evaluation.STATS_BATCH, "cpu")
    change = sum((a - b).abs().sum() for a, b in zip(on_dev, expected))
    assert change > 0.1 * sum(b.sum() for b in expected)

    seen = []

    class SpyRMS(evaluation.RMS):
        def __init__(self, model, lr, decay, grad_ms, eps=1e-5):
            seen.append(grad_ms)
            super().__init__(model, lr, decay, grad_ms, eps)

    real_search = reading.search
    rms_start = dict(seg_len=30, streams=1, rule="rms", lr=1e-4, decay=1e-2)
    search = lambda *args, **kwargs: dict(real_search(*args, **kwargs), dynamic=rms_start)
    monkeypatch.setattr(evaluation, "RMS", SpyRMS)
    monkeypatch.setattr(reading, "search", search)
    result = run_study(study, tmp_path / "out.json", dev="plays", test="more_plays")
    rms_trials = [r for r in result["search"][FAMILY] if r["settings"].get("rule") == "rms"]
    assert len(rms_trials) >= 1 and result["chosen"][FAMILY]["dynamic"] == rms_start
    assert len(seen) == len(rms_trials) + 2  # and one for each of the rows' dev and test reads
    for stats in seen:
        for got, want in zip(stats, expected, strict=True):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-12)
