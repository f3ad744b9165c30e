"""The audio engine's per-frame work, without a device: what each device callback costs.

Groups (20 ms frames; the device side is 48 kHz stereo int16, the session side 24 kHz mono). "rtaudiod" is the
engine's default path, the C processors (csrc/rta_audio.c; the Python twins in the build without the extension),
called here from Python once per frame; "rtaudiod-python" the Python twins, the Python-callback path:
  audio capture 20ms@48k2   Capture.feed: device bytes → down-mix → soxr → levels → capture ring.
                            The ring is emptied with skip() in the same call (a few hundred ns).
  audio playout 20ms@48k2   Playout.fill: playout ring → soxr → FIFO → up-mix into the device buffer. The
                            call also writes the next 20 ms into the ring (the receive thread's part, ~1 µs)
                            so the ring never runs dry.
  resample 1s 48k2→24k1     one second of audio in 50 frames of 20 ms: down-mix + resample only. Divide the
                            median by one second for the share of one core it needs in real time.
Baselines ("numpy.interp"): what a user without a resampling library writes: the channel mean, then
numpy.interp at the new sample times (linear interpolation, no anti-alias filter: it aliases, it is
only a cost reference). Marked extra_info["baseline"].

"audio p99 ..." groups time each call of the two callbacks on its own (3,000 calls) and report the
distribution in extra_info["latency_us"] against the issue's target of 1 ms at the 99th percentile.
"""

import time

import numpy as np
import pytest

from benchmarks.conftest import pcm, smoke
from rtaudiod._backend import load_c
from rtaudiod.audio.capture import Capture
from rtaudiod.audio.dsp import Downmixer, Resampler
from rtaudiod.audio.ledger import PlayoutLedger
from rtaudiod.audio.playout import Playout
from rtaudiod.ring import RingBuffer

C_AUDIO = load_c("audio")  # None in the build without the extension: "rtaudiod" is then the twin

DEV_RATE, SESSION = 48000, 24000
DEV_FRAME = 960  # 20 ms at 48 kHz
SESSION_FRAME = 480  # 20 ms at 24 kHz
DEVICE_BYTES = pcm(DEV_FRAME * 2 * 2)  # one 20 ms stereo device buffer
SESSION_BYTES = pcm(SESSION_FRAME * 2)
P99_TARGET_US = 1000.0


def make_capture(quality: str = "LQ", python: bool = False) -> Capture:
    make = Capture if python or C_AUDIO is None else C_AUDIO.Capture
    return make(RingBuffer(1 << 16), DEV_RATE, 2, DEV_FRAME, SESSION, quality)


def make_playout(python: bool = False) -> Playout:
    ring = RingBuffer(1 << 16)
    if python or C_AUDIO is None:
        make, ledger = Playout, PlayoutLedger()
    else:
        make, ledger = C_AUDIO.Playout, PlayoutLedger(core=C_AUDIO.LedgerCore())
    playout = make(ring, ledger, SESSION, DEV_RATE, 2, DEV_FRAME, prebuffer_ms=0, fade_ms=2.5, quality="LQ")
    ring.write(SESSION_BYTES * 4)
    playout.ledger.wrote(len(SESSION_BYTES) * 4)
    return playout


class NaiveCapture:
    """Channel mean + numpy.interp + ring write, per frame."""

    def __init__(self) -> None:
        self.ring = RingBuffer(1 << 16)
        self.t_out = np.arange(SESSION_FRAME) * (DEV_RATE / SESSION)
        self.t_in = np.arange(DEV_FRAME)

    def feed(self, data: bytes) -> None:
        x = np.frombuffer(data, np.int16).reshape(-1, 2).mean(axis=1)
        self.ring.write(np.interp(self.t_out, self.t_in, x).astype(np.int16))


class NaivePlayout:
    """Ring read + numpy.interp + channel repeat + bytes, per frame."""

    def __init__(self) -> None:
        self.ring = RingBuffer(1 << 16)
        self.ring.write(SESSION_BYTES * 4)
        self.t_out = np.arange(DEV_FRAME) * (SESSION / DEV_RATE)
        self.t_in = np.arange(SESSION_FRAME)

    def fill(self, buf: memoryview) -> None:
        x = np.frombuffer(self.ring.read(SESSION_FRAME * 2), np.int16)
        y = np.interp(self.t_out, self.t_in, x).astype(np.int16)
        buf[:] = np.repeat(y, 2).tobytes()


def capture_step(capture):
    capture.feed(DEVICE_BYTES)
    capture.ring.skip(capture.ring.read_available)


def playout_step(playout, buf, ring, ledger=None):
    ring.write(SESSION_BYTES)
    if ledger is not None:
        ledger.wrote(len(SESSION_BYTES))
    playout.fill(buf)


@pytest.mark.benchmark(group="audio capture 20ms@48k2")
@pytest.mark.parametrize("contender", ["rtaudiod", "rtaudiod-python", "numpy.interp"])
def test_capture_frame(benchmark, contender):
    capture = make_capture(python=contender == "rtaudiod-python") if contender.startswith("rtaudiod") else NaiveCapture()
    benchmark.extra_info.update(contender=contender, items=1)
    if contender == "numpy.interp":
        benchmark.extra_info["baseline"] = True
    benchmark(capture_step, capture)
    capture.feed(DEVICE_BYTES)
    assert capture.ring.read_available > 0  # it did write session audio


@pytest.mark.benchmark(group="audio playout 20ms@48k2")
@pytest.mark.parametrize("contender", ["rtaudiod", "rtaudiod-python", "numpy.interp"])
def test_playout_frame(benchmark, contender):
    buf = memoryview(bytearray(DEV_FRAME * 4))
    benchmark.extra_info.update(contender=contender, items=1)
    if contender.startswith("rtaudiod"):
        playout = make_playout(python=contender == "rtaudiod-python")
        benchmark(playout_step, playout, buf, playout.ring, playout.ledger)
        assert playout.playing and playout.underruns == 0
    else:
        playout = NaivePlayout()
        benchmark.extra_info["baseline"] = True
        benchmark(playout_step, playout, buf, playout.ring)
    assert any(buf)


STEREO_1S = [pcm(DEV_FRAME * 4 + i) [: DEV_FRAME * 4] for i in range(50)]


def resample_second_soxr(quality: str) -> int:
    down, rs = Downmixer(2, DEV_FRAME), Resampler(DEV_RATE, SESSION, quality)

    def run() -> int:
        return sum(len(rs.process(down.process(frame))) for frame in STEREO_1S)

    return run


def resample_second_interp():
    t_out = np.arange(SESSION_FRAME) * (DEV_RATE / SESSION)
    t_in = np.arange(DEV_FRAME)

    def run() -> int:
        n = 0
        for frame in STEREO_1S:
            x = np.frombuffer(frame, np.int16).reshape(-1, 2).mean(axis=1)
            n += len(np.interp(t_out, t_in, x).astype(np.int16))
        return n

    return run


@pytest.mark.benchmark(group="resample 1s 48k2→24k1")
@pytest.mark.parametrize("contender", ["rtaudiod", "soxr-HQ", "numpy.interp"])
def test_resample_realtime_share(benchmark, contender):
    """rtaudiod = soxr LQ (the engine's default); soxr-HQ for comparison; numpy.interp the baseline."""
    run = {"rtaudiod": lambda: resample_second_soxr("LQ"), "soxr-HQ": lambda: resample_second_soxr("HQ"),
           "numpy.interp": resample_second_interp}[contender]()
    run()  # prime the streaming resampler (its first frames come out empty)
    benchmark.extra_info.update(contender=contender, items=50)
    if contender == "numpy.interp":
        benchmark.extra_info["baseline"] = True
    n = benchmark(run)
    assert abs(n - SESSION) <= 1000  # about one second of session audio per second of device audio
    median = benchmark.stats.stats.median if benchmark.stats else None
    if median:
        benchmark.extra_info["core_percent_realtime"] = round(median * 100, 3)
        print(f"\n{contender}: {median * 100:.3f}% of one core for 48 kHz stereo → 24 kHz mono in real time")


def distribution(step, args, n: int) -> dict:
    for _ in range(50):  # warm up (soxr's first frames, caches)
        step(*args)
    times = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        step(*args)
        times.append(time.perf_counter_ns() - t0)
    us = sorted(t / 1000 for t in times)
    pick = lambda p: us[min(len(us) - 1, int(p / 100 * len(us)))]  # noqa: E731
    return {"n": len(us), "p50": pick(50), "p90": pick(90), "p99": pick(99), "max": us[-1]}


@pytest.mark.benchmark(group="audio p99 20ms callbacks")
@pytest.mark.parametrize("path", ["capture", "playout"])
def test_callback_p99(benchmark, request, path):
    n = 100 if smoke(request.config) else 3000
    if path == "capture":
        step, args = capture_step, (make_capture(),)
    else:
        playout = make_playout()
        step, args = playout_step, (playout, memoryview(bytearray(DEV_FRAME * 4)), playout.ring, playout.ledger)
    dist = benchmark.pedantic(distribution, args=(step, args, n), rounds=1, iterations=1)
    benchmark.extra_info.update(contender=f"rtaudiod {path}", latency_us=dist, target_p99_us=P99_TARGET_US)
    print(f"\n{path} 20 ms frame: µs {dist}")
    assert dist["n"] == n
