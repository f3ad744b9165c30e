"""The echo canceller's CPU per second of audio (csrc/rta_echo.c), the engines side by side.

Groups: "echo 1s@48k linear" and "echo 1s@16k reverberant": one second of a converged scene (tests/echo/echopaths.py:
the reply through the echo path) in 50 periods of 20 ms, as the capture callback will call it. The median divided by
one second is the share of one core the canceller needs in real time. The subject ("rtaudiod") is the default engine,
libwebrtc-audio-processing 0.3 (PulseAudio's canceller); the contenders the other one, libspeexdsp, and the two
together (webrtc+speex: speex runs beside webrtc, its output taken while a person is heard). No pure-Python
baseline a user would write: the "no canceller" figure is zero CPU and no cancellation. Each contender's output is
checked once for cancellation (its ERLE on that second above 15 dB), not for equality: the engines compute different
things.
benchmarks/echo_figures.py prints the signal figures (ERLE, convergence, double talk) for the same scenes.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

import rtaudiod

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "echo"))  # the echo paths harness
import echopaths as ep  # noqa: E402

pytestmark = pytest.mark.skipif(rtaudiod.backend() != "c", reason="the echo canceller is C only")

CASES = [
    pytest.param(engine, rate, path, id=f"{engine}-{rate // 1000}k-{path}",
                 marks=pytest.mark.benchmark(group=f"echo 1s@{rate // 1000}k {path}"))
    for rate, path in ((48000, "linear"), (16000, "reverberant"))
    for engine in ("speex", "webrtc", "webrtc+speex")
]


@pytest.mark.parametrize("engine, rate, path", CASES)
def test_echo_cancel_one_second(benchmark, engine, rate, path):
    from rtaudiod._ext._echo import DEFAULT_ENGINE, EchoCanceller

    scene = ep.scene(path, rate=rate, seconds=10.0, delay_ms=120)
    canceller = EchoCanceller(rate, engine)
    period = rate // 50
    warm = 8 * rate  # converged by then (docs/echo.md)
    scratch = np.zeros(warm, "<i2")
    canceller.process(scene.mic[:warm], scene.ref[:warm], scratch)
    mic, ref = scene.mic[warm:warm + rate], scene.ref[warm:warm + rate]
    out = np.zeros(rate, "<i2")

    def one_second():
        for start in range(0, rate, period):
            canceller.process(mic[start:start + period], ref[start:start + period], out[start:start + period])
        return out

    names = {"webrtc": "webrtc (libwebrtc-audio-processing 0.3)", "speex": "speex (libspeexdsp)",
             "webrtc+speex": "webrtc+speex (both, speex as a double-talk shadow)"}
    benchmark.extra_info["contender"] = "rtaudiod" if engine == DEFAULT_ENGINE else names[engine]
    benchmark.extra_info["items"] = rate
    result = benchmark(one_second)
    echo = scene.echo[warm:warm + rate]
    erle = 10 * np.log10(np.sum(echo ** 2) / (np.sum(result.astype(np.float64) ** 2) + 1.0))
    assert erle > 15.0, f"{engine} cancelled only {erle:.1f} dB on a converged second"
