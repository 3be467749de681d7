"""AWS Health Dashboard: legacy data.json rows grouped into events, the UTF-16 currentevents
list and the RSS feeds; exact records from real and reconstructed samples, hostile payloads,
and (marked `corpus`) the 86 recorded rows imported end to end into a temporary SQLite DB."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kb.config import PACKAGED_SOURCES, load_sources
from kb.pipeline import Line, ingest
from kb.store import Store
from scrapers import aws_json, aws_rss, registry
from scrapers.archive import Archive
from scrapers.aws_events import Row, clean_summary, group_rows
from scrapers.errors import ParseError
from scrapers.markup import html_to_text
from scrapers.records import ComponentChange, UpdateRecord
from tests.conftest import recorded

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "aws"
CORPUS = ROOT.parent / "shared" / "corpus"
FETCHED = datetime(2022, 7, 3, tzinfo=UTC)


doc = recorded("file:///fixtures/aws/data.json", FETCHED)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def legacy() -> dict[str, object]:
    parsed = aws_json.parse(doc((FIX / "data_slice.json").read_bytes()))
    assert parsed.warnings == ()
    return {r.native_id: r for r in parsed.incidents}


# ----------------------------------------------------------------------- legacy data.json


def test_slice_rows_are_verbatim_corpus_rows(corpus: Path) -> None:
    original = (corpus / "aws_health_json" / "aws" / "data.json").read_text(encoding="utf-8")
    for row in json.loads((FIX / "data_slice.json").read_bytes())["archive"]:
        assert json.dumps(row, separators=(",", ":"), ensure_ascii=False) in original


def test_rows_group_into_events() -> None:
    events = legacy()
    assert {key: [c.code for c in r.components] for key, r in events.items()} == {
        "internetconnectivity-us-east-2_1624564393": ["internetconnectivity-us-east-2"],
        # CloudFront is global; its text names US-EAST-1 and its window overlaps ACM's
        "certificatemanager-us-east-1_1624993969": ["certificatemanager-us-east-1",
                                                    "cloudfront"],
        "dynamodb-us-east-1_1628298493": ["dynamodb-us-east-1", "eks-us-east-1",
                                          "elb-us-east-1"],
        # one service, same summary, not overlapping: two events
        "redshift-us-east-1_1639055699": ["redshift-us-east-1"],
        "redshift-us-east-1_1639067113": ["redshift-us-east-1"],
        # same summary within 30 minutes, three regions
        "internetconnectivity-us-west-2_1639582979": [
            "internetconnectivity-us-west-2", "internetconnectivity-us-west-1",
            "internetconnectivity-us-gov-west-1"],
    }


def test_single_row_event_exact_record() -> None:
    record = legacy()["internetconnectivity-us-east-2_1624564393"]
    assert (record.title, record.channel, record.kind, record.status, record.impact) == (
        "Internet Connectivity", "aws_json", "incident", "resolved", "1")
    assert record.page_url == "https://status.aws.amazon.com"
    assert record.url is None
    assert record.created_at == utc("2021-06-24T19:53:13")
    assert record.resolved_at == utc("2021-06-24T19:53:00")
    assert [(c.name, c.code, c.status) for c in record.components] == [
        ("AWS Internet Connectivity (Ohio)", "internetconnectivity-us-east-2", "1")]
    (update,) = record.updates
    assert (update.at, update.label, update.body_format, update.at_precision) == (
        utc("2021-06-24T19:53:00"), "[RESOLVED]", "html", "minute")
    assert update.body == (
        "Between 12:15 PM and 12:21 PM PDT we observed connectivity issues between some "
        "customer networks and the US-EAST-2 Region. Connectivity within the Region was not "
        "impacted. The issue has been resolved and the service is operating normally.")
    assert update.components == (ComponentChange(name="AWS Internet Connectivity (Ohio)",
                                                 code="internetconnectivity-us-east-2"),)


def test_posts_across_midnight_take_their_dates() -> None:
    record = legacy()["dynamodb-us-east-1_1628298493"]
    dynamo = [u for u in record.updates if u.components[0].code == "dynamodb-us-east-1"]
    # "6:08 PM PDT" on the row's local day (Aug 6), then "Aug 7,  1:50 AM PDT", "2:53 AM"
    assert dynamo[0].at == utc("2021-08-07T01:08:00")
    assert [u.at for u in dynamo][-2:] == [utc("2021-08-07T08:50:00"),
                                           utc("2021-08-07T09:53:00")]
    times = [u.at for u in record.updates]
    assert times == sorted(times)
    assert record.impact == "1" and record.status == "resolved"
    assert record.resolved_at == utc("2021-08-07T09:53:00")  # the event's last post
    assert record.updates[-1].label == "[RESOLVED]"
    assert sum(u.label == "[RESOLVED]" for u in record.updates) == 1


def test_worst_numeric_status_is_the_impact() -> None:
    acm = legacy()["certificatemanager-us-east-1_1624993969"]
    assert [(c.code, c.status) for c in acm.components] == [
        ("certificatemanager-us-east-1", "3"), ("cloudfront", "1")]
    assert acm.impact == "3"
    assert acm.title == "Increased API Error Rates and Latency"


def test_midnight_rollover_without_a_date_prefix() -> None:
    # Synthetic row (the recorded rows always print "Aug 7," after midnight): 11:50 PM then
    # 12:10 AM must land on the next day, not 23h40 earlier.
    row = {"service": "ec2-us-west-2", "service_name": "Amazon EC2 (Oregon)",
           "summary": "[RESOLVED] Test", "date": "1638949800", "status": "2",
           "description": '<div><span class="yellowfg">11:50 PM PST</span>&nbsp;We are '
                          'investigating.</div><div><span class="yellowfg">12:10 AM PST</span>'
                          '&nbsp;The issue has been resolved.</div>'}
    (record,) = aws_json.parse(doc(json.dumps({"archive": [row]}).encode())).incidents
    assert [u.at for u in record.updates] == [utc("2021-12-08T07:50:00"),
                                             utc("2021-12-08T08:10:00")]


def test_bad_rows_cost_one_row_each() -> None:
    data = json.loads((FIX / "data_slice.json").read_bytes())
    data["archive"][0]["date"] = "yesterday"
    data["archive"][1]["description"] = '<div><span class="yellowfg">25:99 XM PDT</span>x</div>'
    data["archive"][2]["service"] = "../etc/passwd"
    data["archive"].append(["not", "a", "row"])
    parsed = aws_json.parse(doc(json.dumps(data).encode()))
    assert len(parsed.warnings) == 4
    assert all(w.startswith("file:///fixtures/aws/data.json: ") and "\n" not in w
               for w in parsed.warnings)
    assert "invalid epoch date" in parsed.warnings[0]
    assert "unreadable post time" in parsed.warnings[1]
    assert "invalid service key" in parsed.warnings[2]
    assert len(parsed.incidents) >= 4


# ------------------------------------------------------------------------- currentevents


def test_currentevents_utf16_with_bom() -> None:
    body = (FIX / "currentevents_reconstructed.json").read_bytes()
    assert body[:2] == b"\xfe\xff"
    assert registry.detect(body, "currentevents") is aws_json
    parsed = aws_json.parse(doc(body, "https://health.aws.amazon.com/public/currentevents"))
    assert parsed.warnings == ()
    assert parsed.page.url == "https://health.aws.amazon.com"
    (record,) = parsed.incidents
    assert (record.native_id, record.title, record.status, record.impact) == (
        "ec2-us-east-1_1640176551", "API Error Rates", "resolved", "1")
    assert [(c.name, c.code, c.status) for c in record.components] == [
        ("Amazon Elastic Compute Cloud (N. Virginia)", "ec2-us-east-1", "1"),
        ("AWS Directory Service", "directoryservice-us-east-1", "1")]
    assert [(u.at, u.label) for u in record.updates] == [
        (utc("2021-12-22T12:35:51"), "1"), (utc("2021-12-22T13:01:00"), "1"),
        (utc("2021-12-22T13:39:00"), "1"), (utc("2021-12-23T00:22:00"), "[RESOLVED]")]
    assert record.updates[0].body.startswith("We are investigating increased EC2 launch")


def test_currentevents_little_endian_and_empty() -> None:
    text = (FIX / "currentevents_reconstructed.json").read_bytes().decode("utf-16")
    little = b"\xff\xfe" + text.encode("utf-16-le")
    assert len(aws_json.parse(doc(little)).incidents) == 1
    quiet = b"\xff\xfe" + "[]".encode("utf-16-le")
    assert registry.detect(quiet, "currentevents") is aws_json  # a quiet day is no failure
    empty = aws_json.parse(doc(quiet))
    assert empty.incidents == () and empty.warnings == ()
    with pytest.raises(ParseError):  # a plain "[]" says nothing about its format
        registry.detect(b"[]", "x")


# ----------------------------------------------------------------------------------- RSS


def rss(name: str):  # type: ignore[no-untyped-def]
    body = (FIX / name).read_bytes()
    assert registry.detect(body, name) is aws_rss
    return aws_rss.parse(doc(body, f"file:///{name}"))


def test_real_rss_sample_exact_record() -> None:
    parsed = rss("rss_internetconnectivity_us_gov_west_1_2021.rss")
    assert parsed.warnings == () and parsed.as_of == utc("2021-12-20T08:05:42")
    (record,) = parsed.incidents
    assert (record.native_id, record.title, record.channel, record.status, record.impact) == (
        "internetconnectivity-us-gov-west-1_1639584617", "Internet Connectivity", "aws_rss",
        "resolved", "Service is operating normally")
    assert record.updates_complete is False
    assert [(u.at, u.label, u.native_id) for u in record.updates] == [
        (utc("2021-12-15T16:10:17"), "Service is operating normally",
         "internetconnectivity-us-gov-west-1_1639584617"),
        (utc("2021-12-15T20:16:32"), "Service is operating normally",
         "internetconnectivity-us-gov-west-1_1639599392")]
    assert record.updates[0].body == (
        "We have resolved the issue affecting Internet connectivity to the US-GOV-WEST-1 "
        "Region. Connectivity within the region was not affected by this event. The issue has "
        "been resolved and the service is operating normally.")


def test_newer_title_wordings() -> None:
    parsed = rss("rss_all_2026.rss")
    records = {r.native_id: r for r in parsed.incidents}
    assert set(records) == {"s3-us-east-1_1772456400", "multipleservices-me-south-1_1772556000"}
    s3 = records["s3-us-east-1_1772456400"]
    assert (s3.title, s3.status, s3.updates[0].label) == (
        "Recovery underway", "resolved", "Resolved: Informational message")
    bahrain = records["multipleservices-me-south-1_1772556000"]
    assert (bahrain.status, bahrain.impact, bahrain.updates[0].label) == (
        None, "Service impact", "Service impact")


def test_per_service_feed_splits_events_after_a_resolution() -> None:
    parsed = rss("rss_redshift_us_east_1_reconstructed.rss")
    assert [(r.native_id, len(r.updates), r.status) for r in parsed.incidents] == [
        ("redshift-us-east-1_1639055699", 4, "resolved"),
        ("redshift-us-east-1_1639067113", 3, "resolved")]
    first = parsed.incidents[0]
    assert [c.name for c in first.components] == ["Amazon Redshift (N. Virginia)"]
    assert [u.label for u in first.updates] == ["Informational message"] * 3 + [
        "Service is operating normally"]


def test_split_title() -> None:
    assert aws_rss.split_title("Service is operating normally: [RESOLVED] SMS Delivery Delays") \
        == ("Service is operating normally", "[RESOLVED] SMS Delivery Delays")
    assert aws_rss.split_title("Resolved: Informational message: Recovery underway") == (
        "Resolved: Informational message", "Recovery underway")
    assert aws_rss.split_title("Increased API errors: us-east-1") == (
        "", "Increased API errors: us-east-1")
    assert clean_summary("[RESOLVED] [Informational] Increased Error Rates ") == \
        "Increased Error Rates"


def test_items_without_aws_guid_are_skipped_with_a_warning() -> None:
    body = (FIX / "rss_all_2026.rss").read_bytes().replace(
        b"#s3-us-east-1_1772456400", b"#nothing-here")
    parsed = aws_rss.parse(doc(body))
    assert len(parsed.incidents) == 1
    assert parsed.warnings == (
        "file:///fixtures/aws/data.json: item #1 (guid https://status.aws.amazon.com/"
        "#nothing-here): no '#<service>_<epoch>' guid, skipped",)


def test_json_and_rss_of_one_event_merge(tmp_path: Path) -> None:
    store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    line = Line(store, Archive(tmp_path / "raw"), load_sources(PACKAGED_SOURCES))
    report = ingest(line, [FIX / "data_slice.json",
                           FIX / "rss_redshift_us_east_1_reconstructed.rss"])
    assert report.failures == []
    incident = store.get("aws/redshift-us-east-1_1639055699")
    # the RSS posts join the JSON posts (same minute, same text) instead of doubling them
    assert len(incident.updates) == 4
    assert [u.channels for u in incident.updates] == [("aws_json", "aws_rss")] * 4
    assert incident.updates[-1].phase.value == "resolved"
    assert all(u.phase_inferred for u in incident.updates)


# ------------------------------------------------------------------------- hostile input


@pytest.mark.parametrize("body, reason", [
    (b"", "empty body"),
    (b"{\"archive\": [", "malformed JSON"),
    (b"42", "expected AWS data.json"),
    (b"<html>Gateway Timeout</html>", "expected JSON, got HTML"),
])
def test_hostile_json_is_a_one_line_parse_error(body: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        aws_json.parse(doc(body))
    assert reason in str(caught.value) and "\n" not in str(caught.value)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_only_parse_error_json(body: bytes) -> None:
    with contextlib.suppress(ParseError):
        aws_json.parse(doc(body))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_only_parse_error_rss(body: bytes) -> None:
    with contextlib.suppress(ParseError):
        aws_rss.parse(doc(body))


@settings(max_examples=150, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["archive", "current", "service", "service_name",
                                       "summary", "date", "status", "description",
                                       "event_log", "timestamp", "message",
                                       "impacted_services"]),
                      children, max_size=6),
    max_leaves=40,
))
def test_arbitrary_aws_shaped_json_raises_only_parse_error(value: object) -> None:
    with contextlib.suppress(ParseError):
        aws_json.parse(doc(json.dumps(value).encode()))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_post_html_raises_only_parse_error(description: str) -> None:
    row = {"service": "ec2-us-east-1", "service_name": "EC2", "summary": "x",
           "date": "1638950400", "status": "1",
           "description": f'<div><span class="yellowfg">{description}'}
    with contextlib.suppress(ParseError):
        aws_json.parse(doc(json.dumps({"archive": [row]}).encode()))


# ------------------------------------------------------------------------------ grouping


def _row(service: str, start: str, end: str, summary: str, text: str = "") -> Row:
    posts = [UpdateRecord(at=utc(start), label="", body=text),
             UpdateRecord(at=utc(end), label="", body=text)]
    return Row(service=service, service_name=service, summary=summary,
               first_post=utc(start), posts=posts)


def test_grouping_rules() -> None:
    rows = [
        _row("ec2-us-east-1", "2021-12-07T16:00:00", "2021-12-07T20:00:00", "A"),
        _row("dynamodb-us-east-1", "2021-12-07T19:00:00", "2021-12-07T21:00:00", "B"),
        _row("ec2-eu-west-1", "2021-12-07T19:00:00", "2021-12-07T21:00:00", "C"),
        _row("management-console", "2021-12-07T16:05:00", "2021-12-07T17:00:00", "D",
             "Errors in the US-EAST-1 Region."),
        _row("iam", "2021-12-07T16:10:00", "2021-12-07T17:00:00", "E"),
        _row("s3-us-standard", "2021-12-07T20:30:00", "2021-12-07T22:00:00", "F"),
        _row("ec2-eu-west-2", "2021-12-07T23:00:00", "2021-12-07T23:30:00", "C"),
        _row("ec2-eu-west-3", "2021-12-07T19:10:00", "2021-12-07T19:20:00", "C "),
    ]
    groups = [[r.service for r in group] for group in group_rows(rows)]
    assert groups == [
        ["ec2-us-east-1", "management-console", "dynamodb-us-east-1", "s3-us-standard"],
        ["iam"],  # global, names no region, no summary twin: alone
        ["ec2-eu-west-1", "ec2-eu-west-3"],  # same summary, first posts 10 min apart
        ["ec2-eu-west-2"],  # same summary 4 hours later: its own event
    ]


# ------------------------------------------------------------------------ recorded corpus


@pytest.mark.corpus
@pytest.mark.slow
def test_corpus_rows_import_as_events(corpus: Path, tmp_path: Path) -> None:
    path = corpus / "aws_health_json" / "aws" / "data.json"
    rows = json.loads(path.read_bytes())["archive"]
    parsed = aws_json.parse(doc(path.read_bytes(), path.as_uri()))
    assert parsed.warnings == ()
    # every row lands in exactly one event, every post is kept (or merged when identical)
    codes = sorted(c.code for r in parsed.incidents for c in r.components)
    assert codes == sorted(r["service"] for r in rows) and len(rows) == 86
    assert len(parsed.incidents) == 61
    posts = sum(r["description"].count('class="yellowfg"') for r in rows)
    kept = sum(len(u.components) for r in parsed.incidents for u in r.updates)
    assert kept == posts == 352
    store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    line = Line(store, Archive(tmp_path / "raw"), load_sources(PACKAGED_SOURCES))
    report = ingest(line, [path.parent])
    assert report.failures == []
    assert report.sources["aws"].new == 61
    incidents = list(store.incidents())
    assert len(incidents) == 61 and {i.provider for i in incidents} == {"aws"}
    big = store.get("aws/management-console_1638894176")  # Dec 7 2021, us-east-1
    assert len(big.components) == 9
    assert big.lifecycle.vendor_resolved_at == utc("2021-12-08T10:29:00")
    assert all(u.phase_inferred for u in big.updates)
    assert big.updates[-1].phase.value == "resolved"
    texts = [html_to_text(r["description"]) for r in rows]
    assert all(t for t in texts)


# ----------------------------------------------------------- scraping the cloud platforms


def test_scrape_fetches_each_cloud_platforms_real_paths(httpserver, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from kb.config import SourceConfig
    from kb.pipeline import scrape
    from scrapers.fetch import Fetcher, FetchSettings

    generic = ROOT / "tests" / "fixtures" / "generic_feed"
    httpserver.expect_request("/gcp/incidents.json").respond_with_data(
        (ROOT / "tests" / "fixtures" / "gcp" / "incidents_slice.json").read_bytes(),
        content_type="application/json")
    httpserver.expect_request("/aws/public/currentevents").respond_with_data(
        (FIX / "currentevents_reconstructed.json").read_bytes(),
        content_type="application/json")  # the bytes are UTF-16 whatever the header says
    httpserver.expect_request("/azure/en-us/status/feed/").respond_with_data(
        (generic / "azure_status_20251029T1658Z_reconstructed.rss").read_bytes(),
        content_type="application/rss+xml")
    base = httpserver.url_for("/").rstrip("/")
    sources = [SourceConfig("google-cloud", "Google Cloud", f"{base}/gcp", platform="gcp"),
               SourceConfig("aws", "AWS", f"{base}/aws", platform="aws"),
               SourceConfig("azure", "Azure", f"{base}/azure", platform="azure")]
    store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    line = Line(store, Archive(tmp_path / "raw"), sources)
    fetcher = Fetcher(FetchSettings(politeness_delay=0.0, read_timeout=1.0, total_timeout=3.0,
                                    retries=0))
    report = scrape(line, fetcher, sources)
    assert report.failures == []
    counts = {slug: report.sources[slug].new for slug in ("google-cloud", "aws", "azure")}
    assert counts == {"google-cloud": 3, "aws": 1, "azure": 1}
    assert store.get("aws/ec2-us-east-1_1640176551").title == "API Error Rates"
    assert store.get("google-cloud/TaA75H7XA1DQyM2ReK2f").url == (
        f"{base}/gcp/incidents/TaA75H7XA1DQyM2ReK2f")


def test_currentevents_log_entries_go_through_parse_each() -> None:
    """An event whose event_log entries are all unreadable is skipped with parse_each's
    wording; an event with an empty log keeps its own; the readable event stays."""
    events = json.loads((FIX / "currentevents_reconstructed.json").read_bytes().decode("utf-16"))
    unreadable = dict(events[0], service="s3-us-east-1", event_log=[{"timestamp": "x"}, 3])
    empty = dict(events[0], service="sqs-us-east-1", event_log=[])
    parsed = aws_json.parse(doc(json.dumps([*events, unreadable, empty]).encode()))
    assert [r.native_id for r in parsed.incidents] == ["ec2-us-east-1_1640176551"]
    assert [w.split(": ", 1)[1] for w in parsed.warnings] == [
        "entry s3-us-east-1: all 2 event_log entries unreadable",
        "entry sqs-us-east-1: no readable event_log entry",
    ]
