"""The echo canceller's figures on the file-driven echo paths, both engines side by side (docs/echo.md).

    .venv/bin/python -m benchmarks.echo_figures                 # 48 kHz, 25 s scenes, ~10 s
    .venv/bin/python -m benchmarks.echo_figures --rate 16000 --pulse

Per echo path (tests/echo/echopaths.py: linear = delay + -10 dB; reverberant = soft clip, RT60 300 ms room, -60 dBFS
noise) and engine: the ERLE after convergence (from 8 s on, echo-only windows), the convergence time (4 echo-only
windows of 100 ms in a row at >= 10 dB), double talk (the correlation of the output with the person's clean voice,
who talks from 16 s; "none" is the raw microphone's), the output's latency against the input, CPU per second of
audio (this machine), and the canceller's own estimates (its ERLE figure and the bulk delay it found, with the true
one). Targets (issue 18): ERLE >= 25 dB linear, >= 15 dB reverberant; double talk >= 0.8.
--pulse adds the sound server's reference canceller: module-echo-cancel (webrtc) on a private PulseAudio, the scene
played through it in real time (benchmarks/echo_pulse.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "echo"))
import echopaths as ep  # noqa: E402

SCENES = [("linear", 40.0), ("linear", 120.0), ("linear", 250.0), ("reverberant", 120.0)]
TARGET_DB = {"linear": 25.0, "reverberant": 15.0}


def row(name: str, path: str, scene: ep.Scene, out, cpu_s: float | None, figures: dict | None) -> str:
    erle = ep.erle_db(scene, out, from_s=8.0) if name != "none" else 0.0
    conv = ep.convergence_s(scene, out) if name != "none" else None
    corr, latency = ep.double_talk(scene, out)
    cpu = f"{cpu_s / scene.seconds * 1000:6.1f}" if cpu_s is not None else "     -"
    own = f"{figures['erle_db']:5.1f} dB {figures['delay_ms']:6.1f} ms" if figures else "       -"
    ok = "ok" if name == "none" or (erle >= TARGET_DB[path] and corr >= 0.8) else "MISS"
    return (f"{path:12s} {scene.delay_ms:5.0f} {name:8s} {erle:7.1f} {('-' if conv is None else f'{conv:.2f}'):>7s} "
            f"{corr:6.3f} {latency:6.1f} {cpu} {own:>20s}  {ok}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=48000, help="device rate (default 48000)")
    parser.add_argument("--seconds", type=float, default=25.0, help="scene length (default 25; the person at 16 s)")
    parser.add_argument("--pulse", action="store_true", help="also PulseAudio's module-echo-cancel, in real time")
    args = parser.parse_args(argv)
    from rtaudiod._ext._echo import ENGINES

    print(f"echo canceller figures at {args.rate} Hz, {args.seconds:.0f} s scenes, the person from 16 s")
    print(f"{'path':12s} {'delay':>5s} {'engine':8s} {'ERLE dB':>7s} {'conv s':>7s} {'dtalk':>6s} {'lat ms':>6s} "
          f"{'cpu ms/s':>6s} {'own: ERLE, delay':>20s}")
    for path, delay in SCENES:
        scene = ep.scene(path, rate=args.rate, seconds=args.seconds, delay_ms=delay, double_talk_at_s=16.0)
        print(row("none", path, scene, scene.mic, None, None))
        for engine in ENGINES:
            run = ep.cancel(scene, engine)
            print(row(engine, path, scene, run.out, run.cpu_s, run.figures[-1]))
        if args.pulse:
            from benchmarks.echo_pulse import pulse_cancel

            out = pulse_cancel(scene)
            print(row("pulse", path, scene, out, None, None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
