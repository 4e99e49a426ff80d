"""A text of one's own, in another script, through the command line as the README says: train both
models on it, then sample from them with a prompt in that script."""

import json
import random

import pytest
import torch
from conftest import run_script, train_args

import generate

WORDS = "и в не на он она мы ёж тишина город свет река звезда ночью говорит идёт поёт".split()


def cyrillic_text(lines: int = 500, seed: int = 0) -> str:
    rng = random.Random(seed)
    rows = [
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8))).capitalize()
        + rng.choice(".,;!?—")
        for _ in range(lines)
    ]
    return "\n".join(rows) + "\n"


def test_train_on_own_utf8_text_and_sample_in_its_script(tmp_path):
    text = cyrillic_text()
    corpus, out = tmp_path / "мой текст.txt", tmp_path / "runs" / "mine"
    corpus.write_text(text, encoding="utf-8")
    small = ["--hidden-size", "32", "--num-layers", "2", "--threads", "1"]
    train = run_script("main.py", *train_args(corpus, out, *small, models=None))
    assert train.returncode == 0, train.stderr
    assert train.stdout.splitlines()[0] == f"main.py: corpus {corpus} (--data)"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["corpus"]["source"] == "own" and set(metrics["models"]) == {"rnn", "lstm"}
    for kind in (
        "rnn",
        "lstm",
    ):  # the vocabulary: the text's distinct characters, in the checkpoint
        ckpt = torch.load(out / f"{kind}.pt", weights_only=True)
        assert ckpt["vocab"] == "".join(sorted(set(text)))
    assert (out / "loss.png").exists() and (out / "accuracy.png").exists()
    prompt = "Она говорит"
    sampled = run_script(
        "generate.py", "--checkpoint", out / "lstm.pt", "--prime", prompt, "--length", "80"
    )
    assert sampled.returncode == 0, sampled.stderr
    sample = sampled.stdout.removesuffix("\n")  # the one newline after a streamed sample
    assert sample.startswith(prompt) and len(sample) == len(prompt) + 80
    assert set(sample) <= set(text) and set(sample) & set("ёжтишинагород")
    with pytest.raises(SystemExit) as refused:  # in-process: the message, without another start-up
        generate.main(["--checkpoint", str(out / "rnn.pt"), "--prime", "Она says"])
    assert refused.value.code == (
        "generate.py: error: prompt characters not in the model's vocabulary: 'asy' "
        "(use --skip-unknown to drop them)"
    )
