"""Incident → the text document that is embedded, searched and quoted back as evidence.

A document is the title, the affected components, the distinct informative sentences of the
updates (status-page boilerplate such as "This incident has been resolved." removed: it is in
a third of all incidents and pulls every vector towards the same point), the impact-window
evidence sentence, and extra texts contributed by later features (see `DOCUMENT_EXTRAS`).

Long documents are cut into chunks of whole sentences that fit the model's window; the
encoder embeds every chunk and pools them (nothing is silently truncated). `doc_hash` covers
the text and the recipe version, never the model: a model change is tracked separately.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from kb.model import Incident
from kb.store.repo import Store

# Bump when the document text changes for the same incident: every vector is rebuilt.
RECIPE = 2  # 2: placeholder titles and pseudo-components left out

# Words per chunk. MiniLM sees 256 word pieces; English status prose runs ~1.3 pieces per
# word, so 160 words leave room for odd tokens (ids, URLs) before the window is reached.
CHUNK_WORDS = 160
# A hostile or runaway incident (thousands of updates) is embedded from its first chunks
# only; the stage reports each such incident by key, so the cut is never silent.
MAX_CHUNKS = 32

# Hook for later features (signals: news and forum titles linked to an incident). Each entry
# maps incident keys to extra short texts that join the document after the updates, and so
# change its hash: `kb embed` then re-embeds those incidents. Append (name, function) here from
# the feature's own module. The embed stage calls every function once per run with every
# incident's key, so a hook should read its links once and return only the keys that have
# texts (a dict lookup per key, not a query per key); what it returns is fingerprinted
# (`inputs_hash`), so an incident whose extras did not change is not rebuilt.
ExtraTexts = Callable[[Store, Sequence[str]], Mapping[str, Sequence[str]]]
def _signal_titles(store: Store, keys: Sequence[str]) -> Mapping[str, Sequence[str]]:
    from kb.signals.document_texts import linked_titles  # imported when embedding runs

    return linked_titles(store, keys)


def _postmortem_texts(store: Store, keys: Sequence[str]) -> Mapping[str, Sequence[str]]:
    from kb.postmortems.document_texts import linked_texts  # imported when embedding runs

    return linked_texts(store, keys)


DOCUMENT_EXTRAS: list[tuple[str, ExtraTexts]] = [("signals", _signal_titles),
                                                 ("postmortems", _postmortem_texts)]

# Titles that only say when ("Incident on 2020-07-22 16:20 UTC": 971 of the 1,850 corpus
# incidents, GitHub's history) put the same words and a date into half the documents: two
# unrelated GitHub incidents of one day looked alike, and "Incident" matched everything.
_PLACEHOLDER_TITLE = re.compile(
    r"^(?:incident|outage|issue|maintenance|event)?\s*(?:on|at|from)?\s*"
    r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?\s*(?:utc|gmt|z)?$", re.IGNORECASE)
# "Components" that are a pointer, not a part of the service: GitHub lists "Visit
# www.githubstatus.com for more information" on 73 incidents of 2019-2020.
_NOT_A_COMPONENT = re.compile(r"\bfor more information\b|^(?:visit|see|check)\s", re.IGNORECASE)

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9])|\n+")
_SPACE = re.compile(r"\s+")
# Early GitHub updates inline their own log: "- 2011-07-28 05:43:00 - Fixed. - 2011-07-28 ...".
# The stamps are noise to both rankings; each one starts a new sentence instead.
_INLINE_STAMP = re.compile(
    r"(?:^\s*(?:-\s*)?|\s-\s+)\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?(?:\s*UTC)?\s+-\s+")
# Sentences that say nothing about *what* failed. Matched against the whole sentence,
# lower-cased, trailing punctuation removed. Built from the most frequent sentences of the
# 1,850 corpus incidents (GitHub, Anthropic, OpenAI, DigitalOcean, ...).
_BOILERPLATE = re.compile(
    r"^(?:"
    r"this (?:incident|issue|maintenance) has (?:now )?been (?:resolved|completed)"
    r"|(?:the )?scheduled maintenance (?:is currently in progress|has been completed)"
    r"|we(?: are|'re)(?: continuing| still| currently)? (?:to )?investigat(?:e|ing)"
    r"(?: this issue| the issue)?(?: and will provide an update when we have one)?"
    r"|we are continuing to (?:investigate|monitor|work on a fix)(?: for)?(?: this issue)?"
    r"|we will (?:provide|post|share) (?:an )?updates?(?: [^.]{0,80})?"
    r"|we will continue to keep users updated(?: [^.]{0,80})?"
    r"|we apologi[sz]e for (?:the|any) inconvenience(?: [^.]{0,80})?"
    r"|thank you for your patience(?: [^.]{0,80})?"
    r"|if you continue to experience (?:problems|issues)(?: [^.]{0,80})?"
    r"|all systems go|all impacted services have (?:now )?fully recovered"
    r"|everything(?: is)? (?:operating|back to) normal(?:ly)?"
    r"|all systems (?:are )?back (?:online|to normal)"
    r"|we are investigating reports of (?:degraded|impacted) (?:performance|availability)"
    r"(?: for [\w ,.&/-]{1,80}| in [\w ,.&/-]{1,80})?"
    r"|[\w ,.&/-]{1,80} (?:is|are)(?: now)? experiencing degraded (?:performance|availability)"
    r"|(?:a fix has been implemented and )?we are monitoring(?: the results| to ensure stability)?"
    r"|a detailed root cause analysis will be shared(?: [^.]{0,80})?"
    r"|[\w .&/-]{1,60} is operating normally"
    r"|update|impact|resolved|investigating|monitoring|identified"
    r")$"
)


@dataclass(frozen=True)
class Document:
    """What is embedded for one incident."""

    key: str
    title: str
    # title first (unless it only states a date), then components, updates, evidence, extras
    sentences: tuple[str, ...]
    chunks: tuple[str, ...]  # the texts the encoder sees (empty when there is nothing)
    doc_hash: str
    truncated: bool = False  # more than MAX_CHUNKS chunks: only the first ones are embedded

    @property
    def text(self) -> str:
        return " ".join(self.sentences)

    @property
    def empty(self) -> bool:
        return not self.chunks


def split_sentences(text: str) -> list[str]:
    """Sentences of a plain-text update, whitespace collapsed, empty pieces dropped."""
    text = _INLINE_STAMP.sub("\n", text)
    return [s for s in (_SPACE.sub(" ", p).strip() for p in _SENTENCE_END.split(text)) if s]


def is_boilerplate(sentence: str) -> bool:
    return bool(_BOILERPLATE.match(sentence.lower().rstrip(" .!")))


def is_placeholder_title(title: str) -> bool:
    """True for a title that is only a date ("Incident on 2013-04-10 07:06:40 UTC")."""
    return bool(_PLACEHOLDER_TITLE.match(title.strip()))


def build_document(incident: Incident, extras: Sequence[str] = ()) -> Document:
    """The document of one incident; `extras` are texts from `DOCUMENT_EXTRAS` hooks."""
    title = _SPACE.sub(" ", incident.title).strip()
    sentences: list[str] = [title] if title and not is_placeholder_title(title) else []
    seen = {title.lower()}
    names = [c.name.strip() for c in incident.components
             if c.name.strip() and not _NOT_A_COMPONENT.search(c.name)]
    if names:
        line = "Affected: " + ", ".join(dict.fromkeys(names)) + "."
        sentences.append(line)
        seen.add(line.lower())
    pieces = [u.text for u in incident.updates]
    if incident.impact_window:
        pieces.append(incident.impact_window.evidence)
    pieces.extend(extras)
    for piece in pieces:
        for sentence in split_sentences(piece or ""):
            folded = sentence.lower()
            if folded in seen or is_boilerplate(sentence):
                continue
            seen.add(folded)
            sentences.append(sentence)
    if not sentences and title:  # a placeholder title is still better than no document
        sentences.append(title)
    chunks = chunk_sentences(sentences, CHUNK_WORDS)
    truncated = len(chunks) > MAX_CHUNKS
    text = "\n".join(sentences)
    digest = hashlib.sha256(f"recipe {RECIPE}\n{text}".encode()).hexdigest()
    return Document(incident.key, title, tuple(sentences), tuple(chunks[:MAX_CHUNKS]), digest,
                    truncated)


def chunk_sentences(sentences: Sequence[str], max_words: int) -> list[str]:
    """Greedy packing of whole sentences into chunks of at most `max_words` words; a single
    longer sentence is cut at word boundaries. The first chunk starts with the title, so
    every document's main subject is in the chunk that leads the pooled vector."""
    chunks: list[str] = []
    current: list[str] = []
    count = 0
    for sentence in sentences:
        words = sentence.split()
        while len(words) > max_words:  # a wall of text without full stops
            if current:
                chunks.append(" ".join(current))
                current, count = [], 0
            chunks.append(" ".join(words[:max_words]))
            words = words[max_words:]
        if not words:
            continue
        if count + len(words) > max_words and current:
            chunks.append(" ".join(current))
            current, count = [], 0
        current.append(" ".join(words))
        count += len(words)
    if current:
        chunks.append(" ".join(current))
    return chunks


def inputs_hash(content_hash: str, extras: Sequence[str] = ()) -> str:
    """What an incident's document is built from, as one string: the spine's content hash,
    followed by a digest of its extra texts when it has any. `kb embed` stores it as the
    vector's source hash, so it can tell an incident whose document cannot have changed
    (same content, same extras) without building the document; with no extras it is the
    content hash itself, which the store compares in SQL (kb.store.vectors.stale_sources)."""
    if not extras:
        return content_hash
    digest = hashlib.sha256("\x00".join(extras).encode()).hexdigest()[:32]
    return f"{content_hash}+{digest}"


def extra_texts(store: Store, keys: Sequence[str]) -> dict[str, list[str]]:
    """Texts every registered hook contributes for these keys (empty until a feature adds
    one). A failing hook is a bug of that feature; it propagates."""
    found: dict[str, list[str]] = {}
    for _name, hook in DOCUMENT_EXTRAS:
        for key, texts in hook(store, keys).items():
            found.setdefault(key, []).extend(t for t in texts if t and t.strip())
    return found
