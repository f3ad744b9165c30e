"""The harness of the session CPU figure (benchmarks/session_cpu.py, `make bench-session`), checked once: a short
duplex session against rtaudiod-sim in its own process really streams both ways. The figure itself comes from
the 60 s run, not from here (a few seconds say nothing about CPU per minute)."""

from benchmarks.session_cpu import run


def test_the_duplex_session_harness_streams_both_ways():
    out = run(6.0)
    # ~6 s of 24 kHz PCM16 (48,000 bytes a second, in 40 ms appends): the microphone went up the whole time
    assert out["audio_bytes_sent"] >= 4 * 48000 and out["frames_sent"] >= 100
    assert out["audio_deltas"] > 0 and out["reply_latency"]["count"] >= 1  # a reply came back and was played
    assert out["cpu_s"] > 0 and out["underruns"] >= 0  # underruns depend on the machine's load: reported, not judged
