import json
import math

import pytest
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
