"""The conversation's actor (rtaudiod/session/actor.py) on its own: its timers, cancelled ones among them."""

from __future__ import annotations

import threading

from rtaudiod.session.actor import Actor, Timer


def test_a_timer_that_cancels_the_last_one_leaves_the_actor_running():
    """The first timer runs when due and cancels the second, the last in the heap: the actor then sleeps on its
    inbox with no deadline (it took the run timer's overdue deadline for its wait, and died of a negative timeout)."""
    actor = Actor().start()
    fired: list[str] = []
    first_ran = threading.Event()
    timers: list[Timer] = []

    def first() -> None:
        fired.append("first")
        timers[1].cancel()
        first_ran.set()

    def arm() -> None:  # timers are set on the actor's thread
        timers.append(actor.after(0.01, first))
        timers.append(actor.after(0.02, lambda: fired.append("second")))

    try:
        actor.post(arm)
        assert first_ran.wait(5)
        taken = threading.Event()
        actor.post(taken.set)
        assert taken.wait(5), "the actor stopped taking messages"
        assert actor.elsewhere() and fired == ["first"] and actor.timers() == []
    finally:
        actor.stop()
