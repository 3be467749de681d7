"""The extension point other features plug their page sections into (kb/render/sections.py)."""

from __future__ import annotations

import sys
import types
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kb.model import Incident, Kind, Severity
from kb.render import sections
from kb.render.sections import Collection, IncidentLink, Links, Mark, Page, Section, Text

INC = Incident(provider="p", native_id="a", title="A", kind=Kind.INCIDENT, status="resolved",
               severity=Severity.MINOR)


def test_sections_show_only_with_data_in_order_and_a_broken_one_is_one_line() -> None:
    calls: list[str] = []

    def prepare(store: object) -> dict[str, list[str]]:
        calls.append("prepare")
        return {"p/a": ["p/b"]}

    def similar(state: dict[str, list[str]], incident: Incident) -> Links | None:
        keys = state.get(incident.key)
        return Links([IncidentLink(k, score=0.9) for k in keys]) if keys else None

    def broken(_state: object, _incident: Incident) -> None:
        raise RuntimeError("table missing")

    registry = sections.discover(scan=False, extra=[
        Section("similar", "Similar", similar, order=30, prepare=prepare),
        Section("signals", "Signals", lambda _s, _i: Text("early"), order=20,
                marks=lambda _s, _i: [Mark(datetime(2026, 1, 1, tzinfo=UTC), "HN")]),
        Section("empty", "Nothing", lambda _s, _i: [], order=10),
        Section("broken", "Broken", broken, order=40),
        Section("reliability", "Reliability", lambda _s, slug: Text(slug), scope="provider"),
    ])
    registry.prepare(store=object())  # type: ignore[arg-type]
    assert calls == ["prepare"]
    found = registry.blocks("incident", INC)
    assert [(s.name, len(b)) for s, b in found] == [("signals", 1), ("similar", 1)]
    assert registry.failures == ["section broken: p/a: table missing"]
    other = Incident(**{**{f: getattr(INC, f) for f in INC.__slots__}, "native_id": "z"})
    assert [s.name for s, _ in registry.blocks("incident", other)] == ["signals"]
    assert [m.label for m in registry.marks(INC)] == ["HN"]
    provider = registry.blocks("provider", "p")
    assert [(s.name, b[0].text) for s, b in provider] == [("reliability", "p")]  # type: ignore[union-attr]


def test_a_failing_prepare_drops_only_that_section() -> None:
    def bad(_store: object) -> None:
        raise ValueError("no such table: similar")

    registry = sections.discover(scan=False, extra=[
        Section("similar", "Similar", lambda _s, _i: Text("x"), prepare=bad),
        Section("other", "Other", lambda _s, _i: Text("y")),
    ])
    registry.prepare(store=object())  # type: ignore[arg-type]
    assert [s.name for s in registry.sections] == ["other"]
    assert registry.failures == ["section similar: prepare failed: no such table: similar"]


def test_discover_imports_the_listed_site_sections_modules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in feature package `kb.zzfeature` with a site_sections module, on kb's path and
    # listed in SITE_SECTIONS (with a broken one, reported as a line).
    package = tmp_path / "kb" / "zzfeature"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "site_sections.py").write_text(
        "from kb.render.sections import Section, Text\n"
        "SECTIONS = [Section('zz', 'ZZ', lambda state, incident: Text('hello'))]\n"
    )
    broken = tmp_path / "kb" / "zzbroken"
    broken.mkdir()
    (broken / "__init__.py").write_text("")
    (broken / "site_sections.py").write_text("raise ImportError('half written')\n")
    import kb

    monkeypatch.setattr(kb, "__path__", [*kb.__path__, str(tmp_path / "kb")])
    monkeypatch.setattr(sections, "SITE_SECTIONS", (*sections.SITE_SECTIONS,
                        "kb.zzfeature.site_sections", "kb.zzbroken.site_sections"))
    for name in ("kb.zzfeature", "kb.zzfeature.site_sections", "kb.zzbroken"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    registry = sections.discover()
    assert "zz" in [s.name for s in registry.sections]
    assert any(line.startswith("kb.zzbroken.site_sections: cannot import") for line in
               registry.failures)
    assert isinstance(sys.modules["kb.zzfeature"], types.ModuleType)


def test_a_section_registered_twice_is_reported() -> None:
    one = Section("similar", "Similar", lambda _s, _i: None)
    registry = sections.discover([one, Section("similar", "Again", lambda _s, _i: None)],
                                 scan=False)
    assert [s.title for s in registry.sections] == ["Similar"]
    assert registry.failures == ["section similar: registered twice; the first one is used"]


def test_collections_are_prepared_once_and_may_not_take_the_sites_folders() -> None:
    def pages(state: list[str]) -> list[Page]:
        return [Page(name, name.title(), [Text(name)]) for name in state]

    def broken(_state: object) -> list[Page]:
        raise KeyError("causes table")

    registry = sections.discover(scan=False, extra=[
        Collection("causes", "Causes", pages, prepare=lambda _store: ["dns", "deploy"]),
        Collection("incidents", "Clash", pages, prepare=lambda _store: ["x"]),
        Collection("drafts", "Drafts", broken),
    ])
    registry.prepare(store=object())  # type: ignore[arg-type]
    assert [c.name for c in registry.collections] == ["causes"]
    assert [p.slug for p in registry.pages["causes"]] == ["dns", "deploy"]
    assert registry.has_page("causes", "dns") and not registry.has_page("causes", "bgp")
    assert registry.failures == ["collection incidents: name taken; left out",
                                 "collection drafts: 'causes table'"]
