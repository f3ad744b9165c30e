"""Build and run the C core's own test drivers (csrc/tests/test_core.c, and test_audio.c for the real-time audio
path), plain and under AddressSanitizer + UndefinedBehaviorSanitizer. The drivers print 'N passed, N failed'."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

CSRC = Path(__file__).resolve().parent.parent / "csrc"
SOURCES = ["rta_ring.c", "rta_g711.c", "rta_b64.c", "rta_b64_simd.c", "rta_framing.c"]
# driver -> (its sources, extra link flags, the fewest checks it must pass)
DRIVERS = {
    "test_core": (SOURCES, [], 60),
    "test_audio": (["rta_audio.c", "rta_pacer.c", "rta_ring.c"], ["-lsoxr", "-lm"], 28),
}
CFLAGS = ["-std=c11", "-O2", "-g", "-Wall", "-Wextra", "-Werror", "-pthread", f"-I{CSRC}"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all"]


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("flags", [[], SANITIZE], ids=["plain", "asan-ubsan"])
def test_c_core_driver(tmp_path, flags, driver):
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "a C compiler is needed to build csrc/ (scripts/install-system-deps installs gcc)"
    exe = tmp_path / driver
    srcs, libs, at_least = DRIVERS[driver]
    sources = [str(CSRC / "tests" / f"{driver}.c")] + [str(CSRC / s) for s in srcs]
    build = subprocess.run([cc, *CFLAGS, *flags, "-o", str(exe), *sources, *libs], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    summary = re.search(r"(\d+) passed, (\d+) failed", run.stdout)
    assert run.returncode == 0 and summary, run.stdout + run.stderr
    assert int(summary.group(2)) == 0 and int(summary.group(1)) >= at_least, run.stdout


@pytest.mark.parametrize("flags", [[], SANITIZE], ids=["plain", "asan-ubsan"])
def test_echo_canceller_driver(tmp_path, flags):
    """csrc/tests/test_echo.c: both engines cancel a linear echo and find its delay; the plain build also counts
    the allocations rta_echo_process makes (none). The webrtc shim is C++: compiled with c++, linked with it."""
    cc, cxx = shutil.which("cc") or shutil.which("gcc"), shutil.which("c++") or shutil.which("g++")
    assert cc and cxx, "C and C++ compilers are needed (scripts/install-system-deps installs gcc and g++)"
    pkg = subprocess.run(["pkg-config", "--cflags", "--libs", "speexdsp", "webrtc-audio-processing"],
                         capture_output=True, text=True)
    assert pkg.returncode == 0, f"libspeexdsp-dev and libwebrtc-audio-processing-dev are needed: {pkg.stderr}"
    pkg_flags = pkg.stdout.split()
    objects = []
    for source, compiler, std in (("tests/test_echo.c", cc, ["-std=c11"]), ("rta_echo.c", cc, ["-std=c11"]),
                                  ("rta_echo_webrtc.cc", cxx, [])):
        obj = tmp_path / (Path(source).stem + ".o")
        build = subprocess.run([compiler, *std, "-O2", "-g", "-Wall", "-Wextra", f"-I{CSRC}", *flags,
                                *[f for f in pkg_flags if not f.startswith("-l")], "-c", str(CSRC / source),
                                "-o", str(obj)], capture_output=True, text=True)
        assert build.returncode == 0, build.stderr
        objects.append(str(obj))
    exe = tmp_path / "test_echo"
    link = subprocess.run([cxx, *flags, "-o", str(exe), *objects, *[f for f in pkg_flags if f.startswith("-l")],
                           "-lm"], capture_output=True, text=True)
    assert link.returncode == 0, link.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    summary = re.search(r"(\d+) passed, (\d+) failed", run.stdout)
    assert run.returncode == 0 and summary, run.stdout + run.stderr
    assert int(summary.group(2)) == 0 and int(summary.group(1)) >= (51 if not flags else 38), run.stdout
