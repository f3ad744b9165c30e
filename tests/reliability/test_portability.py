"""The C core on 32-bit ARM and under ThreadSanitizer: `make -C csrc/tests armhf` (ARMv7 as Debian armhf, ARMv6 as
Raspberry Pi OS 32-bit, both under qemu-arm) and `make -C csrc/tests tsan`. Each driver prints 'N passed, N failed'
and exits non-zero on a failure (or, under TSan, on the first report)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[2] / "csrc" / "tests"


def run_make(target: str) -> list[tuple[int, int]]:
    make = subprocess.run(["make", "-C", str(TESTS), target], capture_output=True, text=True, timeout=300)
    assert make.returncode == 0, make.stdout[-3000:] + make.stderr[-3000:]
    return [(int(p), int(f)) for p, f in re.findall(r"^(\d+) passed, (\d+) failed$", make.stdout, re.M)]


def test_the_core_on_32_bit_arm_under_qemu():
    if not (shutil.which("arm-linux-gnueabihf-gcc") and shutil.which("qemu-arm")):
        pytest.skip("needs arm-linux-gnueabihf-gcc and qemu-arm (apt-get install gcc-arm-linux-gnueabihf "
                    "libc6-dev-armhf-cross qemu-user; scripts/install-system-deps does on x86)")
    results = run_make("armhf")
    assert len(results) == 3, results  # ARMv7 core, ARMv6 core (with -latomic), ARMv7 base64 driver
    assert all(failed == 0 and passed >= 113 for passed, failed in results), results


def test_the_ring_under_thread_sanitizer():
    if not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("no C compiler")
    results = run_make("tsan")
    assert results and results[0][1] == 0 and results[0][0] >= 113, results
