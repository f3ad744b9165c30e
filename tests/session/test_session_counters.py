"""Counters in `status()` cover the whole session, not its current connection: unknown server event types and
deltas of dropped responses counted before a reconnect are still counted after it."""

from __future__ import annotations

import base64
import json

from rtaudiod.session import State
from sessionhelpers import wait_until

DELTA_TYPE = {"ga": "response.output_audio.delta", "beta": "response.audio.delta"}


def unknown(kind: str) -> str:
    return json.dumps({"type": f"response.brand_new_{kind}", "event_id": f"event_{kind}"})


def delta(dialect: str, response_id: str) -> str:
    return json.dumps({"type": DELTA_TYPE[dialect], "event_id": "event_d", "response_id": response_id,
                       "item_id": f"item_{response_id}", "output_index": 0, "content_index": 0,
                       "delta": base64.b64encode(bytes(480)).decode()})


def test_unknown_events_and_dropped_deltas_are_counted_across_reconnects(make_sim, make_session, dialect):
    sim = make_sim(dialect)
    session, engine, mic, events = make_session(sim)
    engine.drop_response("resp_gone_1")  # as a barge-in does: later deltas of it are dropped
    sim.send_raw([unknown("a"), unknown("a"), unknown("b"), delta(dialect, "resp_gone_1"),
                  delta(dialect, "resp_gone_1")])
    wait_until(lambda: session.status()["counters"]["unknown_events"] == {"response.brand_new_a": 2,
                                                                          "response.brand_new_b": 1},
               10, "the first connection's unknown events")
    wait_until(lambda: session.status()["counters"].get("dropped_deltas") == 2, 10, "two dropped deltas")

    sim.drop_connections(1011)
    wait_until(lambda: len(sim.sessions) == 2, 10, "the reconnect")
    assert session.wait_ready(10)
    engine.drop_response("resp_gone_2")
    sim.send_raw([unknown("a"), unknown("c"), delta(dialect, "resp_gone_2")])
    expected = {"response.brand_new_a": 3, "response.brand_new_b": 1, "response.brand_new_c": 1}
    wait_until(lambda: session.status()["counters"]["unknown_events"] == expected, 10, "the cumulative counts")
    wait_until(lambda: session.status()["counters"]["dropped_deltas"] == 3, 10, "three dropped deltas")
    status = session.status()
    assert status["unknown_events"] == expected  # the top-level report says the same
    assert status["counters"]["reconnects"] == 1 and session.state is not State.FAILED
