"""Dates before the provider existed (issue 14, "Bad input"): kb/data/provider_epochs.toml,
kb.epochs and scrapers.plausible.screen_before, through the units and the real CLI."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kb.config import PACKAGED_SOURCES, load_sources
from kb.epochs import EPOCHS, epoch_of, epochs
from scrapers import plausible
from scrapers.records import IncidentRecord, ParsedDoc, UpdateRecord

NOW = datetime(2026, 12, 7, tzinfo=UTC)
FLOOR = datetime(2008, 2, 1, tzinfo=UTC)


def _record(native_id: str, created: datetime, *ats: datetime) -> IncidentRecord:
    return IncidentRecord(native_id=native_id, title="t", channel="x", created_at=created,
                          updates=tuple(UpdateRecord(at=a, label="investigating", body="b")
                                        for a in ats))


def test_the_table_names_packaged_providers_with_dates_in_range() -> None:
    table = epochs()
    packaged = {s.slug for s in load_sources(PACKAGED_SOURCES)}
    assert len(table) >= 20
    assert set(table) <= packaged, set(table) - packaged
    for slug, epoch in table.items():
        assert plausible.EARLIEST < epoch.since < NOW, slug
        assert epoch.note, slug
    assert epoch_of("github") is not None and epoch_of("github").since == FLOOR
    assert epoch_of("no-such-provider") is None
    assert "APPROXIMATE" in EPOCHS.read_text(encoding="utf-8")  # documented as such


def test_an_update_before_the_provider_began_is_dropped_and_an_incident_refused() -> None:
    good = datetime(2020, 5, 1, tzinfo=UTC)
    early = datetime(2005, 5, 1, tzinfo=UTC)
    parsed = ParsedDoc(format="x", incidents=(
        _record("ok", good, good),
        _record("mixed", good, early, good),
        _record("ancient", early, early),
    ))
    screened = plausible.screen_before(parsed, "src", FLOOR, "github began (about 2008-02)",
                                       now=NOW)
    assert [r.native_id for r in screened.incidents] == ["ok", "mixed"]
    mixed = screened.incidents[1]
    assert [u.at for u in mixed.updates] == [good] and not mixed.updates_complete
    assert screened.warnings == (
        "src: record mixed: ignored time(s) before github began (about 2008-02): "
        "update at 2005-05-01T00:00:00Z",
        "src: record ancient: refused: every time is before github began (about 2008-02) "
        "(created_at 2005-05-01T00:00:00Z; update at 2005-05-01T00:00:00Z)",
    )


def test_a_payload_after_the_floor_is_returned_untouched() -> None:
    good = datetime(2020, 5, 1, tzinfo=UTC)
    # an update older than its incident is the first screen's business, not warned twice
    parsed = ParsedDoc(format="x", incidents=(_record("a", good, good - timedelta(days=3)),))
    assert plausible.screen_before(parsed, "src", FLOOR, "why", now=NOW) is parsed


def _incident(ident: str, created: str, *updates: tuple[str, str]) -> dict:
    return {"id": ident, "name": f"Incident {ident}", "status": "resolved", "impact": "minor",
            "created_at": created, "updated_at": updates[-1][0],
            "resolved_at": updates[-1][0],
            "incident_updates": [
                {"id": f"{ident}-{n}", "status": status, "body": f"{status}.",
                 "created_at": at, "display_at": at}
                for n, (at, status) in enumerate(reversed(updates))]}


def _kb(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, KB_HOME=str(home), KB_SOURCES=str(PACKAGED_SOURCES), COLUMNS="1000")
    env.pop("KB_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "kb", *args], env=env, capture_output=True,
                          text=True, timeout=300)


def test_ingest_warns_per_record_and_stores_nothing_from_before_the_provider(
        tmp_path: Path) -> None:
    payload = tmp_path / "incidents.json"
    payload.write_text(json.dumps({
        "page": {"id": "p1", "name": "GitHub", "url": "https://www.githubstatus.com"},
        "incidents": [
            _incident("good1", "2020-05-01T10:00:00Z",
                      ("2020-05-01T10:00:00Z", "investigating"),
                      ("2020-05-01T11:00:00Z", "resolved")),
            # posted in 2005, before GitHub existed: not placeable, refused
            _incident("ancient", "2005-05-01T10:00:00Z",
                      ("2005-05-01T10:00:00Z", "investigating"),
                      ("2005-05-01T11:00:00Z", "resolved")),
            # one update typed as 2006: that update is dropped, the incident kept
            _incident("typo", "2020-06-01T10:00:00Z",
                      ("2006-06-01T10:00:00Z", "investigating"),
                      ("2020-06-01T11:00:00Z", "resolved")),
            # an update a week older than its incident: kept, warned
            _incident("backfilled", "2020-07-08T10:00:00Z",
                      ("2020-07-01T10:00:00Z", "investigating"),
                      ("2020-07-08T11:00:00Z", "resolved")),
        ]}), encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    proc = _kb(home, "ingest", str(payload), "--provider", "github", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    warnings = [w for s in json.loads(proc.stdout)["sources"].values() for w in s["warnings"]]
    text = "\n".join(warnings)
    assert "record ancient: refused: every time is before github began (about 2008-02" in text
    assert ("record typo: ignored time(s) before github began (about 2008-02: GitHub public "
            "beta February 2008 (launch April 2008)): update at 2006-06-01T10:00:00Z") in text
    assert "record backfilled: 1 update(s) dated before the incident was created" in text
    assert sum("record backfilled" in w for w in warnings) == 1  # once, not once per screen
    with sqlite3.connect(home / "kb.db") as db:
        stored = {row[0] for row in db.execute("SELECT native_id FROM incidents")}
        early = db.execute("SELECT count(*) FROM incident_updates WHERE at < '2008'").fetchone()
    assert stored == {"good1", "typo", "backfilled"}
    assert early == (0,)
    # what cannot be placed is in no figure: the listing and the metrics never see 2005
    listing = _kb(home, "incidents", "--provider", "github", "--json")
    assert listing.returncode == 0, listing.stderr[-2000:]
    assert "2005-" not in listing.stdout and "2006-" not in listing.stdout
    # rerunning changes nothing and warns again only for what it reads again
    again = _kb(home, "ingest", str(payload), "--provider", "github", "--json")
    assert again.returncode == 0, again.stderr[-2000:]
    with sqlite3.connect(home / "kb.db") as db:
        assert {row[0] for row in db.execute("SELECT native_id FROM incidents")} == stored


def test_no_corpus_record_predates_its_provider(corpus: Path) -> None:
    """The floors are early enough for the real history the KB holds (GitHub from 2010)."""
    floor = epoch_of("github")
    assert floor is not None
    folder = corpus / "statuspage_incident_json" / "github" / "incidents"
    created = [json.loads(p.read_text(encoding="utf-8"))["incident"]["created_at"]
               for p in sorted(folder.glob("*.json"))]
    assert created
    first = min(datetime.fromisoformat(c.replace("Z", "+00:00")) for c in created)
    assert first >= floor.since, first
