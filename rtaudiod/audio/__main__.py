"""`python -m rtaudiod.audio`: list the audio devices PortAudio sees (PortAudio's stderr noise hidden)."""

import sys

from rtaudiod.audio import list_devices


def main() -> int:
    devices = list_devices()
    if not devices:
        print("no audio devices (is a sound server running, or a card present?)")
        return 1
    print(f"{'index':>5}  {'in':>3}  {'out':>3}  {'rate':>6}  name")
    for d in devices:
        print(f"{d.index:>5}  {d.max_input_channels:>3}  {d.max_output_channels:>3}  {d.default_rate:>6}  {d.name} ({d.host_api})")
    print('\nchoose with input_device/output_device = index or a part of the name, e.g. "USB"')
    return 0


if __name__ == "__main__":
    sys.exit(main())
