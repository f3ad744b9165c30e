"""The arrival jitter of audio deltas (rtaudiod/sim/jitter.py): the model's plan, and what a real client socket sees.

On (the default), a client sees most deltas about one period apart, some in clumps (released together at the end of
a stall) and gaps of 100-250 ms beyond the period; off (`jitter=0`), a metronome; at pace 0, no schedule at all."""

import base64
import time

import pytest

from rtaudiod.sim import Simulator
from rtaudiod.sim.__main__ import parse_args
from rtaudiod.sim.jitter import JITTER_MAX_S, STALL_S, STALLS_PER_S, Jitter

#: ~5.3 s of reply audio in the synthetic voice ("Simulator heard: ..." + 20 words, 240 ms a word): 53 deltas
WORDS = " ".join(f"w{i}" for i in range(20))
PACE = 2.0
PERIOD = 0.1 / PACE


def plan(seed: int, deltas: int, scale: float = 1.0, period: float = PERIOD) -> list[float]:
    arrivals = Jitter(scale, seed).schedule(period)
    return [arrivals.next() for _ in range(deltas)]


def stall_starts(offsets: list[float], period: float, scale: float = 1.0) -> int:
    """Deltas whose lateness exceeds the most the small jitter can add, after one that did not: a stall began."""
    late = [t - i * period > JITTER_MAX_S * scale + 1e-9 for i, t in enumerate(offsets)]
    return sum(1 for i, x in enumerate(late) if x and (i == 0 or not late[i - 1]))


def test_the_plan_is_late_never_early_in_order_and_reproducible():
    offsets = plan(seed=3, deltas=500)
    assert all(t >= i * PERIOD for i, t in enumerate(offsets))
    assert offsets == sorted(offsets)
    assert offsets == plan(seed=3, deltas=500)
    assert offsets != plan(seed=4, deltas=500)
    jitter = Jitter(1.0, 3)
    first, second = jitter.schedule(PERIOD), jitter.schedule(PERIOD)
    assert [first.next() for _ in range(50)] != [second.next() for _ in range(50)]  # each response its own draws


def test_scale_zero_is_a_metronome_and_scale_stretches_the_stalls():
    assert plan(seed=1, deltas=100, scale=0) == [i * PERIOD for i in range(100)]
    for scale in (1.0, 2.0):
        lateness = [t - i * 0.1 for n in range(200) for i, t in enumerate(plan(n, 40, scale, period=0.1))]
        assert max(lateness) <= (STALL_S[1] + JITTER_MAX_S) * scale
        assert max(lateness) > STALL_S[1] * scale * 0.9  # the long stalls do happen


def test_stalls_come_at_the_stated_rate():
    period, deltas, responses = 0.1, 50, 400
    starts = sum(stall_starts(plan(n, deltas, period=period), period) for n in range(responses))
    wall = responses * deltas * period
    # a stall can begin only outside another one, and one shorter than the small jitter's cap is not seen: a bit under
    assert 0.6 * STALLS_PER_S * wall < starts <= 1.1 * STALLS_PER_S * wall


def _arrivals(connect, **sim_kwargs) -> list[float]:
    """Arrival times at a real client socket of every audio delta of one reply."""
    sim, client = connect("ga", voice="synthetic", **sim_kwargs)
    client.send({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                                                              "content": [{"type": "input_text", "text": WORDS}]}})
    client.send({"type": "response.create"})
    times = []
    for _ in range(5000):
        event = client.recv()
        if event["type"] == "response.output_audio.delta":
            times.append(time.monotonic())
            assert len(base64.b64decode(event["delta"])) <= 4800
        if event["type"] == "response.done":
            return times
    raise AssertionError("no response.done")


def test_a_client_sees_clumps_and_gaps_where_the_plan_puts_them(connect):
    """A loaded machine can only make a delta later than planned, never earlier: so no delta comes before its
    planned time (the deltas after a stall wait it out), measured from the least late delta."""
    seed = next(s for s in range(100) if stall_starts(plan(s, 50), PERIOD) >= 2)  # a reply with two stalls
    times = _arrivals(connect, pace=PACE, jitter=1.0, seed=seed)
    assert len(times) >= 50
    expected = plan(seed, len(times))
    anchor = min(t - e for t, e in zip(times, expected))
    lateness = [t - anchor - e for t, e in zip(times, expected)]  # >= 0, by the anchor's choice
    planned_gaps = [b - a for a, b in zip(expected, expected[1:])]
    stalls = [i + 1 for i, g in enumerate(planned_gaps) if g > PERIOD + STALL_S[0] * 0.8]
    assert len(stalls) >= 2
    # a metronome would bring each delta after a stall 100-250 ms before its planned time: measured from a delta
    # before the stall, it comes no earlier than planned
    for i in stalls:
        assert times[i] - times[i - 1] > planned_gaps[i - 1] - lateness[i - 1] - 0.02, (i, lateness)
    # the inter-arrival statistics show it: gaps well beyond the period, and clumps where the plan has them
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert max(gaps) > PERIOD + STALL_S[0] * 0.8
    clumps = [i for i, g in enumerate(planned_gaps) if g < 0.002]
    assert clumps
    assert sum(gaps[i] < PERIOD / 3 for i in clumps) >= 0.5 * len(clumps), (gaps, planned_gaps)


def test_without_jitter_a_client_sees_a_metronome(connect):
    """The gaps are the period: their median (a loaded machine makes a few late, each late one two gaps off; one
    so overloaded that the simulator's loop falls behind its deadlines sends the late ones in a catch-up burst)."""
    times = _arrivals(connect, pace=PACE, jitter=0)
    gaps = sorted(b - a for a, b in zip(times, times[1:]))
    assert 0.8 * PERIOD < gaps[len(gaps) // 2] < 1.2 * PERIOD, gaps
    steady = [g for g in gaps if 0.6 * PERIOD < g < 1.4 * PERIOD]
    assert len(steady) >= 0.6 * len(gaps), gaps


def test_no_jitter_at_pace_zero(connect):
    """pace 0 is as fast as possible: even 10x the jitter (stalls of 1-2.5 s) holds nothing back."""
    times = _arrivals(connect, pace=0, jitter=10.0)
    assert times[-1] - times[0] < 1.0


def test_the_knobs_on_the_command_line_and_in_process():
    args = parse_args([])
    assert (args.jitter, args.seed) == (1.0, 0)  # on by default
    args = parse_args(["--jitter", "0", "--seed", "7"])
    assert (args.jitter, args.seed) == (0.0, 7)
    with pytest.raises(SystemExit):
        parse_args(["--jitter", "-1"])
    with pytest.raises(ValueError, match="jitter"):
        Simulator(jitter=-0.5)
    options = Simulator(jitter=2.0, seed=5).options
    assert (options.jitter.scale, options.jitter.seed) == (2.0, 5)
