"""The vector base64 kernels (csrc/rta_b64_simd.c) against the scalar one and against binascii.

The C driver csrc/tests/test_b64_simd.c checks every kernel the CPU runs (exact-size buffers, every
one-byte corruption, every split point), natively plain and under ASan + UBSan, and the NEON kernel
on an x86 machine under qemu-user. The Python tests force each kernel in turn through
_codecs._b64_force_impl and compare b64encode/b64decode with binascii."""

import binascii
import platform
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import rtaudiod

CSRC = Path(__file__).resolve().parent.parent / "csrc"
DRIVER = [CSRC / "tests" / "test_b64_simd.c", CSRC / "rta_b64.c", CSRC / "rta_b64_simd.c"]
CFLAGS = ["-std=c11", "-O2", "-g", "-Wall", "-Wextra", "-Werror", "-pthread", f"-I{CSRC}"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all"]
MACHINE = platform.machine().lower()
CROSS_PACKAGES = "gcc-aarch64-linux-gnu qemu-user"


def cpu_flags() -> set[str]:
    """The kernel's view of the CPU (Linux), independent of the dispatch code under test."""
    try:
        match = re.search(r"^flags\s*:(.*)$", Path("/proc/cpuinfo").read_text(), re.M)
    except OSError:
        match = None
    return set(match.group(1).split()) if match else set()


def expected_kernels() -> list[str]:
    """The vector kernels this machine should offer, best first."""
    if MACHINE in ("x86_64", "amd64"):
        flags = cpu_flags()
        return [k for k in ("avx2", "ssse3") if k in flags]
    if MACHINE in ("aarch64", "arm64"):
        return ["neon"]
    return []


def build_and_run(cc: list[str], flags: list[str], exe: Path, runner: list[str], required: list[str]) -> str:
    command = [*cc, *CFLAGS, *flags, "-o", str(exe), *map(str, DRIVER)]
    build = subprocess.run(command, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([*runner, str(exe), *required], capture_output=True, text=True, timeout=300)
    summary = re.search(r"(\d+) passed, (\d+) failed", run.stdout)
    assert run.returncode == 0 and summary, run.stdout[-3000:] + run.stderr[-3000:]
    # Each kernel runs the same ~130,000 checks; 32-bit ARM has the scalar one alone.
    assert int(summary.group(2)) == 0 and int(summary.group(1)) > 100_000 * (1 + len(required)), run.stdout
    # Exactly the expected kernels were tested, and the one chosen at start-up is the best of them.
    tested = re.search(r"^kernels: (.*)$", run.stdout, re.M)
    assert tested and set(tested.group(1).split()) == {"scalar", *required}, run.stdout
    assert f"default: {(required or ['scalar'])[0]}\n" in run.stdout, run.stdout
    return run.stdout


@pytest.mark.parametrize("flags", [[], SANITIZE], ids=["plain", "asan-ubsan"])
def test_c_driver_native(tmp_path, flags):
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "a C compiler is needed to build csrc/ (scripts/install-system-deps installs gcc)"
    build_and_run([cc], flags, tmp_path / "test_b64_simd", [], expected_kernels())


def test_c_driver_neon_under_qemu(tmp_path):
    if MACHINE in ("aarch64", "arm64"):
        pytest.skip("native AArch64: test_c_driver_native already runs the NEON kernel")
    cc, qemu = shutil.which("aarch64-linux-gnu-gcc"), shutil.which("qemu-aarch64")
    if not (cc and qemu):
        pytest.skip(f"needs aarch64-linux-gnu-gcc and qemu-aarch64 (apt-get install {CROSS_PACKAGES})")
    build_and_run([cc], [], tmp_path / "test_b64_simd", [qemu, "-L", "/usr/aarch64-linux-gnu"], ["neon"])


# --- Python level: each kernel through the _codecs extension, against binascii. ---------------------


def available_kernels() -> list[str]:
    from rtaudiod._ext import _codecs

    start = _codecs._b64_impl()
    found = []
    try:
        for name in ("scalar", "avx2", "ssse3", "neon"):
            try:
                _codecs._b64_force_impl(name)
            except ValueError:
                continue
            found.append(name)
    finally:
        _codecs._b64_force_impl(start)
    return found


@pytest.fixture
def codecs_with_kernel(request):
    """The _codecs module with kernel request.param forced, restored afterwards."""
    if rtaudiod.backend() != "c":
        pytest.skip("C extension not in use (RTAUDIOD_NO_EXT=1 run tests the twins only)")
    from rtaudiod._ext import _codecs

    if request.param not in available_kernels():
        pytest.skip(f"this CPU has no {request.param} kernel")
    start = _codecs._b64_impl()
    _codecs._b64_force_impl(request.param)
    assert _codecs._b64_impl() == request.param
    yield _codecs
    _codecs._b64_force_impl(start)


def test_default_kernel_is_the_best_available():
    if rtaudiod.backend() != "c":
        pytest.skip("C extension not in use (RTAUDIOD_NO_EXT=1 run tests the twins only)")
    from rtaudiod._ext import _codecs

    assert _codecs._b64_impl() == (expected_kernels() or ["scalar"])[0]
    assert set(available_kernels()) == {"scalar", *expected_kernels()}
    with pytest.raises(ValueError, match="not available"):
        _codecs._b64_force_impl("no-such-kernel")


KERNELS = pytest.mark.parametrize("codecs_with_kernel", ["scalar", "avx2", "ssse3", "neon"], indirect=True)
BAD = [b"=", b" ", b"\n", b"\r", b"\t", b"\x00", b"\x80", b"\xff", b"-", b"_", b"!", b"@", b"[", b"{", b":"]


@KERNELS
def test_roundtrip_matches_binascii(codecs_with_kernel):
    rng = random.Random(5)
    for n in [*range(300), 960, 4800, 65536 + 1, (1 << 20) + 2]:
        data = rng.randbytes(n)
        text = binascii.b2a_base64(data, newline=False)
        assert codecs_with_kernel.b64encode(data) == text, n
        assert codecs_with_kernel.b64decode(text) == data, n
        assert codecs_with_kernel.b64decode(text.decode()) == data, n


def binascii_strict(text: bytes) -> bytes | None:
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except binascii.Error:
        return None


def ours(codecs, text: bytes) -> bytes | None:
    try:
        return codecs.b64decode(text)
    except ValueError:
        return None


@KERNELS
def test_every_one_byte_corruption_is_judged_like_binascii(codecs_with_kernel):
    rng = random.Random(6)
    for n in (48, 150, 4800):  # 64, 200 and 6,400 characters: several vector blocks each
        text = bytearray(binascii.b2a_base64(rng.randbytes(n), newline=False))
        positions = range(len(text)) if n < 1000 else sorted(rng.sample(range(len(text)), 300))
        for p in positions:
            for b in BAD:
                bad = bytes(text[:p]) + b + bytes(text[p + 1 :])
                assert ours(codecs_with_kernel, bad) == binascii_strict(bad), (n, p, b)


@KERNELS
def test_error_names_the_first_bad_character(codecs_with_kernel):
    text = bytearray(binascii.b2a_base64(bytes(range(256)) * 4, newline=False))
    for p in (0, 31, 32, 63, 64, 100, 700, len(text) - 5):
        bad = text.copy()
        bad[p] = ord("\n")
        bad[p + 3] = ord("=")  # a second, later error must not be the one reported
        with pytest.raises(ValueError, match=rf"'\\n' at offset {p}$"):
            codecs_with_kernel.b64decode(bytes(bad))
