"""scripts/arm-userland's namespace, without the userland (make test-arm64 / test-armhf run the whole of it, outside
CI): an ARM program runs through qemu registered in a binfmt_misc instance of a private user namespace, and the
host's own binfmt_misc is left as it was."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "arm-userland"
HOST_BINFMT = Path("/proc/sys/fs/binfmt_misc")
ARCHES = {"arm64": ("aarch64-linux-gnu-gcc", "qemu-aarch64"), "armhf": ("arm-linux-gnueabihf-gcc", "qemu-arm")}

PROGRAM = r"""
#include <stdio.h>
#include <sys/utsname.h>
int main(void) {
    struct utsname u;
    uname(&u);
    printf("machine %s, %zu-bit pointers\n", u.machine, 8 * sizeof(void *));
    return 7;
}
"""


def host_registrations() -> set[str]:
    try:
        return {p.name for p in HOST_BINFMT.iterdir()}
    except OSError:  # not mounted on the host: nothing registered there
        return set()


@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_an_arm_program_runs_in_the_private_namespace_only(tmp_path, arch):
    cc, qemu = ARCHES[arch]
    if platform.machine() != "x86_64" or os.geteuid() != 0:
        pytest.skip("the emulated userland is for x86 hosts, as root")
    missing = [t for t in (cc, f"{qemu}-static", "unshare") if not shutil.which(t)]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (scripts/install-system-deps installs them on x86)")
    exe = tmp_path / f"hello-{arch}"
    subprocess.run([cc, "-static", "-O1", "-o", str(exe), "-x", "c", "-"], input=PROGRAM, text=True, check=True)
    before = host_registrations()
    run = subprocess.run([str(SCRIPT), arch, "exec", str(exe)], capture_output=True, text=True, timeout=60)
    if "no binfmt_misc of a user namespace's own" in run.stderr:
        pytest.skip(run.stderr.strip())
    machine, bits = ("aarch64", 64) if arch == "arm64" else ("armv7l", 32)
    assert (run.returncode, run.stdout) == (7, f"machine {machine}, {bits}-bit pointers\n"), run
    assert host_registrations() == before
