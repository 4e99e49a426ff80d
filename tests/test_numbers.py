"""Every number the README reports, computed a second way on a small case and compared.

Each test here derives its expected value independently of the code that reports it (one
F.cross_entropy over all targets at once, a model whose answer is known, text sliced by hand), so a
mistake shared by training and --eval-only cannot pass. The n-gram baseline's numbers, a Kneser-Ney
model worked out on paper and the mixture weight, are checked in test_baseline.py.
"""

import hashlib
import json
import math

import pytest
import torch
import torch.nn.functional as F
from conftest import train_args

import dataset
import generate
import main
import trainer
from dataset import Chunks, load_corpus, split_ids
from model import build_model, load_checkpoint, save_checkpoint
from results import temperature
from sampling import next_chars

TINY = ["--hidden-size", "16", "--num-layers", "2", "--threads", "1", "--device", "cpu"]


def chunks_by_hand(text: str, ids, seq_len: int = 30):
    """Inputs and targets of chunks `ids` sliced straight from the text, no Chunks involved."""
    vocab = sorted(set(text))
    encode = lambda s: [vocab.index(c) for c in s]
    x = torch.tensor([encode(text[i * seq_len : (i + 1) * seq_len]) for i in ids])
    y = torch.tensor([encode(text[i * seq_len + 1 : (i + 1) * seq_len + 1]) for i in ids])
    return x, y


def score_at_once(model, x, y) -> tuple[float, float]:
    """Loss and accuracy per character: one cross-entropy and one argmax over every target."""
    with torch.no_grad():
        logits = model(x)[0]
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).double(), y.reshape(-1)).item()
    return loss, (logits.argmax(-1) == y).double().mean().item()


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_loss_and_accuracy_are_per_character_over_every_target(tiny_corpus, kind):
    text = tiny_corpus.read_text()
    _, vocab, data = load_corpus(tiny_corpus)
    chunks = Chunks(data, 30)
    ids = split_ids(len(chunks), 0)[1]
    assert (
        len(ids) % 7 != 0
    )  # the last batch is short: a mean of batch means would weight it wrongly
    torch.manual_seed(0)
    model = build_model(dict(kind=kind, vocab_size=len(vocab), hidden_size=16, num_layers=2)).eval()
    loss, acc = trainer.run_epoch(model, chunks, ids, 7, "cpu")
    want_loss, want_acc = score_at_once(model, *chunks_by_hand(text, ids.tolist()))
    assert loss == pytest.approx(want_loss, abs=1e-5) and acc == pytest.approx(want_acc, abs=1e-12)


class Constant(torch.nn.Module):
    """Always the same logits, whatever the input: its accuracy is its favourite's share of the targets."""

    def __init__(self, logits):
        super().__init__()
        self.logits = torch.nn.Parameter(logits)

    def forward(self, x, hidden=None):
        return self.logits.expand(*x.shape, -1), hidden

    def step(self, x, hidden):
        return self.logits.expand(x.shape[0], -1), hidden


def test_a_model_that_always_says_one_character_scores_its_share_of_the_targets(tiny_corpus):
    text = tiny_corpus.read_text()
    _, vocab, data = load_corpus(tiny_corpus)
    chunks = Chunks(data, 30)
    ids = split_ids(len(chunks), 0)[1]
    logits = torch.zeros(len(vocab))
    logits[vocab.stoi["e"]] = 3.0
    loss, acc = trainer.run_epoch(Constant(logits), chunks, ids, 64, "cpu")
    targets = "".join(text[i * 30 + 1 : (i + 1) * 30 + 1] for i in ids.tolist())
    share = targets.count("e") / len(targets)
    assert acc == pytest.approx(share, abs=1e-12)
    # -log softmax: log(e^3 + V - 1) for every target, minus 3 where the target is 'e'
    assert loss == pytest.approx(math.log(math.exp(3) + len(vocab) - 1) - 3 * share, abs=1e-6)


def test_dropout_is_on_while_training_and_off_while_evaluating(tmp_path, tiny_corpus, monkeypatch):
    """An LSTM with dropout 0.5 through main.py's own loop: every training forward in train mode,
    every validation and evaluation forward in eval mode; and the recorded validation loss is what
    the saved checkpoint, as load_checkpoint returns it, scores when computed by hand."""
    modes, real = [], torch.nn.LSTM.forward
    monkeypatch.setattr(
        torch.nn.LSTM, "forward", lambda self, *a: modes.append(self.training) or real(self, *a)
    )
    out = tmp_path / "run"
    flags = ["--dropout", "0.5", "--batch-size", "16", *TINY]
    main.main(train_args(tiny_corpus, out, *flags, models=["lstm"]))
    train_ids, val_ids = split_ids((len(tiny_corpus.read_text()) - 1) // 30, 0)
    steps = math.ceil(len(train_ids) / 16)
    assert modes[:steps] == [True] * steps and not any(modes[steps:]) and len(modes) > steps
    model, _ = load_checkpoint(out / "lstm.pt")
    assert not model.training
    val_loss, val_acc = score_at_once(
        model, *chunks_by_hand(tiny_corpus.read_text(), val_ids.tolist())
    )
    best = json.loads((out / "metrics.json").read_text())["models"]["lstm"]["best"]
    assert best["val_loss"] == pytest.approx(val_loss, abs=1e-5) and best[
        "val_acc"
    ] == pytest.approx(val_acc)


def test_the_default_validation_split_is_pinned():
    """The chunk ids the committed checkpoints were validated on: a change here would re-score them
    on chunks they trained on. 8,944 chunks is the reference file, 11,354 the Gutenberg corpus."""
    pins = {
        8944: "f6ce032a3f80f34106ff01c5051b68e6dcc8684618609812f07f694cfa190a6d",
        11354: "1970b8d3eebe672f081c9b24e42a36157d15211aa364654605a599dbac49f4e7",
    }
    for num_chunks, digest in pins.items():
        train_ids, val_ids = split_ids(num_chunks, 0)
        assert len(val_ids) == round(num_chunks / 5) and len(train_ids) == num_chunks - len(val_ids)
        assert (
            hashlib.sha256(",".join(map(str, sorted(val_ids.tolist()))).encode()).hexdigest()
            == digest
        )
        assert set(train_ids.tolist()).isdisjoint(val_ids.tolist())
    assert all(
        s.split_seed == 0 and s.seq_len == 30 and s.val_fraction == 0.2
        for kinds in trainer.RECIPES.values()
        for s in kinds.values()
    )


def test_shifted_training_windows_never_read_a_validation_character(
    tmp_path, tiny_corpus, monkeypatch
):
    """Through main.py's wiring: every window it gathers while training lies inside training chunks."""
    gathered, real = [], dataset.Chunks.batch

    def spy(self, ids, shifts=None):
        gathered.append((ids.clone(), None if shifts is None else shifts.clone()))
        return real(self, ids, shifts)

    monkeypatch.setattr(dataset.Chunks, "batch", spy)
    out = tmp_path / "run"
    main.main(train_args(tiny_corpus, out, "--batch-size", "16", "--shift", *TINY, epochs=2))
    num_chunks = (len(tiny_corpus.read_text()) - 1) // 30
    train_ids = set(split_ids(num_chunks, 0)[0].tolist())
    shifted = [
        (i, s)
        for ids, shifts in gathered
        if shifts is not None
        for i, s in zip(ids.tolist(), shifts.tolist())
    ]
    assert {
        i for i, _ in shifted
    } == train_ids  # both epochs saw every training chunk, and only those
    assert sum(s > 0 for _, s in shifted) > len(shifted) / 2
    for (
        i,
        s,
    ) in shifted:  # the window is text[30 i + s : 30 i + s + 31]; position p is in chunk p // 30
        assert {p // 30 for p in range(30 * i + s, 30 * i + s + 31)} <= train_ids | (
            {i + 1} if s == 0 else set()
        )
    # the training text does border validation chunks, so the rule above had cases to refuse
    assert any(i + 1 not in train_ids and i + 1 < num_chunks for i in train_ids)


def test_learning_rate_schedule_at_known_steps():
    f = trainer.lr_lambda(warmup_steps=10, total_steps=110, schedule="cosine")
    assert [f(0), f(4), f(9)] == pytest.approx([0.1, 0.5, 1.0])  # linear warm-up to the base rate
    assert [f(10), f(60), f(85), f(110)] == pytest.approx(
        [1.0, 0.5, (1 - math.sqrt(0.5)) / 2, 0.0], abs=1e-12
    )
    assert f(500) == pytest.approx(0.0)
    constant = trainer.lr_lambda(warmup_steps=0, total_steps=110, schedule="constant")
    assert all(constant(s) == 1.0 for s in range(0, 200, 7))


def test_the_reference_preset_is_the_studys_setup(tiny_corpus):
    """Every value of the study's setup, as its README states them, for both models."""
    study = dict(
        epochs=20,
        batch_size=64,
        lr=1e-3,
        beta2=0.999,
        dropout=0.0,
        grad_clip=0.0,
        schedule="constant",
        warmup_steps=0,
        shift=False,
        ema=0.0,
        init_gain=1.0,
        seq_len=30,
        hidden_size=128,
        num_layers=4,
        context=0,
        split_seed=0,
    )
    _, vocab, data = load_corpus(tiny_corpus)
    chunks = Chunks(data, 30)
    train_ids, val_ids = split_ids(len(chunks), 0)
    split = dataset.Split(chunks, train_ids, val_ids)
    for kind in ("rnn", "lstm"):
        settings = trainer.resolve(kind, "reference", main.given(main.get_args([])))
        assert {k: getattr(settings, k) for k in study} == study, kind
        model, run = trainer.setup_training(kind, settings, len(vocab), split, "cpu")
        group = run.optimizer.param_groups[0]
        assert type(run.optimizer) is torch.optim.Adam and group["betas"] == (0.9, 0.999)
        assert group["eps"] == 1e-8 and group["weight_decay"] == 0
        assert run.ema is None and run.shiftable is None and not run.grad_clip
        assert model.rnn.dropout == 0 and model.rnn.hidden_size == 128 and model.rnn.num_layers == 4
        lrs = []
        for _ in range(30):
            run.optimizer.step()
            run.scheduler.step()
            lrs.append(group["lr"])
        assert lrs == [1e-3] * 30  # constant: no warm-up, no decay


def test_the_default_schedule_warms_up_then_decays_to_zero_over_the_run(tiny_corpus):
    _, vocab, data = load_corpus(tiny_corpus)
    chunks = Chunks(data, 30)
    train_ids, val_ids = split_ids(len(chunks), 0)
    split = dataset.Split(chunks, train_ids, val_ids)
    settings = trainer.resolve(
        "rnn",
        "default",
        main.given(
            main.get_args(
                ["--epochs", "3", "--warmup-steps", "4", "--batch-size", "10", "--hidden-size", "8"]
            )
        ),
    )
    _, run = trainer.setup_training("rnn", settings, len(vocab), split, "cpu")
    total = 3 * math.ceil(len(train_ids) / 10)
    assert total // 10 >= 4  # a warm-up of 4 steps is within a tenth of the run: not shortened
    lrs = []
    for _ in range(total):
        lrs.append(run.optimizer.param_groups[0]["lr"])
        run.optimizer.step()
        run.scheduler.step()
    base = trainer.RECIPES["default"]["rnn"].lr
    assert lrs[:4] == pytest.approx([base * k / 4 for k in (1, 2, 3, 4)])
    middle = 4 + (total - 4) // 2
    assert lrs[middle] == pytest.approx(
        base * 0.5 * (1 + math.cos(math.pi * (middle - 4) / (total - 4)))
    )
    assert lrs[-1] < base * 0.01 and run.optimizer.param_groups[0]["lr"] == pytest.approx(
        0.0, abs=1e-12
    )


def test_generate_picks_the_lowest_validation_loss_and_never_a_last_checkpoint(
    tmp_path, monkeypatch, capsys
):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    vocab = "abc"
    for name, loss in (
        ("rnn.pt", 1.5),
        ("lstm.pt", 2.0),
        ("lstm.last.pt", 1.0),
        ("rnn.last.pt", 0.5),
    ):
        kind = name.split(".")[0]
        model = build_model(dict(kind=kind, vocab_size=3, hidden_size=4, num_layers=1))
        save_checkpoint(folder / name, model, vocab, best_val_loss=loss)
    assert generate.find_best_checkpoint(folder) == folder / "rnn.pt"
    monkeypatch.setattr(generate, "ROOT", tmp_path)
    monkeypatch.chdir(tmp_path)
    generate.main(["--prime", "ab", "--length", "3"])
    assert "checkpoint checkpoints/rnn.pt: rnn" in capsys.readouterr().err


TABLE = torch.tensor([[0.0, -1.0, 2.0, 0.0, 0.5], [1.0, 1.0, 1.0, 1.0, 1.0]])


def next_char_counts(logits, top_k, n=4000, temperature=1.0):
    rows = logits.expand(n, -1)
    chars = next_chars(
        rows,
        torch.full((n, 1), temperature),
        top_k,
        torch.rand(n, generator=torch.Generator().manual_seed(0)),
    )
    return torch.bincount(chars, minlength=logits.shape[-1]).double()


def test_top_k_keeps_every_character_tied_with_the_kth_and_all_when_k_covers_the_vocabulary():
    counts = next_char_counts(
        TABLE[0], top_k=3
    )  # 2.0, 0.5, then 0.0 twice: a tie at the third place
    assert counts[1] == 0 and (counts[[0, 2, 3, 4]] > 0).all()
    kept = torch.tensor([0.0, -math.inf, 2.0, 0.0, 0.5])
    expected = torch.softmax(kept.double(), -1) * counts.sum()
    assert ((counts - expected).abs() < 4 * expected.sqrt() + 1).all()
    assert (next_char_counts(TABLE[1], top_k=2) > 600).all()  # all five tie: none is cut
    for k in (5, 6, 100):  # k at or above the vocabulary: the same draws as no top-k at all
        assert torch.equal(next_char_counts(TABLE[0], top_k=k), next_char_counts(TABLE[0], top_k=0))


@pytest.mark.parametrize("low, high", [(0.5, 1.0), (1.0, 3.0)])
def test_a_lower_temperature_concentrates_the_draws_on_the_favourite(low, high):
    """Same uniforms, two temperatures: the share of the argmax is softmax(logits / T)'s, for each T."""
    for t in (low, high):
        counts = next_char_counts(TABLE[0], top_k=0, temperature=t)
        want = torch.softmax(TABLE[0].double() / t, -1)[2].item()
        assert counts[2].item() / counts.sum().item() == pytest.approx(want, abs=0.03)
    assert (
        next_char_counts(TABLE[0], 0, temperature=low)[2]
        > next_char_counts(TABLE[0], 0, temperature=high)[2]
    )


def test_the_temperature_study_measures_what_the_distribution_implies(tmp_path):
    """A model with fixed next-character logits: the study's entropy at each T is that of softmax(l
    / T) exactly, and its NLL at T = 1 is the cross-entropy of softmax(l / T) against softmax(l), up
    to sampling noise. A sampler that ignored T, or sampled from the wrong distribution, misses
    both."""
    text = "What say you, my lord? abc dea ba'e cab\n" * 20
    vocab = "".join(sorted(set(text)))
    logits = torch.linspace(-2.0, 2.0, len(vocab))
    result = temperature.temperature_study(
        Constant(logits), vocab, text, temperatures=[0.5, 1.0, 2.0], num_samples=20, length=100
    )
    p1 = torch.softmax(logits.double(), -1)
    for row in result["per_temperature"]:
        pt = torch.softmax(logits.double() / row["temperature"], -1)
        assert row["entropy"] == pytest.approx(-(pt * pt.log()).sum().item(), abs=1e-9)
        assert row["nll_at_t1"] == pytest.approx(-(pt * p1.log()).sum().item(), abs=0.05)
    dist = result["context"]["distribution"]["0.7"]
    assert dist == pytest.approx(torch.softmax(logits.double() / 0.7, -1).tolist(), abs=1e-6)


def test_held_out_plays_are_scored_per_character_without_the_chunks_holding_unknown_characters(
    tmp_path, tiny_corpus
):
    """--dev and --test score like the validation chunks: every chunk of the text free of characters
    outside the vocabulary, per character, computed here by slicing the text by hand."""
    text = tiny_corpus.read_text()
    held = (
        text[:2000] + "Zebra~" + text[2000:4000]
    )  # '~' is not in the vocabulary: its chunk is dropped
    (tmp_path / "dev.txt").write_text(held)
    out = tmp_path / "run"
    held_out = ["--dev", tmp_path / "dev.txt", "--test", tmp_path / "dev.txt"]
    main.main(train_args(tiny_corpus, out, *held_out, *TINY))
    evaluation = json.loads((out / "metrics.json").read_text())["models"]["rnn"]["evaluation"]
    vocab = set(text)
    ids = [i for i in range((len(held) - 1) // 30) if set(held[30 * i : 30 * i + 31]) <= vocab]
    assert evaluation["dev_chunks"] == len(ids) and evaluation["dev_dropped"] == (
        len(held) - 1
    ) // 30 - len(ids)
    model, _ = load_checkpoint(out / "rnn.pt")
    sorted_vocab = sorted(vocab)
    encode = lambda s: [sorted_vocab.index(c) for c in s]
    x = torch.tensor([encode(held[30 * i : 30 * i + 30]) for i in ids])
    y = torch.tensor([encode(held[30 * i + 1 : 30 * i + 31]) for i in ids])
    loss, acc = score_at_once(model, x, y)
    assert evaluation["dev_loss"] == pytest.approx(loss, abs=1e-5) == evaluation["test_loss"]
    assert evaluation["dev_acc"] == pytest.approx(acc)


def test_weight_decay_is_adamw_on_the_weight_matrices_and_spares_biases(tiny_corpus):
    _, vocab, data = load_corpus(tiny_corpus)
    settings = trainer.resolve(
        "rnn", "default", main.given(main.get_args(["--weight-decay", "0.1", "--hidden-size", "8"]))
    )
    model, run = trainer.setup_training(
        "rnn", settings, len(vocab), dataset.make_split(data), "cpu"
    )
    assert type(run.optimizer) is torch.optim.AdamW
    decay = {id(p): g["weight_decay"] for g in run.optimizer.param_groups for p in g["params"]}
    for name, p in model.named_parameters():
        assert decay[id(p)] == (0.1 if p.dim() > 1 else 0.0), name
    settings = trainer.resolve(
        "rnn", "reference", main.given(main.get_args(["--hidden-size", "8"]))
    )
    assert (
        type(
            trainer.setup_training("rnn", settings, len(vocab), dataset.make_split(data), "cpu")[
                1
            ].optimizer
        )
        is torch.optim.Adam
    )  # no decay: plain Adam, the study's optimizer
