"""The ingest speed-ups of issue 19 store exactly what the slower paths stored.

- HTML bodies: lxml's parser events (scrapers.markup._events_to_text) give the same text as
  the BeautifulSoup tree walk (_tree_to_text) on every HTML body the corpus feeds
  html_to_text, and on hostile or generated markup.
- Impact windows: the whole-update pre-filter (_may_state_time) is a necessary condition: an
  update it skips has no sentence that holds a time.
- Bulk inserts (kb.store.bulk.insert_rows) bind every value as SQLAlchemy's insert() does.
- End to end (slow): the corpus imported with the fast paths and with the slow ones gives the
  same rows in every table. bench/check_ingest_same.py compares against another checkout.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert

from kb.config import PACKAGED_SOURCES, load_sources
from kb.normalize import impact
from kb.store import Store
from kb.store import bulk as bulk_module
from kb.store.bulk import insert_rows, sqlite_utc_text
from kb.store.repo import T_INCIDENTS, T_UPDATES
from kb.store.tables import UTCDateTime
from scrapers import markup, registry
from scrapers.records import RawDoc
from tests.conftest import reset_postgres

FETCHED = datetime(2026, 9, 1, tzinfo=UTC)


def corpus_html_bodies(corpus: Path) -> dict[str, str]:
    """Every distinct text html_to_text gets while the corpus is parsed and its updates are
    turned into plain text, with the text the event path made of it."""
    from kb.normalize.merge import plain_text

    seen: dict[str, str] = {}
    fast = markup._events_to_text

    def record(text: str) -> str:
        seen[text] = fast(text)
        return seen[text]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(markup, "_events_to_text", record)
        for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
            body = path.read_bytes()
            try:
                parsed = registry.detect(body, path.as_uri()).parse(
                    RawDoc(url=path.as_uri(), fetched_at=FETCHED, body=body))
            except Exception:  # not a payload (READMEs, manifests): nothing to compare
                continue
            for record_ in parsed.incidents:
                for update in record_.updates:
                    plain_text(update)
    return seen


@pytest.mark.slow  # about 30 s on the shared 2-core machine: parses the whole corpus
def test_events_match_the_soup_on_every_corpus_html_body(corpus: Path) -> None:
    seen = corpus_html_bodies(corpus)
    assert len(seen) > 1000  # the corpus holds thousands of HTML bodies; fewer: a broken walk
    different = [text for text, fast in seen.items() if markup._tree_to_text(text) != fast]
    assert different == []


HOSTILE = [
    "<p>a</p><p>b</p>", "<ul><li>one<li>two</ul>", "a<br>b<br/>c", "<table><tr><td>x<td>y",
    "<script>alert(1)</script>after", "<!-- hidden -->shown", "<?php echo 1 ?>text",
    "<!DOCTYPE html><html><head><title>t</title></head><body>body</body></html>",
    "\ufeff<b>bom</b>", "<div>" * 500 + "deep" + "</div>" * 500, "<p>unclosed <b>bold <i>it",
    "&amp; &lt;tag&gt; &nbsp;x&#160;y &bogus;", "<svg><text>no</text></svg>yes",
    "<pre>  keep\n  lines </pre>", "a\u00a0\u2003b", "<li>- dash</li>", "<p>x</p>\n\n<p>y</p>",
    "<![CDATA[data]]>", "</p></div>stray ends", "<br><br><br>", "<a href='x'>link</a> tail",
    "<rt>ruby</rt><rp>(</rp>", "<template>t</template>v", "<noscript>n</noscript>s",
    "<p>\ue000\ue001\ue002 sentinels</p>", "<select><option>o</option></select>after",
    "x" * 3000 + "<b>" + "y" * 3000, "<P CLASS=a>Upper</P>", "<svg:rect>ns</svg:rect>",
    "<math><mi>x</mi></math>m", "<html><body><p>1</p></body></html><p>after html</p>",
]


@pytest.mark.parametrize("markup_text", HOSTILE)
def test_events_match_the_soup_on_hostile_markup(markup_text: str) -> None:
    assert markup._events_to_text(markup_text) == markup._tree_to_text(markup_text)


_PIECES = st.sampled_from([
    "<p>", "</p>", "<br>", "<li>", "</li>", "<ul>", "</ul>", "<div>", "</div>", "<td>", "<tr>",
    "<script>", "</script>", "<!--", "-->", "<b>", "</b>", "&amp;", "&nbsp;", "\n", "  ", "\t",
    "word", "- ", "<table>", "</table>", "<?x y?>", "<style>", "</style>", "é", "<", ">", "&",
    "<h1>", "</h1>", "<pre>", "</pre>", "\u00a0", "12:30 UTC", ".", "<html>", "<body>",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=40).map("".join))
def test_events_match_the_soup_on_generated_markup(markup_text: str) -> None:
    assert markup._events_to_text(markup_text) == markup._tree_to_text(markup_text)


def test_a_parser_failure_falls_back_to_the_soup(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(text: str) -> str:
        raise RuntimeError("lxml refused")

    monkeypatch.setattr(markup, "_events_to_text", broken)
    assert markup.html_to_text("<p>a</p><p>b</p>") == "a\n\nb"


def _timed_anywhere(text: str) -> bool:
    norm = text.translate(impact._NORMALIZE)
    return any(impact._timed_sentences(norm, impact._sentence_spans(norm)))


_PROSE = st.sampled_from([
    "We are investigating.", "Between 10:02 and 11:40 UTC", "since 9 a.m. PT", "at 0930 UTC",
    "\n", ". ", "Oct. 6", "2023-03-14T10:02Z", "12:00", "AM", "pm", ":", "x", " ", "5pm",
    "Resolved as of 18:40 UTC.", "All times are in PDT.", "1", "UTC", "GMT", "-", "\u00a0",
])


@settings(max_examples=400, deadline=None)
@given(st.lists(_PROSE, max_size=25).map("".join))
def test_the_update_prefilter_never_skips_a_timed_sentence(text: str) -> None:
    norm = text.translate(impact._NORMALIZE)
    if not impact._may_state_time(norm):
        assert not _timed_anywhere(text)


def test_the_update_prefilter_on_corpus_updates(corpus: Path) -> None:
    from kb.normalize.merge import plain_text

    checked = skipped = 0
    for path in sorted((corpus / "statuspage_incident_json").rglob("*.json"))[:400]:
        body = path.read_bytes()
        try:
            parsed = registry.detect(body, path.as_uri()).parse(
                RawDoc(url=path.as_uri(), fetched_at=FETCHED, body=body))
        except Exception:
            continue
        for record in parsed.incidents:
            for update in record.updates:
                text = plain_text(update)
                norm = text.translate(impact._NORMALIZE)
                checked += 1
                if not impact._may_state_time(norm):
                    skipped += 1
                    assert not _timed_anywhere(text), text
    assert checked > 100 and 0 < skipped < checked


_ZONES = st.sampled_from([UTC, timezone(timedelta(hours=-7)), timezone(timedelta(hours=5,
                                                                                 minutes=30))])


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1),
                    timezones=_ZONES))
def test_sqlite_time_text_is_what_sqlalchemy_binds(value: datetime) -> None:
    from sqlalchemy.dialects import sqlite

    dialect = sqlite.dialect()
    reference = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert reference is not None
    assert sqlite_utc_text(value) == reference(value)
    assert sqlite_utc_text(value) == reference(value)  # the same object: the one-entry cache
    other = value.astimezone(timezone(timedelta(hours=1)))  # equal instant, another object
    assert sqlite_utc_text(other) == reference(other)
    later = value + timedelta(microseconds=1)
    assert sqlite_utc_text(later) == reference(later)
    assert sqlite_utc_text(None) is None
    assert sqlite_utc_text(value) == reference(value)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty current-schema store: SQLite here, or the test PostgreSQL when
    KB_TEST_POSTGRES_URL is set (emptied first)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kb.db'}"
    url = os.environ.get("KB_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("KB_TEST_POSTGRES_URL not set")
    reset_postgres(url)
    return url


def test_bulk_insert_stores_what_sqlalchemy_insert_stores(store_url: str) -> None:
    now = datetime(2026, 3, 1, 12, 0, 0, 500, tzinfo=UTC)
    incident = {
        "key": "acme/1", "provider": "acme", "native_id": "1", "kind": "incident",
        "title": "Ünïcode \"quoted\" title", "url": None, "status": "resolved", "impact": None,
        "severity": "minor", "first_post_at": now.astimezone(timezone(timedelta(hours=-7))),
        "identified_at": None, "monitoring_at": now + timedelta(minutes=5),
        "resolved_at": datetime(2026, 3, 1, 13, tzinfo=UTC), "vendor_created_at": None,
        "vendor_started_at": None, "vendor_resolved_at": None, "impact_start": None,
        "impact_end": None, "impact_evidence": None, "updates_count": 2,
        "updates_complete": True, "content_hash": "abc", "doc_json": '{"a":1}',
        "changed_at": now, "first_stored_at": now,
    }
    updates = [
        {"incident_key": "acme/1", "seq": i, "at": now + timedelta(seconds=i), "phase": "x",
         "label": "l", "phase_inferred": bool(i), "text": f"text {i}"} for i in range(3)]
    store, _ = Store.open(store_url, write=True)
    held = {}
    try:
        for how in ("sqlalchemy", "bulk"):
            with store.engine.begin() as conn:
                if how == "bulk":
                    insert_rows(conn, T_INCIDENTS, [incident])
                    insert_rows(conn, T_UPDATES, updates)
                    insert_rows(conn, T_UPDATES, [])  # nothing to write: no statement
                else:
                    conn.execute(insert(T_INCIDENTS), [incident])
                    conn.execute(insert(T_UPDATES), updates)
            with store.engine.begin() as conn:
                # as the driver returns them: text, not the column types' result processing
                held[how] = {t: sorted(map(tuple, conn.exec_driver_sql(
                    f"SELECT * FROM {t}").fetchall()), key=repr)
                    for t in ("incidents", "incident_updates")}
                conn.execute(delete(T_INCIDENTS))
                conn.execute(delete(T_UPDATES))
    finally:
        store.close()
    assert held["bulk"] == held["sqlalchemy"]
    assert len(held["bulk"]["incident_updates"]) == 3


def test_bulk_insert_refuses_rows_that_do_not_fit_the_table(tmp_path: Path) -> None:
    store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    with store.engine.begin() as conn, pytest.raises(Exception, match="no_such_column"):
        row = {c.name: None for c in T_UPDATES.columns} | {"no_such_column": 1}
        insert_rows(conn, T_UPDATES, [row])
    store.close()


def _ingest_and_dump(corpus: Path, home: Path) -> dict[str, list[tuple[object, ...]]]:
    from kb.pipeline import Line, ingest
    from scrapers.archive import Archive

    home.mkdir()
    db = home / "kb.db"
    store, _ = Store.open(f"sqlite:///{db}", write=True)
    report = ingest(Line(store, Archive(home / "raw"), load_sources(PACKAGED_SOURCES)),
                    [corpus])
    store.close()
    assert report.total("new") > 1000
    clock = {"changed_at", "first_stored_at", "ingested_at", "seen_at", "updated_at", "id"}
    out = {}
    with sqlite3.connect(db) as conn:
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            if table.startswith(("incident_fts_", "sqlite_")):
                continue
            columns = ["rowid", "title", "components", "body"] if table == "incident_fts" \
                else [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
            kept = ", ".join(c for c in columns if c not in clock)
            out[table] = sorted(conn.execute(f'SELECT {kept} FROM "{table}"'), key=repr)
    return out


@pytest.mark.slow
def test_the_corpus_stores_the_same_rows_through_the_slow_paths(
        corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _ingest_and_dump(corpus, tmp_path / "fast")

    def refuse(text: str) -> str:
        raise RuntimeError("use the soup")

    def sqlalchemy_insert(conn, table, rows):  # type: ignore[no-untyped-def]
        if rows:
            conn.execute(insert(table), list(rows))

    monkeypatch.setattr(markup, "_events_to_text", refuse)
    monkeypatch.setattr(impact, "_may_state_time", lambda norm: True)
    monkeypatch.setattr(bulk_module, "insert_rows", sqlalchemy_insert)
    import kb.store.repo as repo

    monkeypatch.setattr(repo, "insert_rows", sqlalchemy_insert)
    slow = _ingest_and_dump(corpus, tmp_path / "slow")
    assert sorted(fast) == sorted(slow)
    for table in fast:
        assert fast[table] == slow[table], table


# -- plain bodies: the .strip() shortcut of kb.normalize.merge.plain_text ----------------------


def _plain_slow(body: str) -> str:
    from kb.normalize.merge import tidy_lines

    return tidy_lines(body.strip())


def test_untidy_pattern_names_every_line_boundary_and_space_character() -> None:
    """The shortcut's pattern against Python itself, over every code point: the characters
    str.splitlines breaks on, and re's \\s against str.isspace (what rstrip strips)."""
    import re

    from kb.normalize.merge import _UNTIDY

    space = re.compile(r"\s")
    for code in range(0x110000):
        char = chr(code)
        assert bool(space.match(char)) == char.isspace(), hex(code)
        breaks = len(f"a{char}b".splitlines()) == 2
        assert breaks == (char == "\n" or _UNTIDY.search(f"a{char}b") is not None), hex(code)


_TRICKY = st.sampled_from(["\n", "\r", "\r\n", " ", "\t", "\u00a0", "\u2028", "\x85", "\x0c",
                           "\x1c", "\u3000", "a", "b", "é", " \n", "\n\n"])


@given(st.lists(st.one_of(_TRICKY, st.text(max_size=6)), max_size=12).map("".join))
@settings(max_examples=600, deadline=None)
def test_plain_text_shortcut_equals_the_per_line_tidy(body: str) -> None:
    from kb.normalize.merge import plain_text
    from scrapers.records import UpdateRecord

    if "<" in body:  # the HTML path is not this shortcut's
        body = body.replace("<", "")
    update = UpdateRecord(at=FETCHED, label="update", body=body, body_format="text")
    assert plain_text(update) == _plain_slow(body)


@given(st.lists(st.one_of(st.text(max_size=8), st.sampled_from(
    [":", "am", "PM", " UTC", "T", "noon", "१२:३०", "12:30", "0930 GMT", "7pm", "٣"])),
    max_size=10).map("".join))
@settings(max_examples=600, deadline=None)
def test_no_digit_no_time_so_the_digit_prefilter_is_exact(text: str) -> None:
    """impact._may_state_time answers "no" for a text without a digit before its patterns
    run: neither pattern can match such a text, and with digits the answer is the patterns'."""
    norm = text.translate(impact._NORMALIZE)
    by_patterns = bool(impact._TIME.search(norm) or impact._ISO_TIME.search(norm))
    assert impact._may_state_time(norm) == by_patterns
    if not any(c.isdecimal() or c.isdigit() for c in norm):
        assert not by_patterns


def test_an_import_raises_the_gc_threshold_while_it_runs_and_restores_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from kb import pipeline

    seen = []
    monkeypatch.setattr(pipeline.Line, "flush", lambda self: seen.append(gc.get_threshold()))
    before = gc.get_threshold()
    store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    try:
        pipeline.ingest(pipeline.Line(store, pipeline.Archive(tmp_path / "raw"),
                                      load_sources(PACKAGED_SOURCES)), [tmp_path / "none"])
        with pytest.raises(RuntimeError):  # restored when the import fails, too
            monkeypatch.setattr(pipeline.Line, "flush", _boom)
            pipeline.ingest(pipeline.Line(store, pipeline.Archive(tmp_path / "raw"),
                                          load_sources(PACKAGED_SOURCES)), [])
    finally:
        store.close()
    assert seen == [(max(before[0], pipeline.IMPORT_GC_THRESHOLD), *before[1:])]
    assert gc.get_threshold() == before


def _boom(self: object) -> None:
    raise RuntimeError("flush failed")
