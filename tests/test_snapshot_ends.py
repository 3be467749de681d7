"""Snapshot archives (issue #14): a Statuspage summary.json lists only unresolved incidents,
so an incident that drops out of an archive of snapshots ended between the last snapshot
that holds it and the first later one that does not. Recorded Cloudflare snapshots
(tests/fixtures/statuspage_summary/ORIGIN.md) through the real CLI, and the whole corpus."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kb.analysis.metrics import incident_figures
from kb.model import Incident, Kind, Lifecycle, Severity, SourceRef
from kb.normalize.snapshots import bound_end, describe_end, predecessors
from kb.render.figures import is_open
from kb.serialize import incident_from_dict, incident_to_dict
from tests.conftest import invoke_kb as kb

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "statuspage_summary" / "cloudflare"
EARLY, LATE = "20210408T181853Z_summary.json", "20210408T190122Z_summary.json"
ENDED, STILL = "cloudflare/14rjb6jf7mwh", "cloudflare/x4v5d51wpcnr"




def exported(home: Path) -> dict[str, dict]:
    result = kb(home, "export", "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    return {json.loads(line)["key"]: json.loads(line) for line in result.stdout.splitlines()}


def assert_bounds(rows: dict[str, dict]) -> None:
    ended = rows[ENDED]["lifecycle"]
    assert ended["resolved_at"] is None
    assert ended["end_not_before"] == "2021-04-08T17:56:46.383Z"  # page.updated_at of EARLY
    assert ended["end_not_after"] == "2021-04-08T18:55:18.664Z"  # page.updated_at of LATE
    still = rows[STILL]["lifecycle"]
    assert still["end_not_before"] == "2021-04-08T18:55:18.664Z"
    assert still["end_not_after"] is None  # the newest snapshot still lists it


def test_an_incident_that_drops_out_ended_between_two_snapshots(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert kb(home, "ingest", str(FIX)).returncode == 0
    rows = exported(home)
    assert_bounds(rows)
    shown = kb(home, "show", ENDED)
    assert ("end: ended between 2021-04-08 17:56 UTC and 2021-04-08 18:55 UTC (gone from the "
            "next snapshot of the open-incident list)") in shown.stdout
    assert "end: still listed as open in the newest snapshot (2021-04-08 18:55 UTC); end not " \
        "known" in kb(home, "show", STILL).stdout
    # rerunning changes nothing
    assert kb(home, "ingest", str(FIX)).returncode == 0
    assert exported(home) == rows


@pytest.mark.parametrize("names", [[EARLY, LATE], [LATE, EARLY]], ids=["forward", "backward"])
def test_a_later_run_bounds_what_an_earlier_one_stored(tmp_path: Path,
                                                       names: list[str]) -> None:
    """Forward: the snapshot that bounds an incident arrives in a run after the one that
    stored it (the incident is not in that payload at all). Backward: an older snapshot
    arrives after a newer one."""
    home = tmp_path / "home"
    for name in names:
        folder = tmp_path / name.partition("_")[0]
        folder.mkdir()
        shutil.copy(FIX / name, folder / name)
        result = kb(home, "ingest", str(folder))
        assert result.returncode == 0, result.stderr
    assert_bounds(exported(home))


def test_the_incident_page_shows_the_bound(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert kb(home, "ingest", str(FIX)).returncode == 0
    out = tmp_path / "site"
    result = kb(home, "site", "build", "--out", str(out))
    assert result.returncode == 0, result.stderr
    html = next(out.rglob("incidents/cloudflare/14rjb6jf7mwh/index.html")).read_text()
    assert ('<th>Resolved</th><td>ended between <time class="kb-time" '
            'datetime="2021-04-08T17:56:46.383Z">2021-04-08 17:56 UTC</time> and <time '
            'class="kb-time" datetime="2021-04-08T18:55:18.664Z">2021-04-08 18:55 UTC</time> '
            '(gone from the next snapshot of the open-incident list)</td>') in html
    assert "<th>Status</th><td>identified</td>" in html  # no "not resolved" chip: it ended
    still = next(out.rglob("incidents/cloudflare/x4v5d51wpcnr/index.html")).read_text()
    assert "still listed as open in the newest snapshot" in still and "kb-open" in still


# -- the domain model ------------------------------------------------------------------------

T0 = datetime(2021, 4, 8, 17, 0, tzinfo=UTC)


def snap(minutes: int, sha: str) -> tuple[datetime, str]:
    return T0 + timedelta(minutes=minutes), sha


def incident(*shas: str, resolved: datetime | None = None) -> Incident:
    return Incident(
        provider="p", native_id="x", title="t", kind=Kind.INCIDENT, status="identified",
        severity=Severity.MINOR,
        lifecycle=Lifecycle(first_post_at=T0, resolved_at=resolved),
        sources=tuple(SourceRef("u", T0, sha, "statuspage") for sha in shas))


def test_bound_end_rules() -> None:
    series = [snap(30, "b"), snap(0, "a"), snap(60, "c"), snap(90, "d")]
    life = bound_end(incident("a", "b"), series).lifecycle
    assert (life.end_not_before, life.end_not_after) == (T0 + timedelta(minutes=30),
                                                         T0 + timedelta(minutes=60))
    assert bound_end(incident("d"), series).lifecycle.end_not_after is None
    assert bound_end(incident("zz"), series).lifecycle == incident("zz").lifecycle
    # a resolved time of its own wins, and drops a bound it had
    bounded = bound_end(incident("a"), series)
    resolved = replace(bounded, lifecycle=replace(bounded.lifecycle, resolved_at=T0))
    assert bound_end(resolved, series).lifecycle.end_not_before is None
    assert predecessors(series, ["c"]) == {"b"}
    assert predecessors(series, ["a"]) == set()


def test_a_bounded_end_is_neither_open_nor_now() -> None:
    bounded = bound_end(incident("a"), [snap(0, "a"), snap(60, "b")])
    assert not is_open(bounded)
    figures = incident_figures(bounded)
    assert figures.open is False and figures.impact_minutes is None  # unknown, not a guess
    assert figures.last_seen == T0  # the interval runs to the lower bound, not to "now"
    assert describe_end(bounded, lambda t: t.strftime("%H:%M")) == (
        "ended between 17:00 and 18:00 (gone from the next snapshot of the open-incident list)")
    assert incident_from_dict(incident_to_dict(bounded)) == bounded
    # incidents without a bound serialise exactly as before (their content hash is unchanged)
    assert "end_not_before" not in incident_to_dict(incident("a"))["lifecycle"]


# -- the whole recorded archive --------------------------------------------------------------


def expected_bounds(folder: Path) -> dict[str, tuple[str, str | None]]:
    """Read straight from the files, independently of kb: id → (page.updated_at of the last
    snapshot listing it, page.updated_at of the next snapshot, or None)."""
    snaps = []
    for path in sorted(folder.glob("*_summary.json")):
        data = json.loads(path.read_bytes())
        ids = {i["id"] for i in data["incidents"]} | {
            m["id"] for m in data["scheduled_maintenances"]}
        snaps.append((datetime.fromisoformat(data["page"]["updated_at"]), ids))
    snaps.sort(key=lambda s: s[0])
    found: dict[str, tuple[str, str | None]] = {}
    for i, (at, ids) in enumerate(snaps):
        for ident in ids:
            nxt = next((a for a, held in snaps[i + 1:] if ident not in held), None)
            found[ident] = (at.astimezone(UTC).isoformat(),
                            nxt.astimezone(UTC).isoformat() if nxt else None)
    return found


def _utc(value: str | None) -> str | None:
    return datetime.fromisoformat(value).astimezone(UTC).isoformat() if value else None


@pytest.mark.slow
def test_corpus_snapshot_archives(corpus: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    folder = corpus / "statuspage_summary"
    result = kb(home, "ingest", str(folder))
    assert result.returncode == 0, result.stderr
    exported = kb(home, "export", "--format", "jsonl").stdout.splitlines()
    stored = {json.loads(line)["native_id"]: json.loads(line) for line in exported}
    checked = 0
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        for ident, (not_before, not_after) in expected_bounds(sub).items():
            life = stored[ident]["lifecycle"]
            assert life["resolved_at"] is None, ident  # a summary never shows an end
            assert (_utc(life["end_not_before"]), _utc(life["end_not_after"])) == (
                not_before, not_after), ident
            checked += 1
    assert checked == len(stored) == 44  # 36 Cloudflare + 2 maintenances, 6 Oracle Cloud
    bounded = sum(1 for r in stored.values() if r["lifecycle"]["end_not_after"])
    assert bounded == 41  # the 3 still listed by their folder's newest snapshot stay open
