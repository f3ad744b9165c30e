"""Shared fixtures. `impl` runs a test on the C extension (id `c`) and on the pure-Python twin (id `py`)."""

import importlib
import os
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, settings

import rtaudiod

# Hypothesis profiles, chosen by HYPOTHESIS_PROFILE: `ci` (default), a deeper `thorough`, and `emulated` for an
# ARM userland under qemu (scripts/arm-userland-check: every property still runs, on fewer examples).
settings.register_profile("ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("emulated", max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
settings.register_profile("thorough", max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

IMPLS = {"c": "rtaudiod._ext._{}", "py": "rtaudiod._py.{}"}


def _load_impl(name: str) -> SimpleNamespace:
    pattern = IMPLS[name]
    return SimpleNamespace(
        name=name,
        ring=importlib.import_module(pattern.format("ring")),
        codecs=importlib.import_module(pattern.format("codecs")),
        framing=importlib.import_module(pattern.format("framing")),
    )


@pytest.fixture(params=["c", "py"])
def impl(request) -> SimpleNamespace:
    """Both implementations of the C core's API: impl.ring, impl.codecs, impl.framing."""
    if request.param == "c" and rtaudiod.backend() != "c":
        pytest.skip("C extension not in use (RTAUDIOD_NO_EXT=1 run tests the twins only)")
    return _load_impl(request.param)
