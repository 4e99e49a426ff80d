from dataclasses import replace

import pytest
import torch

from model import (
    CheckpointError,
    VanillaLSTM,
    VanillaRNN,
    build_model,
    load_checkpoint,
    resolve_device,
    save_checkpoint,
)


@pytest.mark.parametrize("cls, params", [(VanillaRNN, 148_030), (VanillaLSTM, 544_318)])
def test_parameter_counts_match_the_reference(cls, params):
    assert sum(p.numel() for p in cls(62).parameters()) == params


@pytest.mark.parametrize("cls", [VanillaRNN, VanillaLSTM])
def test_shapes_and_hidden_state(cls):
    model = cls(11, hidden_size=16, num_layers=2)
    logits, hidden = model(torch.randint(0, 11, (3, 7)))
    assert logits.shape == (3, 7, 11)
    h = hidden[0] if cls is VanillaLSTM else hidden
    assert h.shape == (2, 3, 16)
    # the initial state is made on the input's device (here the meta device stands in for a GPU)
    meta = cls(11, hidden_size=16, num_layers=2).to("meta")
    out, hid = meta(torch.zeros(2, 5, dtype=torch.long, device="meta"))
    assert (
        out.device.type == "meta" and (hid[0] if cls is VanillaLSTM else hid).device.type == "meta"
    )


def test_the_two_models_differ_only_in_the_recurrent_layer():
    rnn, lstm = VanillaRNN(10), VanillaLSTM(10)
    assert type(rnn.rnn) is torch.nn.RNN and type(lstm.rnn) is torch.nn.LSTM
    assert replace(rnn.config, kind="lstm") == lstm.config


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_step_gives_the_same_logits_as_the_module(kind):
    torch.manual_seed(0)
    model = build_model(dict(kind=kind, vocab_size=20, hidden_size=32, num_layers=3)).eval()
    x = torch.randint(0, 20, (4, 12))
    with torch.no_grad():
        full, full_hidden = model(x)
    hidden, steps = model.init_hidden(4, "cpu"), []
    for t in range(12):
        logits, hidden = model.step(x[:, t], hidden)
        steps.append(logits)
    torch.testing.assert_close(torch.stack(steps, 1), full, atol=1e-5, rtol=0)
    for a, b in zip(
        hidden if kind == "lstm" else [hidden], full_hidden if kind == "lstm" else [full_hidden]
    ):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_checkpoint_round_trip(tmp_path, kind):
    model = build_model(dict(kind=kind, vocab_size=9, hidden_size=8, num_layers=2, dropout=0.0))
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.zeros(1, 3, dtype=torch.long))[0].sum().backward()
    optimizer.step()
    save_checkpoint(
        tmp_path / "m.pt",
        model,
        "abcdefghi",
        epoch=3,
        history=[{"epoch": 3}],
        best_val_loss=1.5,
        optimizer=optimizer.state_dict(),
    )
    raw = torch.load(tmp_path / "m.pt", weights_only=True)  # plain tensors and primitives only
    assert {"model", "config", "vocab", "epoch", "history", "best_val_loss", "optimizer"} <= set(
        raw
    )
    loaded, ckpt = load_checkpoint(tmp_path / "m.pt")
    assert ckpt["vocab"] == "abcdefghi" and ckpt["epoch"] == 3 and ckpt["config"]["kind"] == kind
    x = torch.randint(0, 9, (2, 6))
    model.eval()
    assert torch.equal(model(x)[0], loaded(x)[0])
    assert not list(tmp_path.glob(".*tmp"))  # the temporary file of the atomic write is gone


def test_bad_checkpoints_are_refused_with_a_reason(tmp_path):
    model = VanillaRNN(5, hidden_size=4, num_layers=1)
    save_checkpoint(tmp_path / "good.pt", model, "abcde")
    data = (tmp_path / "good.pt").read_bytes()
    (tmp_path / "torn.pt").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.pt").write_text("not a checkpoint")
    torch.save({"hello": 1}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="run main.py first"):
        load_checkpoint(tmp_path / "missing.pt")
    for name in ("torn.pt", "text.pt"):
        with pytest.raises(CheckpointError, match="not a readable checkpoint"):
            load_checkpoint(tmp_path / name)
    with pytest.raises(CheckpointError, match="not a checkpoint of this project"):
        load_checkpoint(tmp_path / "foreign.pt")
    ckpt = torch.load(tmp_path / "good.pt", weights_only=True)
    torch.save(ckpt | {"format_version": 99}, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="format 99"):
        load_checkpoint(tmp_path / "future.pt")
    torch.save(ckpt | {"vocab": "abcdef"}, tmp_path / "vocab.pt")
    with pytest.raises(
        CheckpointError, match="vocabulary has 6 characters but the weights expect 5"
    ):
        load_checkpoint(tmp_path / "vocab.pt")


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")


@pytest.mark.parametrize(
    "cuda, mps, expected", [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")]
)
def test_auto_picks_cuda_then_mps_then_the_cpu_in_every_script(monkeypatch, cuda, mps, expected):
    """What torch reports decides, in main.py, generate.py and bench.py alike (torch's availability
    functions replaced: the order is checked here, not the hardware)."""
    import bench
    import generate
    import main

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    for script in (main, generate, bench):
        assert script.get_args([]).device == torch.device(expected), script.__name__
        assert script.get_args(["--device", "cpu"]).device == torch.device("cpu")
    if not mps:
        with pytest.raises(ValueError, match="torch reports MPS unusable"):
            resolve_device("mps")
