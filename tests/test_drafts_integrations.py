"""The optional sections fed by the other features, through their own APIs, on the fixture KB.

Signals are written with kb.store.signals (as `kb link` writes them); cause tags, similar
incidents and reliability come from kb.analysis / kb.embed as installed. Each test skips
when its feature is not part of the build."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kb.drafts import build_draft, check_draft, render_draft
from kb.drafts.citations import CitationKind, uncited_sentences
from kb.store import Store
from tests.conftest import ingested_store

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "drafts"
KEY = "github/k5z4d1v1tqmt"  # first post 2026-05-23 16:00 UTC


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = ingested_store(tmp_path, [FIX])
    yield store
    store.close()


def test_linked_threads_give_detection_lead_and_user_reports(store: Store) -> None:
    sig = pytest.importorskip("kb.store.signals")
    thread = sig.Signal(
        id="hn:4242", title="GitHub app tokens failing?", url=None,
        discussion_url="https://news.ycombinator.com/item?id=4242",
        created_at=datetime(2026, 5, 23, 15, 48, 30, tzinfo=UTC), kind="live",
        providers=("github",), sources=(sig.SignalSource(
            "hackernews", "4242", None, "https://news.ycombinator.com/item?id=4242",
            datetime(2026, 5, 23, 15, 48, 30, tzinfo=UTC), points=120, comments=45),),
        points=120, comments=45, threads=1,
        top_comments=("Our deploys fail with 401 on installation tokens since 06:00 UTC.",))
    link = sig.SignalLink("hn:4242", KEY, "github", 0.93, "high", "live")
    sig.replace_derived(store, [thread], [link], [], {})

    draft = build_draft(store, KEY)
    signals = draft.extras["signals"]
    assert signals.available
    assert signals.facts[0].text == ("The first community signal came 12 min before the first "
                                     "official post.")  # 15:48 vs 16:00
    assert signals.facts[0].cites == ("s1", "u1")
    reports = draft.extras["user_reports"]
    assert [f.text for f in reports.facts] == [
        "Our deploys fail with 401 on installation tokens since 06:00 UTC."]
    s1 = next(c for c in draft.citations if c.label == "s1")
    assert s1.kind is CitationKind.SIGNAL and s1.url == "https://news.ycombinator.com/item?id=4242"
    md = render_draft(draft)
    assert "12 min before the first official post.[^s1][^u1]" in md
    assert uncited_sentences(md) == []
    assert check_draft(store, draft) == []
    sig.replace_derived(store, [], [], [], {})  # the thread is gone from the store
    assert check_draft(store, draft) == ["[^s1]: signal hn:4242 is not stored"]


def test_cause_tags_quote_their_evidence_and_shape_the_suggestions(store: Store) -> None:
    pytest.importorskip("kb.analysis.stage")
    draft = build_draft(store, KEY)
    tags = draft.extras["cause_tags"]
    assert tags.available and tags.facts
    names = [f.lead.split(" ", 1)[0] for f in tags.facts]
    assert "auth" in names
    # stated causes come first; a symptom says it is one (a sign-in outage is what failed)
    roles = [("stated as the cause" in f.lead, "a symptom" in f.lead) for f in tags.facts]
    assert not any(cause and symptom for cause, symptom in roles)
    assert roles == sorted(roles, key=lambda r: not r[0])
    for fact in tags.facts:
        assert fact.quote and fact.cites
        cited = next(c for c in draft.citations if c.label == fact.cites[0])
        assert cited.kind in (CitationKind.UPDATE, CitationKind.PAGE)
    assert "auth_cache" in [s.name for s in draft.mitigations]


def test_computed_figures_cite_the_stored_incidents_they_come_from(store: Store) -> None:
    pytest.importorskip("kb.analysis.reliability")
    draft = build_draft(store, "github/tpykx175y6jt")  # zjchv3zvfg50 is 8 days earlier
    reliability = draft.extras["reliability"]
    assert reliability.available and reliability.facts
    label = reliability.facts[0].cites[0]
    cited = next(c for c in draft.citations if c.label == label)
    assert cited.kind is CitationKind.DERIVED
    assert cited.refs == ("github/zjchv3zvfg50",)
    assert "kb metrics --provider github --period 90d" in cited.text
    assert check_draft(store, draft) == []


def test_incident_pages_get_a_postmortem_slot(store: Store) -> None:
    sections = pytest.importorskip("kb.render.sections")
    registry = sections.discover()
    assert "postmortem" in [s.name for s in registry.sections]
    registry.prepare(store)
    found = dict(registry.blocks("incident", store.get(KEY)))
    slot = next(blocks for section, blocks in found.items() if section.name == "postmortem")
    figures, text = slot
    assert list(figures.pairs) == [
        ("stated impact", "06:00–19:12 UTC, 792 min (13 h 12 min)"),
        ("first post", "600 min after the stated impact start"),
        ("first post → resolved", "212 min (3 h 32 min)"),
        ("stated cause", "quoted in the draft"),
    ]
    assert f"kb postmortem {KEY} --template sre" in text.text
    assert registry.failures == []
