"""Incidents that belong together: one outage seen from several providers, or posted twice.

* **related** (different vendors): impact intervals overlap (give or take `slack`: a SaaS
  page often posts after its cloud's) *and* something beyond the time says they are one
  event. Each link lists that evidence (`Link.evidence`):

  - *stated dependency*: one incident names the other's provider or one of its products
    ("degraded availability for the GPT-5.2 … models", "the GitHub connector fails") and
    says it depends on an outside party ("an issue with an upstream model provider",
    "connector", "third-party");
  - *same upstream named*: both name the same third vendor ("Cloudflare", "AWS") or the same
    region of a cloud where that cloud is itself one of the two ("us-east-1" on AWS's page
    and on a SaaS page);
  - *same region and failure kind*: both name one region and carry one contributing-factor
    tag;
  - *community signal naming both*: one Hacker News thread or article is linked to both.

  Time overlap with nothing else, or with only a shared tag ("database/storage" on an AWS
  console outage and a Cloud SQL migration bug), or a mention without a stated dependency
  (Cloud Build's "GitHub triggers"), is a **coincidence**: kept apart
  (`ClusterReport.coincidences`), never joined into a cluster. Two busy pages overlap by
  chance every week.
* **duplicate** (one vendor, two pages, e.g. Jira and Confluence on status.atlassian.com):
  overlapping, with titles at least `DUPLICATE_SIMILARITY` alike (word-set Jaccard) or the
  same dependency terms.

Links are made pairwise and joined into clusters (connected components). Overlap is shown
as minutes of overlap, or as the gap between two incidents within the slack: never as a
negative overlap. Candidate pairs come from one sweep over intervals sorted by start, so
100k incidents cost a sort plus their real overlaps. Precision is measured on labelled pairs
by bench/eval_clusters.py (docs/analysis.md).
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


# "an issue with an upstream model provider", "the GitHub connector", "a third-party tool":
# the incident says it depends on someone else.
_DEPENDS = re.compile(
    r"\b(?:upstream|third[- ]party|3rd[- ]party|(?:cloud|infrastructure|hosting|service|"
    r"network|DNS|CDN|payments?|email|SMS|identity|model|AI model|telecom|external|underlying"
    r") (?:providers?|vendors?)|one of our (?:providers|vendors|partners)|external (?:services?|"
    r"dependenc(?:y|ies))|connectors?|partner (?:outage|issue|incident))\b", re.I)
# The cloud whose region a region name is (for "same upstream named").
_REGION_OWNER = (
    (re.compile(r"^(?:us|eu|ap|sa|ca|me|af|il|mx)-(?:gov-)?[a-z]+-\d$"), "aws"),
    (re.compile(r"^[a-z]+-[a-z]+\d$"), "gcp"),
    (re.compile(r"^(?:nyc|sfo|ams|sgp|lon|fra|tor|blr|syd)\d$"), "digitalocean"),
    (re.compile(r"^[a-z ]+ [a-z]+(?: \d)?$"), "azure"),
)


def region_owner(term: str) -> str | None:
    """The cloud a region name belongs to ("us-east-1" → aws, "us-east1" → gcp), None for
    vendor names."""
    if term in _VENDOR_TERMS:
        return None
    return next((owner for pattern, owner in _REGION_OWNER if pattern.match(term)), None)


@dataclass(frozen=True, slots=True)
class Member:
    key: str
    provider: str
    title: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Link:
    """Two incidents and why they are linked (or, as a coincidence, why not)."""

    a: str
    b: str
    kind: str  # "related", "duplicate" or "coincidence"
    overlap_minutes: float  # minutes both were open (0 when they only come within the slack)
    shared_terms: tuple[str, ...]
    names_other: tuple[str, ...]  # providers one incident's text names for the other
    shared_causes: tuple[str, ...]
    similarity: float  # title similarity
    evidence: tuple[str, ...] = ()  # why they are one event ("" for a coincidence)
    gap_minutes: float = 0.0  # minutes between one's end and the other's start, if apart

    @property
    def timing(self) -> str:
        """"overlap 100m" or "20m apart": a gap is never shown as a negative overlap."""
        if self.gap_minutes > 0:
            return f"{self.gap_minutes:.0f}m apart"
        return f"overlap {self.overlap_minutes:.0f}m"


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


@dataclass(frozen=True)
class ClusterReport:
    """Clusters, and the pairs that overlap with no evidence beyond that (coincidences:
    shared tags, a mention without a stated dependency), with their members."""

    clusters: list[Cluster]
    coincidences: list[Link]
    members: dict[str, Member]


@dataclass(frozen=True, slots=True)
class Side:
    """One incident as the linking reads it."""

    member: Member
    vendor: str
    terms: frozenset[str]
    causes: frozenset[str]
    own: frozenset[str]  # the names the item's own provider goes by
    mentions: frozenset[str] = frozenset()  # providers its text names (names and products)
    depends: bool = False  # its text says it depends on an outside party
    signals: frozenset[str] = frozenset()  # community signals linked to it
    named_as: tuple[tuple[str, str], ...] = ()  # (provider, the words that named it)

    def index_keys(self, shared_vendors: set[str]) -> set[str]:
        """Keys under which others find this item (see `query_keys`)."""
        keys = {f"t:{t}" for t in self.terms} | {f"m:{t}" for t in self.terms}
        keys |= {f"c:{c}" for c in self.causes} | {f"own:{a}" for a in self.own}
        keys |= {f"p:{self.member.provider}"} | {f"n:{p}" for p in self.mentions}
        keys |= {f"s:{x}" for x in self.signals}
        return keys | ({f"v:{self.vendor}"} if self.vendor in shared_vendors else set())

    def query_keys(self, shared_vendors: set[str]) -> set[str]:
        """Keys this item looks up: the same terms and causes, incidents mentioning its own
        provider, incidents of the providers it mentions, and its vendor's other pages."""
        keys = {f"t:{t}" for t in self.terms} | {f"own:{t}" for t in self.terms}
        keys |= {f"c:{c}" for c in self.causes} | {f"m:{a}" for a in self.own}
        keys |= {f"p:{p}" for p in self.mentions} | {f"n:{self.member.provider}"}
        keys |= {f"s:{x}" for x in self.signals}
        return keys | ({f"v:{self.vendor}"} if self.vendor in shared_vendors else set())


_Names = tuple[re.Pattern[str], dict[str, set[str]]]


def names_pattern(names: Mapping[str, Iterable[str]]) -> _Names | None:
    """One pattern for every provider's names and products (kb.signals' [signals.match]
    tables: whole words, any case), and which providers each lower-cased name means."""
    owners: dict[str, set[str]] = {}
    for provider, aliases in names.items():
        for alias in aliases:
            if alias.strip():
                owners.setdefault(alias.strip().lower(), set()).add(provider)
    if not owners:
        return None
    alternation = "|".join(re.escape(a) for a in sorted(owners, key=len, reverse=True))
    return re.compile(rf"(?<![\w.])(?:{alternation})(?!\w)", re.I), owners


def side(key: str, provider: str, title: str, text: str, start: datetime, end: datetime,
         tags: Iterable[str], *, vendor: str | None = None, own: Iterable[str] = (),
         names: _Names | None = None, signals: Iterable[str] = ()) -> Side:
    """A Side from plain values (the sweep's and bench/eval_clusters.py's one way in)."""
    own_names = frozenset(own) | {provider}
    terms = frozenset(dependency_terms(text) - own_names)
    named_as: dict[str, str] = {}
    if names is not None:
        pattern, owners = names
        for match in pattern.finditer(text):
            for owner in owners.get(match.group(0).lower(), set()) - {provider}:
                named_as.setdefault(owner, " ".join(match.group(0).split()))
    return Side(Member(key, provider, title, start, end), vendor or provider, terms,
                frozenset(t for t in tags if t != Cause.UNKNOWN.value), own_names,
                frozenset(named_as), bool(_DEPENDS.search(text)), frozenset(signals),
                tuple(sorted(named_as.items())))


def _text(incident: Incident) -> str:
    return " ".join([incident.title, *(u.text for u in incident.updates)])


def _items(
    incidents: Iterable[Incident], figures: Mapping[str, IncidentFigures],
    causes: Mapping[str, Sequence[CauseTag]], vendors: Mapping[str, str],
    aliases: Mapping[str, set[str]],
    names: _Names | None = None, signals: Mapping[str, Iterable[str]] | None = None,
) -> list[Side]:
    out = []
    signals = signals or {}
    for incident in incidents:
        f = figures.get(incident.key)
        if f is None or f.start is None or f.kind != "incident":
            continue
        # A post that was already resolved is a moment, and so is a feed entry whose impact
        # time is unknown ("bounded": posted, then resolved days later, nothing between); an
        # open incident lasts as far as the KB saw it, capped: a week-long "monitoring" tail
        # would overlap everything.
        end = (f.start if f.source in ("posted-resolved", "bounded")
               else (f.end or f.last_seen or f.start))
        end = min(max(end, f.start), f.start + MAX_SPAN)
        out.append(side(incident.key, incident.provider, incident.title, _text(incident),
                        f.start, end, (t.tag.value for t in causes.get(incident.key, ())),
                        vendor=vendors.get(incident.provider, incident.provider),
                        own=aliases.get(incident.provider, set()), names=names,
                        signals=signals.get(incident.key, ())))
    return out


def _names_of(item: Side, other: Side, aliases: Mapping[str, set[str]]) -> set[str]:
    """Names `item`'s text gives for `other`'s provider."""
    found = item.terms & (aliases.get(other.member.provider, set()) | {other.member.provider})
    return found | ({other.member.provider} if other.member.provider in item.mentions
                    else set())


def link(x: Side, y: Side, aliases: Mapping[str, set[str]] | None = None) -> Link | None:
    """The link between two incidents: related (with its evidence), duplicate, coincidence
    (they overlap and share something, but nothing that says they are one event), or None
    (nothing shared at all)."""
    aliases = aliases or {}
    a, b = x.member, y.member
    minutes = (min(a.end, b.end) - max(a.start, b.start)) / timedelta(minutes=1)
    overlap, gap = max(minutes, 0.0), max(-minutes, 0.0)
    shared = tuple(sorted(x.terms & y.terms))
    similarity = round(title_similarity(a.title, b.title), 3)
    if x.vendor == y.vendor:
        if a.provider == b.provider or not (similarity >= DUPLICATE_SIMILARITY or shared):
            return None
        why = [f"title similarity {similarity:.2f}"] if similarity >= DUPLICATE_SIMILARITY \
            else []
        why += [f"both name {', '.join(shared)}"] if shared else []
        return Link(a.key, b.key, "duplicate", overlap, shared, (), (), similarity,
                    ("same vendor's pages: " + "; ".join(why),), gap)
    x_names, y_names = _names_of(x, y, aliases), _names_of(y, x, aliases)
    names = tuple(sorted(x_names | y_names))
    causes = tuple(sorted(x.causes & y.causes))
    evidence = []
    for item, named in ((x, x_names), (y, y_names)):
        if named and item.depends:
            words = dict(item.named_as)
            said = ", ".join(f"{p} (\"{words[p]}\")" if p in words else p for p in sorted(named))
            evidence.append(f"stated dependency: {item.member.key} names {said} and says it "
                            "depends on an outside provider")
    regions = {t for t in shared if region_owner(t)}
    owned = {t for t in regions if region_owner(t) in (x.own | y.own)}
    upstream = sorted((set(shared) - regions) | owned)
    if upstream:
        evidence.append(f"same upstream named: {', '.join(upstream)}")
    if (regions - owned) and causes:
        evidence.append(f"same region and failure kind: {', '.join(sorted(regions - owned))}; "
                        f"{', '.join(causes)}")
    if (common := sorted(x.signals & y.signals)):
        evidence.append(f"community signal naming both: {', '.join(common[:3])}")
    if evidence:
        return Link(a.key, b.key, "related", overlap, shared, names, causes, similarity,
                    tuple(evidence), gap)
    if shared or names or causes:
        return Link(a.key, b.key, "coincidence", overlap, shared, names, causes, similarity,
                    (), gap)
    return None


def cluster_report(
    incidents: Iterable[Incident], figures: Mapping[str, IncidentFigures],
    causes: Mapping[str, Sequence[CauseTag]], *, since: datetime | None = None,
    until: datetime | None = None, vendors: Mapping[str, str] | None = None,
    aliases: Mapping[str, set[str]] | None = None, slack: timedelta = SLACK,
    names: Mapping[str, Iterable[str]] | None = None,
    signals: Mapping[str, Iterable[str]] | None = None,
) -> ClusterReport:
    """Clusters and coincidences. `vendors`: provider → vendor (default: the provider
    itself); `aliases`: provider → lower-case names its text may be called by (so GitHub's
    own "GitHub" is no evidence); `names`: provider → names and products another page may
    call it by ([signals.match] of sources.toml); `signals`: incident key → ids of the
    community signals linked to it."""
    vendors = vendors or {}
    aliases = aliases or {}
    items = sorted(_items(incidents, figures, causes, vendors, aliases,
                          names_pattern(names) if names else None, signals),
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
    active: dict[str, list[Side]] = {}
    links: list[Link] = []
    loose: list[Link] = []
    for item in items:
        candidates: dict[str, Side] = {}
        for key in item.query_keys(shared_vendors):
            held = active.get(key)
            if not held:
                continue
            held[:] = [a for a in held if a.member.end + slack >= item.member.start]
            for other in held:
                if other.member.provider != item.member.provider:
                    candidates[other.member.key] = other
        for other in sorted(candidates.values(), key=lambda o: (o.member.start, o.member.key)):
            found = link(other, item, aliases)
            if found is None:
                continue
            (loose if found.kind == "coincidence" else links).append(found)
        for key in item.index_keys(shared_vendors):
            active.setdefault(key, []).append(item)
    found_clusters = _components(items, links)
    members = {i.member.key: i.member for i in items}

    def inside(start: datetime, end: datetime) -> bool:
        return (since is None or end >= since) and (until is None or start < until)

    return ClusterReport(
        [c for c in found_clusters if inside(c.start, c.end)],
        [x for x in loose if inside(min(members[x.a].start, members[x.b].start),
                                    max(members[x.a].end, members[x.b].end))],
        members)


def _components(items: Sequence[Side], links: Sequence[Link]) -> list[Cluster]:
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
