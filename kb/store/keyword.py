"""Keyword search over incidents, one contract for both databases.

* SQLite: the FTS5 table of migration s01, ranked by BM25 (title, components, updates'
  text weighted 4 : 2 : 1; porter stemming).
* PostgreSQL: the tsvector table of migration s02 (title A, components B, updates' text C;
  'english' configuration: Snowball stemming and stop words), ranked by the same BM25
  formula, computed in SQL from the weighted counts `ts_rank_cd` gives.

Callers hand over the query's *terms* (words as kb.embed.index.terms finds them); this module
builds the dialect's expression itself. Terms are OR-ed, so partial matches rank below full
ones instead of vanishing. User text never reaches either engine as syntax: on SQLite each term
becomes a quoted phrase of its word characters only; on PostgreSQL each term is a bound
parameter of `phraseto_tsquery`, which parses it as document text (operators such as
`& ! | :* <->` mean nothing there).
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import (
    Float,
    Integer,
    String,
    bindparam,
    cast,
    column,
    func,
    literal,
    literal_column,
    select,
    table,
    text,
    true,
    union_all,
)
from sqlalchemy.exc import OperationalError

from kb.store.db import connected
from kb.store.repo import T_COMPONENTS, T_INCIDENTS, Store
from kb.store.vectors import SearchFilters, filter_clauses

# Column weights for bm25(): a term in the title says more than one in the updates' prose.
BM25_WEIGHTS = (4.0, 2.0, 1.0)  # title, components, body
BM25_K1, BM25_B = 1.2, 0.75  # FTS5's constants, reproduced on PostgreSQL
# ts_rank_cd's weights, in its order {D, C, B, A}: C updates' text, B components, A title in
# the ratio of BM25_WEIGHTS (D is unused; PostgreSQL wants weights in (0, 1]).
TS_WEIGHTS = (0.25, 0.25, 0.5, 1.0)
TS_CONFIG = "english"

# The FTS5 table and its rowid map exist on SQLite only (migration s01, raw SQL).
_FTS = table("incident_fts", column("rowid", Integer))
_DOCS = table("search_docs", column("id", Integer), column("incident_key", String))
# The tsvector table exists on PostgreSQL only (migration s02, raw SQL).
_PG = table("incident_search", column("incident_key", String), column("document"),
            column("tokens", Integer))
_TOTALS = table("incident_search_totals", column("docs", Integer), column("tokens", Integer))


def keyword_available(store: Store) -> bool:
    """True where the keyword index exists: SQLite at schema s01 or later (FTS5), PostgreSQL at
    s02 or later (tsvector)."""
    dialect = store.engine.dialect.name
    with store.engine.connect() as conn:
        if dialect == "sqlite":
            return conn.execute(text(
                "SELECT 1 FROM sqlite_master WHERE name = 'incident_fts'"
            )).first() is not None
        if dialect == "postgresql":
            return conn.execute(text(
                "SELECT to_regclass('incident_search') IS NOT NULL"
            )).scalar_one()
    return False


def distinct_terms(terms: Sequence[str]) -> list[str]:
    """The terms once each, in order, blanks dropped. A bare string is refused: it is a
    sequence of characters, and searching for each letter would be silently wrong."""
    if isinstance(terms, str):
        raise TypeError("keyword search takes a list of terms, not a string")
    return [term for term in dict.fromkeys(t.strip() for t in terms) if term]


def fts5_match(terms: Sequence[str]) -> str | None:
    """A safe FTS5 MATCH expression: each term a quoted phrase of its word characters (so
    AND, NEAR, quotes, colons and column filters mean nothing), OR-ed so BM25 ranks partial
    matches. Joined tokens become phrases ("us east 1"), as FTS5's tokenizer splits them the
    same way. None when no term has a word character."""
    phrases = []
    for term in distinct_terms(terms):
        words = re.findall(r"\w+", term)
        if words:
            phrases.append('"' + " ".join(words) + '"')
    return " OR ".join(dict.fromkeys(phrases)) or None


def keyword_search(store: Store, terms: Sequence[str], limit: int,
                   filters: SearchFilters | None = None) -> list[tuple[str, float]]:
    """Incidents matching any of `terms` among those passing `filters`, best first, as
    (key, score), higher is better: −bm25 from FTS5 on SQLite, the same formula computed in
    SQL on PostgreSQL (close, not identical: stemmers and stop words differ). Ties are broken
    by key on PostgreSQL, by FTS5's row order on SQLite. Callers cap the number of terms
    (kb.embed.index.MAX_QUERY_TERMS): each one costs the engine a lookup."""
    clauses = filter_clauses(filters) if filters is not None else []
    if store.engine.dialect.name == "postgresql":
        query = _postgres_query(distinct_terms(terms), int(limit), clauses)
        sign = 1.0
    else:
        query = _sqlite_query(fts5_match(terms), int(limit), clauses)
        sign = -1.0
    return [] if query is None else _scored(store, query, sign)


def _scored(store: Store, query: Any, sign: float) -> list[tuple[str, float]]:
    """(key, score) rows of a ranking query, `sign` turning the engine's score into "higher
    is better"; a locked database reads as DatabaseBusy."""
    with connected(store.engine) as conn:
        rows = conn.execute(query).all()
    return [(key, sign * float(value)) for key, value in rows]


def _sqlite_query(match: str | None, limit: int, clauses: list[Any]) -> Any:
    if match is None:
        return None
    weights = ", ".join(str(w) for w in BM25_WEIGHTS)
    score = literal_column(f"bm25(incident_fts, {weights})").label("score")
    match_clause = text("incident_fts MATCH :match").bindparams(match=match)
    if clauses:  # filter first: the best `limit` matches overall may all be filtered out
        return (
            select(_DOCS.c.incident_key, score)
            .select_from(_FTS.join(_DOCS, _DOCS.c.id == _FTS.c.rowid)
                         .join(T_INCIDENTS, T_INCIDENTS.c.key == _DOCS.c.incident_key))
            .where(match_clause, *clauses).order_by(score).limit(limit)
        )
    # Rank inside FTS5, then map only the top rows to keys (25% faster at 100k).
    best = (select(_FTS.c.rowid.label("row"), score).where(match_clause)
            .order_by(score).limit(limit).subquery())
    return (select(_DOCS.c.incident_key, best.c.score)
            .select_from(best.join(_DOCS, _DOCS.c.id == best.c.row))
            .order_by(best.c.score))


def _postgres_query(terms: list[str], limit: int, clauses: list[Any]) -> Any:
    """FTS5's BM25, computed over the tsvector index:

        score = Σ_terms idf × f × (k1 + 1) / (f + k1 × (1 − b + b × tokens / average tokens))

    with FTS5's constants and idf = ln((N − df + 0.5) / (df + 0.5)) (at least 1e-6), where
    f is the term's weighted count in the incident: ts_rank_cd with no normalization sums the
    weight of each occurrence of a one-word query, so with weights ¼ : ½ : 1 for updates,
    components and title, 4 × ts_rank_cd is FTS5's 1 : 2 : 4 weighted count. N and the
    average length come from `incident_search_totals`; df is the size of each term's match
    set. (ts_rank alone has no idf and weights a title match 4× with no saturation: keyword
    Recall@5 on the labeled topics fell from 0.93 to 0.69 with it.)

    Each term is one `phraseto_tsquery` of its text, parsed by the parser that built the
    index (so "us-east-1", "v1.2" and "api.github.com" match as indexed), and each term's
    matches come from the GIN index: the cost follows the matches, as in FTS5. A stop word's
    piece is empty and matches nothing.
    """
    if not terms:
        return None
    config = literal_column(f"'{TS_CONFIG}'::regconfig")
    # One row per term. Constant arguments to an immutable function: folded at plan time, so
    # the index is probed with a ready tsquery.
    pieces = [
        select(literal(i, Integer).label("i"),
               func.phraseto_tsquery(config, bindparam(f"term_{i}", term, type_=String))
               .label("query"))
        for i, term in enumerate(terms)
    ]
    wanted = (union_all(*pieces) if len(pieces) > 1 else pieces[0]).cte("wanted")
    weights = literal_column("'{" + ",".join(str(w) for w in TS_WEIGHTS) + "}'::float4[]")
    # (term, incident, length, weighted count) per match: narrow rows, so counting each
    # term's matches (df) sorts no documents. Read twice, so PostgreSQL materializes it once.
    hits = (
        select(wanted.c.i, _PG.c.incident_key, _PG.c.tokens,
               (4.0 * func.ts_rank_cd(weights, _PG.c.document, wanted.c.query, 0,
                                      type_=Float)).label("f"))
        .select_from(wanted.join(_PG, _PG.c.document.op("@@")(wanted.c.query)))
        .cte("hits")
    )
    docs = cast(_TOTALS.c.docs, Float)
    stats = select(
        docs.label("n"),
        func.greatest(cast(_TOTALS.c.tokens, Float) / func.greatest(docs, 1.0, type_=Float),
                      1.0, type_=Float).label("average"),
    ).cte("stats")
    df = cast(func.count(), Float)
    idf = (
        select(hits.c.i, func.greatest(func.ln((stats.c.n - df + 0.5) / (df + 0.5), type_=Float),
                                       1e-6, type_=Float).label("idf"))
        .select_from(hits.join(stats, true()))
        .group_by(hits.c.i, stats.c.n)
        .cte("idf")
    )
    saturated = hits.c.f * (BM25_K1 + 1) / (
        hits.c.f + BM25_K1 * (1 - BM25_B + BM25_B * cast(hits.c.tokens, Float) / stats.c.average))
    score = func.sum(idf.c.idf * saturated, type_=Float).label("score")
    ranked = (select(hits.c.incident_key, score)
              .select_from(hits.join(idf, idf.c.i == hits.c.i).join(stats, true()))
              .group_by(hits.c.incident_key))
    if not clauses:
        return ranked.order_by(score.desc(), hits.c.incident_key).limit(limit)
    # Filters after scoring (idf counts every incident, as FTS5's does) and before the limit,
    # on one row per incident rather than one per matched term.
    scores = ranked.subquery("scores")
    return (select(scores.c.incident_key, scores.c.score)
            .join(T_INCIDENTS, T_INCIDENTS.c.key == scores.c.incident_key).where(*clauses)
            .order_by(scores.c.score.desc(), scores.c.incident_key).limit(limit))


# -- what a BM25 impact index is built from (SQLite only; kb.embed.impact) -------------------

# The column weight of each FTS5 column, by name, as bm25() applies BM25_WEIGHTS.
_COLUMN_WEIGHT = {"title": BM25_WEIGHTS[0], "components": BM25_WEIGHTS[1], "body": BM25_WEIGHTS[2]}


def fts_signature(store: Store) -> str | None:
    """A digest of the FTS5 index's structure and averages records (incident_fts_data rows
    10 and 1), or None where there is no FTS5 index (PostgreSQL, an older schema). FTS5
    rewrites the structure record on every transaction that changes the index (each flush
    adds a segment, each merge replaces some), and the averages record holds the row and
    token counts: any insert, update or delete of an indexed incident changes the digest.
    Two primary-key reads, cheap enough to ask before every query."""
    if store.engine.dialect.name != "sqlite":
        return None
    try:
        with connected(store.engine) as conn:
            rows = conn.exec_driver_sql(
                "SELECT id, block FROM incident_fts_data WHERE id IN (1, 10) ORDER BY id").all()
    except OperationalError as exc:
        if "no such table" in str(exc.orig):
            return None  # a schema before s01: no FTS5 index
        raise
    digest = hashlib.sha256()
    for row_id, block in rows:
        digest.update(str(row_id).encode() + b":" + bytes(block or b"") + b";")
    return digest.hexdigest()


def fts_tokenizer(store: Store) -> str:
    """The `tokenize` option the FTS5 table was made with (e.g. 'porter unicode61
    remove_diacritics 2'), read from its CREATE statement."""
    with connected(store.engine) as conn:
        sql = conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE name = 'incident_fts'").scalar() or ""
    found = re.search(r"tokenize\s*=\s*'([^']*)'", sql)
    return found.group(1) if found else "unicode61"


def fts_postings(store: Store, batch: int = 100_000
                 ) -> Iterator[list[tuple[str, int, float, int]]]:
    """Every (token, FTS5 rowid, weighted count, count) of the FTS5 index, in batches, read
    from FTS5's own `fts5vocab` instance table: the tokens exactly as FTS5 made them (porter
    stems, diacritics folded), the weighted count as bm25() sums it (title 4, components 2,
    body 1 per occurrence). Token order, then rowid."""
    weight = " ".join(f"WHEN '{name}' THEN {value!r}" for name, value in _COLUMN_WEIGHT.items())
    with connected(store.engine) as conn:
        conn.exec_driver_sql("CREATE VIRTUAL TABLE IF NOT EXISTS temp.kb_fts_instances "
                             "USING fts5vocab(main, incident_fts, instance)")
        result = conn.exec_driver_sql(
            f"SELECT term, doc, sum(CASE col {weight} ELSE 1.0 END), count(*) "
            "FROM temp.kb_fts_instances GROUP BY term, doc")
        while rows := result.fetchmany(batch):
            yield [tuple(row) for row in rows]  # type: ignore[misc]


def fts_rows(store: Store) -> list[tuple[int, str]]:
    """(FTS5 rowid, incident key) of every indexed incident: `search_docs`, rowid order."""
    with connected(store.engine) as conn:
        return [(int(i), k) for i, k in conn.exec_driver_sql(
            "SELECT d.id, d.incident_key FROM search_docs AS d "
            "JOIN incident_fts AS f ON f.rowid = d.id ORDER BY d.id")]


def phrase_scores(store: Store, phrase: str) -> list[tuple[int, float]]:
    """(FTS5 rowid, −bm25) of every incident holding `phrase` (a term of several tokens:
    "us-east-1"), scored by FTS5 as if the phrase were the whole query: its share of an
    OR-ed query's bm25(), which sums its phrases' shares."""
    match = fts5_match([phrase])
    if match is None:
        return []
    weights = ", ".join(str(w) for w in BM25_WEIGHTS)
    with connected(store.engine) as conn:
        return [(int(row), -float(score)) for row, score in conn.exec_driver_sql(
            f"SELECT rowid, bm25(incident_fts, {weights}) FROM incident_fts "
            "WHERE incident_fts MATCH ?", (match,))]


class Tokenizer:
    """FTS5's tokenizer, asked directly: an in-memory FTS5 table made with the KB's
    `tokenize` option, so a query phrase splits and stems exactly as FTS5 indexed the
    incidents (no second stemmer to drift from it). Thread-safe (one lock)."""

    def __init__(self, tokenize: str) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        spec = tokenize.replace("'", "''")
        self._db.execute(f"CREATE VIRTUAL TABLE t USING fts5(x, tokenize = '{spec}')")
        self._db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, instance)")

    def tokens(self, phrases: Sequence[str]) -> list[list[str]]:
        """The tokens of each phrase, in order."""
        found: list[list[str]] = [[] for _ in phrases]
        with self._lock:
            self._db.executemany("INSERT INTO t (rowid, x) VALUES (?, ?)",
                                 list(enumerate(phrases, 1)))
            for doc, term, _offset in self._db.execute(
                    "SELECT doc, term, offset FROM v ORDER BY doc, offset"):
                found[int(doc) - 1].append(term)
            self._db.execute("DELETE FROM t")
        return found


def indexed_documents(store: Store) -> int:
    """How many incidents the keyword index holds (the N of idf): `search_docs` rows on
    SQLite, `incident_search_totals.docs` on PostgreSQL."""
    query = (select(_TOTALS.c.docs) if store.engine.dialect.name == "postgresql"
             else select(func.count()).select_from(_DOCS))
    with connected(store.engine) as conn:
        value = conn.execute(query).scalar()
    return int(value or 0)


def containing(store: Store, term: str, limit: int) -> list[str]:
    """Keys of at most `limit` incidents whose indexed text holds `term` exactly (as a phrase
    of its words: "us-east-1" is the phrase us east 1 on SQLite, the hyphenated word as
    PostgreSQL's parser indexes it), in no particular order. A caller asks for one more than
    it can use to learn whether a term is rare without counting every match of a common one."""
    if store.engine.dialect.name == "postgresql":
        config = literal_column(f"'{TS_CONFIG}'::regconfig")
        wanted = func.phraseto_tsquery(config, bindparam("term", term, type_=String))
        query = select(_PG.c.incident_key).where(_PG.c.document.op("@@")(wanted))
    else:
        match = fts5_match([term])
        if match is None:
            return []
        query = (select(_DOCS.c.incident_key)
                 .select_from(_FTS.join(_DOCS, _DOCS.c.id == _FTS.c.rowid))
                 .where(text("incident_fts MATCH :match").bindparams(match=match)))
    with connected(store.engine) as conn:
        return [row[0] for row in conn.execute(query.limit(int(limit)))]


def rare_holders(store: Store, term: str, most: int) -> list[str] | None:
    """`containing(store, term, most)` when at most `most` incidents hold `term`, else None.
    Whether the term is rare is asked first by counting at most `most` + 1 matches inside the
    engine, so a common term ("pages" in a KB of GitHub incidents) costs a count in C rather
    than `most` + 1 keys carried into Python (at 100k incidents `most` is 2,000)."""
    if store.engine.dialect.name == "postgresql":
        config = literal_column(f"'{TS_CONFIG}'::regconfig")
        wanted = func.phraseto_tsquery(config, bindparam("term", term, type_=String))
        probe = select(literal(1)).select_from(_PG).where(_PG.c.document.op("@@")(wanted))
    else:
        match = fts5_match([term])
        if match is None:
            return []
        probe = (select(_FTS.c.rowid)
                 .where(text("incident_fts MATCH :match").bindparams(match=match)))
    count = select(func.count()).select_from(probe.limit(int(most) + 1).subquery())
    with connected(store.engine) as conn:
        found = int(conn.execute(count).scalar_one())
    if found > most:
        return None
    if not found:
        return []
    keys = containing(store, term, int(most) + 1)  # a writer may have added some since
    return keys if len(keys) <= most else None


def component_names(store: Store) -> set[str]:
    """Every component name in the store, lower-cased, its words joined by one space (how
    query phrases are compared with product and component names)."""
    with store.engine.connect() as conn:
        names = conn.execute(select(T_COMPONENTS.c.name).distinct()).scalars()
        return {" ".join(re.findall(r"\w+", name.lower())) for name in names} - {""}


# -- write-ups (revision p02) -------------------------------------------------------------------

# Column weights of the write-up index: its id (not indexed), title, the rest of its text.
WRITEUP_BM25_WEIGHTS = (0.0, 4.0, 1.0)


def writeup_search(store: Store, terms: Sequence[str], limit: int) -> list[tuple[str, float]]:
    """Postmortem documents matching any of `terms`, best first, as (postmortem id, score),
    higher is better, linked to an incident or not (kb search --kind postmortem): −bm25 over
    `postmortem_fts` on SQLite (title 4 : text 1); on PostgreSQL ts_rank_cd over
    `postmortem_search` (title A, text C), the terms OR-ed, each a `phraseto_tsquery` bound
    parameter. User text never reaches either engine as syntax (as in `keyword_search`)."""
    wanted = distinct_terms(terms)
    if store.engine.dialect.name == "postgresql":
        if not wanted:
            return []
        pieces = " || ".join(f"phraseto_tsquery('{TS_CONFIG}'::regconfig, :t{i})"
                             for i in range(len(wanted)))
        query = text(
            f"SELECT postmortem_id, ts_rank_cd('{{0.25,0.25,0.5,1.0}}'::float4[], document, q)"
            f" AS score FROM postmortem_search, ({'SELECT ' + pieces} AS q) AS wanted "
            "WHERE document @@ q ORDER BY score DESC, postmortem_id LIMIT :limit"
        ).bindparams(limit=int(limit), **{f"t{i}": t for i, t in enumerate(wanted)})
        sign = 1.0
    else:
        match = fts5_match(wanted)
        if match is None:
            return []
        weights = ", ".join(str(w) for w in WRITEUP_BM25_WEIGHTS)
        query = text(
            f"SELECT postmortem_id, bm25(postmortem_fts, {weights}) AS score FROM postmortem_fts"
            " WHERE postmortem_fts MATCH :match ORDER BY score, postmortem_id LIMIT :limit"
        ).bindparams(match=match, limit=int(limit))
        sign = -1.0
    return _scored(store, query, sign)
