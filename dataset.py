"""Character-level corpus: vocabulary, non-overlapping chunks and the fixed 80/20 split.

    python dataset.py data/shakespeare_train.txt    # length, vocabulary, chunks, SHA-256
    python dataset.py data/tinyshakespeare.txt --val-tail 0.1    # ... split at nanoGPT's cut

A corpus of N characters is cut into n = (N - 1) // seq_len non-overlapping chunks; chunk i is

    input   text[i*L     : i*L + L]          e.g. L = 4:  "Firs"
    target  text[i*L + 1 : i*L + L + 1]                   "irst"

and the K = `context` characters before it, text[i*L - K : i*L], may be read first as unscored
context (K = 0 is the reference protocol: every chunk starts from a zero state). The chunks are
split 80/20 by one random permutation drawn from `split_seed`, so every model and every context
length sees the same split; or, with `val_tail` (main.py --val-tail), at one point of the text: the
head trains, its last share validates, nanoGPT's split (tail_ids).
"""

import argparse
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import torch

# Texts the best checkpoints are also scored on (data/prepare.py --source tinyshakespeare writes them).
HELD_OUT = {
    "unseen": "plays neither model saw",
    "dev": "unseen plays, for choosing settings",
    "test": "unseen plays, for reporting",
}
STATEFUL = ("dev", "test")  # held-out texts also read in order with the state carried (main.py)


class CorpusError(ValueError):
    """A corpus that cannot be used; the message is one line, fit for the user."""


def read_text(path: str | Path) -> str:
    """Read a UTF-8 corpus, raising CorpusError with a one-line reason if that is impossible."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"corpus not found: {path}")
    if path.is_dir():
        raise CorpusError(f"corpus is a directory, not a file: {path}")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise CorpusError(f"cannot read corpus {path}: {e.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CorpusError(
            f"corpus {path} is not UTF-8 (byte {e.start}: {raw[e.start : e.start + 1]!r})"
        ) from None
    if not text:
        raise CorpusError(f"corpus {path} is empty")
    return text


def opening_words(text: str, count: int = 5) -> list[str]:
    """The first words (with the space after them) of the text's first lines, no two alike: prompts
    a model trained on the text can read whatever its alphabet."""
    words = []
    for line in text.splitlines():
        word = line.split(" ")[0][:20]
        if word.strip() and word + " " not in words:
            words.append(word + " ")
        if len(words) == count:
            break
    return words


def sha256(text: str) -> str:
    """SHA-256 of the text's UTF-8 bytes: the corpus identity stored in metrics and checkpoints."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Vocab:
    """The sorted set of a text's characters, with char <-> index maps."""

    def __init__(self, chars: str):
        self.chars = chars
        self.stoi = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_text(cls, text: str) -> "Vocab":
        return cls("".join(sorted(set(text))))

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def pad(self) -> int:
        """What context positions before the start of a text hold: the newline, as if a blank line
        preceded the text (the first character where there is no newline)."""
        return self.stoi.get("\n", 0)

    def encode(self, text: str, unknown: int | None = None) -> torch.Tensor:
        """Indices of `text`; characters outside the vocabulary become `unknown` (default: KeyError)."""
        if unknown is None:
            return torch.tensor([self.stoi[c] for c in text], dtype=torch.long)
        return torch.tensor([self.stoi.get(c, unknown) for c in text], dtype=torch.long)

    def decode(self, indices) -> str:
        return "".join(self.chars[int(i)] for i in indices)


class Chunks:
    """Non-overlapping (input, target) chunks of one encoded text, gathered by tensor indexing.

    `data` is the whole text as a LongTensor; item i is a pair of views, no per-item Python lists.
    `batch(ids)` returns (B, K + L) inputs and (B, L) targets, where the first K inputs are the
    context. Context positions before the start of the text hold `pad` (the newline, as if a blank
    line preceded the text), so a chunk's inputs never depend on which batch it is in.
    """

    def __init__(self, data: torch.Tensor, seq_len: int = 30, context: int = 0, pad: int = 0):
        if len(data) < seq_len + 1:
            raise CorpusError(
                f"corpus has {len(data)} characters, fewer than one chunk of {seq_len} + 1"
            )
        self.data, self.seq_len, self.context, self.pad = data, seq_len, context, pad
        self.num_chunks = (len(data) - 1) // seq_len

    def __len__(self) -> int:
        return self.num_chunks

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= i < self.num_chunks:
            raise IndexError(i)
        start = i * self.seq_len
        return self.data[start : start + self.seq_len], self.data[
            start + 1 : start + self.seq_len + 1
        ]

    def batch(
        self, ids: torch.Tensor, shifts: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Gather chunks `ids` (B,), each optionally moved right by `shifts` (B,) characters."""
        starts = ids * self.seq_len if shifts is None else ids * self.seq_len + shifts
        positions = starts[:, None] + torch.arange(-self.context, self.seq_len + 1)  # (B, K+L+1)
        window = self.data[positions.clamp(min=0)]
        if self.context:
            window[positions < 0] = self.pad
        return window[:, :-1], window[:, self.context + 1 :]


def known_ids(chunks: Chunks) -> torch.Tensor:
    """Ids of the chunks whose inputs and targets hold no unknown character (encoded as -1)."""
    ids = torch.arange(len(chunks))
    x, y = chunks.batch(ids)
    return ids[(x >= 0).all(1) & (y >= 0).all(1)]


def shiftable(train_ids: torch.Tensor, num_chunks: int) -> torch.Tensor:
    """Per chunk id: may this training chunk be moved right (main.py --shift)? Only when chunk i + 1
    is a training chunk too, so a shifted window never reads a validation character:

        text  | train i | train i+1 | val | ...
        window = text[i*L + s : i*L + s + L + 1],  0 <= s < L
    """
    in_train = torch.zeros(num_chunks + 1, dtype=torch.bool)
    in_train[train_ids] = True
    return in_train[:-1] & in_train[1:]


def split_ids(
    num_chunks: int, split_seed: int = 0, val_fraction: float = 0.2
) -> tuple[torch.Tensor, torch.Tensor]:
    """One random permutation of chunk ids, cut into (train, val); the same for every model."""
    perm = torch.randperm(num_chunks, generator=torch.Generator().manual_seed(split_seed))
    num_val = int(round(num_chunks * val_fraction))
    return perm[num_val:], perm[:num_val]


def tail_start(num_chars: int, val_tail: float) -> int:
    """Where --val-tail's held-out tail begins: int(N * (1 - F)), nanoGPT's cut (int(n * 0.9) of
    tiny-shakespeare for F = 0.1: character 1,003,854 of 1,115,394)."""
    return int(num_chars * (1 - val_tail))


def tail_ids(num_chunks: int, seq_len: int, cut: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, val) chunk ids for a text held out from character `cut` on: training chunks whose
    every target lies before the cut, validation chunks whose every input lies in the tail; the one
    chunk across the cut is in neither:

        character  0123 4567 89|ab cdef ghij k      L = 4, cut = 10 (the tail: "abcdefghijk")
        chunk      0    1    2    3    4            chunk 1's last target is character 8
        it is      train     none val  val
    """
    starts = torch.arange(num_chunks) * seq_len
    ids = torch.arange(num_chunks)
    return ids[starts + seq_len < cut], ids[starts >= cut]


SUBSET_BLOCK = (
    100  # consecutive chunks (3,000 characters) kept or dropped together by --train-fraction
)


def train_subset(train: torch.Tensor, num_chunks: int, fraction: float, seed: int = 0):
    """The training ids a run on `fraction` of the training text uses. Blocks of SUBSET_BLOCK
    consecutive chunks are taken in one random order drawn from `seed` until `fraction` of the
    training chunks is reached (the last block cut short), so a smaller share is always inside a
    larger one (nested) and a kept passage stays contiguous, as a shorter text would be. The order
    of the kept ids is that of `train`; validation is untouched."""
    if fraction >= 1:
        return train
    num_blocks = math.ceil(num_chunks / SUBSET_BLOCK)
    blocks = torch.randperm(num_blocks, generator=torch.Generator().manual_seed(seed))
    order = (blocks[:, None] * SUBSET_BLOCK + torch.arange(SUBSET_BLOCK)).flatten()
    in_train = torch.zeros(num_blocks * SUBSET_BLOCK, dtype=torch.bool)
    in_train[train] = True
    order = order[in_train[order]]  # the training ids, block by block
    kept = torch.zeros_like(in_train)
    kept[order[: max(1, round(fraction * len(train)))]] = True
    return train[kept[train]]


@dataclass
class Split:
    """The chunks of one text and the fixed split of their ids; every model and script uses this one."""

    chunks: Chunks
    train: torch.Tensor
    val: torch.Tensor
    val_start: int | None = None  # --val-tail: validation is the text from this character on

    @property
    def shiftable(self) -> torch.Tensor:
        return shiftable(self.train, len(self.chunks))


def make_split(
    data: torch.Tensor,
    seq_len: int = 30,
    context: int = 0,
    pad: int = 0,
    split_seed: int = 0,
    val_fraction: float = 0.2,
    train_fraction: float = 1.0,
    val_tail: float = 0.0,
) -> Split:
    """Chunks of `data` (each after `context` characters of context, padded with `pad`), split by
    `split_seed` with `val_fraction` of them held out, training on `train_fraction` of the rest.
    With `val_tail`, the last val_tail of the text is held out instead (tail_ids)."""
    chunks = Chunks(data, seq_len, context, pad)
    cut = tail_start(len(data), val_tail) if val_tail else None
    if cut is None:
        train, val = split_ids(len(chunks), split_seed, val_fraction)
    else:
        train, val = tail_ids(len(chunks), seq_len, cut)
        if not (len(train) and len(val)):
            empty = "validation" if len(train) else "training"
            raise CorpusError(f"--val-tail {val_tail} leaves no {empty} chunk of {seq_len}")
    return Split(chunks, train_subset(train, len(chunks), train_fraction, split_seed), val, cut)


def load_corpus(path: str | Path, seq_len: int = 30) -> tuple[str, Vocab, torch.Tensor]:
    """Read and check a corpus: its text, vocabulary and encoded tensor."""
    text = read_text(path)
    vocab = Vocab.from_text(text)
    if len(vocab) < 2:
        raise CorpusError(
            f"corpus {path} has only one distinct character ({vocab.chars!r}): nothing to predict"
        )
    if len(text) < seq_len + 1:
        raise CorpusError(
            f"corpus {path} has {len(text)} characters, fewer than one chunk of {seq_len} + 1"
        )
    return text, vocab, vocab.encode(text)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Describe a corpus: length, vocabulary, chunks, SHA-256."
    )
    parser.add_argument("path", help="UTF-8 text file")
    parser.add_argument("--seq-len", type=int, default=30, help="characters per chunk")
    parser.add_argument("--val-tail", type=float, default=0.0, help="as main.py's (default: 0)")
    args = parser.parse_args(argv)
    try:
        text, vocab, data = load_corpus(args.path, args.seq_len)
    except CorpusError as e:
        parser.exit(1, f"dataset.py: error: {e}\n")
    split = make_split(data, args.seq_len, val_tail=args.val_tail)
    print(
        f"chars {len(text):,}  vocab {len(vocab)}  chunks train {len(split.train):,} val {len(split.val):,}"
    )
    if split.val_start is not None:
        tail = len(text) - split.val_start
        print(f"validation: the last {tail:,} characters, from character {split.val_start:,}")
    print(f"vocab {vocab.chars!r}")
    print(f"sha256 {sha256(text)}")


if __name__ == "__main__":
    main()
