"""One schema per kind of file: every run record under results/ has the keys main.py writes now, its
settings are exactly a Settings, and no result file holds a path of the machine that wrote it."""

import json
from dataclasses import asdict, fields

import pytest
from conftest import ROOT, make_text, train_args

import main
from trainer import Settings

RUNS = sorted(p for d in ("runs", "sweep", "scale") for p in (ROOT / "results" / d).glob("*.json"))
RESULTS = sorted((ROOT / "results").rglob("*.json"))
RETIRED = "retired_settings"  # values of flags main.py no longer has, kept by the migration
MACHINE_PATHS = ("/work/", "/root/", "/tmp/", "/home/")


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> tuple[dict, dict]:
    """What main.py writes now: a one-epoch run's metrics.json, and the same after --eval-only
    --rescore (which adds what rescoring writes)."""
    tmp = tmp_path_factory.mktemp("fresh")
    data, out = tmp / "tiny.txt", tmp / "run"
    data.write_text(make_text(600), encoding="utf-8")
    small = ("--hidden-size", 8, "--num-layers", 1, "--device", "cpu")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(main, "draw_figures", lambda *a, **k: None)  # figures are not the schema
        main.main(train_args(data, out, *small))
        trained = json.loads((out / "metrics.json").read_text())
        rescore = ["--eval-only", "--rescore", str(out / "metrics.json"), "--device", "cpu"]
        main.main(["--data", str(data), "--models", "rnn", "--out-dir", str(out), *rescore])
    rescored = json.loads((out / "metrics.json").read_text())
    return trained, rescored


def strings(x):
    """Every string in a JSON value, keys included."""
    if isinstance(x, dict):
        for k, v in x.items():
            yield k
            yield from strings(v)
    elif isinstance(x, list):
        for v in x:
            yield from strings(v)
    elif isinstance(x, str):
        yield x


def test_there_are_run_records():
    assert RUNS and len(RESULTS) > len(RUNS)


@pytest.mark.parametrize("path", RUNS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_run_record_has_the_keys_main_writes(path, fresh):
    trained, rescored = fresh
    record = json.loads(path.read_text())
    extra, missing = set(record) - set(rescored), set(trained) - set(record)
    assert set(record) in (set(trained), set(rescored)), f"extra {extra}, missing {missing}"
    model_keys = set(trained["models"]["rnn"])
    assert record["models"]
    for kind, m in record["models"].items():
        assert set(m) - {RETIRED} == model_keys, f"{kind}: {set(m) - {RETIRED} ^ model_keys}"
    assert set(record["corpus"]) == set(trained["corpus"])


@pytest.mark.parametrize("path", RUNS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_run_settings_are_exactly_a_settings(path):
    names = {f.name: f.type for f in fields(Settings)}
    for kind, m in json.loads(path.read_text())["models"].items():
        s = m["settings"]
        assert asdict(Settings(**s)) == s, kind  # no key missing, none extra
        for name, value in s.items():
            assert type(value) is names[name], (kind, name, value)  # no None; 1.0 stays 1.0
        retired = m.get(RETIRED, {})
        assert not set(retired) & set(names) and None not in retired.values(), kind


@pytest.mark.parametrize("path", RESULTS, ids=lambda p: str(p.relative_to(ROOT / "results")))
def test_no_machine_paths_in_results(path):
    for s in strings(json.loads(path.read_text())):
        assert not any(word.startswith("/") for word in s.split()), s
        assert not any(m in s for m in MACHINE_PATHS), s
