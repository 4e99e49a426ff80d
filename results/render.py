"""Render the tables, figures and sentences of README.md and results/README.md from the files the
runs wrote; nothing in them is typed by hand.

    python -m results.render            # rewrite both pages' marked blocks, redraw the figures
    python -m results.render --check    # exit 1 if either page is not what the files say

A block is the text between `<!-- begin NAME -->` and `<!-- end NAME -->`; each experiment's blocks
live in its own module of results/pages/, which reads only the files that experiment wrote.
"""

import argparse
import re
import sys

from results.pages import BLOCKS, draw
from results.pages.common import path

PAGES = ("README.md", "results/README.md")
BLOCK = re.compile(r"<!-- begin (\S+) -->\n.*?<!-- end \1 -->", flags=re.S)


def render(page: str) -> str:
    """`page` with every marked block replaced by what its function renders now."""

    def block(match):
        name = match.group(1)
        return f"<!-- begin {name} -->\n{BLOCKS[name]()}\n<!-- end {name} -->"

    return BLOCK.sub(block, page)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Render README.md and results/README.md.")
    parser.add_argument("--check", action="store_true", help="fail if either page is out of date")
    args = parser.parse_args(argv)
    stale = []
    for name in PAGES:
        page = path(name)
        old = page.read_text()
        new = render(old)
        if args.check and new != old:
            stale.append(name)
        elif not args.check:
            page.write_text(new)
    if stale:
        sys.exit(f"{', '.join(stale)} out of date: run python -m results.render")
    if not args.check:
        draw()


if __name__ == "__main__":
    main()
