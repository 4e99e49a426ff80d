"""The blocks of README.md and results/README.md, one module per experiment; render.py fills them.

BLOCKS (name -> function returning the block's Markdown) is the one list of blocks; tests iterate it.
"""

from results.pages import (
    cells,
    findings,
    ngram,
    peer,
    reading,
    sampling,
    scale,
    scale_checks,
    seeds,
    small,
    speed,
    sweep,
)

MODULES = (
    seeds,
    ngram,
    reading,
    peer,
    sweep,
    small,
    sampling,
    speed,
    scale,
    scale_checks,
    cells,
    findings,
)
BLOCKS = {name: render for module in MODULES for name, render in module.BLOCKS.items()}


def draw() -> None:
    """The figures drawn from results rather than by a run."""
    seeds.draw(reading.rnn256())
    scale.draw()
