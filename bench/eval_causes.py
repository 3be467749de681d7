"""Precision and recall of the cause tagger per tag, on labeled real incidents.

Usage: python bench/eval_causes.py [--corpus ../shared/corpus] [--database URL]
                                   [--split dev|test|all] [--show-errors] [--write-docs]
       python bench/eval_causes.py --roles [--show-errors] [--write-docs]

`--roles` scores the role of each tag (stated cause / symptom) on bench/data/cause_roles.jsonl:
207 (sentence, tag) pairs the v2 rules matched in the corpus, labelled by us as cause, symptom
or wrong tag, split tune / held-out by a hash of the key before any role rule was written (see
bench/data/LABELS.md). It needs no corpus: the sentences are in the file.

Two labeled sets for the tags themselves:

1. tests/fixtures/analysis/cause_labels.jsonl: 180 GitHub, Anthropic, OpenAI and other status
   page incidents of the corpus, labeled by hand from their text alone (see ORIGIN.md):
   "dev" (50) was used to write the rules; "test" (70) was labeled blind and scored once
   (that first score is kept in docs/analysis.md), then its errors were fixed too; "holdout"
   (60) was labeled blind after the rules were frozen and is the honest figure.
2. The 242 categorised public postmortems in ../shared/corpus/postmortems/icco/data: their
   front-matter categories map onto three tags (config-change → config-deploy, security →
   security, hardware → hardware-power); the other icco categories (cloud, automation,
   cascading-failure, time) name no contributing factor of the taxonomy and are not scored.

Each tag's precision = correct predictions / predictions, recall = correct / labeled; the
`unknown` tag is scored like the others (predicted when no rule fires).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from analysis_corpus import CORPUS, ROOT, corpus_store, write_section

LABELS = ROOT / "tests" / "fixtures" / "analysis" / "cause_labels.jsonl"
ROLE_LABELS = ROOT / "bench" / "data" / "cause_roles.jsonl"
ICCO_MAP = {"config-change": "config-deploy", "security": "security",
            "hardware": "hardware-power"}


def score(gold: Mapping[str, set[str]], predicted: Mapping[str, set[str]],
          tags: Iterable[str]) -> list[tuple[str, int, int, int, float | None, float | None]]:
    """(tag, labeled, predicted, correct, precision, recall) per tag."""
    rows = []
    for tag in tags:
        labeled = {k for k, v in gold.items() if tag in v}
        said = {k for k, v in predicted.items() if tag in v and k in gold}
        hit = len(labeled & said)
        rows.append((tag, len(labeled), len(said), hit, hit / len(said) if said else None,
                     hit / len(labeled) if labeled else None))
    return rows


def table(rows: list[tuple[str, int, int, int, float | None, float | None]]) -> str:
    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    lines = ["| tag | labeled | predicted | correct | precision | recall |",
             "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {t} | {n} | {p} | {c} | {pct(pr)} | {pct(rc)} |" for t, n, p, c, pr, rc in rows]
    tp = sum(r[3] for r in rows)
    predicted = sum(r[2] for r in rows)
    labeled = sum(r[1] for r in rows)
    lines.append(f"| **micro** | {labeled} | {predicted} | {tp} | "
                 f"{pct(tp / predicted if predicted else None)} | "
                 f"{pct(tp / labeled if labeled else None)} |")
    return "\n".join(lines)


def icco_postmortems(corpus: Path) -> list[tuple[str, set[str], str]]:
    """(uuid, mapped gold tags, text) for every icco postmortem."""
    out = []
    for path in sorted((corpus / "postmortems" / "icco" / "data").glob("*.md")):
        raw = path.read_text(encoding="utf-8")
        parts = raw.split("\n---\n", 1)
        front, body = parts[0], parts[1] if len(parts) > 1 else ""
        block = re.search(r"^categories:\n((?:- .*\n?)+)", front, re.M)
        categories = {line[2:].strip() for line in block.group(1).splitlines()} if block else set()
        title = re.search(r"^title: (.*)$", front, re.M)
        summary = re.search(r"^summary: (.*)$", front, re.M)
        text = "\n".join(x for x in (title.group(1).strip('"') if title else "",
                                     summary.group(1).strip('"') if summary else "", body) if x)
        out.append((path.stem, {ICCO_MAP[c] for c in categories if c in ICCO_MAP}, text))
    return out


def role_predictions(rows: list[dict]) -> list[str]:
    """The role the rules give each labelled (sentence, tag): "cause", "symptom", "unknown",
    or "none" where the rules no longer give that tag to that sentence. The page's own
    provider is passed as the tagger does for an incident (its own name is no dependency)."""
    from kb.analysis.causes import own_names, sentence_tags

    out = []
    for row in rows:
        found = {t.tag.value: t for t in sentence_tags(row["text"],
                                                        own_names(row["incident"].split("/")[0]))}
        tag = found.get(row["tag"])
        out.append(tag.stated_as if tag else "none")
    return out


def role_scores(rows: list[dict], predicted: list[str]) -> dict[str, float | int | None]:
    """Stated-cause precision / recall (what cause summaries count), cause-vs-symptom
    accuracy over the pairs labelled cause or symptom, and how the wrong tags fared."""
    def ratio(a: int, b: int) -> float | None:
        return a / b if b else None

    said_cause = [r for r, p in zip(rows, predicted, strict=True) if p == "cause"]
    is_cause = [p for r, p in zip(rows, predicted, strict=True) if r["label"] == "cause"]
    two = [(r["label"], p) for r, p in zip(rows, predicted, strict=True)
           if r["label"] in ("cause", "symptom")]
    wrong = [p for r, p in zip(rows, predicted, strict=True) if r["label"] == "wrong-tag"]
    right_dropped = sum(1 for r, p in zip(rows, predicted, strict=True)
                        if r["label"] != "wrong-tag" and p == "none")
    return {
        "n": len(rows), "cause_labelled": len(is_cause), "cause_predicted": len(said_cause),
        "cause_precision": ratio(sum(1 for r in said_cause if r["label"] == "cause"),
                                 len(said_cause)),
        "cause_recall": ratio(sum(1 for p in is_cause if p == "cause"), len(is_cause)),
        "accuracy": ratio(sum(1 for label, p in two if label == p), len(two)),
        "n_two": len(two),
        "wrong_labelled": len(wrong), "wrong_dropped": sum(1 for p in wrong if p == "none"),
        "right_dropped": right_dropped,
    }


def roles_report(show_errors: bool = False) -> str:
    rows = [json.loads(line) for line in ROLE_LABELS.read_text(encoding="utf-8").splitlines()]
    predicted = role_predictions(rows)

    def pct(value: object) -> str:
        return "-" if value is None else f"{value:.2f}"

    lines = ["| split | pairs | stated-cause precision | stated-cause recall | "
             "cause-vs-symptom accuracy | wrong tags dropped | right tags dropped |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for split in ("tune", "heldout", "all"):
        chosen = [(r, p) for r, p in zip(rows, predicted, strict=True)
                  if split == "all" or r["split"] == split]
        sc = role_scores([r for r, _ in chosen], [p for _, p in chosen])
        lines.append(
            f"| {split} | {sc['n']} | {pct(sc['cause_precision'])} ({sc['cause_predicted']} "
            f"said cause) | {pct(sc['cause_recall'])} (of {sc['cause_labelled']}) | "
            f"{pct(sc['accuracy'])} (of {sc['n_two']}) | {sc['wrong_dropped']} of "
            f"{sc['wrong_labelled']} | {sc['right_dropped']} |")
        if show_errors and split != "all":
            for row, p in chosen:
                if p != row["label"] and not (row["label"] == "wrong-tag" and p == "none"):
                    print(f"{split}: {row['label']} → {p} [{row['tag']}] {row['text'][:160]}",
                          file=sys.stderr)
    return ("### Roles: stated cause vs symptom (bench/data/cause_roles.jsonl, labelled by us)"
            "\n\n" + "\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--database", help="use this KB instead of importing the corpus")
    parser.add_argument("--split", choices=("dev", "test", "holdout", "all"), default="all")
    parser.add_argument("--show-errors", action="store_true")
    parser.add_argument("--write-docs", action="store_true", help="update docs/analysis.md")
    parser.add_argument("--roles", action="store_true",
                        help="score roles (stated cause vs symptom) instead; no corpus needed")
    parser.add_argument("--embedding", action="store_true",
                        help="also run the embedding step (needs kb.embed and its model)")
    parser.add_argument("--model-home", type=Path, default=Path(tempfile.gettempdir()) / "kb-eval",
                        help="where the ONNX export of the model is cached")
    args = parser.parse_args()
    if args.roles:
        report = roles_report(args.show_errors)
        print(report)
        if args.write_docs:
            write_section("eval_roles", report)
        return

    from kb.analysis.causes import Cause, tag_text
    from kb.analysis.similar import load_similarity
    from kb.analysis.stage import tag_one

    similarity = None
    if args.embedding:
        similarity, note = load_similarity(args.model_home)
        print(note, file=sys.stderr)
        if similarity is None:
            raise SystemExit(1)

    labels = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines()]
    sections = []
    with corpus_store(args.corpus, args.database) as store:
        predicted_all: dict[str, set[str]] = {}
        evidence: dict[str, list[str]] = {}
        for item in labels:
            tags = tag_one(store.get(item["key"]), similarity)  # type: ignore[attr-defined]
            predicted_all[item["key"]] = {t.tag.value for t in tags}
            evidence[item["key"]] = [f"{t.tag.value} ← {t.detail} | {t.evidence[:160]}"
                                     for t in tags]
    tags = [c.value for c in Cause]
    for split in (("dev", "test", "holdout", "all") if args.split == "all" else (args.split,)):
        gold = {x["key"]: set(x["tags"]) for x in labels if split == "all" or x["split"] == split}
        rows = score(gold, predicted_all, tags)
        sections.append(f"### Status-page incidents, {split} split ({len(gold)} incidents)\n\n"
                        + table([r for r in rows if r[1] or r[2]]))
        if args.show_errors:
            for key in sorted(gold):
                if gold[key] != predicted_all[key]:
                    print(f"{key}: gold {sorted(gold[key])} predicted "
                          f"{sorted(predicted_all[key])}", file=sys.stderr)
                    for line in evidence[key]:
                        print(f"    {line}", file=sys.stderr)
    mode = "rules + embedding step" if similarity else "rules only"
    sections.insert(0, f"Tagger: {mode}.")
    posts = icco_postmortems(args.corpus)
    gold_pm = {uuid: labels_ for uuid, labels_, _ in posts}
    predicted_pm = {uuid: {t.tag.value for t in tag_text(text)} for uuid, _, text in posts}
    icco_rows = score(gold_pm, predicted_pm, sorted(set(ICCO_MAP.values())))
    sections.append(f"### icco/postmortems ({len(posts)} public postmortems; only the three "
                    "tags their categories name)\n\n" + table(icco_rows))
    mix = Counter(t for v in predicted_pm.values() for t in v)
    sections.append("Tags the rules give the icco postmortems (all tags, unscored): "
                    + ", ".join(f"{t} {n}" for t, n in mix.most_common()))
    report = "\n\n".join(sections)
    print(report)
    if args.write_docs:
        write_section("eval_causes", report)


if __name__ == "__main__":
    main()
