"""`python -m rtaudiod.audio`: list the audio devices PortAudio sees, exactly as `rtaudiod-cli devices` does (same
output, same exit status: 0, also when there is none, which is said on stderr)."""

import sys

from rtaudiod.cli import main

if __name__ == "__main__":
    sys.exit(main(["devices", *sys.argv[1:]]))
