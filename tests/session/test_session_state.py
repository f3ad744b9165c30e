"""The session's state from several threads: a command, the receive thread and the supervisor each change it, and
observers (state listeners, `on_event`) run while they do."""

from __future__ import annotations

import threading
import time

import pytest

from rtaudiod.session import State
from sessionhelpers import wait_until


def test_a_state_listener_may_call_commands_while_a_command_runs(make_sim, make_session):
    """State listeners run on the conversation's actor. One that reads status() and issues a command there (a
    command from the actor's own thread runs at once), while another thread's command waits for the actor, must
    not deadlock."""
    sim = make_sim("ga")
    session, engine, mic, events = make_session(sim)
    entered = threading.Event()
    outcome: list[object] = []

    def listener(new: State, old: State) -> None:
        if new is not State.SPEAKING or second.ident is not None:
            return
        second.start()  # its command waits for the actor, which runs this listener
        entered.set()
        outcome.append(session.status()["state"])
        session.send_text("From the listener", respond=False)
        outcome.append(threading.current_thread().name)

    second = threading.Thread(target=session.send_text, args=("And again",), daemon=True)
    session.subscribe({"state"}, lambda _, d: listener(State(d["state"]), State(d["previous"])))
    session.send_text("Hello there")
    assert entered.wait(10)
    second.join(10)
    assert not second.is_alive(), "a command waited for ever behind a listener's command"
    wait_until(lambda: len(outcome) == 2, 5, "the listener to finish")
    assert outcome == ["speaking", "rtaudiod-conversation"]
    def texts() -> list[str]:
        return [e["item"]["content"][0]["text"] for e in sim.sessions[0].received_events
                if e["type"] == "conversation.item.create"]

    wait_until(lambda: {"From the listener", "And again"} <= set(texts()), 5, "both texts at the service")
    assert texts().index("From the listener") < texts().index("And again")


def test_state_events_arrive_in_the_order_of_the_changes(make_sim, make_session):
    """Each `state` event names the state before it: an observer that is slow with one change must not see the
    next change (made meanwhile on another thread) first."""
    sim = make_sim("ga")
    session, engine, mic, events = make_session(sim)
    slowed = threading.Event()

    def slow_observer(topic: str, data: dict) -> None:
        if topic == "state" and data["state"] == "speaking" and not slowed.is_set():
            slowed.set()  # the receive thread, slow here: the first audio drains, the supervisor sees "thinking"
            seen = len(events.of("state"))
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline and len(events.of("state")) == seen:
                time.sleep(0.005)
        events(topic, data)

    session.on_event = slow_observer
    session.send_text("Hello there")
    events.wait("response", lambda d: d["event"] == "done", timeout=15)
    wait_until(lambda: session.state is State.READY, 15, "the reply to finish playing")
    states = events.of("state")
    assert slowed.is_set()
    for before, after in zip(states, states[1:]):
        assert after["previous"] == before["state"], [(d["previous"], d["state"]) for d in states]
    assert states[-1]["state"] == session.state.value


@pytest.mark.parametrize("callbacks", ["c", "python"])
def test_the_gil_switch_interval_is_shortened_only_for_python_callbacks(make_sim, make_session, callbacks):
    """1 ms while a session runs on the Python device callbacks (they take the GIL every period), restored on stop;
    the C callbacks never take the GIL, so the default stays (fewer GIL hand-offs)."""
    import sys

    import rtaudiod

    python = callbacks == "python" or rtaudiod.backend() != "c"  # the build without the extension has no C path
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)  # CPython's default, whatever an earlier test left
    try:
        session, engine, *_ = make_session(make_sim("ga"), engine_kwargs={"callbacks": callbacks})
        assert engine.status()["callbacks"] == ("python" if python else "c")
        assert sys.getswitchinterval() == pytest.approx(0.001 if python else 0.005)
        session.stop()
        assert sys.getswitchinterval() == pytest.approx(0.005)
    finally:
        sys.setswitchinterval(before)
