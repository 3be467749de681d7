"""`kb search`, `kb similar` and `kb embed`: "has this happened before?".

Heavy modules (numpy, onnxruntime, torch) load inside the commands; a cold `kb search` with
the default ONNX backend never imports torch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kb.commands.common import (
    JsonFlag,
    check_known,
    err,
    open_store,
    out,
    parse_date,
    print_json,
    progress_bar,
)
from kb.present import print_table

if TYPE_CHECKING:
    from kb.embed.search import Searcher, SearchResult
    from kb.store import Store

ModeOption = Annotated[str, typer.Option("--mode", help="hybrid (default), semantic or keyword.")]
KOption = Annotated[int, typer.Option("-k", help="How many results.")]
CauseOption = Annotated[str | None, typer.Option(
    "--cause", help="Only incidents whose text states this cause (auth, dns, tls, "
                    "config-deploy, capacity, ...; see `kb causes`); a tag stated only as a "
                    "symptom does not match.")]


def register(app: typer.Typer) -> None:
    """Add `kb search`, `kb similar` and `kb embed` to the CLI."""
    app.command()(search)
    app.command()(similar)
    app.command()(embed)


def search(
    query: Annotated[str, typer.Argument(help="What happened, in words.")],
    mode: ModeOption = "hybrid",
    provider: Annotated[str | None, typer.Option(help="Only this provider.")] = None,
    component: Annotated[str | None, typer.Option(help="Only incidents that affected this component (name, any case).")] = None,  # noqa: E501
    severity: Annotated[str | None, typer.Option(help="none, minor, major, critical, or unknown (no source stated an impact).")] = None,  # noqa: E501
    kind: Annotated[str | None, typer.Option(help="incident or maintenance; postmortem: published write-ups instead (keyword only), linked to an incident or not.")] = None,  # noqa: E501
    since: Annotated[str | None, typer.Option(help="First post on/after this date (UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="First post before this date (UTC).")] = None,
    cause: CauseOption = None,
    k: KOption = 10,
    as_json: JsonFlag = False,
) -> None:
    """Find incidents by what happened: keyword (BM25) and semantic (embedding) rankings fused.

    Each result shows its score, title, provider, date, duration and the sentence that matched.

    Example: kb search "webhook deliveries delayed" --provider github --since 2022-01-01 -k 5
    Example: kb search "login failures" --cause auth --json
    """
    from kb.store.vectors import SearchFilters

    if kind is not None and kind.strip().lower() == "postmortem":
        _search_writeups(query, mode, k, as_json, provider, since=since, until=until,
                         component=component, severity=severity, cause=cause)
        return

    filters = SearchFilters(provider=provider, component=component,
                            severity=severity_value(severity), kind=kind,
                            since=parse_date(since, "--since"),
                            until=parse_date(until, "--until"), cause=cause_tag(cause))
    with _searcher() as searcher:
        check_known(searcher.store, [provider])
        result = searcher.search(query, mode=mode, k=k, filters=filters)
        result.notes.extend(cause_notes(searcher.store, filters.cause))
    _print(result, as_json, title=f"search: {query[:60]}")


def _search_writeups(query: str, mode: str, k: int, as_json: bool, provider: str | None,
                     **unused: str | None) -> None:
    """`kb search --kind postmortem`: write-ups by keyword (kb.postmortems.search), of one
    provider with --provider."""
    from rich.table import Table

    from kb.config import load_settings
    from kb.embed.index import query_terms
    from kb.errors import ConfigError
    from kb.postmortems.search import search_writeups
    from kb.terminal import plain

    refused = sorted(f"--{name}" for name, value in unused.items() if value is not None)
    if refused:
        raise ConfigError(f"{', '.join(refused)} cannot be used with --kind postmortem "
                          "(write-ups are searched by their words only)")
    notes = [] if mode != "semantic" else [
        "--kind postmortem searches write-ups by keyword (BM25) only, not in semantic mode: "
        "write-ups have no vectors of their own"]
    with open_store(load_settings()) as store:
        check_known(store, [provider])
        hits = search_writeups(store, query_terms(query), k, provider=provider)
    rows = [{"rank": rank, "id": hit.doc.id, "score": round(hit.score, 6),
             "title": hit.doc.title, "provider": hit.doc.provider, "company": hit.doc.company,
             "stated_start": hit.doc.start.isoformat() if hit.doc.start else None,
             "status": hit.doc.status, "url": hit.doc.url,
             "incidents": [{"key": k.incident_key, "confidence": k.confidence}
                           for k in hit.links]}
            for rank, hit in enumerate(hits, start=1)]
    if as_json:
        print_json({"mode": "keyword", "kind": "postmortem", "notes": notes, "results": rows})
        return
    for note in notes:
        err.print(f"kb: {note}", markup=False)
    table = Table(title=plain(f"write-ups: {query[:60]} (keyword, {len(rows)} results)"),
                  title_justify="left")
    for column in ("#", "score", "stated start", "title", "provider", "incidents", "url"):
        table.add_column(column, justify="right" if column in ("#", "score") else "left",
                         overflow="fold")
    for row in rows:
        linked = ", ".join(i["key"] for i in row["incidents"]) or "none linked"
        table.add_row(str(row["rank"]), f"{row['score']:.3f}",
                      (row["stated_start"] or "not stated")[:10], plain(row["title"]),
                      plain(row["provider"] or "not followed"), plain(linked),
                      plain(row["url"]))
    print_table(out, table)


def similar(
    key: Annotated[str, typer.Argument(help="PROVIDER/ID, e.g. github/zzm4nczlpjyy")],
    k: KOption = 10,
    mode: ModeOption = "hybrid",
    provider: Annotated[str | None, typer.Option(help="Only this provider.")] = None,
    cause: CauseOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Incidents most like this one (never itself, nor its duplicates: the same outage posted
    twice, overlapping in time with the same title or a near-identical text).

    Example: kb similar anthropic/6304r9jjhj34 -k 5 --json
    Example: kb similar github/zzm4nczlpjyy --cause dns
    """
    from kb.store.vectors import SearchFilters

    filters = SearchFilters(provider=provider, cause=cause_tag(cause))
    with _searcher() as searcher:
        check_known(searcher.store, [provider])
        result = searcher.similar(key, k=k, mode=mode, filters=filters)
        result.notes.extend(cause_notes(searcher.store, filters.cause))
    _print(result, as_json, title=f"similar to {key}")


def embed(
    full: Annotated[bool, typer.Option("--full", help="Rebuild and compare every document, not only incidents that changed.")] = False,  # noqa: E501
    as_json: JsonFlag = False,
    reindex: Annotated[bool, typer.Option("--reindex", help="Rebuild the search indexes of a large KB (vector graph, keyword impact index) even where they could be kept.")] = False,  # noqa: E501
) -> None:
    """Embed the incidents that are new or changed (by content hash), with a progress bar.

    A model change (KB_EMBED_MODEL, KB_EMBED_BACKEND) re-embeds everything. `kb update` runs
    this as its `embed` stage. Above 20,000 incidents it also keeps the search indexes
    current; after a few changes they are kept (the graph with the changed vectors scored
    exactly) and rebuilt once 5 % of the incidents changed, or with --reindex.

    Example: kb embed
    """
    from kb.config import load_settings
    from kb.embed.stage import embed_missing

    settings = load_settings()
    with open_store(settings, write=True) as store, progress_bar("embedding", eta=True) as bar:
        report = embed_missing(store, settings.home, tracker=bar, full=full,
                               note=lambda message: err.print(f"kb: {message}"),
                               reindex=reindex)
    if as_json:
        print_json(vars(report))
    else:
        err.print(f"kb: {report.summary()} in {report.seconds:.1f} s", markup=False)


def cause_tag(value: str | None) -> str | None:
    """A --cause value as the stored tag (any case); ConfigError (exit 2) naming the valid
    tags when it is not one of kb.analysis.causes.Cause."""
    from kb.analysis.causes import Cause

    return _one_of(value, [c.value for c in Cause], "--cause")


def severity_value(value: str | None) -> str | None:
    """A --severity value as shown in lists (any case); ConfigError (exit 2) naming the valid
    ones otherwise ("unknown": no source stated an impact, as feed-only incidents)."""
    from kb.model import SEVERITY_UNKNOWN, Severity

    return _one_of(value, [*(s.value for s in Severity), SEVERITY_UNKNOWN], "--severity")


def _one_of(value: str | None, valid: list[str], option: str) -> str | None:
    if value is None:
        return None
    from kb.errors import ConfigError

    wanted = value.strip().lower()
    if wanted not in valid:
        raise ConfigError(f"unknown {option} {value!r}; valid: {', '.join(valid)}")
    return wanted


def cause_notes(store: Store, cause: str | None) -> list[str]:
    """Say when a cause filter cannot see every incident: tags are made by the analysis
    stage, so a KB that was never analysed (or changed since) would answer "nothing" or
    "not all" silently; and how many incidents name the tag only as a symptom."""
    if cause is None:
        return []
    from kb.store.vectors import cause_coverage, symptom_only

    tagged, total = cause_coverage(store)
    if total and not tagged:
        return ["no incident carries cause tags yet: --cause matches nothing (run "
                "`kb causes --refresh` or `kb update`)"]
    notes = []
    if tagged < total:
        notes.append(f"{total - tagged} of {total} incident(s) have no current cause tags: "
                     "--cause does not see them (run `kb causes --refresh`)")
    if symptoms := symptom_only(store, cause):
        notes.append(f"{symptoms} incident(s) name {cause} only as a symptom (what failed, "
                     "not why): --cause matches stated causes only")
    return notes


@contextmanager
def _searcher() -> Iterator[Searcher]:
    """A Searcher on the configured store, closed on exit."""
    from kb.config import load_settings
    from kb.embed.search import Searcher

    settings = load_settings()
    with open_store(settings) as store:
        yield Searcher(store, settings.home)


def result_rows(result: SearchResult) -> list[dict[str, Any]]:
    """The JSON form of each hit."""
    from kb.present import duration
    from kb.serialize import stamp

    rows = []
    for rank, hit in enumerate(result.hits, start=1):
        life = hit.incident.lifecycle
        rows.append({
            "rank": rank, "key": hit.key, "score": round(hit.score, 6),
            "title": hit.incident.title, "provider": hit.incident.provider,
            "first_post_at": stamp(life.first_post_at), "resolved_at": stamp(life.resolved_at),
            "duration": duration(life.first_post_at, life.resolved_at),
            "why": hit.why,
            "semantic": None if hit.semantic is None else round(hit.semantic, 6),
            "keyword": None if hit.keyword is None else round(hit.keyword, 6),
            "url": hit.incident.url,
        })
    return rows


def _print(result: SearchResult, as_json: bool, *, title: str) -> None:
    from rich.table import Table

    from kb.terminal import plain

    rows = result_rows(result)
    if as_json:
        print_json({"mode": result.mode, "notes": result.notes,
                    "vector_search": result.vector_search, "vector_note": result.vector_note,
                    "results": rows})
        return
    for note in [*result.notes, *([result.vector_note] if result.vector_note else [])]:
        err.print(f"kb: {note}", markup=False)
    # Titles and sentences are vendor text: plain() keeps "[...]" from reading as rich markup
    # and escapes controls before the table measures them.
    table = Table(title=plain(f"{title} ({result.mode}, {len(rows)} results)"),
                  title_justify="left")
    for column in ("#", "score", "date", "key", "title", "duration", "why it matched"):
        table.add_column(column, justify="right" if column in ("#", "score") else "left")
    for row in rows:
        table.add_row(str(row["rank"]), f"{row['score']:.3f}", (row["first_post_at"] or "-")[:10],
                      plain(row["key"]), plain(row["title"]), row["duration"],
                      plain(row["why"] or "-", style="dim"))
    print_table(out, table)

