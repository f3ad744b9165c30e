"""A tool handler that never returns must not keep the process alive: handlers run on daemon threads.

Run as a real process (the bug lives in interpreter exit, which pytest's own process never reaches): a small
program connects a session to the simulator running here, registers a handler that sleeps forever, has the model
call it, waits for the timeout's error output, stops the session and returns from main. With the handlers on a
`ThreadPoolExecutor` its exit hook joins the stuck worker, and the process never ends.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

from sessionhelpers import KEY, MODELS, wait_until

CHILD = textwrap.dedent("""
    import sys, threading
    import msgspec
    from rtaudiod.audio import AudioConfig, AudioEngine
    from rtaudiod.session import RealtimeConfig, Session

    url, dialect, model, key = sys.argv[1:5]
    config = msgspec.convert({"base_url": url, "dialect": dialect, "model": model, "api_key": key,
                              "tool_timeout_s": 0.5}, RealtimeConfig)
    engine = AudioEngine(AudioConfig(backend="null", session_format="pcm16", capture=False)).start()
    answered = threading.Event()
    started = threading.Event()

    def on_event(topic, data):
        if topic == "function_call" and "output" in data and not data["ok"]:
            answered.set()

    def forever(call):
        started.set()
        threading.Event().wait()  # never returns

    session = Session(config, engine, on_event=on_event)
    session.register_tool("lookup", forever, "Look something up")
    session.start()
    assert session.wait_ready(15), session.error
    session.send_text("Please lookup my order")
    assert started.wait(15), "the handler was never called"
    assert answered.wait(15), "the call was never answered"
    session.stop()
    engine.close()
    print("stopped", flush=True)
""")


def test_a_handler_that_never_returns_does_not_keep_the_process_alive(make_sim, dialect):
    sim = make_sim(dialect)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, sim.url, dialect, MODELS[dialect], KEY],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=20)  # generous: the child needs well under a second once stopped
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"the process did not exit after the session stopped; stdout={out!r} "
                             f"stderr={err[-2000:]!r}") from None
    assert proc.returncode == 0, err[-2000:]
    assert "stopped" in out
    outputs = wait_until(lambda: [e["item"] for s in sim.sessions for e in s.received_events
                                  if e["type"] == "conversation.item.create"
                                  and e["item"]["type"] == "function_call_output"], 5, "the error output")
    assert len(outputs) == 1
    assert "timed out" in json.loads(outputs[0]["output"])["error"]


def test_the_pool_runs_on_daemon_threads_and_close_drops_what_has_not_started():
    from rtaudiod.session.tools import DaemonPool
    import threading

    pool = DaemonPool(2, "test-tool")
    release = threading.Event()
    started: list[int] = []
    ran: list[int] = []

    def task(n: int) -> None:
        started.append(n)
        release.wait(30)
        ran.append(n)

    for n in range(3):
        pool.submit(task, n)
    wait_until(lambda: len(started) == 2, 10, "two tasks to start")
    threads = pool.threads
    assert len(threads) == 2 and all(t.daemon for t in threads)
    pool.close()  # returns with both workers still busy
    assert all(t.is_alive() for t in threads)
    release.set()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)  # idle workers end after close
    assert sorted(ran) == [0, 1]  # the third never started
    try:
        pool.submit(task, 3)
    except RuntimeError:
        pass
    else:
        raise AssertionError("a closed pool accepted a task")


def test_a_stuck_handler_timed_out_does_not_hold_up_the_calls_after_it():
    """With one worker stuck in a handler that never returns, the next call still runs once the stuck one has timed
    out (its worker is written off and another starts), instead of waiting behind it for good."""
    import threading

    from rtaudiod.session.tools import PendingCalls, ToolCall

    answers: dict[str, tuple[str, bool]] = {}
    pending = PendingCalls(lambda call, output, ok: answers.__setitem__(call.call_id, (output, ok)), timeout=5,
                           workers=1)
    release = threading.Event()
    stuck_started = threading.Event()

    def stuck(call: ToolCall) -> str:
        stuck_started.set()
        release.wait(60)
        return "too late"

    try:
        # it started longer ago than the timeout: the sweep gives up on it, and only on it
        pending.start(ToolCall("call_stuck", "hang", "{}", "resp_1", started=time.monotonic() - 6), stuck)
        assert stuck_started.wait(10)
        pending.start(ToolCall("call_next", "quick", "{}", "resp_1"), lambda call: '{"ok": true}')
        pending.sweep()
        assert json.loads(answers["call_stuck"][0])["error"].endswith("timed out after 5 s")
        wait_until(lambda: "call_next" in answers, 10, "the call queued behind the stuck handler")
        assert answers["call_next"] == ('{"ok": true}', True)
    finally:
        release.set()
        pending.close()
