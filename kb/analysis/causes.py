"""Contributing-factor tags for incidents, from rules over the prose, with evidence.

Every tag keeps the sentence it was read from and how it was made:

* ``rule``: a phrase rule (its id in `detail`, e.g. ``dns.word``) matched a sentence of the
  title or the updates. ``stated_as`` is the tag's *role* in that sentence (`role_of`):
  ``cause`` where the sentence states the factor as (part of) the cause ("caused by an
  expired certificate", "due to an issue with a third-party DNS provider", "a misconfiguration
  caused ...", "we identified an issue with an upstream provider"), ``symptom`` where it is
  what failed or what users saw ("users may see authentication errors", "connectivity issues
  in SFO2", "errors caused by X" for the errors), ``unknown`` where a hedged sentence only
  suspects it. The side of a causal word the match sits on decides ("X caused Y": X is the
  cause, Y the symptom; "Y due to X" the same), else the kind of factor does: an attack, a
  power loss, a deploy or a third party is reported as a cause, a login or a network failure
  as what failed. Cause summaries count stated causes only (kb.analysis.compare.top_causes,
  `counts(role="cause")`); `detail` says which word decided. Scored by bench/eval_causes.py
  on bench/data/cause_roles.jsonl (docs/analysis.md).
* ``embedding``: no rule fired, and the incident's closest sentence is near a labeled example
  sentence (kb.analysis.similar; only when kb.embed and its model are available).
* ``none``: the single tag ``unknown`` when nothing matched.

A match preceded in its clause by a negation ("no data loss", "not a security incident",
"ruled out DNS") does not count; nor does a word in another sense: inside a URL, the name of a
page or setting ("Usage and Rate limits pages", "connection pool settings", "usage limit"),
a class of users ("authenticated users"), something said to work ("routing continued to work
as expected"), a remedy ("configuration changes led to a resolution"), or the provider's own
name ("the issue with Google Cloud Support" on Google Cloud's page). Rules are deliberately
phrase-level rather than single words where a word is ambiguous on status pages: GitHub's
"Pages deploys" is a product, not a deploy gone wrong; "deployed a fix" is the remedy;
"memory leak" is not a security leak; "dependency graph" is a GitHub feature. Precision and
recall per tag are measured by bench/eval_causes.py (docs/analysis.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from kb.model import Incident
from kb.normalize.impact import sentences

RULES_VERSION = 3  # 3: roles (cause / symptom / unknown) and word-sense guards
MAX_EVIDENCE = 400  # characters of a sentence kept as evidence


class Cause(StrEnum):
    AUTH = "auth"
    DNS = "dns"
    TLS = "tls"
    CONFIG = "config-deploy"
    CAPACITY = "capacity"
    DEPENDENCY = "dependency"
    NETWORK = "network"
    STORAGE = "database-storage"
    DATA_LOSS = "data-loss"
    SECURITY = "security"
    HARDWARE = "hardware-power"
    RATE_LIMIT = "rate-limiting"
    MODEL = "model-quality"
    UNKNOWN = "unknown"


LABELS: dict[Cause, str] = {
    Cause.AUTH: "authentication/identity",
    Cause.DNS: "DNS",
    Cause.TLS: "TLS/certificates",
    Cause.CONFIG: "configuration change/deploy",
    Cause.CAPACITY: "capacity/overload",
    Cause.DEPENDENCY: "dependency/upstream provider",
    Cause.NETWORK: "network",
    Cause.STORAGE: "database/storage",
    Cause.DATA_LOSS: "data loss",
    Cause.SECURITY: "security",
    Cause.HARDWARE: "hardware/power",
    Cause.RATE_LIMIT: "rate limiting",
    Cause.MODEL: "model/inference quality",
    Cause.UNKNOWN: "unknown",
}


def cause_label(tag: str) -> str:
    """The words for a stored tag; a tag this version does not know (a newer one's) as is."""
    try:
        return LABELS[Cause(tag)]
    except ValueError:
        return tag


@dataclass(frozen=True, slots=True)
class CauseTag:
    """One contributing-factor tag with its evidence and provenance."""

    tag: Cause
    method: str  # "rule", "embedding" or "none"
    evidence: str  # the sentence it was read from ("" for unknown)
    detail: str  # rule id, nearest labeled example, or why nothing matched
    stated_as: str = "symptom"  # role: "cause", "symptom" or "unknown" ("" for unknown tags)
    score: float | None = None  # cosine similarity for embedding tags


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    tag: Cause
    pattern: re.Pattern[str]
    veto: re.Pattern[str] | None = None  # the clause before the match must not end like this
    # Lower-case substrings every match contains one of: a sentence holding none of them
    # skips the regex. Most status sentences match no rule, and 17 regexes per sentence cost
    # 250 µs (100k incidents: minutes); tests check the needles against every rule match.
    needles: tuple[str, ...] = ()
    prefilter: re.Pattern[str] | None = None  # the needles as one literal alternation


def _rule(rule_id: str, tag: Cause, needles: str, pattern: str, flags: int = re.IGNORECASE,
          veto: str | None = None) -> Rule:
    words = tuple(needles.split("|"))
    return Rule(rule_id, tag, re.compile(pattern, flags),
                re.compile(veto + r"\s*$", re.IGNORECASE) if veto else None, words,
                re.compile("|".join(map(re.escape, words))))


_VENDORS = (r"AWS|Amazon Web Services|Azure|Microsoft|Google Cloud|GCP|Cloudflare|Fastly"
            r"|Akamai|Stripe|Twilio|SendGrid|Okta|Auth0|Heroku|DigitalOcean|Oracle Cloud"
            r"|Let'?s Encrypt|Apple|Slack|Zendesk|PagerDuty|Datadog")
_TROUBLE = r"(?:outage|incident|issue|problem|degradation|disruption|failure|errors?)s?"
_CHANGE = (r"(?:deploy(?:ment)?|code change|change|config(?:uration)? change|update|release"
           r"|rollout|upgrade|migration)")

RULES: tuple[Rule, ...] = (
    # authentication / identity
    _rule("auth.word", Cause.AUTH,
          "auth|log|sign|sso|saml|oauth|oidc|2fa|factor|mfa|identity|idp|token|credential|"
          "password|scim",
          # "recovery for authenticated users": a class of users, not a failing login
          r"\b(?:(?!(?:un)?authenticated (?:users?|customers?|visitors?|accounts?)\b)"
          r"(?:un)?authenticat\w*|authori[sz]ation (?:errors?|failures?|issues?)|log ?ins?|"
          r"logg(?:ing|ed) (?:in|into|on)|"
          r"sign(?:ing)?[- ]?(?:in|on)s?|single sign-on|SSO|SAML|OAuth|OIDC|2FA|two[- ]factor|"
          r"MFA|identity provider|IdP|session tokens?|access tokens?|credentials?|"
          r"password resets?|SCIM)\b"),
    # DNS
    _rule("dns.word", Cause.DNS,
          "dns|name|resol",
          r"\b(?:DNS|DNSSEC|name ?servers?|name resolution|domain resolution|resolv\w+ "
          r"(?:host ?names?|domains?))\b"),
    # TLS / certificates
    _rule("tls.word", Cause.TLS,
          "tls|ssl|cert|handshake|hsts|ocsp",
          r"\b(?:TLS|SSL|(?:TLS|SSL|x\.?509|expired|invalid|intermediate|root|server|wildcard) "
          r"cert(?:ificate)?s?|certificates? (?:expir\w+|renew\w*|rotation|chain|errors?|"
          r"issues?|validation)|handshake (?:errors?|failures?)|HSTS|OCSP)\b"),
    # configuration change / deploy
    _rule("config.change", Cause.CONFIG,
          "config|flag|migration",
          r"\b(?:config(?:uration)?\s+(?:changes?|updates?|push(?:es)?|errors?|issues?|"
          r"problems?|rollouts?|drift|reloads?)|misconfigur\w*|mis-configur\w*|feature flags?|"
          r"(?:incorrect|invalid|bad|faulty|erroneous|broken) config(?:uration)?s?|"
          r"(?:schema|database) migrations?)\b"),
    _rule("config.rollback", Cause.CONFIG,
          "roll|revert|backed out",
          r"\b(?:roll(?:ed|ing)?[- ]?back|rollbacks?|revert(?:ed|ing)?|backed out)\b"),
    _rule("config.caused", Cause.CONFIG,
          "deploy|change|update|release|rollout|upgrade|migration",
          r"\b(?:(?:recent|new|latest|faulty|bad|problematic|erroneous|earlier|previous|"
          rf"routine)\s+(?:\w+\s+)?{_CHANGE}s?(?!\s+(?:to|of)\s+(?:mitigate|fix|resolve|address))"
          rf"|(?:(?:caused|introduced|triggered|resulted)\s+(?:by|from)|due\s+to|because\s+of)"
          rf"\s+(?:a|an|the|our)?\s*"
          rf"(?:recent\s+)?(?:\w+\s+)?{_CHANGE}s?"
          rf"|{_CHANGE}s?\s+(?:that\s+|which\s+)?(?:caused|introduced|triggered|broke|led to|"
          r"resulted in)"
          r"|(?:after|following)\s+(?:a|an|the)\s+(?:recent\s+)?(?:\w+\s+)?"
          rf"{_CHANGE}s?)\b"),
    # capacity / overload
    _rule("capacity.word", Cause.CAPACITY,
          "capacity|overload|over-load|spike|surge|increase|load|demand|traffic|usage|exhaust|"
          "saturat|memory|oom|herd|scal|pool",
          r"\b(?:capacity|overload\w*|over-?loaded|(?:load|traffic|demand|usage|request) "
          r"(?:spikes?|surges?|increases?)|(?:spike|surge|increase)s? in (?:traffic|load|demand|"
          r"usage|requests)|(?:high|heavy|heavily|increased|elevated|unprecedented|unexpected) "
          r"(?:load(?:ed)?|demand|traffic|usage)|resource exhaustion|exhaust(?:ed|ion)|"
          r"saturat\w*|out of memory|OOM|memory (?:pressure|exhaustion|leak)|thundering herd|"
          r"(?:auto)?scal(?:ing|ed) (?:issues?|limits?)|(?:connection|thread) pool"
          r"(?! (?:settings?|configuration|size setting|mode)))\b(?! limits?\b)"),
    # dependency / upstream provider
    _rule("dependency.provider", Cause.DEPENDENCY,
          "party|upstream|provider|vendor|external|partner|dependen|connector",
          r"\b(?:third[- ]party|3rd[- ]party|upstream(?! changes?)|"
          r"(?:cloud|infrastructure|hosting|service|network|DNS|CDN|payments?|email|SMS|"
          r"identity|model|telecom|an external|external|a|our) (?:providers?|vendors?)|"
          r"external (?:dependenc(?:y|ies)|services?)|partner (?:outage|issue|incident)|"
          r"dependent service|downstream dependenc(?:y|ies)|connectors?)\b",
          # "working with our upstream providers to mitigate a DDoS": help, not the cause
          veto=r"\b(?:working|work|partnering|coordinating)\s+(?:closely\s+)?with\s+(?:our\s+)?"),
    _rule("dependency.vendor", Cause.DEPENDENCY,
          "aws|amazon|azure|microsoft|google|gcp|cloudflare|fastly|akamai|stripe|twilio|"
          "sendgrid|okta|auth0|heroku|digitalocean|oracle|encrypt|apple|slack|zendesk|pagerduty|"
          "datadog",
          rf"\b(?:(?:{_VENDORS})(?:'s)?\s+(?:\w+\s+){{0,3}}{_TROUBLE}|"
          rf"{_TROUBLE}\s+(?:at|with|in|from|affecting)\s+(?:our\s+)?(?:{_VENDORS}))\b"),
    _rule("dependency.escalated", Cause.DEPENDENCY,
          "reported|escalated",
          r"\b(?:reported|escalated) (?:this |it |the issue )?to (?-i:[A-Z][\w.]+)"
          r"(?: and they| who)"),
    # network
    _rule("network.word", Cause.NETWORK,
          "network|connect|packet|bgp|rout|switch|fib|peering|transit|balancer|cdn|edge|isp|"
          "latency",
          r"\b(?:network(?:ing)?(?! (?:of|effects?)\b)|connectivity|connection (?:issues|"
          r"problems|errors|failures|resets|timeouts|drops)|packet loss|BGP|rout(?:ing|er)s?|"
          r"(?:network )?switch(?:es)? (?:failure|issue)s?|fib(?:er|re) (?:cut|issue)s?|peering|"
          r"transit provider|load[- ]balancers?|CDN|edge (?:nodes?|network|servers?)|ISP|"
          r"latency between)\b",
          # "the cause is outside of our network": the network is ruled out, not named
          veto=r"\boutside\s+(?:of\s+)?(?:our|the)?"),
    # database / storage
    _rule("storage.word", Cause.STORAGE,
          "database|db|sql|postgres|redis|memcache|elasticsearch|mongo|cassandra|dynamo|spanner|"
          "bigtable|storage|disk|replica|file|shard|s3|ebs|index",
          r"\b(?:databases?|DB|MySQL|Postgres(?:QL)?|Redis|Memcached?|Elasticsearch|"
          r"MongoDB|Cassandra|DynamoDB|Spanner|Bigtable|SQL|(?:data|object|blob|file|block|"
          r"backend) ?storage|storage (?:layer|backend|system|cluster|nodes?|servers?|"
          r"issues?|capacity)|disks?|replica(?:s|tion)?|file ?servers?|file ?systems?|"
          r"(?:database|DB|storage) failover|shards?|sharding|S3|EBS|index(?:ing)? "
          r"(?:cluster|nodes?))\b"),
    # data loss
    _rule("data_loss.word", Cause.DATA_LOSS,
          "data|loss|lost|corrupt|permanently|recoverab|recovered|backfill|saved|stored|"
          "persisted|recorded|dropped|deleted",
          r"\b(?:data loss|loss of data|lost data|data (?:was|were|has been|have been|may "
          r"have been) (?:lost|deleted|corrupted|overwritten)|(?:data|file|database|index|"
          r"repository) corruption|corrupt(?:ed|ion)|permanently (?:lost|deleted|removed)|"
          r"(?:un|ir)recoverabl[ey]|could not be recovered|cannot be recovered|"
          r"(?:messages|files|records|data|repositories|events) (?:were|was|have been) "
          r"(?:lost|dropped|deleted)|(?:will|could|can) not be backfilled|(?:may|might) not "
          r"have been (?:saved|stored|persisted|recorded)|(?:were|was) not (?:saved|persisted))"
          r"\b"),
    # security
    _rule("security.word", Cause.SECURITY,
          "security|vulnerab|breach|unauthori|attack|malicious|dos|denial|compromis|exploit|"
          "leak|exposed|phishing|malware|ransomware|abus",
          r"\b(?:security (?:incident|issue|vulnerabilit(?:y|ies)|breach|event|"
          r"researcher)|vulnerabilit(?:y|ies)|breach(?:ed)?|unauthori[sz]ed (?:access|"
          r"actors?|part(?:y|ies)|requests?)|attack(?:s|ers?|ed)?|malicious|DDoS|DoS attack|"
          r"denial[- ]of[- ]service|compromis(?:e|ed)|exploit(?:s|ed)?|"
          r"(?<!memory )leak(?:ed|s)? (?:credentials|tokens?|secrets?|keys?|data)|"
          r"(?:credentials|tokens?|secrets?|keys?) (?:were |was )?(?:leaked|exposed)|"
          r"phishing|malware|ransomware|abus(?:e|ive) (?:traffic|activity))\b"),
    # hardware / power
    _rule("hardware.word", Cause.HARDWARE,
          "power|electrical|generator|ups|cooling|overheat|thermal|data|failure|hardware|faulty|"
          "failing|failed|defective|bad|non-functioning|fire",
          r"\b(?:power (?:outage|failure|loss|issue|event|supply|disruption|"
          r"interruption|problem)s?|lost power|loss of power|power(?:ed)? (?:off|down)|"
          r"electrical|(?:backup|diesel|power) generators?|(?-i:UPS)|cooling (?:system|unit|"
          r"failure|issue)s?|overheat\w*|thermal (?:event|issue|shutdown)s?|data ?cent(?:er|re) "
          r"(?:issue|outage|failure|event|incident|problem)s?|(?:disk|drive|host|server|node|"
          r"rack|NIC|memory|GPU) failures?|hardware (?:failure|fault|malfunction|issue|problem|"
          r"error|degradation)s?|(?:faulty|failing|failed|defective|bad|non-functioning) "
          r"(?:disks?|drives?|hosts?|servers?|nodes?|racks?|hardware|devices?)|fire)\b"),
    # rate limiting
    _rule("rate_limit.word", Cause.RATE_LIMIT,
          "rate|throttl|429|too many|quota|limit|credit|insufficient",
          r"\b(?:rate[- ]?limit\w*|throttl\w*|429s?|too many requests|quotas?|"
          r"(?:usage|billing) limits?|spend(?:ing)? limits?|credit balance|insufficient "
          r"(?:credits?|balance|funds|quota))\b"
          # "the Usage and Rate limits pages", "quota settings": a page or setting, not a limit
          r"(?! (?:pages?|dashboard|settings?|UI|reports?|tab|view)\b)"),
    # model / inference quality
    _rule("model.quality", Cause.MODEL,
          "quality|degradation|regression|degraded|lower|reduced|poor|incorrect|wrong|"
          "unexpected|malformed|garbled|truncated|empty|nonsensical|low|hallucinat|gibberish|"
          "tokeni|sampling",
          r"\b(?:(?:model|response|output|answer|generation|inference) (?:quality|"
          r"degradation|regression)|(?:degraded|lower|reduced|poor)[- ](?:quality|"
          r"responses|outputs?|answers)|quality (?:issues?|degradation|regression)|"
          r"(?:incorrect|wrong|unexpected|malformed|garbled|truncated|empty|nonsensical|"
          r"low[- ]quality) (?:responses|outputs?|answers|results|completions)|"
          r"hallucinat\w*|gibberish|tokeni[sz]er|sampling (?:bug|issue|error))\b"),
)

# A negation in the same clause, at most a few words before the match.
_NEGATION = re.compile(
    r"\b(?:no|not(?! (?:be )?able)|never|without|ruled out|rule out|unrelated to|"
    r"isn't|wasn't|aren't|weren't|no evidence of|nor)\b(?:\s+[\w'/-]+){0,6}\s*[\w'/-]*$", re.I)
_CLAUSE = re.compile(r"[,;:()—]|\b(?:but|and|while|whereas)\b", re.I)


def prose_of(incident: Incident) -> list[str]:
    """The sentences rules read: the title, then every update's text, without repeats
    (Statuspage feeds repeat "This incident has been resolved." a thousand times)."""
    seen: set[str] = set()
    out: list[str] = []
    for text in (incident.title, *(u.text for u in incident.updates)):
        for sentence in sentences(text or ""):
            if sentence and sentence not in seen:
                seen.add(sentence)
                out.append(sentence)
    return out


_LOOKBACK = 200  # characters before a match that negations and vetoes may sit in


# -- roles: is the factor stated as a cause, or is it what failed? ------------------------------

# "Y due to X": what follows is the cause. The cause-statement forms ("the root cause was",
# "narrowed it down to") make the whole rest of the sentence the cause.
_BACKWARD = re.compile(
    r"\b(?:caused by|due to|because(?: of)?|as a result of|result(?:ed|ing|s)? from|"
    r"triggered by|stemm\w* from|attributed to|traced (?:back )?to|introduced by|owing to|"
    r"(?:caused|impacted|affected|driven) (?:in part )?by)\b", re.I)
_STATEMENT = re.compile(
    r"\b(?:(?:the )?root[- ]cause(?: of [^.;:]{0,120}?)? (?:was|is|has been|appears to be|"
    r"as|to be)|(?:the|a) cause (?:of|for) [^.;:]{0,160}? (?:was|is)|the cause (?:was|is)|"
    r"was the (?:root )?cause|narrowed (?:down )?(?:the (?:root )?cause |it |the issue )?(?:down )?"
    r"to|isolated (?:it|the (?:issue|problem|root cause)) to|tracked (?:down )?(?:the "
    r"(?:issue|problem|cause) )?(?:down )?to|identified (?:the (?:root )?cause|it) as)\b", re.I)
# "X caused Y": what precedes (in the same clause) is the cause, what follows the symptom.
_FORWARD = re.compile(
    r"\b(?:caused(?! by)|causing|causes|led to|leading to|lead to|resulted in|resulting in|"
    r"results in|triggered(?! by)|triggering|prevented|preventing|broke|disrupted|"
    r"responsible for|contribut(?:ed|ing) to|(?:has been |have been |was |were )?"
    r"(?:rolled back|reverted)(?! by))\b", re.I)
# "we identified an issue with X", "discovered a capacity issue in ...": X is what was wrong.
# Not "identified the cause of X" (X is the symptom) nor "the issue impacting X".
_IDENTIFIED = re.compile(
    r"\b(?:identified|discovered|determined|found|isolated|pinpointed|confirmed)\b"
    r"(?:(?! the cause\b| the root cause\b| and\b)[^,;:.]){0,120}$", re.I)
_NOT_OWN = re.compile(r"\b(?:impacting|affecting|with users|for users|the cause of|"
                      r"the cause for|cause of)\b", re.I)
_HEDGE = re.compile(r"\b(?:may|might|could|possibl[ey]|potential(?:ly)?|suspect\w*|believe\w*|"
                    r"likely|appears? to|seems? to|whether|if)\b", re.I)
_CLAUSE_BREAK = re.compile(r"[,;:()—]|\b(?:but|while|whereas|as|although)\b", re.I)
# A match followed, in its clause, by one of these is not a failing factor at all.
_NOT_FAILING = re.compile(  # used with .match(sentence, end): anchored at the match's end
    r"[^,;:.]{0,80}?\b(?:(?:continued|continues) to (?:work|operate|function)|"
    r"work(?:ed|ing|s)? as expected|(?:is|are|was|were|remain(?:s|ed)?) (?:unaffected|"
    r"operating normally|not (?:affected|impacted))|(?:led|lead|leads) to (?:a |some )?"
    r"(?:resolution|recovery|improvement))", re.I)
_ERROR_AFTER = re.compile(r"^[\w\s-]{0,12}?\b(?:errors?|messages?|responses?)\b", re.I)
# Rules whose factor a status page reports as the cause unless the sentence says otherwise
# (an attack, a power loss, a deploy, a third party); the others are what failed.
_CAUSE_KINDS = frozenset({Cause.CONFIG, Cause.DEPENDENCY, Cause.SECURITY, Cause.HARDWARE,
                          Cause.CAPACITY})
BY_KIND = "is reported as a cause"  # in `detail` where the kind of factor decided, not words
_SYMPTOM_WORDS = re.compile(r"^(?:connectors?|SSL|TLS|HSTS|OCSP|handshake .*)$", re.I)
_CAUSE_WORDS = re.compile(r"(?:peering|transit provider|BGP|fib(?:er|re) (?:cut|issue)|"
                          r"expired|invalid|intermediate|root cert|wildcard|x\.?509|"
                          r"certificates? (?:expir|renew|rotation|chain))", re.I)


def _clause_before(sentence: str, start: int) -> str:
    return _CLAUSE_BREAK.split(sentence[max(0, start - _LOOKBACK):start])[-1]


def _clause_after(sentence: str, end: int) -> str:
    return _CLAUSE_BREAK.split(sentence[end:end + _LOOKBACK])[0]


def _quoted(sentence: str, start: int) -> bool:
    before = sentence[max(0, start - _LOOKBACK):start]
    return before.count('"') % 2 == 1 or before.count("“") > before.count("”") or (
        before.count("'") % 2 == 1 and "'" in sentence[start:start + _LOOKBACK])


def role_of(sentence: str, tag: Cause, start: int, end: int) -> tuple[str, str]:
    """(role, why) of the factor matched at sentence[start:end]: "cause", "symptom" or
    "unknown" (a cause only suspected), with the words that decided it."""
    head = sentence[max(0, start - _LOOKBACK):start]
    offset = start - len(head)
    clause = _clause_before(sentence, start)
    after = _clause_after(sentence, end)

    def cause(why: str, at: int) -> tuple[str, str]:
        # "may be caused by", "likely due to", "we believe ... due to": suspected, not stated
        hedge = _HEDGE.search(sentence[max(0, at - 16):start])
        return ("unknown", f"hedged ({hedge.group(0)!r}): {why}") if hedge else ("cause", why)

    if (stated := list(_STATEMENT.finditer(head))):
        return cause(f"after {stated[-1].group(0)[:40]!r}", offset + stated[-1].start())
    clause_at = start - len(clause)
    before = [(m.end(), m.start(), "backward", m.group(0)) for m in _BACKWARD.finditer(clause)]
    before += [(m.end(), m.start(), "forward", m.group(0)) for m in _FORWARD.finditer(clause)]
    if before:
        _, at, kind, word = max(before)
        return cause(f"after {word!r}", clause_at + at) if kind == "backward" else (
            "symptom", f"after {word!r}")
    if (later := _FORWARD.search(after)):
        return cause(f"before {later.group(0)!r}", start)
    if (later := _BACKWARD.search(sentence, end, end + _LOOKBACK)):
        return "symptom", f"before {later.group(0)!r}"
    if (found := _IDENTIFIED.search(clause)) and not _NOT_OWN.search(found.group(0)):
        return cause(f"after {found.group(0).split()[0]!r}", clause_at + found.start())
    matched = sentence[start:end]
    if _quoted(sentence, start) or _ERROR_AFTER.match(sentence[end:end + 40]):
        return "symptom", "an error message"
    if _CAUSE_WORDS.search(matched) or (tag in _CAUSE_KINDS
                                        and not _SYMPTOM_WORDS.match(matched)):
        return cause(f"a {tag.value} factor {BY_KIND}", start)
    return "symptom", "what failed (no causal word)"


def _in_url(sentence: str, start: int) -> bool:
    word_start = max(sentence.rfind(" ", 0, start), sentence.rfind("(", 0, start),
                     sentence.rfind("[", 0, start)) + 1
    return "://" in sentence[word_start:start + 1] or sentence[word_start:start].startswith(
        ("www.", "http"))


def _own_name(matched: str, own: frozenset[str]) -> bool:
    """A vendor rule naming the page's own company ("the issue with Google Cloud Support"
    on Google Cloud's page): its own trouble, not a dependency."""
    squashed = re.sub(r"[^a-z0-9]", "", matched.lower())
    return any(name and name in squashed for name in own)


def own_names(provider: str | None, name: str | None = None) -> frozenset[str]:
    """Squashed names a provider's own text calls it (for `_own_name`)."""
    if not provider:
        return frozenset()
    names = {re.sub(r"[^a-z0-9]", "", provider.lower())}
    names |= {re.sub(r"[^a-z0-9]", "", p.lower()) for p in provider.split("-") if len(p) > 3}
    if name:
        names.add(re.sub(r"[^a-z0-9]", "", name.split("(")[0].lower()))
    names |= _OWN_ALIASES.get(provider, set())
    return frozenset(n for n in names if n)


_OWN_ALIASES = {"aws": {"amazon", "amazonwebservices"}, "google-cloud": {"gcp", "googlecloud"},
                "azure": {"microsoft", "azure"}}
_RANK = {"cause": 0, "unknown": 1, "symptom": 2}
# Matches of one rule read per sentence: a hostile sentence of 100k "login"s stays cheap, and
# a real sentence never names one factor this often.
_MATCHES_READ = 20


def _negated(sentence: str, start: int) -> bool:
    # Only the nearby text: a hostile sentence of 100k negated matches must stay linear.
    before = sentence[max(0, start - _LOOKBACK):start]
    clause = _CLAUSE.split(before)[-1]
    return bool(_NEGATION.search(clause))


def _evidence(sentence: str) -> str:
    text = " ".join(sentence.split())
    return text if len(text) <= MAX_EVIDENCE else text[: MAX_EVIDENCE - 1] + "…"


def sentence_tags(sentence: str, own: frozenset[str] = frozenset()) -> list[CauseTag]:
    """The rule tags of one sentence, each with its role there (the best of its matches:
    a cause over an unknown over a symptom). `own`: `own_names` of the page's provider."""
    out: dict[Cause, CauseTag] = {}
    lower = sentence.lower()
    for rule in RULES:
        if rule.prefilter is not None and not rule.prefilter.search(lower):
            continue
        for seen, match in enumerate(rule.pattern.finditer(sentence)):
            if seen >= _MATCHES_READ:
                break
            start, end = match.start(), match.end()
            if (_negated(sentence, start)
                    or (rule.veto and rule.veto.search(sentence[max(0, start - _LOOKBACK):start]))
                    or _in_url(sentence, start) or _NOT_FAILING.match(sentence, end)
                    or (rule.tag is Cause.DEPENDENCY and rule.id == "dependency.vendor"
                        and _own_name(match.group(0), own))):
                continue
            role, why = role_of(sentence, rule.tag, start, end)
            held = out.get(rule.tag)
            if held is None or _RANK[role] < _RANK[held.stated_as]:
                out[rule.tag] = CauseTag(rule.tag, "rule", _evidence(sentence),
                                         f"{rule.id}: {match.group(0)!r}; {role}: {why}", role)
            if role == "cause":
                break
    return list(out.values())


def tag_sentences(prose: Sequence[str], own: frozenset[str] = frozenset()) -> list[CauseTag]:
    """Rule tags for a list of sentences: one per cause, its role the strongest it has in
    any sentence (cause, then unknown, then symptom) and its evidence the first sentence
    with that role. [unknown] when none."""
    best: dict[Cause, CauseTag] = {}
    for sentence in prose:
        if len(best) == len(RULE_TAGS) and all(t.stated_as == "cause" for t in best.values()):
            break
        for tag in sentence_tags(sentence, own):
            held = best.get(tag.tag)
            if held is None or _RANK[tag.stated_as] < _RANK[held.stated_as]:
                best[tag.tag] = tag
    if not best:
        return [unknown()]
    return [best[c] for c in Cause if c in best]


RULE_TAGS = frozenset(rule.tag for rule in RULES)


def unknown(detail: str = "no rule matched") -> CauseTag:
    return CauseTag(Cause.UNKNOWN, "none", "", detail, "")


def tag_incident(incident: Incident) -> list[CauseTag]:
    """Rule tags of one incident (see module docstring)."""
    return tag_sentences(prose_of(incident), own_names(incident.provider))


def tag_text(text: str) -> list[CauseTag]:
    """Rule tags of free text (a postmortem, a news summary)."""
    return tag_sentences([s for s in sentences(text) if s])


# Categories of the published postmortem lists (icco/postmortems) that name a factor this
# tagger knows; "cloud", "automation", "cascading-failure" and "time" name none of them.
# danluu's list: "Config Errors", "Hardware/Power Failures" and "Database" name one each;
# "Time", "Conflicts" and "Uncategorized" none.
POSTMORTEM_CATEGORIES: dict[str, Cause] = {
    "config-change": Cause.CONFIG,
    "hardware": Cause.HARDWARE,
    "security": Cause.SECURITY,
    "config errors": Cause.CONFIG,
    "hardware/power failures": Cause.HARDWARE,
    "database": Cause.STORAGE,
}


def postmortem_cause_categories(categories: Iterable[str]) -> list[str]:
    """The categories of a write-up that give a stated cause, as written."""
    return [c for c in categories if c.lower() in POSTMORTEM_CATEGORIES]


def with_postmortem_causes(tags: Sequence[CauseTag],
                           writeups: Sequence[tuple[str, str, Sequence[str]]]) -> list[CauseTag]:
    """`tags` plus the stated causes of linked postmortems: each (title, url, categories)
    whose category maps to a tag gives that tag as a stated cause (method "postmortem", the
    write-up's title as evidence), replacing a weaker role of the same tag; "unknown" goes
    when any is added."""
    best = {t.tag: t for t in tags if t.tag is not Cause.UNKNOWN}
    for title, url, categories in writeups:
        for category in categories:
            cause = POSTMORTEM_CATEGORIES.get(category.lower())
            if cause is None:
                continue
            held = best.get(cause)
            if held is None or _RANK[held.stated_as or "unknown"] > _RANK["cause"]:
                best[cause] = CauseTag(cause, "postmortem", _evidence(title),
                                       f"postmortem category {category!r} ({url})", "cause")
    if not best:
        return list(tags)
    return [best[c] for c in Cause if c in best]


def counts(tags: Iterable[Iterable[CauseTag]], role: str | None = None) -> dict[str, int]:
    """How many incidents carry each tag, most common first; with `role`, only the tags
    with that role ("cause": the stated causes, what a cause summary counts)."""
    tally: dict[str, int] = {}
    for incident_tags in tags:
        for tag in {t.tag.value for t in incident_tags if role is None or t.stated_as == role}:
            tally[tag] = tally.get(tag, 0) + 1
    return dict(sorted(tally.items(), key=lambda kv: (-kv[1], kv[0])))


# -- stated cause of a whole sentence (what a postmortem draft quotes as "the stated cause") ---

# "any task that failed would have been stopped because of ...": a hypothetical, not what
# happened. The classifier's hedges, plus the conditional.
_CONDITIONAL = re.compile(r"\b(?:would|should|if|unless|in case)\b", re.I)
# "There was no impact to running tasks ... because of ...": the sentence says what did not
# happen; its causal word explains the non-event, not the incident.
_NO_IMPACT = re.compile(
    r"^(?:[^,;:.]{0,40}\b)?(?:there (?:was|were|is|has been) no|no) (?:\w+ ){0,2}"
    r"(?:impact|effect|disruption|outage|data loss)\b|\b(?:was|were|are|is) not (?:impacted|"
    r"affected)\b", re.I)


def stated_by_words(tag: CauseTag) -> bool:
    """A rule tag the sentence's words state as the cause ("due to", "the root cause was",
    "we identified an issue with"), not one read as a cause only from its kind of factor (a
    third party named in "we will review how we upgrade third-party dependencies")."""
    return tag.stated_as == "cause" and tag.method == "rule" and BY_KIND not in tag.detail


def states_cause(sentence: str, causal: re.Pattern[str] | None = None) -> bool:
    """The sentence states what caused the incident, by the classifier's reading of causal
    words (`role_of`): a causal word (`causal`, default the classifier's "due to" / "caused
    by" / "the root cause was" forms) that is neither negated in its clause ("not caused by"),
    nor hedged or conditional ("may be due to", "would have been stopped because of"), in a
    sentence that does not state that something had no impact ("There was no impact to
    running tasks ... because of ..."). Postmortem drafts quote a sentence as the stated cause
    only when this holds, so drafts and cause summaries decide what a cause is one way."""
    if _NO_IMPACT.search(sentence):
        return False
    patterns = (causal,) if causal is not None else (_STATEMENT, _BACKWARD)
    for pattern in patterns:
        for seen, match in enumerate(pattern.finditer(sentence)):
            if seen >= _MATCHES_READ:
                break
            start = match.start()
            clause = _clause_before(sentence, start)
            if _negated(sentence, start) or _HEDGE.search(clause) or _CONDITIONAL.search(clause):
                continue
            return True
    return False
