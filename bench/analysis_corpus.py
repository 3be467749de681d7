"""Shared by the analysis benchmarks: a KB built from the recorded corpus, and the docs
section writer (each script owns one marked section of docs/analysis.md)."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kb.config import PACKAGED_SOURCES

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
DOC = ROOT / "docs" / "analysis.md"
FOLDERS = ("statuspage_incident_json", "statuspage_json", "statuspage_atom", "statuspage_rss",
           "incidentio_atom", "gcp_incidents_json", "aws_health_json")


@contextmanager
def corpus_store(corpus: Path = CORPUS, database: str | None = None) -> Iterator[object]:
    """A Store holding the whole recorded corpus (imported into a temporary SQLite KB), or
    the store at `database` when given."""
    from kb.config import load_sources
    from kb.pipeline import Line, ingest
    from kb.store import Store
    from scrapers.archive import Archive

    if database:
        store, _ = Store.open(database, write=True)
        try:
            yield store
        finally:
            store.close()
        return
    if not corpus.is_dir():
        raise SystemExit(f"{corpus}: corpus not found")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        store, _ = Store.open(f"sqlite:///{home / 'kb.db'}", write=True)
        sources = load_sources(PACKAGED_SOURCES)
        paths = [corpus / f for f in FOLDERS if (corpus / f).exists()]
        ingest(Line(store, Archive(home / "raw"), sources), paths)
        try:
            yield store
        finally:
            store.close()


def write_section(name: str, body: str, path: Path = DOC) -> None:
    """Replace the text between <!-- NAME:start --> and <!-- NAME:end --> in `path`."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        text = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _m: block, text,
                      flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")
