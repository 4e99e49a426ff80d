"""results/gpu.sh, the prepared GPU check, run on the CPU with a tiny model: every step it takes on
a GPU (the default run, a kill and resume, sampling, bench.py) and the files it leaves behind."""

import json
import math
import os
import subprocess
import sys

from conftest import ROOT


def test_the_gpu_script_runs_every_step_on_the_cpu(tmp_path, tiny_corpus):
    """Slow (about 60 s): six processes, bench.py --quick among them, whose JSON shape it also checks."""
    env = dict(os.environ, MKL_CBWR="COMPATIBLE", PYTHON=sys.executable)
    command = ["bash", "results/gpu.sh", "--device", "cpu", "--quick", "--data", str(tiny_corpus)]
    result = subprocess.run(
        [*command, "--out", str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith("gpu.sh: cpu (") and "resumed to epoch 6" in summary, summary
    run = json.loads((tmp_path / "runs" / "default-cpu-seed0.json").read_text())
    assert set(run["models"]) == {"rnn", "lstm"} and run["device"] == "cpu"
    resumed = (tmp_path / "work" / "resumed.log").read_text()
    assert "rnn: resuming after epoch 1" in resumed and "rnn epoch   6" in resumed
    assert (
        len(json.loads((tmp_path / "work" / "samples.json").read_text())) == 10
    )  # 5 prompts x 2 temperatures
    b = json.loads((tmp_path / "bench-cpu.json").read_text())
    assert {"torch", "threads", "cpu", "device"} <= set(b["machine"]) and b["machine"][
        "device"
    ] == "cpu"
    assert math.isfinite(b["whole_run_ratio"]) and b["whole_run_ratio"] > 0
    for key in ("throughput_ratio", "time_to_quality_ratio", "sgemm_fraction"):
        for kind in ("rnn", "lstm"):
            assert math.isfinite(b[key][kind]) and b[key][kind] > 0, (key, kind, b[key][kind])
    for kind in ("rnn", "lstm"):
        assert b["peak_memory_mb"][kind] > 50
        t = b["throughput"][kind]
        assert (
            t["default_batch"] > 0
            and t["ours_default_batch_chars_s"] > 0
            and t["ours_default_batch_steps_s"] > 0
        )
        assert b["sampling"][kind]["ratio_batch1"] > 0 and b["sampling"][kind]["ratio_batch25"] > 0
