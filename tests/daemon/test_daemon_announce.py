"""Announce end to end: the daemon as a subprocess on rtaudiod-sim, driven through `rtaudiod-cli` in both dialects:
the device says the text out of band, the CLI follows it until it has played, the conversation does not hold it."""

from __future__ import annotations

import json
import time
import wave

import pytest

from rtaudiod._backend import NO_EXT
from rtaudiod.control import Client
from test_daemon_e2e import daemon  # noqa: F401 - the daemon fixture (its module puts tests/session on the path)
from test_daemon_image_mcp import cli, dialect_sim, received, start  # noqa: F401 - dialect_sim: a fixture

from sessionhelpers import speech, xcorr  # noqa: E402, I001

# Announce and its answer window, through the daemon, are the same Python in both builds and drive no twin that
# other tests do not: the C build runs them, the twins build (RTAUDIOD_NO_EXT=1) skips them for CI's time.
pytestmark = pytest.mark.skipif(NO_EXT, reason="logic only: run on the C build (CI's time)")

TEXT = "Dinner is ready."


def test_announce_through_the_cli_in_both_dialects(tmp_path, daemon, dialect_sim):
    dialect, sim = dialect_sim
    proc, sock = start(tmp_path, daemon, sim, extra=f'dialect = "{dialect}"')
    said = cli(sock, "say", "Remember the word pineapple")
    assert said.returncode == 0, said.stderr
    done = cli(sock, "--json", "announce", TEXT)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["event"] == "done" and result["announce_id"].startswith("rtad_announce")
    create = received(sim, "response.create")[-1]["response"]
    assert create["conversation"] == "none" and create["input"] == [] and TEXT in create["instructions"]
    queued = cli(sock, "announce", "--no-wait", TEXT)
    assert queued.returncode == 0 and queued.stdout.startswith("queued: rtad_announce"), queued.stderr
    asked = cli(sock, "say", "Are you there?")  # follows its reply, not the announcement's response
    assert asked.returncode == 0 and asked.stdout.strip() == "Simulator heard: Are you there.", asked.stderr
    status = json.loads(cli(sock, "--json", "status").stdout)
    assert status["history_turns"] == 4  # the user's texts and their replies; no announcement
    empty = cli(sock, "announce", " ")
    assert empty.returncode != 0 and "text must not be empty" in empty.stderr


# ====================================================================================== announce --listen, push_to_talk
QUESTION = "Shall I turn the heating on?"
ANSWER = "Yes please, turn it on."


def speech_wav(path, text: str, silence_s: float = 1.5):
    """espeak-ng's `text` as a 24 kHz WAV, then `silence_s` of silence (the service's VAD ends the turn on it)."""
    pcm = speech(text, 24000)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(24000)
        w.writeframes(pcm + bytes(int(48000 * silence_s)))
    return pcm


def turn_detections(sim):
    """The turn detection of every session.update the simulator received, in either dialect's place."""
    out = []
    for e in received(sim, "session.update"):
        session = e["session"]
        where = session.get("audio", {}).get("input", {}) if "audio" in session else session
        if "turn_detection" in where:
            out.append(where["turn_detection"])
    return out


def listen_until(client, until, seen, timeout=20):
    """Read events into `seen` until a `listen` event's (state, reason) is `until`; the `listen` states so far."""
    deadline = time.monotonic() + timeout
    while until not in (states := [(e.data["state"], e.data["reason"]) for e in seen if e.name == "listen"]):
        event = client.next_event(max(0.0, deadline - time.monotonic()))
        assert event is not None, f"no listen state {until} within {timeout} s; saw {states}"
        seen.append(event)
    return states


@pytest.mark.parametrize("vad", ["none", "server_vad"])
def test_announce_listen_in_push_to_talk_mode_takes_the_answer_without_a_button(tmp_path, daemon, dialect_sim, vad):
    """Home Assistant's "start conversation" on a push-to-talk device: the announcement plays, then the microphone
    is open for the answer with nobody pressing anything; the service's VAD (switched on for that one turn when
    the configured turn detection is "none") ends it, and the reply follows."""
    dialect, sim = dialect_sim
    proc, sock = start(tmp_path, daemon, sim, extra=f'dialect = "{dialect}"\nturn_detection = {{ type = "{vad}" }}\n'
                       '[listen]\nmode = "push_to_talk"\nfollow_up_s = 8.0\n')
    answer = speech_wav(tmp_path / "answer.wav", ANSWER)
    with Client(str(sock)) as client:
        client.subscribe("listen", "transcript.assistant")
        seen = []
        done = cli(sock, "--json", "announce", "--listen", QUESTION)
        assert done.returncode == 0 and json.loads(done.stdout)["event"] == "done", done.stderr
        listen_until(client, ("listening", "answer"), seen)
        sent = cli(sock, "send-audio", str(tmp_path / "answer.wav"))
        assert sent.returncode == 0, sent.stderr
        assert listen_until(client, ("gated", "answered"), seen)[-2:] == [("listening", "answer"), ("gated", "answered")]
        reply = client.wait_for("transcript.assistant", lambda e: e.data.get("final"), timeout=20)
    s = sim.sessions[0]
    (committed,) = s.committed_audio.values()
    assert xcorr(answer, committed)[1] > 0.9  # the answer, whole, is the one committed turn
    assert reply.data["text"].startswith("Simulator heard") and "seconds of audio" in reply.data["text"]
    kinds = [e["type"] for e in s.received_events if e["type"] != "input_audio_buffer.append"]
    assert "input_audio_buffer.commit" not in kinds  # the service's VAD committed it, not the daemon
    if vad == "none":  # switched on for the answer (the daemon asks for the reply), off again after it
        on, off = turn_detections(sim)[-2:]
        assert on["type"] == "server_vad" and on["create_response"] is False and off is None
        assert kinds.index("response.create", kinds.index("session.update", kinds.index("input_audio_buffer.clear")))
    else:  # the configured VAD ran the turn: not touched
        assert all(td is not None for td in turn_detections(sim))


def test_announce_listen_in_push_to_talk_mode_with_no_answer_commits_nothing(tmp_path, daemon, dialect_sim):
    dialect, sim = dialect_sim
    proc, sock = start(tmp_path, daemon, sim, extra=f'dialect = "{dialect}"\nturn_detection = {{ type = "none" }}\n'
                       '[listen]\nmode = "push_to_talk"\nfollow_up_s = 1.5\n')
    with Client(str(sock)) as client:
        client.subscribe("listen", "vad")
        done = cli(sock, "announce", "--listen", QUESTION)
        assert done.returncode == 0, done.stderr
        seen = []
        states = listen_until(client, ("gated", "no_answer"), seen)
        assert states[-2:] == [("listening", "answer"), ("gated", "no_answer")]
        while not any(e.name == "vad" and e.data["kind"] == "answer_closed" for e in seen):
            seen.append(client.next_event(5))
        answer = [e.data for e in seen if e.name == "vad"]
        assert answer == [{"kind": "answer_opened", "seconds": 1.5}, {"kind": "answer_closed", "reason": "no_answer"}]
        status = json.loads(cli(sock, "--json", "status").stdout)
    s = sim.sessions[0]
    assert s.committed_audio == {}
    kinds = [e["type"] for e in s.received_events if e["type"] != "input_audio_buffer.append"]
    after = kinds[kinds.index("input_audio_buffer.clear"):]
    assert after.count("input_audio_buffer.clear") == 2  # at the window's start and at its end
    assert "input_audio_buffer.commit" not in after and "response.create" not in kinds[-3:]
    on, off = turn_detections(sim)[-2:]
    assert on["type"] == "server_vad" and off is None  # the VAD is off again
    assert status["state"] == "ready" and status["listen"]["state"] == "gated"
