"""The daemon's configuration: file, environment and --set overrides, where the key comes from, and errors that
name the key, the value and what is wrong."""

from __future__ import annotations

import json
import logging

import pytest

from pulse_server import pulse_server  # noqa: F401 - the session fixture
from rtaudiod.daemon.config import ConfigError, load_config
from rtaudiod.daemon.logs import JournalFormatter
from rtaudiod.daemon.notify import Notifier

KEY = "sk-config-test-0123456789"


def write(tmp_path, text: str):
    path = tmp_path / "rtaudiod.toml"
    path.write_text(text)
    return str(path)


def test_file_then_environment_then_command_line(tmp_path):
    path = write(tmp_path, '[session]\nvoice = "marin"\ninstructions = "from the file"\n'
                           '[audio]\nlatency = "low"\n[session.turn_detection]\nthreshold = 0.7\n')
    env = {"RTAUDIOD_SESSION_INSTRUCTIONS": "from the environment", "RTAUDIOD_AUDIO_GAIN_DB": "3.5"}
    config = load_config(path, ["session.voice=cedar", "session.turn_detection.silence_duration_ms=400"], env)
    assert config.session.voice == "cedar"  # --set wins over the file
    assert config.session.instructions == "from the environment"  # the environment wins over the file
    assert config.audio.latency == "low" and config.audio.gain_db == 3.5  # a TOML number from the environment
    assert config.session.turn_detection.threshold == 0.7
    assert config.session.turn_detection.silence_duration_ms == 400


def test_one_audio_format_for_the_wire_and_the_engine():
    config = load_config(None, ["session.audio_format=g711_ulaw"], {})
    assert config.audio.session_format == "g711_ulaw" and config.audio.session_rate == 8000
    with pytest.raises(ConfigError, match="differ"):
        load_config(None, ["session.audio_format=g711_ulaw", "audio.session_format=pcm16"], {})


@pytest.mark.parametrize("setting,names", [
    ("session.voice=alloyy", ["voice 'alloyy'", "alloy, ash"]),
    ("audio.latency=fast", ["audio.latency", "'fast'", "allowed: ", "'low'", "'balanced'", "'high'"]),
    ("session.reconnect_attempts=many", ["session.reconnect_attempts", "Expected `int | null`", "'many'"]),
    ("session.turn_detection.type=push", ["session.turn_detection.type", "'push'", "allowed: ", "'semantic_vad'", "'none'"]),
    ("control.sockett=/tmp/x", ["control", "sockett"]),
    ("nosuch.key=1", ["'nosuch.key' is not a setting"]),
])
def test_errors_name_the_key_and_the_value(setting, names):
    with pytest.raises(ConfigError) as e:
        load_config(None, [setting], {})
    for name in names:
        assert name in str(e.value)
    assert "\n" not in str(e.value)  # one line, as systemd's status shows it


def test_a_broken_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[session\nvoice = 1\n"), [], {})
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "missing.toml"), [], {})


def test_the_key_comes_from_the_credential_first_and_is_never_shown(tmp_path):
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "openai_api_key").write_text(KEY + "\n")  # systemd-creds files often end in a newline
    key_file = tmp_path / "key"
    key_file.write_text("sk-from-the-file-000000\n")
    env = {"CREDENTIALS_DIRECTORY": str(creds), "OPENAI_API_KEY": "sk-from-env-0000000000"}
    config = load_config(None, [f"daemon.api_key_file={key_file}"], env)
    assert config.session.api_key == KEY
    assert "systemd credential" in config.key_source
    shown = json.dumps(config.masked()) + repr(config)
    assert KEY not in shown and "sk-from" not in shown
    del env["CREDENTIALS_DIRECTORY"]
    assert load_config(None, [f"daemon.api_key_file={key_file}"], env).session.api_key == "sk-from-the-file-000000"
    assert load_config(None, [], env).session.api_key == "sk-from-env-0000000000"
    with pytest.raises(ConfigError, match="api_key_file"):
        load_config(None, [f"daemon.api_key_file={tmp_path / 'nope'}"], {})


def test_notifier_speaks_the_sd_notify_protocol(tmp_path):
    import socket

    path = str(tmp_path / "notify")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(2)
    try:
        notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "3000000"})
        assert notifier.watchdog_s == 3.0
        notifier.ready("ready, control /run/x")
        assert server.recv(4096) == b"READY=1\nSTATUS=ready, control /run/x"
        notifier.watchdog()
        assert server.recv(4096) == b"WATCHDOG=1"
        notifier.close()
    finally:
        server.close()
    assert Notifier({}).send("READY=1") is False  # not under systemd: nothing to do, no error


def test_journal_lines_carry_their_priority():
    fmt = JournalFormatter("%(name)s: %(message)s")
    record = logging.LogRecord("rtaudiod.session", logging.WARNING, __file__, 1, "two\nlines", None, None)
    assert fmt.format(record) == "<4>rtaudiod.session: two\n<4>lines"


def test_a_reload_after_the_null_fallback_does_not_reopen_the_audio():
    from rtaudiod.daemon import Daemon

    overrides = ["audio.output_device=no-such-device-xyz", "audio.input_device=no-such-device-xyz"]
    daemon = Daemon(load_config(None, overrides, {}))
    daemon.engine = daemon._start_audio()  # no such device: the null backend
    try:
        assert daemon.engine.config.backend == "null" and daemon.config.audio.backend == "auto"
        stream = daemon.engine.output_stream
        daemon._apply_reload(load_config(None, overrides, {}))  # SIGHUP with nothing changed
        assert daemon.engine.output_stream is stream  # not reopened
        assert daemon.engine.config.backend == "null"
    finally:
        daemon.stop()


def test_the_null_fallback_lets_go_of_portaudio(monkeypatch, pulse_server):
    """The failed engine's PortAudio is terminated: left initialised, it keeps the device list of the moment it
    started, and a sound server that appears later is never seen by the process."""
    from rtaudiod.audio import AudioConfig, AudioEngine
    from rtaudiod.daemon import Daemon

    monkeypatch.setenv("PULSE_SERVER", f"unix:{pulse_server.runtime_dir}/no-such-socket")  # no sound server yet
    daemon = Daemon(load_config(None, ["audio.output_device=pulse", "audio.input_device=pulse"], {}))
    daemon.engine = daemon._start_audio()
    try:
        assert daemon.engine.config.backend == "null"
    finally:
        daemon.stop()
    monkeypatch.setenv("PULSE_SERVER", pulse_server.env["PULSE_SERVER"])  # the sound server is up now
    with AudioEngine(AudioConfig(backend="pyaudio", output_device="pulse", capture=False)) as engine:
        assert engine.status()["output"]["device"] == "pulse"


def readable_copy_of(module: str) -> str:
    """A world-readable directory holding the packages that importing `module` loads from outside the standard
    library (rtaudiod from the checkout, msgspec, numpy, ... from the venv), for a process of another user: the
    checkout and its venv may lie in a private directory (a home of mode 0700, as root's is), which that user
    cannot read (issue 19, 7d). The caller removes it."""
    import shutil
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    # What the import loads, asked of a fresh interpreter (this one has pytest's plugins loaded too).
    listing = ("import site, sys, pathlib, importlib; importlib.import_module(sys.argv[1]); "
               "roots = {pathlib.Path(p).resolve() for p in site.getsitepackages()}; "
               "roots.add(pathlib.Path(sys.modules['rtaudiod'].__file__).resolve().parents[1]); "
               "files = (pathlib.Path(m.__file__).resolve() for n, m in list(sys.modules.items()) "
               "         if '.' not in n and not n.startswith('__editable__') and getattr(m, '__file__', None)); "
               "print('\\n'.join(str(f) for f in files if any(r in f.parents for r in roots)))")
    found = subprocess.run([sys.executable, "-c", listing, module], capture_output=True, text=True, check=True,
                           timeout=60).stdout.split()
    out = Path(tempfile.mkdtemp(prefix="rtaudiod-readable-"))
    for path in map(Path, found):
        source = path.parent if path.name == "__init__.py" else path
        if source.is_dir():
            shutil.copytree(source, out / source.name, ignore=shutil.ignore_patterns("__pycache__"))
            libs = source.parent / f"{source.name}.libs"  # a wheel's vendored shared libraries (numpy.libs)
            if libs.is_dir():
                shutil.copytree(libs, out / libs.name)
        else:
            shutil.copy2(source, out / source.name)
    for path in [out, *out.rglob("*")]:
        path.chmod(0o755 if path.is_dir() or path.suffix == ".so" else 0o644)
    return str(out)


def test_the_control_socket_defaults_to_the_runtime_directory():
    import shutil
    import subprocess
    import sys

    from rtaudiod.daemon.config import ControlSettings
    default = ControlSettings()
    assert default.socket_path({"RUNTIME_DIRECTORY": "/run/rtaudiod"}) == "/run/rtaudiod/control.sock"
    # systemd lists every RuntimeDirectory= colon-separated: the first is ours
    assert default.socket_path({"RUNTIME_DIRECTORY": "/run/a:/run/b"}) == "/run/a/control.sock"
    assert default.socket_path({}) == "/run/rtaudiod/control.sock"
    assert default.socket_path({"XDG_RUNTIME_DIR": "/run/user/0"}) == "/run/rtaudiod/control.sock"  # root: the system's
    assert ControlSettings(socket="/tmp/x.sock").socket_path({"RUNTIME_DIRECTORY": "/run/r"}) == "/tmp/x.sock"
    # a user's own daemon (not root) goes under its XDG runtime directory, and /run without one. The other user runs
    # the base interpreter, isolated, on a readable copy of what the import needs: it may not read the checkout.
    readable = readable_copy_of("rtaudiod.daemon.config")
    code = (f"import sys; sys.path.insert(0, {readable!r}); from rtaudiod.daemon.config import ControlSettings as C; "
            "print(C().socket_path({'XDG_RUNTIME_DIR': '/run/user/65534'})); print(C().socket_path({}))")
    try:
        out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                              getattr(sys, "_base_executable", sys.executable), "-I", "-c", code],
                             capture_output=True, text=True, timeout=30)
    finally:
        shutil.rmtree(readable)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["/run/user/65534/rtaudiod/control.sock", "/run/rtaudiod/control.sock"]


def test_an_error_on_a_whole_table_hides_the_api_key():
    # temperature is checked against the whole [session] table, so the error shows the table; the key it holds
    # (from the environment here) must not be in the message
    with pytest.raises(ConfigError) as err:
        load_config(None, ["session.temperature=2.0"], {"OPENAI_API_KEY": KEY})
    assert "temperature" in str(err.value) and KEY not in str(err.value)
