"""The impact window stated in status-update prose: "Impact occurred from 17:34 to 18:52 UTC".

Lifecycle timestamps say when a page was edited; engineers want when users were affected,
which the prose states separately (sometimes hours before the incident was opened).

How a sentence is read (each rule answers something the corpus does):

* Times: ``16:55``, ``9:02am``, ``5 PM``, ``11:07a``; U+2236 RATIO is a colon, en/em dashes are
  hyphens. The zone follows the time (``08:02UTC``, ``PT``, ``US/Pacific``, ``Pacific Time``);
  a zone-less time borrows it across a range ("13:57 to 14:20 UTC", "[13:57] and [14:20]
  UTC"), from the update's "All Times X" note, or from the last zoned time of an earlier
  sentence of the same update (AWS: "Beginning at 10:58 AM PDT ... At 2:45 PM ...").
  Otherwise it is never placed: guessing UTC for GitHub's "down from 3:50-3:59 pm" (Pacific)
  would be 7 hours wrong.
* Local and UTC together ("2:05pm PT / 21:05 UTC"): only UTC counts. Pages get conversions
  wrong ("1:26 PT / 21:26 UTC") and say PST in July.
* A range (-, to, until, through; "between A and B") is a window. since / starting / beginning /
  began / from / "Incident Start:" / "at A, X experienced" open one; until / ended /
  "Incident End:", or as of / at / by / since next to a recovery word ("operating normally
  since 14:59", "mitigated at 14:36") close one. A bare "at 12:30" or "around 5:45am" is nothing.
* Future cues before the time (next update, "update by", scheduled, planned, maintenance,
  tonight, tomorrow, will, ETA) void the sentence.

Dates: explicit ones win ("on October 6", "Oct 6", "2026-10-06", "6 October"; a year-less one
takes the year nearest before the post); a postmortem's date carries to its later sentences. A
date-less time takes the post's local date, a day earlier if that puts a start more than SLACK
after the post (SLACK tolerates backdated ``display_at``); an end before its start is the next
day. Windows over MAX_WINDOW long, ending after the post, or starting over MAX_WINDOW before the
incident's first post are dropped rather than guessed.

Across updates the latest statement wins (resolved and postmortem posts come last): the latest
closed window, else the latest open start closed by an end in the same or a later update, else
that start alone (end=None).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from kb.model import ImpactWindow
from scrapers.zones import ZONE_ABBREVIATIONS, infer_year, local_to_utc, zone_for

__all__ = ["MAX_WINDOW", "SLACK", "find_impact_window", "sentences"]

MAX_WINDOW = timedelta(days=7)
SLACK = timedelta(hours=1)  # how far after its post a stated time may fall (backdated posts)
_DAY = timedelta(days=1)

# 1:1 character map, so offsets in the normalized text are offsets in the original (evidence).
_NORMALIZE = str.maketrans(
    {"\u2236": ":", "\uff1a": ":", "\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " ",
     "*": " "} | dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2212", "-")
)

# a line break with the blanks around it; matched from the start of a run of blanks only, so
# a long run without a line break is scanned once, not once per blank (hostile text)
_SPLIT = re.compile(r"(?<![^\S\n])[^\S\n]*+\n\s*|(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_NO_BREAK = re.compile(
    r"\b(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec|approx|e\.g|i\.e|vs|[ap]\.m)\.$", re.I
)
_TIME = re.compile(
    r"(?<![\w:.])(?:(?P<h>[01]?\d|2[0-3]):(?P<mi>[0-5]\d)(?::[0-5]\d)?"
    r"|(?P<h4>[01]\d|2[0-3])(?P<m4>[0-5]\d)(?=\s?(?:UTC|GMT)\b)"  # "at 0930 UTC"
    r"|(?P<hb>1[0-2]|0?[1-9])(?=\s?[aApP]\.?[mM]\b))"
    r"(?:\s?(?P<ap>[aApP])(?:\.?[mM]\.?|\b))?(?![\d:]|[a-z])"  # "08:02UTC" is fine
)
# "2023-03-14T10:02Z": _TIME finds the time once the date is blanked
_ISO_TIME = re.compile(r"\dT\d\d:\d\d")
_ANY_DIGIT = re.compile(r"\d")  # what _TIME and _ISO_TIME cannot match without (speed only)
_ABBREVIATIONS = sorted(
    (k for k in ZONE_ABBREVIATIONS if k.isalpha() and k not in {"Z", "PACIFIC"}), key=len,
    reverse=True,
)
_ZONE_WORDS = (r"(?i:US/Pacific|Pacific(?:\s+(?:Standard|Daylight))?(?:\s+Time)?)|"
               r"(?i:utc|gmt|p[sd]t|e[sd]t|c[sd]t|m[sd]t)(?![a-z])|"
               r"(?i:Coordinated\s+Universal\s+Time(?:\s*\(UTC\))?)|"
               + "|".join(_ABBREVIATIONS))
# "10:45 UTC", "10:45 (UTC)", "[10:45] UTC", "10:02Z" (an ISO zone letter only when attached
# to the time)
_ZONE_AFTER = re.compile(rf"(?:(?P<zz>Z)|[\]\"\u201d\u2019]?[ \t]*(?P<p>\()?(?P<z>{_ZONE_WORDS})"
                         r"(?(p)\)))(?![A-Za-z])")
_ALL_TIMES = re.compile(rf"\ball times (?:are )?(?:in )?(?P<z>{_ZONE_WORDS})(?![A-Za-z])", re.I)
_MONTH = (r"Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
          r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?")
_WEEKDAY = r"(?:Mon|Tue|Tues|Wed|Wednes|Thu|Thurs|Fri|Sat|Satur|Sun)(?:day)?\.?,?\s+"
_DATE = re.compile(  # "on" and a weekday belong to the date: both are blanked with it
    rf"(?<![\w:./-])(?:[Oo]n\s+)?(?:{_WEEKDAY})?(?:"
    r"(?P<iy>\d{4})-(?P<im>\d{1,2})-(?P<id>\d{1,2})(?![\d-])"
    rf"|(?P<mn>{_MONTH})\.?\s+(?P<md>\d{{1,2}})(?:st|nd|rd|th)?\b(?:\s*,?\s*(?P<my>\d{{4}})\b)?"
    rf"|(?P<dd>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<dm>{_MONTH})\b\.?(?:,?\s*(?P<dy>\d{{4}})\b)?"
    rf"|(?P<sd>\d{{1,2}})[/-](?P<sm>{_MONTH})[/-](?P<sy>\d{{4}})\b"  # 13/Dec/2019
    r"|(?P<ed>1[3-9]|2\d|3[01])/(?P<em>0?[1-9]|1[0-2])/(?P<ey>\d{4})(?![\d/])"  # 25/12/2019
    r"|(?P<um>0?[1-9]|1[0-2])/(?P<ud>0?[1-9]|[12]\d|3[01])(?:/(?P<uy>\d{4}|\d{2}))?(?![\d/]))"
)
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_OWN_DATE_GAP = re.compile(r"[ \t]*,?[ \t]*(?:(?:on|of)[ \t]+)?")  # "18:40 PT on October 6"
_OWN_DATE_BEFORE = re.compile(
    r",?[ \t]*(?:at[ \t]+)?(?:(?:approximately|around|about|roughly)[ \t]+|~[ \t]*)?")
# (times wrapped in brackets or quotes: "between [14:00] and [15:10] UTC", "from "14:00 UTC"
# to "15:10 UTC"")
_RANGE = re.compile(r"[\s,()\[\]/\"'\u201c\u201d\u2018\u2019]*"
                    r"(?:\(?(?:approx\.?|approximately|about|around|roughly)\)?[\s,]*)?"
                    r"(?:-+>?|\u2192|to|until|till|through(?:\s+to)?|thru|and)"
                    r"[\s,()\[\]/~\"'\u201c\u201d\u2018\u2019]*", re.I)
_CUE = re.compile(
    r"\b(?P<w>since|starting|beginning|began|begun|started|commenced|start(?:\s+(?:time|date))?"
    r"|from|between|until|till|ended|ending|end(?:\s+(?:time|date))?|as\s+of|at|by|around"
    r"|approximately)\b"
    r"(?:[\s,]+(?:at|on|from|of|around|approximately|about|roughly|just|shortly|after))*"
    r"[^\w]*$", re.I)
_START_WORDS = frozenset({"since", "starting", "beginning", "began", "begun", "started",
                          "commenced", "start", "start time", "start date", "from", "between"})
# "Start Time:" fields of a maintenance notice announce a plan, not an impact
_FIELDS = frozenset({"start time", "start date", "end time", "end date"})
_PLANNED = re.compile(r"\bmaintenance\b", re.I)
_TRIED = re.compile(r"\b(?:attempt\w*|tried|trying|initial)\b", re.I)
_RECOVERY = re.compile(r"\b(?:normal(?:ly)?|recover\w*|restor\w*|resol\w*|healthy|stable|achieved"
                       r"|baseline|mitigat\w*|operational|ended|fixed"
                       r"|reopen\w*\s+(?:to|for)|back\s+(?:up|online)|(?:came|brought)\s+back"
                       r"|(?:errors?|impact|issues?|failures?|problems?)\s+(?:\w+\s+)?"
                       r"(?:stopped|ceased|subsided))\b", re.I)
_PARTIAL = re.compile(r"\b(?:but|still|however|again|continu\w*|some|most|partial\w*"
                      r"|remaining)\b", re.I)
_EXPERIENCED = re.compile(
    r"(?:[^.;]|\.(?=\w))*?\b(?:experienc(?:e|es|ed|ing)|occurred|emerged|observed|noticed|detected"
    r"|began|started|went (?:down|dark)|offline|triggered|(?:accidentally\s+)?(?:deleted|wiped)"
    r"|impacted"
    r"|(?:caus(?:ed|ing)|leading\s+to|initiat(?:ed|ing))\s+(?:an?\s+|the\s+)?(?:\w+\s+){0,3}(?:outages?|"
    r"disruptions?|errors?|failures?|unavailab\w+|degrad\w+|loss))\b", re.I)
# "On 14/03/2023 ~10:00 UTC users began to see errors": who was affected, right after the time
# (lower case: "10:35 UTC We are investigating" is a stamp before a new sentence)
_SUBJECT = re.compile(r"[ \t]+(?:we|users|customers|clients|some|many|all|the|our|an?)\b")
_LEADING_MAX = 40  # characters before the time: the check stays cheap on hostile text
_LEADING = re.compile(r"\W*(?:(?:around|approximately|about|roughly|just\s+after|shortly"
                      r"\s+after|~)\s*)*", re.I)
# ... unless the words before it are a remedy: "at 17:05 we rolled back the change that
# impacted ..."
_REMEDY = re.compile(r"\b(?:roll\w*\s+back|revert\w*|fix\w*|mitigat\w*|restor\w*|recover\w*"
                     r"|resum\w*)\b", re.I)
# Who did something then: "Between 16:00 and 19:00 UTC, engineers continued troubleshooting",
# "at 14:09 UTC, Mailgun engineers began responding to alerts".
_ACTOR_AFTER = re.compile(
    r"[\s,]*(?:(?:our|the|\w+(?:'s|\u2019s)?)\s+)?(?:engineers?|engineering|teams?|operators?"
    r"|staff|SREs?|on-?call|responders?|developers?)\s+(?:\w+\s+){0,2}?(?:respond|investigat"
    r"|troubleshoot|work|engag|alerted|paged|look)", re.I)
# A range of when data was made, not when users were affected: "modifications made between
# 17:20 and 00:00 UTC were lost" (but "requests between ... were lost" is impact).
_MADE_BEFORE = re.compile(r"\b(?:made|created|written|added|modified|uploaded|submitted|entered)"
                          r"\s+(?:between|from)\s*$", re.I)
_AFTER_SPAN = 200  # how far past a range its clause is read (bounded: hostile text)
_LOST_AFTER = re.compile(r"[^.;]*?\b(?:were|was)\s+(?:\w+\s+)?(?:lost|deleted|irrecoverable)\b",
                         re.I)
# An onset stated with "by": "latency was identified in the workflows service by 22:17 UTC",
# "by 7:00 AM PST, Slack became unavailable".
_ONSET_BEFORE = re.compile(r"\b(?:latency|errors?|error\s+rates?|failures?|degradation|timeouts?"
                           r"|slowness|packet\s+loss|outages?|issues\s+with)\b[^.;]*?\b(?:was|were)"
                           r"\s+(?:first\s+)?(?:identified|detected|observed|noticed)\b", re.I)
_BECAME_AFTER = re.compile(r",?[^.;,]*?\b(?:became|went)\s+(?:completely\s+|fully\s+)?"
                           r"(?:unavailable|unreachable|inaccessible|down|offline)\b", re.I)
# Before "at <time>": the clause says impact began then ("the outage commenced at 19:26 UTC",
# "began experiencing failures at 11:20 UTC", "was taken down at ~21:30 UTC", "at 10:02 we
# observed", "caused it to hang at ~13:30 UTC"), unless what began was the recovery.
_STARTED = re.compile(
    r"\b(?:began|begun|started|commenced|starting|went\s+(?:down|dark|offline)|taken\s+down"
    r"|observed|noticed|detected|occurred|hang|hung|crash(?:ed)?)\b", re.I)
_OBSERVED = re.compile(r"\b(?:observed|noticed|detected|began|started)\b", re.I)
_RECOVERING = re.compile(r"\b(?:recover\w*|restor\w*|mitigat\w*|improv\w*|fix\w*|rollback"
                         r"|roll(?:ing|ed)?\s+back|revert\w*|return\w*|resum\w*|shut\w*\s+down"
                         r"|disabl\w*|halt\w*|deploy\w*|success\w*|breakthrough)\b", re.I)
# Before a range: what was done then, not when users were affected.
_ACTION = re.compile(r"\b(?:rerout\w*|mitigat\w*|roll(?:ed|ing)?\s+back|deployed|migrat\w*"
                     r"|suspended|paused"
                     r"|upgrad\w*|patch\w*|restart\w*|delet\w*|(?:was|is|were)\s+set"
                     r"|configured|(?:update|maintenance|change|deploy\w*|release|patch\w*)\s+window)"
                     r"\b", re.I)
# The sentence speaks of a plan even when the cue follows the time: "Between 3:00 - 3:30 pm
# PST, there will be a network maintenance", "at 9:00 AM ET, ... began planned maintenance".
_FUTURE_AFTER = re.compile(r"\b(?:(?:planned|scheduled)\s+maintenance|there\s+will\s+be"
                           r"|will\s+(?:need|occur|take\s+place|be\s+"
                           r"(?:performing|making|conducting|down|unavailable|rolling)))\b", re.I)
# A stated length: "for approximately 25 minutes", "lasting about two hours".
_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
            "eight": 8, "nine": 9, "ten": 10, "fifteen": 15, "twenty": 20, "thirty": 30,
            "forty": 40, "forty-five": 45, "ninety": 90, "an": 1, "a": 1}
_N = (r"\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|fifteen|twenty|thirty|forty"
      r"|forty-five|ninety|an|a")
_DURATION = re.compile(
    r"\b(?:(?:for|lasting|lasted|duration\s+of|downtime\s+of)\s+(?:a\s+period\s+of\s+)?"
    r"(?:approximately\s+|about\s+|around\s+|roughly\s+|~\s*)?"
    rf"(?P<n>\d{{1,3}}\.\d|{_N})\s+(?P<u>minutes?|mins?|hours?|hrs?)\b"
    rf"(?:,?\s+and\s+(?P<m>{_N})\s+(?:minutes?|mins?)\b)?"
    r"|(?P<hn>\d{1,3})-(?P<hu>minute|hour)\s+(?:period|outage|disruption|incident))", re.I)
# ... or one that ends the sentence's account: "after 19 hours and 12 minutes of impact",
# "bringing the total duration of impact to 1 hour and 53 minutes".
_DURATION_OF = re.compile(
    r"\b(?:after|(?:total\s+)?duration\s+of\s+(?:the\s+)?(?:impact|incident|outage|disruption)"
    r"\s+to)\s+(?:approximately\s+|about\s+|around\s+|roughly\s+|~\s*)?"
    rf"(?P<n>\d{{1,3}}\.\d|{_N})\s+(?P<u>minutes?|mins?|hours?|hrs?)\b"
    rf"(?:,?\s+and\s+(?P<m>{_N})\s+(?:minutes?|mins?)\b)?"
    r"(?:\s+of\s+(?:impact|downtime|disruption|degradation|outage))?", re.I)
_FUTURE = re.compile(
    r"\b(?:scheduled|planned|maintenance|tonight|tomorrow|next\s+update|updates?\s+(?:by|at|in)"
    r"|(?:provide|post|share)\s+(?:an?\s+|more\s+|additional\s+|further\s+|another\s+)?"
    r"(?:update|information|details)|will|we'll|going\s+(?:down|to)|expect(?:ed|s)?\s+to|ETA"
    r"|estimated)\b", re.I)

# An HTML tag left in a Statuspage body ("<b>Start Time:</b> May 18, 2021 20:18 UTC"): read as
# blanks, so "Start Time:" stays a field and the tag's letters are no words.
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]{0,9}(?:\s[^<>]{0,200})?/?>")
# "by 3:40 PM PDT, all affected load balancers had fully recovered": the end is stated after
# the time.
_RECOVERED_AFTER = re.compile(r"(?:(?!\b(?:went|began|started|experienc|occurred|failed)\b)[^.;])"
                              r"{0,160}?\b(?:had|have|has|were|was|are|is)\s+(?:\w+\s+)?"
                              r"(?:fully\s+|completely\s+)?(?:recovered|restored|resolved)\b",
                              re.I)
# A time named by the noun after it, in a list: "(11:20 UTC detection, 14:42 UTC resolution)".
_NAMED_AFTER = re.compile(r"[ \t]+(?:impact[ \t]+)?(?:(?P<s>detection|onset|start)"
                          r"|(?P<e>resolution|recovery|end))[ \t]*(?=[,;)]|\.?$)", re.I)
# Responders' acts at a time: "engineers were alerted at 23:47 and began investigation".
_RESPONSE = re.compile(r"\b(?:alerted|paged|notified|declared|escalat\w*)\b", re.I)
# A relative clause names its subject in the clause before: "rolling back the changes, which
# commenced at 22:15 UTC", "restarting the instances, an action that commenced between ...".
_RELATIVE = re.compile(r"\s*(?:(?:an?|the)\s+\w+\s+)?(?:which|that)\b[^,;:(]*$", re.I)

_Date = tuple[int | None, int, int]  # (year or None, month, day)


@dataclass(slots=True)
class _Mention:
    """One time of day in a sentence, with what the text around it says."""

    lo: int
    hi: int  # span of the time and its zone in the sentence
    hour: int
    minute: int
    ap: str | None  # "a"/"p" when a 12-hour clock was used
    zone: ZoneInfo | None
    date: _Date | None = None  # attached: "00:11 Aug 15", "25 May 2022 10:34"
    inherited: _Date | None = None  # an earlier date in the same sentence: "On Oct 6 from ..."

    @property
    def hour24(self) -> int:
        return self.hour if self.ap is None else self.hour % 12 + (12 if self.ap in "pP" else 0)


@dataclass(slots=True)
class _Statement:
    """What one sentence says: a closed window, an open start, or an end only."""

    kind: str  # "window" | "start" | "end"
    start: datetime  # for an end-only statement: the end as read on its own
    end: datetime | None
    mention: _Mention | None  # for an end-only statement: re-read against the start it closes
    evidence: str
    posted: datetime
    update: int  # index of the update it came from
    order: int  # position of the sentence in that update


def sentences(text: str) -> list[str]:
    """Split plain text into trimmed sentences (lines and ``. `` breaks; "Oct. 6" is kept whole)."""
    return [_clean(text[lo:hi]) for lo, hi in _sentence_spans(text.translate(_NORMALIZE))]


def _clean(sentence: str) -> str:
    """A sentence as evidence: trimmed, without a leading Markdown bullet or heading mark."""
    return sentence.strip().lstrip("#>-* \t").strip()


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    lo = 0
    for m in _SPLIT.finditer(text):
        if "\n" not in m.group() and _NO_BREAK.search(text, lo, m.start()):
            continue  # "Oct. 6", "1 p.m. PT": an abbreviation, not a sentence end
        spans.append((lo, m.start()))
        lo = m.end()
    spans.append((lo, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def _zone(token: str) -> ZoneInfo | None:
    word = " ".join(token.split()).upper()
    if word.startswith("COORDINATED"):
        return zone_for("UTC")
    return zone_for("PT" if word.startswith("PACIFIC") else word)


def _date_of(m: re.Match[str]) -> _Date | None:
    if m.group("iy"):
        return int(m.group("iy")), int(m.group("im")), int(m.group("id"))
    if m.group("sd"):
        return int(m.group("sy")), _MONTHS[m.group("sm")[:3].lower()], int(m.group("sd"))
    if m.group("ed"):
        return int(m.group("ey")), int(m.group("em")), int(m.group("ed"))
    if m.group("um"):
        year = m.group("uy")
        full = None if year is None else int(year) + (2000 if len(year) == 2 else 0)
        return full, int(m.group("um")), int(m.group("ud"))
    name, day, year = ((m.group("mn"), m.group("md"), m.group("my")) if m.group("mn")
                       else (m.group("dm"), m.group("dd"), m.group("dy")))
    return (int(year) if year else None), _MONTHS[name[:3].lower()], int(day)


def _mentions(s: str, default_zone: ZoneInfo | None,
              context: _Date | None) -> tuple[list[_Mention], str]:
    """Times in sentence `s`, zones and dates attached; also `s` with date spans blanked.

    `context` is the last date an earlier sentence of the update stated: a postmortem says
    "On 20 May 2022 ..." once, then "from 13:47 to 14:07" in later sentences.
    """
    # an ISO stamp's "T" goes with its date: "2023-03-14T10:02Z"
    dates = [(m.start(), m.end() + (s[m.end():m.end() + 1] == "T" and s[m.end() + 1:m.end() + 2]
                                    .isdigit()), _date_of(m)) for m in _DATE.finditer(s)]
    chars = list(s)
    for lo, hi, _ in dates:
        chars[lo:hi] = " " * (hi - lo)
    if "<" in s:
        for t in _TAG.finditer(s):
            chars[t.start():t.end()] = " " * (t.end() - t.start())
    b = "".join(chars)
    out: list[_Mention] = []
    for m in _TIME.finditer(b):
        hour = int(m.group("h") or m.group("h4") or m.group("hb"))
        minute = int(m.group("mi") or m.group("m4") or 0)
        mention = _Mention(m.start(), m.end(), hour, minute, m.group("ap"), None,
                           inherited=context)
        z = _ZONE_AFTER.match(b, m.end())
        if z:
            mention.zone, mention.hi = _zone(z.group("z") or z.group("zz")), z.end()
        for lo, hi, d in dates:
            before = hi <= m.start() and _OWN_DATE_BEFORE.fullmatch(s, hi, m.start())
            after = lo >= m.end() and (_OWN_DATE_GAP.fullmatch(b, m.end(), lo)
                                       or _OWN_DATE_GAP.fullmatch(b, mention.hi, lo))
            if before or after:
                mention.date = d
            elif hi <= m.start():
                mention.inherited = d
        out.append(mention)
    # Borrow zone and am/pm across a range connector: "13:57 to 14:20 UTC", "3:50-3:59 pm".
    # Only a time with no zone of its own shares the next one's suffixes ("04:50 UTC through
    # 00:36am PT" must not make 04:50 an am/pm time).
    for first, second in pairwise(out):
        if first.zone is None and _RANGE.fullmatch(b, first.hi, second.lo):
            first.zone = second.zone
            if first.ap is None and second.ap is not None and first.hour <= 12:
                first.ap = second.ap
                if first.hour24 > second.hour24 and second.ap in "pP":
                    first.ap = "a"  # "11:30-1:15pm" is 11:30am
    if any(x.zone is None for x in out) and default_zone is not None:
        for x in out:
            x.zone = x.zone or default_zone
    return out, b


def _at(day: date, m: _Mention) -> datetime:
    assert m.zone is not None
    return local_to_utc(datetime.combine(day, time(m.hour24, m.minute)), m.zone)


def _explicit(d: _Date, m: _Mention, posted: datetime) -> datetime:
    year, month, day = d
    if year is None:
        assert m.zone is not None
        return infer_year(month, day, m.hour24, m.minute, m.zone, posted)
    return _at(date(year, month, day), m)


def _anchored(m: _Mention, posted: datetime) -> datetime:
    """A date-less time on the post's local date, moved back a day if it would follow the post."""
    assert m.zone is not None
    day = posted.astimezone(m.zone).date()
    instant = _at(day, m)
    return _at(day - _DAY, m) if instant > posted + SLACK else instant


def _start(m: _Mention, posted: datetime, end: _Mention | None = None) -> datetime:
    if m.date:
        return _explicit(m.date, m, posted)
    # the date of the range's own end beats one carried from an earlier sentence:
    # "between 5:30 AM and 2:09 PM PDT on October 20"
    if m.inherited and not (end is not None and end.date):
        return _explicit(m.inherited, m, posted)
    if end is not None and end.date:  # "between 20:36 UTC and 20 Sep 00:06 UTC": its date
        assert m.zone is not None
        hint = _explicit(end.date, end, posted)
        day = hint.astimezone(m.zone).date()
        instant = _at(day, m)
        return _at(day - _DAY, m) if instant > hint else instant
    return _anchored(m, posted)


def _end(m: _Mention, posted: datetime, start: datetime) -> datetime:
    if m.date:
        return _explicit(m.date, m, posted)
    assert m.zone is not None
    day = start.astimezone(m.zone).date()
    instant = _at(day, m)
    return _at(day + _DAY, m) if instant < start else instant  # crosses midnight


def _valid(start: datetime, end: datetime | None, posted: datetime) -> bool:
    """A stated window lies before its post and lasts at most MAX_WINDOW."""
    if start > posted + SLACK:
        return False
    return end is None or (start <= end <= start + MAX_WINDOW and end <= posted + SLACK)


def _clause(text: str) -> str:
    """The clause that ends `text`, with its antecedent when it is a relative one."""
    pieces = [c for c in re.split(r"[,;:(]", text) if c.strip()]
    if len(pieces) > 1 and _RELATIVE.fullmatch(pieces[-1]):
        return pieces[-2] + "," + pieces[-1]
    return pieces[-1] if pieces else ""


def _roles(s: str, b: str, kept: list[_Mention], planned: bool = False) -> list[str | None]:
    """For each kept time, the cue word before it: a start word, "end", or None."""
    roles: list[str | None] = []
    for i, m in enumerate(kept):
        lo = kept[i - 1].hi if i else 0
        cue = _CUE.search(b, lo, m.lo)
        if cue is not None and cue.group("w").lower() in {"around", "approximately"} \
                and not _OBSERVED.search(_clause(b[lo:cue.start()])):
            # "observed degradation around 02:00" is a start, as "at" would be; "a brief
            # degradation occurred around 5:45am" states an event, not when impact began
            cue = None
        named = _NAMED_AFTER.match(b, m.hi)
        if cue is None and named:  # "(11:20 UTC detection, 14:42 UTC resolution)"
            roles.append("start" if named.group("s") else "end")
            continue
        if cue is None:
            # "Around 10:02 UTC, users began to see errors": a time opening the sentence
            after = b[m.hi:kept[i + 1].lo if i + 1 < len(kept) else len(b)]
            said = _EXPERIENCED.match(after)
            # (the dates before it are blanked: "On 13 October 2022 23:30 US/Pacific, there was")
            roles.append("start" if not i and m.lo <= _LEADING_MAX
                         and _LEADING.fullmatch(b, 0, m.lo) and said
                         # not a "10:35 UTC - " stamp: a comma or the subject follows
                         and (after.lstrip().startswith(",") or _SUBJECT.match(after))
                         and not _ACTOR_AFTER.match(after)
                         and not _REMEDY.search(after, 0, said.end()) else None)
            continue
        word = " ".join(cue.group("w").lower().split())
        # "operating normally since"; a comma left after a blanked date ("resolved on July
        # 30, 2014, at 0930 UTC") does not end the clause
        clause = _clause(b[lo:cue.start()])
        if word in {"around", "approximately"}:
            word = "at"
        upto = min(kept[i + 1].lo if i + 1 < len(kept) else len(b), m.hi + _AFTER_SPAN)
        recovered_after = word in {"at", "by"} and _RECOVERED_AFTER.match(b, m.hi, upto)
        if word in _FIELDS:  # "Start Time: ..." of an incident; of a maintenance, a plan
            roles.append(None if planned else ("start" if word.startswith("start") else "end"))
        elif word in _START_WORDS:
            # "operating normally since 14:59" ends impact; "restore data updated since" doesn't
            recovered = _RECOVERY.search(" ".join(clause.split()[-3:]))
            if word == "since" and recovered:
                roles.append("end")
            elif word not in {"since", "from", "between"} and _RECOVERING.search(clause):
                roles.append(None)  # "recovery began at 10:30": not when impact started
            else:
                roles.append(word)
        elif word in {"until", "till", "ended", "ending", "end"}:
            roles.append("end")
        elif word == "as of":  # "As of 9:58 UTC the errors are back to baseline."
            roles.append("end" if _RECOVERY.search(s) and not _PARTIAL.search(s) else None)
        elif recovered_after:  # "by 3:40 PM PDT, all ... had fully recovered"
            roles.append("end")
        elif word == "by" and not _RECOVERY.search(clause) and (
                _ONSET_BEFORE.search(clause)
                or _BECAME_AFTER.match(b, m.hi, min(len(b), m.hi + _AFTER_SPAN))):
            roles.append("start")  # "latency was identified ... by 22:17 UTC"
        elif _RECOVERY.search(clause):  # "at", "by" after a recovery word: "mitigated at 14:36"
            # ... unless it is when recovery began ("began to recover at 10:30") or was tried
            roles.append(None if _STARTED.search(clause) or _TRIED.search(clause) else "end")
        elif word != "at" or _RECOVERING.search(clause) or _RESPONSE.search(clause):
            roles.append(None)  # "rolled back at 17:05", "were alerted at 23:47"
        elif _STARTED.search(clause):  # "the outage commenced at 19:26", "observed at"
            roles.append("start")
        else:  # GCP reports: "On 20 May 2022 at 13:47 US/Pacific, Networking experienced ..."
            after = b[m.hi:kept[i + 1].lo if i + 1 < len(kept) else len(b)]
            said = _EXPERIENCED.match(after)
            roles.append("start" if said and not _ACTOR_AFTER.match(after)
                         and not _REMEDY.search(after, 0, said.end() + 25) else None)
    return roles


_Read = tuple[str, datetime, datetime | None, _Mention | None]


def _read(s: str, posted: datetime, default_zone: ZoneInfo | None,
          context: _Date | None, planned: bool = False,
          lasted: timedelta | None = None) -> _Read | None:
    """What sentence `s` (normalized) states: (kind, start, end, end mention) or None.

    `planned`: the update speaks of maintenance (its "Start Time:" fields are a plan).
    `lasted`: a length stated in this or the previous sentence ("for approximately 25
    minutes"), which turns a lone end ("back to normal at 10:45") into a window.
    """
    found, b = _mentions(s, default_zone, context)
    utc = [m for m in found if m.zone is not None and m.zone.key == "UTC"]
    kept = utc or [m for m in found if m.zone is not None]
    if not kept or _FUTURE.search(s, 0, kept[-1].hi) or _FUTURE_AFTER.search(s):
        return None
    chars = list(b)
    shown = {id(m) for m in kept}  # by identity: equal-looking times are distinct mentions
    for m in found:
        if id(m) not in shown:  # a local time shadowed by its UTC twin, or a zone-less one
            chars[m.lo:m.hi] = " " * (m.hi - m.lo)
    b = "".join(chars)
    roles = _roles(s, b, kept, planned)
    windows: list[tuple[datetime, datetime]] = []
    starts: list[_Mention] = []
    ends: list[_Mention] = []
    i = 0
    while i < len(kept):
        gap = _RANGE.fullmatch(b, kept[i].hi, kept[i + 1].lo) if i + 1 < len(kept) else None
        if gap and ("and" not in gap.group().lower() or roles[i] == "between"):
            pieces = re.split(r"[;:(]|,\s", b[kept[i - 1].hi if i else 0:kept[i].lo])
            before = pieces[-1] if len(pieces) < 2 or not _RELATIVE.fullmatch(pieces[-1]) \
                else pieces[-2] + ", " + pieces[-1]  # "restarting ..., an action that ... between"
            after, upto = kept[i + 1].hi, min(len(b), kept[i + 1].hi + _AFTER_SPAN)
            if _ACTION.search(before) or _ACTOR_AFTER.match(b, after, upto) or (
                    _MADE_BEFORE.search(before) and _LOST_AFTER.match(b, after, upto)):
                # "GitHub rerouted traffic between 01:00 and 02:00 UTC", "between 16:00 and
                # 19:00 UTC, engineers continued troubleshooting", "made between ... were lost"
                i += 2
                continue
            start = _start(kept[i], posted, kept[i + 1])
            end = _end(kept[i + 1], posted, start)
            if not _valid(start, end, posted) and not _dated(kept[i], kept[i + 1]) \
                    and end > posted + SLACK:
                # a date-less range that ends after its post happened the day before:
                # "From 1 am to 7 am PDT", posted at 1:00 am
                start, end = start - _DAY, end - _DAY
            if _valid(start, end, posted):
                windows.append((start, end))
            i += 2
            continue
        if roles[i] in _START_WORDS:
            starts.append(kept[i])
        elif roles[i] == "end":
            ends.append(kept[i])
        i += 1
    if windows:  # several ("08:02 to 08:12 and again from 08:35 to 08:43"): their envelope
        return "window", min(w[0] for w in windows), max(w[1] for w in windows), None
    if starts:  # "The errors that began at 14:00 UTC were mitigated at 14:36 UTC"
        start = _start(starts[0], posted)
        for e in ends:
            if e.lo > starts[0].lo and _valid(start, end := _end(e, posted, start), posted):
                return "window", start, end, None
        if lasted is not None and _valid(start, start + lasted, posted):
            return "window", start, start + lasted, None  # "starting at 21:30 ... lasted 2 hours"
        return ("start", start, None, None) if start <= posted + SLACK else None
    if ends:
        stated = ends[-1].date or ends[-1].inherited
        end = _explicit(stated, ends[-1], posted) if stated else _anchored(ends[-1], posted)
        if lasted is not None and _valid(end - lasted, end, posted):
            # "for approximately 40 minutes ... back to normal at 10:45 UTC"
            return "window", end - lasted, end, None
        return "end", end, None, ends[-1]
    return None


def _dated(*mentions: _Mention) -> bool:
    return any(m.date or m.inherited for m in mentions)


def _length(text: str) -> timedelta | None:
    """The length a sentence states ("for approximately 25 minutes"), if one."""
    found = _DURATION.search(text)
    if found is None:
        found = _DURATION_OF.search(text)
        if found is None or (found.group(0).lower().startswith("after")
                             and not found.group(0).lower().endswith(
                                 ("impact", "downtime", "disruption", "degradation", "outage"))):
            return None  # "after 19 hours" alone may be a delay, not a length of impact
        word, unit = found.group("n").lower(), found.group("u").lower()
    else:
        word = (found.group("n") or found.group("hn")).lower()
        unit = (found.group("u") or found.group("hu")).lower()
    n = float(word) if word[0].isdigit() else _NUMBERS[word]  # "21.5 hours"
    length = timedelta(hours=n) if unit.startswith("h") else timedelta(minutes=n)
    if extra := found.group("m"):  # "1 hour and 44 minutes"
        length += timedelta(minutes=int(extra) if extra.isdigit() else _NUMBERS[extra.lower()])
    return length


def _close(start: datetime, e: _Statement) -> datetime | None:
    """The end that statement `e` gives a window opened at `start`, or None if it cannot."""
    m, end = e.mention, e.start
    assert m is not None and m.zone is not None
    if m.date is None and m.inherited is not None and end < start:
        try:  # a date carried over from an earlier sentence: the end may be the next day
            end = _at(end.astimezone(m.zone).date() + _DAY, m)
        except (ValueError, OverflowError):
            return None
    return end if start < end <= start + MAX_WINDOW and end <= e.posted + SLACK else None


def _utc(stamp: datetime) -> datetime:
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _statements(updates: Sequence[tuple[datetime, str]]) -> list[_Statement]:
    out: list[_Statement] = []
    for index, (stamp, text) in enumerate(updates):
        norm = text.translate(_NORMALIZE)
        if not _may_state_time(norm):
            continue
        spans = _sentence_spans(norm)
        timed_in = _timed_sentences(norm, spans)
        if not any(timed_in):  # no sentence states a time: nothing below can be read
            continue
        posted = _utc(stamp)
        note = _ALL_TIMES.search(norm)
        default_zone = _zone(note.group("z")) if note else None
        context: _Date | None = None  # the last date stated so far in this update
        carried: ZoneInfo | None = None  # the zone of the last zoned time read so far
        planned = _PLANNED.search(norm) is not None
        lasted: timedelta | None = None  # a length stated in the previous sentence
        last = max(i for i, timed in enumerate(timed_in) if timed)
        for order, (lo, hi) in enumerate(spans[: last + 1]):  # none read after the last time
            here = _length(norm[lo:hi])
            timed = timed_in[order]
            if timed:  # cheap pre-filter: most sentences state no time
                try:
                    read = _read(norm[lo:hi], posted, default_zone or carried, context,
                                 planned, here or lasted)
                except (ValueError, OverflowError):  # "Feb 30", dates beyond datetime's range
                    read = None
                if read is not None:
                    out.append(_Statement(*read, _clean(text[lo:hi]), posted, index, order))
            for d in _DATE.finditer(norm, lo, hi):
                context = _date_of(d)
            if timed:  # "Beginning at 10:58 AM PDT, ... At 2:45 PM, ... by 3:35 PM" (AWS)
                carried = _last_zone(norm, lo, hi) or carried
            lasted = here if not timed else None
    return out


def _last_zone(norm: str, lo: int, hi: int) -> ZoneInfo | None:
    """The zone written after the last zoned time of sentence `norm[lo:hi]`, if any."""
    found = None
    for t in _TIME.finditer(norm, lo, hi):
        z = _ZONE_AFTER.match(norm, t.end(), hi)
        if z:
            found = _zone(z.group("z") or z.group("zz"))
    return found


def _may_state_time(norm: str) -> bool:
    """Whether any sentence of `norm` can hold a clock time: one search of the whole text
    (speed only). Exact as long as what _TIME and _ISO_TIME look at after a match never
    refuses a blank: a sentence ends where blanks begin, so a time found inside a sentence is
    found at the same place in the whole text (tests/test_ingest_speed_equivalence.py).
    Every alternative of both patterns needs a digit (\\d, or [0-9] which \\d holds): a text
    without one (58 % of the corpus' updates; every synthetic one) is answered by the
    cheapest search there is."""
    if _ANY_DIGIT.search(norm) is None:
        return False
    return bool(_TIME.search(norm) or _ISO_TIME.search(norm))


def _timed_sentences(norm: str, spans: list[tuple[int, int]]) -> list[bool]:
    """Whether each sentence (span of `norm`) holds a clock time: the pre-filter that lets
    `_statements` skip an update none of whose sentences can state a window or an end (most
    updates), before any of the costlier per-sentence reading (speed only, issue 19)."""
    return [bool(_TIME.search(norm, lo, hi) or _ISO_TIME.search(norm, lo, hi))
            for lo, hi in spans]


def find_impact_window(updates: Sequence[tuple[datetime, str]]) -> ImpactWindow | None:
    """updates: (posted_at UTC, plain text) oldest first.

    Returns the window the prose states, or None. Evidence is the sentence the window came
    from; when an open start ("since 17:00 UTC") is closed by another sentence ("resolved as
    of 18:40 UTC"), both joined by " … ".
    """
    found = _statements(updates)
    try:
        return _choose(found, min(_utc(stamp) for stamp, _ in updates)) if found else None
    except OverflowError:  # posts within a week of datetime.min/max: nothing sensible to say
        return None


def _choose(found: list[_Statement], first_post: datetime) -> ImpactWindow | None:
    """The most authoritative window among the statements of one incident's updates."""
    # Nothing users felt starts more than MAX_WINDOW before the incident's first post; vendors'
    # typos ("27 June" in a July incident) would otherwise pass as windows.
    earliest = first_post - MAX_WINDOW
    # (update index, -sentence order, window): the latest update wins, then its first sentence.
    closed = [(s.update, -s.order, ImpactWindow(s.start, s.end, s.evidence))
              for s in found if s.kind == "window" and s.start >= earliest]
    ends = sorted((s for s in found if s.kind == "end"), key=lambda s: (-s.update, s.order))
    opens = sorted((s for s in found if s.kind == "start" and s.start >= earliest),
                   key=lambda s: (s.update, -s.order), reverse=True)
    for opening in opens:  # the latest stated start that makes a sensible window
        closing = next(((e, end) for e in ends if e.update >= opening.update
                        and (end := _close(opening.start, e)) is not None), None)
        if closing is not None:
            e, end = closing
            order = opening.order if e.update == opening.update else e.order
            evidence = f"{opening.evidence} … {e.evidence}"
            closed.append((e.update, -order, ImpactWindow(opening.start, end, evidence)))
        elif opening.posted - opening.start > MAX_WINDOW:
            continue  # too old to be still open: try the start stated before it
        elif not closed:
            return ImpactWindow(opening.start, None, opening.evidence)
        break
    return max(closed, key=lambda c: c[:2])[2] if closed else None
