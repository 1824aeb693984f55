"""Docs are tested: every command, option and JSON schema is in the generated docs/cli.md (kept
current here), every top-level command is in the README, every exit code in its table."""

from __future__ import annotations

import re

import click

from bcdtool.cli import cli, reference
from bcdtool.cli.lazy import COMMANDS
from bcdtool.cli.output import KEYS, SCHEMAS
from bcdtool.errors import EXIT_INTERNAL, EXIT_PROBLEMS, all_error_classes

from tests.helpers.common import REPO
CLI_MD = REPO / "docs" / "cli.md"
README = (REPO / "README.md").read_text(encoding="utf-8")
COMMAND_TREE = list(reference.walk(cli))


def test_docs_cli_md_is_current():
    assert CLI_MD.read_text(encoding="utf-8") == reference.markdown(), (
        "docs/cli.md is stale: run `python -m bcdtool.cli.reference > docs/cli.md`")


def test_every_command_and_option_is_in_docs_cli_md():
    text = CLI_MD.read_text(encoding="utf-8")
    sections = dict(re.findall(r"^## `bcdtool ([^`]+)`\n(.*?)(?=^## |\Z)", text, re.M | re.S))
    for path, command in COMMAND_TREE[1:]:
        name = " ".join(path)
        assert name in sections, name
        assert (command.help or "").split()[0] in sections[name], name
        for param in command.params:
            if isinstance(param, click.Option):
                for opt in param.opts:
                    assert f"`{opt}`" in sections[name], (name, opt)


def test_every_top_level_command_is_in_the_readme():
    for name in COMMANDS:
        assert f"bcdtool {name}" in README, name


def mentions(text: str, path: tuple[str, ...]) -> bool:
    """Whether `text` names command `path`, also inside alternatives (`hive ls|get|export`,
    `windows crashdump|sac enable`), across line breaks."""
    word = r"(?:[\w-]+\|)*{}(?:\|[\w-]+)*"
    pattern = r"(?<![\w|-])" + r"\s+".join(word.format(re.escape(p)) for p in path) + r"(?![\w-])"
    return re.search(pattern, text) is not None


def test_every_command_is_in_the_readme():
    """Subcommands too; their options are in docs/cli.md (which the README points to)."""
    missing = [" ".join(path) for path, _ in COMMAND_TREE[1:] if not mentions(README, path)]
    assert not missing, missing
    assert "docs/cli.md" in README


def test_the_mention_finder_reads_alternatives():
    text = "`windows crashdump|sac enable T` and `hive ls|get|export|check`, `linux\nfix`"
    assert all(mentions(text, p) for p in [("windows", "sac", "enable"), ("hive", "export"),
                                            ("windows", "crashdump", "enable"), ("linux", "fix")])
    assert not any(mentions(text, p) for p in [("hive", "set"), ("windows", "info"),
                                                ("hive", "exp")])


def test_every_json_option_has_a_schema_and_every_schema_a_command():
    with_json = {" ".join(path) for path, command in COMMAND_TREE
                 if any(getattr(p, "name", None) == "as_json" for p in command.params)}
    assert with_json <= set(SCHEMAS), with_json - set(SCHEMAS)
    commands = {" ".join(path) for path, _ in COMMAND_TREE}
    streams = {"batch summary"}          # the last line of `batch --json`
    assert set(SCHEMAS) - streams <= commands, set(SCHEMAS) - streams - commands


def test_every_schema_documents_its_keys():
    assert set(KEYS) == set(SCHEMAS)
    assert all(KEYS[name].strip() and "  " not in KEYS[name] for name in KEYS)


def test_every_exit_code_is_in_the_readme_table():
    table = {int(code) for code in re.findall(r"^\| (\d+) \|", README, re.M)}
    codes = {0, EXIT_INTERNAL, 2, EXIT_PROBLEMS} | {c.exit_code for c in all_error_classes()}
    assert codes <= table, codes - table


def test_every_command_has_help():
    for path, command in COMMAND_TREE[1:]:
        assert (command.help or "").strip(), path
        for param in command.params:
            if isinstance(param, click.Option):
                assert (param.help or "").strip(), (path, param.opts)
