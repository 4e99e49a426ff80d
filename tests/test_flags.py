"""Every flag the README names exists in the parser of the script it is named for."""

import re

import pytest
from conftest import ROOT

import baseline
import bench
import generate
import main

SCRIPTS = {"main.py": main, "generate.py": generate, "baseline.py": baseline, "bench.py": bench}


def readme_flags() -> dict:
    """script -> the flags the README's flag table names for it."""
    table = ROOT.joinpath("README.md").read_text().split("## Main flags", 1)[1].split("\n## ")[0]
    found = {}
    for line in table.splitlines():
        m = re.match(r"\| `(\w+\.py)` \| (.*) \|$", line)
        if m:
            found[m.group(1)] = set(re.findall(r"`(--[a-z][a-z-]*)", m.group(2)))
    return found


def test_every_flag_in_the_readme_exists(capsys):
    named = readme_flags()
    assert set(named) == set(SCRIPTS) and all(len(f) >= 3 for f in named.values())
    for name, script in SCRIPTS.items():
        with pytest.raises(SystemExit):
            script.get_args(["--help"])
        accepted = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", capsys.readouterr().out))
        assert named[name] <= accepted, (name, named[name] - accepted)
