"""Every bad input ends in a one-line message and a non-zero exit, never a traceback, and leaves
existing checkpoints and figures untouched. Each case calls the script's main(argv) as its command
line would: the one way out allowed is SystemExit with the message (any other exception would be a
traceback); test_main runs the real scripts in a subprocess for the exit status and stderr."""

import pytest
import torch
from conftest import make_text

import generate
import main
from model import VanillaRNN, save_checkpoint

VOCAB = "\n abcdefghijklmnopqrstuvwxyzABHST"


@pytest.fixture
def workspace(tmp_path):
    """A folder with a valid checkpoint, metrics and a figure that no bad command may touch."""
    out, figs = tmp_path / "ckpt", tmp_path / "figs"
    out.mkdir(), figs.mkdir()
    save_checkpoint(
        out / "rnn.pt",
        VanillaRNN(len(VOCAB), hidden_size=8, num_layers=1),
        VOCAB,
        best_val_loss=2.0,
    )
    (out / "metrics.json").write_text("{}")
    (figs / "loss.png").write_bytes(b"png")
    files = {p: p.read_bytes() for p in [out / "rnn.pt", out / "metrics.json", figs / "loss.png"]}
    data = (out / "rnn.pt").read_bytes()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "torn.pt").write_bytes(data[: len(data) // 3])
    (bad / "text.pt").write_text("hello")
    ckpt = torch.load(out / "rnn.pt", weights_only=True)
    torch.save(ckpt | {"format_version": 0}, bad / "old.pt")
    torch.save(ckpt | {"vocab": VOCAB + "!"}, bad / "vocab.pt")
    torch.save(VanillaRNN(len(VOCAB), hidden_size=8, num_layers=1), bad / "module.pt")
    corpora = {
        "empty.txt": b"",
        "short.txt": b"abc\n",
        "latin1.txt": "caf\xe9 ".encode("latin-1") * 50,
        "one.txt": b"a" * 100,
    }
    corpora["good.txt"] = make_text().encode()
    for name, content in corpora.items():
        (bad / name).write_bytes(content)
    return tmp_path, files


MAIN = [  # (arguments after main.py, expected message)
    (["--data", "{tmp}/missing.txt"], "corpus not found: {tmp}/missing.txt"),
    (["--data", "{tmp}/bad"], "corpus is a directory"),
    (["--data", "/proc/self/mem"], "cannot read corpus /proc/self/mem"),
    (["--data", "{tmp}/bad/empty.txt"], "is empty"),
    (["--data", "{tmp}/bad/short.txt"], "fewer than one chunk of 30 + 1"),
    (["--data", "{tmp}/bad/latin1.txt"], "is not UTF-8 (byte 3"),
    (["--data", "{tmp}/bad/one.txt"], "only one distinct character"),
    (["--seq-len", "0"], "argument --seq-len: must be a positive number, got 0"),
    (["--batch-size", "-5"], "argument --batch-size: must be a positive number, got -5"),
    (["--epochs", "two"], "argument --epochs: 'two' is not a number"),
    (["--lr", "nan"], "argument --lr: must be a positive number, got nan"),
    (["--lr=-1e-3"], "argument --lr: must be a positive number, got -1e-3"),
    (
        ["--eval-only", "--out-dir", "{tmp}/nothing"],
        "checkpoint not found: {tmp}/nothing/rnn.pt (run main.py first",
    ),
    (["--eval-only", "--models", "lstm", "--out-dir", "{tmp}/ckpt"], "lstm.pt (run main.py first"),
    (["--out-dir", "/dev/null/run"], "cannot write to /dev/null/run: Not a directory"),
]
if not torch.cuda.is_available():
    MAIN.append((["--device", "cuda"], "--device cuda was asked for, but CUDA is not available"))

GENERATE = [
    (
        ["--checkpoint", "{tmp}/missing.pt"],
        "checkpoint not found: {tmp}/missing.pt (run main.py first",
    ),
    (
        ["--checkpoint", "{tmp}/bad/torn.pt"],
        "is not a readable checkpoint (truncated or not a checkpoint)",
    ),
    (["--checkpoint", "{tmp}/bad/text.pt"], "is not a readable checkpoint"),
    (["--checkpoint", "{tmp}/bad/old.pt"], "has checkpoint format 0, this code reads format 1"),
    (
        ["--checkpoint", "{tmp}/bad/vocab.pt"],
        f"vocabulary has {len(VOCAB) + 1} characters but the weights expect {len(VOCAB)}",
    ),
    (["--prime", "Zebra?"], "prompt characters not in the model's vocabulary: '?Z'"),
    (["--temperature", "-0.5"], "temperature must be a finite number >= 0 (0 = greedy), got -0.5"),
    (["--temperature", "nan"], "temperature must be a finite number >= 0 (0 = greedy), got nan"),
    (["--temperature", "inf"], "got inf"),
    (["--length", "-1"], "argument --length: must be an integer >= 1, got -1"),
    (["--length", "0"], "argument --length: must be an integer >= 1, got 0"),
    (["--prime", ""], "--prime is empty"),
    (["--prime-file", "{tmp}/bad/empty.txt"], "--prime-file {tmp}/bad/empty.txt is empty"),
    (["--prime-file", "{tmp}/bad/latin1.txt"], "--prime-file {tmp}/bad/latin1.txt is not UTF-8"),
    (["--checkpoint", "{tmp}/bad/module.pt"], "module.pt is not a checkpoint written by main.py"),
    (["--adapt", "{tmp}/bad/good.txt"], "rnn.pt stores no gradient statistics"),
    (["--adapt", "{tmp}/bad/good.txt", "--adapt-data", "{tmp}/bad/good.txt"], "is the text being"),
    (["--heatmap", "{tmp}/h.png"], "--heatmap draws what --score measures"),
    (["--num-samples", "0"], "argument --num-samples: must be an integer >= 1, got 0"),
    (["--output", "{tmp}/no/such/folder/out.txt"], "No such file or directory"),
]


def reject(script, argv, capsys):
    """Run `script.main(argv)`; return the last line it wrote to stderr or exited with."""
    with pytest.raises(SystemExit) as exit:
        script.main(argv)
    code = exit.value.code
    assert code not in (0, None)
    lines = (code if isinstance(code, str) else capsys.readouterr().err).strip().splitlines()
    assert lines
    return lines[-1]


def check(last, message, files):
    assert message in last, last
    assert "weights_only" not in last  # torch's advice to load unsafely is never passed on
    assert all(path.read_bytes() == content for path, content in files.items())


@pytest.mark.parametrize("args, message", MAIN, ids=[" ".join(a) for a, _ in MAIN])
def test_main_rejects(workspace, args, message, capsys):
    tmp, files = workspace
    args = [a.format(tmp=tmp) for a in args]
    defaults = ["--data", str(tmp / "bad" / "good.txt")] if "--data" not in args else []
    argv = [*defaults, "--out-dir", str(tmp / "ckpt"), "--figures-dir", str(tmp / "figs"), *args]
    check(reject(main, argv, capsys), message.format(tmp=tmp), files)


@pytest.mark.parametrize("args, message", GENERATE, ids=[" ".join(a) for a, _ in GENERATE])
def test_generate_rejects(workspace, args, message, capsys):
    tmp, files = workspace
    args = [a.format(tmp=tmp) for a in args]
    default = [] if "--checkpoint" in args else ["--checkpoint", str(tmp / "ckpt" / "rnn.pt")]
    check(reject(generate, [*default, *args], capsys), message.format(tmp=tmp), files)


OTHERS = [  # (script, arguments, expected message): the corpus the timings and counts need
    ("bench", ["--data", "{tmp}/missing.txt"], "corpus not found: {tmp}/missing.txt"),
    ("bench", ["--data", "{tmp}/bad/latin1.txt"], "is not UTF-8 (byte 3"),
    ("baseline", ["--data", "{tmp}/missing.txt"], "corpus not found: {tmp}/missing.txt"),
    ("baseline", ["--data", "{tmp}/bad/empty.txt"], "is empty"),
    ("baseline", ["--dev", "{tmp}/missing.txt"], "corpus not found: {tmp}/missing.txt"),
]


@pytest.mark.parametrize(
    "script, args, message", OTHERS, ids=[f"{s} {' '.join(a)}" for s, a, _ in OTHERS]
)
def test_bench_and_baseline_name_the_command_that_prepares_the_corpus(
    workspace, script, args, message, capsys
):
    import baseline
    import bench

    tmp, files = workspace
    args = [a.format(tmp=tmp) for a in args]
    if "--data" not in args:
        args = ["--data", str(tmp / "bad" / "good.txt"), *args]
    last = reject(dict(bench=bench, baseline=baseline)[script], args, capsys)
    assert last.startswith(f"{script}.py: error: ")
    check(last, message.format(tmp=tmp), files)
    assert last.endswith("(python data/prepare.py --source tinyshakespeare)")
