"""The three character models and the checkpoint format; no training code.

    python model.py checkpoints/lstm.pt    # what a checkpoint holds
    python model.py --from-reference ../Language_Modeling_project    # the study's own weights

embedding(V, H) -> nn.RNN, nn.LSTM or nn.GRU (H, H, num_layers, batch_first) -> linear(H, V).
The three differ only in the recurrent layer and its cell function, looked up in RECURRENT and
CELLS. On the CPU the RNN's and the GRU's forward run their weights through fused.recurrence:
the same function as nn.RNN's and nn.GRU's, faster (results/README.md, Speed).
"""

import argparse
import functools
import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from fused import PARAMS, recurrence

# A checkpoint is a dict of tensors and primitives (torch.load(..., weights_only=True)):
#   format_version, config (ModelConfig as a dict), model (state_dict), vocab (str: index -> char),
#   epoch, history (a row per epoch), best_val_loss;
#   from main.py: settings (trainer.Settings as a dict), corpus (path, source, sha256, chars,
#   vocab_size); in <kind>.last.pt the resume state (best, optimizer, scheduler, ema, rng);
#   in <kind>.pt once training ends (evaluation.add_statistics): grad_ms (per parameter, in
#   parameters() order, the mean square of its gradient over the training text: what RMS's dynamic
#   evaluation divides by) and prompts (opening words of the training text).
FORMAT_VERSION = 1
RECURRENT = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
CELLS = {"rnn": torch.rnn_tanh_cell, "lstm": torch.lstm_cell, "gru": torch.gru_cell}  # one step


@dataclass(frozen=True)
class ModelConfig:
    """A model's shape, stored in its checkpoints as `asdict()`."""

    kind: str  # a key of RECURRENT
    vocab_size: int
    hidden_size: int = 128
    num_layers: int = 4
    dropout: float = 0.0  # between recurrent layers, in training only


class CharRNN(nn.Module):
    """Embedding -> stacked recurrent layers -> linear read-out, over characters."""

    kind = None  # set by the subclasses: a key of RECURRENT
    fused = True  # the RNN and the GRU on the CPU: fused.recurrence instead of nn.RNN / nn.GRU

    def __init__(
        self, vocab_size: int, hidden_size: int = 128, num_layers: int = 4, dropout: float = 0.0
    ):
        super().__init__()
        self.config = ModelConfig(self.kind, vocab_size, hidden_size, num_layers, dropout)
        self.embedding = nn.Embedding(vocab_size, hidden_size)
        self.rnn = RECURRENT[self.kind](
            hidden_size, hidden_size, num_layers=num_layers, dropout=dropout, batch_first=True
        )
        self.fc = nn.Linear(hidden_size, vocab_size)

    def forward(self, x: torch.Tensor, hidden=None):
        """x: (B, T) character indices -> logits (B, T, V) and the final hidden state."""
        if hidden is None:
            hidden = self.init_hidden(x.shape[0], x.device)
        if self.fused and self.kind != "lstm" and x.device.type == "cpu":  # the same function
            out, hidden = recurrence(self.rnn, self.embedding(x.t()), hidden, self.training)
            return self.fc(out).transpose(0, 1), hidden  # out was time-major: (T, B, H)
        out, hidden = self.rnn(self.embedding(x), hidden)  # out: (B, T, H)
        return self.fc(out), hidden

    @torch.no_grad()
    def step(self, x: torch.Tensor, hidden):
        """One character per row, x: (B,) -> logits (B, V), hidden; as forward(x[:, None]).

        Sampling calls this once per generated character. Going through the per-layer cell functions
        skips nn.RNN/nn.LSTM's per-call checks and weight flattening, which dominate at batch 1.
        Evaluation only: no dropout.
        """
        lstm = self.kind == "lstm"
        states = list(zip(*hidden)) if lstm else list(hidden)  # per layer: (h, c) or h
        inp, new = self.embedding(x), []
        for layer, state in enumerate(states):
            weights = [getattr(self.rnn, f"{name}_l{layer}") for name in PARAMS]
            state = CELLS[self.kind](inp, state, *weights)
            inp = state[0] if lstm else state
            new.append(state)
        hidden = tuple(torch.stack(s) for s in zip(*new)) if lstm else torch.stack(new)
        return self.fc(inp), hidden

    def init_hidden(self, batch_size: int, device):
        """Zero state on `device`: h (num_layers, B, H), and for the LSTM the pair (h, c)."""
        h = torch.zeros(self.rnn.num_layers, batch_size, self.rnn.hidden_size, device=device)
        return (h, torch.zeros_like(h)) if self.kind == "lstm" else h


class VanillaRNN(CharRNN):
    kind = "rnn"


class VanillaLSTM(CharRNN):
    kind = "lstm"


class GRU(CharRNN):
    kind = "gru"


MODELS = {cls.kind: cls for cls in (VanillaRNN, VanillaLSTM, GRU)}


GATES = {"rnn": 1, "gru": 3, "lstm": 4}  # weight blocks per recurrent layer
LADDER = (32, 64, 128, 256)  # the LSTM's widths that set the equal-parameter budgets


def num_params(kind: str, hidden_size: int, vocab_size: int, num_layers: int = 4) -> int:
    """The parameter count of a model, by formula: embedding V*H, per layer and gate two H x H
    matrices and two biases, read-out H*V + V."""
    per_layer = GATES[kind] * (2 * hidden_size * hidden_size + 2 * hidden_size)
    return 2 * vocab_size * hidden_size + vocab_size + num_layers * per_layer


@functools.cache
def width_for(kind: str, budget: int, vocab_size: int, num_layers: int = 4) -> int:
    """The hidden size whose parameter count is nearest `budget`: the equal-parameter ladder."""
    count = lambda h: abs(num_params(kind, h, vocab_size, num_layers) - budget)
    return min(range(1, 4096), key=count)


def build_model(config: ModelConfig | dict) -> CharRNN:
    """A fresh model of `config` (or of the dict a checkpoint stores)."""
    if isinstance(config, dict):
        config = ModelConfig(**config)
    shape = asdict(config)
    return MODELS[shape.pop("kind")](**shape)


def scale_init(model, gain: float) -> None:
    """Multiply the recurrent layers' initial weights by `gain`: at PyTorch's scale each LSTM layer
    passes on a fraction of its input (its gates sit near 0.5), so the upper layers start near
    silent."""
    with torch.no_grad():
        for name, weight in model.rnn.named_parameters():
            if name.startswith("weight"):
                weight.mul_(gain)


def open_forget_gates(model) -> None:
    """Start each LSTM layer's forget gate at a bias of 1 (b_ih 1, b_hh 0; gates ordered i, f, g, o)
    so that the cell state is kept by default at the start (Jozefowicz et al. 2015; char-rnn)."""
    h = model.rnn.hidden_size
    with torch.no_grad():
        for name, bias in model.rnn.named_parameters():
            if name.startswith("bias"):
                bias[h : 2 * h] = 1.0 if name.startswith("bias_ih") else 0.0


def init_recurrent(model, gain: float, forget_bias: bool) -> None:
    """The recurrent layers' initial weights: scaled by `gain`, and with `forget_bias` (the LSTM
    only) its forget gates opened."""
    scale_init(model, gain)
    if forget_bias:
        open_forget_gates(model)


def mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> CUDA when available (CUDA_VISIBLE_DEVICES decides which), then Apple's MPS, else
    the CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if mps_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {name} was asked for, but CUDA is not available here")
    if name == "mps" and not mps_available():
        raise ValueError("--device mps was asked for, but torch reports MPS unusable here")
    return torch.device(name)


def device_flag(name: str) -> torch.device:
    """argparse type of every script's --device: resolve_device, a refusal as a usage error."""
    try:
        return resolve_device(name)
    except (ValueError, RuntimeError) as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def cpu_name() -> str:
    """The processor's model name, for the record of where a run ran."""
    cpuinfo = Path("/proc/cpuinfo")
    for line in cpuinfo.read_text().splitlines() if cpuinfo.exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine(device: torch.device) -> str:
    """The CPU, or the GPU when the work runs on one."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message is one line, fit for the user."""


def atomic_save(obj, path: str | Path) -> None:
    """torch.save to a temporary file in the same folder, fsync, then os.replace: never a torn file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)


def save_checkpoint(
    path,
    model: CharRNN,
    vocab: str,
    epoch: int = 0,
    history: list | None = None,
    best_val_loss: float = float("inf"),
    **extra,
) -> None:
    """Write a self-contained checkpoint: only tensors and primitives, loadable with
    weights_only=True. What sampling and evaluation need, and whatever `extra` adds (main.py's
    resume state, for one)."""
    checkpoint = dict(
        format_version=FORMAT_VERSION,
        config=asdict(model.config),
        model={k: v.detach().cpu() for k, v in model.state_dict().items()},
        vocab=vocab,
        epoch=epoch,
        history=list(history or []),
        best_val_loss=float(best_val_loss),
        **extra,
    )
    atomic_save(checkpoint, path)


def load_checkpoint(path, device="cpu") -> tuple[CharRNN, dict]:
    """Load a checkpoint onto `device` (whatever device wrote it) -> (model in eval mode, checkpoint)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path} (run main.py first to train one)")
    try:
        checkpoint = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # torn file, foreign pickle, not a zip: all mean "not usable"
        if "Unsupported global" in str(e):  # a pickled object; torch's advice (unsafe) is not ours
            why = "it holds Python objects besides tensors, which are never loaded from a file"
            raise CheckpointError(f"{path} is not a checkpoint written by main.py: {why}") from None
        why = f"{path} is not a readable checkpoint (truncated or not a checkpoint), {type(e).__name__}"
        raise CheckpointError(why) from None
    keys = set(checkpoint if isinstance(checkpoint, dict) else ())
    missing = ", ".join(sorted({"format_version", "config", "model", "vocab"} - keys))
    if missing:
        raise CheckpointError(f"{path} is not a checkpoint of this project (missing {missing})")
    if checkpoint["format_version"] != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {checkpoint['format_version']}, "
            f"this code reads format {FORMAT_VERSION}"
        )
    config, vocab = checkpoint["config"], checkpoint["vocab"]
    if config.get("kind") not in MODELS:
        raise CheckpointError(f"{path} holds an unknown model kind {config.get('kind')!r}")
    rows = checkpoint["model"].get("embedding.weight", torch.empty(0)).shape[0]
    if len(vocab) != config["vocab_size"] or len(vocab) != rows:
        why = f"vocabulary has {len(vocab)} characters but the weights expect {rows}"
        raise CheckpointError(f"{path}: {why}")
    model = build_model(config)
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as e:
        why = str(e).splitlines()[0]
        raise CheckpointError(f"{path}: weights do not fit its config: {why}") from None
    return model.to(device).eval(), checkpoint


# The study's repository (github.com/SangbeomJeong/Language_Modeling_project, commit 20c4f8c) ships
# its trained models as bare state_dicts of its Vanilla_RNN / Vanilla_LSTM: embedding `embed.*`,
# recurrent layers `rnn.*` / `lstm.*`, read-out `fc.*`, vocabulary sorted(set(text)) of its file.
REFERENCE_FILES = {"rnn": ("model_path_rnn.pth", "rnn."), "lstm": ("model_path_lstm.pth", "lstm.")}


def from_reference(folder: Path, text: Path, out: Path) -> list[Path]:
    """The study's two weight files in `folder` as checkpoints of this project in `out` (rnn.pt,
    lstm.pt), with the vocabulary of the study's file `text`; the same function, key for key."""
    vocab = "".join(sorted(set(text.read_text(encoding="utf-8"))))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, (name, prefix) in REFERENCE_FILES.items():
        path = folder / name
        if not path.is_file():
            raise CheckpointError(
                f"{path} not found: clone the study's repository, give its folder"
            )
        state = torch.load(path, map_location="cpu", weights_only=True)  # it saved CUDA tensors
        rename = {"embed.": "embedding.", prefix: "rnn.", "fc.": "fc."}
        ours = {}
        for key, value in state.items():
            old = next((p for p in rename if key.startswith(p)), None)
            if old is None:
                raise CheckpointError(f"{path}: {key!r} is not a weight of the study's {kind}")
            ours[rename[old] + key[len(old) :]] = value
        rows, hidden = state["embed.weight"].shape
        if rows != len(vocab):
            why = f"{rows} embedding rows, but {text} has {len(vocab)} distinct characters"
            raise CheckpointError(f"{path}: {why}")
        layers = sum(k.startswith(f"{prefix}weight_ih_l") for k in state)
        model = build_model(dict(kind=kind, vocab_size=rows, hidden_size=hidden, num_layers=layers))
        model.load_state_dict(ours)  # strict: every weight of the study's model, and only those
        written.append(out / f"{kind}.pt")
        save_checkpoint(written[-1], model, vocab, reference=name)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description="Print what a checkpoint holds.")
    parser.add_argument("checkpoint", nargs="?", help="path to a .pt file written by main.py")
    parser.add_argument(
        "--from-reference",
        type=Path,
        metavar="DIR",
        help="convert the study's own weights in DIR (a clone of its "
        "repository) into checkpoints of this project",
    )
    parser.add_argument(
        "--text",
        type=Path,
        help="the study's file, for its vocabulary (default: "
        "DIR/shakespeare_train.txt, else data/shakespeare_train.txt)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("checkpoints/reference"),
        help="where --from-reference writes rnn.pt and lstm.pt (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.from_reference is not None:
        candidates = [
            args.from_reference / "shakespeare_train.txt",
            Path("data/shakespeare_train.txt"),
        ]
        text = args.text or next((p for p in candidates if p.is_file()), candidates[0])
        if not text.is_file():
            parser.exit(1, f"model.py: error: the study's file not found: {text} (give --text)\n")
        try:
            for path in from_reference(args.from_reference, text, args.out):
                print(f"wrote {path}")
        except CheckpointError as e:
            parser.exit(1, f"model.py: error: {e}\n")
        return
    if args.checkpoint is None:
        parser.error("give a checkpoint, or --from-reference DIR")
    try:
        model, ckpt = load_checkpoint(args.checkpoint)
    except CheckpointError as e:
        parser.exit(1, f"model.py: error: {e}\n")
    params = sum(p.numel() for p in model.parameters())
    best = ckpt["best_val_loss"]
    print(f"{ckpt['config']}  params {params:,}  epoch {ckpt['epoch']}  best_val_loss {best:.4f}")
    print(f"vocab {ckpt['vocab']!r}")


if __name__ == "__main__":
    main()
