"""The scale study's figures: loss against parameters (scale.png), each cell's gap to the LSTM
(scale_gap.png) and the loss by position within the chunk (scale_position.png). Drawn by
`python -m results.render` from results/scale/ and results/scale_reads.json."""

import numpy as np

from figures.draw import pyplot


def budget_ticks(ax, params) -> None:
    """A log axis of parameter counts ticked once per budget (counts within 5% are one budget), at
    its smallest count, as 38K, 544K, 2.1M."""
    ticks = []
    for p in sorted(params):
        if not ticks or p > 1.05 * ticks[-1]:
            ticks.append(p)
    ax.set_xticks(ticks, [f"{p / 1e6:.1f}M" if p >= 1e6 else f"{p / 1e3:.0f}K" for p in ticks])
    ax.set_xticks([], minor=True)


def draw_scale(points: dict, path) -> None:
    """scale.png: test-plays loss against parameters (log axis), one panel per protocol, a colour
    per cell and a line style per share of the training text, bars of one std over seeds.
    points: {(protocol, kind, share): [(params, mean, std), ...]}."""
    plt = pyplot()
    protocols = sorted({p for p, _, _ in points})
    fig, axes = plt.subplots(1, len(protocols), figsize=(6 * len(protocols), 4.5), sharey=True)
    colours = {"rnn": "C0", "lstm": "C1", "gru": "C2"}
    styles = {0.125: ":", 0.25: "-.", 0.5: "--", 1.0: "-"}
    for ax, protocol in zip(np.atleast_1d(axes), protocols):
        for (p, kind, share), rows in sorted(points.items()):
            if p != protocol:
                continue
            x, y, e = zip(*sorted(rows))
            label = f"{kind.upper()}, {share:g} of the text"
            ax.errorbar(x, y, e, fmt=styles[share], marker=".", color=colours[kind], label=label)
        ax.set(xscale="log", xlabel="parameters", title=f"test plays, {protocol}")
        budget_ticks(ax, [x for rows in points.values() for x, _, _ in rows])
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set(ylabel="cross-entropy (nats/char)")
    handles, labels = np.atleast_1d(axes)[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8)
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def draw_scale_gap(points: dict, path) -> None:
    """scale_gap.png: each cell's loss minus the LSTM's at the same budget, share and seed, against
    parameters; a panel per score (validation, test plays by protocol) and cell, a line per share,
    bars of one std over seeds (below zero: the cell beats the LSTM).
    points: {(score, kind, share): [(params, mean, std), ...]}."""
    plt = pyplot()
    protocols = sorted({p for p, _, _ in points})
    kinds = sorted({k for _, k, _ in points}, reverse=True)
    fig, axes = plt.subplots(len(protocols), len(kinds), figsize=(5 * len(kinds), 3.4 * len(protocols)),
                             sharex=True, sharey=True, squeeze=False)  # fmt: skip
    for (protocol, kind, share), rows in sorted(points.items()):
        ax = axes[protocols.index(protocol), kinds.index(kind)]
        x, y, e = zip(*sorted(rows))
        colour = {0.125: "C4", 0.25: "C2", 0.5: "C1", 1.0: "C0"}[share]
        ax.errorbar(
            x, y, e, marker="o", ms=4, capsize=3, color=colour, label=f"{share:g} of the text"
        )
        ax.axhline(0, color="k", lw=0.8)
        where = "validation" if protocol == "validation" else f"test plays, {protocol}"
        ax.set(xscale="log", title=f"{kind.upper()} - LSTM, {where}")
        budget_ticks(ax, [x for rows in points.values() for x, _, _ in rows])
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set(xlabel="parameters")
    for ax in axes[:, 0]:
        ax.set(ylabel="loss difference (nats/char)")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def draw_positions(curves: dict, path) -> None:
    """scale_position.png: test-plays loss at each position within the 30-character chunk, from a
    zero state (solid) and with the state carried (dashed), a colour per cell (left); each cell's
    difference from the LSTM (right). curves: {(kind, protocol): [loss at 1, 2, ...]}."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    colours, styles = {"rnn": "C0", "lstm": "C1", "gru": "C2"}, {"chunks": "-", "stateful": "--"}
    names = {"chunks": "zero state", "stateful": "state carried"}
    for (kind, protocol), y in sorted(curves.items()):
        x = np.arange(1, len(y) + 1)
        label = f"{kind.upper()}, {names[protocol]}"
        left.plot(x, y, styles[protocol], color=colours[kind], label=label)
        if kind != "lstm":
            gap = np.array(y) - np.array(curves[("lstm", protocol)])
            right.plot(
                x,
                gap,
                styles[protocol],
                color=colours[kind],
                label=f"{kind.upper()} - LSTM, {names[protocol]}",
            )
    right.axhline(0, color="k", lw=0.8)
    left.set(
        yscale="log", ylabel="cross-entropy (nats/char)", title="loss by position in the chunk"
    )
    right.set(ylabel="loss difference (nats/char)", title="difference from the LSTM")
    for ax in (left, right):
        ax.set(xlabel="position in the 30-character chunk")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
