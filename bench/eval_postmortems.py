"""Precision and recall of postmortem → incident links on pairs labelled by us.

Usage: python bench/eval_postmortems.py [--database URL] [--show-errors] [--write-docs]

bench/data/postmortem_links.jsonl holds, for every published postmortem of the corpus
(`postmortems/icco`, `postmortems/danluu`) that maps to a provider with stored incidents
within two days of the time it states (or the day its text names), each such incident,
labelled by us "related" (the write-up is about it), "unrelated" or "unsure" (left out of
both figures). The split tune / held-out is by a hash of the write-up's URL key (even first
byte: tune), fixed before any threshold was set; only the tune half's errors were looked at.

Precision counts every link the linker makes on the corpus from a document of the lists
(status pages' own incident reports link only to their own incident, by URL, and are left
out): a link to a pair not labelled related (labelled unrelated, or not labelled at all: an
incident outside the two-day candidates, or a write-up with none) is wrong. Recall:
labelled-related pairs linked.
The figures are for the halves by the postmortem's hash; "all" is both.

Also: of the incidents with a linked postmortem, how many drafts state no cause from the
status updates alone ("not disclosed") and quote a cause from a linked postmortem (cited).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from analysis_corpus import CORPUS, ROOT, corpus_store, write_section

LABELS = ROOT / "bench" / "data" / "postmortem_links.jsonl"
LISTS = ("icco", "danluu")
DOC = ROOT / "docs" / "postmortems.md"


def half(url: str) -> str:
    from kb.postmortems.documents import url_key

    return "tune" if hashlib.sha256(url_key(url).encode()).digest()[0] % 2 == 0 else "held-out"


def load_labels(path: Path = LABELS) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def evaluate(store, labels: list[dict]) -> dict:  # type: ignore[no-untyped-def]
    """{half: {tp, fp, fn, errors}} for tune, held-out and all."""
    from kb.postmortems.documents import url_key
    from kb.store.postmortems import links, postmortems

    docs = {d.id: d for d in postmortems(store)}
    label = {(url_key(r["postmortem_url"]), r["incident_key"]): r["label"] for r in labels}
    out = {h: {"tp": 0, "fp": 0, "fn": 0, "errors": []} for h in ("tune", "held-out", "all")}
    linked = set()
    for link in links(store):
        doc = docs[link.postmortem_id]
        if not any(source in LISTS for source, _ in doc.sources):
            continue  # a status page's own report (labels cover the lists' write-ups)
        pair = (url_key(doc.url), link.incident_key)
        linked.add(pair)
        verdict = label.get(pair)
        if verdict == "unsure":
            continue
        for h in (half(doc.url), "all"):
            if verdict == "related":
                out[h]["tp"] += 1
            else:
                out[h]["fp"] += 1
                why = f"{link.rule}, {link.confidence}, {verdict or 'unlabelled'}"
                out[h]["errors"].append(f"FP {doc.title[:60]!r} → {link.incident_key} ({why})")
    for (key, incident), verdict in sorted(label.items()):
        if verdict == "related" and (key, incident) not in linked:
            for h in (half("https://" + key), "all"):
                out[h]["fn"] += 1
                out[h]["errors"].append(f"FN {key} → {incident}")
    return out


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.2f} ({a} of {b})" if b else "n/a (0 of 0)"


def table(result: dict) -> str:
    rows = ["| half | precision | recall |", "|---|---|---|"]
    for h in ("held-out", "tune", "all"):
        r = result[h]
        rows.append(f"| {h} | {_ratio(r['tp'], r['tp'] + r['fp'])} | "
                    f"{_ratio(r['tp'], r['tp'] + r['fn'])} |")
    return "\n".join(rows)


def drafts_changed(store) -> tuple[int, list[str]]:  # type: ignore[no-untyped-def]
    """(incidents with a linked postmortem, those whose draft went from no stated cause to a
    cause quoted from a linked postmortem)."""
    from kb.drafts import prose
    from kb.drafts.postmortem import build_draft
    from kb.store.postmortems import links

    keys = sorted({k.incident_key for k in links(store)})
    changed = []
    for key in keys:
        incident = store.get(key)
        if prose.causes(incident.updates):
            continue  # the status page already states one
        draft = build_draft(store, key, extras={})
        if any(label.startswith("w") for fact in draft.causes for label in fact.cites):
            changed.append(key)
    return len(keys), changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="a KB already holding the corpus (else built)")
    parser.add_argument("--show-errors", action="store_true")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    from kb.config import PACKAGED_SOURCES, load_sources
    from kb.pipeline import Line, ingest
    from kb.postmortems.stage import relink
    from kb.signals.config import load_signal_config
    from scrapers.archive import Archive

    labels = load_labels()
    with corpus_store(database=args.database) as store:
        sources = load_sources(PACKAGED_SOURCES)
        if (CORPUS / "postmortems").is_dir():
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                ingest(Line(store, Archive(Path(tmp)), sources), [CORPUS / "postmortems"])
        terms = list(load_signal_config(PACKAGED_SOURCES, sources).providers)
        report = relink(store, terms, force=True)
        result = evaluate(store, labels)
        linked, changed = drafts_changed(store)
    print(report.line())
    print(table(result))
    print(f"drafts: {len(changed)} of {linked} incidents with a linked postmortem went from "
          "no stated cause ('not disclosed') to a cause quoted from the postmortem")
    if args.show_errors:
        for line in result["tune"]["errors"]:
            print(" ", line)
    if args.write_docs:
        counts = {h: sum(1 for r in labels if half(r["postmortem_url"]) == h)
                  for h in ("tune", "held-out")}
        body = (f"{report.line()}.\n\nLabelled by us: {len(labels)} pairs "
                f"({counts['held-out']} held-out, {counts['tune']} tune), split by a hash "
                "of the write-up URL before the rules were revised on the tune half's errors "
                "(see the notes above).\n\n" + table(result)
                + f"\n\nDrafts: {len(changed)} of the {linked} incidents with a linked "
                "postmortem went from no stated cause (\"not disclosed\") to a cause quoted, "
                "with its citation, from the postmortem.")
        write_section("postmortem-eval", body, DOC)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
