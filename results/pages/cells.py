"""Inside the networks (results/cells.json, written by `python -m results.cells`): the units that
track the position in a line and a speaker's header, against untrained networks, and whether the
network uses its line unit."""

from results.pages.common import load, prose, table


def unit(u: dict) -> str:
    return f"layer {u['layer'] + 1} {u['state']}[{u['unit']}]"


def cells_table() -> str:
    c = load("results/cells.json")
    rows = []
    for kind, r in c["models"].items():
        line, head = r["best"]["line"], r["best"]["header"]
        controls = r["controls"]
        rows.append([
            kind.upper(), unit(line), f"{line['corr']:+.2f}",
            f"{max(abs(x['line']['corr']) for x in controls):.2f}", unit(head),
            f"{abs(head['auroc'] - 0.5) + 0.5:.3f}",
            f"{max(abs(x['header']['auroc'] - 0.5) for x in controls) + 0.5:.3f}",
            f"{r['causal']['top']['newline']:+.3f} / {r['causal']['top']['other']:+.3f}",
            f"{r['causal']['random']['newline']:+.3f} / {r['causal']['random']['other']:+.3f}",
        ])  # fmt: skip
    header = ["model", "line unit", "r", "untrained: best abs(r)", "header unit", "AUROC, either way",
              "untrained: best", "held at its mean: loss change on newlines / others",
              "a random unit of its layer, held"]  # fmt: skip
    return table(header, rows) + "\n\n" + prose(
        """`{command}`: the first {chars:,} characters of the test plays ({header:,} of them in
        speakers' header lines), read in order with the state carried; untrained: the best of
        {n} random initialisations of the same shape (AUROC either way: |AUROC - 0.5| + 0.5, a unit
        low inside headers counts as well as one high). Loss changes in nats/char.""",
        command=c["command"].strip(), chars=c["chars"], header=c["header_chars"],
        n=len(next(iter(c["models"].values()))["controls"]),
    )  # fmt: skip


def cells_finding() -> str:
    c = load("results/cells.json")
    lstm, rnn = c["models"]["lstm"], c["models"]["rnn"]
    chance = lambda r: max(abs(x["line"]["corr"]) for x in r["controls"])
    held = lstm["causal"]["top"]
    return "- " + prose(
        """**An LSTM cell counts the characters of a line{uses}:** {lunit} correlates {lr:+.2f} with
        them (untrained LSTMs' best {lc:.2f}; the RNN's best unit {rr:+.2f}, untrained {rc:.2f});
        held at its mean it costs {dn:+.2f} nats/char on newline targets, {do:+.3f} on others (a
        random unit: {rn:+.3f}). [Inside the networks](results/README.md#inside-the-networks)""",
        lunit=unit(lstm["best"]["line"]), lr=lstm["best"]["line"]["corr"], lc=chance(lstm),
        rr=rnn["best"]["line"]["corr"], rc=chance(rnn), dn=lstm["causal"]["top"]["newline"],
        do=lstm["causal"]["top"]["other"], rn=lstm["causal"]["random"]["newline"],
        uses=", and the LSTM uses it" if held["newline"] > 10 * abs(held["other"]) else "",
    ).replace("\n", "\n  ")  # fmt: skip


BLOCKS = {"cells": cells_table, "cells-finding": cells_finding}
