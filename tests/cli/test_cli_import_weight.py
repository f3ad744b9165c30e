"""The daemon imports rtaudiod.cli when it starts its control socket (`command_line`, for its hint): that import must
not bring numpy or soxr's Python module into a daemon that never needs them (issue 17: a daemon in `always` mode
starts smaller; numpy alone added ~20 MB to its peak RSS). The CLI loads them only to convert a WAV. Nor does the
daemon load an HTTP client it needs only to mint ephemeral keys."""

import subprocess
import sys

import pytest

import rtaudiod

# The build without the extension (RTAUDIOD_NO_EXT=1) runs the core's pure-Python twins, which are numpy: there
# only soxr must stay out.
HEAVY = ("numpy", "soxr") if rtaudiod.backend() == "c" else ("soxr",)


def loaded_after(code: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {heavy!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_the_daemon_and_the_cli_module_load_no_numpy():
    assert loaded_after("import rtaudiod.daemon.daemon\nfrom rtaudiod.cli import command_line") == []


@pytest.mark.skipif(rtaudiod.backend() != "c", reason="without the extension numpy is loaded by the core anyway")
def test_converting_a_wav_still_loads_numpy_when_it_needs_it():
    # 8-bit PCM goes through numpy: the lazy import works where it is needed
    assert loaded_after("from rtaudiod import cli\nassert cli._to_pcm16(b'\\x80\\xff', 1, 8, 1, 'x') == "
                        "b'\\x00\\x00\\x00\\x7f'") == ["numpy"]


#: urllib.request brings http.client and the email package: 2.4 MB of resident memory (measured with VmRSS around
#: the import), for the ephemeral-key request only a `token_url` needs (session/credentials.py imports it there).
HTTP_CLIENT = ("urllib.request", "http.client", "email")


def test_the_daemon_loads_no_http_client_unless_it_mints_a_key():
    assert loaded_after("import rtaudiod.daemon.main\nimport rtaudiod.daemon.daemon", HTTP_CLIENT) == []
    # the lazy import is there when a key is minted (an unreachable token_url: the request was built and tried)
    mint = ("from rtaudiod.session.credentials import mint_ephemeral_key\nfrom rtaudiod.errors import SessionError\n"
            "try:\n    mint_ephemeral_key('http://127.0.0.1:9/token', 'm', 'ga', 1.0)\nexcept SessionError:\n    pass")
    assert loaded_after(mint, HTTP_CLIENT) == list(HTTP_CLIENT)


@pytest.mark.skipif(rtaudiod.backend() != "c", reason="the canceller is C: the twins build never loads it")
def test_an_engine_that_cancels_no_echo_never_loads_the_canceller():
    """The echo extension brings libwebrtc-audio-processing (~1.4 MB resident): the null backend, or
    `echo_cancel = "off"`, has no echo to cancel, so the engine's choice must not ask whether it exists."""
    start = ("from rtaudiod.audio import AudioConfig, AudioEngine\n"
             "AudioEngine(AudioConfig(backend='null', echo_cancel={mode!r})).start().close()")
    echo = ("rtaudiod._ext._echo",)
    assert loaded_after(start.format(mode="auto"), echo) == []
    assert loaded_after(start.format(mode="off"), echo) == []
    assert loaded_after(start.format(mode="internal"), echo) == list(echo)  # asked for: it is there
