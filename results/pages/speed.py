"""Speed against the reference study's loops (results/bench.json, written by bench.py)."""

from results.pages.common import load, table
from results.scale import budget_name


def bench() -> str:
    b = load("results/bench.json")
    mc, w = b["machine"], b["whole_run"]
    seeds = " ".join(map(str, b["time_to_quality"]["rnn"]["seeds"]))
    rows = step_rows(b) | quality_rows(b) | sampling_rows(b)
    return "\n".join([
        f"`python bench.py --seeds {seeds}` on {mc['cpu']}, {mc['threads']} threads, torch "
        f"{mc['torch']}:", "",
        table(["", "RNN", "LSTM"], [[name, f("rnn"), f("lstm")] for name, f in rows.items()]), "",
        f"Whole run, both models: {w['default_s']:.0f} s of epochs for the default recipe against "
        f"{w['reference_s']:.0f} s for `--preset reference`, **{b['whole_run_ratio']:.2f}x** "
        "(median epoch time times the epoch count, summed over the models).",
    ])  # fmt: skip


def span(r: list, f) -> str:
    return f" ({f(r[0])}-{f(r[1])} over rounds)"


def step_rows(b: dict) -> dict:
    """The training step's rows: label -> the cell of a model."""
    t = b["throughput"]
    return {
        "training, reference step (chars/s, batch 64)": lambda k: f"{t[k]['reference_chars_s']:,}",
        "training, our step (chars/s, batch 64)": lambda k: f"{t[k]['ours_chars_s']:,}",
        "**throughput ratio**": lambda k: (
            f"**{b['throughput_ratio'][k]:.2f}x**" + span(t[k]["ratio_range"], lambda x: f"{x:.2f}")
        ),
        "our default recipe's step: batch, chars/s": lambda k: (
            f"{t[k]['default_batch']}, {t[k]['ours_default_batch_chars_s']:,}"
        ),
        "optimizer steps/s: reference (batch 64) / ours (default batch)": lambda k: (
            f"{t[k]['reference_steps_s']:.1f} / {t[k]['ours_default_batch_steps_s']:.1f}"
        ),
        "sgemm rate on the step's shapes (GFLOP/s)": lambda k: f"{t[k]['sgemm_gflops']:.0f}",
        "our step's FLOP rate (GFLOP/s)": lambda k: f"{t[k]['achieved_gflops']:.1f}",
        "**fraction of sgemm rate**": lambda k: (
            f"**{b['sgemm_fraction'][k]:.0%}**"
            + span(t[k]["sgemm_fraction_range"], lambda x: f"{x:.0%}")
        ),
    }


def quality_rows(b: dict) -> dict:
    """Time to a validation loss and the whole run's rows."""
    q, w = b["time_to_quality"], b["whole_run"]
    seeds = " ".join(map(str, q["rnn"]["seeds"]))
    never = lambda x: "never" if x is None else f"{x:.0f}"
    pair = lambda k, key: "; ".join(
        f"{never(r[key]['reference_s'])} / {never(r[key]['default_s'])}" for r in q[k]["runs"]
    )
    return {
        f"time to val loss 1.60 (s, seeds {seeds}): reference / default": lambda k: pair(k, "1.60"),
        f"time to the reference run's best (s, seeds {seeds}): reference / default": lambda k: pair(
            k, "reference_best"
        ),
        "the reference run's best val loss": lambda k: ", ".join(
            f"{r['reference_best_loss']:.4f}" for r in q[k]["runs"]
        ),
        "**time-to-quality ratio** (to the reference's best; median over seeds)": lambda k: (
            f"**{b['time_to_quality_ratio'][k]:.1f}x** ("
            + ", ".join(f"{r['reference_best']['ratio']:.2f}" for r in q[k]["runs"])
            + ")"
        ),
        "main.py's loop, an epoch of each in turn (s): reference preset / default": lambda k: (
            f"{w[k]['reference']['epoch_s']:.2f} / {w[k]['default']['epoch_s']:.2f}"
        ),
        "epochs: reference preset / default": lambda k: (
            f"{w[k]['reference']['epochs']} / {w[k]['default']['epochs']}"
        ),
        "peak resident memory, one training epoch (MB)": lambda k: f"{b['peak_memory_mb'][k]:.0f}",
    }


def sampling_rows(b: dict) -> dict:
    s = b["sampling"]
    return {
        "sampling, reference loop (chars/s, 1 sample)": lambda k: f"{s[k]['reference_batch1']:,}",
        "sampling, ours (chars/s, batch 1 / batch 25)": lambda k: (
            f"{s[k]['ours_batch1']:,} / {s[k]['ours_batch25']:,}"
        ),
        "**sampling ratio** (batch 1 / batch 25)": lambda k: (
            f"**{s[k]['ratio_batch1']:.1f}x / {s[k]['ratio_batch25']:.0f}x**"
        ),
    }


def cells() -> str:
    """Each cell's step at every ladder budget, against the LSTM's, one table per thread count."""
    b = load("results/bench.json")
    c, rows = b["cell_step"], b["cells"]
    names = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
    ratio = lambda r: f"{r['median']:.2f}x ({r['min']:.2f}-{r['max']:.2f})"
    out = [
        f"Every cell's training step (main.py's loop: batch {c['batch']}, {c['seq_len']} characters, "
        f"{c['layers']} layers, dropout {c['dropout']}, fused Adam, the moving average) at each "
        "budget of the equal-parameter ladder, the three cells and sgemm on each one's shapes "
        "interleaved round by round; a ratio is the median of the per-round ratios of the cell's "
        "time to the LSTM's (their range in brackets), sampling at batch 1 (`python bench.py`):",
    ]  # fmt: skip
    for threads in sorted({r["threads"] for r in rows}):
        table_rows = []
        for r in (r for r in rows if r["threads"] == threads):
            cell = r["cells"]
            table_rows.append(
                [budget_name(r["budget"])]
                + [f"{cell['lstm']['step_ms']:.1f} ms"]
                + [ratio(cell[k]["step_ratio"]) for k in ("rnn", "gru")]
                + [" / ".join(f"{cell[k]['sgemm_fraction']['median']:.0%}" for k in names)]
                + [" / ".join(f"{cell[k]['sampling_chars_s']:,}" for k in names)]
            )
        header = ["params", "LSTM step", "RNN step / LSTM's", "GRU step / LSTM's"]
        header += ["share of sgemm: RNN / LSTM / GRU", "sampling chars/s: RNN / LSTM / GRU"]
        out += ["", f"{threads} thread{'s' if threads > 1 else ''}:", "", table(header, table_rows)]
    return "\n".join(out + ["", targets(rows)])


def targets(rows: list) -> str:
    """The two largest budgets against the targets: each step within 1.15x the LSTM's, and the
    LSTM's step at 60% of sgemm's rate on its shapes."""
    top = sorted({r["budget"] for r in rows})[-2:]
    at = lambda kind, key: ", ".join(
        f"{r['cells'][kind][key]['median']:.2f}" if key == "step_ratio"
        else f"{r['cells'][kind][key]['median']:.0%}"
        for budget in top for r in rows if r["budget"] == budget
    )  # fmt: skip
    order = ", ".join(
        f"{budget_name(r['budget'])} on {r['threads']}"
        for b in top
        for r in rows
        if r["budget"] == b
    )
    return (
        f"At the two largest budgets ({order} thread(s), in this order) the GRU's step is "
        f"{at('gru', 'step_ratio')} times the LSTM's and the RNN's {at('rnn', 'step_ratio')}, "
        f"against a target of 1.15; the LSTM's step runs at {at('lstm', 'sgemm_fraction')} of "
        "sgemm's rate on its own shapes, against a target of 60%. These are medians; the rounds' "
        "ranges in the tables are wide, so a difference of a few hundredths is within the noise."
    )


BLOCKS = {"bench": bench, "bench-cells": cells}
