"""The echo canceller's figures on the file-driven echo paths, the engines side by side (docs/echo.md).

    .venv/bin/python -m benchmarks.echo_figures                 # 48 kHz, 25 s scenes, ~10 s
    .venv/bin/python -m benchmarks.echo_figures --rate 16000 --pulse

Per echo path (tests/echo/echopaths.py: linear = delay + -10 dB; reverberant = soft clip, RT60 300 ms room, -60 dBFS
noise) and engine: the ERLE after convergence (from 8 s on, echo-only windows), the convergence time (4 echo-only
windows of 100 ms in a row at >= 10 dB), double talk (the correlation of the output with the person's clean voice,
who talks from 16 s; "none" is the raw microphone's), the output's latency against the input, CPU per second of
audio (this machine), and the canceller's own estimates (its ERLE figure and the bulk delay it found, with the true
one). Targets (issue 18): ERLE >= 25 dB linear, >= 15 dB reverberant; double talk >= 0.8.
The drift column: the speaker's and the microphone's clocks differ by that many ppm (two devices rather than one
card), so the echo's delay slides by that many microseconds a second; "+d" rows are the engine told the drift
(rta_echo_set_drift: the reference slides with the echo). webrtc+speex is webrtc with speex run beside it, whose
output is taken while a person is heard (csrc/rta_echo.h).
--pulse adds the sound server's reference canceller: module-echo-cancel (webrtc) on a private PulseAudio with a
module-loopback echo path, in real time, and both engines on the same recording (benchmarks/echo_pulse.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "echo"))
import echopaths as ep  # noqa: E402

# (path, bulk delay ms, clock drift ppm): one card (no drift), and a speaker and a microphone on two clocks.
SCENES = [("linear", 40.0, 0), ("linear", 120.0, 0), ("linear", 250.0, 0), ("reverberant", 120.0, 0),
          ("linear", 120.0, 10), ("linear", 120.0, 50), ("reverberant", 120.0, 50)]
TARGET_DB = {"linear": 25.0, "reverberant": 15.0, "pulse loopback": 25.0}


def row(name: str, path: str, drift: str, scene: ep.Scene, out, cpu_s: float | None, figures: dict | None) -> str:
    erle = ep.erle_db(scene, out, from_s=8.0) if name != "none" else 0.0
    conv = ep.convergence_s(scene, out) if name != "none" else None
    corr, latency = ep.double_talk(scene, out)
    cpu = f"{cpu_s / scene.seconds * 1000:6.1f}" if cpu_s is not None else "     -"
    own = f"{figures['erle_db']:5.1f} dB {figures['delay_ms']:6.1f} ms" if figures else "       -"
    ok = "ok" if name == "none" or (erle >= TARGET_DB[path] and corr >= 0.8) else "MISS"
    shown = "-" if conv is None else f"{conv:.2f}"
    return (f"{path:14s} {scene.delay_ms:5.0f} {drift:>5s} {name:14s} {erle:7.1f} {shown:>7s} {corr:6.3f} "
            f"{latency:6.1f} {cpu} {own:>20s}  {ok}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=48000, help="device rate (default 48000)")
    parser.add_argument("--seconds", type=float, default=25.0, help="scene length (default 25; the person at 16 s)")
    parser.add_argument("--pulse", action="store_true", help="also PulseAudio's module-echo-cancel, in real time")
    args = parser.parse_args(argv)
    from rtaudiod._ext._echo import ENGINES

    print(f"echo canceller figures at {args.rate} Hz, {args.seconds:.0f} s scenes, the person from 16 s")
    print(f"{'path':14s} {'delay':>5s} {'drift':>5s} {'engine':14s} {'ERLE dB':>7s} {'conv s':>7s} {'dtalk':>6s} "
          f"{'lat ms':>6s} {'cpu ms/s':>6s} {'own: ERLE, delay':>20s}")
    for path, delay, ppm in SCENES:
        scene = ep.scene(path, rate=args.rate, seconds=args.seconds, delay_ms=delay, double_talk_at_s=16.0,
                         drift_ppm=ppm)
        print(row("none", path, f"{ppm}", scene, scene.mic, None, None))
        for engine in ENGINES:
            run = ep.cancel(scene, engine)
            print(row(engine, path, f"{ppm}", scene, run.out, run.cpu_s, run.figures[-1]))
        if ppm:  # told the drift, as the capture callback will measure it from the devices' clocks
            for engine in ENGINES:
                run = ep.cancel(scene, engine, drift_ppm=ppm)
                print(row(engine + "+d", path, f"{ppm}", scene, run.out, run.cpu_s, run.figures[-1]))
    if args.pulse:
        from benchmarks.echo_pulse import RATE, pulse_run

        scene, out = pulse_run(seconds=args.seconds)
        quiet = slice(0, scene.person_span[0])
        gain = 10 * np.log10(np.mean(scene.echo[quiet] ** 2) / np.mean(scene.ref[quiet].astype(np.float64) ** 2))
        print(f"pulse loopback at {RATE} Hz: echo {gain:.1f} dB under the reference; module-loopback's rate control "
              f"drifts its delay by {drift_ppm(scene):.0f} ppm")
        print(row("none", scene.name, "loop", scene, scene.mic, None, None))
        print(row("pulse", scene.name, "loop", scene, out, None, None))
        for engine in ENGINES:
            run = ep.cancel(scene, engine)
            print(row(engine, scene.name, "loop", scene, run.out, run.cpu_s, run.figures[-1]))
    return 0


def drift_ppm(scene: ep.Scene) -> float:
    """The echo's delay drift over the echo-only part (before the person), from the lag in its first and last 2 s."""
    from benchmarks.echo_pulse import _lag

    r, end = scene.rate, scene.person_span[0] - scene.rate
    first = _lag(scene.mic[: 2 * r], scene.ref[: 2 * r], r // 4)
    last = _lag(scene.mic[end - 2 * r:end], scene.ref[end - 2 * r:end], r // 4)
    return (last - first) / (end - 2 * r) * 1e6


if __name__ == "__main__":
    sys.exit(main())
