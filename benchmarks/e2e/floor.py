"""The floor: the peers' paced microphone and speaker threads with no client at all, so each contender's own cost
reads off above it."""

from benchmarks.e2e import harness

if __name__ == "__main__":
    harness.run(None)
