"""Optional polishing of a draft's summary and lessons by a language model (`--polish`).

Configured by environment (KB_LLM_*, see kb.config.ENVIRONMENT and kb.config.LlmSettings), off
unless KB_LLM_URL is set.

Endpoints are tried in order; one that times out, errs, answers garbage or returns a rewrite
that fails verification is skipped for the next (an LLM endpoint is itself a dependency that
fails, which is what this knowledge base documents). A rewrite is accepted only when, for
every section, it keeps every citation marker and adds none, introduces no number that the
section did not contain, and leaves no sentence with a number uncited. Otherwise the draft
stays unpolished and each endpoint's reason is reported in one line. `verify` says exactly
what a rewrite must keep (same citation runs in the same places, same numbers in any
spelling, no new sentence, name or cause); a reply over MAX_REPLY_CHARS is not parsed, and
any error while reading or checking one is a rejection, never a crash. All HTTP goes through
`scrapers.fetch.Fetcher.post_json` (timeouts, size cap, retries).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from kb.config import LlmSettings
from kb.drafts.citations import MARKER, Fact, uncited_sentences
from kb.drafts.draft import Draft
from kb.drafts.numbers import numbers

__all__ = ["SECTIONS", "PolishResult", "polish_draft", "section_texts", "verify"]

SECTIONS = ("summary", "went_well", "went_wrong", "lucky")
_FENCE = re.compile(r"^\s*```(?:json)?\s*|\s*```\s*$")
SYSTEM_PROMPT = (
    "You edit postmortem drafts for engineers. Rewrite each section you are given into "
    "clear, concise prose. Use only what the section says: add no facts, numbers, times, "
    "names, causes or speculation. Keep every citation marker such as [^u3] exactly as "
    "written, right after the sentence it supports, and add no new markers. Text in “curly "
    "quotes” is the provider's own words: keep it verbatim. Reply with one JSON object that "
    "maps each section name to its rewritten text, and nothing else."
)


@dataclass(frozen=True)
class PolishResult:
    """The draft (polished, or unchanged), the endpoint that polished it, and one line per
    endpoint that was skipped and why."""

    draft: Draft
    endpoint: str | None
    notes: tuple[str, ...]


def _where(url: str) -> str:
    """An endpoint as it may be printed: scheme, host and path, no credentials or query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _fact_text(fact: Fact) -> str:
    text = f"“{fact.text}”" if fact.quote else fact.text
    if fact.lead:
        text = f"{fact.lead} {text}"
    return text + "".join(f"[^{label}]" for label in fact.cites)


def section_texts(draft: Draft) -> dict[str, str]:
    """The sections a model may rewrite, as text with their citation markers inline."""
    facts = {"summary": draft.summary, "went_well": draft.lessons.went_well,
             "went_wrong": draft.lessons.went_wrong, "lucky": draft.lessons.lucky}
    return {name: " ".join(_fact_text(f) for f in facts[name]) for name in SECTIONS
            if facts[name]}


# A citation run: one or more markers in a row, and what a rewrite may put between them.
_RUN = re.compile(r"(?:\[\^[A-Za-z][\w-]*\])+")
_DEFINITION = re.compile(r"\[\^[A-Za-z][\w-]*\]\s*:")
_QUOTED = re.compile(r"“[^”]*”")
_WORD = re.compile(r"[A-Za-z][\w'’-]*(?:\.[A-Za-z0-9][\w-]*)*")
# A sentence ends at . ! ? before a capital or a digit (outside “quotes”, not after an
# abbreviation); the same rule as kb.drafts.citations, counted rather than split.
_SENTENCE_END = re.compile(r"[.!?][”\"')\]]*\s+(?=[\"“'(\[]*[A-Z0-9])")
_ABBREV = re.compile(r"(?:\b(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec|approx|e\.g|i\.e|"
                     r"vs|etc|[ap]\.m|No|Mr|Ms|Dr|St)|\b[A-Z])$")
# Words that state a cause, blame or an instruction: a rewrite may keep them, never add them
# (the model is told to add no causes; an injected "the root cause was a breach" is a claim).
_CLAIM_WORDS = frozenset((
    "cause", "caused", "causes", "causing", "root", "due", "because", "blame", "blamed", "fault",
    "breach", "breached", "attack", "attacks", "attacked", "attacker", "attackers", "hack",
    "hacked", "hacker", "malicious", "security", "compromise", "compromised", "ddos", "exploit",
    "exploited", "vulnerability", "intrusion", "ransomware", "leak", "leaked", "fraud", "sabotage",
    "negligence", "ignore", "instruction", "instructions", "prompt", "disregard", "override",
))
# Capitalised words a sentence may start with that name nobody (function words and the
# commonest openers of a rewritten postmortem sentence).
_OPENERS = frozenset((
    "a", "an", "the", "in", "on", "at", "by", "from", "to", "for", "of", "after", "before",
    "during", "while", "when", "as", "this", "that", "these", "those", "it", "its", "we", "our",
    "they", "their", "there", "here", "some", "all", "any", "no", "not", "most", "many", "users",
    "customers", "service", "services", "engineers", "then", "later", "finally", "meanwhile",
    "overall", "around", "about", "approximately", "roughly", "between", "within", "until",
    "since", "following", "once", "impact", "errors", "requests", "according", "what", "how",
    "why", "where", "who", "which", "but", "and", "so", "also", "still", "even", "only", "just",
    "both", "either", "each", "every", "other",
))
# A sentence's first word with one of these endings reads as an ordinary word ("Following",
# "Eventually", "Engineers"), not a name.
_COMMON_ENDING = re.compile(r"(?:ly|ing|ed|ion|ions|ment|ments|ness|ers|ies)$")
MAX_REPLY_CHARS = 64 * 1024  # a reply longer than this is refused unread


def _units(text: str) -> list[tuple[str, str]]:
    """(text, citation run) pairs in order; the last pair's run is "" (text after the last
    marker)."""
    out, start = [], 0
    for m in _RUN.finditer(text):
        out.append((text[start:m.start()], m.group()))
        start = m.end()
    out.append((text[start:], ""))
    return out


def _sentences(text: str) -> int:
    """How many sentences `text` holds (a quotation counts as part of its sentence)."""
    count, start = 0, 0
    for m in _SENTENCE_END.finditer(text):
        head = text[:m.start()]
        if _ABBREV.search(text[start:m.start()]) or head.count("“") > head.count("”"):
            continue
        if re.search(r"\w", text[start:m.end()]):
            count += 1
        start = m.end()
    return count + (1 if re.search(r"\w", text[start:]) else 0)


def _entities(text: str) -> set[str]:
    """Names a text mentions: capitalised or upper-case words (a sentence's first word only
    when it is not a common opener), dotted names (hosts, files) — lower-cased."""
    found: set[str] = set()
    starts = {0} | {m.end() for m in _SENTENCE_END.finditer(text)}
    # quotations blanked out in place, so positions still match `starts`
    for m in _WORD.finditer(_QUOTED.sub(lambda q: " " * len(q.group()), text)):
        word = m.group()
        if "." in word:
            found.add(word.lower())
        elif word[0].isupper():
            first = m.start() in starts or not text[:m.start()].strip()
            common = word.lower() in _OPENERS or _COMMON_ENDING.search(word.lower())
            if first and common and not word[1:].isupper():
                continue
            found.add(word.lower())
    return found


def _words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z]+", text)}


def verify(original: str, rewrite: str) -> str | None:
    """Why `rewrite` may not replace `original` (one line), or None when it may.

    The rewrite must state the same facts with the same citations in the same places: the
    same runs of citation markers in the same order, each after text of at most as many
    sentences as the original's text before it, with exactly its numbers (in any spelling,
    see kb.drafts.numbers) and its “quotations” verbatim; no text after the last citation
    unless the original had some; no name, host or cause/instruction word the original does
    not use; no marker turned into a footnote definition. Anything else is doubt, and doubt
    keeps the unpolished draft."""
    if not rewrite.strip():
        return "empty rewrite"
    if len(rewrite) > 3 * len(original) + 200:
        return "rewrite much longer than the facts it rests on"
    kept, given = set(MARKER.findall(rewrite)), set(MARKER.findall(original))
    if given - kept:
        return "lost citation " + ", ".join(f"[^{x}]" for x in sorted(given - kept))
    if kept - given:
        return "added citation " + ", ".join(f"[^{x}]" for x in sorted(kept - given))
    if _DEFINITION.search(rewrite):
        return "a citation marker was turned into a footnote definition"
    text = MARKER.sub(" ", rewrite)
    new_numbers = sorted(numbers(text) - numbers(MARKER.sub(" ", original)))
    if new_numbers:
        return "introduced numbers not in the facts: " + ", ".join(new_numbers[:5])
    old, new = _units(original), _units(rewrite)
    if [run for _, run in old] != [run for _, run in new]:
        return "citations moved: not the same markers after the same sentences in order"
    for (was, run), (now, _) in zip(old, new, strict=True):
        where = f"the sentence cited {run}" if run else "the text after the last citation"
        if _sentences(now) > _sentences(was):
            return f"new uncited sentence before {run}" if run else (
                "new sentence without a citation after the last one")
        if numbers(now) != numbers(was):
            return f"numbers changed in {where}"
        if sorted(_QUOTED.findall(now)) != sorted(_QUOTED.findall(was)):
            return f"a quotation was not kept verbatim in {where}"
    names = sorted(_entities(text) - _entities(MARKER.sub(" ", original)) - _words(original))
    if names:
        return "introduced names not in the facts: " + ", ".join(names[:5])
    claims = sorted((_words(text) & _CLAIM_WORDS) - _words(original))
    if claims:
        return "introduced claim words not in the facts: " + ", ".join(claims[:5])
    if uncited_sentences(rewrite):
        return "a sentence with a number lost its citation"
    return None


def _request(settings: LlmSettings, sections: dict[str, str]) -> dict[str, Any]:
    return {
        "model": settings.model,
        "temperature": 0,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": json.dumps({"sections": sections}, ensure_ascii=False)},
        ],
    }


def _reply(answer: dict[str, Any], wanted: list[str]) -> dict[str, str]:
    """The sections of a chat-completions answer; ValueError (one line) when it is garbage."""
    try:
        content = answer["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise ValueError("answer has no choices[0].message.content") from None
    if not isinstance(content, str):
        raise ValueError("message content is not text")
    if len(content) > MAX_REPLY_CHARS:
        raise ValueError(f"reply longer than {MAX_REPLY_CHARS} characters, not read")
    try:
        data = json.loads(_FENCE.sub("", content))
    except (ValueError, RecursionError):
        raise ValueError("reply is not the JSON object of sections asked for") from None
    if not isinstance(data, dict):
        raise ValueError("reply is not a JSON object")
    missing = [name for name in wanted if not isinstance(data.get(name), str)]
    if missing:
        raise ValueError(f"reply lacks section(s) {', '.join(missing)}")
    return {name: " ".join(data[name].split()) for name in wanted}


def polish_draft(draft: Draft, settings: LlmSettings, *, fetcher: Any = None) -> PolishResult:
    """Ask each endpoint in turn to rewrite summary and lessons; keep the first rewrite that
    passes `verify` for every section, else return the draft unpolished with the reasons."""
    from scrapers.errors import FetchError
    from scrapers.fetch import Fetcher, FetchSettings

    sections = section_texts(draft)
    if not sections:
        return PolishResult(draft, None, ("nothing to polish: the draft has no summary or "
                                          "lessons facts",))
    own = fetcher is None
    if own:
        fetcher = Fetcher(FetchSettings(
            connect_timeout=min(10.0, settings.timeout), read_timeout=settings.timeout,
            total_timeout=settings.timeout * 2, retries=settings.retries, backoff_base=0.5,
            backoff_max=5.0, max_retry_after=30.0, politeness_delay=0.0,
            max_bytes=4 * 1024 * 1024,
        ))
    headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
    notes: list[str] = []
    try:
        for url in settings.endpoints:
            where = _where(url)
            try:
                answer = fetcher.post_json(url, _request(settings, sections), headers)
                rewrite = _reply(answer, list(sections))
            except FetchError as exc:
                notes.append(f"{where}: {exc.reason}; trying the next endpoint")
                continue
            except ValueError as exc:
                notes.append(f"{where}: {exc}; trying the next endpoint")
                continue
            except Exception as exc:  # a reply must never stop the draft
                notes.append(f"{where}: unusable answer ({type(exc).__name__}); trying the "
                             "next endpoint")
                continue
            try:
                problems = [f"{name}: {why}" for name in sections
                            if (why := verify(sections[name], rewrite[name]))]
            except Exception as exc:  # doubt keeps the unpolished draft
                problems = [f"could not be checked ({type(exc).__name__})"]
            if problems:
                notes.append(f"{where}: rejected ({'; '.join(problems)}); trying the next "
                             "endpoint")
                continue
            note = ("The summary and lessons were rewritten by a language model from this "
                    "draft's own facts; every citation, number and quotation was checked to "
                    "survive in place.")
            return PolishResult(replace(draft, polished=rewrite, polish_note=note), where,
                                tuple(notes))
    finally:
        if own:
            fetcher.close()
    notes.append("no endpoint gave a usable rewrite; the draft is unpolished")
    return PolishResult(draft, None, tuple(notes))
