import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# MKL's reproducible arithmetic for this process too (read when torch first loads MKL, which is
# after this line), so a run in-process and one in a child process agree bit for bit.
os.environ.setdefault("MKL_CBWR", "COMPATIBLE")


def make_text(num_words: int = 3000, seed: int = 0) -> str:
    """A small synthetic corpus with some structure: lines of words from a short list."""
    rng = random.Random(seed)
    words = "the king and but she he queen of rome shall speak now to all good citizens who hear me".split()
    lines = [
        " ".join(rng.choice(words) for _ in range(rng.randint(3, 9))).capitalize()
        + rng.choice(".,;!?")
        for _ in range(num_words // 6)
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def tiny_corpus(tmp_path) -> Path:
    path = tmp_path / "tiny.txt"
    path.write_text(make_text(), encoding="utf-8")
    return path


def train_args(data, out_dir, *flags, models=("rnn",), epochs=1, figures_dir=None) -> list[str]:
    """main.py's arguments for a small training run: the corpus, the models (None: main.py's
    default, both), the epochs and the folders (figures beside the checkpoints unless told), then
    `flags` as given."""
    args = ["--data", str(data), "--epochs", str(epochs), "--out-dir", str(out_dir)]
    args += ["--figures-dir", str(out_dir if figures_dir is None else figures_dir)]
    if models is not None:
        args += ["--models", *models]
    return [*args, *map(str, flags)]


def run_script(*args, cwd=ROOT, **env):
    """Run one of the scripts in a fresh interpreter, as a user would."""
    full_env = dict(os.environ, **env)
    return subprocess.run(
        [sys.executable, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=full_env,
    )
