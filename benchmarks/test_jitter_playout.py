"""The jitter harness (benchmarks/jitter_playout.py, `make bench-jitter`) in a short run: the daemon plays two replies
from rtaudiod-sim at real-time pace with the arrival jitter, and the harness reads the daemon's own counts. The
figures come from the full run (20 replies), not from here: nothing below judges a time or a count of underruns."""

import json
import subprocess
import sys

import rtaudiod
from benchmarks.e2e.run import ROOT


def test_the_jitter_harness_follows_each_reply_to_its_end(tmp_path):
    out = tmp_path / "jitter.json"
    done = subprocess.run([sys.executable, "-m", "benchmarks.jitter_playout", "--replies", "2", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    callbacks = "c" if rtaudiod.backend() == "c" else "python"  # the build without the extension has no C path
    assert (result["jitter"], result["callbacks"], len(result["replies"])) == (1.0, callbacks, 2)
    assert all(r["played_ms"] > 1000 and r["underruns"] >= 0 for r in result["replies"])  # each reply played
    assert result["playout_latency"]["count"] == 2  # one start per reply
    assert "| rtaudiod-sim --pace 1 --jitter 1 --seed 0 | 2 |" in done.stdout
