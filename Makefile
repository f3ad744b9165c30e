# rtaudiod developer entry points. Every target installs what it needs first.
PY ?= python3
PYTEST_ARGS ?=

.PHONY: setup system python run test test-both ctest bench bench-smoke bench-session clean

setup: system python

system:
	./scripts/install-system-deps

# Editable install: builds the Cython extensions in place (RTAUDIOD_NO_EXT=1 skips them).
python:
	$(PY) -m pip install -q -e '.[test]'

# The daemon's main job. Until the daemon lands, the local Realtime simulator (see README).
run: setup
	$(PY) -m rtaudiod.sim --host 127.0.0.1 --port 8765 --dialect ga

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

# Both implementations, as CI runs them: the C extension, then the pure-Python twins.
test-both: setup
	$(PY) -m pytest $(PYTEST_ARGS)
	RTAUDIOD_NO_EXT=1 $(PY) -m pytest $(PYTEST_ARGS)

# The C core alone, under AddressSanitizer + UndefinedBehaviorSanitizer.
ctest: system
	$(MAKE) -C csrc/tests run

# Benchmarks (benchmarks/, outside the default test run): rtaudiod side by side with what a user would
# write instead, then the ratios (benchmarks/ratios.py). Absolute times on a shared VM are noisy.
BENCH_JSON ?= .benchmarks/latest.json

bench: setup
	mkdir -p $(dir $(BENCH_JSON))
	$(PY) -m pytest benchmarks -p no:cacheprovider --benchmark-only --benchmark-group-by=group \
	    --benchmark-columns=min,median,ops,rounds --benchmark-sort=name \
	    --benchmark-json=$(BENCH_JSON) $(PYTEST_ARGS)
	$(PY) benchmarks/ratios.py $(BENCH_JSON)

# CPU of a 60 s full-duplex session against rtaudiod-sim (in its own process), over the same run with no session.
bench-session: setup
	$(PY) benchmarks/session_cpu.py --seconds 60

# Every benchmark once, untimed, each contender checked against rtaudiod's result (for CI; < 30 s).
bench-smoke: setup
	$(PY) -m pytest benchmarks -p no:cacheprovider --benchmark-disable -q $(PYTEST_ARGS)

clean:
	rm -rf build dist *.egg-info .pytest_cache .benchmarks rtaudiod/_ext/*.c rtaudiod/_ext/*.so csrc/tests/build
