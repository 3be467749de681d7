"""AWS Health Dashboard posts grouped into events; shared by `aws_json` and `aws_rss`.

The legacy dashboard lists one row per service (and region) per event: the Dec 7 2021
us-east-1 outage is nine rows (AWS Management Console, EC2, Connect, DynamoDB, Support Center,
EventBridge, API Gateway, ECS, Batch), each with its own summary and updates. One incident
with several components is what a reader means by "the outage", so rows are grouped.

Grouping key, decided from the 86 recorded rows (../shared/corpus/aws_health_json):
  1. the row's region: the suffix of its service key (`ec2-us-east-1` → us-east-1; the legacy
     `s3-us-standard` → us-east-1) or, for global services (`management-console`,
     `cloudfront`, `supportcenter`), the first region code its own text names ("... in the
     US-EAST-1 Region"); rows of one region whose active windows (first to last post) overlap
     are one event. In the corpus this joins the Dec 7 2021 rows, S3 + Redshift on Nov 9
     2021 (Redshift reboots caused by S3 PUT latency), ACM + CloudFront on Jun 29 2021
     ("related to the ACM issue in the US-EAST-1 Region") and the Dec 22 2021 power loss with
     the SSO/Directory Service errors that started at the same minute;
  2. rows with the same summary first posted within 30 minutes of each other, in any region:
     the Dec 15 2021 "Internet Connectivity" posts for us-west-2, us-west-1 and us-gov-west-1.
  Rows of one service that do not overlap stay apart (Redshift console errors Dec 9 2021,
  posted again 90 minutes after the first was resolved). A global row naming no region only
  joins through rule 2.
The event's id is `<service>_<epoch>` of its earliest row: the key AWS itself uses in RSS
guids (`http://status.aws.amazon.com/#sns-us-east-1_1642200240`), so JSON and feed agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from scrapers.markup import html_to_text
from scrapers.records import ComponentChange, ComponentRecord, IncidentRecord, UpdateRecord

LEGACY_PAGE = "https://status.aws.amazon.com"
RESOLVED_MARK = "[RESOLVED]"
SAME_SUMMARY_WINDOW = timedelta(minutes=30)

_REGION = re.compile(
    r"\b((?:us-gov|us|eu|ap|sa|ca|me|af|il|mx|cn)-(?:north|south|east|west|central|northeast|"
    r"northwest|southeast|southwest)-\d)\b",
    re.I,
)
_LEGACY_REGIONS = {"us-standard": "us-east-1"}
_MARKS = re.compile(r"^\s*(?:\[(?:resolved|informational|update)[^\]]*\]\s*)+", re.I)


@dataclass
class Row:
    """One service's share of an event: a data.json row, or one service's feed items."""

    service: str  # AWS service key: "ec2-us-east-1"
    service_name: str
    summary: str  # as published, "[RESOLVED] ..." prefix included
    first_post: datetime  # the dashboard's epoch `date` (first post), UTC
    status: str | None = None  # raw status: "1".."3" (JSON) or a feed title's status words
    posts: list[UpdateRecord] = field(default_factory=list)

    @property
    def resolved(self) -> bool:
        return self.summary.lstrip().upper().startswith(RESOLVED_MARK)

    @property
    def ident(self) -> str:
        return f"{self.service}_{int(self.first_post.timestamp())}"

    def window(self) -> tuple[datetime, datetime]:
        times = [p.at for p in self.posts] or [self.first_post]
        return min(times), max(times)

    def region(self) -> str | None:
        key = self.service.lower()
        for legacy, region in _LEGACY_REGIONS.items():
            if key.endswith(f"-{legacy}"):
                return region
        found = _REGION.search(key)
        if found and key.endswith(found.group(1)):
            return found.group(1)
        for post in self.posts:
            found = _REGION.search(html_to_text(post.body))
            if found:
                return found.group(1).lower()
        return None


def clean_summary(summary: str) -> str:
    """A summary without its state marks ("[RESOLVED] Increased Error Rates" → "Increased
    Error Rates"), whitespace tidied."""
    return " ".join(_MARKS.sub("", summary).split())


def group_rows(rows: list[Row]) -> list[list[Row]]:
    """Rows joined into events by the rules in the module docstring; each group and the list
    of groups are ordered by first post."""
    ordered = sorted(rows, key=lambda r: (r.first_post, r.service))
    parent = list(range(len(ordered)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    regions = [r.region() for r in ordered]
    windows = [r.window() for r in ordered]
    summaries = [clean_summary(r.summary).casefold() for r in ordered]
    for i in range(len(ordered)):
        for j in range(i + 1, len(ordered)):
            same_region = regions[i] is not None and regions[i] == regions[j]
            overlap = windows[i][0] <= windows[j][1] and windows[j][0] <= windows[i][1]
            same_summary = bool(summaries[i]) and summaries[i] == summaries[j] and (
                abs(ordered[j].first_post - ordered[i].first_post) <= SAME_SUMMARY_WINDOW
            )
            if (same_region and overlap) or same_summary:
                parent[root(j)] = root(i)
    groups: dict[int, list[Row]] = {}
    for index, row in enumerate(ordered):
        groups.setdefault(root(index), []).append(row)
    return list(groups.values())


def event_record(
    rows: list[Row], *, channel: str, page_url: str, complete: bool,
    impact: str | None = None,
) -> IncidentRecord:
    """One IncidentRecord for a group of rows (see `group_rows`).

    Updates keep their raw labels; when every row is marked [RESOLVED], the event's last update
    without a label of its own gets "[RESOLVED]" (the vendor's word, placed where it applies),
    and `resolved_at` is that update's time: AWS gives no end time of its own.
    """
    first = rows[0]
    merged: dict[tuple[datetime, str], UpdateRecord] = {}
    for row in rows:
        change = ComponentChange(name=row.service_name, code=row.service)
        for post in row.posts:
            key = (post.at, " ".join(html_to_text(post.body).split()).casefold())
            held = merged.get(key)
            if held is None:
                merged[key] = replace(post, components=(change,))
            elif change not in held.components:
                merged[key] = replace(held, components=(*held.components, change))
    updates = sorted(merged.values(), key=lambda u: (u.at, u.native_id or ""))
    resolved = all(r.resolved for r in rows)
    resolved_at = None
    if resolved and updates:
        last = updates[-1]
        resolved_at = last.at
        if not last.label:
            updates[-1] = replace(last, label=RESOLVED_MARK)
    return IncidentRecord(
        native_id=first.ident,
        title=clean_summary(first.summary) or first.service_name or first.service,
        channel=channel,
        kind="incident",
        url=None,
        page_url=page_url,
        status="resolved" if resolved else None,
        impact=impact if impact is not None else worst_status(r.status for r in rows),
        created_at=first.first_post,
        resolved_at=resolved_at,
        updated_at=max((u.at for u in updates), default=None),
        components=tuple(
            ComponentRecord(name=r.service_name, code=r.service, status=r.status) for r in rows
        ),
        updates=tuple(updates),
        updates_complete=complete,
    )


def worst_status(statuses: Iterable[str | None]) -> str | None:
    """The highest numeric status string ("3" over "1"), else the first non-empty one."""
    values = [s for s in statuses if s]
    numeric = [s for s in values if s.isdigit()]
    if numeric:
        return max(numeric, key=int)
    return values[0] if values else None


def epoch_time(value: object) -> datetime | None:
    """An epoch given as seconds (or milliseconds), as a number or a digit string, in UTC."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, (int, float)):
        return None
    seconds = value / 1000 if value > 100_000_000_000 else value
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None
