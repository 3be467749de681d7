"""Cause tags from linked postmortems are stored (issue 16): the categories of a write-up
linked to an incident become stored tag rows (role "cause", method "postmortem", the write-up
as evidence), which the site's cause figures and `kb compare` count; a rerun writes nothing;
a write-up unlinked later takes its tags with it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from kb.analysis.compare import top_causes
from kb.analysis.stage import causes_for, refresh_causes
from kb.config import PACKAGED_SOURCES, load_sources
from kb.pipeline import Line, ingest
from kb.store import Store
from kb.store.analysis import stored_causes
from kb.store.postmortems import Postmortem, PostmortemLink, replace_derived
from scrapers.archive import Archive

FIX = Path(__file__).parent / "fixtures" / "statuspage" / "github_zzm4nczlpjyy.json"
SOURCES = load_sources(PACKAGED_SOURCES)


def _writeup(categories: tuple[str, ...]) -> Postmortem:
    return Postmortem(
        id="pm-test", url="https://github.blog/2099-01-01-incident-review/",
        title="Incident review: a config push overloaded our Git backends", provider="github",
        providers=("github",), company="GitHub", products=(),
        start=datetime(2022, 3, 22, tzinfo=UTC), end=None, published_at=None,
        categories=categories, keywords=(), summary="", text="", sources=(("page", "x"),))


def _link(store: Store, key: str, categories: tuple[str, ...] | None) -> None:
    """Store the write-up, linked to `key` (or to nothing when categories is None)."""
    if categories is None:
        replace_derived(store, [_writeup(())], [])
        return
    replace_derived(store, [_writeup(categories)], [PostmortemLink(
        "pm-test", key, "github", 0.9, "high", "window", {"why": "test link"})])


def test_postmortem_causes_stored_counted_and_removed_with_the_link(tmp_path: Path) -> None:
    store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    ingest(Line(store, Archive(tmp_path / "raw"), SOURCES), [FIX])
    (incident,) = store.incidents(provider="github")
    key = incident.key
    refresh_causes(store)
    before = stored_causes(store, [key])[key]
    assert not [r for r in before if r.method == "postmortem"]

    _link(store, key, ("config-change", "cloud"))
    assert refresh_causes(store)[0] == 1  # the new link made its tags stale
    rows = stored_causes(store, [key])[key]
    (stated,) = [r for r in rows if r.method == "postmortem"]
    assert (stated.tag, stated.stated_as) == ("config-deploy", "cause")
    assert stated.evidence.startswith("Incident review: a config push")
    assert "https://github.blog/2099-01-01-incident-review/" in stated.detail
    assert "unknown" not in {r.tag for r in rows}
    # what the site's cause pages and `kb compare` read
    assert [t for t in causes_for(store, [incident])[key] if t.method == "postmortem"]
    assert ("config-deploy", 1) in top_causes([key], causes_for(store, [incident]))

    assert refresh_causes(store) == (0, 0)  # rerun: nothing stale, nothing written

    _link(store, key, None)  # unlinked later: its causes go
    assert refresh_causes(store)[0] == 1
    after = stored_causes(store, [key])[key]
    assert not [r for r in after if r.method == "postmortem"]
    assert after == before
    assert refresh_causes(store) == (0, 0)
    store.close()


def test_writeup_without_a_cause_category_changes_nothing(tmp_path: Path) -> None:
    store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    ingest(Line(store, Archive(tmp_path / "raw"), SOURCES), [FIX])
    (incident,) = store.incidents(provider="github")
    refresh_causes(store)
    _link(store, incident.key, ("cloud", "time"))  # categories naming no factor
    assert refresh_causes(store) == (0, 0)
    store.close()
