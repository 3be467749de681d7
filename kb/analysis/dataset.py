"""Everything the analysis commands read from a store, loaded once: incidents, per-incident
figures, coverage from the stored payloads, provider names and vendors, cause tags."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kb.analysis.causes import CauseTag
from kb.analysis.clusters import dependency_terms, vendor_of
from kb.analysis.coverage import Coverage, coverage_from_payloads
from kb.analysis.metrics import IncidentFigures, all_figures
from kb.analysis.stage import causes_for
from kb.model import Incident
from kb.store.analysis import last_seen, payload_spans, provider_pages
from kb.store.repo import Store
from kb.store.stream import incident_batches


@dataclass
class Dataset:
    incidents: list[Incident]
    figures: dict[str, list[IncidentFigures]]  # provider → figures
    coverages: dict[str, Coverage]
    names: dict[str, str | None]
    vendors: dict[str, str]
    aliases: dict[str, set[str]]
    causes: dict[str, list[CauseTag]] = field(default_factory=dict)

    @property
    def by_key(self) -> dict[str, IncidentFigures]:
        return {f.key: f for figures in self.figures.values() for f in figures}


def load(store: Store, providers: Sequence[str] | None = None, *,
         with_causes: bool = True, keep_incidents: bool = True) -> Dataset:
    """Load what the analysis needs (all providers, or only `providers`).

    The incidents are read in batches (kb.store.stream) and reduced to their figures (and
    cause tags) batch by batch; with `keep_incidents=False` the timelines themselves are not
    kept (`Dataset.incidents` is empty), so the memory is the figures, not the KB: what
    `kb metrics`, `kb compare` and the drafts' reliability figures need."""
    wanted = set(providers) if providers else None
    seen = last_seen(store)
    incidents: list[Incident] = []
    figures: dict[str, list[IncidentFigures]] = {}
    causes: dict[str, list[CauseTag]] = {}
    for batch in incident_batches(store, providers=wanted):
        for f in all_figures(batch, seen):
            figures.setdefault(f.provider, []).append(f)
        if with_causes:
            causes.update(causes_for(store, batch))
        if keep_incidents:
            incidents.extend(batch)
    spans = [p for p in payload_spans(store) if wanted is None or p.provider in wanted]
    pages = provider_pages(store)
    return Dataset(
        incidents=incidents,
        figures=figures,
        coverages=coverage_from_payloads(spans),
        names={slug: name for slug, (name, _url) in pages.items()},
        vendors={slug: vendor_of(slug, url) for slug, (_name, url) in pages.items()},
        aliases={slug: dependency_terms(name or "") | {slug}
                 for slug, (name, _url) in pages.items()},
        causes=causes,
    )
