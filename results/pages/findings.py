"""The README's findings: one sentence each, every number from the files the other pages read."""

from results.pages import reading
from results.pages.common import KINDS, load, mean, mean_std, per_seed, prose
from results.pages.ngram import ngram
from results.pages.seeds import REFERENCE
from trainer import STUDY

FINDINGS = [
    """**The study's ranking reproduces under its own settings:** RNN {ref_rnn}, LSTM {ref_lstm} on
    validation (it reported {study_rnn:.4f} and {study_lstm:.4f}). {stopped}
    [Comparison](results/README.md#rnn-or-lstm)""",
    """**Trained well, the {val_winner} wins on the two plays:** LSTM {lstm}, RNN {rnn}{every}, and
    on the test plays the {unseen_winner} is ahead (RNN {unseen_rnn}, LSTM {unseen_lstm}). The
    recipe moves the LSTM by {gain:.2f} nats/char, {more} than the {gap:.3f} between the
    architectures. [Recipe sweep](results/README.md#how-the-default-recipe-was-chosen)""",
    """**Against the count model:** the modified Kneser-Ney 6-gram scores {ngram_val:.4f} on
    validation and {ngram_test:.4f} on the test plays, the default LSTM {below_unseen} it
    ({lstm_test_mean:.4f}); mixed with it (weight chosen on the dev plays), RNN {mix_rnn:.4f}, LSTM
    {mix_lstm:.4f}. [Dev and test plays](results/README.md#dev-and-test-plays)""",
    """**At the LSTM's parameter budget (hidden 256) the RNN {budget}** on the test plays; the LSTM
    adapting as it reads scores {lstm_dynamic}, the adaptive 6-gram {cache:.4f}.
    [Reading in order](results/README.md#reading-in-order)""",
    """**The study's samples began with 'z' because of its sampler, not its model:** re-created on
    our checkpoint, its sampler starts with 'z' {bug_low:.0%}-{bug_high:.0%} of the time, the
    correct one {correct:.0%}. Our recipe reaches the study's best loss {speed_rnn:.1f}x (RNN) and
    {speed_lstm:.1f}x (LSTM) sooner. [Sampling](results/README.md#sampling),
    [speed](results/README.md#speed)""",
]


def findings() -> str:
    seeds = lambda recipe, key: {k: per_seed(recipe, k, key) for k in KINDS}
    ref, dflt = seeds("reference", "val"), seeds("default", "val")
    unseen = seeds("default", "test")
    winner = lambda d: "LSTM" if mean(d["lstm"]) < mean(d["rnn"]) else "RNN"
    val_winner, unseen_winner = winner(dflt), winner(unseen)
    every = all((a < b) == (val_winner == "LSTM") for a, b in zip(dflt["lstm"], dflt["rnn"]))
    gain = mean(ref["lstm"]) - mean(dflt["lstm"])
    gap = abs(mean(dflt["lstm"]) - mean(dflt["rnn"]))
    g = ngram()
    bug = load("results/temperature.json")["reference_sampler"]["first_char_share"].values()
    speed = load("results/bench.json")["time_to_quality_ratio"]
    mix = load("results/mixture.json")["mixture"]
    stopped = all(e == STUDY.epochs for e in per_seed("reference", "lstm", "epoch"))
    values = dict(
        ref_rnn=mean_std(ref["rnn"]), ref_lstm=mean_std(ref["lstm"]),
        study_rnn=REFERENCE["rnn"]["val_loss"], study_lstm=REFERENCE["lstm"]["val_loss"],
        stopped="Every LSTM seed has its best at the last epoch: it was stopped while still "
        "learning." if stopped else "",
        val_winner=val_winner, lstm=mean_std(dflt["lstm"]), rnn=mean_std(dflt["rnn"]),
        every=", in every seed" if every else "", gain=gain, gap=gap,
        more="more" if gain > gap else "less", unseen_winner=unseen_winner,
        unseen_rnn=mean_std(unseen["rnn"]), unseen_lstm=mean_std(unseen["lstm"]),
        ngram_val=g["val_loss"], ngram_test=g["test_loss"],
        lstm_test_mean=mean(unseen["lstm"]), seeds=len(unseen["lstm"]),
        mix_rnn=mix["rnn"]["test_loss"], mix_lstm=mix["lstm"]["test_loss"],
        below_val="below" if mean(dflt["lstm"]) < g["val_loss"] else "above",
        below_unseen="below" if mean(unseen["lstm"]) < g["test_loss"] else "above",
        bug_low=min(v["reference"] for v in bug), bug_high=max(v["reference"] for v in bug),
        correct=max(v["correct"] for v in bug), speed_rnn=speed["rnn"], speed_lstm=speed["lstm"],
    ) | reading.findings()  # fmt: skip
    return "\n".join(
        "- " + prose(template, **values).replace("\n", "\n  ") for template in FINDINGS
    )


BLOCKS = {"findings": findings}
