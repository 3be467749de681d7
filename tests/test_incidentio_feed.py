"""incident.io history.atom (status.openai.com): final-state records, ULID creation times,
hostile payloads, and (marked `corpus`) the recorded feed against STATS.md and the JSON API."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scrapers import incidentio_feed, statuspage_feed
from scrapers.errors import ParseError
from scrapers.records import ComponentRecord, ParsedDoc, RawDoc, UpdateRecord
from tests.conftest import recorded

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "feeds"
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
FEED = "incidentio_atom/openai/openai_status_history_20260914T045653Z.atom"
FETCHED = datetime(2026, 9, 14, 4, 57, 7, tzinfo=UTC)


_doc = recorded("https://status.example.test/history.atom", FETCHED)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_openai_slice() -> None:
    parsed = incidentio_feed.parse(_doc((FIXTURES / "openai_slice.atom").read_bytes()))
    assert parsed.format == "incidentio_feed"
    assert parsed.warnings == ()
    assert parsed.as_of == _utc("2026-09-14T04:56:53.404")
    assert (parsed.page.name, parsed.page.url) == ("OpenAI", "https://status.openai.com")
    plain, two, logins = parsed.incidents

    assert plain.native_id == "01M2EWYR55J47M2BPG9WC76VEG"
    assert plain.title == "Elevated error rates for Codex and ChatGPT Work"
    assert plain.channel == "incidentio_feed"
    assert plain.kind == "incident"
    assert plain.url == "https://status.openai.com/incidents/01M2EWYR55J47M2BPG9WC76VEG"
    assert plain.page_url == "https://status.openai.com"
    assert plain.status == "resolved"
    assert plain.created_at == _utc("2026-09-14T02:46:48.741")  # from the ULID
    assert plain.updated_at == _utc("2026-09-14T03:57:19.771")
    assert plain.updates_complete is False
    assert plain.components == ()
    assert plain.updates == (UpdateRecord(
        at=_utc("2026-09-14T03:57:19.771"), label="Resolved",
        body="All impacted services have now fully recovered.", body_format="html",
        at_precision="second"),)

    assert two.native_id == "01M27VK1VN54RQJGJEHB5JTQJJ"
    assert two.title == "Elevated errors for GPT-5.6 Sol on the API"
    assert two.created_at == _utc("2026-09-11T09:08:15.861")
    assert two.updated_at == _utc("2026-09-11T11:21:43.949")
    assert two.components == (
        ComponentRecord(name="Chat Completions", status="Operational"),
        ComponentRecord(name="Responses", status="Operational"),
    )
    assert [(u.label, u.body) for u in two.updates] == [
        ("Resolved", "All impacted services have now fully recovered.")]

    # Two components share the display name "Login"; both are kept.
    assert logins.native_id == "01KY2ZF047ZNVDX0Z6F3QFXB1K"
    assert logins.title == "Issues with logins and signups"
    assert logins.url == "https://status.openai.com/incidents/01KY2ZF047ZNVDX0Z6F3QFXB1K"
    assert logins.created_at == _utc("2026-07-21T18:36:57.863")
    assert logins.updated_at == _utc("2026-07-21T19:00:27.892")
    assert logins.components == (ComponentRecord(name="Login", status="Operational"),) * 2
    assert [(u.at, u.label, u.body) for u in logins.updates] == [(
        _utc("2026-07-21T19:00:27.892"), "Resolved",
        "All affected API Platform functionality has now fully recovered.")]


def test_ulid_time() -> None:
    # The reference JS library's README: decodeTime("01ARYZ6S41TSV4RRFFQ69G5FAV") = 1469918176385.
    assert incidentio_feed.ulid_time("01ARYZ6S41TSV4RRFFQ69G5FAV") == (
        datetime(2016, 7, 30, 22, 36, 16, 385000, tzinfo=UTC))
    assert incidentio_feed.ulid_time("01aryz6s41tsv4rrffq69g5fav") == (
        incidentio_feed.ulid_time("01ARYZ6S41TSV4RRFFQ69G5FAV"))
    assert incidentio_feed.ulid_time("00000000000000000000000000") == datetime(1970, 1, 1,
                                                                              tzinfo=UTC)
    for bad in ("", "01ARZ3NDEK", "01ARZ3NDEKTSV4RRFFQ69G5FAVX", "0IARZ3NDEKTSV4RRFFQ69G5FAV",
                "8ZZZZZZZZZZZZZZZZZZZZZZZZZ"):
        assert incidentio_feed.ulid_time(bad) is None, bad


def test_sniff_tells_the_two_feed_kinds_apart() -> None:
    openai = (FIXTURES / "openai_slice.atom").read_bytes()
    assert incidentio_feed.sniff(openai)
    assert not statuspage_feed.sniff(openai)
    for name in ("claude_slice.atom", "parse_slice.rss", "symantec_wss_slice.atom",
                 "digitalocean_slice.rss"):
        assert not incidentio_feed.sniff((FIXTURES / name).read_bytes()), name
    # No <generator>, but incident.io's double-slash ULID links.
    bare = openai.replace(b"<generator>incident.io</generator>", b"")
    assert incidentio_feed.sniff(bare)
    assert not statuspage_feed.sniff(bare)
    for body in (b"", b"<html>503</html>", b'{"incidents": []}'):
        assert not incidentio_feed.sniff(body)


def _feed(*contents: tuple[str, str]) -> bytes:
    """An incident.io-shaped feed; entries are (link, content HTML)."""
    entries = "".join(
        f"<entry><title type='html'><![CDATA[A &amp; B]]></title><id>{link}</id>"
        f"<link href='{link}'/><updated>2026-09-01T10:00:00.000Z</updated>"
        f"<content type='html'><![CDATA[{content}]]></content></entry>"
        for link, content in contents
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
        "<id>https://status.example.test/</id><title>Example status</title>"
        "<updated>2026-09-02T00:00:00Z</updated><generator>incident.io</generator>"
        f"<link rel='alternate' href='https://status.example.test/'/>{entries}</feed>"
    ).encode()


def test_odd_entries() -> None:
    ulid = "01M1263309PD7VYV8EF95W2M2P"
    parsed = incidentio_feed.parse(_doc(_feed(
        (f"https://status.example.test//incidents/{ulid}",
         "<b>Status: Monitoring</b><br/><br/>Line one.<br/>Line <i>two</i>.<br/><br/>"
         "<b>Affected components</b><ul><li>API (Degraded performance)</li><li>Docs</li>"
         "<li>Web (EU) (Partial outage)</li>"),  # list never closed
        ("https://status.example.test//incidents/not-a-ulid", "<b>Status: Resolved</b>"),
        (f"https://status.example.test//incidents/{ulid[:-1]}X", "no status line here"),
    )))
    (incident,) = parsed.incidents
    assert incident.title == "A & B"
    assert incident.status == "monitoring"
    assert incident.updates[0].label == "Monitoring"
    assert incident.updates[0].body == "Line one.<br/>Line <i>two</i>."
    assert incident.components == (
        ComponentRecord(name="API", status="Degraded performance"),
        ComponentRecord(name="Docs"),
        ComponentRecord(name="Web (EU)", status="Partial outage"),
    )
    assert parsed.warnings == (
        "entry https://status.example.test//incidents/not-a-ulid: no /incidents/<ULID> link",
        f"entry https://status.example.test//incidents/{ulid[:-1]}X: "
        "no '<b>Status: …</b>' line",
    )


def test_statuspage_feed_given_to_incidentio_parser() -> None:
    parsed = incidentio_feed.parse(_doc((FIXTURES / "claude_slice.atom").read_bytes()))
    assert parsed.incidents == ()
    assert len(parsed.warnings) == 3


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>503 Service Unavailable</html>", b'{"incidents": []}', b"\xff\xfe\x00<"],
)
def test_not_a_feed_is_a_parse_error(body: bytes) -> None:
    with pytest.raises(ParseError) as caught:
        incidentio_feed.parse(_doc(body))
    assert "\n" not in str(caught.value)


def test_truncated_feed() -> None:
    whole = (FIXTURES / "openai_slice.atom").read_bytes()
    with pytest.raises(ParseError):
        incidentio_feed.parse(_doc(whole[:300]))
    parsed = incidentio_feed.parse(_doc(whole[: whole.index(b"01KY2ZF047ZNVDX0Z6F3QFXB1K")]))
    assert parsed.warnings[0].startswith("feed is malformed")
    assert [i.native_id for i in parsed.incidents][:2] == [
        "01M2EWYR55J47M2BPG9WC76VEG", "01M27VK1VN54RQJGJEHB5JTQJJ"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000) | st.builds(
    lambda cut, junk: (FIXTURES / "openai_slice.atom").read_bytes()[:cut] + junk,
    st.integers(0, 3000), st.binary(max_size=200)))
def test_arbitrary_bytes_raise_only_parse_error(body: bytes) -> None:
    try:
        parsed = incidentio_feed.parse(_doc(body))
    except ParseError as error:
        assert "\n" not in error.reason
        return
    assert isinstance(parsed, ParsedDoc)


# ------------------------------------------------------------------------------ whole corpus


@pytest.fixture(scope="module")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not present at {CORPUS}")
    return CORPUS


@pytest.fixture(scope="module")
def feed(corpus: Path) -> ParsedDoc:
    path = corpus / FEED
    return incidentio_feed.parse(RawDoc(body=path.read_bytes(), url=path.as_uri(),
                                        fetched_at=FETCHED))


@pytest.mark.corpus
def test_corpus_feed_matches_stats(corpus: Path, feed: ParsedDoc) -> None:
    body = (corpus / FEED).read_bytes()
    assert incidentio_feed.sniff(body) and not statuspage_feed.sniff(body)
    assert feed.warnings == ()
    assert len(feed.incidents) == 87
    assert len({i.native_id for i in feed.incidents}) == 87
    assert Counter(i.status for i in feed.incidents) == {"resolved": 87}
    assert all(len(i.updates) == 1 and not i.updates_complete for i in feed.incidents)
    assert all("//" not in i.url.removeprefix("https://") for i in feed.incidents)
    assert Counter(c.status for i in feed.incidents for c in i.components) == {"Operational": 289}
    assert sum(1 for i in feed.incidents if not i.components) == 10
    assert sum(1 for i in feed.incidents
               if len({c.name for c in i.components}) < len(i.components)) == 4
    # Creation (ULID) → final <updated> lag: STATS gives -0.61 h .. 264.9 h.
    lags = {i.native_id: (i.updated_at - i.created_at) / timedelta(hours=1)
            for i in feed.incidents}
    assert round(min(lags.values()), 2) == -0.61
    assert min(lags, key=lags.__getitem__) == "01KYJC3TDHZVSQFFPTC8X9RAHC"
    assert round(max(lags.values()), 1) == 264.9
    assert max(lags, key=lags.__getitem__) == "01KV6NGBYE50GK3TRXHD2EMTXA"


@pytest.mark.corpus
def test_corpus_feed_agrees_with_json_api(corpus: Path, feed: ParsedDoc) -> None:
    api = json.loads((corpus / "statuspage_json/openai/incidents_backfill_20260915.json")
                     .read_text(encoding="utf-8"))
    by_id = {incident["id"]: incident for incident in api["incidents"]}
    shared = [i for i in feed.incidents if i.native_id in by_id]
    assert len(shared) == 22
    on_resolved = []
    for incident in shared:
        record = by_id[incident.native_id]
        assert incident.title == record["name"]
        # The API gives whole seconds (and stores the row a few ms after minting the id).
        created = datetime.fromisoformat(record["created_at"])
        assert abs(incident.created_at - created) < timedelta(seconds=1)
        final = incident.updated_at.replace(microsecond=0)
        if final == datetime.fromisoformat(record["resolved_at"]):
            on_resolved.append(incident.native_id)
        else:  # resolved → monitoring → resolved: resolved_at keeps the first resolution
            assert incident.native_id == "01M2D1CZG0862JB4JHVW56QF89"
            assert final == datetime.fromisoformat(record["updated_at"])
    assert len(on_resolved) == 21
