"""Optional polishing of a draft's summary and lessons by a language model (`--polish`).

Configured by environment, off unless KB_LLM_URL is set:

| variable        | meaning                                                                |
|-----------------|------------------------------------------------------------------------|
| KB_LLM_URL      | one or more OpenAI-compatible chat completions URLs, comma-separated;   |
|                 | a base such as http://host:8000/v1 gets `/chat/completions` appended   |
| KB_LLM_MODEL    | model name sent with each request (default "default")                  |
| KB_LLM_API_KEY  | bearer token, sent as Authorization (never printed)                     |
| KB_LLM_TIMEOUT  | seconds per request (default 60)                                       |
| KB_LLM_RETRIES  | extra attempts per endpoint on transient failures (default 1)          |

Endpoints are tried in order; one that times out, errs, answers garbage or returns a rewrite
that fails verification is skipped for the next (an LLM endpoint is itself a dependency that
fails, which is what this knowledge base documents). A rewrite is accepted only when, for
every section, it keeps every citation marker and adds none, introduces no number that the
section did not contain, and leaves no sentence with a number uncited. Otherwise the draft
stays unpolished and each endpoint's reason is reported in one line. All HTTP goes through
`scrapers.fetch.Fetcher.post_json` (timeouts, size cap, retries).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from kb.drafts.citations import MARKER, Fact, uncited_sentences
from kb.drafts.draft import Draft
from kb.errors import ConfigError

__all__ = ["SECTIONS", "PolishResult", "PolishSettings", "polish_draft", "section_texts",
           "verify"]

SECTIONS = ("summary", "went_well", "went_wrong", "lucky")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
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
class PolishSettings:
    """Where and how to ask; see the module docstring for the environment variables."""

    endpoints: tuple[str, ...]
    model: str = "default"
    api_key: str | None = None
    timeout: float = 60.0
    retries: int = 1

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PolishSettings | None:
        """Settings from the environment, or None when KB_LLM_URL is unset or empty."""
        env = os.environ if env is None else env
        urls = [u.strip() for u in (env.get("KB_LLM_URL") or "").split(",") if u.strip()]
        if not urls:
            return None
        for url in urls:
            if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
                raise ConfigError(f"KB_LLM_URL: not an http(s) URL: {_where(url)!r}")
        try:
            timeout = float(env.get("KB_LLM_TIMEOUT") or 60)
            retries = int(env.get("KB_LLM_RETRIES") or 1)
        except ValueError:
            raise ConfigError("KB_LLM_TIMEOUT and KB_LLM_RETRIES must be numbers") from None
        if timeout <= 0 or retries < 0:
            raise ConfigError("KB_LLM_TIMEOUT must be > 0 and KB_LLM_RETRIES >= 0")
        return cls(tuple(_completions_url(u) for u in urls), env.get("KB_LLM_MODEL") or "default",
                   env.get("KB_LLM_API_KEY") or None, timeout, retries)


@dataclass(frozen=True)
class PolishResult:
    """The draft (polished, or unchanged), the endpoint that polished it, and one line per
    endpoint that was skipped and why."""

    draft: Draft
    endpoint: str | None
    notes: tuple[str, ...]


def _completions_url(url: str) -> str:
    base = url.rstrip("/")
    return base if base.endswith("/chat/completions") else base + "/chat/completions"


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


def verify(original: str, rewrite: str) -> str | None:
    """Why `rewrite` may not replace `original` (one line), or None when it may."""
    if not rewrite.strip():
        return "empty rewrite"
    if len(rewrite) > 3 * len(original) + 200:
        return "rewrite much longer than the facts it rests on"
    kept, given = set(MARKER.findall(rewrite)), set(MARKER.findall(original))
    if given - kept:
        return "lost citation " + ", ".join(f"[^{x}]" for x in sorted(given - kept))
    if kept - given:
        return "added citation " + ", ".join(f"[^{x}]" for x in sorted(kept - given))
    text = MARKER.sub(" ", rewrite)
    new_numbers = sorted(set(_NUMBER.findall(text)) - set(_NUMBER.findall(original)))
    if new_numbers:
        return "introduced numbers not in the facts: " + ", ".join(new_numbers[:5])
    if uncited_sentences(rewrite):
        return "a sentence with a number lost its citation"
    return None


def _request(settings: PolishSettings, sections: dict[str, str]) -> dict[str, Any]:
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
    try:
        data = json.loads(_FENCE.sub("", content))
    except ValueError:
        raise ValueError("reply is not the JSON object of sections asked for") from None
    if not isinstance(data, dict):
        raise ValueError("reply is not a JSON object")
    missing = [name for name in wanted if not isinstance(data.get(name), str)]
    if missing:
        raise ValueError(f"reply lacks section(s) {', '.join(missing)}")
    return {name: " ".join(data[name].split()) for name in wanted}


def polish_draft(draft: Draft, settings: PolishSettings, *, fetcher: Any = None) -> PolishResult:
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
            problems = [f"{name}: {why}" for name in sections
                        if (why := verify(sections[name], rewrite[name]))]
            if problems:
                notes.append(f"{where}: rejected ({'; '.join(problems)}); trying the next "
                             "endpoint")
                continue
            note = ("The summary and lessons were rewritten by a language model from this "
                    "draft's own facts; every citation and number was checked to survive.")
            return PolishResult(replace(draft, polished=rewrite, polish_note=note), where,
                                tuple(notes))
    finally:
        if own:
            fetcher.close()
    notes.append("no endpoint gave a usable rewrite; the draft is unpolished")
    return PolishResult(draft, None, tuple(notes))
