"""What a later stage (link, embed, analysis, site, ...) is handed after the store stage.

Kept apart from `kb.pipeline` so a stage depends on these few types only, never on the line
that fetched and parsed (an import-linter contract in pyproject.toml holds the stages to it).
`kb.pipeline` fills the `RunReport` while storing and runs the stages in `LATER_STAGES` order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # annotations only: importing kb.stage must not open a database layer
    from kb.config import Settings
    from kb.store.repo import Store

__all__ = ["RunReport", "SourceReport", "Stage", "StageContext"]

_RANK = {"unchanged": 0, "updated": 1, "new": 2}  # RunReport.count: an incident moves only up


@dataclass
class SourceReport:
    """What happened to one source (a provider, or a file when the provider is unknown).

    `new`, `updated` and `unchanged` count distinct incidents of the run, each in one
    column only (new beats updated beats unchanged; see `RunReport.count`). For signal
    pseudo-providers they count signal items, distinct within one stored batch."""

    name: str
    docs: int = 0
    skipped_docs: int = 0  # already stored, byte for byte
    not_modified: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    revisions: int = 0
    failed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class RunReport:
    """Everything one run did, per source, plus notes the later stages add."""

    sources: dict[str, SourceReport] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)  # files in folders that are no payload
    notes: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # incident keys new or updated this run
    changed_new: list[str] = field(default_factory=list)  # of those, the ones new this run
    # incident key → its column so far: one incident is in many payloads (JSON and feed,
    # page after page, batch after batch) and must be counted once.
    outcomes: dict[str, str] = field(default_factory=dict, repr=False)
    sources_in_use: str = ""  # which sources list the run used (kb.config.SourceList.line)
    timings: dict[str, float] = field(default_factory=dict)  # stage → seconds, in run order

    def timed(self, stage: str, seconds: float) -> None:
        """Add `seconds` to the time of `stage` (a stage may run in several parts)."""
        self.timings[stage] = self.timings.get(stage, 0.0) + seconds

    def source(self, name: str) -> SourceReport:
        """The report of source `name`, created empty on first use."""
        return self.sources.setdefault(name, SourceReport(name))

    def count(self, source: str, key: str, outcome: str) -> None:
        """Count incident `key` of `source` as "new", "updated" or "unchanged" for this run.

        Seen again, it moves only up (an incident stored by the first batch stays new when a
        later batch merges a feed into it; one unchanged in a skipped payload and edited in
        another is updated), so each incident is in exactly one column."""
        before = self.outcomes.get(key)
        if before is not None and _RANK[before] >= _RANK[outcome]:
            return
        entry = self.source(source)
        if before is not None:
            setattr(entry, before, getattr(entry, before) - 1)
        setattr(entry, outcome, getattr(entry, outcome) + 1)
        self.outcomes[key] = outcome
        if outcome != "unchanged" and before in (None, "unchanged"):
            self.changed.append(key)
        if outcome == "new":
            self.changed_new.append(key)

    @property
    def failures(self) -> list[str]:
        """Every failure line of every source, in source order."""
        return [line for s in self.sources.values() for line in s.failed]

    def total(self, attribute: str) -> int:
        """One count summed over all sources, e.g. `total("new")`."""
        return sum(getattr(s, attribute) for s in self.sources.values())


class StageProgress(Protocol):
    """Where a run is, for the person watching it (the CLI's progress display implements it):
    `begin(stage)` as each stage starts, then counts in either shape a stage has at hand,
    `start(total)` + `advance(n)` or `(done, total)`. Stages that count nothing only begin."""

    def begin(self, stage: str) -> None: ...

    def start(self, total: int) -> None: ...

    def advance(self, done: int = 1) -> None: ...

    def __call__(self, done: int, total: int | None) -> None: ...


@dataclass
class StageContext:
    """What a later stage (embed, link, site, ...) gets after the store stage."""

    store: Store
    settings: Settings
    report: RunReport
    progress: StageProgress | None = None  # None: nobody is watching (tests, library use)


# A stage returns a one-line note for the run summary, or None. It must be idempotent and
# keyed by content hash: `kb update` runs every stage on every run, also when nothing changed.
Stage = Callable[[StageContext], str | None]
