"""`python -m rtaudiod.audio`: list the audio devices PortAudio sees, exactly as `rtaudiod-cli devices` does (same
output, same exit status: 0, also when there is none, which is said on stderr)."""

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] = ()) -> int:
    from rtaudiod.cli import main as cli_main

    return cli_main(["devices", *argv])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
