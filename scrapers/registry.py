"""The one list of sources: format parsers (detected by content) and platforms (what to fetch).

Adding a source means: a format module with NAME, VERSION, CHANNEL and PRIORITY (the
channel its incident records carry and how authoritative it is when several describe one
incident; both None for a format without incident records), sniff(body) and parse(doc), a
recorded real sample under tests/fixtures, a test, and one line here (CONTRIBUTING.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from urllib.parse import urlsplit

from scrapers import (
    aws_json,
    aws_rss,
    betterstack,
    frontpage,
    gcp,
    generic_feed,
    hackernews,
    incidentio,
    incidentio_feed,
    instatus,
    news,
    postmortem_doc,
    postmortem_list,
    postmortem_page,
    reddit,
    signal_records,
    slack,
    statuspage,
    statuspage_feed,
    statuspage_history,
    vultr,
)
from scrapers.encoding import head_text
from scrapers.errors import UnknownFormat

# Order matters: the first module whose sniff() accepts a payload parses it, so the more
# specific formats come first (incident.io's Atom before the generic Statuspage feed).
# `signal_records` (the corpus's compiled JSON Lines) comes first: its sniff needs an
# archive origin (where_found/raw_files) no status payload has, and `statuspage` would
# otherwise claim a line mentioning incidents; `frontpage` (recorded front pages and feed
# logs) next, its sniff needs their exact line or list shapes.
# Other signal formats go last: `news` takes any RSS/Atom feed or article page that no status
# format claimed.
# Slack, Instatus, Better Stack, incident.io's own API and Statuspage's history index come
# before `statuspage`, whose sniff would also accept their JSON ("incident", "incidents").
# Google's and AWS's JSON and AWS's RSS are recognised by keys and marks of their own.
# `generic_feed` is the last status format (a fallback that refuses feeds without status
# vocabulary) and must stay after every status feed format and before the signal formats.
# The postmortem formats (front-matter Markdown, a Markdown list) are recognised by shapes no
# status or signal payload has; they come early so no later sniff sees Markdown first.
# `postmortem_page` (a provider's own write-up as HTML) comes just before `news`: both take
# article pages, and a page titled like a write-up and written as "we" is a postmortem, any
# other article a news signal.
FORMATS: tuple[ModuleType, ...] = (signal_records, frontpage, postmortem_doc, postmortem_list,
                                   slack, instatus, betterstack, incidentio, statuspage_history,
                                   gcp, aws_json, vultr,
                                   statuspage, incidentio_feed, statuspage_feed, aws_rss,
                                   generic_feed,
                                   hackernews, reddit, postmortem_page, news)

_DECLARED = ("NAME", "VERSION", "CHANNEL", "PRIORITY", "sniff", "parse")
for _module in FORMATS:
    _missing = [name for name in _DECLARED if not hasattr(_module, name)]
    if _missing:  # a format half declared fails at import, not by merging at a guessed rank
        raise ImportError(f"{_module.__name__} does not declare {', '.join(_missing)}")

# Channel → rank when records of several channels describe one incident (lower is more
# authoritative); kb.normalize.merge orders records by it.
CHANNEL_PRIORITY: dict[str, int] = {m.CHANNEL: m.PRIORITY for m in FORMATS if m.CHANNEL}
# Formats (NAME) whose records state a status but never when it turned resolved (a module's
# END_UNPUBLISHED): the end lies between two fetches (kb.normalize.snapshots.bound_status_end).
END_UNPUBLISHED: frozenset[str] = frozenset(
    m.NAME for m in FORMATS if m.CHANNEL and getattr(m, "END_UNPUBLISHED", False))


@dataclass(frozen=True)
class Platform:
    """A kind of status page: the paths, relative to its base URL, that `kb scrape` fetches."""

    name: str
    paths: tuple[str, ...]

    def urls(self, base_url: str) -> list[str]:
        """The absolute URLs to fetch for a page at `base_url` ("{host}" → its host)."""
        host = urlsplit(base_url).netloc
        return [base_url.rstrip("/") + path.replace("{host}", host) for path in self.paths]


PLATFORMS: dict[str, Platform] = {
    "statuspage": Platform(
        "statuspage",
        (
            "/api/v2/incidents.json",
            "/api/v2/scheduled-maintenances.json",
            "/api/v2/components.json",
            "/history.atom",
        ),
    ),
    # incident.io pages answer the Statuspage-compatible incidents.json and an Atom feed
    "incidentio": Platform("incidentio", ("/api/v2/incidents.json", "/history.atom")),
    # incident.io's own API, the one its status page reads; `{host}` is the page's host
    # (Platform.urls fills it in). Its history carries component impact windows.
    "incidentio_native": Platform(
        "incidentio_native", ("/proxy/{host}", "/proxy/{host}/incidents", "/history.atom")
    ),
    "slack": Platform("slack", ("/api/v2.0.0/current", "/api/v2.0.0/history")),
    "instatus": Platform("instatus", ("/v3/summary.json", "/v3/components.json")),
    "betterstack": Platform("betterstack", ("/index.json",)),
    # Google Cloud (status.cloud.google.com) and Google Workspace
    # (www.google.com/appsstatus/dashboard) publish the same incidents.json
    "gcp": Platform("gcp", ("/incidents.json",)),
    # AWS Health Dashboard (health.aws.amazon.com): open events, UTF-16 JSON
    "aws": Platform("aws", ("/public/currentevents",)),
    # AWS's legacy host still serves the RSS feeds (all.rss: every service)
    "aws_rss": Platform("aws_rss", ("/rss/all.rss",)),
    # Azure status (azure.status.microsoft): RSS of the open incidents
    "azure": Platform("azure", ("/en-us/status/feed/",)),
    # Vultr (status.vultr.com): its own JSON of service alerts, resolved ones included
    "vultr": Platform("vultr", ("/alerts.json",)),
}


def detect(body: bytes, source: str) -> ModuleType:
    """The format module that recognises `body`; UnknownFormat (one line) when none does."""
    for module in FORMATS:
        if module.sniff(body):
            return module
    head = " ".join(head_text(body, 80).split())
    what = f"starts with {head[:60]!r}" if head else "empty body"
    raise UnknownFormat(source, f"unknown format ({what})")
