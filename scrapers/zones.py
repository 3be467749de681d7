"""Zone abbreviations as status pages write them, and wall-clock times turned into UTC.

Why abbreviations map to IANA zones rather than fixed offsets: pages print their *configured*
zone's name, not a DST-correct abbreviation. Parse's 2013 feed labels every stamp "PST", even
in October when its own <pubDate> says -0700, and Anthropic bodies say "PST" in July. Reading
"PST"/"PDT"/"PT" alike as America/Los_Angeles wall time is right in both cases.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

ZONE_ABBREVIATIONS: dict[str, str] = {
    "UTC": "UTC", "GMT": "UTC", "Z": "UTC", "ETC/UTC": "UTC",
    "PT": "America/Los_Angeles", "PST": "America/Los_Angeles", "PDT": "America/Los_Angeles",
    "PACIFIC": "America/Los_Angeles", "US/PACIFIC": "America/Los_Angeles",
    "MT": "America/Denver", "MST": "America/Denver", "MDT": "America/Denver",
    "CT": "America/Chicago", "CST": "America/Chicago", "CDT": "America/Chicago",
    "ET": "America/New_York", "EST": "America/New_York", "EDT": "America/New_York",
    "AKST": "America/Anchorage", "AKDT": "America/Anchorage",
    "HST": "Pacific/Honolulu",
    "BST": "Europe/London", "WET": "Europe/Lisbon", "WEST": "Europe/Lisbon",
    "CET": "Europe/Paris", "CEST": "Europe/Paris", "MET": "Europe/Paris", "MEST": "Europe/Paris",
    "EET": "Europe/Helsinki", "EEST": "Europe/Helsinki",
    "MSK": "Europe/Moscow",
    "IST": "Asia/Kolkata",  # India; Irish Summer Time pages are rare on status pages
    "SGT": "Asia/Singapore", "HKT": "Asia/Hong_Kong",
    "JST": "Asia/Tokyo", "KST": "Asia/Seoul",
    "AEST": "Australia/Sydney", "AEDT": "Australia/Sydney",
    "AWST": "Australia/Perth",
    "NZST": "Pacific/Auckland", "NZDT": "Pacific/Auckland",
}


def zone_for(abbreviation: str) -> ZoneInfo | None:
    """The IANA zone a page means by `abbreviation` (case-insensitive), or None if unknown."""
    name = ZONE_ABBREVIATIONS.get(abbreviation.strip().upper())
    if name is None:
        try:
            return ZoneInfo(abbreviation.strip())
        except (ValueError, KeyError, OSError):
            return None
    return ZoneInfo(name)


def local_to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """Interpret a naive wall-clock time in `zone` and return it in UTC."""
    return wall.replace(tzinfo=zone).astimezone(UTC)


def infer_year(
    month: int, day: int, hour: int, minute: int, zone: ZoneInfo, reference: datetime
) -> datetime:
    """The UTC instant of a year-less stamp ("Dec 31, 23:50 PST") nearest to, and not after,
    `reference` (the entry's published/updated time), allowing a day of slack for zones.

    Handles the December→January roll-over: a "Dec 31" stamp on an entry updated in January
    belongs to the previous year. Raises ValueError for impossible dates (Feb 30).
    """
    slack = timedelta(days=1)
    best: datetime | None = None
    for year in (reference.year + 1, reference.year, reference.year - 1):
        try:
            candidate = local_to_utc(datetime(year, month, day, hour, minute), zone)
        except ValueError:
            continue  # Feb 29 in a non-leap year
        if candidate <= reference + slack and (best is None or candidate > best):
            best = candidate
    if best is None:
        raise ValueError(f"no year makes {month:02d}-{day:02d} {hour:02d}:{minute:02d} valid")
    return best
