"""Statuspage history.atom / history.rss: exact records from real feed slices, edge cases,
hostile payloads, and (marked `corpus`) the whole recorded corpus against STATS.md."""

from __future__ import annotations

import html
import io
import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scrapers import incidentio_feed, statuspage_feed
from scrapers.errors import ParseError
from scrapers.markup import html_to_text
from scrapers.records import IncidentRecord, ParsedDoc, RawDoc
from tests.conftest import recorded

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "feeds"
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
FETCHED = datetime(2026, 10, 8, 6, 4, tzinfo=UTC)


_doc = recorded("https://example.test/history.atom", FETCHED)


def _fixture(name: str) -> ParsedDoc:
    return statuspage_feed.parse(_doc((FIXTURES / name).read_bytes(), f"file:///{name}"))


def _timeline(incident: IncidentRecord) -> list[tuple[str, str, str]]:
    return [(u.at.isoformat(), u.label, html_to_text(u.body)) for u in incident.updates]


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# ------------------------------------------------------------------------------ fixture slices


def test_claude_atom_slice() -> None:
    parsed = _fixture("claude_slice.atom")
    assert parsed.format == "statuspage_feed"
    assert parsed.warnings == ()
    assert parsed.as_of == _utc("2026-10-08T02:59:46")
    assert (parsed.page.name, parsed.page.url) == ("Claude", "https://status.claude.com")
    first, second, third = parsed.incidents
    assert (first.native_id, first.title, first.kind, first.status) == (
        "vmys9qn874h4", "Issue with spend limits", "incident", "resolved")
    assert first.url == "https://status.claude.com/incidents/vmys9qn874h4"
    assert first.page_url == "https://status.claude.com"
    assert first.channel == "statuspage_feed"
    assert first.updated_at == _utc("2026-10-07T21:23:29")
    assert first.updates_complete is True
    assert _timeline(first) == [(
        "2026-10-07T21:23:00+00:00", "Resolved",
        "We have identified an issue which resulted in some organizations to be incorrectly "
        "paused for having reached their spend limit, resulting in refused requests on the "
        "Claude API, Claude.ai, Claude Code, Claude Security, and Claude Cowork. This is now "
        "resolved.",
    )]
    update = first.updates[0]
    assert (update.body_format, update.at_precision) == ("html", "minute")

    assert (second.native_id, second.title, second.status) == (
        "978mjkgw6mh7", "Elevated errors on platform.claude.com", "monitoring")
    assert _timeline(second) == [
        ("2026-10-07T21:44:00+00:00", "Monitoring",
         "We've mitigated the errors loading usage data on platform.claude.com and in the Admin "
         "API usage report. While we work on a full fix, the most recent ~30 minutes of usage "
         "may take longer to appear on the platform.claude.com. API requests are not affected, "
         "and we will provide additional updates here."),
        ("2026-10-07T17:28:00+00:00", "Identified",
         "We've identified the cause of errors loading usage data. The Admin API usage report "
         "has recovered, and fixes for the platform.claude.com Usage and Rate limits pages are "
         "in progress. The most recent 30 minutes of usage may be delayed. Core functionality "
         "is not affected."),
        ("2026-10-07T16:36:00+00:00", "Update",
         "We are continuing to work on elevated errors affecting usage data on the "
         "platform.claude.com Usage and Rate limits pages and the Admin API usage report. A "
         "mitigation for the Usage page and the Admin API usage report is rolling out; once it "
         "is in place, the most recent usage may take about 30 minutes to appear there. Core "
         "functionality is not affected."),
        ("2026-10-07T13:25:00+00:00", "Investigating",
         "We are investigating elevated errors affecting usage data on the platform.claude.com "
         "Usage page and the Admin API usage report. Core functionality is not affected. We "
         "will provide an update as soon as possible."),
    ]

    assert (third.native_id, third.status, third.updated_at) == (
        "6304r9jjhj34", "resolved", _utc("2026-09-15T11:14:44"))
    assert third.title == "Intermittent error spikes for Claude Mythos 5.1 and Claude Fable 5.1"
    fix = ("A fix has been deployed for Claude Mythos 5.1 and Claude Fable 5.1 and we are "
           "monitoring to ensure it has resolved the issue.")
    looking = ("We are investigating elevated errors on requests to Claude Mythos 5.1 and "
               "Claude Fable 5.1. We will provide an update as soon as possible.")
    assert _timeline(third) == [
        ("2026-09-15T11:14:00+00:00", "Resolved", fix),
        ("2026-09-15T10:50:00+00:00", "Monitoring", fix),
        ("2026-09-15T09:52:00+00:00", "Update", looking),
        ("2026-09-15T09:48:00+00:00", "Investigating", looking),
    ]


def test_parse_rss_slice_pst_in_dst_and_postmortem() -> None:
    parsed = _fixture("parse_slice.rss")
    assert parsed.warnings == ()
    assert parsed.as_of == _utc("2014-01-10T00:00:23")  # channel pubDate, -0800
    assert (parsed.page.name, parsed.page.url) == ("Parse", "http://status.parse.com")
    new_year, postmortem, october = parsed.incidents

    assert (new_year.native_id, new_year.title, new_year.status) == (
        "lzf7mjchpy20", "Elevated error rates", "resolved")
    assert new_year.updated_at == _utc("2014-01-01T17:09:00")  # RSS pubDate
    # "Jan  1, 09:09 PST": double-space padded day, no <var>, winter PST = UTC-8.
    assert _timeline(new_year) == [
        ("2014-01-01T17:09:00+00:00", "Resolved",
         "We have restored the system to its normal level of operation."),
        ("2014-01-01T17:00:00+00:00", "Identified",
         "We have identified the source of the elevated error rates and are working to restore "
         "normal capacity."),
        ("2014-01-01T16:17:00+00:00", "Investigating",
         "We are currently investigating an issue with elevated error rates."),
    ]

    # The Postmortem was posted two days after the entry's pubDate; it still lands in 2013.
    assert (postmortem.native_id, postmortem.status) == ("p9hy357zjvb3", "postmortem")
    assert postmortem.title == "Elevated error rates and latency"
    assert [(u.at.isoformat(), u.label) for u in postmortem.updates] == [
        ("2013-12-26T18:22:00+00:00", "Postmortem"),
        ("2013-12-24T19:21:00+00:00", "Resolved"),
        ("2013-12-24T16:58:00+00:00", "Investigating"),
    ]
    body = postmortem.updates[0].body
    assert body.startswith("# Summary of the December 24 Parse Service Disruption\n<br />\n<br />")
    text = html_to_text(body)
    assert text.startswith("# Summary of the December 24 Parse Service Disruption\n\nWe would")
    assert text.endswith("reach out to us through our [Help & Community]"
                         "(https://parse.com/help) portal.")
    assert len(text) == 4829
    assert [html_to_text(u.body) for u in postmortem.updates[1:]] == [
        "This incident has been resolved.", "We are currently investigating this issue."]

    # "Oct 28, 14:48 PST" while the page was on daylight time: the pubDate says -0700.
    assert october.native_id == "gtdv7rgyn76g"
    assert october.updated_at == _utc("2013-10-28T21:48:00")
    assert _timeline(october) == [
        ("2013-10-28T21:48:00+00:00", "Resolved",
         "The issue affecting a subset of apps has been resolved."),
        ("2013-10-28T21:43:00+00:00", "Identified",
         "Apps hosted on a specific cluster are seeing elevated error rates."),
    ]


def test_symantec_slice_sub_headings_are_not_labels() -> None:
    parsed = _fixture("symantec_wss_slice.atom")
    assert parsed.warnings == ()
    assert parsed.page.name == "Symantec Web Security Service"
    upcoming, chennai, saml = parsed.incidents

    # An upcoming maintenance: published = the scheduled start, updated = the last update.
    assert (upcoming.native_id, upcoming.kind, upcoming.status) == (
        "nrbj1tnt6445", "maintenance", "scheduled")
    assert upcoming.title == "Network Maintenance in Tel Aviv (TLV1) Data Center December 18, 2019"
    assert upcoming.updated_at == _utc("2019-12-09T19:40:55")
    assert (upcoming.scheduled_for, upcoming.scheduled_until) == (
        _utc("2019-12-18T16:00:00"), _utc("2019-12-18T17:00:00"))
    assert _timeline(upcoming) == [(
        "2019-12-09T19:40:00+00:00", "Scheduled",
        "Network maintenance will occur in our Tel Aviv (TLV1) data center on December 18, "
        "2019, starting at 16:00 UTC, and is expected to last up to 1 hour.\n\nImpact\nThere "
        "may be a brief outage during the maintenance window.\n\nRequired Action\nIPSec "
        "connected customers are requested to bring up their secondary tunnel (if configured) "
        "prior to the maintenance.\n\nSchedule\n• Start Date: December 18, 2019, at 16:00 UTC\n"
        "• End Date: December 18, 2019, at 17:00 UTC",
    )]
    # The body is the HTML as published, bold sub-headings included.
    assert "<br /><br /><strong>Impact</strong><br />There may be" in upcoming.updates[0].body

    assert (chennai.native_id, chennai.kind, chennai.status) == (
        "p27y2b9t7rdy", "maintenance", "completed")
    assert chennai.scheduled_for is None  # the schedule preamble goes once it has started
    assert _timeline(chennai) == [
        ("2019-12-10T18:00:00+00:00", "Completed", "The scheduled maintenance has been completed."),
        ("2019-12-10T16:00:00+00:00", "In progress",
         "Scheduled maintenance is currently in progress. We will provide updates as necessary."),
        ("2019-12-05T21:35:00+00:00", "Scheduled",
         "Network maintenance will occur in our Chennai (MAA1) data center on December 10, 2019 "
         "starting 16:00 UTC, and is expected to last up to 2 hours.\n\nImpact\nNo impact "
         "expected.\n\nSchedule\n\n- Start Date: December 10, 2019 at 16:00 UTC\n"
         "- End Date: December 10, 2019 at 18:00 UTC"),
    ]

    assert (saml.native_id, saml.kind, saml.status) == ("2ttxpymjl8kc", "incident", "resolved")
    assert saml.title == "Authentication Errors when Logging in through SAML"
    assert _timeline(saml) == [
        ("2019-12-10T05:45:00+00:00", "Resolved",
         "We have confirmed the underlying issue impacting SAML authentication is resolved. "
         "This incident is now closed."),
        ("2019-12-10T03:51:00+00:00", "Monitoring",
         "As of 03:45 UTC, SAML authentication issues have been resolved. We continue to "
         "monitor the portal performance. We will provide additional updates as new "
         "information becomes available."),
        ("2019-12-09T23:54:00+00:00", "Update",
         "We are continuing to work on deployment of the fix. We will provide additional "
         "updates as new information becomes available."),
        ("2019-12-09T19:30:00+00:00", "Identified",
         "We have identified the issue impacting SAML authentication and working on deploying "
         "a fix. We will provide additional updates as new information becomes available."),
        ("2019-12-09T17:34:00+00:00", "Investigating",
         "We are aware some customers are encountering issues with SAML authentication. We are "
         "investigating the issue and will provide additional updates as new information "
         "becomes available.\n\nImpacted users should consider temporarily disabling SAML "
         "“Sign Authentication Request” option in the portal, as a workaround while we work on "
         "resolving this incident. User can locate this option under Authentication>SAML."),
    ]


def test_digitalocean_rss_slice() -> None:
    parsed = _fixture("digitalocean_slice.rss")
    assert parsed.warnings == ()
    assert parsed.as_of == _utc("2020-01-23T21:39:25")
    assert (parsed.page.name, parsed.page.url) == ("DigitalOcean", "http://status.digitalocean.com")
    maintenance, spaces, floating = parsed.incidents
    assert (maintenance.native_id, maintenance.kind, maintenance.status) == (
        "x0xytvsvky35", "maintenance", "completed")
    assert maintenance.title == "AMS3 Region Network Maintenance"
    assert maintenance.url == "https://status.digitalocean.com/incidents/x0xytvsvky35"
    assert maintenance.updated_at == _utc("2020-01-21T23:00:38")
    assert _timeline(maintenance) == [
        ("2020-01-21T23:00:00+00:00", "Completed", "The scheduled maintenance has been completed."),
        ("2020-01-21T21:00:00+00:00", "In progress",
         "Scheduled maintenance is currently in progress. We will provide updates as necessary."),
        ("2020-01-21T20:59:00+00:00", "Scheduled",
         "The Networking team will be making changes to our core networking equipment to "
         "improve performance and reliability for our AMS3 location.\n\nExpected Impact:\n\n"
         "There will be several minutes of packet loss while we shift traffic between redundant "
         "devices. There may be additional event processing delays, as well as Cloud Panel and "
         "API interruptions during this period. We will endeavor to keep this to a minimum for "
         "the duration of the change.\n\nIf you have any questions or concerns, please create a "
         "support ticket."),
    ]
    assert (spaces.native_id, spaces.kind, spaces.title) == (
        "fftythk8wws3", "incident", "AMS3 Spaces Temporarily Inaccessible")
    assert _timeline(spaces) == [
        ("2020-01-22T00:49:00+00:00", "Resolved",
         "Our engineering team has resolved the issue with AMS3 Spaces accessibility. Spaces in "
         "this region should now be operating normally. If you continue to experience problems, "
         "please open a ticket with our support team. We apologize for any inconvenience."),
        ("2020-01-22T00:06:00+00:00", "Monitoring",
         "Our engineering team has implemented a fix to resolve an issue with AMS3 Spaces being "
         "inaccessible, and are monitoring the situation. We will post an update as soon as the "
         "issue is fully resolved."),
    ]
    assert (floating.native_id, floating.title, floating.status) == (
        "m6hgmpr20lb0", "Floating IP Issues in BLR1", "resolved")
    assert _timeline(floating) == [(
        "2019-12-12T23:30:00+00:00", "Resolved",
        "Our engineering team identified an issue that resulted in errors with Floating IP "
        "connectivity in our BLR1 region. This impacted a subset of Floating IP addresses, "
        "totaling about 2500 IPs. This resulted in issues with network connectivity for the "
        "impacted IP addresses, leading to users being unable to reach sites pointed to the IP "
        "addresses, or otherwise connect to them. The impact lasted for a period of about five "
        "hours. Our engineering team was able to implement a fix to resolve the issue and "
        "restore connectivity to the Floating IP addresses.",
    )]


def test_sniff() -> None:
    for name in ("claude_slice.atom", "parse_slice.rss", "symantec_wss_slice.atom",
                 "digitalocean_slice.rss"):
        assert statuspage_feed.sniff((FIXTURES / name).read_bytes()), name
    assert not statuspage_feed.sniff((FIXTURES / "openai_slice.atom").read_bytes())
    for body in (b"", b"<html>503 Service Unavailable</html>", b'{"incidents": []}',
                 b"<?xml version='1.0'?><feed><title>Blog</title></feed>"):
        assert not statuspage_feed.sniff(body)


# --------------------------------------------------------------------- synthetic edge cases


def _atom(*entries: tuple[str, str, str], as_of: str = "2020-01-02T00:00:00Z") -> bytes:
    """A Statuspage-shaped Atom feed; entries are (link, updated, content HTML)."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<feed xml:lang="en-US" '
        'xmlns="http://www.w3.org/2005/Atom">\n<id>tag:status.example.test,2005:/history</id>\n'
        '<link rel="alternate" type="text/html" href="https://status.example.test"/>\n'
        f"<title>Example - Incident History</title>\n<updated>{as_of}</updated>\n"
    ]
    for number, (link, updated, content) in enumerate(entries):
        parts.append(
            f"<entry><id>tag:status.example.test,2005:Incident/{number}</id>"
            f"<published>{updated}</published><updated>{updated}</updated>"
            f'<link rel="alternate" type="text/html" href="{link}"/><title>T{number}</title>'
            f'<content type="html">{html.escape(content)}</content></entry>\n'
        )
    parts.append("</feed>\n")
    return "".join(parts).encode()


def _block(stamp: str, label: str, body: str) -> str:
    return f"<p><small>{stamp}</small><br><strong>{label}</strong> - {body}</p>"


def test_december_to_january_rollover_and_12_hour_clock() -> None:
    content = (_block("Jan <var data-var='date'> 1</var>, 9:09 AM PST", "Resolved", "ok")
               + _block("Dec 31, 11:46 PM PST", "Investigating", "looking")
               + _block("Dec 31, 12:05 AM UTC", "Investigating", "midnight"))
    parsed = statuspage_feed.parse(_doc(_atom(
        ("https://status.example.test/incidents/abc123/?utm=x", "2020-01-01T17:09:30Z", content),
    )))
    assert parsed.warnings == ()
    (incident,) = parsed.incidents
    assert incident.native_id == "abc123"
    assert incident.page_url == "https://status.example.test"
    assert parsed.page.name == "Example"
    assert [(u.at.isoformat(), u.label, u.body) for u in incident.updates] == [
        ("2020-01-01T17:09:00+00:00", "Resolved", "ok"),
        ("2020-01-01T07:46:00+00:00", "Investigating", "looking"),
        ("2019-12-31T00:05:00+00:00", "Investigating", "midnight"),
    ]


def test_postmortem_year_and_listing_inversions() -> None:
    parsed = statuspage_feed.parse(_doc(_atom(
        # A postmortem two days after the entry's time: `infer_year` alone would say 2012.
        ("https://status.example.test/incidents/pm", "2013-12-24T19:21:00Z",
         _block("Dec 26, 10:22 PST", "Postmortem", "# Summary")
         + _block("Dec 24, 11:21 PST", "Resolved", "done")),
        # Same-day updates listed out of order in an old entry of a much later snapshot: kept.
        ("https://status.example.test/incidents/glitch", "2022-02-14T23:27:00Z",
         _block("Feb 14, 23:26 UTC", "Resolved", "a") + _block("Feb 14, 23:27 UTC", "Update", "b")),
        as_of="2024-06-10T11:10:42Z",
    )))
    assert parsed.warnings == ()
    postmortem, glitch = parsed.incidents
    assert [u.at for u in postmortem.updates] == [
        _utc("2013-12-26T18:22:00"), _utc("2013-12-24T19:21:00")]
    assert [u.at for u in glitch.updates] == [
        _utc("2022-02-14T23:26:00"), _utc("2022-02-14T23:27:00")]
    assert glitch.status == "resolved"


def test_explicit_year_in_stamp() -> None:
    content = _block("Dec 29, 2013, 12:20 PST", "Resolved", "done")
    parsed = statuspage_feed.parse(_doc(_atom(
        ("https://status.example.test/incidents/y1", "2015-06-01T00:00:00Z", content))))
    assert parsed.incidents[0].updates[0].at == _utc("2013-12-29T20:20:00")


def test_bad_entries_are_skipped_with_a_warning() -> None:
    good = _block("Jan  1, 10:00 UTC", "Resolved", "fine")
    parsed = statuspage_feed.parse(_doc(_atom(
        ("https://status.example.test/incidents/zone1", "2020-01-01T10:00:00Z",
         _block("Jan  1, 10:00 XYZT", "Resolved", "?")),
        ("https://status.example.test/incidents/garbage", "2020-01-01T10:00:00Z",
         _block("sometime last week", "Resolved", "?")),
        ("https://status.example.test/incidents/feb30", "2020-01-01T10:00:00Z",
         _block("Feb 30, 10:00 UTC", "Resolved", "?")),
        ("https://status.example.test/incidents/hour25", "2020-01-01T10:00:00Z",
         _block("Jan  1, 25:00 UTC", "Resolved", "?")),
        ("https://status.example.test/about", "2020-01-01T10:00:00Z", good),
        ("https://status.example.test/incidents/noblocks", "2020-01-01T10:00:00Z", "<p>hi</p>"),
        ("https://status.example.test/incidents/ok", "2020-01-01T10:00:00Z", good),
    )))
    assert [i.native_id for i in parsed.incidents] == ["ok"]
    assert len(parsed.warnings) == 6
    assert all(w.startswith("entry https://status.example.test/") for w in parsed.warnings)
    assert all("\n" not in w for w in parsed.warnings)
    assert "unknown time zone 'XYZT'" in parsed.warnings[0]
    assert "unreadable update stamp" in parsed.warnings[1]
    assert "impossible update stamp" in parsed.warnings[2]
    assert "bad clock" in parsed.warnings[3]
    assert "no /incidents/<code> link" in parsed.warnings[4]
    assert "no '<small>stamp</small>" in parsed.warnings[5]


# ---------------------------------------------------------------------------- hostile payloads


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty body"),
        (b"   \n", "empty body"),
        (b"<html>503 Service Unavailable</html>", "not an Atom/RSS feed"),
        (b'{"page": {"id": "x"}, "incidents": []}', "not an Atom/RSS feed"),
        (b"\x00\xff\xfe garbage", "not an Atom/RSS feed"),
    ],
)
def test_not_a_feed_is_a_parse_error(body: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        statuspage_feed.parse(_doc(body))
    assert reason in caught.value.reason
    assert "\n" not in str(caught.value)
    assert caught.value.source == "https://example.test/history.atom"


def test_truncated_feed() -> None:
    whole = (FIXTURES / "claude_slice.atom").read_bytes()
    with pytest.raises(ParseError, match="nothing recoverable"):
        statuspage_feed.parse(_doc(whole[:400]))
    cut = whole.index(b"978mjkgw6mh7") + 600  # inside the second entry's content
    parsed = statuspage_feed.parse(_doc(whole[:cut]))
    assert parsed.warnings[0].startswith("feed is malformed, parsed what was recoverable")
    assert parsed.incidents[0].native_id == "vmys9qn874h4"
    assert len(parsed.incidents[0].updates) == 1
    # What a broken document shows may be cut short; the normalizer must not trust it as whole.
    assert all(not i.updates_complete for i in parsed.incidents)


def test_every_truncation_point_fails_cleanly() -> None:
    whole = (FIXTURES / "symantec_wss_slice.atom").read_bytes()
    for cut in range(0, len(whole), 97):
        try:
            parsed = statuspage_feed.parse(_doc(whole[:cut]))
        except ParseError:
            continue
        assert isinstance(parsed, ParsedDoc)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000) | st.builds(
    lambda cut, junk: (FIXTURES / "parse_slice.rss").read_bytes()[:cut] + junk,
    st.integers(0, 8000), st.binary(max_size=200)))
def test_arbitrary_bytes_raise_only_parse_error(body: bytes) -> None:
    try:
        parsed = statuspage_feed.parse(_doc(body))
    except ParseError as error:
        assert "\n" not in error.reason
        return
    assert isinstance(parsed, ParsedDoc)


# ------------------------------------------------------------------------------ whole corpus

STATUSPAGE_FEEDS = ("statuspage_atom", "statuspage_rss")
_STAMP = re.compile(r"_(\d{8}T\d{6})(Z|[-+]\d{4})\.")


@pytest.fixture(scope="module")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not present at {CORPUS}")
    return CORPUS


def _snapshot_time(path: Path) -> datetime:
    found = _STAMP.search(path.name)
    assert found, path
    zone = "+0000" if found.group(2) == "Z" else found.group(2)
    return datetime.strptime(found.group(1) + zone, "%Y%m%dT%H%M%S%z").astimezone(UTC)


def _feeds(root: Path) -> list[Path]:
    files = [p for d in STATUSPAGE_FEEDS for p in (root / d).glob("*/*") if p.suffix in
             (".atom", ".rss")]
    return sorted(files, key=_snapshot_time)


def _parse_file(path: Path) -> ParsedDoc:
    return statuspage_feed.parse(RawDoc(body=path.read_bytes(), url=path.as_uri(),
                                        fetched_at=_snapshot_time(path)))


@pytest.fixture(scope="module")
def by_service(corpus: Path) -> dict[str, dict[str, IncidentRecord]]:
    """Unique incidents per service directory; a later snapshot replaces an earlier one."""
    services: dict[str, dict[str, IncidentRecord]] = {}
    for path in _feeds(corpus):
        for incident in _parse_file(path).incidents:
            services.setdefault(path.parent.name, {})[incident.native_id] = incident
    return services


@pytest.mark.corpus
def test_corpus_every_feed_parses_without_skips(corpus: Path) -> None:
    paths = _feeds(corpus)
    assert len(paths) == 37
    for path in paths:
        body = path.read_bytes()
        assert statuspage_feed.sniff(body), path
        assert not incidentio_feed.sniff(body), path
        parsed = _parse_file(path)
        raw_entries = len(feedparser.parse(io.BytesIO(body)).entries)
        assert parsed.warnings == (), path
        assert len(parsed.incidents) == raw_entries, path
        assert parsed.as_of is not None and parsed.page.url, path


@pytest.mark.corpus
def test_corpus_unique_incident_counts(by_service: dict[str, dict[str, IncidentRecord]]) -> None:
    counts = {service: len(incidents) for service, incidents in by_service.items()}
    assert counts == {
        "github": 375, "digitalocean": 63, "atlassian-statuspage": 26, "symantec-wss": 38,
        "saucelabs-us-west": 25, "streamyard": 17, "parse": 17, "anthropic": 25,
    }


# STATS.md section 2 "update labels inside content". Symantec: STATS also counts the bold
# sub-headings (Impact=15, Required Action=12, Schedule=11, ...) as labels; those are not.
LABELS = {
    "github": {"Completed": 9, "Identified": 1, "In progress": 9, "Investigating": 358,
               "Monitoring": 32, "Resolved": 364, "Scheduled": 10, "Update": 1266},
    "anthropic": {"Identified": 10, "Investigating": 18, "Monitoring": 13, "Resolved": 24,
                  "Update": 14},
    "digitalocean": {"Completed": 8, "Identified": 30, "In progress": 8, "Investigating": 39,
                     "Monitoring": 46, "Resolved": 54, "Scheduled": 8, "Update": 24,
                     "Verifying": 1},
    "atlassian-statuspage": {"Completed": 4, "Identified": 6, "In progress": 3,
                             "Investigating": 7, "Monitoring": 11, "Resolved": 22,
                             "Scheduled": 4, "Update": 6, "Verifying": 1},
    "symantec-wss": {"Completed": 14, "Identified": 5, "In progress": 14, "Investigating": 9,
                     "Monitoring": 6, "Resolved": 20, "Scheduled": 18, "Update": 8},
    "saucelabs-us-west": {"Completed": 6, "Identified": 3, "In progress": 6,
                          "Investigating": 13, "Monitoring": 9, "Resolved": 19,
                          "Scheduled": 6, "Update": 10},
    "streamyard": {"Identified": 8, "Investigating": 14, "Monitoring": 2, "Resolved": 17,
                   "Update": 5},
    "parse": {"Identified": 9, "Investigating": 9, "Postmortem": 1, "Resolved": 17, "Update": 2},
}
MAINTENANCE = {"github": 10, "digitalocean": 8, "atlassian-statuspage": 4, "symantec-wss": 18,
               "saucelabs-us-west": 6, "streamyard": 0, "parse": 0, "anthropic": 0}


@pytest.mark.corpus
def test_corpus_label_and_kind_counts(by_service: dict[str, dict[str, IncidentRecord]]) -> None:
    for service, incidents in by_service.items():
        labels = Counter(u.label for i in incidents.values() for u in i.updates)
        assert dict(labels) == LABELS[service], service
        kinds = Counter(i.kind for i in incidents.values())
        assert kinds["maintenance"] == MAINTENANCE[service], service


@pytest.mark.corpus
def test_corpus_newest_update_matches_entry_time(corpus: Path) -> None:
    """Validates year and zone inference: Statuspage bumps <updated>/<pubDate> when it posts an
    update, so the newest stamp equals it to the minute. Postmortems are the one exception:
    Parse's was posted two days after the entry's pubDate, which did not move."""
    postmortems = []
    for path in _feeds(corpus):
        raw = feedparser.parse(io.BytesIO(path.read_bytes())).entries
        times = {e.link: [statuspage_feed.node_time(e, k) for k in ("published", "updated")]
                 for e in raw}
        for incident in _parse_file(path).incidents:
            newest = max(incident.updates, key=lambda u: u.at)
            if newest.label == "Postmortem":
                postmortems.append((incident.native_id, newest.at))
                newest = max((u for u in incident.updates if u.label != "Postmortem"),
                             key=lambda u: u.at)
            entry_times = [t for t in times[incident.url] if t is not None]
            assert any(abs(newest.at - t) <= timedelta(minutes=5) for t in entry_times), (
                path.name, incident.native_id, newest.at, entry_times)
            assert list(incident.updates) == sorted(incident.updates, key=lambda u: u.at,
                                                    reverse=True), (path.name, incident.native_id)
    assert postmortems == [("p9hy357zjvb3", _utc("2013-12-26T18:22:00"))]


@pytest.mark.corpus
def test_corpus_parse_pst_label_during_daylight_time(corpus: Path) -> None:
    parsed = _parse_file(corpus / "statuspage_rss/parse/parse_history_20140109T160023-0800.rss")
    (incident,) = [i for i in parsed.incidents if i.native_id == "gtdv7rgyn76g"]
    assert incident.updates[0].at == _utc("2013-10-28T21:48:00")  # "Oct 28, 14:48 PST"
    assert incident.updated_at == _utc("2013-10-28T21:48:00")  # <pubDate> ... 14:48:00 -0700


@pytest.mark.corpus
def test_corpus_claude_feed_agrees_with_json_api(corpus: Path) -> None:
    api = json.loads((corpus / "statuspage_json/anthropic/incidents_backfill_20260915.json")
                     .read_text(encoding="utf-8"))
    by_code = {incident["id"]: incident for incident in api["incidents"]}
    feed = _parse_file(
        corpus / "statuspage_atom/anthropic/claude_status_history_20261008T025946Z.atom")
    shared = [i for i in feed.incidents if i.native_id in by_code]
    assert len(shared) == 16
    checked = 0
    for incident in shared:
        json_updates = [
            (datetime.fromisoformat(u["display_at"]).replace(second=0, microsecond=0),
             " ".join(u["body"].split()))
            for u in by_code[incident.native_id]["incident_updates"]
        ]
        for update in incident.updates:
            text = " ".join(html_to_text(update.body).split())
            assert (update.at, text) in json_updates, (incident.native_id, update.label)
            checked += 1
    assert checked == 49


@pytest.mark.parametrize(
    "value",
    [
        "Thu, 23 Jan " + "9" * 400 + "2020 21:39:25 +0000",  # found by test_fuzz (OverflowError)
        "9999-12-31T23:59:00-05:00",  # valid, but past year 9999 once in UTC
    ],
)
def test_feed_time_out_of_range_is_no_time(value: str) -> None:
    assert statuspage_feed.feed_time(value) is None
