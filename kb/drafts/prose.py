"""What the provider's own words say: cause, trigger, resolution, user impact, detection.

Each finder returns sentences quoted verbatim from the timeline, with the index of the update
that said them (for the footnote). Nothing is paraphrased or inferred here: a sentence either
states a cause in the provider's words or it is not a cause sentence, and a draft with none
says "Not disclosed by the provider". Cue lists are hand-written because the vocabulary of
status pages is small and a rule a reader can audit beats a model nobody can check.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kb.analysis.causes import sentence_tags, stated_by_words, states_cause
from kb.model import Update
from kb.normalize.impact import sentences

__all__ = ["Quote", "causes", "data_loss", "detection", "follow_ups", "provider_actions", "quotes",
           "resolutions", "symptoms", "triggers"]

MAX_QUOTE = 420  # characters; longer sentences are cut at a word with "[…]"

_CAUSE = re.compile(
    r"\b(?:root cause|caused by|was caused|were caused|due to|because|as a result of|"
    r"result(?:ed|s)? (?:of|from)|stemm(?:ed|ing) from|traced (?:\w+ )*?to|triggered by|"
    r"the cause (?:was|is|of this)|attributed to|originat(?:ed|ing) (?:from|in)|"
    r"was the result|led to|contributing factor)\b", re.I,
)
# "We have identified the cause ... and are working on a fix" names no cause.
_CAUSE_UNSTATED = re.compile(
    r"\b(?:identif(?:y|ied|ying)|investigat\w*|determin\w*|understand\w*|find|finding) "
    r"(?:the |a )?(?:root )?(?:cause|issue|problem)\b", re.I,
)
_CAUSE_CONNECTOR = re.compile(
    r"\b(?:caused by|due to|because|result(?:ed)? (?:of|from)|traced|triggered by|as (?:a|an) )",
    re.I,
)
_PROMISE = re.compile(
    r"\b(?:root cause analysis|RCA|post-?mortem|incident report|will (?:publish|share|post|"
    r"provide) (?:a |an |more )?(?:detailed |full |further )?(?:analysis|report|review|"
    r"write-?up))", re.I,
)
_CHANGE = re.compile(
    r"\b(?:deploy(?:ment|ed|ing|s)?|roll(?:ed|ing)?[- ]?outs?|rolling out|configuration change|"
    r"config(?:uration)? (?:update|push)|code change|change to|migration|upgrade|maintenance|"
    r"release|feature flag|update to)\b", re.I,
)
_CONTEXT_OPENER = re.compile(r"^(?:While|During|After|Following|When)\b")
_RESOLUTION = re.compile(
    r"\b(?:roll(?:ed|ing)? back|rollback|revert(?:ed|ing)?|mitigat(?:ed|ion|ing)|"
    r"remediat(?:ed|ion)|(?:deployed|applied|shipped|implemented) (?:a |the )?(?:fix|change)|"
    r"fix (?:has been|was) (?:deployed|applied|implemented)|restor(?:ed|ing)|fail(?:ed)? ?over|"
    r"scaled (?:up|out)|added capacity|restart(?:ed|ing)?|recovered|resolved by|disabled)\b",
    re.I,
)
_SYMPTOM = re.compile(
    r"\b(?:users?|customers?|may (?:see|experience|notice)|unable to|could not|failed|"
    r"error rates?|elevated errors|timeouts?|latency|delays?|unavailable|degraded)\b", re.I,
)
_DETECTION = re.compile(
    r"\b(?:detected|alert(?:ed|s|ing)?|automated monitoring|our monitoring|paged|on-?call|"
    r"noticed|reports? from (?:users|customers))\b", re.I,
)
_FUTURE = re.compile(r"\b(?:will|next update|update (?:by|within|in)|we expect)\b", re.I)
_BOILERPLATE = re.compile(
    r"^(?:this incident has been resolved|we are (?:currently )?investigating(?: this issue)?|"
    r"we are continuing to (?:investigate|monitor)|.{0,60} is operating normally|"
    r".{0,60} is experiencing (?:degraded (?:performance|availability)|a (?:major|partial) "
    r"outage))\.?$", re.I,
)
_KEY = re.compile(r"\W+")


@dataclass(frozen=True, slots=True)
class Quote:
    """A sentence as the provider wrote it, and the timeline index of its update."""

    text: str
    update: int


def _cut(sentence: str) -> str:
    if len(sentence) <= MAX_QUOTE:
        return sentence
    return sentence[:MAX_QUOTE].rsplit(" ", 1)[0] + " […]"


def quotes(
    updates: Sequence[Update], keep: Callable[[str], bool], *, limit: int, latest: bool = False
) -> list[Quote]:
    """Sentences `keep` accepts, each once (the same words posted twice count once), in
    timeline order; at most `limit`, the earliest ones, or the latest ones when `latest`."""
    seen: set[str] = set()
    found: list[Quote] = []
    for index, update in enumerate(updates):
        for sentence in sentences(update.text):
            key = _KEY.sub("", sentence.casefold())
            if (not key or key in seen or _BOILERPLATE.match(sentence)
                    or sentence.endswith(":") or not keep(sentence)):
                continue
            seen.add(key)
            found.append(Quote(_cut(sentence), index))
    return found[-limit:] if latest else found[:limit]


_CAUSE_PENDING = re.compile(r"\b(?:into|for|of) the (?:root )?cause\b|\bon-?going\b", re.I)


def _is_cause(sentence: str) -> bool:
    # One way to decide what a cause is, for drafts and cause summaries alike: the cause
    # classifier (kb.analysis.causes) reads the causal words, so a negated, hedged or
    # conditional one, or a "there was no impact" sentence, states no cause; and a sentence
    # whose words state a factor as the cause ("we identified an issue with a third-party
    # provider") is one, though it uses none of the words below. A factor the classifier
    # calls a cause only by its kind (any "third-party" named) is not quoted: a draft quotes
    # what the provider said.
    if _PROMISE.search(sentence) or _FUTURE.search(sentence):
        return False
    if any(stated_by_words(t) for t in sentence_tags(sentence)):
        return True
    if not _CAUSE.search(sentence):
        return False
    if _CAUSE_PENDING.search(sentence) and not _CAUSE_CONNECTOR.search(sentence):
        return False
    if _CAUSE_UNSTATED.search(sentence) and not _CAUSE_CONNECTOR.search(sentence):
        return False
    return states_cause(sentence, _CAUSE)


def is_cause(sentence: str) -> bool:
    """The sentence states a cause (not a promise to find one, nor a negated, hedged or
    conditional causal word): the rule of `causes`, scored by bench/eval_draft_causes.py."""
    return _is_cause(sentence)


def causes(updates: Sequence[Update], limit: int = 4) -> list[Quote]:
    """Sentences that state a cause; the latest win (resolution posts explain the most)."""
    return quotes(updates, _is_cause, limit=limit, latest=True)


def triggers(updates: Sequence[Update], limit: int = 2) -> list[Quote]:
    """Sentences that name a change (deploy, rollout, migration...) as what set it off."""
    return quotes(
        updates,
        lambda s: bool(_CHANGE.search(s)) and (_is_cause(s) or bool(_CONTEXT_OPENER.match(s)))
        and not _FUTURE.search(s),
        limit=limit, latest=True,
    )


def resolutions(updates: Sequence[Update], limit: int = 4) -> list[Quote]:
    """Sentences that say what was done to end the impact (rollback, fix, failover...)."""
    return quotes(
        updates,
        lambda s: bool(_RESOLUTION.search(s)) and not _FUTURE.search(s) and not _ACTION.search(s),
        limit=limit, latest=True,
    )


def symptoms(updates: Sequence[Update], limit: int = 4) -> list[Quote]:
    """Sentences that describe what users saw, earliest first (as the incident unfolded)."""
    return quotes(updates, lambda s: bool(_SYMPTOM.search(s)) and not _FUTURE.search(s),
                  limit=limit)


_DATA_LOSS = re.compile(
    r"\b(?:not (?:have )?been (?:saved|delivered|processed|restored)|data loss|lost|"
    r"missing (?:\w+ ){0,2}data|partially restored|could not be recovered)\b", re.I,
)


def data_loss(updates: Sequence[Update], limit: int = 2) -> list[Quote]:
    """Sentences that say data was lost, not saved or only partly restored."""
    return quotes(updates, lambda s: bool(_DATA_LOSS.search(s)) and not _FUTURE.search(s),
                  limit=limit, latest=True)


def detection(updates: Sequence[Update], limit: int = 2) -> list[Quote]:
    """Sentences that say how the provider noticed (alerts, monitoring, customer reports)."""
    return quotes(updates, lambda s: bool(_DETECTION.search(s)), limit=limit)


_ACTION = re.compile(
    r"^(?:improving|adding|expanding|reviewing|implementing|hardening|strengthening|"
    r"to prevent|going forward|moving forward|in the future|we (?:are|will be) "
    r"(?:improving|adding|implementing|reviewing|working on (?:improving|adding))|we will "
    r"(?:improve|add|implement|review|harden))\b", re.I,
)


def provider_actions(updates: Sequence[Update], limit: int = 4) -> list[Quote]:
    """The provider's own follow-up work ("Improving load-balancer capacity monitoring")."""
    return quotes(updates, lambda s: bool(_ACTION.search(s)), limit=limit, latest=True)


def follow_ups(updates: Sequence[Update], limit: int = 2) -> list[Quote]:
    """Promises of a root cause analysis or a fuller report."""
    return quotes(updates, lambda s: bool(_PROMISE.search(s)), limit=limit, latest=True)
