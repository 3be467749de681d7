"""The one list of sources: format parsers (detected by content) and platforms (what to fetch).

Adding a source means: a format module with NAME, VERSION, sniff(body) and parse(doc), a
recorded real sample under tests/fixtures, a test, and one line here.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from scrapers import incidentio_feed, statuspage, statuspage_feed
from scrapers.errors import UnknownFormat
from scrapers.jsondoc import head_text

# Order matters: the first module whose sniff() accepts a payload parses it, so the more
# specific formats come first (incident.io's Atom before the generic Statuspage feed).
FORMATS: tuple[ModuleType, ...] = (statuspage, incidentio_feed, statuspage_feed)


@dataclass(frozen=True)
class Platform:
    """A kind of status page: the paths, relative to its base URL, that `kb scrape` fetches."""

    name: str
    paths: tuple[str, ...]


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
}


def format_named(name: str) -> ModuleType:
    for module in FORMATS:
        if name == module.NAME:
            return module
    raise KeyError(name)


def detect(body: bytes, source: str) -> ModuleType:
    """The format module that recognises `body`; UnknownFormat (one line) when none does."""
    for module in FORMATS:
        if module.sniff(body):
            return module
    head = " ".join(head_text(body, 80).split())
    what = f"starts with {head[:60]!r}" if head else "empty body"
    raise UnknownFormat(source, f"unknown format ({what})")
