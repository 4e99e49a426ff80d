import json
import math

import pytest
import torch
from conftest import make_text

import baseline

TEXT = make_text(2000)
WINDOWS = [TEXT[i : i + 31] for i in range(0, len(TEXT) - 31, 30)]
VOCAB = sorted(set(TEXT))


@pytest.mark.parametrize("discounts", [1, 3])
@pytest.mark.parametrize("order", [1, 2, 4, 7])
def test_probabilities_sum_to_one_over_the_vocabulary(order, discounts):
    model = baseline.KneserNey(order, len(VOCAB), discounts).fit(WINDOWS)
    for context in ["", "t", "The k", "zzzzzz", "qu" * 10, WINDOWS[3][:20]]:
        probs = [model.prob(c, context) for c in VOCAB]
        assert all(p > 0 for p in probs)
        assert math.isclose(sum(probs), 1.0, rel_tol=1e-9), (context, sum(probs))


def test_longer_contexts_fit_the_training_text_better():
    losses = [
        baseline.score(baseline.KneserNey(n, len(VOCAB), 3).fit(WINDOWS), WINDOWS[:50])
        for n in (1, 2, 4)
    ]
    assert losses[0] > losses[1] > losses[2]
    uniform = baseline.KneserNey(1, len(VOCAB)).fit([])
    assert math.isclose(baseline.score(uniform, WINDOWS[:5]), math.log(len(VOCAB)))


def test_cli_writes_every_order(tmp_path, tiny_corpus):
    out = tmp_path / "b.json"
    (tmp_path / "unseen.txt").write_text(tiny_corpus.read_text()[500:])
    baseline.main(
        [
            "--data",
            str(tiny_corpus),
            "--orders",
            "2",
            "3",
            "--unseen",
            str(tmp_path / "unseen.txt"),
            "--out",
            str(out),
        ]
    )
    result = json.loads(out.read_text())
    assert [(r["order"], r["discounts"]) for r in result["results"]] == [
        (2, 1),
        (3, 1),
        (2, 3),
        (3, 3),
    ]
    assert all(0 < r["val_loss"] < math.log(40) and 0 < r["unseen_loss"] for r in result["results"])


def test_preceding_characters_help_the_n_gram(tmp_path, tiny_corpus):
    for context in (0, 10):
        baseline.main(
            [
                "--data",
                str(tiny_corpus),
                "--orders",
                "5",
                "--discounts",
                "3",
                "--context",
                str(context),
                "--out",
                str(tmp_path / f"b{context}.json"),
            ]
        )
    cut, fed = (
        json.loads((tmp_path / f"b{c}.json").read_text())["results"][0]["val_loss"] for c in (0, 10)
    )
    assert fed < cut


@pytest.mark.parametrize("discounts, p_c_after_b", [(1, 0.817), (3, 0.939)])
def test_kneser_ney_on_a_corpus_worked_out_by_hand(discounts, p_c_after_b):
    """Order 2, vocabulary of 4 (a, b, c, d), training windows ab x3, bc x2, ca, aa, cc.

    Bigram counts ab 3, bc 2, ca 1, aa 1, cc 1: n1 = 3, n2 = 1, n3 = 1, so Y = 3 / (3 + 2) = 0.6.
    One discount: D = 0.6. Modified KN: D1 = 1 - 2Y n2/n1 = 0.6, D2 = 2 - 3Y n3/n2 = 0.2, D3+ = Y
    (n4 = 0). Unigrams by continuation counts (distinct predecessors): a 2 (c, a), b 1 (a), c 2 (b,
    c), total 5; n1 = 1, n2 = 2, so D = 0.2 and the uniform base (1/4) gets 3 x 0.2 / 5 = 0.12:
        P(a) = 1.8/5 + 0.12/4 = 0.39,  P(b) = 0.8/5 + 0.03 = 0.19,  P(c) = 0.39,  P(d) = 0.03.
    After a (ab 3, aa 1; total 4; both models discount 0.6 each): P(b|a) = 2.4/4 + 1.2/4 x 0.19 =
    0.657. After b (bc 2; total 2): one discount P(c|b) = 1.4/2 + 0.6/2 x 0.39 = 0.817;
                             modified      P(c|b) = 1.8/2 + 0.2/2 x 0.39 = 0.939.
    Scoring the window "abc" averages -log P(b|a) and -log P(c|b)."""
    windows = ["ab"] * 3 + ["bc"] * 2 + ["ca", "aa", "cc"]
    model = baseline.KneserNey(2, 4, discounts).fit(windows)
    assert model.prob("b", "a") == pytest.approx(0.657, abs=1e-12)
    assert model.prob("c", "b") == pytest.approx(p_c_after_b, abs=1e-12)
    assert model.prob("d", "a") == pytest.approx(1.2 / 4 * 0.03, abs=1e-12)
    assert baseline.score(model, ["abc"]) == pytest.approx(
        -(math.log(0.657) + math.log(p_c_after_b)) / 2, abs=1e-12
    )


def test_the_mixture_weight_is_the_one_best_on_the_dev_plays():
    """Where the network is right and the n-gram wrong on dev, the weight is 1; its losses are then
    those of p = w net + (1 - w) n-gram on each text, by hand."""
    net = {"dev": torch.tensor([0.9, 0.8]), "test": torch.tensor([0.5, 0.25])}
    counts = {"dev": torch.tensor([0.1, 0.2]), "test": torch.tensor([0.25, 0.5])}
    assert baseline.mixture(net, counts) == dict(
        weight=1.0,
        dev_loss=pytest.approx(-(math.log(0.9) + math.log(0.8)) / 2),
        test_loss=pytest.approx(-(math.log(0.5) + math.log(0.25)) / 2),
    )
    even = {"dev": torch.tensor([0.6, 0.2]), "test": torch.tensor([0.6, 0.2])}
    swapped = {"dev": torch.tensor([0.2, 0.6]), "test": torch.tensor([0.2, 0.6])}
    # -log(w a + (1-w) b) summed is least at w = 1/2 by symmetry
    mixed = baseline.mixture(even, swapped)
    assert mixed["weight"] == 0.5 and mixed["dev_loss"] == pytest.approx(-math.log(0.4))
