"""Read-only queries for the site's listings: what a changed-keys site build needs from
every incident without decoding every incident's document.

A full render reads every incident once anyway. A changed-keys render (`kb watch`,
`kb update`) renders a handful of pages, but its home page, index pages and year page still
list or count incidents of the whole KB: at 100k incidents decoding every stored document
alone took about 10 s of CPU. `listed` reads the incidents table's own columns instead
(`Listed`: what a listing row, a count by year and the "ongoing" filter read) and decodes
the document only of the few incidents whose columns cannot say it (see `_needs_document`).
`incidents_by_keys` reads the full incidents of a few keys; `component_counts` counts
component names per provider in SQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import distinct, exists, func, select

from kb.model import SEVERITY_UNKNOWN, Incident, Kind, Lifecycle, Severity
from kb.serialize import incident_from_dict
from kb.store.tables import ComponentRow, IncidentRow, UpdateRow, chunks

if TYPE_CHECKING:
    from kb.store import Store

T_INCIDENTS = IncidentRow.__table__  # type: ignore[attr-defined]
T_UPDATES = UpdateRow.__table__  # type: ignore[attr-defined]
T_COMPONENTS = ComponentRow.__table__  # type: ignore[attr-defined]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DONE = ("resolved", "postmortem", "completed")


@dataclass(frozen=True, slots=True)
class Listed:
    """One incident as the site's listings show it: the attributes of `Incident` that a
    listing row, a yearly count and the "ongoing" filter read, with the same names and
    values (`Listed.of(incident)` is equal to what `listed` reads for it; the tests check).

    `lifecycle` carries only first post, resolution and the snapshot end bound.
    `last_activity` is kb.render.feeds.last_activity; `reach` the latest time the incident
    is known to touch (last activity or its stated impact window), for the day bars."""

    key: str
    provider: str
    native_id: str
    title: str
    kind: Kind
    status: str
    stated_severity: str
    first_posted: datetime | None
    lifecycle: Lifecycle
    last_activity: datetime
    reach: datetime

    @property
    def time_to_resolve(self):  # type: ignore[no-untyped-def]
        """As Incident.time_to_resolve."""
        start, end = self.lifecycle.first_post_at, self.lifecycle.resolved_at
        if start is None or end is None or end <= start:
            return None
        return end - start

    @classmethod
    def of(cls, incident: Incident) -> Listed:
        """The listing row of a full incident."""
        life = incident.lifecycle
        points = [u.at for u in incident.updates]
        points += [p for p in (life.first_post_at, life.resolved_at) if p]
        last = max(points) if points else _EPOCH
        window = incident.impact_window
        reach = max([last, *((window.start, window.end) if window else ())], key=_stamp)
        return cls(
            incident.key, incident.provider, incident.native_id, incident.title,
            incident.kind, incident.status, incident.stated_severity, incident.first_posted,
            Lifecycle(first_post_at=life.first_post_at, resolved_at=life.resolved_at,
                      # read by figures.is_open only where these two leave it undecided
                      end_not_after=life.end_not_after if life.resolved_at is None
                      and incident.status.lower() not in _DONE else None),
            last, reach,
        )


def _stamp(value: datetime | None) -> datetime:
    return value or _EPOCH


def _needs_document(kind: str, severity: str, impact: str | None, first_post: datetime | None,
                    resolved: datetime | None, status: str, has_components: bool) -> bool:
    """Whether the columns cannot tell a Listed field: the first post of an incident without
    one is its first update's time; an incident stating no severity is "unknown" unless a
    component's change states a status; an unresolved one may carry a snapshot end bound
    (Lifecycle.end_not_after), which only the document holds."""
    if first_post is None:
        return True
    if kind == Kind.INCIDENT.value and severity == Severity.NONE.value and impact is None \
            and has_components:
        return True
    return resolved is None and status.lower() not in _DONE


def listed(store: Store) -> list[Listed]:
    """Every stored incident as a `Listed`, in key order: one query over the incidents table
    (with each incident's newest update time), documents decoded only where needed."""
    c = T_INCIDENTS.c
    newest = (select(func.max(T_UPDATES.c.at)).where(T_UPDATES.c.incident_key == c.key)
              .scalar_subquery())
    named = exists().where(T_COMPONENTS.c.incident_key == c.key)
    query = select(c.key, c.provider, c.native_id, c.title, c.kind, c.status, c.impact,
                   c.severity, c.first_post_at, c.resolved_at, c.impact_start, c.impact_end,
                   newest.label("newest"), named.label("named")).order_by(c.key)
    found: list[Listed] = []
    decode: list[int] = []
    with store.engine.connect() as conn:
        for row in conn.execute(query):
            if _needs_document(row.kind, row.severity, row.impact, row.first_post_at,
                               row.resolved_at, row.status, bool(row.named)):
                decode.append(len(found))
            severity = row.severity
            if row.kind == Kind.INCIDENT.value and severity == Severity.NONE.value \
                    and row.impact is None:
                severity = SEVERITY_UNKNOWN  # no component: nothing stated it
            points = [p for p in (row.newest, row.first_post_at, row.resolved_at) if p]
            last = max(points) if points else _EPOCH
            reach = max([last, *(p for p in (row.impact_start, row.impact_end) if p)])
            found.append(Listed(
                row.key, row.provider, row.native_id, row.title, Kind(row.kind), row.status,
                severity, row.first_post_at,
                Lifecycle(first_post_at=row.first_post_at, resolved_at=row.resolved_at),
                last, reach,
            ))
    if decode:
        full = {i.key: i for i in incidents_by_keys(store, [found[n].key for n in decode])}
        for n in decode:
            found[n] = Listed.of(full[found[n].key])
    return found


def incidents_by_keys(store: Store, keys: Iterable[str]) -> Iterator[Incident]:
    """The stored incidents of `keys` (a key not stored is skipped), in no set order."""
    c = T_INCIDENTS.c
    wanted: Sequence[str] = sorted(set(keys))
    with store.engine.connect() as conn:
        for part in chunks(wanted):
            for (doc,) in conn.execute(select(c.doc_json).where(c.key.in_(part))):
                yield incident_from_dict(json.loads(doc))


def component_counts(store: Store) -> dict[str, list[tuple[str, int]]]:
    """Per provider, each component name with the number of incidents naming it, most
    first then by name (kb.render.figures.components of the provider's incidents)."""
    i, comp = T_INCIDENTS.c, T_COMPONENTS.c
    query = (select(i.provider, comp.name, func.count(distinct(comp.incident_key)))
             .select_from(T_COMPONENTS.join(T_INCIDENTS, comp.incident_key == i.key))
             .group_by(i.provider, comp.name))
    counts: dict[str, list[tuple[str, int]]] = {}
    with store.engine.connect() as conn:
        for provider, name, count in conn.execute(query):
            counts.setdefault(provider, []).append((name, count))
    return {p: sorted(items, key=lambda item: (-item[1], item[0]))
            for p, items in counts.items()}
