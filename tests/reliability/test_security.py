"""Security of the daemon process: the API key appears in no log line (debug level), status, event, error message,
/proc/<pid>/cmdline or /proc/<pid>/environ (given as a file); the control socket is 0660 and strangers are refused,
by the file's permission and, past it, by their peer credentials; no control command makes the daemon open, create
or remove a file (traced with strace while every command runs with hostile arguments)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from reliahelpers import KEY, daemon_config, wait_until
from rtaudiod.control import COMMANDS, TOPICS, Client, ControlError
from rtaudiod.sim import Simulator

FAST = {"pace": 0, "response_latency": 0, "first_audio_latency": 0, "transcription_latency": 0}
STRANGER = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
# Past the file's permission (CAP_DAC_OVERRIDE): only the daemon's SO_PEERCRED check is left to refuse it.
STRANGER_PAST_THE_FILE = [*STRANGER, "--inh-caps=+dac_override", "--ambient-caps=+dac_override"]


def leaks(text: str) -> bool:
    return KEY in text or KEY[3:15] in text or KEY[-12:] in text


@pytest.fixture
def open_dir():
    """A directory uid 65534 can traverse (pytest's tmp_path is under a 0700 directory)."""
    path = Path(tempfile.mkdtemp(prefix="rtad-sec-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_key_appears_nowhere(tmp_path, start_daemon):
    key_file = tmp_path / "openai_api_key"
    key_file.write_text(KEY + "\n")
    key_file.chmod(0o600)
    with Simulator(dialect="ga", api_key=KEY, **FAST) as sim:
        config = daemon_config(tmp_path, sim.url)
        config.write_text(config.read_text() + f'[daemon]\nlog_level = "debug"\napi_key_file = "{key_file}"\n')
        daemon = start_daemon(config, env={"OPENAI_API_KEY": ""}).ready()
        client = daemon.client()
        client.subscribe(*TOPICS)
        client.send_text("What is my key")
        client.wait_for("transcript.assistant", lambda e: e.data.get("final"), timeout=15)
        # the service quotes (parts of) a key in its errors
        sim.send_raw([json.dumps({"type": "error", "event_id": "e1", "error": {
            "type": "invalid_request_error", "code": "some_error", "param": None, "event_id": None,
            "message": f"Incorrect API key provided: {KEY}. You can find your API key at ..."}})])
        told = client.wait_for("error", lambda e: e.data.get("code") == "some_error", timeout=10)
        errors = []
        for bad in ({"api_key": KEY}, {"instructions": 5}, {"base_url": "ws://127.0.0.1:1"}):
            with pytest.raises(ControlError) as refused:
                client.update(**bad)
            errors.append(str(refused.value))
        daemon.proc.send_signal(signal.SIGHUP)
        status = client.status()
        events = []
        while (event := client.next_event(0.5)) is not None:
            events.append(repr(event.data))
        proc = Path(f"/proc/{daemon.pid}")
        cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        environ = (proc / "environ").read_bytes().decode(errors="replace")
        assert status["state"] and status["settings"]
        for where, text in (("status", json.dumps(status)), ("an event", "\n".join(events + [repr(told.data)])),
                            ("an error message", "\n".join(errors)), ("cmdline", cmdline),
                            ("environ", environ)):
            assert not leaks(text), f"the key is in {where}"
        daemon.stop()
        log = daemon.log
        assert not leaks(log), "the key is in the log"


def socat(path: str, data: bytes, *prefix: str) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, "socat", "-t", "2", "-", f"UNIX-CONNECT:{path}"], input=data,
                          capture_output=True, timeout=20)


def test_the_socket_refuses_strangers(open_dir, start_daemon):
    if not (shutil.which("socat") and shutil.which("setpriv")):
        pytest.skip("needs socat and setpriv")
    with Simulator(dialect="ga", api_key=KEY, **FAST) as sim:
        config = daemon_config(open_dir, sim.url)
        daemon = start_daemon(config).ready()
        st = os.stat(daemon.socket)
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660 and st.st_uid == os.getuid()
        client = daemon.client()
        # by the file's permission: cannot even connect
        done = socat(daemon.socket, b'{"command": "status"}\n', *STRANGER)
        assert done.returncode != 0 and b"Permission denied" in done.stderr and not done.stdout
        # past it: the daemon reads its credentials and refuses it with one line, before it can send anything
        done = socat(daemon.socket, b'{"id": 1, "command": "status"}\n', *STRANGER_PAST_THE_FILE)
        replies = [json.loads(line) for line in done.stdout.splitlines()]
        assert len(replies) == 1 and replies[0]["error"]["code"] == "forbidden", replies
        assert KEY not in done.stdout.decode()
        assert client.status()["control"]["refused"] == 1
        assert client.ping() > 0
        daemon.assert_healthy()


# Every command, with arguments a hostile client might try (paths, keys that are not settable).
HOSTILE = {
    "ping": [{}], "status": [{}], "turn.start": [{}], "turn.end": [{}], "turn.cancel": [{}],
    "text.send": [{"text": "../../../../etc/shadow"}, {"text": "/etc/passwd", "respond": False}],
    "response.create": [{"instructions": "file:///etc/shadow"}], "response.cancel": [{}],
    "session.update": [{"settings": {"instructions": "/etc/shadow"}}, {"settings": {"api_key_file": "/etc/shadow"}},
                       {"settings": {"wav_output": "/etc/passwd"}}, {"settings": {"socket": "/tmp/x.sock"}},
                       {"settings": {"base_url": "ws://127.0.0.1:1"}}, {"settings": {"tools": [{"name": "/etc"}]}},
                       # an MCP server whose "secret" is a file of the client's choosing, with or without its type
                       {"settings": {"tools": [{"type": "mcp", "server_label": "x", "server_url": "https://x.invalid",
                                                "secret_headers": {"A": "/etc/shadow"}}]}},
                       {"settings": {"tools": [{"name": "x", "authorization": "/etc/shadow"}]}}],
    "image.send": [{"data": "L2V0Yy9zaGFkb3c=", "text": "/etc/shadow"}, {"data": "/etc/passwd"}],
    "mcp.approve": [{"approval_request_id": "../../etc/shadow", "approve": True}],
    "announce": [{"text": "/etc/shadow", "now": True, "listen": True}, {"text": "$(cat /etc/passwd)"}],
    "mic.mute": [{}], "mic.unmute": [{}], "playback.stop": [{}],
    "audio.input": [{"rate": 24000, "end": True}], "subscribe": [{"topics": ["../../etc/passwd"]}],
    "unsubscribe": [{"topics": ["state"]}],
    "tool.register": [{"name": "../../etc/passwd"}, {"name": "read_file", "description": "/etc/shadow",
                                                     "parameters": {"$ref": "file:///etc/shadow"}}],
    "tool.unregister": [{"name": "/etc/passwd"}], "tool.result": [{"call_id": "../../etc/shadow", "output": "x"}],
    "listen.mode": [{"mode": "/etc/passwd"}, {"mode": "../../etc/shadow"}, {}],
}


def test_no_command_touches_a_file(tmp_path, start_daemon):
    if not shutil.which("strace"):
        pytest.skip("needs strace (apt-get install strace)")
    assert set(HOSTILE) == set(COMMANDS), "a new command: add its hostile arguments here"
    with Simulator(dialect="ga", api_key=KEY, **FAST) as sim:
        daemon = start_daemon(daemon_config(tmp_path, sim.url)).ready()
        client = daemon.client()
        trace = tmp_path / "trace.txt"
        attached = tmp_path / "strace.err"
        with open(attached, "w") as err:
            # -p of a process attaches all its threads; -f follows those started later
            tracer = subprocess.Popen(["strace", "-f", "-e", "trace=%file", "-o", str(trace), "-p", str(daemon.pid)],
                                      stdout=subprocess.DEVNULL, stderr=err)
        try:
            wait_until(lambda: "attached" in attached.read_text(), 15, "strace to be attached")
            answered = 0
            for name, variants in HOSTILE.items():
                for args in variants:
                    try:
                        client.request(name, **args)
                    except ControlError:
                        pass
                    answered += 1
            client.request("status")
            time.sleep(0.3)
            # the control that the trace works: a reload reads the configuration file (not a command)
            daemon.proc.send_signal(signal.SIGHUP)
            wait_until(lambda: "rtaudiod.toml" in trace.read_text(), 10, "the reload to read its configuration")
        finally:
            tracer.send_signal(signal.SIGINT)
            tracer.wait(10)
        calls = [line for line in trace.read_text().splitlines() if re.search(r"\b(open|openat|unlink|unlinkat|"
                 r"rename|renameat2?|mkdir|mkdirat|creat|truncate|chmod|fchmodat|chown|symlink|link)\(", line)]
        # what may be opened: a peer's /proc/<pid>/status (its supplementary groups, for the credential check). (The
        # CPU count glibc's malloc read past 8 arenas is gone: the daemon caps them at 2, rtaudiod/daemon/arenas.py.)
        allowed = re.compile(r'"/proc/\d+/status"')
        config = next(i for i, line in enumerate(calls) if "rtaudiod.toml" in line)
        touched = [line for line in calls[:config] if not allowed.search(line)]
        assert answered == sum(map(len, HOSTILE.values())) and not touched, "\n".join(touched[:20])
        assert client.ping() > 0
        daemon.assert_healthy()
