"""What kind of signal a story is, which day it names, and whether it speaks of an outage.

Kinds decide the linking window (kb.signals.link):
- live: a forum thread written while it happens ("Claude is down", "Ask HN: is GitHub down?");
- news: a press article, written during or shortly after;
- late: a postmortem, analysis or write-up, often days later ("The August 17 outage, and the
  work ahead"); it is about the incident it names, not whatever is open when it appears.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

# Words that say a story is about an outage (a story without one is not linked on time alone).
OUTAGE = re.compile(
    r"\b(down|outages?|incidents?|degrad\w*|disruptions?|errors?|issues?|problems?|"
    r"unavailable|unreachable|not working|broken|fail\w*|elevated|latency|offline|"
    r"unresponsive|went dark|goes dark|crash\w*|delay\w*|post-?mortems?|post mortem|"
    r"root cause|rca|availability|status|investigating|interruption|slow|"
    r"knocks?|takes? (?:morning )?off|back online|restored|suspended|deleted)\b",
    re.I,
)
LATE = re.compile(
    r"\b(post-?mortems?|post mortem|incident report|root cause|rca|what happened|"
    r"what went wrong|lessons|retrospective|analysis|explains?|explained|deep dive|"
    r"the work ahead|availability report|outage report|report on|caused by|"
    r"how we|why (?:the|our|it)|quick takes|a look back|here'?s what)\b",
    re.I,
)
_PRESS_HOSTS_TEXT = """
theregister.com theverge.com techcrunch.com arstechnica.com bleepingcomputer.com zdnet.com
wired.com bloomberg.com reuters.com cnbc.com nytimes.com theguardian.com bbc.com bbc.co.uk
engadget.com tomshardware.com venturebeat.com businessinsider.com forbes.com cnn.com
washingtonpost.com wsj.com axios.com theinformation.com slashdot.org soylentnews.org
siliconangle.com infoq.com devclass.com techradar.com 9to5mac.com 9to5google.com
"""
PRESS_HOSTS = frozenset(_PRESS_HOSTS_TEXT.split())

_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_MONTH = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|" \
         r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
_MONTH_DAY = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?", re.I)
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+(\d{{4}}))?",
                        re.I)
_ISO = re.compile(r"\b(20\d\d)[-/.](\d{1,2})[-/.](\d{1,2})\b")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# "Wednesday's update", "on Tuesday", "last Friday": the latest such day on or before writing.
_WEEKDAY = re.compile(r"\b(?:on |last |since )?(monday|tuesday|wednesday|thursday|friday|"
                      r"saturday|sunday)(?:'s|’s)?\b", re.I)


def is_outage(text: str) -> bool:
    """The text uses outage vocabulary."""
    return bool(OUTAGE.search(text))


def is_writeup(url: str) -> bool:
    """A blog or engineering post: a write-up after the fact, not a live report."""
    parts = urlsplit(url)
    host, path = parts.netloc.lower(), parts.path.lower()
    return (host.startswith("blog.") or host.endswith(".blog")
            or any(f"/{word}" in path for word in ("blog/", "engineering/", "postmortem")))


def classify(title: str, *, families: set[str], urls: list[str]) -> str:
    """live, news or late for a story with these source families and URLs."""
    if LATE.search(title) or any(is_writeup(u) for u in urls):
        return "late"
    hosts = {urlsplit(u).netloc.lower().removeprefix("www.") for u in urls}
    if "news" in families or hosts & PRESS_HOSTS:
        return "news"
    return "live"


def _valid(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def named_date(text: str, written: datetime) -> date | None:
    """The first calendar day the text names ("August 17", "Dec 7, 2021", "2022-03-23"), in
    the year that puts it on or before the day it was written; failing that a weekday
    ("Wednesday's update": the latest Wednesday on or before writing); None when it names none."""
    candidates: list[tuple[int, date]] = []
    for match in _ISO.finditer(text):
        day = _valid(int(match[1]), int(match[2]), int(match[3]))
        if day:
            candidates.append((match.start(), day))
    for pattern, month_group, day_group in ((_MONTH_DAY, 1, 2), (_DAY_MONTH, 2, 1)):
        for match in pattern.finditer(text):
            month = _MONTHS.get(match[month_group][:3].lower())
            day_number = int(match[day_group])
            if month is None or not 1 <= day_number <= 31:
                continue
            if match[3]:
                day = _valid(int(match[3]), month, day_number)
            else:
                day = _valid(written.year, month, day_number)
                if day and day > written.date() + timedelta(days=1):
                    day = _valid(written.year - 1, month, day_number)
            if day:
                candidates.append((match.start(), day))
    if not candidates:
        for match in _WEEKDAY.finditer(text):
            back = (written.weekday() - _WEEKDAYS.index(match[1].lower())) % 7
            candidates.append((match.start(), written.date() - timedelta(days=back)))
    if not candidates:
        return None
    return min(candidates)[1]
