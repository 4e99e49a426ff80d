import pytest
import torch

from dataset import Chunks, CorpusError, Vocab, load_corpus, split_ids


def test_vocab_is_sorted_and_round_trips():
    vocab = Vocab.from_text("hello world\n")
    assert vocab.chars == "\n dehlorw"
    assert vocab.decode(vocab.encode("hello world\n")) == "hello world\n"
    assert vocab.encode("d").tolist() == [2]


def test_chunks_are_non_overlapping_and_targets_shift_by_one():
    data = torch.arange(100)
    chunks = Chunks(data, seq_len=30)
    assert len(chunks) == 3  # (100 - 1) // 30
    for i in range(3):
        x, y = chunks[i]
        assert x.tolist() == list(range(30 * i, 30 * i + 30))
        assert y.tolist() == list(range(30 * i + 1, 30 * i + 31))
    with pytest.raises(IndexError):
        chunks[3]


def test_batch_gathers_the_same_items():
    chunks = Chunks(torch.arange(1000), seq_len=7)
    ids = torch.tensor([5, 0, 42])
    x, y = chunks.batch(ids)
    assert x.shape == y.shape == (3, 7)
    for row, i in enumerate(ids.tolist()):
        assert torch.equal(x[row], chunks[i][0]) and torch.equal(y[row], chunks[i][1])


def test_context_precedes_the_chunk_and_pads_before_the_text():
    chunks = Chunks(torch.arange(100, 200), seq_len=10, context=15, pad=-1)
    x, y = chunks.batch(torch.tensor([3, 1]))
    assert x.shape == (2, 25) and y.shape == (2, 10)
    assert x[0].tolist() == list(range(115, 140))
    assert y[0].tolist() == list(range(131, 141))
    assert x[1].tolist() == [-1] * 5 + list(
        range(100, 120)
    )  # chunk 1 starts at 10: 5 pads, 10 real
    # a chunk's inputs never depend on the batch it is in
    assert torch.equal(chunks.batch(torch.tensor([3]))[0][0], x[0])


def test_split_is_fixed_disjoint_and_covers_all_chunks():
    train, val = split_ids(1000, split_seed=0)
    assert len(train) == 800 and len(val) == 200
    assert sorted(torch.cat([train, val]).tolist()) == list(range(1000))
    again = split_ids(1000, split_seed=0)
    assert torch.equal(train, again[0]) and torch.equal(val, again[1])
    assert not torch.equal(val, split_ids(1000, split_seed=1)[1])


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "one distinct character"),
        (b"abc", "fewer than one chunk"),
        (b"ab\xffcd" * 20, "not UTF-8"),
    ],
)
def test_bad_corpora_are_refused(tmp_path, content, message):
    path = tmp_path / "c.txt"
    path.write_bytes(content)
    with pytest.raises(CorpusError, match=message):
        load_corpus(path)


def test_missing_and_directory_corpora_are_refused(tmp_path):
    with pytest.raises(CorpusError, match="not found"):
        load_corpus(tmp_path / "nope.txt")
    with pytest.raises(CorpusError, match="directory"):
        load_corpus(tmp_path)


def test_only_chunks_followed_by_a_training_chunk_may_shift():
    from dataset import shiftable

    assert shiftable(torch.tensor([0, 1, 3, 4, 5]), 7).tolist() == [
        True,
        False,
        False,
        True,
        True,
        False,
        False,
    ]
