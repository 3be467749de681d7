"""A synthetic knowledge base shaped like the corpus, for bench/bench_site.py.

`fill(url, count)` writes `count` incidents (updates per incident, text lengths, HTML bodies,
components, impact windows, maintenances, a dozen providers over five years), then runs the
later stages of `kb update` on them the way a real KB gets them, so every optional section of
the site has its data:

- link: synthetic HN threads and news items (`synthetic_signals`), stored as items and linked
  by the real linker (kb.signals.stage.relink), in the corpus' proportions;
- embed: the real embed stage (kb.embed.stage.embed_missing) with the deterministic
  `fake-hash` encoder at MiniLM's 384 dimensions, so the similar-incidents matrix products
  cost what they cost with the real model (encoding itself is not what the site bench
  measures, and MiniLM would take minutes at 10k on 2 cores);
- analysis: cause tags by the real rules (kb.analysis.stage.refresh_causes; the embedding
  step is not used with fake-hash, as in `kb update`).

`fill(url, count, bare=True)` stops after the incidents (the bench's old behaviour).
"""

from __future__ import annotations

import hashlib
import random
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kb.model import Incident
    from scrapers.records import SignalRecord

AS_OF = date(2026, 9, 15)
EMBED_MODEL = "fake-hash"  # KB_EMBED_MODEL of the filled KB: builds must use the same
EMBED_DIM = 384  # all-MiniLM-L6-v2's width: the similar section's cost depends on it
PROVIDERS = {
    "acme-cloud": ["API", "Dashboard", "Webhooks", "Billing", "EU region", "US region"],
    "bolt-git": ["Git Operations", "API Requests", "Actions", "Pages", "Packages", "Issues"],
    "chatty-ai": ["API", "Chat", "Login", "Files", "Embeddings", "Fine-tuning", "Realtime"],
    "deltadns": ["DNS", "CDN", "WAF", "Dashboard"],
    "echo-pay": ["Payments API", "Checkout", "Payouts", "Dashboard"],
    "fox-mail": ["SMTP", "Inbound", "API", "Webhooks"],
    "gamma-db": ["Clusters", "Backups", "Console", "Networking"],
    "helix-ci": ["Builds", "Artifacts", "Web app", "Runners"],
    "iris-voice": ["Voice", "SMS", "Video", "Console"],
    "jolt-obs": ["Ingest", "Dashboards", "Alerting", "Logs", "APM"],
    "kilo-store": ["Object storage", "Block storage", "Console"],
    "lumen-chat": ["Messaging", "Voice", "Login", "Media"],
}
OPENERS = ["We are investigating reports of", "We are currently investigating",
           "We have identified", "A fix has been implemented for",
           "We are continuing to monitor", "This incident has been resolved:"]
MIDDLES = ["elevated error rates", "degraded performance", "increased latency", "failed requests",
           "delays in processing", "intermittent timeouts", "login failures", "partial outage"]
TAILS = ["affecting {c}.", "for some customers using {c}.", "on {c} in one region.",
         "with {c}. We will provide an update as soon as possible.",
         "impacting {c}. Customers may see 5xx responses while we roll back a deploy.",
         "on {c}; the root cause was a misconfigured load balancer after maintenance."]
PHASES = ["investigating", "identified", "monitoring", "resolved"]

# The corpus (bench/data/signal_links.jsonl over the ~1,850 corpus incidents): 362 stories,
# 0.2 per incident; 75 of them linked, to 66 incidents (3.6 %): 60 with one story, 5 with two,
# one with six; about a third of HN stories point at the status page incident itself.
STORIES_PER_INCIDENT = 0.2
LINKED_SHARE = 0.036
THREAD_TITLES = ["{name} is down", "{name} {component} outage", "{name} down?",
                 "Is {name} down for anyone else?", "{name} {component} errors",
                 "{name} having issues with {component}"]
NEWS_TITLES = ["{name} outage disrupts {component} for thousands of users",
               "{name} suffers {component} outage", "{name} restores service after outage"]
ELSEWHERE = ["Azure DevOps outage", "Microsoft 365 is down", "Wasabi storage outage",
             "Slack is down", "Fastly CDN errors across the web", "Tell HN: Zoom is down"]


def display_name(slug: str) -> str:
    return slug.replace("-", " ").title()


def _text(rng: random.Random, component: str) -> str:
    parts = [rng.choice(OPENERS), rng.choice(MIDDLES), rng.choice(TAILS).format(c=component)]
    if rng.random() < 0.35:  # the corpus' long tail of multi-sentence updates
        parts.append(" ".join(rng.choice(MIDDLES) for _ in range(rng.randint(5, 40))) + ".")
    return " ".join(parts)


def synthetic_incidents(count: int, seed: int = 6) -> Iterator[Incident]:
    """`count` incidents shaped like the corpus (deterministic for a seed)."""
    from kb.model import (
        Component,
        ImpactWindow,
        Incident,
        Kind,
        Lifecycle,
        Phase,
        Severity,
        SourceRef,
        Update,
    )

    rng = random.Random(seed)
    end = datetime.combine(AS_OF, datetime.min.time(), tzinfo=UTC)
    slugs = list(PROVIDERS)
    for n in range(count):
        # A third on the first three providers (a few dominate, as in the corpus), the rest
        # spread over all twelve (2n // 3 counts 0, 1, 2, ... over the n not divisible by 3).
        provider = slugs[2 * n // 3 % len(slugs)] if n % 3 else rng.choice(slugs[:3])
        start = end - timedelta(minutes=rng.randint(0, 5 * 365 * 24 * 60))
        maintenance = rng.random() < 0.03
        names = rng.sample(PROVIDERS[provider], k=min(rng.choice([0, 1, 1, 1, 2, 3]),
                                                        len(PROVIDERS[provider])))
        components = tuple(Component(name) for name in names)
        length = rng.choices([1, 2, 3, 4, 5, 7, 12], [30, 30, 15, 12, 7, 4, 2])[0]
        at, updates, phase_index = start, [], 0
        for i in range(length):
            last = i == length - 1
            if last:
                phase_index = 3
            elif i and rng.random() < 0.6:
                phase_index = min(phase_index + 1, 2)
            text = _text(rng, names[0] if names else "the service")
            body = (f"<ul><li><strong>{at:%Y-%m-%d %H:%M:%S}</strong> - {text}</li></ul>"
                    if rng.random() < 0.22 else text)
            phase = Phase(PHASES[phase_index])
            updates.append(Update(at, phase, phase.value, body, text))
            at += timedelta(minutes=rng.randint(5, 240))
        resolved = updates[-1].at
        window = None
        if rng.random() < 0.11:
            window = ImpactWindow(start - timedelta(minutes=rng.randint(0, 60)),
                                  resolved - timedelta(minutes=rng.randint(0, 30)),
                                  "Impact occurred between the stated times.")
        native_id = hashlib.sha256(f"{seed}-{n}".encode()).hexdigest()[:12]
        yield Incident(
            provider=provider, native_id=native_id,
            title=f"{rng.choice(MIDDLES).capitalize()} on {names[0] if names else 'all services'}",
            kind=Kind.MAINTENANCE if maintenance else Kind.INCIDENT, status="resolved",
            severity=rng.choices(list(Severity), [3, 60, 30, 7])[0],
            url=f"https://status.{provider}.test/incidents/{native_id}",
            components=components,
            lifecycle=Lifecycle(first_post_at=start, resolved_at=resolved,
                                vendor_created_at=start, vendor_resolved_at=resolved),
            impact_window=window, updates=tuple(updates),
            sources=(SourceRef(f"https://status.{provider}.test/api/v2/incidents.json",
                               end, hashlib.sha256(native_id.encode()).hexdigest(),
                               "statuspage_json"),),
        )


def synthetic_signals(incidents: list[Incident], seed: int = 6) -> Iterator[SignalRecord]:
    """HN threads and news items in the corpus' proportions: a `LINKED_SHARE` of the
    incidents get stories about them (a live thread around the first post, some pointing at
    the status page, some followed by an article), the rest of the `STORIES_PER_INCIDENT`
    stories are about outages of services the KB does not follow. The linker decides what
    links; these only aim."""
    from kb.model import Kind
    from scrapers.records import SignalRecord

    rng = random.Random(seed)
    candidates = [i for i in incidents if i.kind is Kind.INCIDENT and i.lifecycle.first_post_at]
    aimed = rng.sample(candidates, k=min(len(candidates), round(LINKED_SHARE * len(incidents))))
    serial = 40_000_000
    made = 0
    for incident in aimed:
        first = incident.lifecycle.first_post_at
        assert first is not None
        name = display_name(incident.provider)
        component = incident.components[0].name if incident.components else "API"
        stories = rng.choices([1, 2, 3, 6], [60, 5, 1, 1])[0]
        for n in range(stories):
            serial += rng.randint(1, 5000)
            made += 1
            words = {"name": name, "component": component}
            if n and rng.random() < 0.4:  # the press follows within hours
                yield SignalRecord(
                    source="news", native_id=f"https://news.example.test/{serial}",
                    title=rng.choice(NEWS_TITLES).format(**words),
                    url=f"https://news.example.test/{serial}",
                    created_at=first + timedelta(minutes=rng.randint(60, 600)),
                    site="Example News", text=f"{name} said {component} was degraded.",
                )
                continue
            on_status = rng.random() < 0.33
            yield SignalRecord(
                source="hackernews", native_id=str(serial),
                title=rng.choice(THREAD_TITLES).format(**words),
                url=incident.url if on_status else None,
                discussion_url=f"https://news.ycombinator.com/item?id={serial}",
                created_at=first + timedelta(minutes=rng.randint(-30, 40)),
                author="someone", points=rng.randint(3, 900), comments=rng.randint(0, 400),
            )
    end = datetime.combine(AS_OF, datetime.min.time(), tzinfo=UTC)
    for _ in range(max(0, round(STORIES_PER_INCIDENT * len(incidents)) - made)):
        serial += rng.randint(1, 5000)
        yield SignalRecord(
            source="hackernews", native_id=str(serial), title=rng.choice(ELSEWHERE),
            discussion_url=f"https://news.ycombinator.com/item?id={serial}",
            created_at=end - timedelta(minutes=rng.randint(0, 5 * 365 * 24 * 60)),
            author="someone", points=rng.randint(1, 300), comments=rng.randint(0, 200),
        )


def signal_config():  # type: ignore[no-untyped-def]
    """What `[signals.match]` would say for the synthetic providers: the display name, and
    the status host for links to an incident's status page."""
    from kb.signals.config import ProviderTerms, SignalConfig

    return SignalConfig(tuple(
        ProviderTerms(slug, names=(display_name(slug),), status_hosts=(f"status.{slug}.test",))
        for slug in PROVIDERS))


def fill(url: str, count: int, *, bare: bool = False,
         home: Path | None = None) -> dict[str, float]:
    """A KB of `count` synthetic incidents at `url`, with signals, vectors and cause tags
    unless `bare`. Returns the seconds each step took and what it made."""
    from kb.pipeline import content_hash
    from kb.store import Store
    from kb.store.repo import IncidentWrite

    made: dict[str, float] = {}
    started = time.perf_counter()
    store, _ = Store.open(url, write=True)
    batch: list[IncidentWrite] = []
    incidents = []
    for incident in synthetic_incidents(count):
        incidents.append(incident)
        batch.append(IncidentWrite(incident, content_hash(incident), current=()))
        if len(batch) == 500:
            store.write_batch(batch, [])
            batch = []
    store.write_batch(batch, [])
    for slug in PROVIDERS:
        store.upsert_provider(slug, display_name(slug), f"https://status.{slug}.test")
    made["incidents_s"] = time.perf_counter() - started
    if not bare:
        made.update(_later_stages(store, incidents, home or Path(tempfile.gettempdir())))
    store.close()
    return made


def _later_stages(store, incidents: list[Incident], home: Path) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """link → embed → analysis, in kb.pipeline.LATER_STAGES' order (the embedding document
    takes linked stories' titles, so linking comes first)."""
    from kb.analysis.stage import refresh_causes
    from kb.embed.encoder import FakeEncoder, resolve_model
    from kb.embed.stage import embed_missing
    from kb.signals.stage import relink
    from kb.store.analysis import stored_causes
    from kb.store.signals import ItemWrite, links, store_items

    made: dict[str, float] = {}
    started = time.perf_counter()
    fetched = datetime.combine(AS_OF, datetime.min.time(), tzinfo=UTC)
    writes = [ItemWrite(record, hashlib.sha256(record.native_id.encode()).hexdigest(),
                        "https://hn.algolia.com/api/v1/search_by_date", fetched)
              for record in synthetic_signals(incidents)]
    store_items(store, writes)
    report = relink(store, signal_config())
    made["link_s"] = time.perf_counter() - started
    made["stories"] = report.signals
    made["links"] = report.links
    made["linked_incidents"] = len({link.incident_key for link in links(store)})

    started = time.perf_counter()
    spec = resolve_model({"KB_EMBED_MODEL": EMBED_MODEL})
    embedded = embed_missing(store, home, spec=spec, encoder=FakeEncoder(dim=EMBED_DIM))
    made["embed_s"] = time.perf_counter() - started
    made["vectors"] = embedded.embedded

    started = time.perf_counter()
    tagged, _rows = refresh_causes(store, None)
    made["analysis_s"] = time.perf_counter() - started
    made["tagged"] = tagged
    made["with_causes"] = sum(1 for records in stored_causes(store).values()
                              if any(r.tag != "unknown" for r in records))
    return made
