"""Search and similar incidents: keyword (FTS5 BM25), semantic (cosine) and hybrid (RRF).

Every result carries why it matched: the sentence of its document that shares the most query
words, or, when none does (a purely semantic match), the sentence closest to the query vector.
Anything that would make a ranking silently wrong is refused or said: an empty or oversized
query, vectors made by another model than the configured one, incidents not embedded yet, a
query in a language the model was not trained on, or no close match at all.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from kb.embed import impact, rerank
from kb.embed.document import (
    RECIPE,
    Document,
    build_document,
    chunk_sentences,
    extra_texts,
    split_sentences,
)
from kb.embed.encoder import Encoder, encode_documents, load_encoder, resolve_model
from kb.embed.index import (
    SEMANTIC_WEIGHT,
    VectorIndex,
    open_index,
    query_terms,
    reciprocal_rank_fusion,
    terms,
)
from kb.embed.rerank import Reranker, default_reranker
from kb.embed.spec import ModelSpec
from kb.errors import ConfigError, KbError
from kb.model import Incident
from kb.store import keyword as keyword_index
from kb.store import vectors
from kb.store.analysis import stored_causes
from kb.store.repo import Store
from kb.store.vectors import SearchFilters

if TYPE_CHECKING:
    import numpy as np

MODES = ("hybrid", "semantic", "keyword")
MAX_QUERY_CHARS = 20_000  # a pasted postmortem is fine; a pasted log file is not a question
CANDIDATES = 100  # taken from each ranking before fusion
LOW_SIMILARITY = 0.25  # MiniLM cosine below which nothing is really alike (for a note only)
DUPLICATE_COSINE = 0.95  # near-identical documents...
DUPLICATE_SLACK = timedelta(hours=2)  # ...whose time windows overlap (this much slack) are one
WHY_SENTENCES = 6  # sentences per result weighed semantically when none shares a query word
# An identifier of the query (a region, an error code, a product or component name) is "rare"
# when at most this share of the indexed incidents holds it (idf ≥ ln 49 ≈ 3.9), and at least
# RARE_FLOOR incidents are always allowed (a small KB). A common one ("500" in a KB of HTTP
# errors, "api") says little about which incident is meant and is left to the rankings.
RARE_SHARE = 0.02
RARE_FLOOR = 3
MAX_NAME_WORDS = 4  # longest product or component name looked for in a query
# onnxruntime threads for the query encoder. A query is a few dozen tokens: a second thread
# has nothing to share, and its pool spins between runs. Measured at 100k incidents on this
# 2-core machine under load: semantic search 43.5 → 28.2 ms CPU per query (wall 130 → 97 ms).
QUERY_THREADS = 1


class NoVectors(KbError):
    """Semantic search asked of a database with no usable vectors."""


@dataclass(frozen=True)
class Hit:
    """One ranked incident and why it matched."""

    key: str
    score: float  # the ranking's own score: RRF (hybrid), cosine (semantic), -BM25 (keyword)
    incident: Incident
    why: str | None
    semantic: float | None = None  # cosine to the query, when the semantic ranking had it
    keyword: float | None = None  # -bm25, when the keyword ranking had it


@dataclass(frozen=True)
class _Candidates:
    """What `similar` ranks from: the fused window and what the reranker needs of it."""

    mode: str
    incident: Incident
    document: Document
    window: list[tuple[str, float]]  # (key, fused score), best first, loaded incidents only
    pool: dict[str, Incident]
    duplicates: set[str]
    cosine: dict[str, float]
    keyword: dict[str, float]
    semantic_order: list[str]
    keyword_order: list[str]
    query_vector: np.ndarray | None
    notes: list[str]


@dataclass
class SearchResult:
    mode: str  # the mode that ran (hybrid falls back to one ranking where the other is absent)
    hits: list[Hit]
    notes: list[str] = field(default_factory=list)
    # Where the semantic ranking ran: "pgvector" (in PostgreSQL) or "numpy" (in memory); None
    # when it did not run. On PostgreSQL without pgvector, `vector_note` says why numpy.
    vector_search: str | None = None
    vector_note: str | None = None


class Searcher:
    """Search over one store. Loads the vectors and the query encoder once, on first use, so a
    long-lived process (bench, a future server) answers later queries warm."""

    def __init__(self, store: Store, home: Path, *, spec: ModelSpec | None = None,
                 encoder: Encoder | None = None, exact_identifiers: bool = True,
                 rerank_similar: bool = True) -> None:
        """`exact_identifiers=False` turns the exact-identifier tier of hybrid search off,
        `rerank_similar=False` the learned reranker of hybrid `similar` (for measuring what
        each is worth: bench/eval_search.py)."""
        self.store = store
        self.exact_identifiers = exact_identifiers
        self.rerank_similar = rerank_similar
        self._rerank_model: Reranker | Literal[False] | None = None
        self.home = home
        self.spec = spec or resolve_model()
        self.model_id = encoder.model_id if encoder is not None else self.spec.model_id
        self._encoder = encoder
        self._index: VectorIndex | None = None
        self._vector_notes: list[str] = []
        self._keyword: bool | None = None
        self._impact: impact.ImpactIndex | None = None
        self._names: set[str] | None = None
        self._rare_limit: int | None = None

    # -- the two questions -----------------------------------------------------------------

    def search(self, query: str, *, mode: str = "hybrid", k: int = 10,
               filters: SearchFilters | None = None, explain: bool = True) -> SearchResult:
        """Incidents matching a free-text query, best first. `explain=False` leaves out the
        "why it matched" sentences (rankings only)."""
        text = _check_query(query)
        _check_mode(mode, k)
        filters = filters or SearchFilters()
        notes: list[str] = []
        letters = [c for c in text if c.isalpha()]
        if letters and sum(1 for c in letters if not c.isascii()) > 0.3 * len(letters):
            notes.append("the embedding model was trained on English: results for a query in "
                         "another language are unreliable")
        mode = self._usable_mode(mode, notes)
        pending: Future[list[tuple[str, float]]] | None = None
        if mode in ("keyword", "hybrid"):
            words = query_terms(text)
            if not words:
                notes.append("the query has no searchable words for keyword search")
            else:
                pending = _background().submit(self._keyword_ranking, words, CANDIDATES,
                                               filters)
        semantic: list[tuple[str, float]] = []
        query_vector = None
        if mode in ("semantic", "hybrid"):
            query_vector = self._encode_query(text)
            if query_vector is None:
                notes.append("the query has no words the model can read")
            else:
                semantic = self._vectors().search_filtered(query_vector, CANDIDATES, filters)
                if semantic and semantic[0][1] < LOW_SIMILARITY and self.spec.backend != "fake":
                    notes.append(f"no close match: best semantic similarity is "
                                 f"{semantic[0][1]:.2f}")
        keyword = pending.result() if pending is not None else []
        ranked = _rank(mode, semantic, keyword)
        if mode == "hybrid" and self.exact_identifiers and query_vector is not None and keyword:
            ranked = self._exact_first(text, ranked, semantic, keyword, query_vector,
                                       filters)
        hits = self._hits(ranked[:k], dict(semantic), dict(keyword), terms(text), query_vector,
                          explain)
        return self._result(mode, hits, notes)

    def _result(self, mode: str, hits: list[Hit], notes: list[str]) -> SearchResult:
        """The result, saying where the semantic ranking ran when it did."""
        backend = note = None
        if mode in ("semantic", "hybrid") and self._index is not None:
            backend = self._index.backend
            note = vectors.vector_search_mode(self.store)[1]
        return SearchResult(mode, hits, notes + self._vector_notes, backend, note)

    def identifiers(self, text: str) -> dict[str, set[str]]:
        """The rare exact identifiers of a query and the incidents holding each: terms shaped
        like an identifier (a digit, or words joined by "-", "_" or ".": us-east-1,
        europe-west1, 502, ERR_SSL_PROTOCOL, api.github.com; not a bare year) and phrases
        naming a product or component of the KB ("Cloud SQL"), kept when 1 to
        max(RARE_FLOOR, RARE_SHARE × N) incidents of the keyword index hold them exactly."""
        wanted = identifier_terms(text, self._component_names())
        if not wanted:
            return {}
        if self._rare_limit is None:
            self._rare_limit = max(RARE_FLOOR,
                                   int(RARE_SHARE * keyword_index.indexed_documents(self.store)))
        found = {}
        for term in wanted:
            keys = keyword_index.rare_holders(self.store, term, self._rare_limit)
            if keys:
                found[term] = set(keys)
        return found

    def _exact_first(self, text: str, ranked: list[tuple[str, float]],
                     semantic: list[tuple[str, float]], keyword: list[tuple[str, float]],
                     query_vector: np.ndarray, filters: SearchFilters
                     ) -> list[tuple[str, float]]:
        """Hybrid ranking with exact rare identifiers first. The semantic ranking cannot tell
        us-east-1 from any other region (the bi-encoder puts "us-east-1 outage" next to every
        one-line "Major service outage"), so incidents holding more of the query's rare
        identifiers rank above those holding fewer, each tier ordered by the fusion of the
        semantic ranking among its members and the keyword ranking. Their score is
        tier + RRF score, so scores still descend."""
        rare = self.identifiers(text)
        holders = set().union(*rare.values()) if rare else set()
        if holders and not filters.empty:
            holders &= vectors.filter_keys(self.store, filters)
        if not holders:
            return ranked
        # The holders by cosine: those the semantic ranking already scored, and the few it
        # did not reach from their own rows (not a second pass over the whole matrix).
        index = self._vectors()
        cosine = {key: score for key, score in semantic if key in holders}
        for key, vector in index.vectors(sorted(holders - cosine.keys())).items():
            cosine[key] = float(vector @ query_vector)
        among = sorted(cosine, key=lambda key: (-cosine[key], key))
        inside = reciprocal_rank_fusion(
            [among, [key for key, _ in keyword if key in holders]],
            weights=(SEMANTIC_WEIGHT, 1.0))
        tier = {key: sum(1 for keys in rare.values() if key in keys) for key in holders}
        first = sorted(((key, tier[key] + score) for key, score in inside),
                       key=lambda item: (-item[1], item[0]))
        return first + [(key, score) for key, score in ranked if key not in holders]

    def _component_names(self) -> set[str]:
        if self._names is None:
            self._names = keyword_index.component_names(self.store)
        return self._names

    def similar(self, key: str, *, k: int = 10, mode: str = "hybrid",
                filters: SearchFilters | None = None, explain: bool = True) -> SearchResult:
        """Incidents like `key`, excluding itself and its duplicates (the same outage posted
        twice: overlapping in time with the same title or a near-identical document). In
        hybrid mode the fused candidates are reranked by the learned model of
        kb.embed.rerank (score: its probability that the pair is related)."""
        _check_mode(mode, k)
        found = self._similar_candidates(key, k + 40, mode, filters or SearchFilters())
        fresh = [(other, score) for other, score in found.window
                 if other not in found.duplicates]
        reranker = self._reranker() if found.mode == "hybrid" else None
        if reranker is not None:
            # The first `depth` candidates are reordered by the model's probability that the
            # pair is related (the depth it was trained and cross-validated at); the rest
            # keep the fused order. Every hit's score is that probability.
            wanted = fresh[:max(reranker.depth, k)]  # features only for what can be shown
            rows = self._pair_table(found, wanted)
            fresh = [(other, reranker.score(row))
                     for (other, _), row in zip(wanted, rows, strict=True)]
            head = sorted(fresh[:reranker.depth], key=lambda item: (-item[1], item[0]))
            fresh = head + fresh[reranker.depth:]
        kept = fresh[:k]
        # Duplicates ranked (fused order) above the k-th other incident were left out.
        last = {other for other, _ in kept}
        dropped = 0
        for other, _ in found.window:
            if not last:
                break
            if other in found.duplicates:
                dropped += 1
            last.discard(other)
        notes = list(found.notes)
        if dropped:
            notes.append(f"left out {dropped} duplicate(s) of {key}")
        hits = self._hits(kept, found.cosine, found.keyword, terms(found.document.text),
                          found.query_vector, explain)
        return self._result(found.mode, hits, notes)

    def similar_features(self, key: str, *, depth: int = 50,
                         filters: SearchFilters | None = None) -> list[tuple[str, list[float]]]:
        """The hybrid candidates of `kb similar KEY` (itself and its duplicates left out), in
        fused order, each with the reranker's features (kb.embed.rerank.FEATURES): what
        bench/train_similar.py learns from."""
        found = self._similar_candidates(key, depth, "hybrid", filters or SearchFilters())
        fresh = [(other, score) for other, score in found.window
                 if other not in found.duplicates]
        rows = self._pair_table(found, fresh)
        return [(other, row) for (other, _score), row in zip(fresh, rows, strict=True)]

    def _similar_candidates(self, key: str, depth: int, mode: str,
                            filters: SearchFilters) -> _Candidates:
        """The fused ranking of incidents like `key` (itself left out), its first `depth`
        with their incidents loaded, and which of those are duplicates of it."""
        incident = self.store.get(key)
        document = build_document(incident, extra_texts(self.store, [key]).get(key, ()))
        if document.empty:
            raise ConfigError(f"{key} has no text to compare (no title and no updates)")
        notes: list[str] = []
        mode = self._usable_mode(mode, notes)
        semantic: list[tuple[str, float]] = []
        query_vector = None
        if mode in ("semantic", "hybrid"):
            query_vector = self._document_vector(key, document)
            semantic = self._vectors().search_filtered(query_vector, CANDIDATES + 1, filters)
        keyword: list[tuple[str, float]] = []
        if mode in ("keyword", "hybrid"):
            words = query_terms(document.text)
            if words:
                keyword = self._keyword_ranking(words, CANDIDATES + 1, filters)
        ranked = [(other, score) for other, score in _rank(mode, semantic, keyword)
                  if other != key]
        # Duplicates are judged (and features computed) on the best few dozen; load those once.
        head = [other for other, _ in ranked[:depth]]
        pool = {i.key: i for i, _h in vectors.incidents_with_hashes(self.store, head)}
        window = [(other, score) for other, score in ranked[:depth] if other in pool]
        cosine = dict(semantic)
        duplicates = {other for other, _ in window
                      if is_duplicate(incident, pool[other], cosine.get(other))}
        return _Candidates(mode, incident, document, window, pool, duplicates, cosine,
                           dict(keyword), [k for k, _ in semantic], [k for k, _ in keyword],
                           query_vector, notes)

    def _reranker(self) -> Reranker | None:
        if not self.rerank_similar:
            return None
        if self._rerank_model is None:
            self._rerank_model = default_reranker() or False
        return self._rerank_model or None

    def _pair_table(self, found: _Candidates, window: Sequence[tuple[str, float]]
                    ) -> list[list[float]]:
        """Reranker features of each (candidate, fused score) of `window`, in its order."""
        keys = [other for other, _ in window]
        tags = {k: {r.tag for r in records}
                for k, records in stored_causes(self.store, [found.incident.key, *keys]).items()}
        source = rerank.side(found.incident, found.document, tags.get(found.incident.key))
        semantic_rank = {k: r for r, k in enumerate(found.semantic_order, 1)}
        keyword_rank = {k: r for r, k in enumerate(found.keyword_order, 1)}
        best = max(found.keyword.values(), default=0.0)
        index = self._vectors() if found.query_vector is not None else None
        rows = []
        for other, score in window:
            candidate = found.pool[other]
            cosine = found.cosine.get(other)
            if cosine is None and index is not None:
                vector = index.vector(other)
                cosine = None if vector is None else float(vector @ found.query_vector)
            rows.append(rerank.pair_features(
                source, rerank.side(candidate, build_document(candidate), tags.get(other)),
                rrf=score, cosine=cosine, keyword=found.keyword.get(other), best_keyword=best,
                semantic_rank=semantic_rank.get(other), keyword_rank=keyword_rank.get(other)))
        return rows

    # -- pieces ----------------------------------------------------------------------------

    def _usable_mode(self, mode: str, notes: list[str]) -> str:
        """The mode that can run here; hybrid degrades (with a note) where one side is absent."""
        if mode in ("keyword", "hybrid") and not self._keyword_ready():
            if mode == "keyword":
                raise ConfigError("keyword search needs the keyword index (schema s01 on "
                                  "SQLite, s02 on PostgreSQL: `kb db upgrade`); "
                                  "on this database use --mode semantic")
            notes.append("keyword index unavailable here: semantic ranking only")
            mode = "semantic"
        if mode in ("semantic", "hybrid"):
            try:
                self._vectors()
            except NoVectors as exc:
                if mode == "semantic":
                    raise
                notes.append(f"{exc}: keyword ranking only")
                mode = "keyword"
        return mode

    def _keyword_ranking(self, words: Sequence[str], limit: int, filters: SearchFilters
                         ) -> list[tuple[str, float]]:
        """The keyword ranking: from the BM25 impact index (kb.embed.impact: FTS5's scores,
        without FTS5 scoring every match) when one matches the FTS5 index as it is now and
        nothing is filtered, else from FTS5 (or PostgreSQL) itself."""
        if filters.empty:
            index = self._impact_index()
            if index is not None:
                return index.search(self.store, words, limit)
        return keyword_index.keyword_search(self.store, words, limit, filters)

    def _impact_index(self) -> impact.ImpactIndex | None:
        """The impact index, checked against the FTS5 index before every query (two
        primary-key reads), so a write since it was built sends the query to FTS5."""
        signature = keyword_index.fts_signature(self.store)
        if signature is None:
            return None
        if self._impact is None or self._impact.signature != signature:
            self._impact = impact.load(self.store, self.home / "cache", signature)
        return self._impact

    def _keyword_ready(self) -> bool:
        if self._keyword is None:
            self._keyword = keyword_index.keyword_available(self.store)
        return self._keyword

    def _vectors(self) -> VectorIndex:
        """The configured model's vectors, checked against what the database holds."""
        if self._index is not None:
            return self._index
        held = vectors.models_in_use(self.store)
        if not held:
            raise NoVectors("no incident is embedded yet (run `kb embed`)")
        if self.model_id not in held:
            other = ", ".join(f"{m} ({n})" for m, n in sorted(held.items()))
            raise ConfigError(
                f"the vectors in this database were made by {other}, not by the configured "
                f"{self.model_id}: run `kb embed` to re-embed with it, or set "
                "KB_EMBED_MODEL / KB_EMBED_BACKEND to the model the vectors came from"
            )
        self._index, pending = open_index(self.store, self.model_id, self.home / "cache")
        if pending:
            self._vector_notes.append(pending)
        others = {m: n for m, n in held.items() if m != self.model_id}
        if others:
            self._vector_notes.append(
                f"{sum(others.values())} vector(s) of another model are ignored: "
                "`kb embed` was interrupted; run it again")
        missing, changed = vectors.coverage(self.store, self.model_id, RECIPE)
        if missing:
            self._vector_notes.append(f"{missing} incident(s) are not embedded yet: semantic "
                                      "ranking does not see them (run `kb embed`)")
        elif changed:
            self._vector_notes.append("some incidents changed since the last `kb embed`: "
                                      "semantic ranking sees their older text")
        return self._index

    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = load_encoder(self.spec, self.home, threads=QUERY_THREADS)
        return self._encoder

    def _encode_query(self, text: str) -> np.ndarray | None:
        sentences = split_sentences(text)
        chunks = chunk_sentences(sentences, 160)
        if not chunks:
            return None
        query = Document("query", "", tuple(sentences), tuple(chunks), "")
        vector = encode_documents(self.encoder(), [query])[0]
        return vector if float(vector @ vector) > 0 else None

    def _document_vector(self, key: str, document: Document) -> np.ndarray:
        """The stored vector when it is current; else the document encoded now."""
        held = vectors.vector_of(self.store, key)
        if held is not None and (held.model_id, held.recipe, held.doc_hash) == (
                self.model_id, RECIPE, document.doc_hash):
            vector = self._vectors().vector(key)
            if vector is not None:
                return vector
        return encode_documents(self.encoder(), [document])[0]

    def _hits(self, ranked: Sequence[tuple[str, float]], semantic: dict[str, float],
              keyword: dict[str, float], query_terms: Sequence[str],
              query_vector: np.ndarray | None, explain: bool) -> list[Hit]:
        found = {i.key: i for i, _h in
                 vectors.incidents_with_hashes(self.store, [key for key, _ in ranked])}
        # Deleted since it was indexed (a stale cached matrix): skipped.
        kept = [(key, score) for key, score in ranked if key in found]
        whys = self._explain({key: build_document(found[key]) for key, _ in kept},
                             query_terms, query_vector) if explain else {}
        return [Hit(key, score, found[key], whys.get(key), semantic.get(key), keyword.get(key))
                for key, score in kept]

    def _explain(self, documents: dict[str, Document], query_terms: Sequence[str],
                 query_vector: np.ndarray | None) -> dict[str, str | None]:
        """Per result, the sentence that best explains the match: the one sharing the most
        query words (crude stems); for results sharing none, the sentence closest to the query
        vector, all such sentences encoded in one batch (the title only when there is no
        other sentence)."""
        wanted = {_stem(t) for t in query_terms}
        whys: dict[str, str | None] = {}
        unexplained: list[tuple[str, list[str]]] = []
        for key, document in documents.items():
            candidates = list(document.sentences[1:]) or list(document.sentences)
            if not candidates:
                whys[key] = None
                continue
            overlaps = [len(wanted & {_stem(t) for t in terms(s)}) for s in candidates]
            best = max(range(len(candidates)), key=lambda i: (overlaps[i], -i))
            whys[key] = candidates[best]
            if overlaps[best] == 0:
                unexplained.append((key, candidates[:WHY_SENTENCES]))
        if unexplained and query_vector is not None and self._encoder is not None:
            flat = [sentence for _key, sentences in unexplained for sentence in sentences]
            scores = self._encoder.encode(flat) @ query_vector
            start = 0
            for key, sentences in unexplained:
                part = scores[start : start + len(sentences)]
                whys[key] = sentences[int(part.argmax())]
                start += len(sentences)
        return whys


_POOL: list[ThreadPoolExecutor] = []


def _background() -> ThreadPoolExecutor:
    """One worker for the FTS5 query. sqlite3, onnxruntime and numpy release the GIL, so on
    two cores the keyword ranking runs while the query is encoded and the matrix multiplied:
    hybrid costs the slower of the two, not their sum."""
    if not _POOL:
        _POOL.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb-keyword"))
    return _POOL[0]


def _rank(mode: str, semantic: list[tuple[str, float]], keyword: list[tuple[str, float]]
          ) -> list[tuple[str, float]]:
    if mode == "semantic":
        return semantic
    if mode == "keyword":
        return keyword
    return reciprocal_rank_fusion([[k for k, _ in semantic], [k for k, _ in keyword]],
                                  weights=(SEMANTIC_WEIGHT, 1.0))


def _check_query(query: str) -> str:
    text = query.strip()
    if not text:
        raise ConfigError("the query is empty: say what you are looking for, e.g. "
                          '`kb search "webhook delivery delays"`')
    if len(text) > MAX_QUERY_CHARS:
        raise ConfigError(f"the query is {len(text):,} characters; the limit is "
                          f"{MAX_QUERY_CHARS:,} (search with the incident's key: `kb similar`)")
    return text


def _check_mode(mode: str, k: int) -> None:
    if mode not in MODES:
        raise ConfigError(f"--mode must be one of {', '.join(MODES)}, not {mode!r}")
    if not 1 <= k <= 1000:
        raise ConfigError(f"-k must be between 1 and 1000, not {k}")


_YEAR = re.compile(r"(?:19|20)\d\d")
# Joined by "_" or "." (err_ssl, api.github.com): an identifier; joined by "-" only with a
# digit (us-east-1), since "self-hosted" or "re-run" are ordinary words.
_JOINED = re.compile(r"[a-z0-9][_.][a-z0-9]")


def identifier_terms(text: str, names: Collection[str] = ()) -> list[str]:
    """Identifier candidates of a query, in order: terms with a digit or words joined by "_"
    or "." (a bare year describes a time, not a thing, and is left out), then the
    longest runs of up to MAX_NAME_WORDS words that equal one of `names` (lower-cased,
    words joined by one space: kb.store.keyword.component_names). Whether one is rare
    enough to count is the index's question (Searcher.identifiers)."""
    found = [term for term in dict.fromkeys(terms(text))
             if (any(c.isdigit() for c in term) or _JOINED.search(term))
             and not _YEAR.fullmatch(term)]
    words = re.findall(r"\w+", text.lower())
    start = 0
    while start < len(words) and names:
        for size in range(min(MAX_NAME_WORDS, len(words) - start), 0, -1):
            phrase = " ".join(words[start : start + size])
            if phrase in names:
                if phrase not in found and terms(phrase):  # "status" yes, "all" no
                    found.append(phrase)
                start += size
                break
        else:
            start += 1
    return found


_SUFFIX = re.compile(r"(?:ing|ed|es|s|ment|ly)$")


def _stem(term: str) -> str:
    """A crude stem so 'errors' meets 'error' and 'delayed' meets 'delays' (display only)."""
    return _SUFFIX.sub("", term) if len(term) > 4 else term


def _title_key(title: str) -> str:
    return " ".join(re.findall(r"\w+", title.lower()))


def is_duplicate(a: Incident, b: Incident, cosine: float | None) -> bool:
    """The same outage posted twice: windows that overlap (with slack) and the same title or a
    near-identical document."""
    start_a, start_b = a.lifecycle.first_post_at, b.lifecycle.first_post_at
    if start_a is None or start_b is None:
        return False
    end_a = a.lifecycle.resolved_at or start_a
    end_b = b.lifecycle.resolved_at or start_b
    overlaps = start_a <= end_b + DUPLICATE_SLACK and start_b <= end_a + DUPLICATE_SLACK
    alike = _title_key(a.title) == _title_key(b.title) or (
        cosine is not None and cosine >= DUPLICATE_COSINE)
    return overlaps and alike
