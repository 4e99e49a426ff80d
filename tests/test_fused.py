"""The fused CPU recurrences compute nn.RNN's and nn.GRU's functions: values, gradients, dropout."""

import pytest
import torch
from torch.nn import functional as F

import model as model_module
from fused import GruRecurrence, TanhRecurrence
from model import build_model


def run(model, x, y, hidden, fused):
    """Logits, final state and every parameter's gradient, through the fused path or nn's."""
    model.fused = fused
    model.zero_grad()
    if hidden is not None:
        hidden = hidden.detach().requires_grad_()  # so that d(initial state) is compared too
    logits, last = model(x, hidden)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    (loss + last.square().mean()).backward()  # the final state's gradient is checked too
    grads = [p.grad for p in model.parameters()] + ([] if hidden is None else [hidden.grad])
    return [logits, last] + grads


@pytest.mark.parametrize("kind", ["rnn", "gru"])
@pytest.mark.parametrize(
    "hidden_size, layers, batch, steps", [(128, 4, 16, 30), (48, 2, 5, 7), (200, 3, 1, 1)]
)
@pytest.mark.parametrize("given_state", [False, True])
def test_fused_computes_what_nn_computes(kind, hidden_size, layers, batch, steps, given_state):
    torch.manual_seed(0)
    config = dict(kind=kind, vocab_size=62, hidden_size=hidden_size, num_layers=layers)
    model = build_model(config).train()
    x, y = torch.randint(0, 62, (batch, steps)), torch.randint(0, 62, (batch, steps))
    hidden = torch.randn(layers, batch, hidden_size) if given_state else None
    for plain, fused in zip(run(model, x, y, hidden, False), run(model, x, y, hidden, True)):
        torch.testing.assert_close(fused, plain, atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", ["rnn", "gru"])
def test_dropout_between_layers_draws_what_nn_draws(kind):
    """In training the fused path drops the same units as nn.RNN / nn.GRU from the same seed."""
    config = dict(kind=kind, vocab_size=20, hidden_size=32, num_layers=3, dropout=0.4)
    model = build_model(config).train()
    x, y = torch.randint(0, 20, (4, 9)), torch.randint(0, 20, (4, 9))
    results = []
    for fused in (False, True):
        torch.manual_seed(1)
        results.append(run(model, x, y, None, fused))
    for plain, fused in zip(*results):
        torch.testing.assert_close(fused, plain, atol=1e-5, rtol=0)
    torch.manual_seed(2)  # and a different seed drops other units
    assert not torch.allclose(run(model, x, y, None, True)[0], results[1][0])


def test_recurrences_gradients_in_double_precision():
    torch.manual_seed(0)
    a, h0 = torch.randn(6, 3, 5, dtype=torch.double), torch.randn(3, 5, dtype=torch.double)
    w = 0.5 * torch.randn(5, 5, dtype=torch.double)
    assert torch.autograd.gradcheck(TanhRecurrence.apply, [t.requires_grad_() for t in (a, h0, w)])
    a, w, b = (torch.randn(*s, dtype=torch.double) for s in [(6, 3, 15), (15, 5), (15,)])
    inputs = [t.requires_grad_() for t in (a, h0.detach(), 0.5 * w, b)]
    assert torch.autograd.gradcheck(GruRecurrence.apply, inputs)


@pytest.mark.parametrize("kind", ["rnn", "gru"])
def test_other_devices_keep_nn(monkeypatch, kind):
    """Off the CPU (the meta device stands in for a GPU) the model calls nn.RNN / nn.GRU itself."""

    def refuse(*args):
        raise AssertionError("the fused path was taken off the CPU")

    monkeypatch.setattr(model_module, "recurrence", refuse)
    meta = build_model(dict(kind=kind, vocab_size=11, hidden_size=16, num_layers=2)).to("meta")
    logits, _ = meta(torch.zeros(2, 5, dtype=torch.long, device="meta"))
    assert logits.shape == (2, 5, 11)
    with pytest.raises(AssertionError, match="fused path"):
        build_model(dict(kind=kind, vocab_size=11, hidden_size=16, num_layers=2))(
            torch.zeros(2, 5, dtype=torch.long)
        )
