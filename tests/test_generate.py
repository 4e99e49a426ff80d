import json
import math

import pytest
import torch
from conftest import run_script

import generate
from model import build_model, save_checkpoint
from results import temperature

VOCAB = "abcde"
N = 4000


class Bigram(torch.nn.Module):
    """Logits depend only on the current character: earlier prompt positions must not matter."""

    def __init__(self, table):
        super().__init__()
        self.table = torch.nn.Parameter(table)

    def forward(self, x, hidden=None):
        return self.table[x], hidden

    def step(self, x, hidden):
        return self.table[x], hidden


def chi2(counts, probs):
    expected = probs * counts.sum()
    keep = expected > 0
    return float(((counts[keep] - expected[keep]) ** 2 / expected[keep]).sum())


def first_chars(model, prompt, temperature, top_k=0):
    texts = generate.sample(
        model, VOCAB, [prompt] * N, [temperature] * N, 1, list(range(N)), seed=1, top_k=top_k
    )
    return torch.bincount(
        torch.tensor([VOCAB.index(t[-1]) for t in texts]), minlength=len(VOCAB)
    ).double()


TABLE = torch.tensor(
    [
        [2.0, 0.0, -1.0, 0.5, 1.0],
        [0.0, 0.0, 0.0, 0.0, 3.0],
        [-2.0, 1.0, 0.0, 2.0, 0.0],
        [1.0, 1.0, 1.0, 1.0, 1.0],
        [0.0, -1.0, 2.0, 0.0, 0.5],
    ]
)
CRITICAL = 18.47  # chi-square, 4 degrees of freedom, p = 0.001


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_sampled_frequencies_match_softmax_of_the_last_position(temperature):
    model = Bigram(TABLE)
    counts = first_chars(model, "bca", temperature)
    assert chi2(counts, torch.softmax(TABLE[0].double() / temperature, -1)) < CRITICAL
    # the reference's bug: sampling from the logits of every prompt position at once
    mixed = torch.softmax(TABLE[[1, 2, 0]].double() / temperature, -1).mean(0)
    assert chi2(counts, mixed) > 10 * CRITICAL


def test_top_k_and_greedy():
    model = Bigram(TABLE)
    counts = first_chars(model, "c", 1.0, top_k=2)  # row c: d (2.0) and b (1.0) are the top two
    top = torch.tensor([0, 1.0, 0, 2.0, 0])
    probs = torch.where(top != 0, torch.exp(top), 0).double()
    assert counts[[0, 2, 4]].sum() == 0
    assert chi2(counts, probs / probs.sum()) < CRITICAL
    assert first_chars(model, "c", 0.0).tolist() == [0, 0, 0, N, 0]


@pytest.fixture(scope="module")
def lstm():
    torch.manual_seed(0)
    return build_model(
        dict(kind="lstm", vocab_size=len(VOCAB), hidden_size=16, num_layers=2)
    ).eval()


def test_batched_equals_unbatched_under_one_seed(lstm):
    prompts = ["a", "abcde" * 3, "ca", "a"]
    temps, ids = [1.0, 0.7, 1.5, 1.0], [0, 0, 0, 1]
    batch = generate.sample(lstm, VOCAB, prompts, temps, 50, ids, seed=3)
    alone = [
        generate.sample(lstm, VOCAB, [p], [t], 50, [j], seed=3)[0]
        for p, t, j in zip(prompts, temps, ids)
    ]
    assert batch == alone
    assert batch[0] != batch[3]  # different sample ids, different text
    assert all(t.startswith(p) and len(t) == len(p) + 50 for t, p in zip(batch, prompts))
    assert (
        generate.sample(lstm, VOCAB, prompts, temps, 50, ids, seed=3) == batch
    )  # same seed, same text


def test_long_and_empty_prompts(lstm):
    long_prompt = "abcdeedcba" * 40
    out = generate.sample(lstm, VOCAB, [long_prompt, "b", ""], [1.0] * 3, 20, [0, 0, 0])
    assert out[0].startswith(long_prompt) and len(out[0]) == 420
    assert len(out[1]) == 21 and len(out[2]) == 20


def test_unknown_prompt_characters(tmp_path, lstm):
    path = tmp_path / "m.pt"
    save_checkpoint(path, lstm, VOCAB)
    with pytest.raises(SystemExit, match="not in the model's vocabulary: 'xz'"):
        generate.main(["--checkpoint", str(path), "--prime", "abzx", "--length", "5"])
    result = run_script(
        "generate.py", "--checkpoint", path, "--prime", "abzx", "--length", "5", "--skip-unknown"
    )
    assert result.returncode == 0, result.stderr
    assert (
        "dropping" in result.stderr
        and result.stdout.startswith("ab")
        and len(result.stdout.strip()) == 7
    )


def test_output_json_and_cli_batch(tmp_path, lstm, capsys):
    path = tmp_path / "m.pt"
    save_checkpoint(path, lstm, VOCAB)
    flags = "--prime ab --prime c --temperature 0.7 4 --num-samples 2 --length 30".split()
    generate.main(["--checkpoint", str(path), *flags, "--output", str(tmp_path / "s.json")])
    printed = capsys.readouterr().out.strip().split("\n\n")
    records = json.loads((tmp_path / "s.json").read_text())
    assert len(printed) == len(records) == 8
    for r, shown in zip(records, printed):  # each labelled with what made it
        label = f"--- T {r['temperature']:g} | prompt {r['prompt']!r} | sample {r['sample']} ---"
        assert shown == f"{label}\n{r['text']}"
    assert {(r["prompt"], r["temperature"]) for r in records} == {
        ("ab", 0.7),
        ("ab", 4.0),
        ("c", 0.7),
        ("c", 4.0),
    }


def test_temperature_study_on_a_tiny_checkpoint(tmp_path):
    text = "What say you, my lord? abc dea ba'e cab\n" * 20
    vocab = "".join(sorted(set(text)))
    path = tmp_path / "m.pt"
    save_checkpoint(
        path,
        build_model(dict(kind="rnn", vocab_size=len(vocab), hidden_size=16, num_layers=1)),
        vocab,
    )
    (tmp_path / "train.txt").write_text(text)
    out, fig = tmp_path / "study.json", tmp_path / "temperature.png"
    temperature.main(
        [
            "--checkpoint",
            str(path),
            "--out",
            str(out),
            "--figure",
            str(fig),
            "--data",
            str(tmp_path / "train.txt"),
        ]
    )
    result = json.loads(out.read_text())
    rows = result["per_temperature"]
    assert [r["temperature"] for r in rows] == temperature.STUDY_TEMPERATURES
    for r in rows:
        assert r["nll_at_t1"] > 0 and 0 <= r["entropy"] <= math.log(len(vocab)) + 1e-9
        assert 0 <= r["known_word_share"] <= 1 and 0 < r["distinct_word_share"] <= 1
    assert rows[0]["entropy"] < rows[-1]["entropy"]  # hotter sampling spreads the distribution
    for dist in result["context"]["distribution"].values():
        assert math.isclose(sum(dist), 1.0, abs_tol=1e-9)
    assert fig.stat().st_size > 10_000


def test_prime_file_and_streaming_single_sample(tmp_path, lstm):
    path = tmp_path / "m.pt"
    save_checkpoint(path, lstm, VOCAB)
    (tmp_path / "prompt.txt").write_text("abcde" * 80)
    result = run_script(
        "generate.py",
        "--checkpoint",
        path,
        "--prime-file",
        tmp_path / "prompt.txt",
        "--length",
        "25",
        "--seed",
        "4",
    )
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.startswith("abcde" * 80) and len(result.stdout) == 400 + 25 + 1
    )  # one sample, newline
    alone = generate.sample(lstm, VOCAB, ["abcde" * 80], [0.7], 25, [0], seed=4)[0]
    assert result.stdout[:-1] == alone


def test_a_prompt_given_twice_gives_two_samples(tmp_path, lstm, capsys):
    path = tmp_path / "m.pt"
    save_checkpoint(path, lstm, VOCAB)
    prime_twice = "--prime ab --prime ab --length 40 --seed 2".split()
    two_samples = "--prime ab --num-samples 2 --length 40 --seed 2".split()
    generate.main(["--checkpoint", str(path), *prime_twice])
    twice = capsys.readouterr().out.strip().split("\n\n")
    generate.main(["--checkpoint", str(path), *two_samples])
    assert len(twice) == 2 and twice[0] != twice[1]
    assert (
        capsys.readouterr().out.strip().split("\n\n") == twice
    )  # the same seed, the same two texts
