"""Commands called from a subscriber's callback on the actor's own thread (`rtaudiod-conversation`): one that waits
for a later step of the actor would wait for itself. `turn_end`, `wait_state` and `wait_ready` refuse at once with
`would_block`; `stop` starts the stop and returns, and the session's threads end once the callback returns. So does
`stop` from a `raw` subscriber, on the receive thread."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from rtaudiod.errors import SessionError
from rtaudiod.session import State


def on_turn_started(session: Any, command: Any) -> dict[str, Any]:
    """Run `command()` in the callback of the `turn_started` event (published on the actor's thread)."""
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def callback(topic: str, data: dict[str, Any]) -> None:
        if data.get("event") != "turn_started" or done.is_set():
            return
        outcome["thread"] = threading.current_thread().name
        try:
            outcome["result"] = command()
        except Exception as e:  # noqa: BLE001 - the test looks at what it was
            outcome["error"] = e
        done.set()

    session.subscribe({"vad"}, callback)
    session.turn_start()
    assert done.wait(10), "the callback did not run"
    return outcome


@pytest.mark.parametrize("command", ["turn_end", "wait_state", "wait_ready"])
def test_a_command_waiting_for_the_actor_refuses_on_its_thread(make_sim, make_session, command):
    session, *_ = make_session(make_sim("ga"), turn_detection={"type": "none"})
    calls = {"turn_end": lambda: session.turn_end(timeout=1.0),
             "wait_state": lambda: session.wait_state(State.THINKING, timeout=1.0),
             "wait_ready": lambda: session.wait_ready(1.0)}
    outcome = on_turn_started(session, calls[command])
    assert outcome["thread"] == "rtaudiod-conversation"
    error = outcome.get("error")
    assert isinstance(error, SessionError) and error.code == "would_block", outcome
    assert f"{command}()" in str(error) and "subscriber" in str(error)
    # nothing was half done: the turn is still open and ends from this thread as it should
    assert session.turn_open
    assert session.turn_end() is False  # under min_commit_ms of audio: cleared, not committed
    assert session.state is not State.FAILED


def test_stop_from_the_actors_thread_starts_the_stop_and_returns(make_sim, make_session, caplog):
    session, *_ = make_session(make_sim("ga"), turn_detection={"type": "none"})
    with caplog.at_level(logging.ERROR, logger="rtaudiod.session"):
        outcome = on_turn_started(session, lambda: session.stop(timeout=1.0))
        assert outcome["thread"] == "rtaudiod-conversation" and "error" not in outcome
        assert session.wait_state(State.STOPPED, timeout=10)
        session._supervisor.join(10)
        assert not session._supervisor.is_alive()
    # waiting in the callback would have waited for the supervisor, which waited for the actor: until the timeout
    assert "did not stop" not in caplog.text


def test_stop_from_a_raw_subscriber_on_the_receive_thread_starts_the_stop_and_returns(make_sim, make_session,
                                                                                     caplog):
    """`raw` and `audio.output` are published on the receive thread, which the supervisor joins: waiting there for
    the supervisor waited for itself until the timeout ("did not stop"), and the supervisor then gave up on the
    receive thread ("did not end")."""
    session, *_ = make_session(make_sim("ga"))
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def callback(topic: str, data: Any) -> None:
        if done.is_set():
            return
        outcome["thread"] = threading.current_thread().name
        session.stop(timeout=1.0)
        done.set()

    with caplog.at_level(logging.ERROR, logger="rtaudiod.session"):
        session.subscribe({"raw"}, callback)
        session.send_text("Hello")
        assert done.wait(10), "no raw event came"
        assert outcome["thread"] == "rtaudiod-recv"
        assert session.wait_state(State.STOPPED, timeout=10)
        session._supervisor.join(10)
        assert not session._supervisor.is_alive()
    assert "did not stop" not in caplog.text and "did not end" not in caplog.text
