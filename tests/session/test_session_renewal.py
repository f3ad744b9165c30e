"""Renewal and expiry: a server that expires every session young must not be reconnected to forever (an expiry
resets the retry budget only after a stable link), and audio captured or injected while a planned renewal switches
to the new session goes up to that session."""

from __future__ import annotations

import numpy as np

from rtaudiod.session import Session, State
from sessionhelpers import config_for, null_engine, wait_until


def test_a_server_expiring_every_session_young_exhausts_the_retry_budget(make_sim, dialect):
    sim = make_sim(dialect, max_session_seconds=0.4)
    engine = null_engine()
    session = Session(config_for(sim, reconnect_attempts=3, stable_after_s=30), engine)
    try:
        session.start()
        assert session.wait_state(State.FAILED, timeout=20), f"still {session.state} after {len(sim.sessions)} sessions"
        assert session.error.code == "retries_exhausted"
        assert len(sim.sessions) == 4  # the first session and three retries, no more
        assert session.stats.renewals == 0 and session.stats.reconnects == 3
        assert all(s.close_code == 1001 for s in sim.sessions)  # each one expired by the server
    finally:
        session.stop()
        engine.close()
