"""Unofficial incident candidates: outages the community saw that no official post covers.

Signals that name a provider by title or status host, speak of an outage, are live or news,
and link to none of its incidents are clustered per provider (a new cluster after a quiet gap
of `GAP`). A cluster is a candidate when at least `MIN_ORIGINS` independent origins agree:
an origin is a forum author, or a publisher for the press, so one person's two threads count
once. Clusters within `OFFICIAL_MARGIN` of an official incident of the provider, and clusters
with a signal whose link names a status incident we do not hold, are left out: those are
official.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta

from kb.model import Incident, Kind, Signal, SignalLink, Unofficial
from kb.signals.kinds import is_outage
from kb.signals.match import ProviderMatch

GAP = timedelta(hours=6)
MIN_ORIGINS = 2
OFFICIAL_MARGIN = timedelta(hours=6)


def _origin(signal: Signal) -> str:
    source = signal.sources[0]
    if source.source == "news":
        return f"news:{signal.site or source.url}"
    return f"{source.source}:{signal.author or source.native_id}"


def candidates(signals: Sequence[Signal], links: Iterable[SignalLink],
               incidents: Sequence[Incident], matches: dict[str, list[ProviderMatch]],
               official_elsewhere: dict[str, set[str]]) -> list[Unofficial]:
    """Candidates, newest first. `matches` holds each signal's provider matches and
    `official_elsewhere` the providers whose (unstored) status incident a signal names."""
    linked = {(link.signal_id, link.provider) for link in links}
    spans: dict[str, list[tuple]] = {}
    for incident in incidents:
        first = incident.lifecycle.first_post_at
        if incident.kind is Kind.INCIDENT and first is not None:
            end = incident.lifecycle.resolved_at or first + timedelta(hours=24)
            spans.setdefault(incident.provider, []).append((first, end))
    pool: dict[str, list[Signal]] = {}
    for signal in signals:
        if signal.created_at is None or signal.kind not in ("live", "news"):
            continue
        if not is_outage(signal.title):
            continue
        for match in matches.get(signal.id, []):
            if not match.strong or (signal.id, match.provider) in linked:
                continue
            pool.setdefault(match.provider, []).append(signal)
    found = []
    for provider, members in pool.items():
        members.sort(key=lambda s: s.created_at)  # type: ignore[arg-type,return-value]
        cluster: list[Signal] = []
        for signal in [*members, None]:  # type: ignore[list-item]
            if signal is not None and (not cluster or signal.created_at
                                       - cluster[-1].created_at <= GAP):  # type: ignore[operator]
                cluster.append(signal)
                continue
            official = any(provider in official_elsewhere.get(s.id, set()) for s in cluster)
            candidate = None if official else _candidate(provider, cluster,
                                                         spans.get(provider, []))
            if candidate is not None:
                found.append(candidate)
            cluster = [signal] if signal is not None else []
    return sorted(found, key=lambda u: (u.start, u.key), reverse=True)


def _candidate(provider: str, cluster: list[Signal], spans: list[tuple]) -> Unofficial | None:
    origins = {_origin(s) for s in cluster}
    if len(origins) < MIN_ORIGINS:
        return None
    start = cluster[0].created_at
    end = cluster[-1].created_at
    assert start is not None and end is not None
    for first, last in spans:
        if first - OFFICIAL_MARGIN <= end and start <= last + OFFICIAL_MARGIN:
            return None
    families = sorted({src.source for s in cluster for src in s.sources})
    return Unofficial(
        key=f"unofficial/{provider}/{start:%Y%m%dT%H%M}",
        provider=provider,
        start=start,
        end=end,
        signal_ids=tuple(s.id for s in cluster),
        titles=tuple(s.title for s in cluster),
        source_families=tuple(families),
        score=round(min(1.0, 0.25 * len(origins) + 0.1 * len(families)), 3),
    )
