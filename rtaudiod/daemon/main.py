"""`rtaudiod` (and `python -m rtaudiod`): parse the command line, load the configuration, run the daemon.

Exit statuses: 0 stopped by SIGTERM/SIGINT; 1 a part failed; 2 a usage error; 78 (EX_CONFIG) the configuration or
the credentials are wrong (one line on stderr names the key).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys

from rtaudiod import __version__

from .arenas import cap_malloc_arenas
from .config import DEFAULT_PATH, ConfigError, load_config
from .daemon import EXIT_CONFIG, EXIT_FAILED, Daemon
from .logs import setup_logging

__all__ = ["main"]

log = logging.getLogger("rtaudiod.daemon")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="rtaudiod", description="Voice-agent audio daemon: one Realtime session, the "
                                "sound card, and a control socket for local processes.")
    p.add_argument("--config", metavar="FILE", help=f"TOML configuration (default {DEFAULT_PATH} if it exists)")
    p.add_argument("--set", metavar="TABLE.KEY=VALUE", action="append", default=[], dest="overrides",
                   help="override one setting (repeatable), e.g. --set session.voice=marin")
    p.add_argument("--log-level", choices=("debug", "info", "warning", "error"), help="(default: daemon.log_level)")
    p.add_argument("--check-config", action="store_true",
                   help="validate the configuration, print it (the key masked) and exit")
    p.add_argument("--version", action="version", version=f"rtaudiod {__version__}")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    cap_malloc_arenas()  # before any thread allocates (arenas.py)
    args = parse_args(argv)
    try:
        config = load_config(args.config, args.overrides)
    except ConfigError as e:
        print(f"rtaudiod: {e}", file=sys.stderr)
        return EXIT_CONFIG
    if args.check_config:
        print(json.dumps(config.masked(), indent=2))
        return 0
    setup_logging(args.log_level or config.daemon.log_level)
    daemon = Daemon(config)
    # Signals only set flags; the main loop acts on them (a handler must not stop threads itself).
    signal.signal(signal.SIGTERM, lambda *_: daemon.request_stop())
    signal.signal(signal.SIGINT, lambda *_: daemon.request_stop())
    signal.signal(signal.SIGHUP, lambda *_: _reload(daemon, args))
    try:
        daemon.start()
    except ConfigError as e:
        log.error("%s", e)
        return EXIT_CONFIG
    except Exception as e:  # a device or socket that cannot be had: say it in one line, not a traceback
        log.error("cannot start: %s", e)
        log.debug("start-up failure", exc_info=True)
        return EXIT_FAILED
    # A signal taken on another thread (the audio's, say) wakes the main loop through this fd at once.
    previous_fd = signal.set_wakeup_fd(daemon.wakeup_fd, warn_on_full_buffer=False)
    try:
        code = daemon.run()
    finally:
        signal.set_wakeup_fd(previous_fd)
        daemon.stop()
    log.info("stopped")
    return code


def _reload(daemon: Daemon, args: argparse.Namespace) -> None:
    try:
        daemon.request_reload(load_config(args.config, args.overrides))
    except ConfigError as e:  # a broken file on reload: keep running on the old configuration
        log.error("not reloaded: %s", e)


if __name__ == "__main__":
    sys.exit(main())
