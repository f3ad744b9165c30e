"""The C echo canceller (csrc/rta_echo.c through rtaudiod._ext._echo) on echo paths built from real speech
(echopaths.py): ERLE floors on the linear path, the bulk delay found, double talk kept, figures that tell the
truth, and bad input refused. Signal figures, never timings. The long runs (25 s scenes at 48 kHz, both paths,
both engines: the figures of docs/echo.md) are behind RTAUDIOD_SLOW=1."""

import os

import numpy as np
import pytest

import echopaths as ep

SLOW = os.environ.get("RTAUDIOD_SLOW", "") not in ("", "0")  # (not from conftest: another one may hold that name)

ENGINES = ["speex", "webrtc", "webrtc+speex"]


def test_default_engine_is_the_one_chosen_by_measurement(c_canceller):
    from rtaudiod._ext._echo import DEFAULT_ENGINE, ENGINES as BUILT

    assert DEFAULT_ENGINE == "webrtc" and c_canceller(16000).engine == "webrtc"  # docs/echo.md says why
    assert set(BUILT) == set(ENGINES)


@pytest.mark.parametrize("engine", ENGINES)
def test_linear_echo_is_cancelled_and_its_delay_found(c_canceller, engine):
    scene = ep.scene("linear", rate=16000, seconds=10.0, delay_ms=80)
    run = ep.cancel(scene, engine)
    erle = ep.erle_db(scene, run.out, from_s=5.0)
    # Measured: speex 56 dB (its residual suppression silences echo-only blocks), webrtc 38 dB (webrtc+speex: webrtc's
    # output wherever nobody talks). Floors with margin over the 25 dB target.
    assert erle >= (40.0 if engine == "speex" else 30.0), erle
    figures = run.figures[-1]
    assert figures["delay_locked"] and abs(figures["delay_ms"] - 80.0) <= 2.0, figures
    assert figures["converged"] and figures["erle_db"] >= 10.0, figures
    assert figures["blocks"] == scene.mic.size // (scene.rate // 100)
    assert 0 < figures["echo_blocks"] < figures["blocks"]  # the reply's pauses are not counted


@pytest.mark.parametrize("delay_ms", [30, 170, 350])
def test_bulk_delay_estimate_follows_the_path(c_canceller, delay_ms):
    scene = ep.scene("linear", rate=16000, seconds=6.0, delay_ms=delay_ms)
    figures = ep.cancel(scene, None).figures[-1]
    assert figures["delay_locked"] and abs(figures["delay_ms"] - delay_ms) <= 2.0, figures


@pytest.mark.parametrize("delay_ms", [0, 1])
def test_a_direct_path_closer_than_the_lead_converges(c_canceller, delay_ms):
    """A microphone next to the speaker with accurate stamps: the delay locks below the filter's lead, where the
    estimator used to move the filter "again" every block, resetting it, so converged never came (review)."""
    scene = ep.scene("linear", rate=16000, seconds=6.0, delay_ms=delay_ms)
    figures = ep.cancel(scene, None).figures[-1]
    assert figures["delay_locked"] and figures["delay_ms"] <= 2.0 and figures["converged"], figures


def test_a_microphone_that_does_not_hear_the_speaker_locks_nothing(c_canceller):
    """Headphones, or a speaker in another room: the reference plays, the microphone hears a person and noise only.
    No delay is locked, no convergence claimed, and the person passes."""
    scene = ep.scene("linear", rate=16000, seconds=10.0, double_talk_at_s=1.0)
    noise = np.random.default_rng(5).standard_normal(scene.mic.size) * 30
    scene.mic = np.clip(np.round(scene.person + noise), -32768, 32767).astype("<i2")
    run = ep.cancel(scene, None)
    assert not any(f["delay_locked"] or f["converged"] for f in run.figures), run.figures
    assert ep.double_talk(scene, run.out)[0] >= 0.9


@pytest.mark.parametrize("delay_ms", [120, 300])
def test_reverberant_delay_is_found_through_double_talk(c_canceller, delay_ms):
    scene = ep.scene("reverberant", rate=16000, seconds=6.0, delay_ms=delay_ms, double_talk_at_s=3.0)
    figures = ep.cancel(scene, None).figures[-1]
    # the direct path, or an early reflection within a few ms of it
    assert figures["delay_locked"] and delay_ms - 1 <= figures["delay_ms"] <= delay_ms + 8, figures


@pytest.mark.parametrize("engine, floor", [("speex", 0.9), ("webrtc", 0.8), ("webrtc+speex", 0.9)])
def test_double_talk_keeps_the_persons_voice(c_canceller, engine, floor):
    """A person talking over the reply comes through (the issue's target: correlation >= 0.8 with their clean voice).
    Measured here: speex 0.97, better than the raw microphone's 0.90 (it removes the echo and keeps the voice);
    webrtc 0.87 (its non-linear processor also trims the voice); webrtc+speex 0.97 (speex's output while the person is
    heard). The converged flag holds through the talk."""
    scene = ep.scene("linear", rate=16000, seconds=14.0, delay_ms=80, double_talk_at_s=8.0)
    run = ep.cancel(scene, engine)
    corr, latency_ms = ep.double_talk(scene, run.out)
    raw, _ = ep.double_talk(scene, scene.mic)
    assert corr >= floor, (corr, raw)
    if engine != "webrtc":
        assert corr > raw, (corr, raw)
    assert latency_ms <= 10.0  # speex's preprocessor works one 10 ms block behind, webrtc 7 ms (webrtc+speex: 10)
    start, end = scene.person_span
    kept = np.mean(run.out[start:end].astype(float) ** 2) / np.mean(scene.person[start:end] ** 2)
    assert 10 * np.log10(kept) > -3.0
    first = next(i for i, f in enumerate(run.figures) if f["converged"])
    assert all(f["converged"] for f in run.figures[first:]), run.figures


def test_the_speex_shadow_keeps_the_person_webrtc_trims(c_canceller):
    """webrtc+speex on the reverberant path: webrtc's non-linear processor trims a person talking over a loud echo
    (0.68 here), speex, run beside it on the same aligned reference, keeps them, and its output is taken while they
    are heard (0.83 measured); where nobody talks the output is webrtc's, so the ERLE is webrtc's (55 dB both).
    With the clocks 50 ppm apart speex cancels too little to be trusted, and the output stays webrtc's."""
    scene = ep.scene("reverberant", rate=48000, seconds=14.0, delay_ms=120, double_talk_at_s=8.0)
    webrtc, both = ep.cancel(scene, "webrtc").out, ep.cancel(scene, "webrtc+speex").out
    talk = ep.double_talk(scene, both)[0]
    assert talk >= 0.8 and talk >= ep.double_talk(scene, webrtc)[0] + 0.1
    assert ep.erle_db(scene, both, from_s=5.0) >= 30.0
    drifting = ep.scene("reverberant", rate=48000, seconds=14.0, delay_ms=120, double_talk_at_s=8.0, drift_ppm=50)
    webrtc, both = ep.cancel(drifting, "webrtc").out, ep.cancel(drifting, "webrtc+speex").out
    assert ep.double_talk(drifting, both)[0] <= ep.double_talk(drifting, webrtc)[0] + 0.02  # webrtc's, not speex's
    assert ep.erle_db(drifting, both, from_s=5.0) >= ep.erle_db(drifting, webrtc, from_s=5.0) - 1.0


@pytest.mark.parametrize("ppm", [50, -50])
def test_a_known_clock_drift_is_compensated(c_canceller, ppm):
    """Two device clocks 50 ppm apart: the echo's delay slides 50 us a second and speex's filter cannot follow; told
    the drift (as the capture callback will measure it from the devices' clocks), the canceller slides its reference
    with the echo and speex cancels as on one clock. At 48 kHz (the harness makes the drift by linear interpolation,
    which at 16 kHz is itself a filter on the echo the canceller cannot know)."""
    scene = ep.scene("linear", rate=48000, seconds=12.0, delay_ms=80, drift_ppm=ppm)
    plain = ep.erle_db(scene, ep.cancel(scene, "speex").out, from_s=6.0)
    run = ep.cancel(scene, "speex", drift_ppm=ppm)
    compensated = ep.erle_db(scene, run.out, from_s=6.0)
    assert compensated >= 40.0 and compensated > plain + 10.0, (plain, compensated)
    # the delay shown follows the slide: 80 ms + 12 s x 50 us
    assert abs(run.figures[-1]["delay_ms"] - (80.0 + ppm * 12e-3)) <= 1.0, run.figures[-1]


def test_periods_of_any_whole_blocks_give_the_same_output(c_canceller):
    """The engines work on 10 ms blocks: a 10 ms or a 40 ms device period is the same computation, bit for bit."""
    scene = ep.scene("linear", rate=16000, seconds=3.0, delay_ms=60)
    a = ep.cancel(scene, None, period_ms=10).out
    b = ep.cancel(scene, None, period_ms=40).out
    n = min(a.size, b.size) - scene.rate // 10
    assert np.array_equal(a[:n], b[:n])


def test_in_place_and_bytes(c_canceller):
    scene = ep.scene("linear", rate=16000, seconds=2.0, delay_ms=60)
    n = scene.rate // 50
    one, two = c_canceller(16000), c_canceller(16000)
    for start in range(0, scene.mic.size - n + 1, n):
        mic, ref = scene.mic[start:start + n], scene.ref[start:start + n]
        returned = one.process(mic.tobytes(), ref.tobytes())
        buf = bytearray(mic.tobytes())
        assert two.process(buf, ref, buf) is None
        assert returned == bytes(buf)


def test_figures_are_read_from_another_thread_while_it_runs(c_canceller):
    """The figures are atomics: another thread (the daemon's status) reads them while the canceller runs (process()
    releases the GIL), and sees counts that only grow and a delay that is 0 or the path's."""
    import math
    import threading

    scene = ep.scene("linear", rate=16000, seconds=6.0, delay_ms=80)
    canceller = c_canceller(16000)
    n = scene.rate // 100
    done = threading.Event()

    def run():
        for start in range(0, scene.mic.size - n + 1, n):
            canceller.process(scene.mic[start:start + n], scene.ref[start:start + n])
        done.set()

    worker = threading.Thread(target=run)
    worker.start()
    seen = []
    while not done.is_set():
        seen.append(canceller.figures())
    worker.join()
    seen.append(canceller.figures())
    assert len(seen) > 1
    assert all(a["blocks"] <= b["blocks"] and a["echo_blocks"] <= b["echo_blocks"] for a, b in zip(seen, seen[1:]))
    assert all(f["delay_ms"] == 0.0 or abs(f["delay_ms"] - 80.0) <= 2.0 for f in seen)
    assert all(math.isfinite(f["erle_db"]) for f in seen)
    assert seen[-1]["blocks"] == scene.mic.size // n and seen[-1]["delay_locked"]


def test_silence_learns_nothing(c_canceller):
    canceller = c_canceller(48000)
    zeros = np.zeros(4800, "<i2")
    for _ in range(20):
        canceller.process(zeros, zeros, zeros)
    f = canceller.figures()
    assert f == {"erle_db": 0.0, "delay_ms": 0.0, "delay_locked": False, "converged": False, "blocks": 200,
                 "echo_blocks": 0}


def test_a_fixed_delay_is_used_as_given(c_canceller):
    canceller = c_canceller(16000, delay_ms=120)
    f = canceller.figures()
    assert f["delay_ms"] == 120.0 and f["delay_locked"]


def test_bad_input_is_refused(c_canceller):
    canceller = c_canceller(24000)
    block = canceller.block_frames
    assert block == 240
    good = bytes(2 * block)
    with pytest.raises(ValueError, match="whole 240-frame blocks"):
        canceller.process(bytes(2 * block - 2), bytes(2 * block - 2))
    with pytest.raises(ValueError, match="same length"):
        canceller.process(good, bytes(4 * block))
    with pytest.raises(ValueError, match="out must be as long"):
        canceller.process(good, good, bytearray(10))
    with pytest.raises(TypeError, match="writable"):
        canceller.process(good, good, good)
    with pytest.raises(ValueError, match="echo engine must be one of"):
        c_canceller(24000, "nlms")
    for kwargs in ({"rate": 7000}, {"rate": 44150}, {"rate": 48000, "tail_ms": 5}):
        with pytest.raises(ValueError, match="bad echo canceller settings"):
            c_canceller(**kwargs)
    with pytest.raises(ValueError, match="delay_ms must be between"):
        c_canceller(16000, delay_ms=900)
    with pytest.raises(ValueError, match="drift_ppm must be between"):
        canceller.set_drift(5000.0)
    assert canceller.process(good, good) == good  # still serving


# (path, engine): the floors under the 48 kHz figures of docs/echo.md (ERLE dB, double-talk correlation), a few dB
# and hundredths below what was measured. The targets are 25 dB linear, 15 dB reverberant, 0.8: webrtc's
# reverberant double talk misses it (0.734 measured; 0.775 with no residual gate at all: its non-linear processor
# trims the person's voice under a loud echo, and it cannot be switched off), and the floor says so rather than hide
# it; webrtc+speex reaches it, just (0.808 measured, 55.7 dB).
FLOORS_48K = {("linear", "speex"): (50.0, 0.9), ("linear", "webrtc"): (40.0, 0.87),
              ("reverberant", "speex"): (30.0, 0.9), ("reverberant", "webrtc"): (30.0, 0.72),
              ("linear", "webrtc+speex"): (40.0, 0.93), ("reverberant", "webrtc+speex"): (30.0, 0.79)}


@pytest.mark.skipif(not SLOW, reason="the 25 s scenes of docs/echo.md: RTAUDIOD_SLOW=1")
@pytest.mark.parametrize("path, engine", list(FLOORS_48K))
def test_figures_at_48k(c_canceller, path, engine):
    scene = ep.scene(path, rate=48000, seconds=25.0, delay_ms=120, double_talk_at_s=16.0)
    run = ep.cancel(scene, engine)
    erle_floor, talk_floor = FLOORS_48K[path, engine]
    assert ep.erle_db(scene, run.out, from_s=8.0) >= erle_floor
    assert ep.double_talk(scene, run.out)[0] >= talk_floor
    assert ep.convergence_s(scene, run.out) is not None


@pytest.mark.skipif(not SLOW, reason="the 25 s scenes of docs/echo.md: RTAUDIOD_SLOW=1")
def test_clock_drift_defeats_speex_not_webrtc(c_canceller):
    """A speaker and a microphone on two clocks 50 ppm apart (the echo's delay slides 50 us a second): webrtc keeps
    its ERLE, speex's linear filter cannot follow. Why webrtc ships. Held on the engines' own ERLE figures, before
    the residual gates (which take much of what speex leaves, 31 dB after them: docs/echo.md; that figure sat a dB
    from a bar and moved with every change to the gates): their mean from 8 to 15 s, 41 and 16 dB measured."""
    scene = ep.scene("linear", rate=48000, seconds=25.0, delay_ms=120, double_talk_at_s=16.0, drift_ppm=50)

    def own_erle(engine: str) -> float:  # the figures come once a second; the person talks from 16 s
        return float(np.mean([f["erle_db"] for f in ep.cancel(scene, engine).figures[7:15]]))

    webrtc, speex = own_erle("webrtc"), own_erle("speex")
    assert webrtc >= 30.0 and speex < 25.0, (webrtc, speex)
