"""The end-to-end benchmark's harness (benchmarks/e2e/, `make bench-e2e`), checked in its quick mode: every contender
starts, streams to its own simulator process, and the simulator received what each sent. The figures come from the
full run, not from here: nothing below judges a time."""

import json
import subprocess
import sys

from benchmarks.e2e.run import ROOT


def test_the_e2e_harness_runs_every_contender(tmp_path):
    out = tmp_path / "RESULTS.md"
    done = subprocess.run([sys.executable, "-m", "benchmarks.e2e", "--quick", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {row["label"]: row for _, row in json.loads(out.with_suffix(".json").read_text())["rows"]}
    assert {"rtaudiod", "seed", "careful", "openai", "floor"} <= rows.keys()
    assert "skipped" not in rows["rtaudiod-wake_word"]
    for label, row in rows.items():
        assert row["cpu_window_s"] >= 0 and row["peak_rss_mb"] > 0
        if label == "rtaudiod-wake_word":  # gated, nobody speaking: not one byte went up
            assert row["figures"]["audio_bytes_sent"] == row["sim"]["uplink_audio_bytes"] == 0
        elif label != "floor":
            sent = row["figures"]["audio_bytes_sent"]
            assert sent > 0 and row["sim"]["uplink_audio_bytes"] == sent, label
    assert rows["rtaudiod-1sub"]["subscribed"]["subscribers"] == 1
    # the wake-ups probe saw the daemon's Python threads by name (wakeups.py), the uplink's among them
    woke = rows["rtaudiod"]["wakeups"]
    assert woke["python_per_s"] > 0 and any(t["comm"] == "py:uplink" and t["per_s"] > 0 for t in woke["threads"])
    assert "### Python wake-ups/s" in out.read_text()
    assert (tmp_path / "e2e-cpu.png").stat().st_size > 0 and "| rtaudiod |" in out.read_text()
