# rtaudiod developer entry points. Every target installs what it needs first, once: each install step leaves a
# stamp and runs again only when its inputs change, so a second `make test` or `make run` starts in seconds.
#
#   make run       the daemon on its embedded default (README, Quick start); Ctrl-C stops it
#                  (the CLI beside it: .venv/bin/rtaudiod-cli, from another terminal)
#   make demo      the daemon, one spoken turn through rtaudiod-cli, its levels and reply audio; then stops it
#   make test      the whole test suite         make test-both   on the C extension, then on the Python twins
#   make install   install on this device (scripts/install-device: /opt/rtaudiod, systemd units; as root)
#
# Python: Debian and Raspberry Pi OS refuse `pip install` into the system Python (PEP 668), so everything runs
# in a project virtual environment, .venv, made from $(PY) (default: python3 on PATH, the distribution's or a
# pyenv one; `make test PY=/usr/bin/python3` picks one). A .venv made from another interpreter is made again.
# RTAUDIOD_NO_EXT=1 (build and run without the C extension, on the pure-Python twins) uses a second one,
# .venv-noext, installed without building the extension, so switching back and forth rebuilds nothing. Both are
# editable installs of this tree, where the .venv build leaves its .so files: what keeps a NO_EXT run on the twins is
# the variable itself, which every process of the run inherits and rtaudiod/_backend.py obeys at import.
#
# The steps and their stamps:
#   system   scripts/install-system-deps (apt)        build/stamps/system, redone when the script changes
#   venv     $(PY) -m venv                              $(VENV)/pyvenv.cfg, redone when $(PY) is another Python
#   python   pip install -e '.[test]' (builds the C extension in place)
#            $(VENV)/.stamp-installed, redone when pyproject.toml, setup.py, csrc/ or rtaudiod/_ext/ sources change,
#            or after the apt step ran again
PY ?= python3
PYTEST_ARGS ?=

ifeq ($(filter-out 0,$(RTAUDIOD_NO_EXT)),)
VENV ?= .venv
else
VENV ?= .venv-noext
endif
VPY := $(VENV)/bin/python
# 32-bit ARM (armhf, Raspberry Pi OS 32-bit): PyPI has no numpy wheel for armv7l, and numpy takes hours to build on a
# Pi: the venv sees Debian's python3-numpy (scripts/install-system-deps installs it there; docs/platforms.md).
VENV_FLAGS ?= $(if $(filter armv6l armv7l,$(shell uname -m)),--system-site-packages)
STAMPS := build/stamps
INSTALLED := $(VENV)/.stamp-installed
# The [bench] extra too (make bench-e2e, bench-smoke).
BENCH_INSTALLED := $(VENV)/.stamp-bench
# What the editable install builds from. Only sources: the generated .c and the built .so in rtaudiod/_ext/ are the
# install's own output (they would always look newer than the stamp).
BUILD_INPUTS := pyproject.toml setup.py $(wildcard csrc/*.c csrc/*.cc csrc/*.h) \
	$(wildcard rtaudiod/_ext/*.pyx rtaudiod/_ext/*.pxd rtaudiod/_ext/*.pyi rtaudiod/_ext/*.py)

# The venv belongs to one interpreter: its pyvenv.cfg names that interpreter's directory ("home"). When $(PY) is
# another one now (`make test PY=/usr/bin/python3` after a pyenv build), a phony prerequisite makes it out of date,
# and it is made again.
PY_HOME := $(shell $(PY) -c 'import os, sys; print(os.path.dirname(os.path.realpath(sys.executable)))' 2>/dev/null)
VENV_HOME := $(shell sed -n 's/^home = //p' $(VENV)/pyvenv.cfg 2>/dev/null)
ifneq ($(VENV_HOME),)
ifneq ($(realpath $(VENV_HOME)),$(PY_HOME))
VENV_STALE := venv-of-another-python
endif
endif

.PHONY: setup system python run demo test test-both ctest ctest-tsan ctest-armhf bench bench-smoke bench-session \
	bench-e2e bench-e2e-quick bench-pulse bench-wakeups bench-jitter install clean \
	venv-of-another-python

setup: $(INSTALLED)
system: $(STAMPS)/system
python: $(INSTALLED)

$(STAMPS)/system: scripts/install-system-deps
	./scripts/install-system-deps
	@mkdir -p $(@D) && touch $@

# The apt step only has to come first (order-only, after `|`): new Debian packages need no new venv.
$(VENV)/pyvenv.cfg: $(VENV_STALE) | $(STAMPS)/system
	@command -v $(PY) >/dev/null || { echo "make: no Python '$(PY)' (set PY=/path/to/python3)"; exit 1; }
	$(PY) -m venv --clear $(VENV_FLAGS) $(VENV)
	@echo '*' > $(VENV)/.gitignore  # git ignores the whole venv (as Python 3.13's venv does by itself)

# Editable install: builds the Cython extensions in place (RTAUDIOD_NO_EXT=1 skips them). The C venv checks that
# the extension really is there: a build that silently produced none would test the twins twice.
$(INSTALLED): $(VENV)/pyvenv.cfg $(BUILD_INPUTS) $(STAMPS)/system
	$(VPY) -m pip install -q --disable-pip-version-check -e '.[test]'
ifeq ($(VENV),.venv)
	@$(VPY) -c 'import rtaudiod, sys; sys.exit(rtaudiod.backend() != "c" and "make: the C extension did not build")'
endif
	@touch $@

# The daemon's main job, on its embedded default: examples/rtaudiod.toml is exactly that (tests/install checks it),
# named so that a device's /etc/rtaudiod/rtaudiod.toml is not picked up. No OPENAI_API_KEY: rtaudiod-sim inside the
# daemon. No sound card: the null audio backend (the log says why in one line). The control socket: the daemon's
# default, /run/rtaudiod as root or $XDG_RUNTIME_DIR/rtaudiod, else a private directory under /tmp.
# `exec`: make's child is the script itself, and then the daemon (it execs it), so Ctrl-C reaches the daemon, which
# stops cleanly and exits 0: no "make: *** ... Interrupt" line (make itself still ends by the SIGINT, status 130).
run: $(INSTALLED)
	@exec bash -c "$$RUN_SH"

# The same daemon in the background, then a text turn through rtaudiod-cli: the reply's transcript, the audio
# levels, the reply audio written to a WAV; everything it started is stopped at the end, or on Ctrl-C or failure.
demo: $(INSTALLED)
	@exec bash -c "$$DEMO_SH"

test: $(INSTALLED)
	$(VPY) -m pytest $(PYTEST_ARGS)

# Both implementations, as CI runs them: the C extension (.venv), then the pure-Python twins (.venv-noext).
test-both: $(INSTALLED)
	$(VPY) -m pytest $(PYTEST_ARGS)
	RTAUDIOD_NO_EXT=1 $(MAKE) test

# The C core alone, under AddressSanitizer + UndefinedBehaviorSanitizer; under ThreadSanitizer; cross-built for 32-bit
# ARM (ARMv7 and the ARMv6 of Raspberry Pi OS 32-bit) and run under qemu-arm. tests/reliability runs the last two.
ctest: $(STAMPS)/system
	$(MAKE) -C csrc/tests run

ctest-tsan: $(STAMPS)/system
	$(MAKE) -C csrc/tests tsan

ctest-armhf: $(STAMPS)/system
	$(MAKE) -C csrc/tests armhf

# The README's quick start on a Raspberry Pi's userland, emulated on this x86 machine (docs/platforms.md): Debian
# Bookworm arm64 or armhf from Debian's packages (mmdebstrap, cached in build/arm-userland/), run under qemu-user in a
# private user + mount namespace (scripts/arm-userland): a fresh clone of this tree's HEAD, `make setup` timed, each
# Python dependency as a wheel or built from source, `make run` with one question, `make test` on a subset. Slow
# (tens of minutes): outside CI. As root.
.PHONY: test-arm64 test-armhf
test-arm64: $(STAMPS)/system
	./scripts/arm-userland arm64

test-armhf: $(STAMPS)/system
	./scripts/arm-userland armhf

# Benchmarks (benchmarks/, outside the default test run): rtaudiod side by side with what a user would
# write instead, then the ratios (benchmarks/ratios.py). Absolute times on a shared VM are noisy.
BENCH_JSON ?= .benchmarks/latest.json

bench: $(INSTALLED)
	mkdir -p $(dir $(BENCH_JSON))
	$(VPY) -m pytest benchmarks -p no:cacheprovider --benchmark-only --benchmark-group-by=group \
	    --benchmark-columns=min,median,ops,rounds --benchmark-sort=name \
	    --benchmark-json=$(BENCH_JSON) $(PYTEST_ARGS)
	$(VPY) benchmarks/ratios.py $(BENCH_JSON)

# CPU of a 60 s full-duplex session against rtaudiod-sim (in its own process), over the same run with no session.
bench-session: $(INSTALLED)
	$(VPY) benchmarks/session_cpu.py --seconds 60

# Every benchmark once, untimed, each contender checked against rtaudiod's result (for CI; < 30 s), and the
# end-to-end harness in its quick mode (benchmarks/test_e2e_quick.py).
bench-smoke: $(BENCH_INSTALLED)
	$(VPY) -m pytest benchmarks -p no:cacheprovider --benchmark-disable -q $(PYTEST_ARGS)

# The end-to-end benchmark (benchmarks/e2e/, ~18 min: 26 rows, 17.5 min of them streaming): rtaudiod against the clients
# users would write instead, each in its own process against rtaudiod-sim; writes benchmarks/RESULTS.md and
# benchmarks/e2e-cpu.png. E2E_ARGS passes options on (--seconds 60 --other-seconds 30). The quick mode checks the
# harness, not the figures.
E2E_ARGS ?=
bench-e2e: $(BENCH_INSTALLED)
	$(VPY) -m benchmarks.e2e $(E2E_ARGS)

bench-e2e-quick: $(BENCH_INSTALLED)
	$(VPY) -m benchmarks.e2e --quick $(E2E_ARGS)

# Issue 17's PulseAudio target: rtaudiod on the null backend (the peers' microphone, and a sound card's 48 kHz stereo
# one), and on a private PulseAudio server natively (the pulse backend) and through PortAudio, 30 s each (~4 min);
# report in .benchmarks/e2e-pulse/.
bench-pulse: $(BENCH_INSTALLED)
	$(VPY) -m benchmarks.e2e --pulse $(E2E_ARGS)

# Issue 17's wake-ups: rtaudiod and the careful client on the duplex workload (20 s each; ~1 min), the context
# switches of each thread (Python's, the C audio path's, the libraries'); report in .benchmarks/e2e-wakeups/.
bench-wakeups: $(BENCH_INSTALLED)
	$(VPY) -m benchmarks.e2e --wakeups $(E2E_ARGS)

# Issue 17's jitter: the daemon against rtaudiod-sim --pace 1 with the service's arrival jitter, 20 replies:
# underruns per reply and the playout's start latency (benchmarks/jitter_playout.py; ~2 min).
bench-jitter: $(BENCH_INSTALLED)
	$(VPY) -m benchmarks.jitter_playout $(JITTER_ARGS)

# The [bench] extra (openai, pybase64, matplotlib, py-spy) on top of the package, once per change of pyproject.toml.
$(BENCH_INSTALLED): $(INSTALLED) pyproject.toml
	$(VPY) -m pip install -q --disable-pip-version-check -e '.[test,bench]'
	@touch $@

# On a device, as root: see scripts/install-device (PREFIX=, DESTDIR= pass through the environment).
install:
	./scripts/install-device

venv-of-another-python:
	@echo "make: $(VENV) was made from $(VENV_HOME), not $(PY_HOME) ($(PY)): making it again"

# Build products and stamps; the venvs stay (`rm -rf .venv .venv-noext` to make them again). The install stamps go
# with the in-place .so files, so the next target builds the extension again.
clean:
	rm -rf build dist *.egg-info .pytest_cache .benchmarks rtaudiod/_ext/*.c rtaudiod/_ext/*.cpp rtaudiod/_ext/*.so csrc/tests/build \
	    .venv/.stamp-installed .venv-noext/.stamp-installed .venv/.stamp-bench .venv-noext/.stamp-bench

# ---------------------------------------------------------------------------------------------------------------------
# The shell scripts behind `run` and `demo`. Kept here as written ($(value) passes them on unexpanded, in the
# environment of those two targets only) and run with bash, so they read as plain shell.

# The control socket a daemon started here uses: $RTAUDIOD_SOCKET when set, else the daemon's own default when this
# user can create it, else a private directory under /tmp (a non-root user with no $XDG_RUNTIME_DIR: su, a
# container). rtaudiod-cli looks in the last three places by itself: `try` needs --socket only for $RTAUDIOD_SOCKET.
define RTAUDIOD_SOCKET_SH
try=$VENV_DIR/bin/rtaudiod-cli
if [ -n "${RTAUDIOD_SOCKET:-}" ]; then
    socket=$RTAUDIOD_SOCKET
    try="$try --socket $socket"
elif [ "$(id -u)" = 0 ]; then
    socket=/run/rtaudiod/control.sock
elif [ -n "${XDG_RUNTIME_DIR:-}" ] && [ -w "$XDG_RUNTIME_DIR" ]; then
    socket=$XDG_RUNTIME_DIR/rtaudiod/control.sock
else
    dir=${TMPDIR:-/tmp}/rtaudiod-$(id -u)
    mkdir -p -m 700 "$dir"
    [ -O "$dir" ] || { echo "make: $dir belongs to someone else: set XDG_RUNTIME_DIR"; exit 1; }
    socket=$dir/control.sock
fi
cli="$VENV_DIR/bin/rtaudiod-cli --socket $socket"
daemon=("$VENV_DIR/bin/rtaudiod" --config examples/rtaudiod.toml --set "control.socket=$socket")
endef

define RTAUDIOD_RUN_SH
set -euo pipefail
eval "$SOCKET_SH"
if [ -n "${OPENAI_API_KEY:-}" ]; then
    echo "rtaudiod: OPENAI_API_KEY is set: talking to the service"
else
    echo "rtaudiod: no OPENAI_API_KEY: the offline simulator (rtaudiod-sim) answers, with what it heard"
fi
echo "rtaudiod: control socket $socket"
echo "rtaudiod: try, in another terminal in this directory:  $try say \"What can you do?\""
echo "rtaudiod: Ctrl-C stops it"
exec "${daemon[@]}"
endef

define RTAUDIOD_DEMO_SH
set -euo pipefail
eval "$SOCKET_SH"
out=$(mktemp -d "${TMPDIR:-/tmp}/rtaudiod-demo.XXXXXX")
pids=()
stop() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop EXIT
# Ctrl-C: stop what was started (the EXIT trap) and leave quietly, like `make run`.
trap 'echo "== interrupted: stopping what the demo started"; exit 0' INT
trap 'exit 143' TERM
echo "== starting the daemon (log: $out/rtaudiod.log), control socket $socket"
"${daemon[@]}" >"$out/rtaudiod.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    $cli status >/dev/null 2>&1 && break
    kill -0 "${pids[0]}" 2>/dev/null || { echo "make demo: the daemon exited:"; cat "$out/rtaudiod.log"; exit 1; }
    sleep 0.2
done
$cli status >/dev/null
grep -E "simulator|sound device|audio backend|talking to" "$out/rtaudiod.log" | sed 's/^/   log: /' || true
echo "== recording the assistant's audio: $try listen $out/reply.wav --replies 1"
$cli listen "$out/reply.wav" --replies 1 --seconds 60 >"$out/listen.log" 2>&1 &
pids+=($!)
# The recording must be subscribed before the question goes out, or the reply's first audio is missed.
for _ in $(seq 50); do
    $cli --json status | "$VENV_DIR/bin/python" -c 'import json, sys
sys.exit(not any("audio.output" in c.get("topics", []) for c in json.load(sys.stdin)["control"]["connections"]))' \
        && break
    sleep 0.1
done
question="Hello! What can you do for me?"
echo "== $try say \"$question\""
reply=$($cli say "$question")
echo "   you:       $question"
echo "   assistant: $reply"
wait "${pids[1]}"
# The reply came faster than real time (as the service sends it): let the speaker finish it.
for _ in $(seq 100); do
    [ "$($cli --json status | "$VENV_DIR/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["state"])')" \
        = ready ] && break
    sleep 0.1
done
echo "== levels and status: $try status"
$cli status | sed 's/^/   /'
"$VENV_DIR/bin/python" - "$out/reply.wav" <<'PY'
import sys, wave
import numpy as np
with wave.open(sys.argv[1]) as w:
    rate, pcm = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64)
level = 20 * np.log10(max(np.sqrt(np.mean(pcm ** 2)) if pcm.size else 0.0, 1.0) / 32768)
print(f"== the reply audio: {sys.argv[1]}, {pcm.size / rate:.2f} s at {rate} Hz mono, {level:.1f} dBFS rms")
PY
echo "== stopping the daemon"
stop
pids=()
trap - EXIT
echo "   stopped; the files stay in $out"
endef

run demo: export VENV_DIR := $(VENV)
run demo: export SOCKET_SH := $(value RTAUDIOD_SOCKET_SH)
run: export RUN_SH := $(value RTAUDIOD_RUN_SH)
demo: export DEMO_SH := $(value RTAUDIOD_DEMO_SH)
