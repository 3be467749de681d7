"""Every incident of the recorded corpus drafts cleanly: each sentence with a number has a
footnote and each footnote resolves to a stored payload held in the raw archive."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.config import PACKAGED_SOURCES, load_sources
from kb.drafts import build_draft, check_draft, render_draft
from kb.drafts.citations import uncited_sentences
from kb.pipeline import Line, ingest
from kb.store import Store
from scrapers.archive import Archive

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
PARTS = ("statuspage_incident_json/github", "statuspage_json", "statuspage_atom",
         "statuspage_rss", "incidentio_atom")


@pytest.mark.corpus
@pytest.mark.slow
def test_every_corpus_incident_drafts_with_resolvable_citations(tmp_path: Path) -> None:
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    archive = Archive(tmp_path / "raw")
    ingest(Line(store, archive, load_sources(PACKAGED_SOURCES)),
           [CORPUS / part for part in PARTS])
    keys = [i.key for i in store.incidents()]
    assert len(keys) > 1500
    problems: list[str] = []
    for n, key in enumerate(keys):
        draft = build_draft(store, key, extras={})  # the core; optional sections have tests
        problems += [f"{key}: {p}" for p in check_draft(store, draft, archive=archive)]
        for template in ("sre", "atlassian", "pagerduty") if n % 10 == 0 else ("sre",):
            problems += [f"{key} {template}: uncited: {u}"
                         for u in uncited_sentences(render_draft(draft, template))]
    store.close()
    assert problems == []
