"""Read-only queries for the site's listings: what a changed-keys site build needs from
every incident without decoding every incident's document.

A full render reads every incident once anyway. A changed-keys render (`kb watch`,
`kb update`) renders a handful of pages, but its home page, index pages and year page still
list or count incidents of the whole KB: at 100k incidents decoding every stored document
alone took about 10 s of CPU. `listed` reads the incidents table's own columns instead
(`Listed`: what a listing row, a count by year and the "ongoing" filter read) and decodes
the document only of the few incidents whose columns cannot say it (see `_needs_document`).
`active_since` finds the incidents active since a time (for the feeds and the day bars),
`incidents_by_keys` reads the full incidents of a few keys; `component_counts` counts
component names per provider in SQL.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, case, distinct, exists, func, or_, select

from kb.model import FINAL_STATUSES, SEVERITY_UNKNOWN, Incident, Kind, Lifecycle, Severity
from kb.serialize import incident_from_dict
from kb.store.repo import T_COMPONENTS, T_INCIDENTS, T_UPDATES
from kb.store.tables import chunks

if TYPE_CHECKING:
    from kb.store import Store



@dataclass(frozen=True, slots=True)
class Listed:
    """One incident as the site's listings show it: the attributes of `Incident` that a
    listing row, a yearly count and the "ongoing" filter read, with the same names and
    values (`Listed.of(incident)` is equal to what `listed` reads for it; the tests check).

    `lifecycle` carries only first post, resolution and the snapshot end bound."""

    key: str
    provider: str
    native_id: str
    title: str
    kind: Kind
    status: str
    stated_severity: str
    first_posted: datetime | None
    lifecycle: Lifecycle
    time_to_resolve: timedelta | None  # Incident.time_to_resolve

    @classmethod
    def of(cls, incident: Incident) -> Listed:
        """The listing row of a full incident."""
        life = incident.lifecycle
        return cls(
            incident.key, incident.provider, incident.native_id, incident.title,
            incident.kind, incident.status, incident.stated_severity, incident.first_posted,
            Lifecycle(first_post_at=life.first_post_at, resolved_at=life.resolved_at,
                      # read by figures.is_open only where these two leave it undecided
                      end_not_after=life.end_not_after if life.resolved_at is None
                      and incident.status.lower() not in FINAL_STATUSES else None),
            incident.time_to_resolve,
        )


def _resolve_time(start: datetime | None, end: datetime | None) -> timedelta | None:
    """Incident.time_to_resolve from its two times: None unless the end comes after."""
    return end - start if start is not None and end is not None and end > start else None


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
    return resolved is None and status.lower() not in FINAL_STATUSES


def listed(store: Store) -> list[Listed]:
    """Every stored incident as a `Listed`, in key order: one query over the incidents
    table's columns, documents decoded only where needed."""
    c = T_INCIDENTS.c
    # Asked only where the columns leave the severity open (a correlated EXISTS per row
    # cost as much as the rest of the query).
    named = case((and_(c.severity == Severity.NONE.value, c.kind == Kind.INCIDENT.value,
                       c.impact.is_(None)),
                  exists().where(T_COMPONENTS.c.incident_key == c.key)), else_=False)
    query = select(c.key, c.provider, c.native_id, c.title, c.kind, c.status, c.impact,
                   c.severity, c.first_post_at, c.resolved_at, named.label("named")
                   ).order_by(c.key)
    found: list[Listed] = []
    decode: list[int] = []
    unknown = (Kind.INCIDENT.value, Severity.NONE.value, None)
    kinds = {k.value: k for k in Kind}  # Kind(value) per row was a second at 100k
    with store.engine.connect() as conn:
        for row in conn.execute(query):
            (key, provider, native_id, title, kind, status, impact, severity, first_post,
             resolved, has_components) = row
            if _needs_document(kind, severity, impact, first_post, resolved, status,
                               bool(has_components)):
                decode.append(len(found))
            if (kind, severity, impact) == unknown:
                severity = SEVERITY_UNKNOWN  # no component: nothing stated it
            found.append(Listed(key, provider, native_id, title, kinds[kind], status, severity,
                                first_post, Lifecycle(first_post_at=first_post,
                                                      resolved_at=resolved),
                                _resolve_time(first_post, resolved)))
    if decode:
        full = {i.key: i for i in incidents_by_keys(store, [found[n].key for n in decode])}
        for n in decode:
            found[n] = Listed.of(full[found[n].key])
    return found


def active_since(store: Store, since: datetime, providers: Collection[str] | None = None, *,
                 windows: bool = True) -> set[str]:
    """The keys of the incidents (of `providers`, when given) with any stored time at or
    after `since`: an update, the first post, the resolution or (unless not `windows`) the
    stated impact window. What a changed-keys render reads whole for the feeds' newest
    entries and the day bars of providers it does not otherwise read."""
    c, u = T_INCIDENTS.c, T_UPDATES.c
    updated = select(u.incident_key).where(u.at >= since)  # the index on `at`
    times = [c.key.in_(updated), c.first_post_at >= since, c.resolved_at >= since]
    if windows:
        times += [c.impact_start >= since, c.impact_end >= since]
    query = select(c.key).where(or_(*times))
    if providers is not None:
        query = query.where(c.provider.in_(sorted(providers)))
    with store.engine.connect() as conn:
        return set(conn.scalars(query))


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
