"""Render the README's tables from the files the runs wrote; nothing in them is typed by hand.

    python results/render.py            # rewrite the marked blocks of README.md
    python results/render.py --check    # exit 1 if README.md is not what the files say

A block is the text between `<!-- begin NAME -->` and `<!-- end NAME -->` in README.md.
"""
import argparse
import json
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The reference study's reported numbers (its README), for comparison only.
REFERENCE = {"rnn": dict(train_loss=1.4140, val_loss=1.5644, train_acc=0.5691, val_acc=0.5355),
             "lstm": dict(train_loss=1.5952, val_loss=1.6645, train_acc=0.5282, val_acc=0.5138)}


def load(path) -> dict:
    return json.loads((ROOT / path).read_text())


def default_run() -> str:
    m = load("results/runs/default-seed0.json")
    lines = ["| model | epoch | train loss | train acc | val loss | val acc | val loss, 30 chars fed first |",
             "|---|---|---|---|---|---|---|"]
    for kind, r in m["models"].items():
        best, last, ev = r["best"], r["history"][-1], r["evaluation"]
        ref = REFERENCE[kind]
        lines += [f"| {kind.upper()} best (ours) | {best['epoch']} | {best['train_loss']:.4f} | {best['train_acc']:.2%} | "
                  f"**{best['val_loss']:.4f}** | {best['val_acc']:.2%} | {ev['val_context_loss']:.4f} |",
                  f"| {kind.upper()} final (ours) | {last['epoch']} | {last['train_loss']:.4f} | {last['train_acc']:.2%} | "
                  f"{last['val_loss']:.4f} | {last['val_acc']:.2%} | |",
                  f"| {kind.upper()} reference study | 20 | {ref['train_loss']:.4f} | {ref['train_acc']:.2%} | "
                  f"{ref['val_loss']:.4f} | {ref['val_acc']:.2%} | |"]
    walls = ", ".join(f"{k.upper()} {r['history'][-1]['wall_s']:.0f} s" for k, r in m["models"].items())
    lines += ["", f"Command: `{m['command']}`; wall time {m['wall_s'] / 60:.1f} min in all (training and "
              f"validation: {walls}) on {m['device']} with {m['threads']} threads, torch {m['torch']}. "
              f"Corpus sha256 `{m['corpus']['sha256'][:16]}...`, {m['corpus']['chars']:,} characters, "
              f"vocabulary {m['corpus']['vocab_size']}."]
    return "\n".join(lines)


def samples() -> str:
    records = load("results/samples.json")
    temps = sorted({r["temperature"] for r in records})
    out = [f"`{records[0]['command']}` (checkpoint `{records[0]['checkpoint']}`, seed {records[0]['seed']}):"
           if "command" in records[0] else ""]
    for t in temps:
        out += ["", f"**T = {t:g}**", "", "```text"]
        out += ["\n".join(r["text"].splitlines()) + "\n" for r in records if r["temperature"] == t]
        out[-1] = out[-1].rstrip("\n")
        out += ["```"]
    return "\n".join(out).strip()


def temperature() -> str:
    s = load("results/temperature.json")
    lines = [f"{s['num_samples']} samples x {s['length']} characters per T, seed {s['seed']}, checkpoint "
             f"`{s['checkpoint']}`:", "",
             "| T | NLL at T=1 (nats/char) | words found in training text | distinct words | entropy (nats/step) |",
             "|---|---|---|---|---|"]
    for r in s["per_temperature"]:
        lines.append(f"| {r['temperature']:g} | {r['nll_at_t1']:.3f} | {r['known_word_share']:.1%} | "
                     f"{r['distinct_word_share']:.1%} | {r['entropy']:.3f} |")
    bug = s["reference_sampler"]
    lines += ["", f"First generated character = {bug['last_char']!r} (the vocabulary's last), "
              f"{bug['samples_per_prompt']:,} draws per prompt at T = 1:", "",
              "| prompt | reference study's sampler | correct sampler |", "|---|---|---|"]
    lines += [f"| `{p!r}` | {v['reference']:.1%} | {v['correct']:.1%} |" for p, v in bug["first_char_share"].items()]
    return "\n".join(lines)


def mean_std(values: list, fmt: str = ".4f") -> str:
    values = [v for v in values if v is not None]
    if len(values) < 2:
        return format(values[0], fmt) if values else "-"
    return f"{statistics.mean(values):{fmt}} ± {statistics.stdev(values):{fmt}}"


def runs(recipe: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((ROOT / "results" / "runs").glob(f"{recipe}-seed*.json"))]


def comparison() -> str:
    lines = ["| recipe | model | seeds | best val loss | val acc | epoch of best | val loss, 30 chars fed first | "
             "unseen plays loss | unseen acc | wall time (s) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for recipe in ("reference", "default", "context60"):
        ms = runs(recipe)
        for kind in ("rnn", "lstm"):
            rs = [m["models"][kind] for m in ms if kind in m["models"]]
            if not rs:
                continue
            ev = [r["evaluation"] for r in rs]
            lines.append(
                f"| {recipe} | {kind.upper()} | {len(rs)} | {mean_std([r['best']['val_loss'] for r in rs])} | "
                f"{mean_std([100 * r['best']['val_acc'] for r in rs], '.2f')}% | "
                f"{mean_std([r['best']['epoch'] for r in rs], '.1f')} | {mean_std([e['val_context_loss'] for e in ev])} | "
                f"{mean_std([e.get('unseen_loss') for e in ev])} | {mean_std([100 * e['unseen_acc'] for e in ev if 'unseen_acc' in e], '.2f')}% | "
                f"{mean_std([r['history'][-1]['wall_s'] for r in rs], '.0f')} |")
    walls = {recipe: [m["wall_s"] for m in runs(recipe)] for recipe in ("reference", "default")}
    lines += ["", f"Whole run, both models, start to end: reference preset {mean_std(walls['reference'], '.0f')} s, "
              f"default {mean_std(walls['default'], '.0f')} s, a ratio of "
              f"{statistics.mean(walls['default']) / statistics.mean(walls['reference']):.2f}."]
    commands = sorted({m["command"].replace(f"--seed {m['settings']['seed']}", "--seed S") for r in
                       ("reference", "default", "context60") for m in runs(r)})
    notes = ["", "Commands (S = seed; all on the reference file; the one without `--seed` is the committed run, seed 0):",
             ""] + [f"- `{c}`" for c in commands]
    notes += ["", "Unseen-play scores at K = 60 use the chunks whose 60-character burn-in also holds no unknown "
              "character, a slightly smaller set than at K = 0."]
    return "\n".join(lines + notes)


def baseline() -> str:
    b = load("results/baseline.json")
    lines = [f"`{b['command']}`: {b['val_chunks']:,} validation chunks, {b['unseen_chunks']:,} unseen-play chunks.", "",
             "| n-gram order | KN, one discount: val loss | unseen loss | modified KN (3 discounts): val loss | unseen loss |",
             "|---|---|---|---|---|"]
    rows = {(r["order"], r["discounts"]): r for r in b["results"]}
    for order in sorted({o for o, _ in rows}):
        one, three = rows.get((order, 1), {}), rows.get((order, 3), {})
        cell = lambda r, k: f"{r[k]:.4f}" if k in r else "-"
        lines.append(f"| {order} | {cell(one, 'val_loss')} | {cell(one, 'unseen_loss')} | "
                     f"{cell(three, 'val_loss')} | {cell(three, 'unseen_loss')} |")
    fed = load("results/baseline-context60.json")
    by = {(r["order"], r["discounts"]): r for r in fed["results"]}
    for order in sorted({o for o, _ in by}):
        one, three = by.get((order, 1), {}), by.get((order, 3), {})
        lines.append(f"| {order}, fed the {fed['context']} preceding characters | {cell(one, 'val_loss')} | "
                     f"{cell(one, 'unseen_loss')} | {cell(three, 'val_loss')} | {cell(three, 'unseen_loss')} |")
    lines += ["", f"The last rows: `{fed['command']}`, the same counts scored with each chunk's "
              f"{fed['context']} preceding characters available, as `main.py --context {fed['context']}` gives the networks "
              f"({fed['unseen_chunks']:,} unseen-play chunks: those whose burn-in holds no unknown character either)."]
    return "\n".join(lines)


def sweep() -> str:
    lines = ["| run | model | seed | epochs | batch | lr | Adam beta2 | warm-up steps | dropout | shifted chunks | "
             "weight average | init gain | best epoch | best val loss |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for path in sorted((ROOT / "results" / "sweep").glob("*.json")):
        m = json.loads(path.read_text())
        s = m["settings"]
        for kind, r in m["models"].items():  # per-model values: set by a flag, or the model's own default
            r = dict(beta2=0.999, ema=0.0, init_gain=1.0) | r  # runs from before --beta2 / --ema / --init-gain
            get = lambda key: s[key] if s.get(key) is not None else r[key]
            lines.append(f"| `{path.stem}` | {kind.upper()} | {s['seed']} | {get('epochs')} | {get('batch_size')} | "
                         f"{get('lr'):g} | {get('beta2'):g} | {get('warmup_steps')} | {get('dropout'):g} | {'yes' if s['shift'] else 'no'} | "
                         f"{'EMA ' + format(get('ema'), 'g') if get('ema') else 'none'} | {get('init_gain'):g} | "
                         f"{r['best']['epoch']} | {r['best']['val_loss']:.4f} |")
    return "\n".join(lines)


def bench() -> str:
    b = load("results/bench.json")
    mc = b["machine"]
    seeds = " ".join(map(str, b["time_to_quality"]["rnn"]["seeds"])) if "time_to_quality_recorded" in b else ""
    command = "python bench.py" + (f" --seeds {seeds}" if seeds not in ("", "0") else "")
    lines = [f"`{command}` on {mc['cpu']}, {mc['threads']} threads, torch {mc['torch']}:", "",
             "| | RNN | LSTM |", "|---|---|---|"]
    row = lambda name, f: lines.append(f"| {name} | {f('rnn')} | {f('lstm')} |")
    t, s = b["throughput"], b["sampling"]
    row("training, reference step (chars/s, batch 64)", lambda k: f"{t[k]['reference_chars_s']:,}")
    row("training, our step (chars/s, batch 64)", lambda k: f"{t[k]['ours_chars_s']:,}")
    span = lambda r, f: f" ({f(r[0])}-{f(r[1])} over rounds)" if r else ""
    row("**throughput ratio**", lambda k: f"**{b['throughput_ratio'][k]:.2f}x**"
        + span(t[k].get("ratio_range"), lambda x: f"{x:.2f}"))
    row("our default recipe's step (its batch and dropout): batch, chars/s", lambda k: f"{t[k]['default_batch']}, "
        f"{t[k]['ours_default_batch_chars_s']:,}")
    row("optimizer steps/s: reference (batch 64) / ours (default batch)",
        lambda k: f"{t[k]['reference_steps_s']:.1f} / {t[k]['ours_default_batch_steps_s']:.1f}")
    row("sgemm rate on the step's shapes (GFLOP/s)", lambda k: f"{t[k]['sgemm_gflops']:.0f}")
    row("our step's FLOP rate (GFLOP/s)", lambda k: f"{t[k]['achieved_gflops']:.1f}")
    row("**fraction of sgemm rate**", lambda k: f"**{b['sgemm_fraction'][k]:.0%}**"
        + span(t[k].get("sgemm_fraction_range"), lambda x: f"{x:.0%}"))
    fmt = lambda t: "never" if t is None else f"{t:.0f}"
    if "time_to_quality_recorded" in b and "time_to_quality" in b:  # side by side in bench.py's process
        q = b["time_to_quality"]
        pair = lambda k, key: "; ".join(f"{fmt(r[key]['reference_s'])} / {fmt(r[key]['default_s'])}" for r in q[k]["runs"])
        row(f"time to val loss 1.60, side by side (s, seeds {seeds}): reference / default", lambda k: pair(k, "1.60"))
        row(f"time to the reference run's best, side by side (s, seeds {seeds}): reference / default",
            lambda k: pair(k, "reference_best"))
        row("the reference run's best val loss", lambda k: ", ".join(f"{r['reference_best_loss']:.4f}" for r in q[k]["runs"]))
        row("**time-to-quality ratio** (side by side, to the reference's best; median over seeds)",
            lambda k: f"**{b['time_to_quality_ratio'][k]:.1f}x** ("
            + ", ".join(f"{r['reference_best']['ratio']:.2f}" for r in q[k]["runs"]) + ")")
    rec = b["time_to_quality_recorded"] if "time_to_quality_recorded" in b else b["time_to_quality"]
    many = lambda times: " ".join(map(fmt, times))
    row("time to val loss 1.60, recorded by the seed runs (s, seeds 0 1 2): reference preset / default",
        lambda k: f"{many(rec[k]['1.60']['reference_s'])} / {many(rec[k]['1.60']['default_s'])}")
    row("time to each reference seed's best, recorded (s, seeds 0 1 2): reference preset / default",
        lambda k: f"{many(rec[k]['reference_best']['reference_s'])} / {many(rec[k]['reference_best']['default_s'])}")
    row("time-to-quality ratio from the recorded runs (median over seeds)",
        lambda k: f"{rec[k]['reference_best']['ratio']:.1f}x")
    w = b.get("whole_run", {})
    if "rnn" in w:  # side by side in bench.py's process
        row("main.py's loop, an epoch of each in turn (s per epoch): reference preset / default",
            lambda k: f"{w[k]['reference']['epoch_s']:.2f} / {w[k]['default']['epoch_s']:.2f}")
        row("epochs: reference preset / default", lambda k: f"{w[k]['reference']['epochs']} / {w[k]['default']['epochs']}")
    row("peak resident memory, one training epoch (MB)", lambda k: f"{b['peak_memory_mb'][k]:.0f}")
    row("sampling, reference loop (chars/s, 1 sample)", lambda k: f"{s[k]['reference_batch1']:,}")
    row("sampling, ours (chars/s, batch 1 / batch 25)", lambda k: f"{s[k]['ours_batch1']:,} / {s[k]['ours_batch25']:,}")
    row("**sampling ratio** (batch 1 / batch 25)", lambda k: f"**{s[k]['ratio_batch1']:.1f}x / {s[k]['ratio_batch25']:.0f}x**")
    if "rnn" in w:
        lines += ["", f"Whole run, both models: {w['default_s']:.0f} s of epochs for the default recipe against "
                      f"{w['reference_s']:.0f} s for `--preset reference`, **{b['whole_run_ratio']:.2f}x** "
                      f"(median epoch times the epoch count, summed)."]
    return "\n".join(lines)


BLOCKS = {"default-run": default_run, "samples": samples, "temperature": temperature, "comparison": comparison,
          "baseline": baseline, "sweep": sweep, "bench": bench}


def draw_seeds(path: Path) -> None:
    """figures/seeds.png: validation loss per epoch, mean over seeds with a band of +- one std."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, kind in enumerate(("rnn", "lstm")):
        for recipe, style in (("reference", "--"), ("default", "-"), ("context60", ":")):
            curves = [[r["val_loss"] for r in m["models"][kind]["history"]] for m in runs(recipe) if kind in m["models"]]
            if not curves:
                continue
            n = min(map(len, curves))  # early-stopped seeds end sooner: average the common epochs
            a = np.array([c[:n] for c in curves])
            epochs = np.arange(1, n + 1)
            ax.plot(epochs, a.mean(0), style, color=f"C{i}", label=f"{kind.upper()} {recipe} ({len(curves)} seeds)")
            ax.fill_between(epochs, a.mean(0) - a.std(0, ddof=1), a.mean(0) + a.std(0, ddof=1), color=f"C{i}", alpha=0.2)
    b = load("results/baseline.json")["results"]
    best = min(b, key=lambda r: r["val_loss"])
    ax.axhline(best["val_loss"], color="k", lw=0.8, label=f"KN {best['order']}-gram ({best['discounts']} discounts)")
    ax.set(xlabel="epoch", ylabel="validation loss (nats/char)", ylim=(1.45, 1.9),
           title="validation loss, mean ± std over seeds (reference split)")
    ax.grid(alpha=0.3), ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def render(readme: str) -> str:
    def block(match):
        name = match.group(1)
        return f"<!-- begin {name} -->\n{BLOCKS[name]()}\n<!-- end {name} -->"
    return re.sub(r"<!-- begin (\S+) -->\n.*?<!-- end \1 -->", block, readme, flags=re.S)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Render README.md's tables from the committed results.")
    parser.add_argument("--check", action="store_true", help="fail if README.md is out of date")
    args = parser.parse_args(argv)
    path = ROOT / "README.md"
    old = path.read_text()
    new = render(old)
    if args.check:
        if new != old:
            sys.exit("README.md is out of date: run python results/render.py")
        return
    path.write_text(new)
    draw_seeds(ROOT / "figures" / "seeds.png")


if __name__ == "__main__":
    main()
