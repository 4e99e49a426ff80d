"""Sampling: the committed samples (results/samples.json) and the temperature study with the
reference sampler's bug (results/temperature.json)."""

from results.pages.common import load, table


def samples() -> str:
    records = load("results/samples.json")
    first = records[0]
    out = [f"`{first['command']}` (checkpoint `{first['checkpoint']}`, seed {first['seed']}):"]
    for t in sorted({r["temperature"] for r in records}):
        texts = ["\n".join(r["text"].splitlines()) for r in records if r["temperature"] == t]
        out += ["", f"**T = {t:g}**", "", "```text", "\n\n".join(texts), "```"]
    return "\n".join(out)


def temperature() -> str:
    s = load("results/temperature.json")
    rows = [
        [f"{r['temperature']:g}", f"{r['nll_at_t1']:.3f}", f"{r['known_word_share']:.1%}",
         f"{r['distinct_word_share']:.1%}", f"{r['entropy']:.3f}"]
        for r in s["per_temperature"]
    ]  # fmt: skip
    header = ["T", "NLL at T=1 (nats/char)", "words found in training text", "distinct words",
              "entropy (nats/step)"]  # fmt: skip
    bug = s["reference_sampler"]
    shares = [
        [f"`{p!r}`", f"{v['reference']:.1%}", f"{v['correct']:.1%}"]
        for p, v in bug["first_char_share"].items()
    ]
    return "\n".join([
        f"`{s['command']}`: {s['num_samples']} samples x {s['length']} characters per T, seed "
        f"{s['seed']}, checkpoint `{s['checkpoint']}`:", "", table(header, rows), "",
        f"First generated character = {bug['last_char']!r} (the vocabulary's last), "
        f"{bug['samples_per_prompt']:,} draws per prompt at T = 1:", "",
        table(["prompt", "reference study's sampler", "correct sampler"], shares),
    ])  # fmt: skip


BLOCKS = {"samples": samples, "temperature": temperature}
