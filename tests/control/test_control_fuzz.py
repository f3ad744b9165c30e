"""Thousands of Hypothesis-generated malformed requests against one live server: broken JSON, wrong types, bad ids,
binary garbage, payloads a request must not carry, huge lines, payload lengths that lie or cannot be followed. The server must answer each framed line
with exactly the error it deserves, close only the connections whose input cannot be framed, and go on serving a
well-behaved client beside them (checked after every example)."""

from __future__ import annotations

import json
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controlhelpers import make_stack, wait_until
from rtaudiod.control import COMMANDS, MAX_LINE, MAX_PAYLOAD, ControlError
from rtaudiod.control.commands import parse_args

RECOVERABLE = {"bad_json", "bad_request", "unknown_command", "bad_args"}

scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=12))
json_values = scalars | st.lists(scalars, max_size=3) | st.dictionaries(st.text(max_size=6), scalars, max_size=3)
ids = st.none() | st.integers(-2**64, 2**64) | st.text(max_size=12)


@st.composite
def bad_arguments(draw):
    """A real command with arguments it refuses (missing, mistyped, out of range, unknown): never executed."""
    name = draw(st.sampled_from(sorted(COMMANDS)))
    spec = COMMANDS[name]
    keys = st.sampled_from([*spec.args.__struct_fields__, "extra"]) | st.text(max_size=6)
    args = {k: v for k, v in draw(st.dictionaries(keys, json_values, max_size=3)).items()
            if k not in ("id", "command", "payload_length")}
    try:
        parse_args(spec, args, None)
    except ControlError as e:
        code = e.code
    else:
        code = None
    if code is None:  # valid arguments would run the command: make them invalid with one unknown key
        args["not_an_argument"], code = 1, "bad_args"
    rid = draw(ids)
    return json.dumps({"id": rid, "command": name, **args}).encode(), (rid, code)


bad_ids = st.builds(lambda rid: (json.dumps({"id": rid, "command": "ping"}).encode(), (None, "bad_request")),
                    st.floats(allow_nan=False, allow_infinity=False) | st.booleans()
                    | st.lists(st.integers(), max_size=2) | st.dictionaries(st.text(max_size=3), st.integers(),
                                                                             max_size=2))
no_command = st.builds(lambda rid, obj: (json.dumps({**obj, "id": rid}).encode(), (rid, "bad_request")),
                       ids, st.dictionaries(st.text(max_size=5).filter(lambda k: k not in ("command", "id",
                                                                                           "payload_length")),
                                            json_values, max_size=3))
unknown_command = st.builds(lambda rid, name: (json.dumps({"id": rid, "command": name}).encode(),
                                               (rid, "unknown_command")),
                            ids, st.text(max_size=12).filter(lambda n: n not in COMMANDS))
not_objects = st.builds(lambda v: (json.dumps(v).encode(), (None, "bad_json")),
                        json_values.filter(lambda v: not isinstance(v, dict)))


def _garbage_replies(line: bytes) -> int:
    body = line[:-1] if line.endswith(b"\r") else line
    return 0 if not body.strip(b" \t") else 1


@st.composite
def refused_payloads(draw):
    """A request followed by exactly the payload it announces, which it is refused with (a command that takes none,
    or audio.input with arguments it refuses). The payload is read whole, never parsed as lines: the stream stays
    in step even when its bytes look like a request. The newline the list adds after it is an empty line (no reply)."""
    name = draw(st.sampled_from(sorted(COMMANDS)))
    spec = COMMANDS[name]
    args: dict = {}
    if name == "audio.input":
        args = draw(st.fixed_dictionaries({"rate": st.sampled_from([24000, 7999, 192001, "fast", None])},
                                          optional={"channels": st.integers(-1, 10)}))
    payload = draw(st.binary(max_size=600) | st.just(b'\n{"id": "smuggled", "command": "ping"}\n'))
    try:
        parse_args(spec, args, payload)
    except ControlError as e:
        code = e.code
    else:  # a valid audio.input would inject the bytes: refuse it with one unknown key
        args["not_an_argument"], code = 1, "bad_args"
    rid = draw(ids)
    header = json.dumps({"id": rid, "command": name, **args, "payload_length": len(payload)}).encode()
    return header + b"\n" + payload, (rid, code)


garbage = st.binary(max_size=300).filter(lambda b: b"\n" not in b).map(lambda b: (b, "garbage"))
lines = st.one_of(bad_arguments(), bad_ids, no_command, unknown_command, not_objects, garbage, refused_payloads())

AUDIO = b'{"id": "a", "command": "audio.input", "rate": 24000, "payload_length": '
terminals = st.one_of(
    st.just((b"", None)),
    st.integers(MAX_LINE + 1, MAX_LINE + 3000).map(lambda n: (b"z" * n + b"\n", "line_too_long")),
    st.integers(MAX_LINE + 2, MAX_LINE + 3000).map(lambda n: (b"z" * n, "line_too_long")),  # never ends
    st.integers(MAX_PAYLOAD + 1, 2**62).map(lambda n: (AUDIO + b"%d}\n" % n, "payload_too_large")),
    st.one_of(st.integers(-2**40, -1), st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f != 0),
              st.text(max_size=5), st.booleans(), st.lists(st.integers(), max_size=2))
    .map(lambda v: (AUDIO + json.dumps(v).encode() + b"}\n", "bad_request")),
    # a payload that lies: announced, never all sent (the connection ends inside it)
    st.tuples(st.integers(1, 5000), st.binary(max_size=200))
    .filter(lambda t: len(t[1]) < t[0]).map(lambda t: (AUDIO + b"%d}\n" % t[0] + t[1], "lying")),
)


@pytest.fixture(scope="module")
def quiet_stack(tmp_path_factory):
    """One stack for the whole storm. The simulator's keepalive pings draw from the global `random` (websockets),
    which Hypothesis would take for a strategy using it: no pings here."""
    with make_stack(tmp_path_factory.mktemp("fuzz") / "control.sock", sim_kwargs={"ping_interval": 3600}) as stack:
        yield stack


SENT = {"lines": 0, "connections": 0}


def exchange(path: str, data: bytes) -> list[dict]:
    """Send everything, shut down our side, read everything until the daemon closes."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(path)
    try:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # it closed on a framing error before we had sent everything
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                break
            received += chunk
    finally:
        sock.close()
    return [json.loads(line) for line in received.splitlines()]


@settings(max_examples=1000, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(items=st.lists(lines, max_size=8), terminal=terminals)
def test_malformed_input_never_hurts_the_server_or_its_other_clients(quiet_stack, items, terminal):
    stack = quiet_stack
    data = b"".join(line + b"\n" for line, _ in items) + terminal[0]
    SENT["lines"] += len(items) + bool(terminal[0])
    SENT["connections"] += 1
    hello, *replies = exchange(stack.path, data)
    assert hello["event"] == "hello"
    expected: list = []
    for line, what in items:
        if what == "garbage":
            expected += ["garbage"] * _garbage_replies(line)
        else:
            expected.append(what)
    kind = terminal[1]
    if kind in ("line_too_long", "payload_too_large", "bad_request"):
        expected.append(("a" if kind != "line_too_long" else None, kind))
    assert len(replies) == len(expected), (replies, expected)
    for reply, want in zip(replies, expected):
        assert set(reply) == {"id", "error"} and reply["error"]["message"]
        if want == "garbage":
            assert reply["error"]["code"] in RECOVERABLE
        else:
            assert (reply["id"], reply["error"]["code"]) == want
    # beside it, a well-behaved client is served as ever
    assert stack.client.ping() > 0
    assert stack.server.alive


def test_after_the_storm_the_session_still_talks(quiet_stack):
    stack = quiet_stack
    c = stack.client
    c.subscribe("transcript.assistant")
    c.send_text("Hello there")
    assert c.wait_for("transcript.assistant", lambda e: e["final"], timeout=10)["text"]
    wait_until(lambda: stack.server.clients == 1, 5, "the fuzzing connections to be gone")
    if SENT["connections"]:  # the storm ran first (this module's order)
        stats = stack.server.stats
        print(f"\nthe storm: {SENT['lines']} malformed lines or payloads over {SENT['connections']} connections")
        assert SENT["lines"] >= 3000 and stats["accepted"] == SENT["connections"] + 1
        assert stats["errors"] >= SENT["lines"] // 2 and stats["framing_errors"] > 50
