"""The README's models table is the registry's, and its quick start keeps exactly two commands."""

from __future__ import annotations

import re
from pathlib import Path

from playalter.runner.cli.commands.models import registry_table

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_models_table_matches_the_registry():
    assert registry_table() in README, "regenerate the README table with: playalter models --table"


def test_quick_start_has_exactly_two_commands():
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    assert [len(block.strip().splitlines()) for block in commands] == [1, 1]
    assert "playalter serve" in commands[0] and "pytest" in commands[1]
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    for step in commands[1].strip().split(" && "):
        assert step in ci, f"the README's test command step '{step}' is not what .ci/run runs"
