"""`make bench-e2e`: every contender on every workload, then benchmarks/RESULTS.md and the CPU plot.

    python -m benchmarks.e2e [--seconds 60] [--other-seconds 30] [--quick | --wakeups | --pulse]

The headline workload (duplex, pcm16) runs `--seconds` per contender; the barge-in, G.711 and wake-word workloads
and the scaling rows run `--other-seconds`. One contender at a time: the figures are CPU on a shared machine.
`--quick` runs each contender a few seconds, several at once, and checks the harness (every contender streamed,
the simulator received what each sent), not the figures; its report goes to .benchmarks/e2e-quick/.
`--pulse` (`make bench-pulse`) runs only rtaudiod on the null backend and on the PulseAudio server (natively: the pulse
backend, and through PortAudio), `--seconds` each (30 by default there); its report goes to .benchmarks/e2e-pulse/.
`--wakeups` (`make bench-wakeups`) runs only rtaudiod and the careful client on the duplex workload (`--seconds`,
20 by default there), one after the other, for the Python wake-ups a second per thread (wakeups.py); its report goes
to .benchmarks/e2e-wakeups/.
"""

from __future__ import annotations

import argparse
import compileall
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.e2e import report
from benchmarks.e2e.pulse import pulse
from benchmarks.e2e.run import BACKENDS, ROOT, Spec, nothing, run
from benchmarks.e2e.workload import WORKLOADS, write_mic, write_sound_card_mic

PEERS = ["seed", "careful", "openai"]


def pulse_rows(seconds: float, other: float, mics: dict[str, str]) -> list[tuple[str, Spec]]:
    """rtaudiod on the PulseAudio server, natively (the pulse backend, what `auto` chooses there) and through
    PortAudio, beside a null row of the same device formats (the 48 kHz stereo microphone and speaker of the test
    server's sinks: the capture resamples on every row). The echo canceller off on all three, so they do the same
    work and differ by the way to the device only; the native row with it on (auto: the internal canceller) shows
    what it costs, and a barge-in row the native backend's flush."""
    w, off, mic = WORKLOADS["duplex"], {"echo_cancel": '"off"'}, mics["duplex"]
    return [("duplex", Spec("rtaudiod", w, mics["duplex-48k"], seconds, audio=off, label="rtaudiod-null-48k")),
            ("duplex", Spec("rtaudiod-pulse", w, mic, seconds, audio=off)),
            ("duplex", Spec("rtaudiod-pulse-portaudio", w, mic, seconds, audio=off)),
            ("duplex", Spec("rtaudiod-pulse", w, mic, seconds, label="rtaudiod-pulse-aec")),
            ("barge_in", Spec("rtaudiod-pulse", WORKLOADS["barge_in"], mics["barge_in"], other, audio=off,
                              label="rtaudiod-pulse-barge_in"))]


def plan(seconds: float, other: float, mics: dict[str, str], quick: bool,
         wakeups: bool = False, pulse_only: bool = False) -> list[tuple[str, Spec]]:
    w = WORKLOADS
    if wakeups:
        return [("duplex", Spec(c, w["duplex"], mics["duplex"], seconds)) for c in ("rtaudiod", "careful")]
    if pulse_only:
        return [("duplex", Spec("rtaudiod", w["duplex"], mics["duplex"], seconds)), *pulse_rows(seconds, other, mics)]
    rows = [("duplex", Spec(c, w["duplex"], mics["duplex"], seconds)) for c in ["rtaudiod", *PEERS, "floor"]]
    if quick:  # one row of each other kind: the paths of the harness, not the figures
        return rows + [("ulaw", Spec("careful", w["ulaw"], mics["ulaw"], other, label="careful-ulaw")),
                       ("ulaw", Spec("rtaudiod", w["ulaw"], mics["ulaw"], other, label="rtaudiod-ulaw")),
                       ("wake_word", Spec("rtaudiod", w["wake_word"], mics["wake_word"], other,
                                          label="rtaudiod-wake_word")),
                       ("scaling", Spec("rtaudiod", w["duplex"], mics["duplex"], other, subscribers=1,
                                        label="rtaudiod-1sub"))]
    rows[1:1] = pulse_rows(seconds, other, mics)
    for name in ("barge_in", "ulaw"):
        rows += [(name, Spec(c, w[name], mics[name], other, label=f"{c}-{name}")) for c in ["rtaudiod", *PEERS]]
    rows.append(("wake_word", Spec("rtaudiod", w["wake_word"], mics["wake_word"], other, label="rtaudiod-wake_word")))
    rows += [("scaling", Spec("rtaudiod", w["duplex"], mics["duplex"], other, subscribers=n, label=f"rtaudiod-{n}sub"))
             for n in (0, 1, 4, 16)]
    rows += [("scaling", Spec("rtaudiod", w["duplex"], mics["duplex"], other, frame_ms=ms, label=f"rtaudiod-{ms}ms"))
             for ms in (40, 10)]
    # The null output device is 48 kHz stereo, like most sound cards: this row shows what resampling costs.
    rows.append(("scaling", Spec("rtaudiod", w["duplex"], mics["duplex"], other, label="rtaudiod-24k-mono-out",
                                 audio={"output_rate": 24000, "output_channels": 1})))
    return rows


def compile_sources() -> None:
    """Every contender's Python as an installed package has it: compiled to bytecode once (pip compiles a wheel's
    modules as it installs them). This checkout's rtaudiod and benchmarks/ are imported from source, and where
    PYTHONDONTWRITEBYTECODE is set (CI, sandboxes) nothing caches them: each start compiled rtaudiod's ~200 modules
    again, 4 MB more peak RSS for the daemon (41.4 against 37.4 MB, measured with /proc/PID/status' VmHWM) and CPU
    at start-up that a device never pays. The peers' libraries are compiled in site-packages already."""
    for package in ("rtaudiod", "benchmarks"):
        compileall.compile_dir(ROOT / package, quiet=1)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=None, help="per contender on the duplex workload (default 60)")
    p.add_argument("--other-seconds", type=float, default=30.0, help="per row of the other workloads and scaling")
    p.add_argument("--quick", action="store_true", help="a few seconds each, several at once: checks the harness")
    p.add_argument("--wakeups", action="store_true",
                   help="rtaudiod and the careful client only (duplex, --seconds each, default 20): wake-ups per "
                        "thread")
    p.add_argument("--pulse", action="store_true",
                   help="rtaudiod on the null backend and on PulseAudio only (duplex, --seconds each, default 30)")
    p.add_argument("--out", type=Path, help="the results file (default benchmarks/RESULTS.md; quick: .benchmarks/)")
    p.add_argument("--report-from", type=Path, metavar="JSON",
                   help="write the report again from a run's raw results (.benchmarks/e2e.json), running nothing")
    args = p.parse_args()
    if args.report_from:
        saved = json.loads(args.report_from.read_text())
        results = [tuple(r) for r in saved["rows"]]
        out = args.out or ROOT / "benchmarks/RESULTS.md"
        report.write(results, out, saved["command"], quick=saved["quick"], problems=report.check(results),
                     machine_lines=saved["machine"])
        return 0
    if args.quick:
        args.seconds = args.other_seconds = 4.0
    args.seconds = args.seconds or (20.0 if args.wakeups else 30.0 if args.pulse else 60.0)
    out = args.out or ROOT / (".benchmarks/e2e-quick/RESULTS.md" if args.quick else
                              ".benchmarks/e2e-wakeups/RESULTS.md" if args.wakeups else
                              ".benchmarks/e2e-pulse/RESULTS.md" if args.pulse else "benchmarks/RESULTS.md")
    command = " ".join(["python -m benchmarks.e2e", *sys.argv[1:]])
    if not args.quick:
        compile_sources()
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as d:
        tmp = Path(d)
        mics = {name: write_mic(wl, max(args.seconds, args.other_seconds) + 15, tmp / f"mic-{name}.wav")["path"]
                for name, wl in WORKLOADS.items()}
        mics["duplex-48k"] = write_sound_card_mic(mics["duplex"], tmp / "mic-duplex-48k.wav")
        rows = plan(args.seconds, args.other_seconds, mics, args.quick, args.wakeups, args.pulse)
        began = time.monotonic()
        if args.quick:
            with ThreadPoolExecutor(4) as pool:
                results = list(pool.map(lambda r: (r[0], run(r[1], tmp / r[1].label)), rows))
        else:
            results = []
            with (nothing() if args.wakeups else pulse()) as server:  # PulseAudio only for BACKENDS' rows
                for section, spec in rows:
                    if spec.contender in BACKENDS and server is None:
                        continue
                    print(f"bench-e2e: {section}: {spec.label} ({spec.seconds:g} s)", file=sys.stderr, flush=True)
                    results.append((section, run(spec, tmp / spec.label,
                                                 server if spec.contender in BACKENDS else None)))
    raw = out.with_suffix(".json") if args.quick or args.wakeups or args.pulse else ROOT / ".benchmarks/e2e.json"
    raw.parent.mkdir(parents=True, exist_ok=True)
    machine = report.machine()  # when, where, which versions: taken now, kept with the raw results
    raw.write_text(json.dumps({"command": command, "quick": args.quick, "machine": machine, "rows": results}))
    problems = report.check(results)
    report.write(results, out, command, quick=args.quick, problems=problems, machine_lines=machine)
    print(f"bench-e2e: {len(results)} rows in {time.monotonic() - began:.0f} s; {out}", file=sys.stderr)
    for problem in problems:
        print(f"bench-e2e: PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
