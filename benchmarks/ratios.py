#!/usr/bin/env python3
"""Print the benchmark comparison from a pytest-benchmark JSON file (default .benchmarks/latest.json).

For each group: every contender's median, and its ratio to the group's subject (rtaudiod): 3.7x means
3.7 times slower than rtaudiod, 0.5x twice as fast. Baselines with a target say whether it is met. Then
the latency distributions and a summary of the targets. The conventions are documented at the top of
benchmarks/conftest.py; groups this script has never heard of work the same way.
"""

import json
import sys
from pathlib import Path


def contender_of(bench: dict) -> str:
    extra = bench.get("extra_info") or {}
    params = bench.get("params") or {}
    return str(extra.get("contender") or params.get("contender") or bench.get("param") or bench["name"])


def fmt_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_ratio(r: float) -> str:
    return f"{r:.2f}×" if r < 10 else f"{r:.0f}×"


def fmt_rate(per_second: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if per_second >= scale:
            return f"{per_second / scale:.3g}{unit}/s"
    return f"{per_second:.3g}/s"


def pick_subject(entries: list[dict]) -> dict:
    for e in entries:
        if e["extra"].get("subject") or e["contender"] == "rtaudiod":
            return e
    for e in entries:
        if e["extra"].get("baseline"):
            return e
    return min(entries, key=lambda e: e["median"])


def main(path: str) -> int:
    data = json.loads(Path(path).read_text())
    groups: dict[str, list[dict]] = {}
    latencies = []
    for bench in data["benchmarks"]:
        extra = bench.get("extra_info") or {}
        if not bench.get("stats"):
            continue
        entry = {"contender": contender_of(bench), "extra": extra, "group": bench.get("group") or bench["name"]}
        if "latency_us" in extra:
            latencies.append(entry)
            continue
        entry["median"] = bench["stats"]["median"]
        groups.setdefault(entry["group"], []).append(entry)

    info = data.get("machine_info", {})
    print(f"rtaudiod backend: {info.get('rtaudiod_backend', '?')}; {info.get('python_implementation', '')} "
          f"{info.get('python_version', '')}; {info.get('cpu', {}).get('brand_raw', '?')}; "
          f"{info.get('cpu_count', '?')} CPUs; {data.get('datetime', '')}")
    print("median per call; ratio = contender / the group's first line, rtaudiod (how many times slower than")
    print("rtaudiod); a group without rtaudiod is compared with its baseline, else its fastest (\"reference\")\n")

    targets = []
    for group, entries in groups.items():
        subject = pick_subject(entries)
        print(group)
        width = max(len(e["contender"]) for e in entries)
        for e in [subject] + [e for e in entries if e is not subject]:
            ratio = e["median"] / subject["median"]
            line = f"  {e['contender']:<{width}}  {fmt_time(e['median']):>9}"
            if e is not subject:
                line += f"  {fmt_ratio(ratio):>6}"
            else:
                line += " " * 8
            if "items" in e["extra"]:
                line += f"  {fmt_rate(e['extra']['items'] / e['median']):>9}"
            notes = ["reference"] if e is subject and e["contender"] != "rtaudiod" else []
            if e["extra"].get("baseline") and e is not subject:
                notes.append("baseline")
                target = e["extra"].get("target")
                if target:
                    met = ratio >= target
                    notes.append(f"target ≥{target:g}×: {'met' if met else 'MISSED'}")
                    targets.append((group, f"{subject['contender']} vs {e['contender']}", fmt_ratio(ratio),
                                    f"≥{target:g}×", met))
            if notes:
                line += "  " + ", ".join(notes)
            print(line.rstrip())
        print()

    if latencies:
        print("latency distributions (µs)")
        width = max(len(f"{e['group']}: {e['contender']}") for e in latencies)
        for e in latencies:
            dist = e["extra"]["latency_us"]
            cells = "  ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in dist.items())
            line = f"  {e['group'] + ': ' + e['contender']:<{width}}  {cells}"
            target = e["extra"].get("target_p99_us")
            if target is not None:
                met = dist["p99"] < target
                line += f"  target p99 <{target:g}: {'met' if met else 'MISSED'}"
                targets.append((e["group"], f"{e['contender']} wake p99", f"{dist['p99']:.4g} µs", f"<{target:g} µs",
                                met))
            print(line)
        print()

    if targets:
        print("targets")
        width = max(len(f"{g}: {what}") for g, what, *_ in targets)
        for group, what, value, target, met in targets:
            print(f"  {group + ': ' + what:<{width}}  {value:>9}  {target:>8}  {'met' if met else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ".benchmarks/latest.json"))
