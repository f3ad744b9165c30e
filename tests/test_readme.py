"""The README keeps its promises: a newcomer who follows it meets no command that fails.

- `make run` as the quick start has it (its banner names the simulator and a CLI command that works as printed), the
  five-minute tour run as written against it, and Ctrl-C leaving with no make error line;
- every `make` target, `rtaudiod-cli` command line (parsed by the CLI's own parser), program and repository path
  the README and docs/ name exists, and every link between them resolves.

The daemon runs on the null backend (no sound server reachable) with no API key: the simulator answers.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rtaudiod import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
PAGES = {"README.md": README, **{f"docs/{p.name}": p.read_text() for p in sorted((ROOT / "docs").glob("*.md"))}}
VENV = Path(sys.executable).parent.parent  # .venv, or .venv-noext in an RTAUDIOD_NO_EXT=1 run
#: Programs a device has that this machine need not (the device part's commands run there, after `make install`).
DEVICE_ONLY = {"sudo": "Raspberry Pi OS and Debian installs have it; root does not need it"}
#: Programs the block that names them installs first.
INSTALLED_FIRST = {"git": "step 1 of the device install: apt-get install -y git make"}
#: Shell words that are not programs.
SHELL_WORDS = {"cd", "read", "printf", "echo", "export", "wait", "sleep", "umask", "for", "do", "done", "if", "then",
               "fi", "until", "true", "exit"}


# ================================================================================================= the page's parts
def code_blocks(text: str, languages: tuple[str, ...] = ("sh",)) -> list[str]:
    return [m.group(2) for m in re.finditer(r"^```(\w*)[^\n]*\n(.*?)^```", text, re.M | re.S)
            if m.group(1) in languages]


def inline_code(text: str) -> list[str]:
    prose = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    return re.findall(r"`([^`\n]+)`", prose)


def commands(block: str) -> Iterator[list[str]]:
    """Each simple command of a shell block as words: comments, redirections and `;`, `&`, `|`, `&&` cut."""
    for line in block.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.commenters = "#"
        lexer.whitespace_split = True
        words: list[str] = []
        try:
            tokens = list(lexer)
        except ValueError:  # an unbalanced quote spans lines (a `bash -c '...'`): its first line names the program
            tokens = line.split()[:1]
        redirected = False
        for token in [*tokens, ";"]:
            if token in (">", ">>", "<", "2>"):
                redirected = True  # the next word is a file, not a command
            elif token and set(token) <= set(";&|()"):
                if words:
                    yield words
                words = []
            elif redirected:
                redirected = False
            else:
                words.append(token)


def program(words: list[str]) -> tuple[str | None, list[str]]:
    """The program a command runs and its arguments: `sudo`, `VAR=value` and redirection targets skipped."""
    while words and (words[0] in DEVICE_ONLY or re.fullmatch(r"\w+=.*", words[0])):
        words = words[1:]
    if not words or words[0].startswith(("-", "{")):  # `{...}`: a request typed into socat, not a command
        return None, []
    return words[0], words[1:]


def every_command() -> Iterator[tuple[str, list[str], str]]:
    for page, text in PAGES.items():
        for block in code_blocks(text):
            for words in commands(block):
                name, args = program(words)
                if name is not None:
                    yield name, args, page


# ============================================================================================== what must exist
def test_every_make_target_named_exists() -> None:
    targets = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))
    named = set()
    for text in PAGES.values():
        for code in inline_code(text) + code_blocks(text, ("sh", "")):
            named |= set(re.findall(r"(?:^|[\s;(`])make ((?:[A-Z_]+=\S+ )*)([a-z][\w-]*)", code))
    named_targets = {target for _, target in named}
    assert {"run", "demo", "test", "install", "bench-e2e"} <= named_targets  # the search finds them at all
    assert named_targets - targets == set()


def test_every_cli_command_line_parses() -> None:
    """Each `rtaudiod-cli ...` of a shell block (and of the inline examples) is one the CLI's parser accepts."""
    lines = [args for name, args, _ in every_command() if name.endswith("rtaudiod-cli")]
    assert len(lines) > 10, lines
    mentioned = {m.group(1) for text in PAGES.values() for code in inline_code(text)
                 if (m := re.search(r"(?:^|\s)rtaudiod-cli ([a-z][\w-]*)", code))}
    assert mentioned - set(cli.COMMANDS) - {"devices"} == set()  # an inline mention names a real subcommand
    subcommands = set()
    for argv in lines:
        try:
            args = cli._parse(argv)
        except SystemExit:
            pytest.fail(f"rtaudiod-cli {shlex.join(argv)}: the CLI refuses this command line")
        subcommands.add(args.command)
    assert {"status", "say", "listen", "events", "send-audio", "mode", "set", "devices"} <= subcommands


def test_every_cli_command_in_the_reference_table_exists() -> None:
    table = README[README.index("| command | what it does |"):README.index("| exit code | meaning |")]
    named = {m.split()[0] for m in re.findall(r"^\| `([^`]+)`", table, re.M)}
    assert named <= set(cli.build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert set(cli.COMMANDS) | {"devices"} <= {w for cell in re.findall(r"`([^`]+)`", table) for w in cell.split()}


def test_every_program_a_shell_block_runs_is_there() -> None:
    missing = []
    for name, _, page in every_command():
        if name in SHELL_WORDS or name in DEVICE_ONLY or name in INSTALLED_FIRST:
            continue
        if name.startswith((".venv/", "./", "scripts/")):
            found = (ROOT / name.replace(".venv/", f"{VENV.relative_to(ROOT)}/", 1)).exists()
        elif name in ("rtaudiod", "rtaudiod-cli", "rtaudiod-sim"):  # on PATH after `make install`
            found = (VENV / "bin" / name).exists()
        else:
            found = shutil.which(name) is not None
        if not found:
            missing.append(f"{page}: {name}")
    assert missing == []


def test_every_link_and_repository_path_resolves() -> None:
    broken = []
    for page, text in PAGES.items():
        base = (ROOT / page).parent
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            path, _, anchor = target.partition("#")
            if re.match(r"\w+://", path):
                continue
            doc = (base / path).resolve() if path else ROOT / page
            if not doc.exists():
                broken.append(f"{page}: {target}")
            elif anchor and anchor not in {_anchor(h) for h in re.findall(r"^#+ (.*)$", doc.read_text(), re.M)}:
                broken.append(f"{page}: {target} (no such heading)")
        for code in inline_code(text) + re.findall(r"\(([\w./-]+\.md)\)", text):
            if re.fullmatch(r"(docs|examples|scripts|tests|benchmarks|csrc|systemd|rtaudiod)/[\w./-]*", code) \
                    and not (ROOT / code).exists():
                broken.append(f"{page}: {code}")
    assert broken == []


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as dashes."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_the_internals_live_in_docs_and_the_readme_leads() -> None:
    """The order the newcomer needs: start, use, install on a device, configure, troubleshoot, then the internals
    (short: links to docs/)."""
    headings = re.findall(r"^## (.*)$", README, re.M)
    assert [h.split(" (")[0] for h in headings] == ["Quick start", "Using it", "Install on a device",
                                                     "Configuration", "Troubleshooting", "How it is built"]
    assert "### Platforms" in README  # where the device tables go
    for page in ("python-api", "simulator", "performance", "reliability", "control-protocol"):
        assert f"](docs/{page}.md)" in README
    assert "frame_append_from_ring" not in README and "| G.711 µ-law encode |" not in README  # moved to docs/


# =============================================================================================== make run, the tour
@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[dict]:
    """`make run` as the quick start runs it (no key, no sound device), on a socket of its own."""
    conf = tmp_path / "client.conf"
    conf.write_text("autospawn = no\n")
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    env.update(RTAUDIOD_SOCKET=str(tmp_path / "control.sock"), PULSE_SERVER=f"unix:{tmp_path}/no-server",
               PULSE_CLIENTCONFIG=str(conf))
    venv = os.path.relpath(VENV, ROOT)
    # -o: the install step is this test run's own business; only the run recipe is under test.
    argv = ["make", "--no-print-directory", f"VENV={venv}", "-o", f"{venv}/.stamp-installed", "run"]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own process group: Ctrl-C goes to make and the daemon
    run = {"proc": proc, "env": env, "socket": env["RTAUDIOD_SOCKET"], "venv": venv}
    try:
        deadline = time.monotonic() + 60
        while not os.path.exists(run["socket"]):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate(timeout=5)
            time.sleep(0.1)
        yield run
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=10)


def ctrl_c(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    """Ctrl-C as a terminal sends it: SIGINT to the whole foreground process group."""
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out, err


def test_make_run_the_tour_and_ctrl_c(make_run: dict, tmp_path: Path) -> None:
    proc, env = make_run["proc"], make_run["env"]
    # The banner: the simulator named in one line, then a command to try that works as printed.
    banner = [proc.stdout.readline().rstrip("\n") for _ in range(4)]  # type: ignore[union-attr]
    assert banner[0] == "rtaudiod: no OPENAI_API_KEY: the offline simulator (rtaudiod-sim) answers, with what it heard"
    assert banner[1] == f"rtaudiod: control socket {make_run['socket']}"
    prefix = "rtaudiod: try, in another terminal in this directory:  "
    assert banner[2].startswith(prefix) and banner[3] == "rtaudiod: Ctrl-C stops it"
    tried = subprocess.run(banner[2][len(prefix):], shell=True, cwd=ROOT, capture_output=True, text=True,
                           timeout=60, env={k: v for k, v in env.items() if k != "RTAUDIOD_SOCKET"})
    assert (tried.returncode, tried.stdout, tried.stderr) == (0, "Simulator heard: What can you do.\n", "")

    # The tour, as written, from a directory whose .venv is this one (its files go to tmp_path, not /tmp).
    tour = code_blocks(README[README.index("### A five-minute tour"):])[0]
    (tmp_path / ".venv").symlink_to(VENV)
    script = tour.replace("/tmp/", f"{tmp_path}/")
    done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Exception" not in done.stderr, done.stderr
    assert "Simulator heard: What can you do.\n" in done.stdout and "Simulator heard: Tell me a joke.\n" in done.stdout
    assert re.search(r"Simulator heard \d+\.\d seconds of audio\.", done.stdout), done.stdout  # send-audio's turn
    summary = done.stdout[done.stdout.index("rtaudiod: "):done.stdout.index("(--verbose")]
    assert "problems:  none" in summary and len(summary.splitlines()) <= 13, summary  # a long line may wrap
    assert (tmp_path / "reply.wav").stat().st_size > 44 and (tmp_path / "question.wav").exists()

    # After the replies, the null backend has no underrun to report: the simulator sends faster than real time.
    status = subprocess.run([f"{VENV}/bin/rtaudiod-cli", "status"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert "problems:  none" in status.stdout and " 0 underruns" in status.stdout, status.stdout

    code, out, err = ctrl_c(proc)
    assert code == -signal.SIGINT  # make itself ends by the signal (a shell shows 130)...
    assert "make: ***" not in err and "Traceback" not in err, err  # ...but says nothing of an error
    assert err.rstrip().endswith("rtaudiod.daemon: stopped"), err[-2000:]
    assert not os.path.exists(make_run["socket"])  # the daemon cleaned up
