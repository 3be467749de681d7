"""The explicit registries name every module that plugs in, so a new one cannot be forgotten
silently: commands (kb.cli.COMMANDS), site sections (kb.render.sections.SITE_SECTIONS),
formats (scrapers.registry.FORMATS, each declaring its channel and rank)."""

from __future__ import annotations

import ast
from pathlib import Path

from kb.cli import COMMANDS
from kb.render.sections import SITE_SECTIONS
from scrapers.registry import CHANNEL_PRIORITY, FORMATS

ROOT = Path(__file__).resolve().parents[1]


def test_every_command_module_is_registered() -> None:
    on_disk = {p.stem for p in (ROOT / "kb" / "commands").glob("*.py")} - {"__init__", "common"}
    assert {m.__name__.rsplit(".", 1)[1] for m in COMMANDS} == on_disk


def test_every_site_sections_module_is_registered() -> None:
    found = (ROOT / "kb").glob("*/site_sections.py")
    on_disk = {f"kb.{p.parent.name}.site_sections" for p in found}
    assert set(SITE_SECTIONS) == on_disk


def test_every_format_module_is_registered_with_its_channel() -> None:
    def defines(path: Path) -> set[str]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}

    on_disk = {p.stem for p in (ROOT / "scrapers").glob("*.py") if {"sniff", "parse"} <= defines(p)}
    assert {m.__name__.rsplit(".", 1)[1] for m in FORMATS} == on_disk
    # a module that makes incident records names their channel and its rank
    for module in FORMATS:
        source = Path(module.__file__ or "").read_text(encoding="utf-8")
        if "IncidentRecord(" in source or "event_record(" in source:
            assert isinstance(module.PRIORITY, int), module.__name__
            assert CHANNEL_PRIORITY[module.CHANNEL] == module.PRIORITY
