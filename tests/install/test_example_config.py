"""examples/rtaudiod.toml against the schema (`rtaudiod.daemon.config.DaemonConfig`): it names every setting, no more;
the defaults it shows are the real ones; every example value it shows is accepted; as it stands it changes nothing.

The file's convention (said at its top): each setting appears once, as `# key = value` (commented out) or
`key = value`, under its `[table]` header (`# [[session.tools]]` commented out too). Any other comment line is prose.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest

from rtaudiod.daemon.config import TABLES, ConfigError, DaemonConfig, load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rtaudiod.toml"
#: In the schema, deliberately not in the file: the key itself (the file explains where it comes from instead).
NOT_IN_FILE = {"session.api_key"}
#: Example values that are valid only together with another setting, which the test adds.
NEEDS = {"session.turn_detection.eagerness": 'type = "semantic_vad"',
         "session.tools.connector_id": 'type = "mcp"\nserver_label = "calendar"'}

HEADER = re.compile(r"^(?:# )?(\[\[?)([a-z_.]+)\]\]?\s*$")
SETTING = re.compile(r"^(# )?([a-z_][a-z0-9_]*) = (.+)$")


class Line(msgspec.Struct):
    table: str  # "session.turn_detection", "session.tools" (an array of tables)
    key: str
    value: Any
    commented: bool
    text: str  # the line, uncommented
    block: int = 0  # which table header it is under (each [[session.tools]] block is a tool of its own)

    @property
    def path(self) -> str:
        return f"{self.table}.{self.key}"


def documented() -> list[Line]:
    lines, table, block = [], None, 0
    for number, raw in enumerate(EXAMPLE.read_text().splitlines(), 1):
        if m := HEADER.match(raw):
            table, block = m.group(2), block + 1
            continue
        if m := SETTING.match(raw):
            assert table is not None, f"line {number}: a setting before any [table]: {raw!r}"
            text = raw.removeprefix("# ")
            value = tomllib.loads(text)[m.group(2)]  # each shown value is TOML on its own
            lines.append(Line(table, m.group(2), value, bool(m.group(1)), text, block))
    return lines


def schema() -> dict[str, Any]:
    """Every setting of the schema, `table.key` -> its default (mi.NODEFAULT when it has none)."""
    out: dict[str, Any] = {}

    def walk(struct: mi.StructType, prefix: str) -> None:
        for field in struct.fields:
            typ = field.type
            if isinstance(typ, mi.StructType):
                walk(typ, f"{prefix}.{field.name}")
            elif isinstance(typ, mi.ListType) and isinstance(typ.item_type, mi.StructType):
                walk(typ.item_type, f"{prefix}.{field.name}")  # an array of tables: [[session.tools]]
            else:
                default = field.default_factory() if field.default_factory is not mi.NODEFAULT else field.default
                out[f"{prefix}.{field.name}"] = default

    top = mi.type_info(DaemonConfig)
    for field in top.fields:
        if field.name in TABLES:  # key_source is set by load_config, not a setting
            walk(field.type, field.name)
    return out


def test_the_file_names_every_setting_of_the_schema_once_and_no_other():
    paths = [line.path for line in documented()]
    duplicates = sorted({p for p in paths if paths.count(p) > 1})
    assert not duplicates, f"named more than once: {duplicates}"
    expected = set(schema()) - NOT_IN_FILE
    assert not expected - set(paths), f"settings the example does not document: {sorted(expected - set(paths))}"
    assert not set(paths) - expected, f"not settings of the schema: {sorted(set(paths) - expected)}"


def test_the_api_key_is_explained_not_set():
    text = EXAMPLE.read_text()
    assert not any(line.key == "api_key" for line in documented())
    for source in ("$CREDENTIALS_DIRECTORY/openai_api_key", "daemon.api_key_file", "OPENAI_API_KEY", "token_url"):
        assert source in text


def test_the_defaults_shown_are_the_real_ones():
    defaults = schema()
    wrong = {}
    for line in documented():
        default = defaults[line.path]
        if default is mi.NODEFAULT or default is None:
            continue  # no default (a required tool name) or unset: the line shows an example, the prose says so
        if line.value != msgspec.to_builtins(default) or type(line.value) is not type(msgspec.to_builtins(default)):
            wrong[line.path] = (line.value, default)
    assert not wrong, f"shown value != the schema's default: {wrong}"


def test_as_it_stands_the_file_is_valid_and_changes_nothing():
    config = load_config(str(EXAMPLE), [], {})
    assert config == DaemonConfig(), "the example must be the embedded default (make run relies on it)"
    assert all(line.commented for line in documented())


def test_every_example_value_is_accepted(tmp_path):
    lines = documented()
    blocks = sorted({line.block for line in lines if line.table == "session.tools"})
    cases = ["[[session.tools]]\n" + "\n".join(NEEDS.get(line.path, line.text) + "\n" + line.text
                                              if line.path in NEEDS else line.text
                                              for line in lines if line.block == block)
             for block in blocks]  # a tool needs its name (an MCP server its label): each block is one case
    for line in lines:
        if line.table == "session.tools":
            continue
        extra = NEEDS.get(line.path, "")
        cases.append(f"[{line.table}]\n{extra}\n{line.text}\n")
    # api_key_file and the MCP secrets must name files that exist: the example names installed ones
    secrets = {}
    for name in ("openai_api_key", "mcp_home_key", "mcp_home_token"):
        secrets[name] = tmp_path / name
        secrets[name].write_text("example-secret-value\n")
    path = tmp_path / "one.toml"
    for case in cases:
        for name, file in secrets.items():
            case = case.replace(f'"/etc/rtaudiod/{name}"', f'"{file}"')
        path.write_text(case)
        try:
            load_config(str(path), [], {})
        except ConfigError as e:
            pytest.fail(f"the example refused: {case.strip()!r}: {e}")
