"""Plain records: what a parser hands to the rest of the line.

All datetimes are timezone-aware UTC. Raw vendor vocabulary (labels, impacts, component
statuses) is kept as given; mapping it onto canonical phases and severities is `kb`'s job.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RawDoc:
    """One payload exactly as received, plus where and when it came from."""

    body: bytes
    url: str  # the URL it was fetched from, or a file:// URI for imported files
    fetched_at: datetime  # UTC
    status: int = 200
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    sha256: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.sha256:
            object.__setattr__(self, "sha256", hashlib.sha256(self.body).hexdigest())


@dataclass(frozen=True, slots=True)
class ComponentRecord:
    """A component of a status page (or one affected by an incident)."""

    name: str
    code: str | None = None
    status: str | None = None  # raw: operational, degraded_performance, partial_outage, ...


@dataclass(frozen=True, slots=True)
class ComponentChange:
    """A component status change announced with one update."""

    name: str
    code: str | None = None
    old_status: str | None = None
    new_status: str | None = None


@dataclass(frozen=True, slots=True)
class ComponentImpact:
    """A period the vendor itself says one component was impaired (incident.io's
    `component_impacts`): a machine-stated impact window, better evidence than prose."""

    name: str  # display name, or the component id where the payload names none
    start: datetime  # UTC
    end: datetime | None = None  # None: still impaired when the payload was made
    code: str | None = None
    status: str | None = None  # raw: degraded_performance, partial_outage, full_outage, ...


@dataclass(frozen=True, slots=True)
class UpdateRecord:
    """One update posted on an incident, as published."""

    at: datetime  # when the page shows it was posted (Statuspage display_at), UTC
    label: str  # raw status or label: "investigating", "Update", "fixing", "Resolved", ...
    body: str  # as published: plain text, HTML or Markdown (see body_format)
    body_format: str = "text"  # "text" | "html" | "markdown"
    native_id: str | None = None
    created_at: datetime | None = None  # vendor's creation time when it differs from `at`
    components: tuple[ComponentChange, ...] = ()
    at_precision: str = "second"  # "second", or "minute" for feed stamps like "Oct 7, 21:23 UTC"


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    """One incident or maintenance as one payload describes it."""

    native_id: str  # Statuspage code, incident.io ULID, ...
    title: str
    channel: str  # the format family that produced it: "statuspage_json", "statuspage_feed", ...
    kind: str = "incident"  # "incident" | "maintenance"
    url: str | None = None
    page_url: str | None = None  # base URL of the status page, a provider hint
    status: str | None = None  # raw current status
    impact: str | None = None  # raw impact (none, minor, major, critical, maintenance, ...)
    created_at: datetime | None = None
    started_at: datetime | None = None
    monitoring_at: datetime | None = None
    resolved_at: datetime | None = None
    updated_at: datetime | None = None
    scheduled_for: datetime | None = None
    scheduled_until: datetime | None = None
    shortlink: str | None = None
    components: tuple[ComponentRecord, ...] = ()
    updates: tuple[UpdateRecord, ...] = ()  # any order; the normalizer sorts
    updates_complete: bool = True  # False where the source shows only the latest state
    impacts: tuple[ComponentImpact, ...] = ()  # vendor-stated component impact periods


@dataclass(frozen=True, slots=True)
class PageInfo:
    """The status page a payload came from."""

    name: str | None = None
    url: str | None = None
    page_id: str | None = None
    time_zone: str | None = None


@dataclass(frozen=True, slots=True)
class SignalRecord:
    """A community or press item that may be about an outage: a forum thread, a news article.

    Which provider and incident it concerns is decided later (kb.signals); a parser only says
    what the item is. `source` + `native_id` identify it within its source.
    """

    source: str  # "hackernews", "reddit", "lobsters", "news"
    native_id: str  # HN objectID, reddit fullname, a feed entry's id, an article's URL
    title: str
    url: str | None = None  # what the item points at (article, status page); None for text posts
    discussion_url: str | None = None  # the thread itself (HN item page, reddit comments page)
    created_at: datetime | None = None  # UTC; for articles the published time
    author: str | None = None
    points: int | None = None
    comments: int | None = None
    text: str = ""  # plain text: story text, feed summary or the article's lead paragraphs
    top_comments: tuple[str, ...] = ()  # plain text of the thread's leading comments
    site: str | None = None  # publisher or feed name ("The Register")
    feed_url: str | None = None  # the feed or search the item was listed in
    notes: tuple[str, ...] = ()  # what could not be read, one line each ("paywalled: ...")


@dataclass(frozen=True, slots=True)
class PostmortemRecord:
    """A postmortem, incident report or write-up a provider (or someone) published, as a list
    or document states it. Nothing is inferred here: which KB provider and incidents it is
    about is decided later (kb.postmortems); times are only those the source states.

    `source` + `native_id` identify it within its source; `url` is the write-up itself (two
    lists citing one write-up are merged later by that URL).
    """

    source: str  # "icco" (annotated front-matter Markdown), "danluu" (the list), ...
    native_id: str  # the icco uuid; the danluu entry's URL
    url: str  # the write-up (an archive.org copy is kept in archive_url when both are known)
    title: str
    company: str | None = None  # as the source names it: "Amazon", "Google", "CCP Games"
    product: str | None = None  # as named; may list several ("EC2, EBS, RDS")
    start: datetime | None = None  # stated start of the event, UTC
    end: datetime | None = None  # stated end, UTC
    published_at: datetime | None = None  # when the write-up itself was published
    categories: tuple[str, ...] = ()  # the source's categories ("cloud", "config-change", ...)
    keywords: tuple[str, ...] = ()
    summary: str = ""  # the source's short summary (plain text or light Markdown)
    text: str = ""  # the body as given (Markdown)
    archive_url: str | None = None
    notes: tuple[str, ...] = ()  # what could not be read, one line each ("start_time: ...")


@dataclass(frozen=True, slots=True)
class ParsedDoc:
    """Everything one payload yielded."""

    format: str  # name of the format module that parsed it
    incidents: tuple[IncidentRecord, ...] = ()
    page: PageInfo | None = None
    components: tuple[ComponentRecord, ...] = ()  # page-level components (summary/components.json)
    as_of: datetime | None = None  # the payload's own timestamp (feed <updated>, retrieved_at, ...)
    provider_hint: str | None = None  # a provider slug the payload names (archiver wrappers)
    warnings: tuple[str, ...] = ()  # entries skipped, one line each with the reason
    signals: tuple[SignalRecord, ...] = ()  # forum threads and news items about outages
    postmortems: tuple[PostmortemRecord, ...] = ()  # published write-ups (kb.postmortems)
    # True when the payload lists only what is still open (Statuspage summary.json): an item
    # missing from a later such payload of the same page has ended (kb.normalize.snapshots)
    lists_open_only: bool = False


def _time_out(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _time_in(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def record_to_dict(record: IncidentRecord) -> dict:
    """A JSON-ready dict of an IncidentRecord (lossless; see record_from_dict)."""
    data = {}
    for name in IncidentRecord.__slots__:  # type: ignore[attr-defined]
        value = getattr(record, name)
        if isinstance(value, datetime):
            value = value.isoformat()
        data[name] = value
    data["components"] = [
        {"name": c.name, "code": c.code, "status": c.status} for c in record.components
    ]
    data["updates"] = [
        {
            "at": u.at.isoformat(),
            "label": u.label,
            "body": u.body,
            "body_format": u.body_format,
            "native_id": u.native_id,
            "created_at": _time_out(u.created_at),
            "components": [
                [c.name, c.code, c.old_status, c.new_status] for c in u.components
            ],
            "at_precision": u.at_precision,
        }
        for u in record.updates
    ]
    data["impacts"] = [
        [i.name, i.code, i.status, i.start.isoformat(), _time_out(i.end)] for i in record.impacts
    ]
    return data


_RECORD_TIMES = (
    "created_at", "started_at", "monitoring_at", "resolved_at", "updated_at",
    "scheduled_for", "scheduled_until",
)


def record_from_dict(data: dict) -> IncidentRecord:
    """Inverse of record_to_dict."""
    fields = dict(data)
    for name in _RECORD_TIMES:
        fields[name] = _time_in(fields.get(name))
    fields["components"] = tuple(ComponentRecord(**c) for c in fields.get("components", ()))
    fields["updates"] = tuple(
        UpdateRecord(
            at=datetime.fromisoformat(u["at"]),
            label=u["label"],
            body=u["body"],
            body_format=u["body_format"],
            native_id=u["native_id"],
            created_at=_time_in(u["created_at"]),
            components=tuple(ComponentChange(*c) for c in u["components"]),
            at_precision=u["at_precision"],
        )
        for u in fields.get("updates", ())
    )
    fields["impacts"] = tuple(
        ComponentImpact(name=name, code=code, status=status, start=datetime.fromisoformat(start),
                        end=_time_in(end))
        for name, code, status, start, end in fields.get("impacts", ())
    )
    return IncidentRecord(**fields)
