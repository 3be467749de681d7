"""Incidents that belong together: one outage seen from several providers, or posted twice.

* **related** (different vendors): impact intervals overlap (give or take `slack`: a SaaS
  page often posts after its cloud's) *and* they share evidence: a dependency term both name
  ("us-east-1", "Cloudflare"), one names the other's provider ("Elevated errors for Github
  connector" while GitHub is down), or a contributing-factor tag (other than unknown). Time
  overlap alone is not enough: two busy pages overlap by chance every week.
* **duplicate** (one vendor, two pages, e.g. Jira and Confluence on status.atlassian.com):
  overlapping, with titles at least `DUPLICATE_SIMILARITY` alike (word-set Jaccard) or the
  same dependency terms.

Links are made pairwise and joined into clusters (connected components); every link keeps
its evidence so a reader can judge it. Candidate pairs come from one sweep over intervals
sorted by start, so 100k incidents cost a sort plus their real overlaps.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from kb.analysis.causes import Cause, CauseTag
from kb.analysis.metrics import IncidentFigures
from kb.config import slug_for_host
from kb.model import Incident

SLACK = timedelta(minutes=30)
DUPLICATE_SIMILARITY = 0.5
MAX_SPAN = timedelta(days=3)  # longer incidents (week-long "monitoring") link to everything

_VENDOR_TERMS = {
    "aws": r"AWS|Amazon Web Services|EC2|S3|CloudFront|Route ?53",
    "azure": r"Azure|Microsoft Azure",
    "gcp": r"Google Cloud|GCP|Google Compute Engine|GCE",
    "cloudflare": r"Cloudflare", "fastly": r"Fastly", "akamai": r"Akamai",
    "stripe": r"Stripe", "twilio": r"Twilio", "sendgrid": r"SendGrid", "okta": r"Okta",
    "auth0": r"Auth0", "github": r"Git[Hh]ub", "slack": r"Slack", "heroku": r"Heroku",
    "digitalocean": r"DigitalOcean", "letsencrypt": r"Let'?s Encrypt", "apple": r"Apple",
    "linkedin": r"LinkedIn", "youtube": r"YouTube", "facebook": r"Facebook",
    "twitch": r"Twitch", "openai": r"OpenAI", "anthropic": r"Anthropic", "atlassian":
    r"Atlassian", "datadog": r"Datadog", "pagerduty": r"PagerDuty", "zendesk": r"Zendesk",
}
# Regions match in any case; vendor names only as proper nouns ("Slack", not "slack").
_TERMS = re.compile(
    r"\b(?P<region>(?i:(?:us|eu|ap|sa|ca|me|af|il|mx)-(?:gov-)?(?:east|west|north|south|"
    r"central|northeast|southeast|northwest|southwest)-\d|(?:us|europe|asia|australia|"
    r"northamerica|southamerica|me|africa)-(?:east|west|north|south|central|northeast|"
    r"southeast|southwest|northwest)\d|(?:NYC|SFO|AMS|SGP|LON|FRA|TOR|BLR|SYD)\d)|"
    r"(?:East|West|North|South|Central|North Central|South Central|West Central) "
    r"(?:US|Europe|Asia|India|Japan|Australia|Canada|UK)(?: \d)?)\b"
    + "".join(rf"|\b(?P<{name}>{pattern})\b" for name, pattern in _VENDOR_TERMS.items()),
)
_WORD = re.compile(r"[a-z0-9][a-z0-9.+-]*")
_GENERIC = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "is",
    "it", "of", "on", "or", "that", "the", "this", "to", "was", "we", "were", "with",
    "incident", "issue", "issues", "degraded", "performance", "elevated", "errors", "error",
    "some", "users", "service", "services", "disruption", "outage", "partial", "major",
    "minor", "investigating",
))


# Lower-case substrings one of which every term contains: most texts name no region and no
# vendor, and skipping the big pattern for them makes term extraction ~10x cheaper.
_NEEDLES = ("east", "west", "north", "south", "central", "aws", "amazon", "ec2", "s3",
            "cloudfront", "route", "azure", "google", "gcp", "gce", "cloudflare", "fastly",
            "akamai", "stripe", "twilio", "sendgrid", "okta", "auth0", "github", "slack",
            "heroku", "digitalocean", "encrypt", "apple", "linkedin", "youtube", "facebook",
            "twitch", "openai", "anthropic", "atlassian", "datadog", "pagerduty", "zendesk")
_DO_REGION = re.compile(r"(?:nyc|sfo|ams|sgp|lon|fra|tor|blr|syd)\d")


def dependency_terms(text: str) -> set[str]:
    """Regions and vendor names in `text`, normalized ("US-EAST-1" → "us-east-1",
    "Amazon Web Services" → "aws")."""
    lower = text.lower()
    if not any(n in lower for n in _NEEDLES) and not _DO_REGION.search(lower):
        return set()
    found: set[str] = set()
    for match in _TERMS.finditer(text):
        kind = match.lastgroup or ""
        found.add(" ".join(match.group(0).lower().split()) if kind == "region" else kind)
    return found


def title_similarity(a: str, b: str) -> float:
    """Jaccard similarity of the titles' content words (generic status words dropped)."""
    wa = {w for w in _WORD.findall(a.lower()) if w not in _GENERIC}
    wb = {w for w in _WORD.findall(b.lower()) if w not in _GENERIC}
    return len(wa & wb) / len(wa | wb) if wa and wb else 0.0


def vendor_of(slug: str, page_url: str | None = None) -> str:
    """The company behind a status page: its host's registrable part, as kb.config names
    providers (jira-software.status.atlassian.com → atlassian, www.githubstatus.com →
    github), else the slug before its first dash."""
    host = urlsplit(page_url or "").hostname or ""
    return slug_for_host(host) if "." in host else slug.split("-", 1)[0]


@dataclass(frozen=True, slots=True)
class Member:
    key: str
    provider: str
    title: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Link:
    """Two incidents and why they are linked."""

    a: str
    b: str
    kind: str  # "related" or "duplicate"
    overlap_minutes: float  # negative: the gap (within slack) between them
    shared_terms: tuple[str, ...]
    names_other: tuple[str, ...]  # provider names one incident's text gives for the other
    shared_causes: tuple[str, ...]
    similarity: float  # title similarity


@dataclass(frozen=True)
class Cluster:
    kind: str  # "related" (cross-provider) or "duplicate" (one vendor)
    members: tuple[Member, ...]
    links: tuple[Link, ...]

    @property
    def start(self) -> datetime:
        return min(m.start for m in self.members)

    @property
    def end(self) -> datetime:
        return max(m.end for m in self.members)

    @property
    def providers(self) -> tuple[str, ...]:
        return tuple(sorted({m.provider for m in self.members}))


@dataclass(frozen=True, slots=True)
class _Item:
    member: Member
    vendor: str
    terms: frozenset[str]
    causes: frozenset[str]
    own: frozenset[str]  # the names the item's own provider goes by

    def index_keys(self, shared_vendors: set[str]) -> set[str]:
        """Keys under which others find this item (see `query_keys`)."""
        keys = {f"t:{t}" for t in self.terms} | {f"m:{t}" for t in self.terms}
        keys |= {f"c:{c}" for c in self.causes} | {f"own:{a}" for a in self.own}
        return keys | ({f"v:{self.vendor}"} if self.vendor in shared_vendors else set())

    def query_keys(self, shared_vendors: set[str]) -> set[str]:
        """Keys this item looks up: the same terms and causes, incidents mentioning its own
        provider, incidents of the providers it mentions, and its vendor's other pages."""
        keys = {f"t:{t}" for t in self.terms} | {f"own:{t}" for t in self.terms}
        keys |= {f"c:{c}" for c in self.causes} | {f"m:{a}" for a in self.own}
        return keys | ({f"v:{self.vendor}"} if self.vendor in shared_vendors else set())


def _text(incident: Incident) -> str:
    return " ".join([incident.title, *(u.text for u in incident.updates)])


def _items(
    incidents: Iterable[Incident], figures: Mapping[str, IncidentFigures],
    causes: Mapping[str, Sequence[CauseTag]], vendors: Mapping[str, str],
    aliases: Mapping[str, set[str]],
) -> list[_Item]:
    out = []
    for incident in incidents:
        f = figures.get(incident.key)
        if f is None or f.start is None or f.kind != "incident":
            continue
        # A post that was already resolved is a moment; an open incident lasts as far as the
        # KB saw it, capped: a week-long "monitoring" tail would overlap everything.
        end = f.start if f.source == "posted-resolved" else (f.end or f.last_seen or f.start)
        end = min(max(end, f.start), f.start + MAX_SPAN)
        own = aliases.get(incident.provider, set()) | {incident.provider}
        terms = frozenset(dependency_terms(_text(incident)) - own)
        tags = frozenset(t.tag.value for t in causes.get(incident.key, ())
                         if t.tag is not Cause.UNKNOWN)
        member = Member(incident.key, incident.provider, incident.title, f.start, end)
        out.append(_Item(member, vendors.get(incident.provider, incident.provider), terms, tags,
                         frozenset(own)))
    return out


def _link(x: _Item, y: _Item, aliases: Mapping[str, set[str]]) -> Link | None:
    a, b = x.member, y.member
    overlap = (min(a.end, b.end) - max(a.start, b.start)) / timedelta(minutes=1)
    shared = tuple(sorted(x.terms & y.terms))
    similarity = title_similarity(a.title, b.title)
    if x.vendor == y.vendor:
        if a.provider == b.provider or not (similarity >= DUPLICATE_SIMILARITY or shared):
            return None
        return Link(a.key, b.key, "duplicate", overlap, shared, (), (), round(similarity, 3))
    names = tuple(sorted((x.terms & (aliases.get(b.provider, set()) | {b.provider}))
                         | (y.terms & (aliases.get(a.provider, set()) | {a.provider}))))
    causes = tuple(sorted(x.causes & y.causes))
    if not (shared or names or causes):
        return None
    return Link(a.key, b.key, "related", overlap, shared, names, causes, round(similarity, 3))


def find_clusters(
    incidents: Iterable[Incident], figures: Mapping[str, IncidentFigures],
    causes: Mapping[str, Sequence[CauseTag]], *, since: datetime | None = None,
    until: datetime | None = None, vendors: Mapping[str, str] | None = None,
    aliases: Mapping[str, set[str]] | None = None, slack: timedelta = SLACK,
) -> list[Cluster]:
    """Clusters of related incidents across providers and duplicates within a vendor, oldest
    first. `vendors`: provider → vendor (default: the provider itself); `aliases`: provider →
    lower-case names its text may be called by (so GitHub's own "GitHub" is no evidence)."""
    vendors = vendors or {}
    aliases = aliases or {}
    items = sorted(_items(incidents, figures, causes, vendors, aliases),
                   key=lambda i: (i.member.start, i.member.key))
    # Whole clusters are kept or dropped (a cluster reaching into the window keeps its
    # earlier members); the margin only spares linking incidents far outside the window.
    margin = MAX_SPAN + slack + timedelta(days=1)
    if since is not None:
        items = [i for i in items if i.member.end >= since - margin]
    if until is not None:
        items = [i for i in items if i.member.start < until + margin]
    # Candidates come from an index of the incidents still active, keyed by their evidence
    # (terms, causes, names, vendor): comparing every overlapping pair would be quadratic in
    # the number of providers down at once, and most pairs share nothing.
    by_vendor: dict[str, set[str]] = {}
    for item in items:
        by_vendor.setdefault(item.vendor, set()).add(item.member.provider)
    shared_vendors = {v for v, providers in by_vendor.items() if len(providers) > 1}
    active: dict[str, list[_Item]] = {}
    links: list[Link] = []
    for item in items:
        candidates: dict[str, _Item] = {}
        for key in item.query_keys(shared_vendors):
            held = active.get(key)
            if not held:
                continue
            held[:] = [a for a in held if a.member.end + slack >= item.member.start]
            for other in held:
                if other.member.provider != item.member.provider:
                    candidates[other.member.key] = other
        for other in sorted(candidates.values(), key=lambda o: (o.member.start, o.member.key)):
            link = _link(other, item, aliases)
            if link is not None:
                links.append(link)
        for key in item.index_keys(shared_vendors):
            active.setdefault(key, []).append(item)
    found = _components(items, links)
    return [c for c in found if (since is None or c.end >= since)
            and (until is None or c.start < until)]


def _components(items: Sequence[_Item], links: Sequence[Link]) -> list[Cluster]:
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.get(key, key) != key:
            parent[key] = parent.get(parent[key], parent[key])
            key = parent[key]
        return key

    for link in links:
        parent.setdefault(link.a, link.a)
        parent.setdefault(link.b, link.b)
        parent[root(link.a)] = root(link.b)
    members = {i.member.key: i.member for i in items}
    groups: dict[str, list[Link]] = {}
    for link in links:
        groups.setdefault(root(link.a), []).append(link)
    out = []
    for group in groups.values():
        keys = sorted({k for link in group for k in (link.a, link.b)})
        kind = "duplicate" if all(link.kind == "duplicate" for link in group) else "related"
        out.append(Cluster(kind, tuple(sorted((members[k] for k in keys),
                                              key=lambda m: (m.start, m.key))), tuple(group)))
    return sorted(out, key=lambda c: (c.start, c.members[0].key))
