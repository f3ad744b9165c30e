"""Logging to stderr in a form journald reads well: under systemd (`JOURNAL_STREAM` set) each line starts with its
syslog priority (`<3>` error ... `<7>` debug) and carries no timestamp (the journal adds one); elsewhere, a plain
timestamped line. The API key never reaches a log line: nothing in rtaudiod formats it, and the session scrubs
the service's own messages."""

from __future__ import annotations

import logging
import os
import sys

__all__ = ["setup_logging"]

_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


class JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        prefix = f"<{_PRIORITY.get(record.levelno, 6)}>"
        return "\n".join(prefix + line for line in text.splitlines())  # a traceback keeps its priority


def setup_logging(level: str = "info", journal: bool | None = None) -> None:
    """Configure the root logger once for the daemon (`level`: debug, info, warning, error)."""
    if journal is None:
        journal = bool(os.environ.get("JOURNAL_STREAM"))
    handler = logging.StreamHandler(sys.stderr)
    if journal:
        handler.setFormatter(JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # The simulator's websockets server logs every connection at INFO: noise beside the daemon's own lines.
    logging.getLogger("rtaudiod.sim.websockets").setLevel(logging.WARNING)
