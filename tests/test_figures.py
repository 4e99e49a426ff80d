import json

from conftest import run_script


def history(losses):
    return [
        dict(epoch=i + 1, train_loss=v + 0.1, train_acc=0.5, val_loss=v, val_acc=0.4)
        for i, v in enumerate(losses)
    ]


def test_draw_redraws_both_figures_from_a_runs_metrics(tmp_path):
    metrics = tmp_path / "metrics.json"
    metrics.write_text(
        json.dumps(
            {
                "models": {
                    "rnn": {"history": history([2.0, 1.8])},
                    "lstm": {"history": history([2.1, 1.7, 1.6])},
                }
            }
        )
    )
    result = run_script("figures/draw.py", metrics, "--out-dir", tmp_path / "figs")
    assert result.returncode == 0, result.stderr
    assert "rnn, lstm" in result.stdout
    for name in ("loss.png", "accuracy.png"):
        assert (tmp_path / "figs" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_draw_refuses_a_file_without_training_histories(tmp_path):
    for text in ("not json", '{"models": {}}', '{"models": {"rnn": {"history": []}}}', "[]"):
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        result = run_script("figures/draw.py", bad, "--out-dir", tmp_path / "figs")
        assert result.returncode == 1 and result.stderr.startswith(
            "draw.py: error: cannot draw from"
        )
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "figs").exists()
