"""Postmortems in keyword search (issue 16): the keyword (BM25) index of an incident holds
the text of the write-ups linked to it (revision p02), so "thundering herd after a config
push"-style queries find the incident in keyword and hybrid mode; a write-up unlinked later
leaves the index; `kb search --kind postmortem` finds write-ups linked to no incident too.
SQLite always; PostgreSQL when KB_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kb.config import PACKAGED_SOURCES, load_sources
from kb.embed.index import query_terms
from kb.pipeline import Line, ingest
from kb.postmortems.search import search_writeups
from kb.postmortems.stage import relink
from kb.signals.config import load_signal_config
from kb.store import Store
from kb.store.keyword import keyword_search
from kb.store.postmortems import links, postmortems, replace_derived
from scrapers.archive import Archive
from tests.conftest import invoke_kb

ROOT = Path(__file__).resolve().parents[1]
AWS = ROOT / "tests" / "fixtures" / "aws" / "data_slice.json"
ALLEGRO = ROOT / "tests" / "fixtures" / "postmortems" / "icco" / \
    "6d1c63bd-3529-4120-8a00-18ee6647f3f0.md"
SOURCES = load_sources(PACKAGED_SOURCES)
TERMS = list(load_signal_config(PACKAGED_SOURCES, SOURCES).providers)
# Written here, not recorded: a write-up about a real recorded incident of the AWS slice
# (Redshift console errors, 2021-12-09 13:15–14:58 UTC), in words its updates never use.
WRITEUP = (b"---\nuuid: herd-1\nurl: https://aws.example/message/herd\n"
           b"title: Redshift Management Console errors\n"
           b"company: Amazon\nproduct: Amazon Redshift\nstart_time: 2021-12-09T13:00:00Z\n"
           b"end_time: 2021-12-09T14:58:00Z\ncategories:\n- config-change\n"
           b"summary: A thundering herd of console retries after a config push.\n---\n"
           b"The outage was caused by a configuration push; retries piled up.\n")
KEY = "aws/redshift-us-east-1_1639055699"
QUERY = "thundering herd after a config push"


def _fill(store: Store, tmp_path: Path) -> None:
    (tmp_path / "herd.md").write_bytes(WRITEUP)
    ingest(Line(store, Archive(tmp_path / "raw"), SOURCES), [AWS, tmp_path / "herd.md",
                                                             ALLEGRO])
    relink(store, TERMS)


def _keyword(store: Store, query: str) -> list[str]:
    return [key for key, _ in keyword_search(store, query_terms(query), 20)]


def _check_index(store: Store, tmp_path: Path) -> None:
    assert _keyword(store, QUERY) == []  # the incidents' own text never says it
    _fill(store, tmp_path)
    linked = {k.incident_key for k in links(store)}
    assert KEY in linked
    found = _keyword(store, QUERY)
    assert set(found) == linked  # found by the linked write-up's words, and only those
    # the incident's own words still rank it first
    assert _keyword(store, "Redshift Management Console")[:1] != []
    # rerunning changes nothing
    assert relink(store, TERMS, force=True).changed is False
    assert set(_keyword(store, QUERY)) == linked
    # write-ups, linked or not, by their own words
    (herd,) = search_writeups(store, query_terms(QUERY), 5)
    assert herd.doc.url == "https://aws.example/message/herd"
    assert {k.incident_key for k in herd.links} == linked
    (allegro,) = search_writeups(store, query_terms("asynchronous distributed task "
                                                    "processing"), 5)
    assert allegro.doc.company == "Allegro" and allegro.links == ()
    assert search_writeups(store, query_terms(QUERY), 5, provider="github") == []
    # unlinked later: the incident leaves the write-up's words behind
    replace_derived(store, postmortems(store), [])
    assert _keyword(store, QUERY) == []
    assert _keyword(store, "Redshift Management Console")  # its own text stays indexed
    assert search_writeups(store, query_terms(QUERY), 5)  # the write-up stays findable


def test_keyword_index_holds_linked_writeups_sqlite(tmp_path: Path) -> None:
    store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    _check_index(store, tmp_path)
    store.close()


@pytest.mark.skipif(not os.environ.get("KB_TEST_POSTGRES_URL"),
                    reason="KB_TEST_POSTGRES_URL not set")
def test_keyword_index_holds_linked_writeups_postgres(tmp_path: Path) -> None:
    from tests.conftest import reset_postgres

    url = os.environ["KB_TEST_POSTGRES_URL"]
    reset_postgres(url)
    store, _ = Store.open(url, write=True)
    _check_index(store, tmp_path)
    store.close()


def test_incident_changed_later_keeps_its_writeup_words(tmp_path: Path) -> None:
    """The incident's index refresh (a writer of incidents calls it since revision i01)
    rebuilds its index row with the write-ups' text."""
    store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    _fill(store, tmp_path)
    with store.engine.begin() as conn:
        from sqlalchemy import text

        from kb.store import keyword_index

        conn.execute(text("UPDATE incidents SET title = title || ' (edited)' WHERE key = :k"),
                     {"k": KEY})
        keyword_index.refresh(conn, [KEY])
    assert KEY in _keyword(store, QUERY) and KEY in _keyword(store, "edited")
    store.close()


@pytest.mark.slow  # ~25 s: embeds the slice with the fake-hash model through the CLI
def test_cli_keyword_hybrid_and_writeup_search(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "herd.md").write_bytes(WRITEUP)
    done = invoke_kb(home, "ingest", str(AWS), str(tmp_path / "herd.md"), str(ALLEGRO))
    assert done.returncode == 0, done.stderr
    store, _ = Store.open(f"sqlite:///{home / 'kb.db'}", write=True)
    relink(store, TERMS)
    store.close()
    env = {"KB_EMBED_MODEL": "fake-hash"}
    assert invoke_kb(home, "embed", **env).returncode == 0
    for mode in ("keyword", "hybrid"):
        found = invoke_kb(home, "search", QUERY, "--mode", mode, "-k", "3", "--json", **env)
        assert found.returncode == 0, found.stderr
        keys = [r["key"] for r in json.loads(found.stdout)["results"]]
        assert KEY in keys, (mode, keys)
    writeups = invoke_kb(home, "search", "asynchronous distributed task processing",
                         "--kind", "postmortem", "--json")
    assert writeups.returncode == 0, writeups.stderr
    rows = json.loads(writeups.stdout)["results"]
    assert rows[0]["company"] == "Allegro" and rows[0]["incidents"] == []
    table = invoke_kb(home, "search", QUERY, "--kind", "postmortem")
    assert "aws.example/message/herd" in table.stdout and KEY in table.stdout
    refused = invoke_kb(home, "search", QUERY, "--kind", "postmortem", "--cause", "dns")
    assert refused.returncode == 2 and "--cause" in refused.stderr
