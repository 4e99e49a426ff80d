"""model.py --from-reference: the study's own weight files become checkpoints of the same function."""

from pathlib import Path

import pytest
import torch
from conftest import run_script
from torch import nn

from model import REFERENCE_FILES, from_reference, load_checkpoint

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


class StudyModel(nn.Module):
    """The study's Vanilla_RNN / Vanilla_LSTM as its repository writes them: embed, rnn / lstm, fc."""

    def __init__(self, kind: str, vocab_size: int, hidden: int = 128, layers: int = 4):
        super().__init__()
        self.kind = kind
        self.embed = nn.Embedding(vocab_size, hidden)
        if kind == "rnn":
            self.rnn = nn.RNN(hidden, hidden, layers, batch_first=True)
        else:
            self.lstm = nn.LSTM(hidden, hidden, layers, batch_first=True)
        self.fc = nn.Linear(hidden, vocab_size)

    def forward(self, x):
        out, _ = (self.rnn if self.kind == "rnn" else self.lstm)(self.embed(x))
        return self.fc(out)


def study_files(folder: Path, vocab_size: int, hidden: int = 16, layers: int = 3) -> dict:
    """Random models of the study's classes, saved as its repository saves them (bare state_dicts)."""
    torch.manual_seed(0)
    models = {kind: StudyModel(kind, vocab_size, hidden, layers) for kind in REFERENCE_FILES}
    for kind, (name, _) in REFERENCE_FILES.items():
        torch.save(models[kind].state_dict(), folder / name)
    return models


def assert_same_function(converted: Path, study: nn.Module, vocab_size: int):
    """Logits to 1e-6, both through nn.RNN / nn.LSTM (the fused CPU path has its own tests), so that
    what is compared is the weights' placement."""
    model, ckpt = load_checkpoint(converted)
    model.fused = False
    x = torch.randint(0, vocab_size, (5, 30))
    with torch.no_grad():
        torch.testing.assert_close(model(x)[0], study.eval()(x), atol=1e-6, rtol=0)
    return ckpt


def test_the_study_format_converts_to_the_same_function(tmp_path):
    text = tmp_path / "train.txt"
    text.write_text("to be, or not to be:\nthat is the question\n", encoding="utf-8")
    vocab = "".join(sorted(set(text.read_text())))
    models = study_files(tmp_path, len(vocab))
    paths = from_reference(tmp_path, text, tmp_path / "out")
    for kind, path in zip(REFERENCE_FILES, paths):
        ckpt = assert_same_function(path, models[kind], len(vocab))
        assert ckpt["vocab"] == vocab and ckpt["config"]["num_layers"] == 3


def test_the_command_writes_both_and_refuses_a_foreign_vocabulary(tmp_path):
    text = tmp_path / "shakespeare_train.txt"
    text.write_text("abc\n", encoding="utf-8")
    study_files(tmp_path, 9)  # nine embedding rows, four characters
    r = run_script("model.py", "--from-reference", tmp_path, "--out", tmp_path / "out")
    assert r.returncode == 1 and r.stderr.startswith("model.py: error: ")
    assert "9 embedding rows" in r.stderr and "Traceback" not in r.stderr
    text.write_text("abcdefgh\n", encoding="utf-8")
    r = run_script("model.py", "--from-reference", tmp_path, "--out", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["lstm.pt", "rnn.pt"]


@pytest.mark.skipif(
    not (SHARED / "reference").is_dir(), reason="the study's own weights are not here"
)
def test_the_studys_own_weights_are_the_same_function_after_conversion(tmp_path):
    text = SHARED / "shakespeare_train.txt"
    vocab_size = len(set(text.read_text(encoding="utf-8")))
    paths = from_reference(SHARED / "reference", text, tmp_path)
    for kind, path in zip(REFERENCE_FILES, paths):
        study = StudyModel(kind, vocab_size)
        name = REFERENCE_FILES[kind][0]
        study.load_state_dict(
            torch.load(SHARED / "reference" / name, map_location="cpu", weights_only=True)
        )
        assert_same_function(path, study, vocab_size)
