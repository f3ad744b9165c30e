"""The daemon: configuration, lifecycle, logging and sd_notify around the engine, the session and the control API.

Modules: `config` (TOML + environment + `--set` overrides into `DaemonConfig`; where the key comes from),
`daemon` (`Daemon`: start, run, stop, reload; the exit statuses), `main` (`rtaudiod`'s command line), `logs`
(journald-friendly stderr), `notify` (`READY=1`, `STATUS=`, `WATCHDOG=1` without libsystemd).
"""

from .config import ConfigError, DaemonConfig, load_config
from .daemon import Daemon

__all__ = ["ConfigError", "Daemon", "DaemonConfig", "load_config"]
