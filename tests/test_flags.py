"""Every flag the README's commands give a script exists in that script's parser."""

import re

import pytest
from conftest import ROOT

import baseline
import bench
import generate
import main

SCRIPTS = {"main.py": main, "generate.py": generate, "baseline.py": baseline, "bench.py": bench}


def readme_flags() -> dict:
    """script -> the flags the README's commands give it (`python SCRIPT ...`, in code blocks and
    inline code, up to the end of the command)."""
    found = {}
    for script, args in re.findall(
        r"python (\w+\.py)([^`\n#;&|]*)", ROOT.joinpath("README.md").read_text()
    ):
        found.setdefault(script, set()).update(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", args))
    return found


def test_every_flag_in_the_readme_exists(capsys):
    named = readme_flags()
    assert (
        set(named) <= set(SCRIPTS) and len(named["main.py"]) >= 3 and len(named["generate.py"]) >= 3
    )
    for name, script in SCRIPTS.items():
        if name not in named:
            continue
        with pytest.raises(SystemExit):
            script.get_args(["--help"])
        accepted = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", capsys.readouterr().out))
        assert named[name] <= accepted, (name, named[name] - accepted)
