"""Announce end to end: the daemon as a subprocess on rtaudiod-sim, driven through `rtaudiod-cli` in both dialects:
the device says the text out of band, the CLI follows it until it has played, the conversation does not hold it."""

from __future__ import annotations

import json

from test_daemon_e2e import daemon  # noqa: F401 - the daemon fixture
from test_daemon_image_mcp import cli, dialect_sim, received, start  # noqa: F401 - dialect_sim: a fixture

TEXT = "Dinner is ready."


def test_announce_through_the_cli_in_both_dialects(tmp_path, daemon, dialect_sim):
    dialect, sim = dialect_sim
    proc, sock = start(tmp_path, daemon, sim, extra=f'dialect = "{dialect}"')
    said = cli(sock, "say", "Remember the word pineapple")
    assert said.returncode == 0, said.stderr
    done = cli(sock, "--json", "announce", TEXT)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["event"] == "done" and result["announce_id"].startswith("rtad_announce")
    create = received(sim, "response.create")[-1]["response"]
    assert create["conversation"] == "none" and create["input"] == [] and TEXT in create["instructions"]
    queued = cli(sock, "announce", "--no-wait", TEXT)
    assert queued.returncode == 0 and queued.stdout.startswith("queued: rtad_announce"), queued.stderr
    asked = cli(sock, "say", "Are you there?")  # follows its reply, not the announcement's response
    assert asked.returncode == 0 and asked.stdout.strip() == "Simulator heard: Are you there.", asked.stderr
    status = json.loads(cli(sock, "--json", "status").stdout)
    assert status["history_turns"] == 4  # the user's texts and their replies; no announcement
    empty = cli(sock, "announce", " ")
    assert empty.returncode != 0 and "text must not be empty" in empty.stderr
