"""The service's socket stalled (issue 19): a proxy that stops passing the daemon's data on, so the daemon's sends
block (a big event's first, on the connection's sender thread). Commands still return at once (they post their
events to the outbox and hold no lock over a send), a barge-in still silences the speaker at once, and `status`
still answers at once.

The barge-in is the service's VAD event (`input_audio_buffer.speech_started`), delivered by the simulator's
`send_raw` test hook: with the upstream held, the service cannot hear the microphone, so the speech it heard is the
one that went up just before the stall.
"""

from __future__ import annotations

import json
import time

from controlhelpers import KEY, REAL_TIME, wait_until
from faultproxy import FaultProxy
from sessionhelpers import Mic, Recorder, config_for, null_engine

from rtaudiod.control import Client, ControlServer
from rtaudiod.session import Session
from rtaudiod.sim import Simulator

LONG = ("Please repeat this long sentence about the weather in the mountains, the rivers, the lakes and the "
        "forests, the birds in the trees and the fish in the water, slowly and clearly, word after word")


def test_a_stalled_service_socket_holds_up_neither_a_barge_in_nor_status(tmp_path):
    sim = Simulator(dialect="ga", api_key=KEY, **REAL_TIME).start()
    proxy = FaultProxy(("127.0.0.1", sim.port), small_buffers=True)
    engine = null_engine("pcm16")
    mic = Mic(engine)
    events = Recorder()
    session = Session(config_for(sim, base_url=f"ws://127.0.0.1:{proxy.port}/v1/realtime"), engine, on_event=events)
    path = str(tmp_path / "control.sock")
    server = clients = None
    try:
        session.start()
        assert session.wait_ready(10), session.error
        server = ControlServer(session, path).start()
        clients = [Client(path), Client(path)]
        sender, asker = clients
        session.send_text(LONG)
        item = events.wait("transcript.assistant", timeout=10)["item_id"]
        wait_until(lambda: (engine.played_ms(item) or 0) >= 1000, 15, "the reply to play for a second")
        sent_before = session.status()["counters"]["events_sent"]

        proxy.hold("up")
        # A part of the daemon sends a big event (6 MB: more than the socket's buffers take): the sender thread
        # waits on the stalled socket with it; the command that asked returns, and so does a control client's.
        session.send_text("word " * 1_200_000, respond=False)
        sender.request("text.send", text="Are you there?")
        assert session.status()["counters"]["events_sent"] == sent_before, "the stalled socket took the big event"

        arrived: dict[str, int] = {}

        def on_raw(topic, data):  # the receive thread, as the frame arrives, before it is handled
            if b"speech_started" in bytes(data["frame"]):
                arrived.setdefault("played", engine.ledger.played_total)

        session.subscribe({"raw"}, on_raw)
        sim.send_raw([json.dumps({"type": "input_audio_buffer.speech_started", "event_id": "event_stall_1",
                                  "audio_start_ms": 1000, "item_id": "item_stall_1"})])
        wait_until(lambda: arrived, 5, "the speech_started to arrive")
        start = time.monotonic()
        status = asker.status()
        status_s = time.monotonic() - start
        time.sleep(0.5)  # whatever the speaker played after the event would show here
        played_after = engine.ledger.played_total - arrived["played"]
    finally:
        proxy.heal()
        for client in clients or []:
            client.close()
        if server is not None:
            server.stop()
        session.stop()
        mic.close()
        proxy.close()
        engine.close()
        sim.stop()
    budget_ms = engine.config.mode.playout_period_ms + 10
    print(f"\nstalled socket: {played_after * 1000 / (2 * engine.config.session_rate):.0f} ms played after the "
          f"barge-in (budget {budget_ms} ms), status in {status_s * 1000:.1f} ms")
    assert played_after <= budget_ms * engine.config.session_rate * 2 // 1000, \
        f"{played_after * 1000 // (2 * engine.config.session_rate)} ms played after the barge-in"
    assert status["state"] in ("speaking", "listening", "thinking")
    assert status_s < 0.1, f"status took {status_s * 1000:.0f} ms"

