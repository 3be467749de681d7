"""What a postmortem draft quotes as "the stated cause", scored on the cause-role labelled set.

Usage: python bench/eval_draft_causes.py [--show-errors] [--write-docs]

A draft quotes a sentence as the stated cause when kb.drafts.prose.is_cause holds (causal
words, read by the cause classifier's rules: kb.analysis.causes.states_cause). The labelled
set is bench/data/cause_roles.jsonl: (sentence, tag) pairs labelled by us as cause, symptom
or wrong tag, split tune / held-out by a hash of the key before any role rule was written.
Per sentence, the gold answer is "states a cause" when any of its pairs is labelled cause,
and "states none" when all are labelled symptom or wrong tag. The second is a lower bound on
wrong picks only: a sentence labelled symptom for every tag it carries may still state a cause
outside the taxonomy ("caused by a bug"), so its picks are listed with --show-errors to read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from analysis_corpus import ROOT, write_section

ROLE_LABELS = ROOT / "bench" / "data" / "cause_roles.jsonl"


def sentences_by_gold() -> list[tuple[str, str, bool]]:
    """(split, sentence, states a cause per the labels), one per distinct sentence."""
    rows = [json.loads(line) for line in ROLE_LABELS.read_text(encoding="utf-8").splitlines()]
    gold: dict[str, tuple[str, bool]] = {}
    for row in rows:
        split, cause = gold.get(row["text"], (row["split"], False))
        gold[row["text"]] = (split, cause or row["label"] == "cause")
    return [(split, text, cause) for text, (split, cause) in gold.items()]


def report(show_errors: bool = False) -> str:
    from kb.drafts.prose import is_cause

    items = [(split, text, gold, is_cause(text)) for split, text, gold in sentences_by_gold()]
    lines = ["| split | sentences | labelled cause | picked by drafts | picked, labelled cause | "
             "picked, no tag labelled cause | precision | recall |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for split in ("tune", "heldout", "all"):
        chosen = [i for i in items if split == "all" or i[0] == split]
        gold = sum(1 for i in chosen if i[2])
        picked = sum(1 for i in chosen if i[3])
        hit = sum(1 for i in chosen if i[2] and i[3])
        lines.append(f"| {split} | {len(chosen)} | {gold} | {picked} | {hit} | {picked - hit} | "
                     f"{hit / picked if picked else float('nan'):.2f} | "
                     f"{hit / gold if gold else float('nan'):.2f} |")
        if show_errors and split != "all":
            for _, text, g, p in chosen:
                if g != p:
                    print(f"{split}: labelled {'cause' if g else 'none'}, picked {p}: "
                          f"{text[:200]}", file=sys.stderr)
    return ("### Drafts' stated cause on the role set (bench/data/cause_roles.jsonl, labelled by "
            "us)\n\n" + "\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-errors", action="store_true")
    parser.add_argument("--write-docs", action="store_true", help="update docs/analysis.md")
    args = parser.parse_args()
    text = report(args.show_errors)
    print(text)
    if args.write_docs:
        write_section("eval_draft_causes", text)


if __name__ == "__main__":
    main()
