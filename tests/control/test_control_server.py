"""The server as a daemon component: the socket file, who may connect, socat by hand, clients that stop reading,
input that cannot be framed, half-closed connections, ordering, and a slow command beside fast ones."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from controlhelpers import wait_until
from rtaudiod.control import MAX_LINE, MAX_PAYLOAD, Client, ControlError, ControlServer

assert shutil.which("socat") and shutil.which("setpriv"), "socat and setpriv are required (scripts/install-system-deps)"

LONG = ("Please tell me everything about the weather in Paris tomorrow morning, and then about the sea, the wind, "
        "the mountains, the rivers and the old stone bridges of the city.")


def socat(path: str, lines: bytes, *prefix: str, timeout: float = 10) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, "socat", "-t", "5", "-", f"UNIX-CONNECT:{path}"], input=lines,
                          capture_output=True, timeout=timeout)


def messages(out: bytes) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture
def open_dir():
    """A directory uid 65534 can traverse (pytest's tmp_path is under a 0700 directory)."""
    path = tempfile.mkdtemp(prefix="rtad-ctl-", dir="/tmp")
    os.chmod(path, 0o755)
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


# ------------------------------------------------------------------------------------------------ the socket file
@pytest.mark.parametrize("umask", [0o000, 0o077])
def test_the_socket_is_0660_whatever_the_umask(make_stack, tmp_path, umask):
    old = os.umask(umask)
    try:
        stack = make_stack(path=tmp_path / "c.sock")
    finally:
        os.umask(old)
    st = os.stat(stack.path)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary name left


def test_the_socket_group_is_set(make_stack, tmp_path):
    stack = make_stack(path=tmp_path / "c.sock", server_kwargs={"group": 65534})
    assert os.stat(stack.path).st_gid == 65534


def test_a_stale_socket_is_replaced_and_removed_at_stop(stack, tmp_path):
    path = tmp_path / "stale.sock"
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(path))
    dead.close()  # a crash: the file stays, nobody listens
    stale_inode = os.stat(path).st_ino
    server = ControlServer(stack.session, path).start()
    try:
        assert os.stat(path).st_ino != stale_inode
        with Client(str(path)) as c:
            assert c.ping() > 0
    finally:
        server.stop()
    assert not path.exists()


def test_a_live_socket_is_not_taken_over(stack, tmp_path):
    path = tmp_path / "live.sock"
    other = socket.socket(socket.AF_UNIX)  # someone else's live daemon
    other.bind(str(path))
    other.listen()
    try:
        with pytest.raises(ControlError) as e:
            ControlServer(stack.session, path).start()
        assert e.value.code == "socket_in_use" and "listening" in str(e.value)
        with pytest.raises(ControlError) as e:  # and a second server on the first one's path
            ControlServer(stack.session, stack.path).start()
        assert e.value.code == "socket_in_use"
    finally:
        other.close()
    assert stack.client.ping() > 0


def test_a_file_that_is_not_a_socket_is_left_alone(stack, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("mine")
    with pytest.raises(ControlError) as e:
        ControlServer(stack.session, path).start()
    assert "not a socket" in str(e.value) and path.read_text() == "mine"


def test_stop_leaves_a_successors_socket_alone(stack, tmp_path):
    path = tmp_path / "s.sock"
    server = ControlServer(stack.session, path).start()
    os.unlink(path)
    successor = socket.socket(socket.AF_UNIX)
    successor.bind(str(path))
    try:
        server.stop()
        assert path.exists()
    finally:
        successor.close()


# ------------------------------------------------------------------------------------------------ credentials
def test_a_stranger_is_refused_with_one_forbidden_line(make_stack, open_dir):
    stack = make_stack(path=open_dir / "c.sock", server_kwargs={"mode": 0o666})
    done = socat(stack.path, b'{"id": 1, "command": "status"}\n', "setpriv", "--reuid=65534", "--regid=65534",
                 "--clear-groups")
    (error,) = messages(done.stdout)
    assert error["id"] is None and error["error"]["code"] == "forbidden"
    assert stack.server.stats["refused"] == 1 and stack.client.ping() > 0


def test_without_write_permission_a_stranger_cannot_even_connect(make_stack, open_dir):
    stack = make_stack(path=open_dir / "c.sock")  # 0660 root:root
    done = socat(stack.path, b'{"command": "ping"}\n', "setpriv", "--reuid=65534", "--regid=65534",
                 "--clear-groups")
    assert done.returncode != 0 and b"Permission denied" in done.stderr and not done.stdout
    assert stack.server.stats["refused"] == 0


@pytest.mark.parametrize("how, server_kwargs, creds", [
    ("uid", {"allowed_uids": (65534,)}, ["--regid=65534", "--clear-groups"]),
    ("gid", {"allowed_gids": (65534,)}, ["--regid=65534", "--clear-groups"]),
    ("supplementary group", {"allowed_gids": (4321,)}, ["--regid=65534", "--groups=4321"]),
    ("socket group", {"group": 4321, "mode": 0o660}, ["--regid=65534", "--groups=4321"]),
    # no group configured: the socket is the daemon's group's, and its members pass the mode and the check alike
    ("daemon's group", {"mode": 0o660}, ["--regid=65534", f"--groups={os.getegid()}"]),
])
def test_allowed_uids_and_gids_are_let_in(make_stack, open_dir, how, server_kwargs, creds):
    stack = make_stack(path=open_dir / "c.sock", server_kwargs={"mode": 0o666, **server_kwargs})
    done = socat(stack.path, b'{"id": 1, "command": "ping"}\n', "setpriv", "--reuid=65534", *creds)
    hello, pong = messages(done.stdout)
    assert hello["event"] == "hello" and pong == {"id": 1, "result": {"pong": True}}, how


# ------------------------------------------------------------------------------------------------ socat by hand
def test_socat_with_hand_written_lines(stack):
    lines = (b'{"id": 1, "command": "ping"}\n'
             b'{"id": 2, "command": "status"}\r\n'
             b'\n'
             b'this is not json\n'
             b'{"id": "m", "command": "mic.mute"}\n'
             b'{"id": 3, "command": "turn.end"}\n'
             b'{"id": 4, "command": "text.send", "text": ""}\n')
    done = socat(stack.path, lines)  # the daemon closes once it has answered: socat ends at once
    hello, *replies = messages(done.stdout)
    assert hello["event"] == "hello" and done.returncode == 0
    assert [r["id"] for r in replies] == [1, 2, None, "m", 3, 4]
    assert replies[0]["result"] == {"pong": True} and replies[1]["result"]["state"] == "ready"
    assert [r.get("error", {}).get("code") for r in replies] == [None, None, "bad_json", None, "no_turn", "bad_args"]
    assert stack.engine.muted


def test_socat_subscribed_sees_the_reply_as_it_comes(stack):
    with subprocess.Popen(["socat", "-", f"UNIX-CONNECT:{stack.path}"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE) as proc:
        try:
            proc.stdin.write(b'{"id": 1, "command": "subscribe", "topics": ["transcript.assistant", "state"]}\n'
                             b'{"id": 2, "command": "text.send", "text": "What time is it?"}\n')
            proc.stdin.flush()
            seen = []
            while True:
                line = proc.stdout.readline()
                assert line, f"socat ended early; saw {seen}"
                message = json.loads(line)
                seen.append(message)
                if message.get("event") == "transcript.assistant" and message["final"]:
                    break
            reply = next(m for m in seen if m.get("id") == 1)
            assert reply["result"]["snapshot"]["state"] == "ready"
            assert any(m.get("event") == "state" and m["state"] == "speaking" for m in seen)
        finally:
            proc.kill()


def test_a_subscribe_reply_comes_before_any_event_of_its_topics(make_stack):
    # A reply streams at real-time pace, so audio and state events are being fanned out while the request is on its
    # way: the snapshot must still come first, or a client could apply a change and then overwrite it with the
    # older snapshot.
    stack = make_stack(sim_kwargs={"pace": 1})
    stack.client.subscribe("audio.output")
    stack.client.send_text(LONG)
    stack.client.wait_for("audio.output", lambda e: True, timeout=10)
    raw = stack.raw()
    raw.send(b'{"id": 1, "command": "subscribe", "topics": ["audio.output", "state"]}\n')
    header, _ = raw.message()
    assert header.get("id") == 1, f"an event came before the subscribe reply: {header}"
    assert header["result"]["snapshot"]["state"] == "speaking" and header["result"]["snapshot"]["playing"]
    header, payload = raw.message()
    assert header["event"] in ("audio.output", "state") and "id" not in header
    if header["event"] == "audio.output":
        assert len(payload) == header["payload_length"] > 0


# ------------------------------------------------------------------------------------------------ slow readers
def test_a_stuck_subscriber_delays_neither_another_subscriber_nor_the_session(make_stack):
    # The service's pace (4x real time): a client that reads keeps up with 32 KiB of queue, also when the reply's
    # first deltas come in a burst (6-8 frames queued in one turn of the I/O loop); one that does not read fills the
    # kernel's socket buffer and its queue within the first reply.
    stack = make_stack(server_kwargs={"audio_queue_limit_bytes": 32 * 1024}, sim_kwargs={"pace": 4})
    stuck = stack.raw()  # subscribes to the audio, then never reads
    stuck.send(b'{"id": 1, "command": "subscribe", "topics": ["audio.output"]}\n')
    wait_until(lambda: stack.server.stats["connections"][-1]["topics"] == ["audio.output"], 5, "the subscription")
    good = stack.client
    good.subscribe("audio.output", "response")
    received: dict[str, bytearray] = {}
    for text in (LONG, "And now tell me about the trains and the boats."):
        good.send_text(text)
        for event in good.events(timeout=20):
            if event.name == "audio.output":
                received.setdefault(event["item_id"], bytearray()).extend(event.payload)
            elif event.name == "overflow":  # the reading client fell 32 KiB behind: the machine stalled it
                pytest.fail(f"the client that reads was too slow for its queue: {event}")
            elif event["kind"] == "done":
                break
    # every byte of every reply, in order, for the client that reads
    assert len(received) == 2 and all(bytes(pcm) == stack.sent_audio(item) for item, pcm in received.items())
    # the session heard and played everything: nothing was held up on its side
    assert stack.session.stats.audio_bytes_received == sum(len(pcm) for pcm in received.values())
    assert stack.server.stats["inbound_audio_dropped"] == 0
    (stuck_stats,) = [c for c in stack.server.stats["connections"] if c["topics"] == ["audio.output"]]
    dropped = stuck_stats["dropped_frames"]
    assert dropped > 0 and stack.server.stats["audio_frames_dropped"] == dropped
    # once it reads again it is told what it missed, and what it got is whole frames of the reply
    got, overflow = 0, None
    while overflow is None:
        header, payload = stuck.message()
        if header.get("event") == "audio.output":
            got += 1
            assert len(payload) == header["payload_length"]
        elif header.get("event") == "overflow":
            overflow = header
    assert overflow["dropped_frames"] == dropped and overflow["dropped_bytes"] > 0 and got > 0


def test_a_client_that_never_reads_its_events_is_disconnected_past_the_hard_limit(make_stack):
    stack = make_stack(server_kwargs={"audio_queue_limit_bytes": 16 * 1024, "queue_limit_bytes": 64 * 1024})
    hog = stack.raw()
    hog.send(b'{"id": 1, "command": "subscribe", "topics": ["raw"]}\n')  # every server frame, as JSON text
    wait_until(lambda: any(c["topics"] == ["raw"] for c in stack.server.stats["connections"]), 5, "the subscription")
    stack.client.subscribe("response")
    stack.client.send_text(LONG)
    stack.client.wait_for("response", lambda e: e["kind"] == "done", timeout=20)
    wait_until(lambda: stack.server.stats["disconnected_slow"] == 1, 5, "the hog to be disconnected")
    assert stack.server.clients == 1 and stack.client.ping() > 0
    assert hog.closed()


# ------------------------------------------------------------------------------------------------ unframeable input
@pytest.mark.parametrize("data, code", [
    (b"x" * (MAX_LINE + 10) + b"\n", "line_too_long"),
    (b"y" * (MAX_LINE + 2), "line_too_long"),  # no newline at all: refused before it ends
    (b'{"id": 5, "command": "audio.input", "rate": 24000, "payload_length": %d}\n' % (MAX_PAYLOAD + 1),
     "payload_too_large"),
    (b'{"id": 6, "command": "audio.input", "rate": 24000, "payload_length": -4}\n', "bad_request"),
], ids=["long-line", "endless-line", "huge-payload", "negative-payload"])
def test_input_that_cannot_be_framed_closes_that_connection_only(stack, data, code):
    raw = stack.raw()
    raw.send(data)
    error = raw.line()
    assert error["error"]["code"] == code
    assert raw.closed()
    assert stack.client.ping() > 0 and stack.server.stats["framing_errors"] == 1


def test_a_payload_that_never_comes_is_dropped_with_its_connection(stack):
    raw = stack.raw()
    raw.send(b'{"id": 1, "command": "audio.input", "rate": 24000, "payload_length": 1000}\n' + bytes(10))
    raw.sock.shutdown(socket.SHUT_WR)
    assert raw.closed()
    assert stack.session.uplink.inject_ring.read_available == 0 and stack.client.ping() > 0


# ------------------------------------------------------------------------------------------------ half-close
def test_a_half_closed_client_gets_its_replies_then_the_close(stack):
    raw = stack.raw()
    raw.send(b'{"id": 1, "command": "status"}\n{"id": 2, "command": "ping"}\n')
    raw.sock.shutdown(socket.SHUT_WR)
    assert raw.reply()["id"] == 1 and raw.reply() == {"id": 2, "result": {"pong": True}}
    assert raw.closed()


def test_a_half_closed_subscriber_keeps_getting_events(stack):
    raw = stack.raw()
    raw.send(b'{"id": 1, "command": "subscribe", "topics": ["state"]}\n')
    raw.sock.shutdown(socket.SHUT_WR)
    assert raw.reply()["result"]["topics"] == ["state"]
    stack.client.send_text("Hello there")
    header, _ = raw.message()
    assert header == {"event": "state", "state": "thinking", "previous": "ready"}


# ------------------------------------------------------------------------------------------------ ordering
def test_pipelined_requests_are_answered_in_order(stack):
    raw = stack.raw()
    commands = ["ping", "status", "mic.mute", "status", "subscribe", "ping", "mic.unmute", "response.cancel"] * 8
    lines = b""
    for i, command in enumerate(commands):
        args = {"topics": ["state"]} if command == "subscribe" else {}
        lines += json.dumps({"id": i, "command": command, **args}).encode() + b"\n"
    raw.send(lines)
    assert [raw.reply()["id"] for _ in commands] == list(range(len(commands)))


def test_a_slow_command_holds_up_neither_other_clients_nor_events(stack, monkeypatch):
    entered, release = threading.Event(), threading.Event()
    real_create = stack.session.create_response

    def slow_create(*args, **kwargs):
        entered.set()
        release.wait(10)
        return real_create(*args, **kwargs)

    monkeypatch.setattr(stack.session, "create_response", slow_create)
    waiting = {}
    t = threading.Thread(target=lambda: waiting.setdefault("create", stack.client.request("response.create")))
    t.start()
    try:
        assert entered.wait(5)
        other = stack.connect()
        assert other.ping() > 0 and other.mute() is True  # the I/O thread is free
        assert other.subscribe("state")["muted"] is True
        assert other.status()["state"] == "ready"  # status reads; it never waits behind a command
        stack.session.audio.muted = False
        assert "create" not in waiting
    finally:
        release.set()
        t.join(10)
    assert waiting["create"] == {}


def test_many_clients_come_and_go(stack):
    for _ in range(50):
        with Client(stack.path) as c:
            c.subscribe("state", "audio.output")
    wait_until(lambda: stack.server.clients == 1, 5, "the clients to be gone")
    assert not stack.session.subscribers.wants("audio.output")  # the tap goes with its last subscriber
    assert stack.client.ping() > 0 and stack.server.stats["accepted"] == 51


def test_alive_says_whether_both_threads_run(stack):
    server = stack.server
    assert server.alive
    server.stop()
    assert not server.alive
