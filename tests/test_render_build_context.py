"""The BuildContext a `prepare(store, build)` receives (kb/render/sections.py), shared prepare
functions, and the `[site] draft_days` setting (kb/config.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from kb.config import load_settings
from kb.errors import ConfigError
from kb.model import Incident, Kind, Severity
from kb.render import sections
from kb.render.sections import BuildContext, Collection, Page, PageLink, Section, Text

INCIDENTS = [Incident(provider="p", native_id=n, title=n.upper(), kind=Kind.INCIDENT,
                      status="resolved", severity=Severity.MINOR) for n in ("a", "b")]


class FakeStore:
    """Counts how often the incidents are read."""

    def __init__(self) -> None:
        self.reads = 0

    def incidents(self) -> list[Incident]:
        self.reads += 1
        return list(INCIDENTS)


def test_a_two_argument_prepare_gets_the_build_and_a_shared_one_runs_once() -> None:
    calls: list[tuple[date, int]] = []

    def prepare(_store: Any, build: BuildContext) -> dict[str, str]:
        calls.append((build.as_of, len(build.incidents)))
        build.warn("drafts: p/b: no draft: broken")
        return {i.key: i.key.replace("/", "-") for i in build.incidents if i.native_id == "a"}

    def link(state: dict[str, str], incident: Incident) -> PageLink | None:
        slug = state.get(incident.key)
        return PageLink("drafts", slug, "draft") if slug else None

    def pages(state: dict[str, str]) -> list[Page]:
        return [Page(slug, key, [Text(key)]) for key, slug in state.items()]

    registry = sections.discover(scan=False, extra=[
        Section("draft", "Draft", link, prepare=prepare),
        Section("old", "Old", lambda store, _i: Text(type(store).__name__),
                prepare=lambda store: store),  # the one-argument form still works
        Collection("drafts", "Drafts", pages, prepare=prepare),
    ])
    store = FakeStore()
    registry.prepare(store, BuildContext(store, date(2026, 9, 14),  # type: ignore[arg-type]
                                         incidents=INCIDENTS))
    assert calls == [(date(2026, 9, 14), 2)]  # once for the section and the collection
    assert store.reads == 0  # the build's own incidents, not a second read
    assert registry.failures == ["drafts: p/b: no draft: broken"]
    assert registry.has_page("drafts", "p-a") and not registry.has_page("drafts", "p-b")
    found = dict(registry.blocks("incident", INCIDENTS[0]))
    assert [s.name for s in found] == ["draft", "old"]
    assert [b.text for s, blocks in found.items() if s.name == "old"  # type: ignore[union-attr]
            for b in blocks] == ["FakeStore"]


def test_without_a_build_the_context_is_today_and_reads_the_store_once() -> None:
    seen: list[BuildContext] = []

    def prepare(_store: Any, build: BuildContext) -> None:
        seen.append(build)
        assert len(build.incidents) == len(build.incidents) == 2

    store = FakeStore()
    registry = sections.discover(scan=False, extra=[
        Section("x", "X", lambda _s, _i: None, prepare=prepare)])
    registry.prepare(store)  # type: ignore[arg-type]
    assert store.reads == 1  # loaded on first use, then kept
    assert seen[0].as_of == datetime.now(UTC).date()


def test_a_failing_shared_prepare_drops_each_of_its_sections_with_a_line() -> None:
    def prepare(_store: Any, _build: BuildContext) -> None:
        raise RuntimeError("no such table")

    registry = sections.discover(scan=False, extra=[
        Section("a", "A", lambda _s, _i: Text("a"), prepare=prepare),
        Section("b", "B", lambda _s, _i: Text("b"), scope="provider", prepare=prepare),
    ])
    registry.prepare(FakeStore())  # type: ignore[arg-type]
    assert registry.sections == []
    assert registry.failures == ["section a: prepare failed: no such table",
                                 "section b: prepare failed: no such table"]


def test_draft_days_come_from_the_environment_over_kb_toml(tmp_path: Path) -> None:
    assert load_settings({"KB_HOME": str(tmp_path)}).site_draft_days == 90
    (tmp_path / "kb.toml").write_text("[site]\ndraft_days = 30\n")
    assert load_settings({"KB_HOME": str(tmp_path)}).site_draft_days == 30
    env = {"KB_HOME": str(tmp_path), "KB_SITE_DRAFT_DAYS": "0"}
    assert load_settings(env).site_draft_days == 0


@pytest.mark.parametrize("toml, env", [
    ("[site]\ndraft_days = -1\n", None), ("[site]\ndraft_days = 7.5\n", None),
    ("[site]\ndraft_days = true\n", None), ("site = 3\n", None), ("", "ninety"),
])
def test_a_bad_draft_days_is_one_clear_error(tmp_path: Path, toml: str, env: str | None) -> None:
    (tmp_path / "kb.toml").write_text(toml)
    environment = {"KB_HOME": str(tmp_path)} | ({"KB_SITE_DRAFT_DAYS": env} if env else {})
    with pytest.raises(ConfigError, match=r"(?i)site"):
        load_settings(environment)
