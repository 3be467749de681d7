"""The link stage: stored items → stories → links and unofficial candidates, kept current.

`relink` rebuilds everything derived from `signal_items` in one transaction. It is keyed by
fingerprints of its inputs (items, incidents, the matching terms and the linker's rules), so
running it again with nothing changed does no work and writes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kb.model import Incident
from kb.signals.config import SignalConfig, load_signal_config
from kb.signals.link import Linker, Rules
from kb.signals.match import match_providers
from kb.signals.stories import build_signals
from kb.signals.unofficial import candidates
from kb.store.repo import Store
from kb.store.signals import (
    Signal,
    SignalLink,
    get_state,
    incidents_fingerprint,
    items_fingerprint,
    load_items,
    replace_derived,
)
from kb.store.stream import incident_batches

if TYPE_CHECKING:
    from kb.config import Settings
    from kb.stage import StageContext

LINKER_VERSION = "1"  # bump when the rules change in a way fingerprints cannot see
_STATE = "link_inputs"


@dataclass
class LinkReport:
    """What a relink produced."""

    signals: int = 0
    links: int = 0
    by_confidence: dict[str, int] = field(default_factory=dict)
    unofficial: int = 0
    skipped: bool = False  # nothing changed since the last run

    def line(self) -> str:
        if self.skipped:
            return "links already current"
        confidences = ", ".join(f"{n} {c}" for c, n in sorted(self.by_confidence.items()))
        return (f"{self.signals} signals, {self.links} links ({confidences or 'none'}), "
                f"{self.unofficial} unofficial incident candidates")


def link_all(signals: list[Signal], incidents: list[Incident], config: SignalConfig,
             rules: Rules | None = None) -> tuple[list[SignalLink], list]:
    """Links and unofficial candidates for these signals against these incidents (pure)."""
    linker = Linker(incidents, config, rules)
    links = [link for signal in signals for link in linker.link(signal)]
    matches = {
        s.id: match_providers(s.title, [s.url, s.discussion_url,
                                        *(src.url for src in s.sources)], s.text,
                              config.providers)
        for s in signals
    }
    return links, candidates(signals, links, incidents, matches, linker.unknown_named)


def relink(store: Store, config: SignalConfig, *, force: bool = False,
           progress: Callable[[str], None] | None = None) -> LinkReport:
    """Rebuild stories, links and unofficial candidates when any input changed."""
    fingerprint = hashlib.sha256("\n".join([
        LINKER_VERSION, repr(config.providers), repr(Rules()), items_fingerprint(store),
        incidents_fingerprint(store),
    ]).encode()).hexdigest()
    if not force and get_state(store, _STATE) == fingerprint:
        return LinkReport(skipped=True)
    (progress or (lambda _m: None))("grouping signals")
    signals = build_signals(load_items(store), config)
    # only the incidents of providers some signal names: all the linker and the candidates
    # look up (by_provider, by_key of a named provider's URL, spans of a matched provider),
    # so the result is the same as with every incident, and no signals read none
    incidents = [i for batch in incident_batches(store, providers=named_providers(
        signals, config)) for i in batch]
    (progress or (lambda _m: None))("linking")
    links, unofficial = link_all(signals, incidents, config)
    replace_derived(store, signals, links, unofficial, {_STATE: fingerprint})
    report = LinkReport(signals=len(signals), links=len(links), unofficial=len(unofficial))
    for link in links:
        report.by_confidence[link.confidence] = report.by_confidence.get(link.confidence, 0) + 1
    return report


def named_providers(signals: list[Signal], config: SignalConfig) -> set[str]:
    """Every provider any of `signals` names, by either URL list the linker uses (its own,
    kb.signals.link, and the candidates' in `link_all`): the incidents linking can read."""
    from kb.signals.link import _urls

    named: set[str] = set()
    for s in signals:
        for urls in (_urls(s), [s.url, s.discussion_url, *(src.url for src in s.sources)]):
            named.update(m.provider for m in match_providers(s.title, urls, s.text,
                                                             config.providers))
    return named


def config_for(settings: Settings) -> SignalConfig:
    """The signal configuration of the sources list in use (packaged, and the home's)."""
    from kb.config import load_source_list

    listed = load_source_list(settings)
    return load_signal_config(listed.path, listed.sources, table=listed.signals)


def link_stage(context: StageContext) -> str | None:
    """The `link` stage of `kb update`: relink when anything changed."""
    report = relink(context.store, config_for(context.settings))
    return None if report.skipped else report.line()


@dataclass(frozen=True)
class Unlinked:
    """A late or news item that names a provider and speaks of an outage but links to none of
    its incidents, with the incidents it was weighed against and why none was linked."""

    signal: Signal
    provider: str
    considered: tuple[dict, ...]


def unlinked_late(store: Store, config: SignalConfig,
                  provider: str | None = None) -> list[Unlinked]:
    """The stored late and news items left unlinked for want of one plausible incident
    (kb.signals.link's late-only rule), newest first; recomputed from the store (a read,
    nothing written)."""
    from kb.store.signals import links as stored_links
    from kb.store.signals import signals as stored_signals

    linked = {(k.signal_id, k.provider) for k in stored_links(store)}
    wanted = [s for s in stored_signals(store) if s.kind in ("late", "news")
              and (provider is None or provider in s.providers)]
    slugs = sorted({p for s in wanted for p in s.providers
                    if provider is None or p == provider})
    linker = Linker([i for slug in slugs for i in store.incidents(provider=slug)], config)
    out = []
    for signal in wanted:
        linker.link(signal)
        for (signal_id, slug), considered in sorted(linker.considered.items()):
            if signal_id == signal.id and (signal_id, slug) not in linked and (
                    provider is None or slug == provider):
                out.append(Unlinked(signal, slug, tuple(considered)))
        linker.considered.clear()
    return sorted(out, key=lambda u: (u.signal.created_at is not None, u.signal.created_at),
                  reverse=True)
