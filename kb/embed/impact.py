"""A BM25 impact index: FTS5's keyword ranking without FTS5 scoring every match.

FTS5 computes `bm25()` for every incident that matches any query term; at 100k incidents the
common words of status-page prose match 13k–32k incidents, about 1.6 µs each. This index
holds, per FTS5 token, the rows holding it and each row's term-frequency part of BM25
(`f × (k1 + 1) / (f + k1 × (1 − b + b × D / avgdl))`, f the column-weighted count, D the
row's length), all precomputed from FTS5's own tokens (kb.store.keyword.fts_postings). A
query is then: each query phrase's column times its idf, summed per row in phrase order
(`numpy.bincount`), and an `argpartition` for the top rows.

It is exact, not approximate: the same float64 operations in the same order as FTS5's
bm25() (sqlite's fts5_aux.c), so the scores are bitwise FTS5's and the ranking is FTS5's top
`limit` (ties, which FTS5 leaves in no promised order, by rowid). Query phrases are split
and stemmed by FTS5's tokenizer itself (kb.store.keyword.Tokenizer); a phrase of several
tokens ("us-east-1") is scored by FTS5 alone, as FTS5 would score it inside the OR query.

The index is keyed by the FTS5 index's own signature (kb.store.keyword.fts_signature), asked
before every query: after any write to the keyword index it is stale, and search falls back
to FTS5 (exact, slower) until `kb embed` rebuilds it. Filtered searches always use FTS5.
SQLite only: PostgreSQL ranks keywords in SQL (kb.store.keyword).

When `kb embed` rebuilds it (`refresh`): a rebuild reads every FTS5 token (28 s CPU at 100k),
so it is not done for every changed incident. The index saves the incidents' content hashes
it was built from; while the incidents changed, added or removed since stay within
MAX_STALE_SHARE of the KB, the stale index is kept unused (keyword search is FTS5's, exact,
~21 ms at 100k instead of ~1 ms) and rebuilt once they pass it, or on `kb embed --reindex`.
Why not patch it with the changed rows instead: every change moves BM25's averages (the
mean row length, and the idf of each token the changed rows hold), so a patched index would
no longer give FTS5's scores bitwise, and keeping them exact is worth the slower keyword
search between rebuilds.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from kb.store import keyword as keyword_index
from kb.store.repo import Store

if TYPE_CHECKING:
    import numpy as np

# Below this many indexed incidents FTS5 alone answers in a few milliseconds: no index.
MIN_DOCUMENTS = 20_000
FORMAT = 1  # bumped when the files' layout changes: an older cache is rebuilt
# The share of incidents changed since the index was built past which `kb embed` rebuilds it
# (see the module's docstring); the same share as the vector graph's (kb.embed.ann).
MAX_STALE_SHARE = 0.05
K1, B = keyword_index.BM25_K1, keyword_index.BM25_B


class ImpactIndex:
    """The per-token postings of one FTS5 index (see the module's docstring)."""

    def __init__(self, signature: str, tokenize: str, n_rows: int, vocab: Sequence[str],
                 starts: np.ndarray, rows: np.ndarray, tf: np.ndarray,
                 keys: np.ndarray) -> None:
        self.signature = signature
        self.n_rows = n_rows  # FTS5's row count (the N of idf)
        self.vocab = {token: i for i, token in enumerate(vocab)}
        self.starts = starts  # postings of token i: rows[starts[i]:starts[i + 1]]
        self.rows = rows  # FTS5 rowids, int64, ascending within a token
        self.tf = tf  # float64, BM25's term-frequency part of each posting
        self.keys = keys  # incident key by FTS5 rowid ("" where none)
        self.tokenizer = keyword_index.Tokenizer(tokenize)
        self.tokenize = tokenize

    def search(self, store: Store, terms: Sequence[str], limit: int
               ) -> list[tuple[str, float]]:
        """FTS5's keyword_search(store, terms, limit) without filters: (key, −bm25), best
        first."""
        import numpy as np

        match = keyword_index.fts5_match(terms)
        if match is None or limit <= 0:
            return []
        phrases = [p[1:-1] for p in match.split(" OR ")]  # as FTS5 gets them, in order
        parts_rows: list[np.ndarray] = []
        parts_values: list[np.ndarray] = []
        for phrase, tokens in zip(phrases, self.tokenizer.tokens(phrases), strict=True):
            if len(tokens) == 1:
                token = self.vocab.get(tokens[0])
                if token is None:
                    continue
                start, end = int(self.starts[token]), int(self.starts[token + 1])
                hits = end - start
                # FTS5: log((nRow - nHit + 0.5) / (nHit + 0.5)), at least 1e-6.
                idf = math.log((self.n_rows - hits + 0.5) / (hits + 0.5))
                if idf <= 0.0:
                    idf = 1e-6
                parts_rows.append(self.rows[start:end])
                parts_values.append(idf * self.tf[start:end])
            elif tokens:
                found = keyword_index.phrase_scores(store, phrase)
                if found:
                    rows, values = zip(*found, strict=True)
                    parts_rows.append(np.fromiter(rows, dtype=np.int64, count=len(rows)))
                    parts_values.append(np.fromiter(values, dtype=np.float64,
                                                    count=len(values)))
        if not parts_rows:
            return []
        rows = np.concatenate(parts_rows)
        # bincount adds each row's values in input order from 0.0: phrase order, as FTS5's
        # `score += idf × tf` loop does, so the sums are bitwise FTS5's.
        scores = np.bincount(rows, weights=np.concatenate(parts_values),
                             minlength=len(self.keys))
        # Every match scores above 0 (idf ≥ 1e-6, tf > 0): the nonzero rows are the matches.
        matched = np.flatnonzero(scores)
        if matched.size > limit:
            part = matched[np.argpartition(-scores[matched], limit - 1)[:limit]]
        else:
            part = matched
        best = part[np.lexsort((part, -scores[part]))]
        return [(str(self.keys[row]), float(scores[row])) for row in best
                if self.keys[row]]


def build(store: Store) -> ImpactIndex | None:
    """The impact index of the store's FTS5 index as it is now; None on PostgreSQL or
    without an FTS5 index. Reads every FTS5 token once (about 8M at 100k incidents)."""
    import numpy as np

    signature = keyword_index.fts_signature(store)
    if signature is None:
        return None
    vocab: list[str] = []
    starts: list[int] = []
    rows_parts: list[np.ndarray] = []
    freq_parts: list[np.ndarray] = []
    count_parts: list[np.ndarray] = []
    total = 0
    last = None
    for batch in keyword_index.fts_postings(store):
        terms, rows, freqs, counts = zip(*batch, strict=True)
        for offset, term in enumerate(terms):
            if term != last:
                vocab.append(term)
                starts.append(total + offset)
                last = term
        total += len(terms)
        rows_parts.append(np.asarray(rows, dtype=np.int64))
        freq_parts.append(np.asarray(freqs, dtype=np.float64))
        count_parts.append(np.asarray(counts, dtype=np.int64))
    starts.append(total)
    keyed = keyword_index.fts_rows(store)
    size = max((row for row, _ in keyed), default=0) + 1
    keys = np.full(size, "", dtype=object)
    for row, key in keyed:
        keys[row] = key
    rows = np.concatenate(rows_parts) if rows_parts else np.zeros(0, dtype=np.int64)
    freqs = np.concatenate(freq_parts) if freq_parts else np.zeros(0)
    counts = np.concatenate(count_parts) if count_parts else np.zeros(0, dtype=np.int64)
    size = max(size, int(rows.max()) + 1 if rows.size else 0)
    if keys.size < size:
        keys = np.concatenate([keys, np.full(size - keys.size, "", dtype=object)])
    length = np.bincount(rows, weights=counts, minlength=size)  # D: tokens per row
    n_rows = len(keyed)
    avgdl = float(length.sum()) / float(max(n_rows, 1))
    doc_length = length[rows]
    # The order of FTS5's expression: (f × (k1 + 1)) / (f + k1 × (1 − b + b × D / avgdl)).
    tf = (freqs * (K1 + 1.0)) / (freqs + K1 * ((1 - B) + (B * doc_length) / avgdl))
    index = ImpactIndex(signature, keyword_index.fts_tokenizer(store), n_rows, vocab,
                        np.asarray(starts, dtype=np.int64), rows, tf,
                        keys.astype(str))
    if keyword_index.fts_signature(store) != signature:
        return None  # written to while read: no index rather than a torn one
    return index


def _stem(store: Store, cache: Path) -> Path:
    import hashlib

    name = store.engine.url.render_as_string(hide_password=False)
    return cache / f"bm25-{hashlib.sha256(name.encode()).hexdigest()[:16]}"


def save(index: ImpactIndex, store: Store, cache: Path,
         state: dict[str, str] | None = None) -> None:
    """Write the index beside the vector cache, with `state` (key → content hash of the
    incidents it was built from, for `refresh`); the .json, written last, vouches for it.
    A cache folder that cannot be written only costs speed."""
    import numpy as np

    stem = _stem(store, cache)
    state = state or {}
    try:
        cache.mkdir(parents=True, exist_ok=True)
        part = stem.with_name(f"{stem.name}.{os.getpid()}.npz")
        with open(part, "wb") as out:
            np.savez(out, starts=index.starts, rows=index.rows, tf=index.tf,
                     keys=index.keys, vocab=np.array(list(index.vocab), dtype=str),
                     state_keys=np.array(list(state), dtype=str),
                     state_hashes=np.array(list(state.values()), dtype=str))
        os.replace(part, stem.with_suffix(".npz"))
        meta = stem.with_name(f"{stem.name}.{os.getpid()}.json")
        meta.write_text(json.dumps({"format": FORMAT, "signature": index.signature,
                                    "n_rows": index.n_rows, "tokenize": index.tokenize}),
                        encoding="utf-8")
        os.replace(meta, stem.with_suffix(".json"))
    except OSError:
        pass


def load(store: Store, cache: Path, signature: str | None = None) -> ImpactIndex | None:
    """The cached index when it matches the FTS5 index as it is now (`signature`, asked of
    the store when not given), else None."""
    import numpy as np

    signature = signature or keyword_index.fts_signature(store)
    if signature is None:
        return None
    stem = _stem(store, cache)
    try:
        meta = json.loads(stem.with_suffix(".json").read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT or meta.get("signature") != signature:
            return None
        with np.load(stem.with_suffix(".npz"), allow_pickle=False) as files:
            vocab, starts, rows, tf, keys = (files[name] for name in (
                "vocab", "starts", "rows", "tf", "keys"))
        # Arrays that do not fit together (a damaged or foreign file) are not used.
        if not (starts.ndim == rows.ndim == tf.ndim == 1 and len(starts) == len(vocab) + 1
                and len(tf) == len(rows) and int(starts[0]) == 0
                and int(starts[-1]) == len(rows) and bool(np.all(np.diff(starts) >= 0))
                and (not rows.size or (int(rows.min()) >= 0
                                       and int(rows.max()) < len(keys)))):
            return None
        return ImpactIndex(signature, str(meta["tokenize"]), int(meta["n_rows"]),
                           vocab.tolist(), starts, rows, tf, keys)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, sqlite3.Error):
        return None  # absent, half-written, damaged or unreadable: FTS5 answers


def _changed_since(store: Store, cache: Path, now: dict[str, str]) -> int | None:
    """How many incidents were added, changed or removed since the saved index was built
    (by content hash); None when it saved no such state (absent, older, unreadable)."""
    import numpy as np

    try:
        with np.load(_stem(store, cache).with_suffix(".npz"), allow_pickle=False) as files:
            keys, hashes = files["state_keys"], files["state_hashes"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    if keys.ndim != 1 or keys.shape != hashes.shape or not keys.size:
        return None
    then = dict(zip(keys.tolist(), hashes.tolist(), strict=True))
    changed = sum(1 for key, digest in now.items() if then.get(key) != digest)
    return changed + sum(1 for key in then if key not in now)


def refresh(store: Store, cache: Path, *, rebuild: bool = False) -> str:
    """Build (or keep) the cached index of a large KB: what `kb embed` calls. A stale index
    is rebuilt once the incidents changed since it was built pass MAX_STALE_SHARE (until
    then FTS5 answers), or when `rebuild` (`kb embed --reindex`). Returns what happened, in
    a few words."""
    from kb.store.analysis import incident_hashes

    if keyword_index.fts_signature(store) is None:
        return "no FTS5 index"
    documents = keyword_index.indexed_documents(store)
    if documents < MIN_DOCUMENTS:
        return "small KB: FTS5 alone"
    try:
        meta = json.loads(_stem(store, cache).with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        meta = {}
    current = (meta.get("format") == FORMAT and _stem(store, cache).with_suffix(".npz").exists())
    if current and not rebuild and meta.get("signature") == keyword_index.fts_signature(store):
        return "keyword impact index current"
    signature = keyword_index.fts_signature(store)
    kept = _stem(store, cache).with_suffix(".kept.json")
    if current and not rebuild:
        try:  # counted already for this very FTS5 index (a `kb embed` with nothing to do)
            seen = json.loads(kept.read_text(encoding="utf-8"))
            changed = int(seen["changed"]) if seen.get("signature") == signature else None
        except (OSError, ValueError, KeyError, TypeError):
            changed = None
        if changed is None:
            changed = _changed_since(store, cache, incident_hashes(store))
        if changed is not None and changed <= MAX_STALE_SHARE * documents:
            with contextlib.suppress(OSError):  # not written: counted again next time
                kept.write_text(json.dumps({"signature": signature, "changed": changed}),
                                encoding="utf-8")
            return (f"keyword impact index kept unused: {changed} incident(s) changed since "
                    f"it was built, FTS5 ranks keywords until {MAX_STALE_SHARE:.0%} of "
                    f"{documents} have")
    state = incident_hashes(store)
    index = build(store)
    if index is None:
        return "keyword index changed while read: FTS5 alone until the next run"
    save(index, store, cache, state)
    return "keyword impact index rebuilt"
