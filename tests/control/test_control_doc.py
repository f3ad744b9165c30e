"""docs/control-protocol.md is the contract: every command, topic and error code it names exists, and nothing
exists that it does not name; its examples are real requests."""

from __future__ import annotations

import json
import re
from pathlib import Path

from rtaudiod.control import ALWAYS_SENT, CLIENT_CODES, COMMANDS, ERROR_CODES, TOPICS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "control-protocol.md").read_text()


def first_column(section: str) -> set[str]:
    """The backticked names in the first column of the table under `## <section>`."""
    body = DOC.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in body.splitlines():
        cells = line.split("|")
        if line.startswith("|") and len(cells) > 2 and not set(cells[1].strip()) <= {"-", " "}:
            names.update(re.findall(r"`([^`]+)`", cells[1]))
    return names


def test_the_commands_table_is_the_servers():
    assert first_column("Commands") == set(COMMANDS)


def test_the_topics_table_is_the_servers():
    assert first_column("Event topics") == set(TOPICS)


def test_the_error_codes_table_is_the_servers():
    assert first_column("Error codes") == set(ERROR_CODES)


def test_the_events_every_client_gets_and_the_clients_own_codes_are_described():
    for name in (*ALWAYS_SENT, *CLIENT_CODES):
        assert f"`{name}`" in DOC, name


def test_the_hand_written_examples_are_real_requests(stack):
    block = DOC.split("```sh", 1)[1].split("```", 1)[0]
    requests = [json.loads(line) for line in block.splitlines() if line.startswith("{")]
    assert requests and all(r["command"] in COMMANDS for r in requests)
    for request in requests:
        args = {k: v for k, v in request.items() if k not in ("id", "command")}
        stack.client.request(request["command"], **args)


def test_the_hello_example_has_the_hellos_keys(stack):
    example = DOC.split("### The greeting", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    keys = set(re.findall(r'"(\w+)":', example)) - {"format", "rate", "channels", "session_format"}
    assert keys == set(stack.client.hello) | {"event"}
