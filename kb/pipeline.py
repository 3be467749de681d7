"""The order of the stages: payload → archive → parse → normalize → store. Nothing else.

Every payload is archived before it is parsed; a payload whose bytes were already stored is
skipped (work keyed by content hash); each failure is one line naming its source, and the run
goes on for everything else. Batches are written in one transaction each.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import importlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

from kb.config import SourceConfig, check_slug, guess_slug, valid_slug
from kb.epochs import epoch_of
from kb.errors import ConfigError, DatabaseBusy, KbError
from kb.model import Incident, SourcedRecord, SourceRef
from kb.normalize import normalize_incident
from kb.normalize.merge import select_current
from kb.normalize.snapshots import bound_end, bound_status_end, predecessors
from kb.postmortems.ingest import store_doc_postmortems
from kb.serialize import incident_to_dict
from kb.signals.ingest import store_doc_signals
from kb.stage import RunReport, Stage, StageContext, StageProgress
from kb.store.db import database_lost
from kb.store.listings import incidents_by_keys
from kb.store.payloads import incidents_of_payloads
from kb.store.rebuild import SwapResult, doc_providers, shadow_store, swap_in
from kb.store.repo import DocMark, IncidentWrite, Revision, Store
from kb.store.snapshots import open_snapshots
from scrapers import clip, plausible, registry
from scrapers.archive import Archive
from scrapers.errors import FetchError, ParseError, UnknownFormat
from scrapers.files import expand, has_recorded_time, read_recorded
from scrapers.records import IncidentRecord, ParsedDoc, RawDoc
from scrapers.registry import END_UNPUBLISHED

BATCH_DOCS = 400  # payloads per transaction: bounds memory and the work a crash can undo

Progress = Callable[[str], None]  # called once per payload handled, with a short label


@dataclass
class _Pending:
    doc: RawDoc
    module: ModuleType
    parsed: ParsedDoc
    provider: str
    fetch_proven: bool = False  # doc.fetched_at is a recorded fetch time (see seen_until)


class Line:
    """One run of the line over a set of payloads, against one store and archive."""

    def __init__(
        self,
        store: Store,
        archive: Archive,
        sources: Sequence[SourceConfig],
        *,
        report: RunReport | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.store = store
        self.archive = archive
        self.sources = list(sources)
        self.report = report or RunReport()
        self.progress = progress or (lambda _label: None)
        # the later stages' display (kb.stage.StageProgress); the CLI sets it, None elsewhere
        self.stage_progress: StageProgress | None = None
        self._hosts = {host: s.slug for s in self.sources for host in s.hosts}
        self._pending: list[_Pending] = []
        self._known = store.known_docs()  # sha256 → [(provider, incidents)], kept current
        self._skipped: list[tuple[str, str]] = []  # (sha256, provider) skipped as stored
        # Signal items are upserts that hide nothing, so a reparse writes them to the live
        # store while incidents are rebuilt beside it (see `reparse`).
        self.signal_store = store
        self._refusal: str | None = None  # why _provider_of last said None
        self._pages: dict[str, str | None] | None = None  # slug → page host, loaded lazily
        self._guessed: set[str] = set()  # slugs guessed from hosts this run (one note each)

    # -- entry points ------------------------------------------------------------------

    def feed(
        self, doc: RawDoc, *, provider: str | None, label: str, strict: bool = True,
        archive_source: str | None = None, archived: bool = False,
        fetch_proven: bool | None = None,
    ) -> None:
        """Handle one payload. `strict=False` (files found in folders): a payload no parser
        recognises is listed as ignored rather than failed. `fetch_proven`: whether
        doc.fetched_at is a recorded fetch time (a live fetch, an archiver's sidecar) rather
        than an import's file time; by default a live fetch (neither archived nor imported)
        or an archived payload fetched from http(s)."""
        if fetch_proven is None:
            fetch_proven = (not archived and archive_source is None) or (
                archived and urlsplit(doc.url).scheme in ("http", "https"))
        try:
            module = registry.detect(doc.body, doc.url)
        except Exception as exc:  # one payload never stops the run
            if not isinstance(exc, UnknownFormat):
                exc = UnknownFormat(doc.url, f"format detection failed ({_reason(exc)})")
            if not archived and strict:
                self.archive.put(doc, source=archive_source or provider or "import")
            if strict:
                self.report.source(provider or label).failed.append(str(exc))
            else:
                self.report.ignored.append(str(exc))
            self.progress(label)
            return
        if not archived:
            self.archive.put(doc, source=archive_source or provider or "import")
        known = [
            (slug, count) for slug, count in self._known.get(doc.sha256, ())
            if provider is None or slug == provider
        ]
        if known:
            slug = provider or known[0][0]
            entry = self.report.source(slug)
            entry.docs += 1
            entry.skipped_docs += 1
            if known[0][1]:  # its incidents count as unchanged; which ones: see flush
                self._skipped.append((doc.sha256, slug))
            self.progress(label)
            return
        try:
            parsed = module.parse(doc)
            # times outside the plausible range dropped, records with none refused (warned)
            parsed = plausible.screen(parsed, doc.url)
            # over-long titles and bodies clipped for display and search (archive: whole)
            parsed = clip.clip(parsed, doc.url)
        except ParseError as exc:
            self.report.source(provider or label).failed.append(str(exc))
            self.progress(label)
            return
        except Exception as exc:  # a parser bug on hostile input: this payload only
            self.report.source(provider or label).failed.append(
                f"{doc.url}: {module.NAME} parser failed ({_reason(exc)})")
            self.progress(label)
            return
        slug = provider or self._provider_of(parsed)
        if slug is None:
            self.report.source(label).failed.append(
                f"{doc.url}: {self._refusal or 'cannot tell which provider this is'}; "
                "pass --provider SLUG"
            )
            self.progress(label)
            return
        if (epoch := epoch_of(slug)) is not None:
            # dated before the provider existed: dropped or refused, one warning per record
            parsed = plausible.screen_before(parsed, doc.url, epoch.since, epoch.why(slug))
        entry = self.report.source(slug)
        entry.docs += 1
        # every warning names its payload, whichever parser wrote it
        entry.warnings.extend(w if w.startswith(doc.url) else f"{doc.url}: {w}"
                              for w in parsed.warnings)
        self._pending.append(_Pending(doc, module, parsed, slug, fetch_proven))
        self.progress(label)
        if len(self._pending) >= BATCH_DOCS:
            self.flush()

    def flush(self) -> None:
        """Normalize and store everything fed since the last flush, in one transaction, and
        count the incidents of the payloads skipped since then."""
        pending, self._pending = self._pending, []
        if pending:
            self._store_isolated(pending)
        skipped, self._skipped = self._skipped, []
        if skipped:
            self._count_skipped(skipped)

    def _count_skipped(self, skipped: list[tuple[str, str]]) -> None:
        """The incidents of payloads skipped as already stored are unchanged (unless another
        payload of this run changed them): one look-up for the whole list."""
        held = incidents_of_payloads(self.store, [sha for sha, _ in skipped])
        for sha, slug in skipped:
            # The same bytes may be stored under two providers (--provider): keys say whose.
            for key in sorted(held.get(sha, ())):
                if key.partition("/")[0] == slug:
                    self.report.count(slug, key, "unchanged")

    def _store_isolated(self, pending: list[_Pending]) -> None:
        """`_store`, with one payload's unexpected failure kept to that payload: a batch that
        fails (other than for a KbError: busy database, schema) is retried one payload at a
        time, and a payload that fails alone is reported as failed; the rest are stored."""
        try:
            self._store(pending)
        except KbError:
            raise
        except Exception as exc:  # isolate, then report
            _raise_if_database_lost(exc)
            if len(pending) > 1:
                for item in pending:
                    self._store_isolated([item])
                return
            item = pending[0]
            self.report.source(item.provider).failed.append(
                f"{item.doc.url}: not stored ({_reason(exc)})")

    def _store(self, pending: list[_Pending]) -> None:
        """Normalize, merge with what is stored and write one batch; count what it did.
        A record whose normalization fails is reported (source, record id, reason) and left
        out; the rest of its payload is stored, and the payload is not marked as stored, so
        the next run reads it again (and reports the record again)."""
        by_key: dict[str, list[SourcedRecord]] = {}
        providers: dict[str, str] = {}
        for item in pending:
            ref = SourceRef(item.doc.url, item.doc.fetched_at, item.doc.sha256, item.module.NAME)
            for record in item.parsed.incidents:
                key = f"{item.provider}/{record.native_id}"
                by_key.setdefault(key, []).append(SourcedRecord(record, ref, item.parsed.as_of))
                providers[key] = item.provider
        # Signal payloads (forum threads, news) are stored under pseudo-providers such as
        # "signals-hackernews": no status page, so no provider row.
        self._remember_providers([p for p in pending if p.parsed.incidents
                                  or not (p.parsed.signals or p.parsed.postmortems)])
        series, bystanders = snapshot_series(self.store, pending, by_key)
        providers.update(bystanders)
        keys = sorted({*by_key, *bystanders})
        stored = self.store.current_records(keys)
        stored_sources = self.store.sources_of(keys)
        known_ends = stored_status_ends(self.store, stored, by_key)
        writes = []
        unfinished: set[str] = set()  # sha256 of payloads with a record left out
        for key in keys:
            if not stored.get(key) and key not in by_key:
                continue
            records = by_key.get(key, [])
            try:
                write = _incident_write(key, providers[key], stored.get(key, []), records,
                                        stored_sources.get(key, []))
                write = with_status_end(write, [*stored.get(key, []), *records],
                                        known_ends.get(key))
                writes.append(with_bounded_end(write, series.get(providers[key])))
            except KbError:
                raise
            except Exception as exc:  # one record never stops its payload
                urls = sorted({r.source.url for r in records}) or ["a stored incident"]
                self.report.source(providers[key]).failed.append(
                    f"{urls[0]}: record {key.partition('/')[2]}: not stored ({_reason(exc)})")
                unfinished.update(r.source.sha256 for r in records)
        # The same bytes can arrive twice in one batch (two URLs, two files): one mark each.
        docs = list({
            (p.doc.sha256, p.provider): DocMark(
                sha256=p.doc.sha256, provider=p.provider, format=p.module.NAME,
                parser_version=p.module.VERSION, url=p.doc.url, fetched_at=p.doc.fetched_at,
                as_of=seen_until(p.parsed, p.doc, fetch_proven=p.fetch_proven),
                incidents=len(p.parsed.incidents),
                lists_open_only=p.parsed.lists_open_only,
            )
            for p in pending
            if p.doc.sha256 not in unfinished
        }.values())
        self.archive.sync()  # raw payloads are durable before rows that refer to them
        for slug, counts in store_doc_signals(
                self.signal_store, [(p.provider, p.doc, p.parsed) for p in pending]).items():
            entry = self.report.source(slug)  # signal items: kb.signals
            entry.new, entry.updated = entry.new + counts.new, entry.updated + counts.updated
            entry.unchanged += counts.unchanged
        for slug, counts in store_doc_postmortems(
                self.signal_store, [(p.provider, p.doc, p.parsed) for p in pending]).items():
            entry = self.report.source(slug)  # published write-ups: kb.postmortems
            entry.new, entry.updated = entry.new + counts.new, entry.updated + counts.updated
            entry.unchanged += counts.unchanged
        result = self.store.write_batch(writes, docs)
        for doc in docs:
            self._known.setdefault(doc.sha256, []).append((doc.provider, doc.incidents))
        for outcome in ("new", "updated", "unchanged"):
            for key in getattr(result, outcome):
                if key in by_key or outcome == "updated":  # a bystander counts if bounded
                    self.report.count(providers[key], key, outcome)
        for write in writes:
            self.report.source(write.incident.provider).revisions += len(write.revisions)

    # -- provider identity -------------------------------------------------------------

    def _provider_of(self, parsed: ParsedDoc) -> str | None:
        """Whose incidents these are, when neither configuration nor --provider says: the
        page host named in the payload, matched exactly against sources.toml (a `www.` in
        front allowed); for a host not configured, the payload's own `_meta.provider` or a
        slug guessed from the host (said in the run's notes). A claim or guess that names a
        configured provider, or one stored from another host, is refused (None, with the
        reason in `self._refusal`): a file never picks someone else's incidents."""
        self._refusal = None
        hint = parsed.provider_hint
        if hint is not None and not valid_slug(hint):
            self._refusal = f"payload names provider {hint!r}, not a valid slug"
            return None
        configured = {s.slug: s for s in self.sources}
        urls = [parsed.page.url if parsed.page else None]
        urls += [r.page_url for r in parsed.incidents[:1]]
        host = next((h for h in (_host_of(u) for u in urls) if h), None)
        if host is None:
            if hint in configured:
                self._refusal = (f"payload claims provider {hint!r} but names no page host "
                                 "to check that against")
                return None
            return hint
        slug = self._hosts.get(host) or self._hosts.get(host.removeprefix("www."))
        if slug is not None:
            if hint is not None and hint != slug:
                self._refusal = (f"payload claims provider {hint!r} but its page host {host} "
                                 f"is {slug!r} in sources.toml")
                return None
            return slug
        if self._pages is None:
            self._pages = {k: _host_of(v) for k, v in self.store.provider_pages().items()}
        # A host already stored under a slug keeps it (a KB built when slugs were guessed
        # otherwise does not split a provider in two).
        held = sorted(k for k, h in self._pages.items() if h and _same_host(h, host))
        if held:
            if hint is not None and hint not in held:
                self._refusal = (f"payload claims provider {hint!r} but its page host {host} "
                                 f"is stored as {held[0]!r}")
                return None
            return hint or held[0]
        slug = hint or guess_slug(host)
        how = "claimed" if hint else "guessed"
        if slug is None:
            return None
        if slug in configured:
            self._refusal = (f"page host {host} is not in sources.toml, and the provider it "
                             f"{how} ({slug!r}) is configured for {configured[slug].url}")
            return None
        owner = self._pages.get(slug)
        if owner and not _same_host(owner, host):
            self._refusal = (f"page host {host} is not in sources.toml, and the provider it "
                             f"{how} ({slug!r}) is already stored from {owner}")
            return None
        self._pages[slug] = host
        if not hint and slug not in self._guessed:
            self._guessed.add(slug)
            self.report.notes.append(
                f"provider slug {slug!r} guessed from host {host}; add it to sources.toml "
                "(or pass --provider) to name it yourself")
        return slug

    def _remember_providers(self, pending: list[_Pending]) -> None:
        """One provider row per provider seen in the batch (name, page URL, components)."""
        seen: dict[str, tuple[str | None, str | None, list[str]]] = {}
        for item in pending:
            page = item.parsed.page
            name, url, components = seen.get(item.provider, (None, None, []))
            name = name or (page.name if page else None)
            url = url or (page.url if page else None)
            components = [c.name for c in item.parsed.components] or components
            seen[item.provider] = (name, url, components)
        configured = {s.slug: s for s in self.sources}
        for slug, (name, url, components) in sorted(seen.items()):
            if slug in configured:
                name, url = configured[slug].name, configured[slug].url
            self.store.upsert_provider(slug, name, url, components)


def seen_until(parsed: ParsedDoc, doc: RawDoc, *, fetch_proven: bool) -> datetime | None:
    """The latest time a payload proves its provider's page was watched, stored as the
    payload's `as_of` (coverage and "still open" read it): its own time (feed <updated>,
    the page's updated_at), else the fetch time when that is a recorded fetch, else the newest
    timestamp inside it (an imported AWS data.json has no date of its own, and its file time
    is when it was copied, not when AWS was watched). Never the clock at import."""
    if parsed.as_of is not None:
        return parsed.as_of
    if fetch_proven:
        return doc.fetched_at
    stamps = [t for r in parsed.incidents
              for t in (r.created_at, r.started_at, r.monitoring_at, r.resolved_at,
                        r.updated_at, *(u.at for u in r.updates)) if t is not None]
    # nothing inside can postdate the bytes; a scheduled_for in the future proves nothing
    return min(max(stamps), doc.fetched_at) if stamps else None


def _incident_write(
    key: str,
    provider: str,
    stored: list[SourcedRecord],
    incoming: list[SourcedRecord],
    stored_sources: list[SourceRef],
) -> IncidentWrite:
    current = select_current(stored + incoming)
    revisions = []
    by_channel = {r.record.channel: r for r in stored}
    for record in current:
        old = by_channel.get(record.record.channel)
        if old is not None and old.source.sha256 != record.source.sha256:
            summary = revision_summary(old.record, record.record)
            if summary:
                revisions.append(Revision(key, record.record.channel, old, record, summary))
    incident = normalize_incident(provider, current)
    sources = {(s.sha256, s.url): s for s in [*stored_sources, *incident.sources]}
    for item in incoming:
        sources[(item.source.sha256, item.source.url)] = item.source
    incident = replace(
        incident,
        sources=tuple(sorted(sources.values(), key=lambda s: (s.fetched_at, s.url, s.sha256))),
    )
    doc = incident_to_dict(incident)  # hashed here, stored as doc_json by the store
    return IncidentWrite(incident, doc_hash(doc), current, revisions, doc=doc)


def snapshot_series(
    store: Store, pending: Sequence[_Pending], by_key: dict[str, list[SourcedRecord]]
) -> tuple[dict[str, list[tuple[datetime, str]]], dict[str, str]]:
    """The open-only snapshot series (summary.json, [(taken at, sha256)], stored and new) of
    each provider in this batch, and the stored incidents outside the batch whose end a new
    snapshot bounds (key → provider): those held by the snapshot just before a new one. See
    kb.normalize.snapshots."""
    new = {(p.provider, p.doc.sha256): (p.parsed.as_of or p.doc.fetched_at)
           for p in pending if p.parsed.lists_open_only}
    series = open_snapshots(store, {p.provider for p in pending})
    for (provider, sha), at in new.items():
        if sha not in {s for _, s in series[provider]}:
            series[provider].append((at, sha))
    before = {sha for provider, items in series.items()
              for sha in predecessors(items, [s for p, s in new if p == provider])}
    bystanders = {key: key.partition("/")[0]
                  for keys in incidents_of_payloads(store, sorted(before)).values()
                  for key in keys if key not in by_key and key.partition("/")[0] in series}
    return series, bystanders


def with_bounded_end(write: IncidentWrite,
                     series: list[tuple[datetime, str]] | None) -> IncidentWrite:
    """The write with the incident's end bounded by its provider's open-only series."""
    if not series:
        return write
    return _with_incident(write, bound_end(write.incident, series))


def stored_status_ends(store: Store, stored: dict[str, list[SourcedRecord]],
                       by_key: dict[str, list[SourcedRecord]]) -> dict[str, datetime]:
    """key → the stored `end_not_before` of each stored incident of this batch read from an
    END_UNPUBLISHED format (Vultr): the newest fetch that showed it open, which the merge no
    longer holds once a newer record says resolved (kb.normalize.snapshots.bound_status_end).
    One read, only for such incidents."""
    keys = [k for k, held in stored.items()
            if any(r.source.format in END_UNPUBLISHED for r in (*held, *by_key.get(k, ())))]
    if not keys:
        return {}
    return {i.key: i.lifecycle.end_not_before for i in incidents_by_keys(store, keys)
            if i.lifecycle.end_not_before is not None}


def with_status_end(write: IncidentWrite, records: list[SourcedRecord],
                    known: datetime | None) -> IncidentWrite:
    """The write with the end bounded between two fetches of an END_UNPUBLISHED format
    (`records`: the stored and new records of the incident)."""
    held = [r for r in records if r.source.format in END_UNPUBLISHED]
    if not held:
        return write
    return _with_incident(write, bound_status_end(write.incident, held, write.incident.sources,
                                                  known))


def _with_incident(write: IncidentWrite, incident: Incident) -> IncidentWrite:
    """`write` storing `incident` instead (its document and content hash made again), or
    `write` itself when the incident is the same object."""
    if incident is write.incident:
        return write
    doc = incident_to_dict(incident)
    return replace(write, incident=incident, content_hash=doc_hash(doc), doc=doc)


def _host_of(url: str | None) -> str | None:
    """The lower-case host of a URL (no port, no user info), or None."""
    try:
        return urlsplit(url or "").hostname or None
    except ValueError:
        return None


def _same_host(a: str, b: str) -> bool:
    return a.removeprefix("www.") == b.removeprefix("www.")


def _reason(exc: BaseException) -> str:
    """One line saying what went wrong: the exception's type and its first 200 characters."""
    text = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _raise_if_database_lost(exc: Exception) -> None:
    """A database gone mid-run is no fault of the payload in hand: stop the run with one line
    (kb.store.db.database_lost) rather than blame every later payload for it."""
    lost = database_lost(exc)
    if lost is not None:
        raise lost from exc


def content_hash(incident) -> str:  # type: ignore[no-untyped-def]
    return doc_hash(incident_to_dict(incident))


def doc_hash(doc: dict) -> str:  # type: ignore[type-arg]
    """The content hash of an incident's JSON object (incident_to_dict): sha256 of its
    sorted-key JSON with the default separators (the stored hashes' format; keep it)."""
    text = json.dumps(doc, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_EDITABLE = ("title", "impact", "created_at", "started_at", "resolved_at", "scheduled_for",
             "scheduled_until", "kind")


def revision_summary(old: IncidentRecord, new: IncidentRecord) -> str | None:
    """What a vendor changed between two payloads of one channel, or None when the newer one
    only adds (new updates are progress, not an edit)."""
    changes = [name for name in _EDITABLE if getattr(old, name) != getattr(new, name)]
    old_updates = {(u.at, u.label): u.body for u in old.updates}
    new_updates = {(u.at, u.label): u.body for u in new.updates}
    removed = [k for k in old_updates if k not in new_updates]
    edited = [k for k in old_updates if k in new_updates and old_updates[k] != new_updates[k]]
    if removed:
        changes.append(f"{len(removed)} update(s) removed")
    if edited:
        changes.append(f"{len(edited)} update body(ies) edited")
    if not changes:
        return None
    return "; ".join(changes)


# -- later stages (their context and report types: kb.stage) ----------------------------------


def _lazy(target: str) -> Stage:
    """A stage imported only when it runs ("module:function"), so `kb` commands that do not
    run it never import its heavy dependencies (torch for embedding, mkdocs for the site)."""
    module_name, _, attribute = target.partition(":")

    def run(context: StageContext) -> str | None:
        stage: Stage = getattr(importlib.import_module(module_name), attribute)
        return stage(context)

    run.__name__ = attribute
    return run


# The order of the stages after fetch → parse → normalize → store. Features append here.
LATER_STAGES: list[tuple[str, Stage]] = [
    ("link", _lazy("kb.signals.stage:link_stage")),  # news and forum threads ↔ incidents
    ("postmortems", _lazy("kb.postmortems.stage:postmortem_stage")),  # write-ups ↔ incidents
    ("embed", _lazy("kb.embed.stage:embed_stage")),  # vectors for similar-incident search
    ("analysis", _lazy("kb.analysis.stage:analysis_stage")),  # cause tags (may use vectors)
    ("site", _lazy("kb.render.stage:site_stage")),  # last: renders everything above
]


# Whole-KB stages that write the shared database: on PostgreSQL one worker at a time runs each
# (kb.store.claims.stage_lock); the next finds the work done, as each is keyed by content hash.
# `embed` splits its work by claims instead; `site` writes only this worker's home.
SHARED_STAGES = frozenset({"link", "analysis"})


def run_later_stages(context: StageContext, only: Sequence[str] | None = None) -> None:
    """Run the later stages in order; a failing stage is reported and the next ones still run."""
    from kb.store.claims import stage_lock

    for name, stage in LATER_STAGES:
        if only is not None and name not in only:
            continue
        started = time.perf_counter()
        if context.progress is not None:
            context.progress.begin(name)
        try:
            if name in SHARED_STAGES:
                with stage_lock(context.store, name,
                                timeout=context.settings.lock_timeout) as waited:
                    note = stage(context)
                if waited:
                    note = f"{note} (after another worker's run)" if note else note
            else:
                note = stage(context)
        except KbError as exc:
            context.report.source(f"stage:{name}").failed.append(f"{name}: {exc}")
            continue
        finally:
            context.report.timed(name, time.perf_counter() - started)
        if note:
            context.report.notes.append(f"{name}: {note}")


# -- the jobs the CLI runs --------------------------------------------------------------------


# Objects allocated between two young-generation passes of the cyclic garbage collector
# during an import (Python's default: 700). An import allocates millions of objects (records,
# dicts, strings) that reference counting frees; none form cycles worth a pass, yet the
# default made the collector cost about 1 s of CPU of a 10k-incident import (issue 19), and
# its full passes walk the whole growing batch. Fewer passes: about 0.2 s, the same memory.
IMPORT_GC_THRESHOLD = 50_000


@contextlib.contextmanager
def fewer_gc_passes() -> Iterator[None]:
    """Run the block with IMPORT_GC_THRESHOLD young-generation allocations between passes
    of the cyclic collector (older generations as they are), restoring the thresholds after."""
    saved = gc.get_threshold()
    gc.set_threshold(max(saved[0], IMPORT_GC_THRESHOLD), *saved[1:])
    try:
        yield
    finally:
        gc.set_threshold(*saved)


def ingest(line: Line, paths: Iterable[Path], *, provider: str | None = None) -> RunReport:
    """Import recorded payloads (files, or folders of them), detected by content."""
    if provider is not None:
        check_slug(provider, "--provider")
    with fewer_gc_passes():
        return _ingest(line, paths, provider)


def _ingest(line: Line, paths: Iterable[Path], provider: str | None) -> RunReport:
    started = time.perf_counter()
    for root in paths:
        if not root.exists():
            line.report.source(provider or str(root)).failed.append(f"{root}: no such file")
            continue
        strict = not root.is_dir()
        for path in expand([root]):
            try:
                doc = read_recorded(path)
            except OSError as exc:
                line.report.source(provider or str(path)).failed.append(
                    f"{path}: cannot read ({exc.strerror or exc})"
                )
                continue
            try:
                line.feed(doc, provider=provider, label=str(path), strict=strict,
                          archive_source=provider or "import",
                          fetch_proven=has_recorded_time(path))
            except KbError:
                raise
            except Exception as exc:  # one file never stops the import
                _raise_if_database_lost(exc)
                line.report.source(provider or str(path)).failed.append(
                    f"{path}: not imported ({_reason(exc)})")
    line.flush()
    line.report.timed("import", time.perf_counter() - started)
    return line.report


def is_url(target: str) -> bool:
    """An http(s) URL on `kb ingest`'s command line (else a file or folder)."""
    return urlsplit(target).scheme in ("http", "https")


def fetch_urls(line: Line, urls: Iterable[str], fetcher, *,  # type: ignore[no-untyped-def]
               provider: str | None = None) -> RunReport:
    """Fetch each URL once and handle the page as an imported payload (archived, detected by
    content): a fetch error is one failed line naming the URL; the others go on."""
    if provider is not None:
        check_slug(provider, "--provider")
    started = time.perf_counter()
    for url in urls:
        try:
            outcome = fetcher.get(url)
        except FetchError as exc:
            line.report.source(provider or url).failed.append(str(exc))
            continue
        if outcome.doc is None:  # a 304 to an unconditional GET: nothing to read
            line.report.source(provider or url).failed.append(
                f"{url}: not fetched (HTTP {outcome.status}, no body)")
            continue
        try:
            line.feed(outcome.doc, provider=provider, label=url, strict=True)
        except KbError:
            raise
        except Exception as exc:  # one page never stops the run
            _raise_if_database_lost(exc)
            line.report.source(provider or url).failed.append(
                f"{url}: not imported ({_reason(exc)})")
    line.flush()
    line.report.timed("fetch", time.perf_counter() - started)
    return line.report


def reparse(line: Line) -> RunReport:
    """Rebuild every normalized table from the raw archive alone, offline, beside the live
    tables, then swap the result in with one transaction (kb.store.rebuild): readers see the
    old KB or the new one, never half of it, and a kill leaves the old KB as it was.

    Each payload is parsed again under every provider it is stored under (the same bytes
    imported with two `--provider`s keep both); a stored incident the rebuild does not
    reproduce is deleted only when all its payloads were parsed again, else kept, and
    either way listed in the run's notes with its key."""
    started = time.perf_counter()
    attributions = doc_providers(line.store)
    report = line.report
    with shadow_store() as shadow:
        rebuild = Line(shadow, line.archive, line.sources, report=report,
                       progress=line.progress)
        rebuild.signal_store = line.store
        for entry in line.archive.entries():
            try:
                doc = line.archive.load(entry)
            except (KeyError, ValueError, OSError) as exc:
                report.source(entry.source).failed.append(f"{entry.url}: archive: {exc}")
                continue
            # A manifest source is a provider slug, "import", or (from older versions) any
            # text: only a valid slug is taken as a provider.
            fallback = entry.source if valid_slug(entry.source) and entry.source != "import" \
                else None
            for provider in sorted(attributions.get(entry.sha256, ())) or [fallback]:
                if provider is not None and not valid_slug(provider):
                    report.source("reparse").failed.append(
                        f"{entry.url}: stored under provider {provider!r}, not a valid slug; "
                        "not rebuilt (its incidents are kept as stored)")
                    continue
                rebuild.feed(doc, provider=provider, label=entry.url, strict=False,
                             archived=True)
        rebuild.flush()
        # What the shadow marked stored is exactly what was read and parsed again.
        reparsed = {(sha, p) for sha, slugs in doc_providers(shadow).items() for p in slugs}
        result = swap_in(line.store, shadow, reparsed)
    _recount(report, result)
    report.timed("reparse", time.perf_counter() - started)
    return report


def _recount(report: RunReport, result: SwapResult) -> None:
    """The rebuild counted every incident as new in the empty shadow store, and each vendor
    edit it replayed as a revision (none is recorded again); the user wants to know what
    changed in the live one. Signal items were counted against the live store already."""
    for key, outcome in report.outcomes.items():
        entry = report.source(key.partition("/")[0])
        setattr(entry, outcome, getattr(entry, outcome) - 1)
    for entry in report.sources.values():
        entry.revisions = 0
    report.outcomes.clear()
    report.changed.clear()
    report.changed_new.clear()
    for outcome in ("new", "updated", "unchanged"):
        for key in getattr(result, outcome):
            report.count(key.partition("/")[0], key, outcome)
    if result.dropped:
        report.notes.append(
            f"reparse: {len(result.dropped)} stored incident(s) are no longer produced by "
            f"today's parsers from their payloads and were removed, e.g. "
            f"{', '.join(result.dropped[:5])}")
    if result.kept:
        sample = "; ".join(f"{k} ({why})" for k, why in list(result.kept.items())[:5])
        report.notes.append(
            f"reparse: {len(result.kept)} stored incident(s) could not be rebuilt from the "
            f"archive and were kept as stored: {sample}")


SCRAPE_WAIT = 600.0  # seconds a worker waits for another scraping the same page


def parse_shard(text: str) -> tuple[int, int]:
    """`--shard K/N` as (K, N): this worker takes the K-th of N shares of the followed pages
    (1 ≤ K ≤ N). ConfigError (exit 2) for anything else."""
    k, slash, n = text.strip().partition("/")
    if slash and k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n) <= 10_000:
        return int(k), int(n)
    raise ConfigError(f"--shard must be K/N with 1 ≤ K ≤ N (e.g. 2/3), not {text!r}")


def in_shard(slug: str, shard: tuple[int, int]) -> bool:
    """Whether source `slug` belongs to shard K of N: sha1 of the slug modulo N, so every
    worker and every run agree without talking to each other, whatever order the sources
    list has; adding a source moves no other."""
    k, n = shard
    return int(hashlib.sha1(slug.encode("utf-8")).hexdigest(), 16) % n == k - 1


def scrape(line: Line, fetcher, sources: Sequence[SourceConfig]) -> RunReport:  # type: ignore[no-untyped-def]
    """Fetch each configured source's endpoints; a failing one never stops the others."""
    from kb.store.claims import stage_lock

    started = time.perf_counter()
    for source in sources:
        try:
            # Two workers scraping one page (no --shard, or shards overlapping while N
            # changes) take turns on it: each merges into the incidents the other stored,
            # never beside them. A killed worker's lock goes with its connection.
            with stage_lock(line.store, f"scrape:{source.slug}", timeout=SCRAPE_WAIT):
                _scrape_source(line, fetcher, source)
        except DatabaseBusy as exc:  # that page only; the others go on
            line.report.source(source.slug).failed.append(f"{source.slug}: {exc}")
        except KbError:
            raise
        except Exception as exc:  # one source never stops the others
            _raise_if_database_lost(exc)
            line.report.source(source.slug).failed.append(
                f"{source.slug}: stopped by an unexpected error ({_reason(exc)})")
    line.report.timed("scrape", time.perf_counter() - started)
    return line.report


def _scrape_source(line: Line, fetcher, source: SourceConfig) -> None:  # type: ignore[no-untyped-def]
    """Fetch and store one source's endpoints."""
    platform = registry.PLATFORMS[source.platform]
    entry = line.report.source(source.slug)
    for url in platform.urls(source.url):
        try:
            outcome = fetcher.get(url, line.archive.validators(url))
        except FetchError as exc:
            entry.failed.append(str(exc))
            line.store.log_fetch(source.slug, url, "failed", error=str(exc))
            line.progress(url)
            continue
        if outcome.not_modified or outcome.doc is None:
            entry.not_modified += 1
            line.store.log_fetch(source.slug, url, "not_modified", status=outcome.status)
            line.progress(url)
            continue
        line.store.log_fetch(source.slug, url, "fetched", status=outcome.status,
                             sha256=outcome.doc.sha256)
        line.feed(outcome.doc, provider=source.slug, label=url, strict=True)
    line.flush()
