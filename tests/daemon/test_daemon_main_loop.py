"""The daemon's main loop sleeps until something it watches happens (issue 17: no 0.5 s poll while audio flows):
a stop, a reload, a session state change or a thread dying of an exception wakes it. The backstop poll is set to an
hour here, so a loop that only noticed on a timer would not return."""

import threading

import pytest

from rtaudiod.daemon import Daemon, daemon as daemon_module
from rtaudiod.daemon.config import load_config


@pytest.fixture
def daemon(monkeypatch, tmp_path):
    monkeypatch.setattr(daemon_module, "BACKSTOP_S", 3600.0)
    d = Daemon(load_config(None, ["daemon.simulate=always", "audio.backend=null",
                                  f"control.socket={tmp_path / 'c.sock'}"], {}))
    d.start()
    yield d
    d.stop()


def run_in_thread(daemon: Daemon) -> tuple[threading.Thread, list[int]]:
    code: list[int] = []
    thread = threading.Thread(target=lambda: code.append(daemon.run()), daemon=True)
    thread.start()
    return thread, code


def test_a_stop_request_wakes_the_main_loop(daemon):
    thread, code = run_in_thread(daemon)
    threading.Timer(0.2, daemon.request_stop).start()
    thread.join(30)
    assert code == [0]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the death is the point
def test_a_part_whose_thread_dies_stops_the_daemon_at_once(daemon):
    thread, code = run_in_thread(daemon)

    def die(item):
        raise SystemExit  # a BaseException: past the control loop's guard, its thread ends

    daemon.control.on_inbound = die
    daemon.control.transport.post(("anything",))
    thread.join(30)
    assert code == [1]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_part_that_died_before_the_loop_began_stops_it_at_once(daemon):
    """No hook saw that death: the loop looks before its first wait."""
    daemon.control.on_inbound = lambda item: (_ for _ in ()).throw(SystemExit)
    daemon.control.transport.post(("anything",))
    pause = threading.Event()
    for _ in range(300):
        if daemon._failure() is not None:
            break
        pause.wait(0.1)
    assert daemon._failure() is not None, "the control thread did not die"
    daemon._drain_wake()  # the session's state changes during start poked it: none is left to wake the first wait
    thread, code = run_in_thread(daemon)
    thread.join(30)
    assert code == [1]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dying_thread_slow_to_end_after_its_hook_is_still_seen(daemon, monkeypatch):
    """The exception hook runs in the dying thread, before it ends: a loop that looked at once found it alive and
    slept till the backstop (CI, under load). Here every poke from another thread lingers 0.5 s after it."""
    poke = daemon._poke

    def poke_then_linger() -> None:
        poke()
        if threading.current_thread() is not loop:
            threading.Event().wait(0.5)

    monkeypatch.setattr(daemon, "_poke", poke_then_linger)
    loop, code = run_in_thread(daemon)
    daemon.control.on_inbound = lambda item: (_ for _ in ()).throw(SystemExit)
    daemon.control.transport.post(("anything",))
    loop.join(30)
    assert code == [1]
