"""audio.echo_cancel: the choice of canceller and its one-line reason (rtaudiod/audio/echo.py), the refusal of
`internal` in the pure-Python build, and the probe of a real sound server's echo-cancelled sources."""

import pytest

import rtaudiod
from rtaudiod.audio import AudioConfig
from rtaudiod.audio.echo import SoundServer, choose, echo_sources, internal_available, probe_sound_server
from rtaudiod.daemon.config import ConfigError, load_config

NO_SERVER = SoundServer()
AEC_SERVER = SoundServer(echo_sources=frozenset({"aec_src"}), default_source="aec_src")


def pick(mode, *, backend="pyaudio", capture=True, playout=True, input_device=None, server=NO_SERVER,
         internal=True, half_duplex=False):
    return choose(mode, backend=backend, capture=capture, playout=playout, input_device=input_device,
                  server=server, internal=internal, half_duplex=half_duplex)


def test_auto_prefers_the_sound_servers_echo_cancelled_source():
    choice = pick("auto", server=AEC_SERVER)
    assert choice.canceller == "system" and "'aec_src'" in choice.reason
    # named in the config, even when it is not the server's default
    named = SoundServer(echo_sources=frozenset({"aec_src"}), default_source="room.monitor")
    assert pick("auto", input_device="aec", server=named).canceller == "system"
    # a `pulse` device records the default source, which is not echo-cancelled here
    assert pick("auto", input_device="pulse", server=named).canceller == "internal"


def test_auto_uses_the_internal_canceller_when_the_daemon_has_both_devices():
    choice = pick("auto", input_device="hw:1,0")
    assert choice.canceller == "internal" and "plays to the speaker and records the microphone" in choice.reason
    assert "(webrtc)" in choice.reason
    assert "(speex)" in choose("auto", backend="pyaudio", capture=True, playout=True, input_device=None,
                               server=NO_SERVER, internal=True, engine="speex").reason
    assert pick("auto", backend="wav").canceller == "internal"  # the file harness


@pytest.mark.parametrize("kwargs, why", [
    ({"backend": "null"}, "null backend"), ({"capture": False}, "capture is off"),
    ({"playout": False}, "playout is off"), ({"half_duplex": True}, "half_duplex"),
])
def test_auto_is_off_when_there_is_no_echo_to_cancel(kwargs, why):
    choice = pick("auto", **kwargs)
    assert choice.canceller == "off" and why in choice.reason


def test_auto_without_the_c_extension_says_so():
    choice = pick("auto", internal=False)
    assert choice.canceller == "off" and "pure-Python" in choice.reason and "half_duplex" in choice.reason
    assert pick("auto", internal=False, server=AEC_SERVER).canceller == "system"


def test_explicit_modes():
    assert pick("off", server=AEC_SERVER).canceller == "off"
    assert pick("internal", server=AEC_SERVER).canceller == "internal"
    assert "already the sound server's" in pick("internal", server=AEC_SERVER).reason
    trusted = pick("system", input_device="hw:1,0")
    assert trusted.canceller == "system" and "trusting" in trusted.reason and "none found" in trusted.reason
    with pytest.raises(ValueError, match="pure-Python"):
        pick("internal", internal=False)
    with pytest.raises(ValueError, match="must be one of"):
        pick("on")


def test_internal_is_available_exactly_in_the_c_build():
    assert internal_available() == (rtaudiod.backend() == "c")


def test_config_refuses_internal_in_the_pure_python_build_only():
    if internal_available():
        assert AudioConfig(echo_cancel="internal").echo_cancel == "internal"
        assert load_config(None, ["audio.echo_cancel=internal"], env={}).audio.echo_cancel == "internal"
    else:
        with pytest.raises(ConfigError, match='echo_cancel = "internal" needs the C extension'):
            load_config(None, ["audio.echo_cancel=internal"], env={})
    assert AudioConfig().echo_cancel == "auto"  # the default: both builds start with it (the twins run none)
    with pytest.raises(ConfigError, match="allowed: 'auto', 'internal', 'off', 'system'"):
        load_config(None, ["audio.echo_cancel=on"], env={})


def test_the_twins_build_has_no_canceller_and_says_why():
    from rtaudiod._py import echo

    assert echo.ENGINES == ()
    with pytest.raises(RuntimeError, match="the canceller is C only"):
        echo.EchoCanceller(48000)


def test_echo_engine_setting():
    assert AudioConfig().echo_engine == "webrtc"
    assert load_config(None, ["audio.echo_engine=speex"], env={}).audio.echo_engine == "speex"
    assert load_config(None, ["audio.echo_engine=webrtc+speex"], env={}).audio.echo_engine == "webrtc+speex"
    with pytest.raises(ConfigError, match="allowed: 'speex', 'webrtc'"):
        load_config(None, ["audio.echo_engine=nlms"], env={})


def test_echo_sources_skip_monitors():
    listing = ("0\tspk.monitor\tmodule-null-sink.c\ts16le 1ch 48000Hz\tIDLE\n"
               "2\taec_src\tmodule-echo-cancel.c\tfloat32le 1ch 32000Hz\tIDLE\n"
               "3\taec_sink.monitor\tmodule-echo-cancel.c\tfloat32le 1ch 32000Hz\tIDLE\n"
               "5\techo-cancel-source\tPipeWire\tfloat32le 1ch 48000Hz\tSUSPENDED\n")
    assert echo_sources(listing) == ["aec_src", "echo-cancel-source"]


def test_probe_finds_module_echo_cancel_on_a_real_pulseaudio(pulse_server):
    """TESTING.md's reference canceller: module-echo-cancel on the private server; its source becomes the default."""
    assert probe_sound_server(pulse_server.env).echo_sources == frozenset()
    module = pulse_server.pactl("load-module", "module-echo-cancel", "aec_method=webrtc", "source_master=rtmic.monitor",
                                "sink_master=rtspk", "source_name=rt_aec_src", "sink_name=rt_aec_sink").strip()
    try:
        server = probe_sound_server(pulse_server.env)
        assert server.echo_sources == frozenset({"rt_aec_src"})
        # named in the config: the echo-cancelled source, whatever the default
        assert choose("auto", backend="pyaudio", capture=True, playout=True, input_device="rt_aec", server=server,
                      internal=True).canceller == "system"
        # the default source (what `pulse`/`default` records), as a user who wired it by hand would set it
        pulse_server.pactl("set-default-source", "rt_aec_src")
        server = probe_sound_server(pulse_server.env)
        assert server.default_source == "rt_aec_src"
        choice = choose("auto", backend="pyaudio", capture=True, playout=True, input_device="pulse", server=server,
                        internal=internal_available())
        assert choice.canceller == "system" and "'rt_aec_src'" in choice.reason
    finally:
        pulse_server.pactl("set-default-source", "rtmic.monitor")
        pulse_server.pactl("unload-module", module)
    assert probe_sound_server({"PATH": "/nonexistent"}) == SoundServer()
