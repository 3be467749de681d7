"""Precision and recall of cross-provider cluster links on labelled real pairs.

Usage: python bench/eval_clusters.py [--show-errors] [--write-docs]

bench/data/cluster_pairs.jsonl holds every pair of incidents of two different providers of
the recorded corpus within 6 hours of each other (271), with both incidents' titles, times
and text, labelled by us "yes" (one event, or one caused the other, as far as their texts
tell) or "no", and split tune / held-out by a hash of the pair key before the rules were
tuned (bench/data/LABELS.md). No corpus is needed: the texts are in the file.

A pair is predicted related when kb.analysis.clusters.link makes it a related link and the
two come within the clustering slack (30 min) of each other, as `kb clusters` would. The
rule before (`before`): any shared region/vendor term, provider name or cause tag within the
slack, which is what grouped 7 corpus clusters of which we judge none to be one event.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from analysis_corpus import ROOT, write_section

from kb.config import PACKAGED_SOURCES

PAIRS = ROOT / "bench" / "data" / "cluster_pairs.jsonl"


def load_pairs(path: Path = PAIRS) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def predictions(rows: list[dict], sources: Path = PACKAGED_SOURCES,
                ) -> list[tuple[bool, bool, object]]:
    """(predicted related now, predicted by the rule before, the link) for each pair."""
    from kb.analysis.causes import own_names, tag_sentences
    from kb.analysis.clusters import SLACK, dependency_terms, link, names_pattern, side
    from kb.config import load_sources
    from kb.normalize.impact import sentences
    from kb.signals.config import load_signal_config

    configured = load_sources(sources)
    names = names_pattern({p.slug: p.aliases
                           for p in load_signal_config(sources, configured).providers})
    display = {s.slug: s.name for s in configured}
    aliases = {slug: dependency_terms(name or "") | {slug} for slug, name in display.items()}
    slack = SLACK.total_seconds() / 60
    out = []
    for row in rows:
        sides = []
        for part in (row["a"], row["b"]):
            provider = part["provider"]
            tags = tag_sentences([s for s in sentences(part["text"]) if s],
                                 own_names(provider, display.get(provider)))
            sides.append(side(part["key"], provider, part["title"], part["text"],
                              datetime.fromisoformat(part["start"]),
                              datetime.fromisoformat(part["end"]),
                              [t.tag.value for t in tags],
                              own=aliases.get(provider, {provider}), names=names))
        found = link(sides[0], sides[1], aliases)
        near = found is not None and found.gap_minutes <= slack
        now = near and found is not None and found.kind in ("related", "duplicate")
        before = near and found is not None and bool(
            found.shared_terms or found.shared_causes or found.names_other)
        out.append((now, before, found))
    return out


def scores(rows: list[dict], predicted: list[bool]) -> dict[str, float | int | None]:
    said = [r for r, p in zip(rows, predicted, strict=True) if p]
    yes = [p for r, p in zip(rows, predicted, strict=True) if r["label"] == "yes"]
    hit = sum(1 for r in said if r["label"] == "yes")
    return {"pairs": len(rows), "labelled_yes": len(yes), "predicted": len(said), "correct": hit,
            "precision": hit / len(said) if said else None,
            "recall": sum(yes) / len(yes) if yes else None}


def report(show_errors: bool = False) -> str:
    rows = load_pairs()
    made = predictions(rows)

    def pct(value: object) -> str:
        return "-" if value is None else f"{value:.2f}"

    lines = ["| split | pairs | related (labelled) | rule | predicted | correct | precision | "
             "recall |", "|---|---:|---:|---|---:|---:|---:|---:|"]
    for split in ("tune", "heldout", "all"):
        chosen = [(r, m) for r, m in zip(rows, made, strict=True)
                  if split == "all" or r["split"] == split]
        for name, index in (("now", 0), ("before", 1)):
            sc = scores([r for r, _ in chosen], [m[index] for _, m in chosen])
            lines.append(f"| {split} | {sc['pairs']} | {sc['labelled_yes']} | {name} | "
                         f"{sc['predicted']} | {sc['correct']} | {pct(sc['precision'])} | "
                         f"{pct(sc['recall'])} |")
        if show_errors and split != "all":
            for row, (now, _before, found) in chosen:
                if now != (row["label"] == "yes"):
                    print(f"{split}: label {row['label']} predicted {now}: {row['key']} "
                          f"{getattr(found, 'evidence', None)}", file=sys.stderr)
    return ("### Cluster links (bench/data/cluster_pairs.jsonl, labelled by us)\n\n"
            + "\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-errors", action="store_true")
    parser.add_argument("--write-docs", action="store_true", help="update docs/analysis.md")
    args = parser.parse_args()
    text = report(args.show_errors)
    print(text)
    if args.write_docs:
        write_section("eval_clusters", text)


if __name__ == "__main__":
    main()
