"""The PulseAudio null-sink server of the tests (tests/pulse_server.py) for the second rtaudiod row: rtaudiod
captures from `rtmic.monitor` and plays into `rtspk`, both 48 kHz stereo; the microphone's WAV is played into
`rtmic` by pacat. The sound server's and pacat's CPU are not the daemon's (other processes)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

from benchmarks.e2e.workload import as_sound_card

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
import pulse_server  # noqa: E402


class Pulse:
    def __init__(self, server: pulse_server.PulseServer) -> None:
        self.server = server
        self.env = server.env

    def play_mic(self, path: str) -> subprocess.Popen:
        """The microphone WAV into the mic sink, at the sink's 48 kHz stereo (workload.as_sound_card)."""
        raw = Path(path).with_suffix(".48k.raw")
        raw.write_bytes(as_sound_card(path, pulse_server.RATE, pulse_server.CHANNELS))
        return subprocess.Popen(["pacat", "--playback", "-d", pulse_server.MIC, "--latency-msec=200",
                                 *pulse_server.FORMAT_ARGS, str(raw)], stderr=subprocess.DEVNULL, env=self.env)


def microphone_at_its_recorders_latency(server: pulse_server.PulseServer) -> None:
    """Stop the tests' 20 ms keepalive on the microphone sink (pulse_server.keep_rendering), so the sink renders at
    the latency its recorders ask, as a sound card's source does. With it the server pushes every recorder 5 ms
    blocks, whatever the recorder asked (measured with the pulse backend's capture alone: 200 wake-ups a second with
    it, 43 without it, for a 20 ms fragment), a cost no real microphone imposes. play_mic keeps the sink rendering
    while a row runs."""
    for proc in [p for p in server.keepalive if pulse_server.MIC in p.args]:
        proc.terminate()
        proc.wait(5)
        server.keepalive.remove(proc)


@contextlib.contextmanager
def pulse():
    """A Pulse, or None (with the reason printed) when PulseAudio is not installed."""
    try:
        with contextlib.contextmanager(pulse_server.pulse_server.__wrapped__)() as server:
            microphone_at_its_recorders_latency(server)
            yield Pulse(server)
    except BaseException as e:  # pytest.skip's exception when the tools are missing
        if type(e).__name__ != "Skipped":
            raise
        print(f"bench-e2e: no PulseAudio row: {e}", file=sys.stderr)
        yield None
