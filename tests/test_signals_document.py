"""Linked community stories' titles join the incident's search document (kb.embed hook)."""

from __future__ import annotations

from pathlib import Path

from kb.config import PACKAGED_SOURCES, load_sources
from kb.embed.document import build_document, extra_texts
from kb.pipeline import Line, ingest
from kb.signals.config import load_signal_config
from kb.signals.document_texts import linked_titles
from kb.signals.stage import relink
from kb.store import Store
from kb.store.signals import links, signals
from scrapers.archive import Archive

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "signals"
KEY = "anthropic/qt14v73myyy5"


def test_confidently_linked_titles_enter_the_document(tmp_path: Path) -> None:
    store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    sources = load_sources(PACKAGED_SOURCES)
    ingest(Line(store, Archive(tmp_path / "raw"), sources),
           [FIX / "anthropic_incidents_slice.json", FIX / "algolia_search_page0.json",
            FIX / "algolia_search_page1.json"])
    relink(store, load_signal_config(PACKAGED_SOURCES, sources))
    titles = {s.id: s.title for s in signals(store)}
    confident = [titles[link.signal_id] for link in links(store, incident_key=KEY)
                 if link.confidence in ("high", "medium")]
    assert confident, "the fixture links at least one story to this incident"
    found = linked_titles(store, [KEY, "anthropic/not-there"])
    assert list(found) == [KEY]
    assert found[KEY] == list(dict.fromkeys(confident))
    assert extra_texts(store, [KEY]) == {KEY: found[KEY]}
    incident = store.get(KEY)
    with_titles = build_document(incident, found[KEY])
    assert with_titles.doc_hash != build_document(incident).doc_hash
    assert found[KEY][0] in with_titles.text
    store.close()
