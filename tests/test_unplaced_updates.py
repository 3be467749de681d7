"""Updates that cannot be placed never drive a figure (#14 "Bad input"; the acceptance audit
found it): a Statuspage update dated 2001 on an incident created 2026-09 was warned about
and kept, then became the first post — impact 2001→2026 (225,323 h), provider uptime 70 %,
coverage reaching back to 2001 — and `kb audit` passed. It is now shown, apart and marked,
and read by no figure; `kb audit` checks that no figure's time lies more than a day before
its incident's creation. A future-dated update and one before the provider existed are
dropped at the screen (scrapers/plausible.py): tested here to reach no figure either.
Payloads hand-written in the Statuspage v2 shape; through the real CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from kb.analysis.audit import check_placed
from kb.model import Incident, Kind, Lifecycle, Phase, Severity, Update
from tests.conftest import invoke_kb as kb


def _incident(ident: str, created: str, *updates: tuple[str, str]) -> dict:
    return {"id": ident, "name": f"Incident {ident}", "status": "resolved", "impact": "major",
            "created_at": created, "updated_at": max(u[0] for u in updates),
            "resolved_at": max(u[0] for u in updates),
            "incident_updates": [
                {"id": f"{ident}-{n}", "status": status, "body": f"{status} ({at}).",
                 "created_at": at, "display_at": at}
                for n, (at, status) in enumerate(updates)]}


def _payload(tmp_path: Path, *incidents: dict) -> Path:
    path = tmp_path / "incidents.json"
    path.write_text(json.dumps({
        "page": {"id": "p1", "name": "Acme", "url": "https://status.acme.test"},
        "incidents": list(incidents)}), encoding="utf-8")
    return path


def _json(home: Path, *args: str) -> dict:
    result = kb(home, *args, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_an_update_older_than_its_incident_is_shown_apart_and_in_no_figure(
        tmp_path: Path) -> None:
    payload = _payload(
        tmp_path,
        _incident("late", "2026-09-14T20:00:00Z",
                  ("2001-03-01T10:00:00Z", "investigating"),  # cannot be placed
                  ("2026-09-14T20:00:00Z", "investigating"),
                  ("2026-09-14T21:30:00Z", "resolved")),
        _incident("fine", "2026-09-20T08:00:00Z",
                  ("2026-09-20T08:00:00Z", "investigating"),
                  ("2026-09-20T09:00:00Z", "resolved")))
    home = tmp_path / "home"
    ingest = _json(home, "ingest", str(payload), "--provider", "acme")
    warnings = [w for s in ingest["sources"].values() for w in s["warnings"]]
    assert any("record late: 1 update(s) dated before the incident was created" in w
               for w in warnings), warnings
    shown = _json(home, "show", "acme/late")
    assert shown["lifecycle"]["first_post_at"] == "2026-09-14T20:00:00Z"
    assert shown["lifecycle"]["resolved_at"] == "2026-09-14T21:30:00Z"
    assert [u["at"] for u in shown["updates"]] == ["2026-09-14T20:00:00Z",
                                                   "2026-09-14T21:30:00Z"]
    assert [u["at"] for u in shown["unplaced"]] == ["2001-03-01T10:00:00Z"]  # kept, apart
    text = kb(home, "show", "acme/late").stdout
    assert "Not placed" in text and "2001-03-01 10:00:00" in text
    figures = _json(home, "metrics", "--incident", "acme/late")
    dumped = json.dumps(figures)
    assert "2001-" not in dumped and "2000-" not in dumped, dumped
    assert (figures["start"], figures["impact_minutes"], figures["updates"]) == (
        "2026-09-14T20:00:00Z", 90.0, 2)
    report = _json(home, "metrics", "--provider", "acme", "--period", "all")
    assert "2001" not in json.dumps(report)  # coverage starts at the first placed post
    audit = kb(home, "audit", "--json", "--drafts", "0")
    result = json.loads(audit.stdout)
    assert audit.returncode == 0 and result["ok"], result["failures"]
    assert result["checked"]["before-creation"] == 2
    assert any("1 update(s) of 1 incident(s)" in n for n in result["notes"])
    # rerunning changes nothing
    again = _json(home, "ingest", str(payload), "--provider", "acme")
    assert all(s["new"] == 0 and s["updated"] == 0 for s in again["sources"].values())


def test_future_updates_are_dropped_and_in_no_figure(tmp_path: Path) -> None:
    payload = _payload(
        tmp_path,
        _incident("ahead", "2026-09-14T20:00:00Z",
                  ("2026-09-14T20:00:00Z", "investigating"),
                  ("2099-01-01T00:00:00Z", "resolved")))  # a typo for a year: implausible
    home = tmp_path / "home"
    ingest = _json(home, "ingest", str(payload), "--provider", "acme")
    warnings = [w for s in ingest["sources"].values() for w in s["warnings"]]
    assert any("record ahead: ignored implausible time(s)" in w and "2099" in w
               for w in warnings), warnings
    shown = _json(home, "show", "acme/ahead")
    assert "2099" not in json.dumps(shown)
    assert shown["lifecycle"]["resolved_at"] is None  # not a guessed time either
    assert "2099" not in json.dumps(_json(home, "metrics", "--provider", "acme",
                                          "--period", "all"))
    audit = kb(home, "audit", "--json", "--drafts", "0")
    assert audit.returncode == 0, audit.stdout


def _made(first_post: datetime, created: datetime, *ats: datetime) -> Incident:
    return Incident(provider="acme", native_id="x", title="t", kind=Kind.INCIDENT,
                    status="resolved", severity=Severity.MAJOR,
                    lifecycle=Lifecycle(first_post_at=first_post, vendor_created_at=created),
                    updates=tuple(Update(at=a, phase=Phase.INVESTIGATING, label="investigating",
                                         body="b", text="b") for a in ats))


def test_the_audit_fails_a_figure_time_before_the_incident_was_created() -> None:
    created = datetime(2026, 9, 14, 20, tzinfo=UTC)
    early = datetime(2001, 3, 1, 10, tzinfo=UTC)
    count, failures = check_placed([_made(early, created, early, created)])
    assert count == 1 and [f.check for f in failures] == ["before-creation"]
    assert "first_post_at 2001-03-01 10:00" in failures[0].message
    # within a day (zone mistakes, Statuspage's display_at) is not a failure
    near = datetime(2026, 9, 14, 2, tzinfo=UTC)
    assert check_placed([_made(near, created, near)]) == (1, [])
    assert check_placed([_made(early, None, early)]) == (0, [])  # type: ignore[arg-type]


def test_the_incident_page_shows_unplaced_updates_apart() -> None:
    from kb.render.pages import make_env, render

    created = datetime(2026, 9, 14, 20, tzinfo=UTC)
    placed = _made(created, created, created)
    early = Update(at=datetime(2001, 3, 1, 10, tzinfo=UTC), phase=Phase.INVESTIGATING,
                   label="investigating", body="<script>x()</script>Backfilled", text="x")
    incident = Incident(**{**{f: getattr(placed, f) for f in placed.__dataclass_fields__},
                           "unplaced": (early,)})
    root = Path(__file__).resolve().parents[1]
    env = make_env(root / "site" / "templates", {"acme": "Acme"}, lambda _key: None)
    page = render(env, "incident.md.j2", "incidents/acme/x.md", incident=incident, marks=[],
                  picture="", sections=[], revisions=[])
    timeline, _, apart = page.partition("Not placed:")
    assert apart and "2001-03-01" in apart and "2001-03-01" not in timeline
    assert "<script>" not in page  # the body is escaped as every update's is
    plain = render(env, "incident.md.j2", "incidents/acme/x.md", incident=placed, marks=[],
                   picture="", sections=[], revisions=[])
    assert "Not placed" not in plain
