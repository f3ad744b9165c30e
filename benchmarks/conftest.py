"""Shared data and helpers for the benchmarks (run with `make bench`; `make bench-smoke` runs each once).

Conventions (benchmarks/ratios.py relies on them; every bench_*.py file follows them):

* One pytest-benchmark *group* = one operation on one input size, e.g. "ulaw_encode 20ms@24k". Every
  contender in a group does the same work on the same input. Set the group with
  `@pytest.mark.benchmark(group=...)` (on the function, or on a `pytest.param(..., marks=...)`).
* The contender's name is `benchmark.extra_info["contender"]`; when it is missing, ratios.py falls back
  to the `contender` parameter, then to the parametrize id, then to the test name.
* The *subject* of a group is the contender named "rtaudiod" (or marked `extra_info["subject"] = True`).
  ratios.py prints every contender's median and its ratio to the subject (3.7x = 3.7 times slower than
  the subject). A group without a subject is compared with its baseline, or else with its fastest entry.
* The baseline a target is measured against is marked `extra_info["baseline"] = True`, with
  `extra_info["target"] = 10.0` when the subject must be at least 10x faster than it.
* `extra_info["items"] = N` says one timed call moves N items (frames); ratios.py then also prints the
  items per second.
* A latency distribution (not a timing) goes in `extra_info["latency_us"] = {"p50": .., "p99": .., ...}`,
  with an optional `extra_info["target_p99_us"]`; ratios.py prints it in its own table.
* Every benchmark checks its output once, outside the timed loop, against rtaudiod's result (use
  `timed()` below), so `make bench-smoke` (one call each, --benchmark-disable) proves that the contenders
  in a group compute the same thing.
"""

import os

import numpy as np
import pytest

import rtaudiod

# 20 ms of 16-bit mono PCM at 8 kHz and 24 kHz, and 1 MiB. A size label always names the PCM audio
# (bytes) involved: an encoder's input, a decoder's output ("ulaw_decode 1MiB" decodes 512 KiB of codes
# into 1 MiB of PCM; "b64decode 20ms@24k" decodes the base64 text of a 960-byte frame).
FRAME_8K = 160  # samples
FRAME_24K = 480  # samples
SIZES = {"20ms@8k": FRAME_8K * 2, "20ms@24k": FRAME_24K * 2, "1MiB": 1 << 20}


def cases(ops, sizes=SIZES):
    """(op, size label) parameters, each in its own benchmark group "<op> <size label>"."""
    return [
        pytest.param(op, label, id=f"{op}-{label}", marks=pytest.mark.benchmark(group=f"{op} {label}"))
        for op in ops
        for label in sizes
    ]


def pcm(nbytes: int) -> bytes:
    """`nbytes` of 16-bit PCM with speech's amplitude distribution (Laplacian, scale 2000: about -21 dBFS
    RMS, peaks clipped), from a fixed seed. audioop's G.711 encoders search the segment table, so their
    speed depends a little on the amplitudes."""
    samples = np.random.default_rng(nbytes).laplace(0.0, 2000.0, nbytes // 2)
    return np.clip(samples, -32768, 32767).astype("<i2").tobytes()


def smoke(config) -> bool:
    """True under --benchmark-disable (`make bench-smoke`): keep the thread benchmarks short."""
    return bool(config.getoption("benchmark_disable"))


def timed(benchmark, fn, *args, contender, expected, kwargs=None, baseline=False, target=None, same=None,
          **extra):
    """Time fn(*args, **kwargs) as `contender`, then check (outside the timed loop) that it returned `expected`.

    `same(result, expected)` replaces == when contenders return equal values in different forms
    (str vs bytes JSON text, say)."""
    benchmark.extra_info["contender"] = contender
    if baseline:
        benchmark.extra_info["baseline"] = True
    if target is not None:
        benchmark.extra_info["target"] = target
    benchmark.extra_info.update(extra)
    result = benchmark(fn, *args, **(kwargs or {}))
    ok = same(result, expected) if same else result == expected
    assert ok, f"{contender} does not compute what rtaudiod computes"
    return result


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["rtaudiod_backend"] = rtaudiod.backend()
    machine_info["cpu_count"] = os.cpu_count()


def pytest_collect_file(file_path, parent):
    """Collect bench_*.py (pyproject's python_files is test_*.py); a file named on the command line is
    already collected by pytest itself."""
    if file_path.suffix == ".py" and file_path.name.startswith("bench_") and not parent.session.isinitpath(file_path):
        return pytest.Module.from_parent(parent, path=file_path)
