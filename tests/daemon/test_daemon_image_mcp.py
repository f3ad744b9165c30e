"""Images and remote MCP tools end to end: the daemon as a subprocess on rtaudiod-sim (in this process, so the test
sees what reached the "service"), driven through `rtaudiod-cli` as a user would, in both dialects."""

from __future__ import annotations

import base64
import json
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from rtaudiod.control import Client
from rtaudiod.errors import ControlError
from rtaudiod.session.images import MAX_IMAGE_BYTES
from rtaudiod.sim import Simulator
from test_daemon_e2e import FAST, KEY, daemon, write_config  # noqa: F401 - the daemon fixture

MCP_HEADER_SECRET = "hdr-secret-5f2c9e1a7b"
MCP_TOKEN = "oauth-token-8d3b6c2e4f"


def png(width: int = 4, height: int = 3) -> bytes:
    """A real PNG (RGB, every pixel grey)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    rows = b"".join(b"\x00" + b"\x80\x80\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def cli(sock: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rtaudiod.cli", "--socket", str(sock), *args],
                          capture_output=True, text=True, timeout=timeout)


def received(sim: Simulator, kind: str) -> list[dict]:
    return [e for s in sim.sessions for e in s.received_events if e["type"] == kind]


def start(tmp_path: Path, daemon, sim: Simulator, extra: str = "", env: dict[str, str] | None = None):
    config = tmp_path / "rtaudiod.toml"
    write_config(config, sim, extra=extra)
    proc, notify = daemon(config, env)
    notify.wait("READY=1", 20)
    return proc, tmp_path / "control.sock"


@pytest.fixture(params=["ga", "beta"])
def dialect_sim(request):
    with Simulator(dialect=request.param, api_key=KEY, **FAST) as s:
        yield request.param, s


# ==================================================================================================== images
def test_image_send_through_the_cli_in_both_dialects(tmp_path, daemon, dialect_sim):
    dialect, sim = dialect_sim
    proc, sock = start(tmp_path, daemon, sim, extra=f'dialect = "{dialect}"')
    image = tmp_path / "door.png"
    image.write_bytes(png())
    done = cli(sock, "image", str(image), "Who is at the door?")
    images = [e for e in received(sim, "conversation.item.create")
              if any(p.get("type") == "input_image" for p in e["item"].get("content", []))]
    if dialect == "beta":
        assert done.returncode == 1, done.stderr
        assert "(unsupported)" in done.stderr and "GA dialect" in done.stderr
        assert images == []  # refused before anything was sent
        return
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Simulator heard: Who is at the door, with an image."
    (event,) = images
    text, picture = event["item"]["content"]
    assert text == {"type": "input_text", "text": "Who is at the door?"}
    prefix = "data:image/png;base64,"
    assert picture["image_url"].startswith(prefix)
    assert base64.b64decode(picture["image_url"][len(prefix):]) == image.read_bytes()
    # a JPEG without text, --detail low: the simulator sees an image only
    jpeg = tmp_path / "cam.jpg"
    jpeg.write_bytes(b"\xff\xd8\xff\xe0" + bytes(64) + b"\xff\xd9")
    done = cli(sock, "image", str(jpeg), "--detail", "low")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "I see an image."
    last = received(sim, "conversation.item.create")[-1]["item"]["content"]
    assert [p["type"] for p in last] == ["input_image"] and last[0]["detail"] == "low"
    assert last[0]["image_url"].startswith("data:image/jpeg;base64,")


def test_what_is_not_an_image_is_refused_before_it_is_sent(tmp_path, daemon):
    with Simulator(dialect="ga", api_key=KEY, **FAST) as sim:
        proc, sock = start(tmp_path, daemon, sim)
        text_file = tmp_path / "notes.png"
        text_file.write_text("not really a png\n")
        done = cli(sock, "image", str(text_file))
        assert done.returncode == 2 and "not a JPEG or PNG" in done.stderr
        big = tmp_path / "huge.png"
        big.write_bytes(png() + bytes(MAX_IMAGE_BYTES))
        done = cli(sock, "image", str(big))
        assert done.returncode == 2 and "over the limit" in done.stderr
        with Client(str(sock)) as client:  # the daemon's own checks, for clients other than the CLI
            with pytest.raises(ControlError) as refused:
                client.request("image.send", data=base64.b64encode(b"GIF89a....").decode())
            assert refused.value.code == "bad_args" and "not a JPEG or PNG" in str(refused.value)
            with pytest.raises(ControlError) as refused:
                client.request("image.send", data="@@not base64@@")
            assert refused.value.code == "bad_args" and "base64" in str(refused.value)
            with pytest.raises(ControlError) as refused:
                client.send_image(png() + bytes(MAX_IMAGE_BYTES))
            assert refused.value.code == "bad_args" and "over the limit" in str(refused.value)
            # base64 in the JSON works as well as the payload, and the daemon goes on serving
            assert client.request("image.send", data=base64.b64encode(png()).decode(), respond=False) \
                == {"bytes": len(png())}
        # the command answers once the item is queued for the service: wait for it to arrive, then check that it
        # is the only one (the refused ones sent nothing)
        deadline = time.monotonic() + 5
        while not received(sim, "conversation.item.create") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(received(sim, "conversation.item.create")) == 1


# ==================================================================================================== MCP
MCP_CONFIG = """
[[session.tools]]
type = "mcp"
server_label = "home"
server_url = "https://mcp.example.com/mcp"
allowed_tools = ["echo", "add"]
require_approval = {{ never = ["echo"] }}
headers = {{ "X-Device" = "kitchen" }}
secret_headers = {{ "X-Api-Key" = "{header_file}" }}
authorization = "mcp_home_token"
"""


def mcp_setup(tmp_path: Path) -> tuple[str, dict[str, str]]:
    header_file = tmp_path / "mcp-key"
    header_file.write_text(MCP_HEADER_SECRET + "\n")
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "mcp_home_token").write_text(MCP_TOKEN)
    return MCP_CONFIG.format(header_file=header_file), {"CREDENTIALS_DIRECTORY": str(credentials)}


class Watch:
    """A client's events as they come: `tool(until)` returns the tool events up to the first that `until` accepts;
    every event read is kept in `all` (raw frames included)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.all: list[tuple[str, dict]] = []

    def tool(self, until, timeout: float = 20) -> list[dict]:
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            event = self.client.next_event(timeout=0.5)
            if event is None:
                continue
            self.all.append((event.name, dict(event.data)))
            if event.name == "tool":
                seen.append(dict(event.data))
                if until(seen[-1]):
                    return seen
        raise AssertionError(f"no such tool event in {timeout} s; saw {seen}")


def test_mcp_tools_run_report_and_ask_for_approval(tmp_path, daemon):
    extra, env = mcp_setup(tmp_path)
    with Simulator(dialect="ga", api_key=KEY, **FAST) as sim:
        proc, sock = start(tmp_path, daemon, sim, extra=extra, env=env)
        (update,) = [e for e in received(sim, "session.update") if any(t.get("type") == "mcp"
                                                                        for t in e["session"].get("tools", []))]
        (server,) = [t for t in update["session"]["tools"] if t["type"] == "mcp"]
        assert server == {"type": "mcp", "server_label": "home", "server_url": "https://mcp.example.com/mcp",
                          "allowed_tools": ["echo", "add"], "require_approval": {"never": {"tool_names": ["echo"]}},
                          "headers": {"X-Device": "kitchen", "X-Api-Key": MCP_HEADER_SECRET},
                          "authorization": MCP_TOKEN}
        with Client(str(sock)) as client:
            client.subscribe("tool", "raw")
            watch = Watch(client)
            # a call that needs no approval: reported while it runs, and the model speaks its result
            done = cli(sock, "say", "Please echo the word banana")
            assert done.returncode == 0, done.stderr
            assert done.stdout.strip() == "The echo tool returned Please echo the word banana."
            events = watch.tool(lambda e: e["kind"] == "call" and e["status"] == "completed")
            started = [e for e in events if e["kind"] == "call" and e["status"] == "in_progress"]
            assert started and started[0]["name"] == "echo" and started[0]["server_label"] == "home"
            assert events[-1]["output"] == "Please echo the word banana" and events[-1]["error"] is None
            assert json.loads(events[-1]["arguments"]) == {"text": "Please echo the word banana"}
            # a call that needs approval: asked on the tool topic, approved through the CLI
            client.send_text("Now add one and one")
            request = watch.tool(lambda e: e["kind"] == "approval_request")[-1]
            assert request["name"] == "add" and request["server_label"] == "home"
            client.subscribe("transcript.assistant")
            done = cli(sock, "approve", request["approval_request_id"])
            assert done.returncode == 0, done.stderr
            events = watch.tool(lambda e: e["kind"] == "call" and e["status"] == "completed")
            assert any(e["kind"] == "approval" and e["approve"] is True for e in events)
            assert events[-1]["output"] == "2" and events[-1]["approval_request_id"] == request["approval_request_id"]
            said = client.wait_for("transcript.assistant", lambda e: e.data.get("final"), timeout=15)
            assert said.data["text"] == "The add tool returned 2."
            (answer,) = [e["item"] for e in received(sim, "conversation.item.create")
                         if e["item"]["type"] == "mcp_approval_response"]
            assert answer == {"type": "mcp_approval_response", "id": answer["id"],
                              "approval_request_id": request["approval_request_id"], "approve": True}
            assert answer["id"].startswith("rtad_approval_")
            # answered once only; an id never asked is refused
            done = cli(sock, "approve", request["approval_request_id"])
            assert done.returncode == 1 and "(unknown_call)" in done.stderr
            # declined: the model says so, no call runs
            client.send_text("add them again")
            request = watch.tool(lambda e: e["kind"] == "approval_request")[-1]
            client.approve_mcp(request["approval_request_id"], False, reason="not now")
            said = client.wait_for("transcript.assistant", lambda e: e.data.get("final")
                                   and "declined" in e.data["text"], timeout=15)
            assert said.data["text"] == "I did not run the add tool: it was declined."
            # the secrets never reach a control client, the status or the log
            status = client.status()
            raw = [data for name, data in watch.all if name == "raw"]
            assert any("mcp_list_tools" in d["frame"] or "mcp_call" in d["frame"] for d in raw)
            assert status["settings"]["tools"] == ["mcp:home"]
            for secret in (MCP_HEADER_SECRET, MCP_TOKEN):
                assert secret not in json.dumps(status) and secret not in str(raw)
            # a control client may change the function tools, not the MCP servers
            with pytest.raises(ControlError) as refused:
                client.update(tools=[{"type": "mcp", "server_label": "evil", "server_url": "https://evil.example"}])
            assert refused.value.code == "bad_args" and "configuration" in str(refused.value)
            client.update(tools=[{"name": "get_time"}])

            def last_tools() -> list[str]:
                update = [e for e in received(sim, "session.update") if "tools" in e["session"]][-1]
                return [t.get("server_label") or t.get("name") for t in update["session"]["tools"]]
            deadline = time.monotonic() + 5  # sent when update() returns; received by the simulator a moment later
            while last_tools() != ["get_time", "home"]:
                assert time.monotonic() < deadline, last_tools()
                time.sleep(0.02)
        proc.terminate()
        _, err = proc.communicate(timeout=10)
        for secret in (MCP_HEADER_SECRET, MCP_TOKEN):
            assert secret not in err


def test_an_mcp_server_in_beta_is_a_config_error_naming_it(tmp_path, daemon):
    extra, env = mcp_setup(tmp_path)
    with Simulator(dialect="beta", api_key=KEY, **FAST) as sim:
        config = tmp_path / "rtaudiod.toml"
        write_config(config, sim, extra='dialect = "beta"' + extra)
        proc, _ = daemon(config, env)
        assert proc.wait(15) == 78
        err = proc.stderr.read()
        assert "'home' needs the GA dialect" in err
        assert sim.sessions == []


def test_a_missing_mcp_secret_is_a_config_error_naming_the_file(tmp_path, daemon):
    extra, env = mcp_setup(tmp_path)
    (tmp_path / "mcp-key").unlink()
    with Simulator(dialect="ga", api_key=KEY, **FAST) as sim:
        config = tmp_path / "rtaudiod.toml"
        write_config(config, sim, extra=extra)
        proc, _ = daemon(config, env)
        assert proc.wait(15) == 78
        err = proc.stderr.read()
        assert "X-Api-Key" in err and "mcp-key" in err and "No such file" in err
