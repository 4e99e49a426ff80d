"""Behaviour pins where a one-line slip would go unnoticed: each test works its number out a
second way (text sliced by hand, an n-gram or an optimizer step done on paper, an argmax loop) and
compares it with what the code reports.
"""

import copy
import dataclasses
import json
import math
import random
from collections import Counter

import pytest
import torch
import torch.nn.functional as F
from conftest import make_text

import baseline
import generate
import main
import trainer
from dataset import Chunks, Split, Vocab, split_ids
from model import build_model, load_checkpoint

SEQ = 30  # characters per chunk, main.py's default


def encoder(vocab: str):
    return lambda s: [vocab.index(c) for c in s]


def chunk_by_hand(text: str, i: int, context: int, pad: str = "\n", seq_len: int = SEQ):
    """Chunk i of `text` after `context` characters of context, `pad` before the text's start:
    (inputs, targets) as strings."""
    start = i * seq_len
    fed = pad * max(0, context - start) + text[max(0, start - context) : start + seq_len]
    return fed, text[start + 1 : start + seq_len + 1]


def loss_by_hand(model, vocab: str, text: str, ids, context: int, pad: str = "\n"):
    """Cross-entropy and accuracy over the targets of chunks `ids` only: one F.cross_entropy, the
    first `context` outputs of each row dropped."""
    pairs = [chunk_by_hand(text, i, context, pad) for i in ids]
    enc = encoder(vocab)
    x = torch.tensor([enc(a) for a, _ in pairs])
    y = torch.tensor([enc(b) for _, b in pairs])
    with torch.no_grad():
        logits = model(x)[0][:, context:].double()
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).item()
    return loss, (logits.argmax(-1) == y).double().mean().item()


# 1. The count model ----------------------------------------------------------------------------


def hand_corpus():
    """20 chunks of 4 (81 characters): the training chunks hold only 'a' and 'b'; each validation
    chunk holds 'c' at the three positions no training window reaches (chunk i's window is
    text[4i : 4i + 5], so its first character is also the last of window i - 1)."""
    val = set(split_ids(20, 0)[1].tolist())
    assert val == {4, 5, 13, 19}  # the split the hand counts below are made for
    rng = random.Random(1)
    text = []
    for i in range(20):
        text += ["a"] + ["c" if i in val else rng.choice("ab") for _ in range(3)]
    return "".join(text) + "b", val


def test_the_count_model_is_fitted_on_the_training_chunks_alone(tmp_path, monkeypatch):
    text, val = hand_corpus()
    path, out = tmp_path / "abc.txt", tmp_path / "b.json"
    path.write_text(text)
    fitted = []
    real_fit = baseline.KneserNey.fit
    monkeypatch.setattr(
        baseline.KneserNey, "fit", lambda self, w: fitted.append(self) or real_fit(self, w)
    )
    baseline.main(
        ["--data", str(path), "--out", str(out), *"--orders 1 2 --discounts 1 --seq-len 4".split()]
    )
    train = [text[4 * i : 4 * i + 5] for i in range(20) if i not in val]
    # every n-gram the model counted, and how often, is that of the training windows sliced here
    bigram = [m for m in fitted if m.order == 2][0]
    assert bigram.tables[(2, True)]["counts"] == Counter(
        w[k : k + 2] for w in train for k in range(4)
    )
    # order 1 by hand: counts of a and b (c never seen), one discount D = n1 / (n1 + 2 n2), which
    # is 0.5 when n1 = 0; P(x) = max(count - D, 0) / N + (2 seen characters x D) / N x 1/3, so
    # 'c' gets the back-off mass alone
    counts = Counter("".join(train))
    assert set(counts) == {"a", "b"} and min(counts.values()) > 2
    n_chars, d = sum(counts.values()), 0.5
    p = {x: max(counts[x] - d, 0) / n_chars + 2 * d / n_chars / 3 for x in "abc"}
    assert p["c"] == pytest.approx(1 / (3 * n_chars))
    scored = "".join(text[4 * i + 1 : 4 * i + 5] for i in sorted(val))
    want = -sum(math.log(p[x]) for x in scored) / len(scored)
    rows = json.loads(out.read_text())["results"]
    assert rows[0]["order"] == 1 and rows[0]["val_loss"] == pytest.approx(want, abs=1e-12)


def test_an_order_n_model_reads_exactly_n_minus_1_characters():
    """Windows abc x2, dbe x2, vocabulary a..e (5), one discount per order.

    Order 3: trigrams abc 2, dbe 2 (n1 = 0: D = 0.5): P(c|ab) = 1.5/2 + 0.5/2 x P2(c|b).
      Continuation bigrams bc 1, be 1 (n1 = 2, n2 = 0: D = 1): P2(c|b) = 0 + 2/2 x P1(c).
      Continuation unigrams (distinct predecessors) b 2, c 1, e 1 (n1 = 2, n2 = 1: D = 0.5):
      P1(c) = 0.5/4 + 1.5/4 x 1/5 = 0.2, so P(c|ab) = 0.75 + 0.25 x 0.2 = 0.8.
    Order 2: raw bigrams ab 2, bc 2, db 2, be 2 (D = 0.5): P(c|b) = 1.5/4 + 1/4 x 0.2 = 0.425.
    Both: P(b|a) from raw bigrams = 1.5/2 + 0.5/2 x P1(b), P1(b) = 1.5/4 + 0.075 = 0.45: 0.8625.
    """
    windows = ["abc", "abc", "dbe", "dbe"]
    tri, bi = (baseline.KneserNey(n, 5, 1).fit(windows) for n in (3, 2))
    for context in ("ab", "dab", "eedab"):  # history beyond n - 1 characters is ignored
        assert tri.prob("c", context) == pytest.approx(0.8, abs=1e-12)
        assert bi.prob("c", context) == pytest.approx(0.425, abs=1e-12)
    assert tri.prob("c", "b") == pytest.approx(0.425, abs=1e-12)  # a short history: raw bigrams
    assert tri.prob("b", "a") == pytest.approx(0.8625) and bi.prob("b", "a") == pytest.approx(
        0.8625
    )
    assert baseline.target_probs(tri, ["abc"]) == pytest.approx([0.8625, 0.8], abs=1e-12)
    assert baseline.target_probs(bi, ["abc"]) == pytest.approx([0.8625, 0.425], abs=1e-12)
    # in nats per character over the window's two targets: they differ by log(0.8 / 0.425) / 2
    gap = baseline.score(bi, ["abc"]) - baseline.score(tri, ["abc"])
    assert gap == pytest.approx(math.log(0.8 / 0.425) / 2, abs=1e-12)
    assert baseline.score(tri, ["dabc"]) == pytest.approx(
        -sum(map(math.log, [tri.prob("a", "d"), tri.prob("b", "da"), 0.8])) / 3, abs=1e-12
    )


# 2 and 3. Held-out files and the fed context, through main.py -----------------------------------

K, E = 1, 2  # --context in training, --eval-context: small, where a character more or less shows
TOL = 5e-6  # float32 sums in a different order: the two ways agree to ~5e-7 here
# a constant rate and no moving average, so that one epoch learns enough for contexts to differ
RUN = (
    "--models rnn --epochs 1 --batch-size 8 --lr 0.01 --warmup-steps 0 --ema 0 --schedule constant"
    " --hidden-size 12 --num-layers 2 --threads 1 --device cpu --seed 0"
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One tiny run of the RNN with --context K, --eval-context E, and unlike --dev and --test."""
    folder = tmp_path_factory.mktemp("pins")
    text = make_text(1200, seed=3)
    dev = make_text(240, seed=4)
    test = "Now to all good citizens who hear me,\nthe queen shall speak.\n" * 12
    test = test[:500] + "Zounds" + test[500:]  # 'Z' is outside the vocabulary: its chunks drop out
    paths = {name: folder / f"{name}.txt" for name in ("train", "dev", "test")}
    for name, body in zip(paths, (text, dev, test)):
        paths[name].write_text(body)
    out = folder / "run"
    files = [f"--{name}={path}" for name, path in zip(("data", "dev", "test"), paths.values())]
    files += [f"--out-dir={out}", f"--figures-dir={out}"]  # paths are never split on spaces
    main.main([*files, *RUN.split(), f"--context={K}", f"--eval-context={E}"])
    metrics = json.loads((out / "metrics.json").read_text())["models"]["rnn"]
    model, ckpt = load_checkpoint(out / "rnn.pt")
    return dict(text=text, dev=dev, test=test, metrics=metrics, model=model, vocab=ckpt["vocab"])


def known(held: str, vocab: str, context: int):
    """Chunks of `held` whose fed characters and targets are all in the vocabulary."""
    return [
        i
        for i in range((len(held) - 1) // SEQ)
        if set("".join(chunk_by_hand(held, i, context))) <= set(vocab)
    ]


def test_each_held_out_file_is_scored_as_itself(run):
    evaluation, vocab = run["metrics"]["evaluation"], run["vocab"]
    for name in ("dev", "test"):
        ids = known(run[name], vocab, K)
        loss, acc = loss_by_hand(run["model"], vocab, run[name], ids, K)
        assert evaluation[f"{name}_chunks"] == len(ids), name
        assert evaluation[f"{name}_loss"] == pytest.approx(loss, abs=TOL), name
        assert evaluation[f"{name}_acc"] == pytest.approx(acc, abs=1e-9), name
    assert 0 < len(known(run["test"], vocab, K)) < (len(run["test"]) - 1) // SEQ  # some dropped
    assert abs(evaluation["test_loss"] - evaluation["dev_loss"]) > 0.01  # the files are told apart


def test_validation_scores_the_targets_alone_after_the_fed_context(run):
    """val_loss after the training context K, val_context_loss after E: only the 30 targets
    of each chunk scored, whatever the context positions would have scored."""
    evaluation, vocab, text = run["metrics"]["evaluation"], run["vocab"], run["text"]
    val = split_ids((len(text) - 1) // SEQ, 0)[1].tolist()
    for key, context in (("val", K), ("val_context", E)):
        loss, acc = loss_by_hand(run["model"], vocab, text, val, context)
        assert evaluation[f"{key}_loss"] == pytest.approx(loss, abs=TOL), key
        assert evaluation[f"{key}_acc"] == pytest.approx(acc, abs=1e-9), key
    assert run["metrics"]["best"]["val_loss"] == pytest.approx(evaluation["val_loss"], abs=TOL)
    assert evaluation["eval_context"] == E
    # a character more or less of context moves the loss by far more than TOL: an off-by-one shows
    by_context = [loss_by_hand(run["model"], vocab, text, val, c)[0] for c in range(5)]
    for key, context in (("val", K), ("val_context", E)):
        others = by_context[:context] + by_context[context + 1 :]
        assert min(abs(other - evaluation[f"{key}_loss"]) for other in others) > 10 * TOL, key


class LateBigram(torch.nn.Module):
    """Bigram logits from the text's counts, except at the first `blind` positions of a row, which
    get uniform logits: its loss on the fed positions is far from its loss on the targets."""

    def __init__(self, text: str, vocab: str, blind: int):
        super().__init__()
        counts = torch.ones(len(vocab), len(vocab))
        for a, b in zip(text, text[1:]):
            counts[vocab.index(a), vocab.index(b)] += 1
        self.table = torch.nn.Parameter((counts / counts.sum(1, keepdim=True)).log())
        self.blind = blind

    def forward(self, x, hidden=None):
        logits = self.table[x].clone()
        logits[:, : self.blind] = 0.0
        return logits, hidden


def test_run_epoch_scores_only_the_targets_of_chunks_with_context():
    text = make_text(400, seed=5)
    vocab = Vocab.from_text(text)
    chunks = Chunks(vocab.encode(text), SEQ, 7, vocab.pad)
    ids = torch.tensor([0, 5, 2, 9, 11, 3, 7])  # chunk 0: its context is all padding
    model = LateBigram(text, vocab.chars, 7)
    loss, acc = trainer.run_epoch(model, chunks, ids, 3, "cpu")
    want_loss, want_acc = loss_by_hand(model, vocab.chars, text, ids.tolist(), 7)
    assert loss == pytest.approx(want_loss, abs=1e-6) and acc == pytest.approx(want_acc, abs=1e-12)
    assert want_loss < math.log(len(vocab)) - 0.5  # the fed positions would score log V each
    torch.manual_seed(0)  # and a recurrent model, whose state carries the fed characters
    lstm = build_model(
        dict(kind="lstm", vocab_size=len(vocab), hidden_size=16, num_layers=1)
    ).eval()
    loss, acc = trainer.run_epoch(lstm, chunks, ids, 3, "cpu")
    want_loss, want_acc = loss_by_hand(lstm, vocab.chars, text, ids.tolist(), 7)
    assert loss == pytest.approx(want_loss, abs=1e-6) and acc == pytest.approx(want_acc, abs=1e-12)


# 4 and 5. Seeding and the clipped step, through the trainer module ------------------------------


@pytest.fixture(scope="module")
def corpus():
    text = make_text(600, seed=6)
    vocab = Vocab.from_text(text)
    chunks = Chunks(vocab.encode(text), SEQ)
    return text, vocab, Split(chunks, *split_ids(len(chunks), 0))


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_the_seed_alone_decides_the_initial_weights(corpus, kind):
    _, vocab, split = corpus
    settings = trainer.resolve(kind, "default", {"hidden_size": 8, "num_layers": 2})
    assert settings.seed == 0
    first, run0 = trainer.setup_training(kind, settings, len(vocab), split, "cpu")
    torch.manual_seed(1234)  # whatever the global stream was left at
    torch.rand(7)
    again, run1 = trainer.setup_training(kind, settings, len(vocab), split, "cpu")
    other, run2 = trainer.setup_training(
        kind, dataclasses.replace(settings, seed=1), len(vocab), split, "cpu"
    )
    w0, w1, w2 = weights(first), weights(again), weights(other)
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
    assert all(not torch.equal(w0[k], w2[k]) for k in w0)
    assert torch.equal(run0.generator.get_state(), run1.generator.get_state())
    assert not torch.equal(run0.generator.get_state(), run2.generator.get_state())
    # by hand: seed torch with 0, build the model, scale the recurrent weights by the init gain
    torch.manual_seed(0)
    hand = build_model(
        dict(
            kind=kind, vocab_size=len(vocab), hidden_size=8, num_layers=2, dropout=settings.dropout
        )
    )
    for name, p in hand.named_parameters():
        want = p.detach() * (settings.init_gain if name.startswith("rnn.weight") else 1.0)
        assert torch.equal(w0[name], want), name


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_a_clipped_step_is_the_gradient_scaled_to_the_clip_norm(corpus, kind):
    text, vocab, split = corpus
    clip = 3e-7  # far below the gradient's norm, and small enough that Adam's eps shows the scale
    settings = dataclasses.replace(
        trainer.resolve(kind, "default", {"hidden_size": 8, "num_layers": 1}),
        grad_clip=clip,
        lr=0.01,
        warmup_steps=0,
        shift=False,
        dropout=0.0,
    )
    model, run = trainer.setup_training(kind, settings, len(vocab), split, "cpu")
    ids = split.train[:12]
    # copies with the same weights and the same optimizer state, the optimizer on the copy's params
    clipped, clipped_opt = copy.deepcopy((model, run.optimizer))
    free, free_opt = copy.deepcopy((model, run.optimizer))
    before = weights(model)
    trainer.run_epoch(model, split.chunks, ids, len(ids), "cpu", run)  # one batch: one step
    enc = encoder(vocab.chars)
    x = torch.tensor([enc(text[SEQ * i : SEQ * i + SEQ]) for i in ids.tolist()])
    y = torch.tensor([enc(text[SEQ * i + 1 : SEQ * i + SEQ + 1]) for i in ids.tolist()])
    for net, opt, scale in ((clipped, clipped_opt, True), (free, free_opt, False)):
        net.train()
        opt.zero_grad()
        F.cross_entropy(net(x)[0].reshape(-1, len(vocab)), y.reshape(-1)).backward()
        if scale:
            norm = math.sqrt(sum(p.grad.double().pow(2).sum().item() for p in net.parameters()))
            assert norm > 1000 * clip
            for p in net.parameters():
                p.grad.mul_(clip / norm)
        opt.step()
    got = {k: weights(model)[k] - before[k] for k in before}
    by_hand = {k: v - before[k] for k, v in weights(clipped).items()}
    unclipped = {k: v - before[k] for k, v in weights(free).items()}
    for k in before:
        assert torch.allclose(got[k], by_hand[k], rtol=1e-3, atol=2e-6), k
    gap = max((got[k] - unclipped[k]).abs().max().item() for k in before)
    assert gap > 1e-3  # an unclipped step is far from it


# 6. Greedy rows in a batch with sampled ones ----------------------------------------------------


def test_greedy_rows_are_the_argmax_whatever_else_is_in_the_batch():
    vocab = "".join(sorted(set(make_text(300))))
    torch.manual_seed(0)
    model = build_model(
        dict(kind="lstm", vocab_size=len(vocab), hidden_size=16, num_layers=2)
    ).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)  # sharper distributions: no near-ties between the argmax and the runner-up
    prompt, length = "The king", 25
    alone = generate.sample(model, vocab, [prompt], [0.0], length, [0])[0]
    mixed = generate.sample(
        model, vocab, ["Th", prompt, "she", prompt], [1.0, 0.0, 1.0, 1.0], length, [0, 0, 0, 1]
    )
    assert mixed[1] == alone
    assert mixed[3] != alone  # a T = 1 row of the same prompt does sample
    # by hand: feed the whole text each step and append the argmax of the last position
    enc, text = encoder(vocab), prompt
    with torch.no_grad():
        for _ in range(length):
            text += vocab[int(model(torch.tensor([enc(text)]))[0][0, -1].argmax())]
    assert alone == text
