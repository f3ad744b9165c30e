"""The private PulseAudio server is reachable through PortAudio, and the listing is clean."""

from rtaudiod.audio import list_devices
from rtaudiod.audio.__main__ import main as list_main
from rtaudiod.audio.pyaudio_backend import PyAudioBackend


def test_pyaudio_sees_pulse_devices(pulse_server, capfd):
    devices = list_devices()
    names = [d.name for d in devices]
    assert "pulse" in names and "default" in names
    pulse = devices[names.index("pulse")]
    assert pulse.max_input_channels > 0 and pulse.max_output_channels > 0 and pulse.default_rate > 0
    assert capfd.readouterr().err == ""  # PortAudio's ALSA/JACK probing noise is hidden


def test_device_listing_command(pulse_server, capfd):
    assert list_main() == 0
    out, err = capfd.readouterr()
    assert "pulse" in out and "default" in out and err == ""


def test_resolve_by_substring_index_and_default(pulse_server):
    backend = PyAudioBackend()
    try:
        by_name = backend.resolve("PULS", output=True)
        assert by_name.name == "pulse"
        assert backend.resolve(by_name.index, output=False) == by_name
        assert backend.resolve(None, output=True).name == "default"
    finally:
        backend.close()


def test_quiet_stderr_from_two_threads_gives_stderr_back():
    """Listing devices while a stream opens elsewhere: fd 2 must come back to what it was, not stay on
    /dev/null for the rest of the process (the daemon would lose every error it prints)."""
    import os
    import threading
    import time

    from rtaudiod.audio.pyaudio_backend import quiet_stderr

    before = os.fstat(2)

    def worker() -> None:
        for _ in range(10):
            with quiet_stderr():
                time.sleep(0.001)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = os.fstat(2)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)
