"""benchmarks/RESULTS.md from the rows of a run: the machine and versions, the tables, the ratios against
rtaudiod, the issue's targets met or missed, the simulator's record of the work each contender did, and a PNG of
CPU over the session per contender."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from importlib import metadata
from pathlib import Path

import rtaudiod
from benchmarks.e2e import wakeups
from benchmarks.e2e.run import ROOT, SIM_ARGS

SLICE_S = 10.0  # the noise figure: % of one core in each 10 s slice of the streaming window
WAKEUPS_TARGET = 60  # issue 17: the daemon's Python threads, wake-ups a second in all while audio flows
CAREFUL_RATIO_TARGET = 0.7  # issue 17: the whole daemon against the careful client, CPU per audio minute
PULSE_RATIO_TARGET = 1.3  # issue 17: rtaudiod on PulseAudio against rtaudiod on the null backend


def cpu_per_min(row: dict) -> float:
    return row["cpu_window_s"] * 60 / row["window_s"]


def core_pct(row: dict) -> float:
    return 100 * row["cpu_window_s"] / row["window_s"]


def slices(row: dict, width: float = SLICE_S) -> list[float]:
    """% of one core in consecutive `width`-second slices of the streaming window (from the /proc samples)."""
    samples = [(t, c) for t, c in row["timeline"] if 0 <= t <= row["window_s"] + 0.01]
    out, i = [], 0
    while samples and i < len(samples) - 1:
        j = next((k for k in range(i + 1, len(samples)) if samples[k][0] - samples[i][0] >= width - 0.25), None)
        if j is None:
            break
        out.append(100 * (samples[j][1] - samples[i][1]) / (samples[j][0] - samples[i][0]))
        i = j
    return out


def noise(row: dict) -> float | None:
    s = slices(row)
    return statistics.stdev(s) if len(s) >= 2 else None


def us(summary: dict | None) -> str:
    if not summary or summary.get("p50_ms") is None:
        return "–"
    return "/".join(f"{summary[k] * 1000:.0f}" for k in ("p50_ms", "p99_ms", "max_ms"))


def ms(summary: dict | None, keys=("p50_ms", "max_ms")) -> str:
    if not summary or summary.get("p50_ms") is None:
        return "–"
    return "/".join(f"{summary[k]:.0f}" for k in keys) + f" (n={summary['count']})"


def python_wakeups(row: dict) -> float | None:
    """Wake-ups a second of the contender's Python threads over the streaming window (None: not measured)."""
    w = row.get("wakeups")
    return w["python_per_s"] if w else None


def fmt(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def by_label(results: list[tuple[str, dict]], section: str) -> dict[str, dict]:
    return {row["label"]: row for s, row in results if s == section and "skipped" not in row}


def figures_table(rows: dict[str, dict], floor: dict | None) -> list[str]:
    floor_cpu = cpu_per_min(floor) if floor else None
    lines = ["| contender | CPU s / audio min, streaming | CPU s / audio min, whole run | % of one core (10 s "
             "slices: sd) | above floor, CPU s / min | peak RSS MB | uplink per frame µs p50/p99/max | downlink per "
             "chunk µs p50/p99/max | speech end → first audio ms p50/max | barge-in → silent ms p50/max | "
             "Python wake-ups/s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for label, row in rows.items():
        f = row["figures"]
        above = None if floor_cpu is None or row["contender"] == "floor" else cpu_per_min(row) - floor_cpu
        n = noise(row)
        lines.append(f"| {label} | {cpu_per_min(row):.3f} | {row['cpu_total_s'] * 60 / row['window_s']:.3f} | "
                     f"{core_pct(row):.2f}{f' (±{n:.2f})' if n is not None else ''} | {fmt(above, 3)} | "
                     f"{rss(row)} | {us(f.get('uplink'))} | {us(f.get('downlink'))} | "
                     f"{ms(f.get('reply'))} | {ms(f.get('barge_in'))} | {fmt(python_wakeups(row), 1)} |")
    return lines


def rss(row: dict) -> str:
    """Peak RSS, and the microphone WAV the wav backend holds whole in it (run.run's `mic_held_mb`)."""
    held = row.get("mic_held_mb", 0.0)
    return f"{row['peak_rss_mb']:.1f}" + (f" ({held:.1f} of it the mic WAV)" if held else "")


def ratio_table(rows: dict[str, dict], subject: str, floor: dict | None) -> list[str]:
    base = rows.get(subject)
    if base is None:
        return []
    floor_cpu = cpu_per_min(floor) if floor else None

    def r(a: float | None, b: float | None) -> str:
        return "–" if a is None or b is None or b <= 0 else f"{a / b:.2f}×"

    def p99(row: dict, key: str) -> float | None:
        s = row["figures"].get(key)
        return s.get("p99_ms") if s else None

    above = lambda row: None if floor_cpu is None else cpu_per_min(row) - floor_cpu  # noqa: E731
    lines = [f"| contender | CPU (streaming) | CPU above floor | peak RSS | uplink p99 | downlink p99 |",
             "|---|---|---|---|---|---|"]
    for label, row in rows.items():
        if row["contender"] == "floor":
            continue
        lines.append(f"| {label} | {r(cpu_per_min(row), cpu_per_min(base))} | {r(above(row), above(base))} | "
                     f"{r(row['peak_rss_mb'], base['peak_rss_mb'])} | {r(p99(row, 'uplink'), p99(base, 'uplink'))} | "
                     f"{r(p99(row, 'downlink'), p99(base, 'downlink'))} |")
    return lines


def work_table(results: list[tuple[str, dict]]) -> list[str]:
    lines = ["| run | streamed s | uplink audio the sim received, s (÷ streamed) | sent by the contender, s | "
             "responses (sim) | reply audio the sim sent / the contender took, s | speech_started | truncates | "
             "errors |", "|---|---|---|---|---|---|---|---|---|"]
    for section, row in results:
        if "skipped" in row or row["sim"] is None:
            continue
        sim, f = row["sim"], row["figures"]
        per_s = row["rate"] * row["wire_bytes_per_sample"]
        up = sim["uplink_audio_bytes"] / per_s
        pcm_per_s = row["rate"] * 2
        responses = ", ".join(f"{k} {v}" for k, v in sorted(sim["responses"].items())) or "none"
        lines.append(f"| {section}: {row['label']} | {row['window_s']:.1f} | {up:.1f} ({up / row['window_s']:.2f}) | "
                     f"{f.get('audio_bytes_sent', 0) / per_s:.1f} | {responses} | "
                     f"{sim['downlink_audio_bytes'] / per_s:.1f} / {f.get('pcm_received', 0) / pcm_per_s:.1f} | "
                     f"{sim['speech_started']} | {sim['truncates']} | {', '.join(sim['errors']) or '–'} |")
    return lines


def check(results: list[tuple[str, dict]]) -> list[str]:
    """What makes a run unusable (not slow: wrong): a contender that did not stream, or whose audio the simulator
    did not receive."""
    problems = []
    for section, row in results:
        if "skipped" in row or row["contender"] == "floor":
            continue
        sent, got = row["figures"].get("audio_bytes_sent", 0), (row["sim"] or {}).get("uplink_audio_bytes", 0)
        per_s = row["rate"] * row["wire_bytes_per_sample"]
        if section == "wake_word":  # gated, nobody speaks: nothing may go up, and nothing must be counted as sent
            if got or sent:
                problems.append(f"{section}: {row['label']}: {got} bytes reached the simulator ({sent} counted "
                                "as sent) while the microphone was gated")
            continue
        if got == 0 or got < 0.98 * sent:
            problems.append(f"{section}: {row['label']}: the simulator received {got} of {sent} uplink bytes")
        elif got / per_s < 0.8 * row["window_s"]:
            problems.append(f"{section}: {row['label']}: {got / per_s:.1f} s of audio went up in "
                            f"{row['window_s']:.1f} s")
    return problems


def targets(rows: dict[str, dict], floor: dict | None) -> list[str]:
    from rtaudiod.audio.config import LATENCY_MODES

    d = rows.get("rtaudiod")
    if d is None:
        return ["rtaudiod did not run."]
    peers = {k: v for k, v in rows.items() if v["contender"] in ("seed", "careful", "openai")}
    out = []

    def line(ok: bool, text: str) -> None:
        out.append(f"- {'met' if ok else '**missed**'}: {text}")

    line(core_pct(d) < 1.0, f"whole daemon < 1 % of one core (0.6 CPU-s per audio minute) on the null backend: "
         f"{core_pct(d):.2f} %, {cpu_per_min(d):.3f} CPU-s per audio minute")
    lowest = min(peers.items(), key=lambda kv: cpu_per_min(kv[1]), default=None)
    if lowest:
        line(all(cpu_per_min(d) < cpu_per_min(v) for v in peers.values()),
             f"below every peer's total: rtaudiod {cpu_per_min(d):.3f}, lowest peer {lowest[0]} "
             f"{cpu_per_min(lowest[1]):.3f} CPU-s per audio minute")
    if "careful" in rows:
        ratio = cpu_per_min(d) / cpu_per_min(rows["careful"])
        line(ratio <= CAREFUL_RATIO_TARGET, f"whole daemon ≤ {CAREFUL_RATIO_TARGET}× the careful client's CPU: "
             f"{ratio:.2f}× ({cpu_per_min(d):.3f} vs {cpu_per_min(rows['careful']):.3f} CPU-s per audio minute)")
    null = rows.get("rtaudiod-null-48k", d)  # the null row with the PulseAudio rows' device formats
    for label, how in (("rtaudiod-pulse", "the pulse backend, what auto chooses"),
                       ("rtaudiod-pulse-portaudio", "through PortAudio"),
                       ("rtaudiod-pulse-aec", "the pulse backend with the echo canceller the null run lacks")):
        if label in rows:
            ratio = cpu_per_min(rows[label]) / cpu_per_min(null)
            line(ratio <= PULSE_RATIO_TARGET, f"the PulseAudio run ({how}) ≤ {PULSE_RATIO_TARGET}× the null run "
                 f"({null['label']}): {ratio:.2f}× ({cpu_per_min(rows[label]):.3f} vs {cpu_per_min(null):.3f} "
                 "CPU-s per audio minute)")
    if floor and "careful" in rows:
        own, careful = cpu_per_min(d) - cpu_per_min(floor), cpu_per_min(rows["careful"]) - cpu_per_min(floor)
        line(own <= careful / 2, f"own cost above the floor ≤ half the careful client's: {own:.3f} vs "
             f"{careful:.3f} CPU-s per audio minute ({own / careful:.2f}× of it)" if careful > 0 else
             f"own cost above the floor {own:.3f}; the careful client's is not above the floor ({careful:.3f})")
    up = d["figures"]["uplink"]
    line(up["p99_ms"] is not None and up["p99_ms"] < 1.0, f"uplink p99 < 1 ms: {up['p99_ms']} ms (max {up['max_ms']})")
    for row in (d, rows.get("rtaudiod-pulse")):
        if row is not None:
            held = row.get("mic_held_mb", 0.0)
            line(row["peak_rss_mb"] < 40, f"peak RSS < 40 MB in `always` mode ({row['label']}): "
                 f"{row['peak_rss_mb']:.1f} MB" + (f", of which {held:.1f} MB the microphone WAV the wav backend "
                                                   "holds whole" if held else ""))
    woke = python_wakeups(d)
    if woke is not None:
        line(woke <= WAKEUPS_TARGET, f"Python wake-ups ≤ {WAKEUPS_TARGET}/s while audio flows: {woke:.1f}/s")
    return out


def wakeups_section(rows: dict[str, dict]) -> list[str]:
    """Each contender's wake-ups a second by kind of thread, then rtaudiod's threads one by one."""
    measured = {k: v["wakeups"] for k, v in rows.items() if v.get("wakeups") and v["contender"] != "floor"}
    if not measured:
        return []
    lines = [f"### Python wake-ups/s, target ≤ {WAKEUPS_TARGET}", "",
             "Context switches (voluntary + preempted) of each thread over the streaming window, from "
             "/proc/PID/task/*/status, read from outside (benchmarks/e2e/wakeups.py); a thread waiting for the GIL "
             "sleeps and is woken too, so GIL hand-offs count. Python threads carry `py:<name>` "
             "as their OS name (the benchmark names them), rtaudiod's C audio threads `rtaudiod-<name>` (its C "
             "pacer, PortAudio's callback threads); any other thread is a library's (PortAudio, PulseAudio). No "
             "control client is connected.", "",
             "| contender | Python threads, wake-ups/s | of which voluntary (slept, woken) | rtaudiod C threads | "
             "other threads | threads | CPU ms/s: Python, C, other threads |", "|---|---|---|---|---|---|---|"]
    for label, w in measured.items():
        cpu = "/".join(f"{wakeups.cpu_ms(w['threads'], k):.2f}" for k in wakeups.KINDS) \
            if any("cpu_ms_per_s" in t for t in w["threads"]) else "–"  # a run from before it was measured
        lines.append(f"| {label} | {w['python_per_s']:.1f} | {wakeups.voluntary(w['threads'], 'python'):.1f} | "
                     f"{w['c_per_s']:.1f} | {w['other_per_s']:.1f} | {len(w['threads'])} | {cpu} |")
    # rtaudiod's threads one by one: the null row, and the rows of the PulseAudio comparison (what differs there is
    # the thread that reaches the device)
    for label in ("rtaudiod", "rtaudiod-null-48k", "rtaudiod-pulse"):
        if label in measured:
            lines += ["", f"{label}, thread by thread (CPU from /proc/PID/task/TID/schedstat):", "",
                      *wakeups.table(measured[label])]
    return lines


def barge_target(rows: dict[str, dict]) -> list[str]:
    from rtaudiod.audio.config import LATENCY_MODES

    d = rows.get("rtaudiod-barge_in")
    b = d and d["figures"].get("barge_in")
    if not b or b.get("p50_ms") is None:
        return ["- not measured: no barge-in while the speaker played in the rtaudiod barge-in run"]
    limit = LATENCY_MODES["balanced"].playout_period_ms + 10
    return [f"- {'met' if b['max_ms'] <= limit else '**missed**'}: barge-in within one device period + 10 ms "
            f"({limit} ms): p50 {b['p50_ms']:.1f}, max {b['max_ms']:.1f} ms over {b['count']} barge-ins"]


def noise_lines(results: list[tuple[str, dict]]) -> list[str]:
    """Two measures of the noise: within a run (10 s slices of the streaming window) and between runs (the
    same rtaudiod configuration measured twice: the duplex row and the scaling row with no subscribers)."""
    duplex, scaling = by_label(results, "duplex"), by_label(results, "scaling")
    out = ["- within each duplex row, the sd of % of one core over its 10 s slices: " + ", ".join(
        f"{k} ±{noise(v):.2f}" for k, v in duplex.items() if noise(v) is not None)]
    a, b = duplex.get("rtaudiod"), scaling.get("rtaudiod-0sub")
    if a and b:
        out.append(f"- rtaudiod's duplex configuration measured twice in this run: {core_pct(a):.2f} % "
                   f"({a['window_s']:.0f} s) and {core_pct(b):.2f} % ({b['window_s']:.0f} s) of one core")
    return out


def machine() -> list[str]:
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 platform.machine())
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    packages = ", ".join(f"{p} {metadata.version(p)}" for p in
                         ("websocket-client", "websockets", "msgspec", "pybase64", "openai", "numpy", "soxr"))
    return [f"- when: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average at the end "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} (a shared machine: other test suites ran beside it)",
            f"- machine: {model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
            f"- Python {platform.python_version()}; rtaudiod {rtaudiod.__version__} at {rev.strip()} "
            f"({rtaudiod.backend()} core); {packages}"]


def plot(results: list[tuple[str, dict]], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4.5))
    for label, row in by_label(results, "duplex").items():
        pts = [(t, c) for t, c in row["timeline"] if 0 <= t <= row["window_s"] + 0.01]  # start-up not shown
        xs, ys = [], []
        for (t0, c0), (t1, c1) in zip(pts[::4], pts[4::4]):  # ~2 s steps
            xs.append((t0 + t1) / 2)
            ys.append(100 * (c1 - c0) / (t1 - t0))
        ax.plot(xs, ys, label=label, marker=".")
    ax.set_xlabel("seconds since streaming began")
    ax.set_ylabel("% of one core (2 s steps)")
    ax.set_title("CPU over a duplex session (pcm16, server VAD, real time), per contender")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write(results: list[tuple[str, dict]], out: Path, command: str, quick: bool, problems: list[str],
          machine_lines: list[str]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    png = out.with_name("e2e-cpu.png")
    plot(results, png)
    duplex = by_label(results, "duplex")
    floor = duplex.get("floor")
    lines = ["# End-to-end benchmark results", "",
             "Written by `make bench-e2e` (benchmarks/e2e/, issue 11). " +
             ("QUICK MODE: a harness check; these figures mean nothing." if quick else
              "CPU and memory come from the kernel's accounting of each contender's process (/proc/PID/stat, "
              "VmHWM); the simulator runs in its own process and is not counted."), "",
             f"Command: `{command}` (from the repository root, in .venv)", "",
             f"The simulator (`rtaudiod-sim {' '.join(SIM_ARGS)}`) sends the replies' audio in real time with the "
             "service's arrival jitter on (rtaudiod/sim/jitter.py: small delays and occasional stalls of 100-250 ms "
             "that release the held deltas in a clump), as a client meets it; the same seed for every contender, so "
             "each gets the same arrivals.", "", *machine_lines, ""]
    if problems:
        lines += ["## Problems (the run is not usable)", "", *[f"- {p}" for p in problems], ""]
    lines += ["## Duplex session: pcm16 24 kHz, 20 ms frames, server VAD, real time", "",
              *figures_table(duplex, floor), "", f"![CPU over the session]({png.name})", "",
              "### Ratios against rtaudiod (above 1: costs more than rtaudiod)", "",
              *ratio_table(duplex, "rtaudiod", floor), "",
              "### The issue's targets", "", *targets(duplex, floor), *barge_target(by_label(results, "barge_in")), "",
              *(lambda w: [*w, ""] if w else [])(wakeups_section(duplex)),
              "### Noise", "", *noise_lines(results), ""]
    for section, title in (("barge_in", "Barge-in every turn (pcm16)"), ("ulaw", "G.711 μ-law, 8 kHz"),
                           ("wake_word", "rtaudiod alone in wake_word mode, nobody speaking"),
                           ("scaling", "Scaling: audio.output subscribers and frame size (rtaudiod, duplex)")):
        rows = by_label(results, section)
        skipped = [row for s, row in results if s == section and "skipped" in row]
        if not rows and not skipped:
            continue
        lines += [f"## {title}", ""]
        if rows:
            lines += [*figures_table(rows, None), ""]
            subject = next((k for k in rows if k.startswith("rtaudiod")), None)
            if section in ("barge_in", "ulaw") and subject:
                lines += ["Ratios against rtaudiod:", "", *ratio_table(rows, subject, None), ""]
        lines += [f"- skipped {row['label']}: {row['skipped']}" for row in skipped]
        if skipped:
            lines.append("")
    lines += ["## The work each contender did (the simulator's record)", "",
              "Every contender streamed the same microphone and got the same replies, or its figures would not "
              "compare: the uplink audio the simulator received against the seconds streamed, the responses it "
              "completed or cancelled (barge-in), the reply audio it sent and the contender took.", "",
              *work_table(results), ""]
    out.write_text("\n".join(lines))
