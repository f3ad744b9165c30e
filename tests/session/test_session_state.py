"""The session's state from several threads: a command, the receive thread and the supervisor each change it, and
observers (state listeners, `on_event`) run while they do."""

from __future__ import annotations

import threading
import time

from rtaudiod.session import State
from sessionhelpers import wait_until


def test_a_state_listener_may_read_the_status_while_a_command_runs(make_sim, make_session):
    """A command holds the session's lock when the state changes; a listener runs under the state lock and reads
    status() (the session's lock). Both at once, on two threads, must not deadlock."""
    sim = make_sim("ga")
    session, engine, mic, events = make_session(sim)
    entered = threading.Event()
    outcome: list[str] = []

    def listener(new: State, old: State) -> None:
        if new is not State.SPEAKING or threading.current_thread().name != "rtaudiod-recv" or entered.is_set():
            return
        entered.set()
        deadline = time.monotonic() + 2  # until the command below holds the session's lock (bounded)
        while time.monotonic() < deadline and session._lock.acquire(blocking=False):
            session._lock.release()
            time.sleep(0.0005)
        # status() takes the session's lock; taken here with a bound, so that a deadlock fails the test instead of
        # hanging it
        if not session._lock.acquire(timeout=3):
            outcome.append("deadlock")
            return
        session._lock.release()
        outcome.append(session.status()["state"])

    session.subscribe({"state"}, lambda _, d: listener(State(d["state"]), State(d["previous"])))
    session.send_text("Hello there")
    assert entered.wait(10)
    second = threading.Thread(target=session.send_text, args=("And again",), daemon=True)
    second.start()
    second.join(10)
    assert not second.is_alive()
    wait_until(lambda: outcome, 5, "the listener to finish")
    assert outcome != ["deadlock"], "a command waited for the state lock while holding the session's lock"


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
