"""`kb backfill PROVIDER`: a Statuspage page's whole history, not only its latest 50 incidents.

Two phases, both resumable:

1. Walk `/history.json?page=1, 2, ...` (about three months a page, newest first) collecting
   every incident code, until the page runs out of months or EMPTY_PAGES_TO_STOP pages in a
   row list nothing (a year of silence: the page's first incident lies behind us).
2. Fetch `/api/v2/incidents/<code>.json` for each code through the normal line
   (`Line.feed` + `flush`): the raw payload is archived first, bytes already stored are
   skipped, an incident whose content hash is unchanged is left alone.

Progress lives in a small JSON state file (`$KB_HOME/backfill/<slug>.json`, replaced
atomically): pages walked, codes listed, codes stored. A run that is interrupted (Ctrl-C, a
server that fails midway, a killed process) continues where it stopped; codes are marked done
only after their batch is stored, and an incident already stored from the API with the same
title and latest update as the index lists is not requested again. Politeness is the
Fetcher's per-host delay; every failure is one line naming its URL.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.config import SourceConfig
from kb.errors import ConfigError, NotFound
from kb.model import FINAL_STATUSES
from kb.normalize.merge import text_key
from kb.pipeline import Line
from scrapers import statuspage, statuspage_history
from scrapers.errors import FetchError, ParseError
from scrapers.fetch import Fetcher
from scrapers.markup import html_to_text
from scrapers.records import RawDoc

__all__ = ["BackfillReport", "backfill", "state_path"]

STATE_VERSION = 1
EMPTY_PAGES_TO_STOP = 4  # four ~3-month pages with nothing listed: the history has ended
STALE_PAGES = 3  # pages in a row reaching no further back: the walk is going nowhere
MAX_CONSECUTIVE_FAILURES = 3  # then the server is down: stop, save, resume next run
FLUSH_EVERY = 25  # incidents per stored batch (and per state save)

Progress = Callable[[str], None]


@dataclass
class BackfillReport:
    """What one backfill run did (the line's RunReport holds the stored/unchanged counts)."""

    provider: str
    pages_fetched: int = 0  # this run
    pages_walked: int = 0  # in all runs so far
    walk_complete: bool = False
    listed: int = 0  # incident codes the index lists
    fetched: int = 0  # incident payloads requested this run
    skipped_stored: int = 0  # already stored from the API, unchanged: not requested
    done_before: int = 0  # stored by an earlier run
    remaining: int = 0  # listed but not stored yet
    oldest_month: str | None = None  # "2010-02": the earliest month the index lists
    failed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # index entries skipped, one line each
    stopped: str | None = None  # why this run ended early, if it did

    def summary(self) -> str:
        walk = "complete" if self.walk_complete else "incomplete"
        line = (f"backfill {self.provider}: history walked to page {self.pages_walked} "
                f"({walk}, {self.pages_fetched} fetched now); {self.listed} incidents listed"
                f"{', back to ' + self.oldest_month if self.oldest_month else ''}; "
                f"{self.fetched} fetched, {self.skipped_stored} already stored unchanged, "
                f"{self.done_before} done earlier, {self.remaining} remaining")
        if self.stopped:
            line += f"; stopped: {self.stopped} (run again to resume)"
        elif self.walk_complete and not (self.pages_fetched or self.fetched or self.remaining):
            line += "; nothing left to do (--restart walks the history again)"
        return line


def state_path(home: Path, slug: str) -> Path:
    """Where the progress of `kb backfill SLUG` is kept."""
    return home / "backfill" / f"{slug}.json"


class _State:
    """The resumable progress of one provider's backfill, persisted as JSON."""

    def __init__(self, path: Path, base_url: str) -> None:
        self.path = path
        self.base_url = base_url
        self.next_page = 1
        self.empty_run = 0
        self.walk_complete = False
        self.oldest: tuple[int, int] | None = None  # (year, month) of the oldest group seen
        self.codes: dict[str, dict[str, Any]] = {}  # code → {"name", "msg", "month"}, listing order
        self.done: set[str] = set()

    @classmethod
    def load(cls, path: Path, base_url: str) -> _State:
        state = cls(path, base_url)
        if not path.is_file():
            return state
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") != STATE_VERSION or data.get("base_url") != base_url:
                return state  # another page or an older format: start over
            state.next_page = int(data["next_page"])
            state.empty_run = int(data.get("empty_run", 0))
            state.walk_complete = bool(data["walk_complete"])
            oldest = data.get("oldest")
            state.oldest = (int(oldest[0]), int(oldest[1])) if oldest else None
            state.codes = {str(k): dict(v) for k, v in data["codes"].items()}
            state.done = {str(c) for c in data["done"]}
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise ConfigError(f"{path}: unreadable backfill state ({exc}); "
                              "delete it or pass --restart") from None
        return state

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "version": STATE_VERSION, "base_url": self.base_url, "next_page": self.next_page,
            "empty_run": self.empty_run, "walk_complete": self.walk_complete,
            "oldest": list(self.oldest) if self.oldest else None,
            "codes": self.codes, "done": sorted(self.done),
        }
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=0), encoding="utf-8")
        os.replace(tmp, self.path)  # atomic: a crash leaves the old state or the new one


def backfill(
    line: Line,
    fetcher: Fetcher,
    source: SourceConfig,
    state_file: Path,
    *,
    max_pages: int = 400,
    restart: bool = False,
    progress: Progress | None = None,
) -> BackfillReport:
    """Walk the history index of `source`, then store every listed incident (see module doc).

    Interruptions (KeyboardInterrupt included) store what was fetched and save the state
    before propagating; the next call resumes.
    """
    if source.platform != "statuspage":
        raise ConfigError(f"kb backfill reads Statuspage history; {source.slug} is a "
                          f"{source.platform} page")
    if restart and state_file.exists():
        state_file.unlink()
    state = _State.load(state_file, source.url)
    report = BackfillReport(source.slug)
    tick = progress or (lambda _label: None)
    try:
        _walk(line, fetcher, source, state, report, max_pages, tick)
        if report.stopped is None:
            _fetch_incidents(line, fetcher, source, state, report, tick)
    finally:
        state.save()
        line.flush()  # history pages fed by an interrupted walk are marked stored too
        report.pages_walked = state.next_page - 1
        report.walk_complete = state.walk_complete
        report.listed = len(state.codes)
        report.remaining = len(set(state.codes) - state.done)
        report.oldest_month = _oldest_listed(state)
        entry = line.report.source(source.slug)
        entry.failed.extend(report.failed)
        entry.warnings.extend(report.warnings)
    return report


def _walk(line: Line, fetcher: Fetcher, source: SourceConfig, state: _State,
          report: BackfillReport, max_pages: int, tick: Progress) -> None:
    stale = 0
    while not state.walk_complete and state.next_page <= max_pages:
        url = f"{source.url}/history.json?page={state.next_page}"
        try:
            outcome = fetcher.get(url)
        except FetchError as exc:
            report.failed.append(str(exc))
            report.stopped = f"history page {state.next_page} unreachable"
            return
        tick(url)
        if outcome.doc is None:  # no validators were sent, so a 304 is a confused server
            report.failed.append(f"{url}: HTTP {outcome.status} without a body")
            report.stopped = f"history page {state.next_page} unreadable"
            return
        report.pages_fetched += 1
        failures = len(line.report.source(source.slug).failed)
        line.feed(outcome.doc, provider=source.slug, label=url, strict=True)
        try:
            page = statuspage_history.read_page(outcome.doc)
        except ParseError as exc:
            if len(line.report.source(source.slug).failed) == failures:
                report.failed.append(str(exc))  # the line did not report it already
            report.stopped = f"history page {state.next_page} is not a history page"
            return
        report.warnings.extend(page.warnings)
        # A page must reach further back than the ones before it. A server that ignores
        # ?page= answers page 1 forever; a walk resumed months later may meet a few pages
        # that time has shifted forward. STALE_PAGES such pages in a row end the walk.
        reaches_back = not state.oldest or not page.months or min(page.months) < state.oldest
        stale = 0 if reaches_back else stale + 1
        if stale >= STALE_PAGES:
            report.failed.append(f"{url}: goes no further back than the pages before it "
                                 "(the server may ignore ?page=); history walk stopped")
            report.stopped = f"history page {state.next_page} repeats earlier months"
            return
        for entry in page.entries:
            state.codes.setdefault(entry.code, {
                "name": entry.name, "msg": _digest(entry.message),
                "month": f"{entry.year:04d}-{entry.month:02d}",
            })
        if page.months:
            state.oldest = min([*page.months, *([state.oldest] if state.oldest else [])])
        state.empty_run = 0 if page.entries else state.empty_run + 1
        state.next_page += 1
        if not page.months or state.empty_run >= EMPTY_PAGES_TO_STOP:
            state.walk_complete = True
        state.save()


def _fetch_incidents(line: Line, fetcher: Fetcher, source: SourceConfig, state: _State,
                     report: BackfillReport, tick: Progress) -> None:
    report.done_before = len(state.done & set(state.codes))
    pending: list[str] = []
    consecutive = 0
    try:
        for code, listed in state.codes.items():
            if code in state.done:
                continue
            if _stored_unchanged(line, source.slug, code, listed):
                state.done.add(code)
                report.skipped_stored += 1
                continue
            url = f"{source.url}/api/v2/incidents/{code}.json"
            try:
                outcome = fetcher.get(url)
            except FetchError as exc:
                report.failed.append(str(exc))
                consecutive += 1
                if consecutive >= MAX_CONSECUTIVE_FAILURES:
                    report.stopped = f"{consecutive} incident requests failed in a row"
                    return
                continue
            consecutive = 0
            report.fetched += 1
            tick(url)
            if outcome.doc is None:
                report.failed.append(f"{url}: HTTP {outcome.status} without a body")
                continue
            other = _other_incident(outcome.doc, code)
            if other is not None:  # a confused or lying server: keep the bytes, store nothing
                line.archive.put(outcome.doc, source=source.slug)
                report.failed.append(f"{url}: answered with incident {other!r}, not {code!r}")
                continue
            failures = len(line.report.source(source.slug).failed)
            line.feed(outcome.doc, provider=source.slug, label=url, strict=True)
            if len(line.report.source(source.slug).failed) > failures:
                continue  # reported by the line (one line); retried by the next run
            pending.append(code)
            if len(pending) >= FLUSH_EVERY:
                _commit(line, state, pending)
    finally:
        _commit(line, state, pending)


def _commit(line: Line, state: _State, pending: list[str]) -> None:
    """Store the batch, then (only then) mark its codes done and save the state."""
    line.flush()
    state.done.update(pending)
    pending.clear()
    state.save()


def _stored_unchanged(line: Line, slug: str, code: str, listed: dict[str, Any]) -> bool:
    """Whether the store already holds this incident from the API, closed, with the title and
    latest update the index lists (so a request would bring nothing new)."""
    try:
        incident = line.store.get(f"{slug}/{code}")
    except NotFound:
        return False
    if not incident.updates or not incident.updates_complete:
        return False
    if not any(s.format == "statuspage" for s in incident.sources):
        return False  # seen only in a feed: the API payload is richer
    if incident.status.strip().lower() not in FINAL_STATUSES:
        return False
    return incident.title == listed.get("name") and _digest(
        incident.updates[-1].body) == listed.get("msg")


def _other_incident(doc: RawDoc, code: str) -> str | None:
    """The id a Statuspage incident payload names when it is not `code`; None when it is
    `code` or is no readable incident payload (the line reports those)."""
    try:
        ids = [i.native_id for i in statuspage.parse(doc).incidents]
    except ParseError:
        return None
    return None if not ids or code in ids else ids[0]


def _digest(body: str) -> str:
    """A short fingerprint of an update body's words (markup and spacing ignored)."""
    return hashlib.sha256(text_key(html_to_text(body or "")).encode()).hexdigest()[:16]


def _oldest_listed(state: _State) -> str | None:
    months = [v.get("month") for v in state.codes.values() if v.get("month")]
    return min(months) if months else None
