"""The simulator as a real process, killed with SIGKILL while a reply streams (no close frame, no graceful
shutdown: the kernel closes its sockets), and a new process started on the same port: the session reconnects and
the new server is told the settings (instructions, tools) and the conversation so far. The in-process twin is in
test_session_reconnect.py; this one kills a process, which only a process can show. What the new process
received is read from its `--record` file (the simulator's test hook, written as the events arrive)."""

from __future__ import annotations

import msgspec

from openai_schemas import validate_client_event
from rtaudiod.session import RealtimeConfig, Session, State
from sessionhelpers import KEY, MODELS, Mic, Recorder, null_engine, wait_until
from simprocess import SimProcess

INSTRUCTIONS = "You are a kitchen assistant. Be brief."
#: pace 1 (real time): the reply streams for seconds, so the kill lands mid-reply; the service's latencies (default)
ARGS = ("--pace", "1")


def test_a_sim_process_killed_mid_reply_is_replaced_and_told_everything(dialect, tmp_path):
    first = SimProcess(dialect, tmp_path / "first.jsonl", api_key=KEY, args=ARGS)
    second = None
    engine = null_engine()
    mic = Mic(engine)
    events = Recorder()
    config = msgspec.convert({"base_url": first.url, "dialect": dialect, "model": MODELS[dialect], "api_key": KEY,
                              "instructions": INSTRUCTIONS, "history_turns": 4, "reconnect_initial_s": 0.05,
                              "reconnect_max_s": 0.5, "connect_timeout_s": 5.0}, RealtimeConfig)
    session = Session(config, engine, on_event=events)
    try:
        session.register_tool("get_time", lambda call: '{"time": "noon"}', "The local time")
        session.start()
        assert session.wait_ready(15), session.error
        session.send_text("Remember the word pineapple")
        events.wait("transcript.assistant", lambda d: d["final"], timeout=20)
        session.send_text("And now a long answer please, about many things, one after the other, slowly")
        done = len(events.of("response"))
        rid = events.wait("response", lambda d: d["event"] == "created", timeout=15, after=done)["response_id"]
        events.wait("transcript.assistant", lambda d: d["response_id"] == rid and not d["final"], timeout=15)
        first.kill()  # mid-reply: its transcript has started streaming, and at pace 1 lasts seconds
        assert not [d for d in events.of("response") if d.get("response_id") == rid and d["event"] == "done"]
        assert first.proc.returncode == -9
        assert session.wait_state(State.RECONNECTING, timeout=10)
        second = SimProcess(dialect, tmp_path / "second.jsonl", port=first.port, api_key=KEY, args=ARGS)
        assert session.wait_ready(20), session.error

        def created() -> list[dict]:
            return [e["item"] for n, e in second.received() if e["type"] == "conversation.item.create"]
        wait_until(lambda: len(created()) >= 3, 10, "the replayed conversation to arrive")
        received = second.received()
        assert {n for n, _ in received} == {0}  # one connection
        update = next(e for _, e in received if e["type"] == "session.update")
        assert update["session"]["instructions"] == INSTRUCTIONS
        assert [t["name"] for t in update["session"]["tools"]] == ["get_time"]
        texts = [(i["role"], i["content"][0]["text"]) for i in created()]
        assert texts[0] == ("user", "Remember the word pineapple")
        assert texts[1] == ("assistant", "Simulator heard: Remember the word pineapple.")
        assert texts[2][0] == "user" and texts[2][1].startswith("And now a long answer")
        assert session.stats.reconnects >= 1  # one per attempt: refused ones until the new process listens
        # and it works: a new turn gets its reply from the new process
        session.send_text("Are you back?")
        events.wait("transcript.assistant", lambda d: d["final"] and d["text"] == "Simulator heard: Are you back.", 20)
        # every event either process received is a valid client event of the dialect (the openai models)
        for _, event in first.received() + second.received():
            validate_client_event(event, dialect)
    finally:
        session.stop()
        mic.close()
        engine.close()
        first.kill()
        if second is not None:
            assert second.stop() == 0
