"""The phase of an update whose source states none, read from its text.

Google Cloud, AWS and many plain feeds publish prose only ("Mitigation work is currently
underway by our engineering team."). Statuspage's vocabulary is the target:

- investigating: the cause is not known yet, the team is looking;
- identified: the cause or a fix is known and being worked on, not yet in effect;
- monitoring: a fix or mitigation is in effect (or the issue "partially resolved"), not closed;
- resolved: the vendor says it is over;
- postmortem: an incident report written after the fact.

Hand-written rules rather than a model: the vendors' prose is templated (Google's is a form
with "Summary:/Description:/Diagnosis:/Workaround:" fields), the rules are auditable one line
at a time, and they run in microseconds per update with no weights to ship. They are tested
against labeled real updates (tests/fixtures/infer_labels.jsonl) and, held out, against text
of providers they were not written against (bench/data/labels_phases.jsonl, docs/normalize.md);
where they cannot tell, `infer_phase` says so (None) instead of guessing.

Sentence by sentence: a phase is only read from what a sentence asserts. Quoted words
("'resolved' status was incorrectly shown") are not the writer's claim; a condition or a time
clause ("until/once/as soon as the issue is resolved", "to ensure it has resolved") is a hope;
a future, hedged or negated sentence ("we expect this to be resolved", "has not yet been
resolved", "still working towards a fix", "waiting for confirmation that ...") cannot close an
incident. A resolution next to ongoing work or monitoring ("resolved ... we continue to
monitor") is monitoring. No NLP library does this better here: spaCy/negspacy need model
weights and a heavy dependency for what is a closed vocabulary of status-page English, and the
project's own splitter (kb.normalize.impact.sentences) already handles its abbreviations.
"""

from __future__ import annotations

import re

from kb.model import Phase
from kb.normalize.impact import sentences

__all__ = ["infer_phase", "label_hint"]

_FLAGS = re.I
# Google's form: only the Description field speaks about progress; Summary is the title and
# Diagnosis/Workaround describe symptoms ("operations may fail", "until resolved").
_DESCRIPTION = re.compile(r"^[\s*_#>]*description[\s*_]*:[\s*_]*", re.I | re.M)
_FORM_END = re.compile(r"^[\s*_#>]*(?:diagnosis|workaround)[\s*_]*:", re.I | re.M)
_SUMMARY_LINE = re.compile(r"^[\s*_#>]*summary[\s*_]*:.*$", re.I | re.M)

_POSTMORTEM = [
    re.compile(r"\A\W*(?:mini[\s_-]+)?incident[\s_-]+report\b", _FLAGS),
    re.compile(r"^[\s#*_]*root cause[\s*_]*:?[\s*_]*$", re.I | re.M),
    re.compile(r"\bwe are posting this retroactively\b", _FLAGS),
    re.compile(r"\bwould like to provide some information about this incident\b", _FLAGS),
    re.compile(r"\bpost[\s-]+incident review\b", _FLAGS),
]
# A negator shortly before a resolution word turns it into a hope or a condition:
# "until this issue is resolved", "expected to be mitigated", "partially resolved".
_NEGATORS = re.compile(
    r"(?:\buntil\b|\bonce\b|\bwhen\b|\bbefore\b|\bif\b|\bexpect\w*|\bnot\b|n't\b|\bpartially\b"
    r"|\bto be\b|\bwill be\b|\bwhether\b)[^.;]{0,40}$",
    _FLAGS,
)
_RESOLVED = [
    re.compile(r"\b(?:has|have|had) (?:now )?(?:been )?(?:fully )?resolved\b", _FLAGS),
    # "The issue with restoring Backups ... is resolved", "Push throughput has been restored"
    re.compile(r"\b(?:is|are|was|were) (?:now )?(?:fully )?resolved\b", _FLAGS),
    re.compile(r"\b(?:has|have) (?:now )?been (?:fully )?restored\b", _FLAGS),
    re.compile(r"\b(?:resumed|returned to) normal (?:operations?|service)\b", _FLAGS),
    # Vultr's maintenance notes: "The migration has been completed", "Maintenance completes"
    re.compile(r"\b(?:migration|maintenance|upgrade|cutover|work)s? (?:has been |have been |"
               r"was |is |were )?(?:now )?(?:successfully )?(?:completed?|completes|finished)\b",
               _FLAGS),
    # after the fact: "System recovered by 9:59 AM PST."
    re.compile(r"\b(?:recovered|restored|resolved) (?:by|at|as of) \d{1,2}(?::\d\d)?", _FLAGS),
    re.compile(r"\b(?:issue|problem|incident)s? (?:is|are|was|were) (?:now )?(?:fully )?resolved\b",
               _FLAGS),
    re.compile(r"\bresolved for (?:all|the) (?:affected|impacted)\b", _FLAGS),
    re.compile(r"\bservices? (?:is|are) (?:now )?operating normally\b", _FLAGS),
    re.compile(r"\bwhile we worked on resolving\b", _FLAGS),
    # After-the-fact summaries: "Between 11:07 AM and 11:15 AM PDT we experienced ..."
    re.compile(r"\A\W*between\b[^.]{0,120}?\b(?:we|customers|users)\b[^.]{0,30}"
               r"\b(?:experienced|noticed|saw|served|received)\b", _FLAGS),
    re.compile(r"\A\W*from \d{1,2}(?::\d\d)?\s?(?:[ap]m)?\b[^.]{0,40}\bthere was\b", _FLAGS),
    re.compile(r"\A\W*we experienced an? (?:\w+ )?issue\b", _FLAGS),
]
# Said next to a resolution, these make it partial: "We have resolved the networking issue ...
# We continue to work on the remaining instances."
_STILL_WORKING = re.compile(
    r"\b(?:continu\w+ to (?:\w+ly )?(?:work|make progress|recover|process|investigate|monitor)"
    r"|remaining "
    r"(?:instances|volumes|errors|impact|issues?)|still (?:seeing|experiencing|monitoring|working)"
    r"|still|most of|majority of|towards? (?:full |a permanent )?(?:recovery|resolution|fix)"
    r"|(?:is|are|am) (?:now |currently |closely )?monitoring)\b",
    _FLAGS,
)
_MONITORING_STRONG = [
    re.compile(r"\bpartially resolved\b", _FLAGS),
    re.compile(r"\b(?:is|are|has been|have been|was) (?:now )?(?:largely |fully |mostly )?"
               r"mitigated\b", _FLAGS),
    re.compile(r"\bhas mitigated\b", _FLAGS),
    re.compile(r"\b(?:fix|mitigation|rollback|patch)(?:es)? (?:has|have) been (?:successfully )?"
               r"(?:deployed|applied|implemented|completed|rolled out)\b", _FLAGS),
    re.compile(r"\bmitigation (?:is|was) (?:now )?(?:complete|completed|in place)\b", _FLAGS),
    re.compile(r"\b(?:have|has) (?:now )?(?:completed|applied|deployed|implemented|rolled out) "
               r"(?:the |a |an |our |additional |several )?(?:\w+ )?(?:fix|mitigation)", _FLAGS),
    re.compile(r"\bcompleted (?:the )?(?:deployment|rollout|roll-out|implementation|application)"
               r" of (?:the |a |our )?(?:\w+ )?(?:fix|mitigation)", _FLAGS),
    # recovery observed: a fix or mitigation is taking effect
    re.compile(r"\b(?:see|seeing|seen|observ\w+) (?:signs of |some |early signs of |an? |"
               r"significant |gradual |continued |further |steady |full )?(?:recovery|improvement)",
               _FLAGS),
    re.compile(r"\b(?:has|have) (?:fully )?recovered\b", _FLAGS),
    re.compile(r"\breturned to normal\b", _FLAGS),
    re.compile(r"\b(?:taken|took) (?:remedial|corrective) action\b", _FLAGS),
    re.compile(r"\band (?:has |have )?(?:implemented|applied|deployed) (?:a |the )?fix\b", _FLAGS),
    re.compile(r"\b(?:is|are) now monitoring\b", _FLAGS),
    re.compile(r"\bcontinu\w+ to recover\b", _FLAGS),
]
_SEEKING_CAUSE = [
    re.compile(r"\b(?:investigat\w*|determin\w*|drive to|driving to|narrow\w* down|identify|"
               r"understand\w*) (?:the )?root cause\b", _FLAGS),
    re.compile(r"\bfurther investigation is required\b", _FLAGS),
]
_IDENTIFIED = [
    re.compile(r"\bmitigation (?:work )?(?:is )?(?:currently |still |now )?(?:underway|under way|"
               r"in progress|under progress|progressing|being rolled out|being deployed)\b",
               _FLAGS),
    re.compile(r"\b(?:have|has) a mitigation underway\b", _FLAGS),
    re.compile(r"\bidentified (?:the |a |an )?(?:potential |likely |probable |underlying )?"
               r"(?:root cause|cause|fix|source|trigger|issue causing|subsystem)\b", _FLAGS),
    re.compile(r"\b(?:has|have) identified (?:the |an? |some )?(?:issues?|problem|bug)\b", _FLAGS),
    re.compile(r"\broll(?:s|ing)? out (?:a |the )?(?:fix|mitigation|patch)\b", _FLAGS),
    re.compile(r"\broot cause (?:has been |is |was )?(?:identified|determined|found|understood)\b",
               _FLAGS),
    re.compile(r"\bwork(?:ing|s)? (?:on|towards?|to) (?:a |the )?(?:potential |full )?"
               r"(?:fix|mitigat|resolv|resolution|recover|restor|deploy)\w*", _FLAGS),
    re.compile(r"\bwork\w* with (?:our |\w+ )?partners? to (?:fully )?(?:resolve|mitigate|restore)",
               _FLAGS),
    re.compile(r"\b(?:rolling out|deploying|implementing|testing|applying|developing|validati\w+)"
               r" (?:of )?(?:a |the |an? \w+ )?(?:potential )?(?:fix|mitigation|patch|rollback)\b",
               _FLAGS),
    re.compile(r"\bcontinu\w+ to monitor the (?:mitigation|progress|rollout)\b", _FLAGS),
    re.compile(r"\b(?:progress|work\w*) (?:towards?|on) (?:full )?"
               r"(?:recovery|resolution|mitigation)", _FLAGS),
    re.compile(r"\b(?:take|taking|took) (?:additional |further )?mitigation", _FLAGS),
]
_MONITOR_WORDS = [
    re.compile(r"\b(?:continu\w+ to|will|we are|we're|are now|closely) monitor", _FLAGS),
    re.compile(r"\bmonitoring (?:the|for|closely|results|the situation)\b", _FLAGS),
    re.compile(r"\b(?:is|are|am) (?:now |currently |closely )?monitoring\b", _FLAGS),
]
_INVESTIGATING = [
    re.compile(r"\binvestigat", _FLAGS),
    re.compile(r"\b(?:we are|we're|is|are) (?:currently |still )?experiencing\b", _FLAGS),
    re.compile(r"\breceived (?:a |several |multiple )?reports?\b", _FLAGS),
    re.compile(r"\blooking into\b", _FLAGS),
    re.compile(r"\btroubleshoot", _FLAGS),
    re.compile(r"\b(?:we are|we're) aware\b", _FLAGS),
    re.compile(r"\bwe can confirm\b", _FLAGS),
    re.compile(r"\bwe will provide (?:an|more|further) (?:update|information)\b", _FLAGS),
]
# Labels that are not phase words but say "it is over" in the vendor's own vocabulary:
# Google's AVAILABLE, AWS's "[RESOLVED]" summaries and "Service is operating normally" feed
# titles, Azure's "Mitigated".
_RESOLVED_LABELS = re.compile(
    r"^\W*(?:available|\[?resolved\]?|mitigated|service is operating normally)\b", _FLAGS
)


def label_hint(label: str | None) -> Phase | None:
    """The phase a non-phase vendor label implies (only "it is over" labels imply one)."""
    if label and _RESOLVED_LABELS.search(label.strip()):
        return Phase.RESOLVED
    return None


def infer_phase(text: str, label: str | None = None) -> Phase | None:
    """The phase an update's plain text states, or None when it gives nothing to go on.

    `label` is the vendor's own non-phase label (GCP "AVAILABLE", AWS "[RESOLVED]"): an
    "it is over" label outranks the text (the vendor closed the incident with it, even when
    the prose still speaks of monitoring), except that an incident report stays a postmortem.
    """
    found = _from_text(text or "")
    hint = label_hint(label)
    if hint is not None and found is not Phase.POSTMORTEM:
        return hint
    return found


def _from_text(text: str) -> Phase | None:
    head = text[:20_000]  # incident reports run long; their markers are near the top
    if any(p.search(head) for p in _POSTMORTEM):
        return Phase.POSTMORTEM
    said = [_Said.of(s) for s in sentences(_status_part(head))]
    said = [x for x in said if x.text]
    if not said:
        return None
    firm = " ".join(x.firm_text for x in said)  # clauses that may close an incident
    present = " ".join(x.text for x in said if not x.negated and not x.future)
    stated = " ".join(x.text for x in said if not x.negated)  # futures too: "will deploy a fix"
    if _affirmed(_RESOLVED, firm):
        return Phase.MONITORING if _STILL_WORKING.search(present) else Phase.RESOLVED
    if _affirmed(_MONITORING_STRONG, present):
        return Phase.MONITORING
    if any(p.search(stated) for p in _SEEKING_CAUSE):
        return Phase.INVESTIGATING
    if any(p.search(stated) for p in _IDENTIFIED):
        return Phase.IDENTIFIED
    if any(p.search(present) for p in _MONITOR_WORDS):
        return Phase.MONITORING
    if any(p.search(stated) for p in _INVESTIGATING):
        return Phase.INVESTIGATING
    return None


# Quoted words are not the writer's claim: "'resolved' status was incorrectly shown".
_QUOTED = re.compile(r"\"[^\"\n]{1,80}\"|\u201c[^\u201d\n]{1,80}\u201d"
                     r"|\u2018[^\u2019\n]{1,80}\u2019|(?<!\w)'[^'\n]{1,80}'(?!\w)")
# A condition or time clause, to the end of its clause: "until the issue is resolved",
# "as soon as it is fully resolved", "to ensure it has resolved the issue".
_CONDITION = re.compile(
    r"\b(?:until|till|once|as soon as|when|whenever|if|unless|before|whether|in case|to ensure"
    r"|to confirm|to verify|to make sure|in order to|so that|confirmation that)\b[^,;:]*", _FLAGS)
_FUTURE = re.compile(
    r"\b(?:will|won't|shall|going to|expect\w*|anticipat\w*|plan(?:s|ned)? to|hope\w*|ETA)\b"
    r"|\w'll\b", _FLAGS)
# "We will continue to monitor" describes what is being done now, not a plan.
_ONGOING = re.compile(r"\b(?:will|'ll) continue to\b", _FLAGS)
_HEDGE = re.compile(
    r"\b(?:should|may|might|could|would|appears?|appeared|seems?|seemed|believe\w*|likely|"
    r"possibl\w*|waiting|awaiting|pending|still|yet|partial\w*|towards?|hopefully|"
    r"unconfirmed|unclear)\b", _FLAGS)
_CLAUSE = re.compile(r"[;,]\s*(?:and|but|so|while|however|although)?\b|\s+(?:but|although|"
                     r"however)\s+", _FLAGS)
_NEGATION = re.compile(r"\b(?:not|never|cannot|no longer|neither|nor)\b|n't\b", _FLAGS)


class _Said:
    """What one sentence asserts: its text without quoted words and condition clauses, and
    whether it is negated, about the future, or hedged."""

    __slots__ = ("_firm_text", "firm", "future", "negated", "text")

    def __init__(self, text: str, negated: bool, future: bool, hedged: bool) -> None:
        self.text = text
        self._firm_text = ""
        self.negated = negated
        self.future = future
        self.firm = not (negated or future or hedged)

    @classmethod
    def of(cls, sentence: str) -> _Said:
        text = " ".join(_CONDITION.sub(" ", _QUOTED.sub(" ", sentence)).split())
        future = _FUTURE.search(_ONGOING.sub(" ", text)) is not None
        said = cls(text, _NEGATION.search(text) is not None, future,
                   _HEDGE.search(text) is not None)
        if not said.firm and not future:
            # "We have resolved the issue, and all systems should now be operating normally":
            # the hedge belongs to the second clause; the first may still close the incident.
            clauses = [c for c in _CLAUSE.split(text) if c.strip()]
            said.firm_text = " ".join(
                c for c in clauses if not (_NEGATION.search(c) or _HEDGE.search(c)))
        return said

    @property
    def firm_text(self) -> str:
        return self.text if self.firm else self._firm_text

    @firm_text.setter
    def firm_text(self, value: str) -> None:
        self._firm_text = value


def _status_part(text: str) -> str:
    """The part of an update that speaks about progress (Google's Description field)."""
    found = _DESCRIPTION.search(text)
    if found is None:
        return _SUMMARY_LINE.sub(" ", text)
    rest = text[found.end():]
    end = _FORM_END.search(rest)
    return rest[: end.start()] if end else rest


def _affirmed(patterns: list[re.Pattern[str]], text: str) -> bool:
    """Whether any pattern matches without a negator ("until", "expected to be", ...) in the
    few words before it, within the same sentence."""
    for pattern in patterns:
        for match in pattern.finditer(text):
            before = text[max(0, match.start() - 60): match.start()]
            if _NEGATORS.search(before) is None:
                return True
    return False
