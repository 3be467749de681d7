"""The site's plain counts (kb/render/figures.py): per year, and the median first post →
resolved over the incidents where that time means something."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kb.model import Incident, Kind, Lifecycle, Phase, Severity, Update
from kb.render import figures

T0 = datetime(2016, 3, 1, 10, 0, tzinfo=UTC)


def incident(n: int, resolved_after: timedelta | None, *, updates: int = 2,
             kind: Kind = Kind.INCIDENT) -> Incident:
    at = T0 + timedelta(days=n)
    resolved = None if resolved_after is None else at + resolved_after
    posts = [Update(at, Phase.INVESTIGATING, "Investigating", "x", "looking")]
    if updates == 1 and resolved is not None:  # posted once, after the fact
        posts = [Update(at, Phase.RESOLVED, "Resolved", "x", "it was down")]
    elif resolved is not None:
        posts.append(Update(resolved, Phase.RESOLVED, "Resolved", "x", "fixed"))
    return Incident(provider="acme", native_id=f"i{n}", title=f"Incident {n}", kind=kind,
                    status="resolved", severity=Severity.MINOR,
                    lifecycle=Lifecycle(first_post_at=at, resolved_at=resolved),
                    updates=tuple(posts))


def test_an_incident_posted_already_resolved_has_no_time_to_resolve() -> None:
    assert figures.time_to_resolve(incident(0, timedelta(0), updates=1)) is None
    assert figures.time_to_resolve(incident(1, timedelta(minutes=40))) == timedelta(minutes=40)
    assert figures.time_to_resolve(incident(2, None)) is None


def test_the_median_counts_only_measured_incidents() -> None:
    # GitHub's history in the corpus: most old incidents were posted once, resolved. Counted
    # as 0 min they made the provider page's median "0m".
    items = [incident(n, timedelta(0), updates=1) for n in range(5)]
    items += [incident(10, timedelta(minutes=30)), incident(11, timedelta(minutes=90)),
              incident(12, timedelta(hours=5), kind=Kind.MAINTENANCE)]
    (year,) = figures.by_year(items)
    assert (year.label, year.incidents, year.maintenances) == ("2016", 7, 1)
    assert year.resolve_times == [timedelta(minutes=30), timedelta(minutes=90)]
    assert year.median_to_resolve == timedelta(minutes=60)


def test_listings_show_no_zero_for_an_incident_posted_already_resolved() -> None:
    from kb.render.pages import resolved_after

    assert resolved_after(incident(0, timedelta(0), updates=1)) == "–"
    assert resolved_after(incident(1, timedelta(minutes=40))) == "40m"
    assert resolved_after(incident(2, timedelta(hours=2, minutes=5))) == "2h05m"
    assert resolved_after(incident(3, None)) == "–"
