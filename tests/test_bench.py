import json
import math

from conftest import run_script


def test_quick_bench_writes_every_ratio(tmp_path, tiny_corpus):
    out = tmp_path / "bench.json"
    result = run_script("bench.py", "--quick", "--data", tiny_corpus, "--out", out, timeout=240)
    assert result.returncode == 0, result.stderr
    b = json.loads(out.read_text())
    assert {"torch", "threads", "cpu"} <= set(b["machine"])
    for key in ("throughput_ratio", "time_to_quality_ratio", "sgemm_fraction"):
        for kind in ("rnn", "lstm"):
            assert math.isfinite(b[key][kind]) and b[key][kind] > 0, (key, kind, b[key][kind])
    for kind in ("rnn", "lstm"):
        assert b["peak_memory_mb"][kind] > 50
        assert b["sampling"][kind]["ratio_batch1"] > 0 and b["sampling"][kind]["ratio_batch25"] > 0
