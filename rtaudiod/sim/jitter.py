"""Arrival jitter: when each audio delta of a response leaves the simulator.

The service's audio deltas do not reach a client on a metronome. What is public: the service generates audio
faster than real time ("all tokens are generated and delivered before the audio is fully processed",
community.openai.com/t/realtime-api-is-extremely-fast/970088), and clients see the deltas of a reply come "in rapid
succession" after a slow start (Azure-Samples/aisearch-openai-rag-audio#60: audio "starts by slowing down, then
speeds up", blamed on "many response.audio.deltas sent in rapid succession" under network congestion); a relay of a
realtime voice model's deltas "arrives in bursts" and a client that played each chunk on arrival stuttered at every
burst boundary (iterate/iterate#2721). No public capture gives the inter-arrival times of the live service, so the
numbers below are an assumption, chosen to be plausible for a TCP stream over the internet and Wi-Fi, and to be
the kind of arrival a playout buffer must survive:

- every delta is a little late against its nominal time (scheduling and network jitter): exponential, mean
  `JITTER_MEAN_S` (a few ms, what a loaded server and a home link add), at most `JITTER_MAX_S`;
- now and then the stream stalls (a lost segment's retransmission takes ~200 ms, Linux's minimum RTO; a Wi-Fi
  power-save wake or the server's generation hiccups alike): `STALLS_PER_S` times a second of wall time on average,
  each `STALL_S` long (100-250 ms, uniform); every delta due during a stall goes out at its end, in one clump.

Deltas never overtake each other (one TCP stream). `scale` multiplies every delay (0: no jitter, the metronome;
2: stalls of 200-500 ms); the stall rate stays. Each response draws from its own generator, seeded with the
simulator's `seed` and the response's number, so a run is reproducible and a cancelled response does not shift the
draws of the next one. At pace 0 (as fast as possible) there is no schedule and no jitter.
"""

import random
from dataclasses import dataclass, field

JITTER_MEAN_S = 0.005
JITTER_MAX_S = 0.050
STALLS_PER_S = 0.25
STALL_S = (0.100, 0.250)


@dataclass
class Jitter:
    """The simulator-wide setting: `scale` of the delays (0 = off) and the `seed` of the draws."""

    scale: float = 1.0
    seed: int = 0
    _responses: int = field(default=0, compare=False, repr=False)  # responses planned so far

    def __post_init__(self) -> None:
        if self.scale < 0:
            raise ValueError(f"jitter must be 0 or more, not {self.scale!r}")

    def schedule(self, period_s: float) -> "Arrivals":
        """The arrival plan of the next response, whose deltas are nominally `period_s` apart (wall time)."""
        n = self._responses
        self._responses += 1
        return Arrivals(period_s, self.scale, random.Random(f"rtaudiod-sim/{self.seed}/{n}"))


class Arrivals:
    """One response's deltas: `next()` is the offset (seconds after the first delta's nominal time) at which the
    next delta goes out."""

    def __init__(self, period_s: float, scale: float, rng: random.Random) -> None:
        self.period_s = period_s
        self.scale = scale
        self.rng = rng
        self.stall_p = min(1.0, STALLS_PER_S * period_s)  # the chance a stall begins at a given delta
        self.index = 0
        self.stall_until = 0.0
        self.last = 0.0

    def next(self) -> float:
        due = self.index * self.period_s
        self.index += 1
        if self.scale == 0:
            return due
        rng = self.rng
        at = due + min(rng.expovariate(1 / JITTER_MEAN_S), JITTER_MAX_S) * self.scale
        if due >= self.stall_until and rng.random() < self.stall_p:
            self.stall_until = due + rng.uniform(*STALL_S) * self.scale
        if due < self.stall_until:
            at = max(at, self.stall_until)
        self.last = max(self.last, at)
        return self.last
