"""Times a record can be placed at: the screen every parsed payload passes before it is stored.

Why here and not in each parser: every format reads its times its own way (ISO fields, feed
stamps, prose dates), but a time of year 1 or 9999 is wrong in all of them, and one such time
used to crash the site (an SVG timeline of 2,000 years) and `kb similar`. So the line calls
`screen` on whatever a parser returns (kb.pipeline.Line.feed), and every parser benefits.

The bounds (docs/reliability.md, "Hostile records"):
- no time before 1990-01-01: before the web there were no status pages, so such a time is a
  placeholder (0001-01-01, the Unix epoch) or an error;
- a posted time (creation, update, start, monitoring, resolution, last update, a signal's
  date, a payload's own date) no later than one day after now: nothing is posted from the
  future, and a day covers zone mistakes;
- a scheduled time (maintenance windows) no later than 366 days after now: windows are
  announced weeks or months ahead, never years.

A time outside them is dropped with a warning naming the record (an update at such a time is
dropped; a vendor-stated impact period with such a bound is dropped, since an end that is
dropped would read as "still impaired"). A record left with no time at all cannot be placed
on any timeline or in any figure and is refused, with a warning. An update posted more than a
day before its incident was created is kept (Statuspage lets vendors backfill an incident's
updates) but warned about.

Once the line knows whose payload it is, `screen_before` applies a later floor the same way:
the date the provider began (kb/data/provider_epochs.toml, read by kb.epochs). An update or
incident dated before the company or service existed is a placeholder or a typo; it is
dropped (or, with no time left, refused) with a warning naming the record, so no figure
counts it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from scrapers.records import IncidentRecord, ParsedDoc, SignalRecord

EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
POSTED_SLACK = timedelta(days=1)
SCHEDULE_HORIZON = timedelta(days=366)
WARNINGS_PER_PAYLOAD = 20  # then one line of counts: 250,000 junk records are not 250,000 lines

_POSTED = ("created_at", "started_at", "monitoring_at", "resolved_at", "updated_at")
_SCHEDULED = ("scheduled_for", "scheduled_until")


def plausible(value: datetime, *, now: datetime, scheduled: bool = False,
              earliest: datetime = EARLIEST) -> bool:
    """True when `value` lies within the bounds above (`scheduled`: a maintenance window;
    `earliest`: a later floor than 1990, e.g. when the provider began)."""
    latest = now + (SCHEDULE_HORIZON if scheduled else POSTED_SLACK)
    return earliest <= value <= latest


def screen(parsed: ParsedDoc, source: str, *, now: datetime | None = None) -> ParsedDoc:
    """`parsed` with implausible times dropped and unplaceable records refused; one warning
    per record touched (naming `source` and the record id), at most WARNINGS_PER_PAYLOAD,
    then a line of counts by reason. Returns `parsed` itself when nothing needed changing."""
    check = Screen(source, now=now)
    incidents = [kept for r in parsed.incidents if (kept := check.incident(r)) is not None]
    signals = tuple(check.signal(s) for s in parsed.signals)
    as_of = check.as_of(parsed.as_of)
    if not check.lines:
        return parsed
    # a parser that streams has screened its records already (Screen): its lines are not
    # repeated
    new = tuple(w for w in check.warnings() if w not in parsed.warnings)
    return replace(parsed, incidents=tuple(incidents), signals=signals, as_of=as_of,
                   warnings=parsed.warnings + new)


def screen_before(parsed: ParsedDoc, source: str, earliest: datetime, why: str, *,
                  now: datetime | None = None) -> ParsedDoc:
    """`parsed` without the times before `earliest` (`why` says what that date is, e.g.
    "github began (about 2008-02)"): dropped updates and times, refused records, one warning
    each, as `screen` does. Signals and the payload's own date are left alone (a news story
    may predate a provider's name). Returns `parsed` itself when nothing is that early."""
    check = Screen(source, now=now, earliest=earliest, why=why)
    incidents = [kept for r in parsed.incidents if (kept := check.incident(r)) is not None]
    if not check.lines:
        return parsed
    return replace(parsed, incidents=tuple(incidents),
                   warnings=parsed.warnings + tuple(check.warnings()))


class Screen:
    """The checks of `screen`, one record at a time, for a parser that streams a large
    payload and must refuse junk as it goes (memory stays that of one record)."""

    def __init__(self, source: str, *, now: datetime | None = None,
                 earliest: datetime = EARLIEST, why: str | None = None) -> None:
        self.source = source
        self.now = now or datetime.now(UTC)
        self.earliest = earliest  # a later floor (screen_before): `why` names it
        self.why = why
        self.lines: list[str] = []  # shown
        self.hidden = 0  # counted only
        self.reasons: Counter[str] = Counter()

    def incident(self, record: IncidentRecord) -> IncidentRecord | None:
        """`record` with implausible times dropped, or None (warned) when it cannot be placed."""
        return _screen_incident(record, self.now, self)

    def signal(self, signal: SignalRecord) -> SignalRecord:
        """`signal` with an implausible date dropped (warned)."""
        return _screen_signal(signal, self.now, self)

    def as_of(self, value: datetime | None) -> datetime | None:
        """A payload's own date, or None (warned) when implausible."""
        if value is not None and not plausible(value, now=self.now):
            self.add(None, "payload date", f"its own date {_show(value)} is implausible; ignored")
            return None
        return value

    def add(self, record: str | None, reason: str, text: str) -> None:
        self.reasons[reason] += 1
        if len(self.lines) < WARNINGS_PER_PAYLOAD:
            what = f"record {record}: " if record is not None else ""
            self.lines.append(f"{self.source}: {what}{text}")
        else:
            self.hidden += 1

    def warnings(self) -> list[str]:
        """The warning lines: a line of counts when some were not kept, then the first
        WARNINGS_PER_PAYLOAD."""
        shown, hidden = list(self.lines), self.hidden
        if hidden:  # the count first: a terminal summary shows only the first few lines
            counts = ", ".join(f"{reason} {n:,}" for reason, n in self.reasons.most_common())
            shown.insert(0, f"{self.source}: {len(self.lines) + hidden:,} records with "
                            f"problems (by reason: {counts}); the first "
                            f"{len(self.lines)} follow")
        return shown


def _show(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _screen_incident(record: IncidentRecord, now: datetime,
                     notes: Screen) -> IncidentRecord | None:
    ident = record.native_id
    changes: dict[str, object] = {}
    dropped: list[str] = []

    def ok(value: datetime, scheduled: bool = False) -> bool:
        return plausible(value, now=now, scheduled=scheduled, earliest=notes.earliest)

    for name in (*_POSTED, *_SCHEDULED):
        value = getattr(record, name)
        if value is not None and not ok(value, name in _SCHEDULED):
            changes[name] = None
            dropped.append(f"{name} {_show(value)}")
    updates = []
    for update in record.updates:
        if not ok(update.at):
            dropped.append(f"update at {_show(update.at)}")
            continue
        if update.created_at is not None and not ok(update.created_at):
            dropped.append(f"update created_at {_show(update.created_at)}")
            update = replace(update, created_at=None)
        updates.append(update)
    if len(updates) != len(record.updates) or any(
            a is not b for a, b in zip(updates, record.updates, strict=False)):
        changes["updates"] = tuple(updates)
        if len(updates) != len(record.updates):
            changes["updates_complete"] = False
    impacts = tuple(i for i in record.impacts if ok(i.start) and (i.end is None or ok(i.end)))
    if len(impacts) != len(record.impacts):
        dropped.append(f"{len(record.impacts) - len(impacts)} impact period(s)")
        changes["impacts"] = impacts
    screened = replace(record, **changes) if changes else record  # type: ignore[arg-type]
    times = [getattr(screened, n) for n in (*_POSTED, *_SCHEDULED)]
    if notes.why is not None:  # the provider's floor (screen_before): its own words
        if dropped and not any(times) and not screened.updates and not screened.impacts:
            notes.add(ident, "before the provider began",
                      f"refused: every time is before {notes.why} ({'; '.join(dropped[:3])})")
            return None
        if dropped:
            notes.add(ident, "before the provider began",
                      f"ignored time(s) before {notes.why}: {'; '.join(dropped[:3])}"
                      + (f" and {len(dropped) - 3} more" if len(dropped) > 3 else ""))
        return screened  # the order of updates was checked by the first screen
    if not any(times) and not screened.updates and not screened.impacts:
        if dropped:
            notes.add(ident, "implausible times",
                      f"refused: every time is implausible ({'; '.join(dropped[:3])}; "
                      f"allowed {_show(EARLIEST)[:10]} to a day from now)")
        else:
            notes.add(ident, "no time", "refused: no date at all, so it cannot be placed")
        return None
    if dropped:
        notes.add(ident, "implausible times",
                  f"ignored implausible time(s): {'; '.join(dropped[:3])}"
                  + (f" and {len(dropped) - 3} more" if len(dropped) > 3 else ""))
    created = screened.created_at
    if created is not None:
        early = [u for u in screened.updates if u.at < created - POSTED_SLACK]
        if early:
            notes.add(ident, "update before creation",
                      f"{len(early)} update(s) dated before the incident was created "
                      f"({_show(min(u.at for u in early))} < {_show(created)}); kept")
    return screened


def _screen_signal(signal: SignalRecord, now: datetime, notes: Screen) -> SignalRecord:
    if signal.created_at is None or plausible(signal.created_at, now=now):
        return signal
    notes.add(signal.native_id, "implausible times",
              f"ignored implausible date {_show(signal.created_at)}")
    return replace(signal, created_at=None)
