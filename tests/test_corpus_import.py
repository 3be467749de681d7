"""Acceptance on the whole recorded corpus (../shared/corpus; skipped when absent).

Imports every GitHub per-incident JSON file, the Anthropic and OpenAI incidents.json files and
every Statuspage / incident.io feed, then checks each incident's timeline against its source
JSON field for field, that JSON + feed merges duplicate no update, and that a second import
changes nothing.
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from kb.config import PACKAGED_SOURCES, load_sources
from kb.normalize.merge import plain_text
from kb.pipeline import Line, ingest
from kb.present import write_export
from kb.store import Store
from scrapers.archive import Archive

pytestmark = [pytest.mark.corpus, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("statuspage_incident_json", "statuspage_json", "statuspage_atom", "statuspage_rss",
           "incidentio_atom")
# Distinct incidents + maintenances per provider after merging by code (STATS.md section 7).
EXPECTED = {"github": 1513, "anthropic": 61, "openai": 90, "digitalocean": 63,
            "symantec-wss": 38, "atlassian-statuspage": 26, "saucelabs-us-west": 25,
            "streamyard": 17, "parse": 17}


def t(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    corpus = ROOT.parent / "shared" / "corpus"
    if not corpus.is_dir():
        pytest.skip("../shared/corpus is absent")
    home = tmp_path_factory.mktemp("corpus")
    line = make_line(home)
    report = ingest(line, [corpus / f for f in FOLDERS])
    assert report.failures == []
    assert all(Path(i.split(": ")[0]).name in ("LICENSE.upstream.txt", "incident_codes.json")
               for i in report.ignored)
    buffer = io.StringIO()
    write_export(line.store.incidents(), "jsonl", buffer)
    return home, buffer.getvalue()


def make_line(home: Path) -> Line:
    store, _ = Store.open(f"sqlite:///{home / 'kb.db'}", write=True)
    return Line(store, Archive(home / "raw"), load_sources(PACKAGED_SOURCES))


def json_incidents(corpus: Path) -> list[tuple[str, dict]]:
    found = []
    for path in sorted((corpus / "statuspage_incident_json" / "github" / "incidents").iterdir()):
        found.append(("github", json.loads(path.read_bytes())["incident"]))
    for provider in ("anthropic", "openai"):
        data = json.loads((corpus / "statuspage_json" / provider /
                           "incidents_backfill_20260915.json").read_bytes())
        found += [(provider, incident) for incident in data["incidents"]]
    data = json.loads((corpus / "statuspage_json" / "anthropic" /
                       "scheduled_maintenances_fixture.json").read_bytes())
    found += [("anthropic", m) for m in data["scheduled_maintenances"]]
    return found


def test_counts_per_provider(imported: tuple[Path, str]) -> None:
    home, _ = imported
    store = make_line(home).store
    counts: dict[str, int] = {}
    for incident in store.incidents():
        counts[incident.provider] = counts.get(incident.provider, 0) + 1
    assert counts == EXPECTED


def test_every_json_timeline_matches_its_source_field_for_field(
    imported: tuple[Path, str], corpus: Path
) -> None:
    home, _ = imported
    store = make_line(home).store
    checked = 0
    for provider, source in json_incidents(corpus):
        incident = store.get(f"{provider}/{source['id']}")
        assert incident.title == source["name"].strip()
        assert incident.impact == source.get("impact")
        life = incident.lifecycle
        assert life.vendor_created_at == t(source.get("created_at"))
        assert life.vendor_started_at == t(source.get("started_at"))
        assert life.vendor_resolved_at == t(source.get("resolved_at"))
        if "scheduled_for" in source:
            assert incident.scheduled_for == t(source["scheduled_for"])
        expected = sorted(
            ((t(u["display_at"] or u["created_at"]), u["status"], u["body"], u["id"])
             for u in source["incident_updates"]),
            key=lambda u: u[0],
        )
        from_json = [(u.at, u.label, u.body, u.native_id) for u in incident.updates
                     if "statuspage_json" in u.channels]
        assert sorted(from_json, key=lambda u: u[0]) == expected
        # anything else came from a feed snapshot newer than the JSON's last update
        last = expected[-1][0] if expected else None
        for u in incident.updates:
            if "statuspage_json" not in u.channels:
                assert last is None or u.at > last, (incident.key, u.at)
        assert life.first_post_at == (incident.updates[0].at if incident.updates
                                      else life.vendor_created_at)
        checked += 1
    assert checked == 1282 + 50 + 25 + 2


def test_merged_timelines_have_no_duplicated_update(imported: tuple[Path, str]) -> None:
    """An update may appear in the timeline at most as often as in any one source payload
    (vendors do post the same text twice in one minute: github/1lnqb2vk25vn's feed has it)."""
    home, _ = imported
    store = make_line(home).store
    merged = 0
    incidents = list(store.incidents())
    records = store.current_records([i.key for i in incidents])

    def key(at: datetime, text: str) -> tuple[datetime, str]:
        return at.replace(second=0, microsecond=0), re.sub(r"\W+", "", text.casefold())

    for incident in incidents:
        if len({c for u in incident.updates for c in u.channels}) > 1:
            merged += 1
        allowed: Counter[tuple[datetime, str]] = Counter()
        for item in records[incident.key]:
            per_record = Counter(key(u.at, plain_text(u)) for u in item.record.updates)
            allowed |= per_record  # element-wise max
        seen = Counter(key(u.at, u.text) for u in incident.updates)
        assert not seen - allowed, (incident.key, sorted(seen - allowed)[:2])
        assert [u.at for u in incident.updates] == sorted(u.at for u in incident.updates)
    assert merged >= 100  # GitHub JSON ∩ Atom, Anthropic 16, OpenAI 22


def test_second_import_is_a_no_op(imported: tuple[Path, str], corpus: Path) -> None:
    home, first_export = imported
    line = make_line(home)
    report = ingest(line, [corpus / f for f in FOLDERS])
    assert report.total("new") == 0 and report.total("updated") == 0
    assert report.total("docs") == report.total("skipped_docs")
    # Every stored incident is unchanged, once: GitHub's 1,282 JSON files and its Atom feeds
    # mention many incidents twice, and counting per payload said more than 1,513.
    assert {name: s.unchanged for name, s in report.sources.items()} == EXPECTED
    buffer = io.StringIO()
    write_export(line.store.incidents(), "jsonl", buffer)
    assert buffer.getvalue() == first_export
