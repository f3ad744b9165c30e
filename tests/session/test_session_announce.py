"""Announcements against the simulator: an out-of-band response (`conversation: "none"`, `input: []`) that never
enters the history nor the replay after a reconnect, waits for the reply in progress (or cuts it with `now`), and
is itself cut by the user's voice or playback.stop, reported on the `announce` topic."""

from __future__ import annotations

from rtaudiod.session import State
from sessionhelpers import REAL_TIME, speech, wait_until
from test_session_bargein import LONG, check_truncated_at_played, long_reply_playing, played_once

TEXT = "The washing machine has finished."


def announce_events(events, announce_id):
    return [d["event"] for d in events.of("announce") if d["announce_id"] == announce_id]


def ended(events, announce_id, timeout=15):
    return events.wait("announce", lambda d: d["announce_id"] == announce_id
                       and d["event"] in ("done", "interrupted"), timeout=timeout)


def out_of_band_items(sim_session, response_id):
    """The announcement's output items, and the conversation events the simulator sent about any of them."""
    items = {e["item"]["id"] for e in sim_session.sent_events
             if e["type"] == "response.output_item.added" and e["response_id"] == response_id}
    in_conversation = [e for e in sim_session.sent_events if e["type"].startswith("conversation.item.")
                       and (e.get("item", {}).get("id") in items or e.get("item_id") in items)]
    return items, in_conversation


def test_an_announcement_stays_out_of_the_history_and_the_replay(make_sim, make_session, dialect):
    sim = make_sim(dialect)
    session, engine, mic, events = make_session(sim)
    session.send_text("Remember the word pineapple")
    events.wait("transcript.assistant", lambda d: d["final"], timeout=15)
    announce_id = session.announce(TEXT)
    done = ended(events, announce_id)
    assert done["event"] == "done"
    assert announce_events(events, announce_id) == ["queued", "started", "done"]
    s = sim.sessions[0]
    create = [e for e in s.received_events if e["type"] == "response.create"][-1]
    assert create["response"]["conversation"] == "none" and create["response"]["input"] == []
    assert TEXT in create["response"]["instructions"]
    items, in_conversation = out_of_band_items(s, done["response_id"])
    assert items and not in_conversation  # the service added nothing to the conversation
    assert engine.played_ms(next(iter(items)))  # it was heard
    assert [t.text for t in session.history.turns()] == ["Remember the word pineapple",
                                                         "Simulator heard: Remember the word pineapple."]
    sim.drop_connections()
    wait_until(lambda: len(sim.sessions) == 2 and session.wait_ready(0.1), 15, "the reconnect")
    session.send_text("Are you back?")  # after the replay, on the same outbox: the replay has arrived before it
    events.wait("transcript.assistant", lambda d: d["final"] and d["text"] == "Simulator heard: Are you back.", 15)
    replayed = [e["item"] for e in sim.sessions[1].received_events if e["type"] == "conversation.item.create"]
    assert [i["content"][0]["text"] for i in replayed] == ["Remember the word pineapple",
                                                           "Simulator heard: Remember the word pineapple.",
                                                           "Are you back?"]


def test_an_announcement_waits_for_the_reply_in_progress(make_sim, make_session):
    sim = make_sim("ga", **REAL_TIME)
    session, engine, mic, events = make_session(sim)
    session.send_text("Tell me about the weather")
    reply = events.wait("response", lambda d: d["event"] == "created", timeout=10)["response_id"]
    announce_id = session.announce(TEXT)
    assert announce_events(events, announce_id) == ["queued"]
    started = events.wait("announce", lambda d: d["announce_id"] == announce_id and d["event"] == "started")
    replies = events.of("response")
    done = next(d for d in replies if d["event"] == "done" and d["response_id"] == reply)
    assert done["status"] == "completed" and session.stats.barge_ins == 0
    assert replies.index(done) < next(i for i, d in enumerate(replies) if d.get("announce_id") == announce_id)
    assert started["response_id"] != reply
    assert ended(events, announce_id)["event"] == "done"


def test_announce_now_cuts_the_reply_at_what_was_heard(make_sim, make_session, dialect):
    sim = make_sim(dialect, **REAL_TIME)
    session, engine, mic, events = make_session(sim)
    response_id, item = long_reply_playing(session, engine, events, 800)
    announce_id = session.announce(TEXT, now=True)
    check_truncated_at_played(sim, engine, item, events)
    cut = events.wait("response", lambda d: d["event"] == "done" and d["response_id"] == response_id)
    assert cut["status"] == "cancelled"
    assert ended(events, announce_id)["event"] == "done"
    assert len(session.history.turns()[-1].text) < len("Simulator heard: " + LONG)


def test_voice_and_playback_stop_interrupt_an_announcement(make_sim, make_session):
    sim = make_sim("ga", **REAL_TIME)
    session, engine, mic, events = make_session(sim)
    announce_id = session.announce(TEXT)
    started = events.wait("announce", lambda d: d["announce_id"] == announce_id and d["event"] == "started")
    item = wait_until(lambda: next(iter(out_of_band_items(sim.sessions[0], started["response_id"])[0]), None), 5,
                      "the announcement's item")
    played_once(engine, item, 200)
    mic.say(speech("Stop, stop, that is enough."))
    interrupted = ended(events, announce_id)
    assert interrupted["event"] == "interrupted" and interrupted["reason"] == "speech"
    # nothing of it is in the conversation to cut: no truncate, no error
    s = sim.sessions[0]
    assert not [e for e in s.received_events if e["type"] in ("conversation.item.truncate",
                                                               "conversation.item.delete")]
    assert not events.of("error")
    # the user's words get their reply; then an announcement cut by playback.stop
    events.wait("transcript.assistant", lambda d: d["final"] and d["text"].startswith("Simulator heard "), 20)
    assert session.wait_state(State.READY, timeout=15)
    second = session.announce(TEXT)
    events.wait("announce", lambda d: d["announce_id"] == second and d["event"] == "started")
    wait_until(lambda: engine.is_playing, 5, "the announcement to sound")
    session.stop_playback()
    stopped = ended(events, second)
    assert stopped["event"] == "interrupted" and stopped["reason"] == "stop_playback"
    assert all(not t.text.startswith("Hello") for t in session.history.turns())


def test_an_announcement_cut_by_a_lost_connection_is_reported_and_not_replayed(make_sim, make_session):
    sim = make_sim("ga", **REAL_TIME)
    session, engine, mic, events = make_session(sim)
    announce_id = session.announce(TEXT)
    events.wait("announce", lambda d: d["announce_id"] == announce_id and d["event"] == "started")
    sim.drop_connections()
    lost = ended(events, announce_id)
    assert lost["event"] == "interrupted" and lost["reason"] == "disconnected"
    wait_until(lambda: len(sim.sessions) == 2 and session.wait_ready(0.1), 15, "the reconnect")
    session.send_text("Are you back?")  # after anything replayed, on the same outbox
    events.wait("transcript.assistant", lambda d: d["final"] and d["text"] == "Simulator heard: Are you back.", 15)
    sent = [e["type"] for e in sim.sessions[1].received_events]
    assert sent.count("conversation.item.create") == 1 and sent.count("response.create") == 1  # only the text's


def test_done_comes_when_the_announcement_has_played_not_the_reply_queued_after_it(make_sim, make_session):
    """The service streams faster than real time (here: at once), so a reply asked for right after the
    announcement is in the speaker's queue behind it: `done` is the announcement's own last sample, per the
    played-sample ledger, while that reply still plays."""
    sim = make_sim("ga")
    session, engine, mic, events = make_session(sim)
    output_items = {}  # response_id -> its output items, as the simulator sent them
    at_done = {}

    def snapshot(topic, data):  # on the actor, at the moment `done` is published
        if data["event"] == "done":
            for e in sim.sessions[0].sent_events:
                if e["type"] == "response.output_item.added":
                    output_items.setdefault(e["response_id"], []).append(e["item"]["id"])
            at_done.update({item: (engine.played_ms(item), engine.received_ms(item))
                            for items in output_items.values() for item in items})
            at_done["playing"] = engine.is_playing

    session.subscribe({"announce"}, snapshot)
    announce_id = session.announce(TEXT)
    session.send_text("Tell me about the weather in Paris tomorrow")  # queued behind it, plays straight after
    done = ended(events, announce_id)
    assert done["event"] == "done"
    reply = events.wait("transcript.assistant", lambda d: d["final"] and d["response_id"] != done["response_id"])
    (announced,) = output_items[done["response_id"]]
    played, received = at_done[announced]
    assert played == received > 500  # every sample of the announcement had been handed to the speaker
    reply_played, reply_received = at_done[reply["item_id"]]
    assert at_done["playing"] and reply_received > reply_played + 500  # the reply had more than 0.5 s to play
    wait_until(lambda: session.state is State.READY, 20, "the reply to play out")
