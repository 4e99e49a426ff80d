"""Against nanoGPT: the shipped LSTM rescored in nanoGPT's blocks by hand, the reported number
rescored from the prepared text, and the arithmetic that sizes a run to nanoGPT's wall time."""

import json

import pytest
import torch
import torch.nn.functional as F
from conftest import ROOT, make_text

from dataset import Vocab, read_text
from evaluation import blocks
from model import load_checkpoint
from results import peer

SHIPPED = ROOT / "checkpoints" / "nanogpt-split" / "lstm-cpu.pt"
FULL_TEXT = ROOT / "data" / "tinyshakespeare.txt"


def hand_blocks(model, ids: torch.Tensor, size: int) -> float:
    """Every character but the first, one forward step at a time, the state reset every block."""
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(ids) - 1, size):
            hidden = None
            for i in range(start, min(start + size, len(ids) - 1)):
                logits, hidden = model(ids[i].view(1, 1), hidden)
                total += F.cross_entropy(logits[0, -1:], ids[i + 1 : i + 2]).item()
                count += 1
    return total / count


@pytest.mark.parametrize("size", [64, 256])
def test_the_shipped_lstm_scores_blocks_as_a_loop_one_character_at_a_time(size):
    model, ckpt = load_checkpoint(SHIPPED)
    vocab = Vocab(ckpt["vocab"])
    text = make_text(60, seed=3)[:300]
    ids = vocab.encode(text)
    assert blocks(model, vocab, text, size)["loss"] == pytest.approx(
        hand_blocks(model, ids, size), abs=1e-4
    )


@pytest.mark.skipif(
    not FULL_TEXT.exists(), reason="python data/prepare.py --source tinyshakespeare-full"
)
def test_the_shipped_lstm_rescores_to_the_reported_number():
    model, ckpt = load_checkpoint(SHIPPED)
    text = read_text(FULL_TEXT)
    tail = text[int(len(text) * (1 - peer.VAL_TAIL)) :]
    runs = json.loads((ROOT / "results" / "peer.json").read_text())["runs"]
    reported = min(r["val_blocks64_loss"] for r in runs.values() if r["kind"] == "lstm")
    assert blocks(model, Vocab(ckpt["vocab"]), tail, 64)["loss"] == pytest.approx(
        reported, abs=1e-4
    )


def test_a_run_takes_the_most_steps_whose_training_and_validations_fit_the_budget():
    step, val, per_epoch = 0.01, 2.0, 5000
    steps = peer.steps_in(100.0, step, val, per_epoch)
    cost = lambda n: n * step + -(-n // per_epoch) * val  # noqa: E731
    assert cost(steps) <= 100.0 < cost(steps + 1)
    assert steps == 9600  # two validations (4 s) leave 96 s of steps
