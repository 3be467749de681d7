"""Draw the cause-role labelling sample (bench/data/cause_roles.jsonl) from a corpus KB.

Usage: python bench/data/sample_cause_roles.py KB_DB_PATH > /tmp/sample.jsonl

Every (sentence, tag) pair a rule of the v2 tagger (RULES_VERSION 2, before roles were
split) matched in the KB's incidents, ordered by sha256("cause-role:" + tag + "|" +
sentence) and taken in that order per provider up to a quota, half of each quota from
sentences holding a causal word and half from the rest (so stated causes are not rare in
the sample). The split is fixed here, by a hash of the key, before any rule was tuned:
sha256("split:" + key) first 8 hex digits mod 10 < 4 → "heldout", else "tune".
"""

from __future__ import annotations

import hashlib
import json
import re
import sys

QUOTA = {"github": 40, "google-cloud": 36, "aws": 26, "digitalocean": 18, "anthropic": 30,
         "openai": 30}
OTHER_QUOTA = 12


# The v2 tagger's test for "the sentence states causation", kept here so the draw can be
# repeated (the tagger itself now decides a role per match, kb.analysis.causes.role_of). The
# rules matched are those of RULES_VERSION 2: run this at commit a622875 to redraw exactly.
_CAUSAL = re.compile(
    r"\b(?:caused by|due to|root cause|result(?:ed|ing)? (?:of|from)|as a result of|triggered"
    r" by|because|stemm\w* from|attributed to|traced (?:back )?to|was the cause|contribut\w*"
    r"|introduced by|led to|roll(?:ed|ing)? ?back|revert(?:ed|ing)?|the cause)\b", re.I)


def split_of(key: str) -> str:
    return "heldout" if int(hashlib.sha256(f"split:{key}".encode()).hexdigest()[:8], 16) % 10 < 4 \
        else "tune"


def main() -> None:
    from kb.analysis.causes import RULES, _negated, prose_of
    from kb.store import Store

    store, _ = Store.open(f"sqlite:///{sys.argv[1]}")
    found: dict[tuple[str, str], tuple[str, str, str]] = {}
    for incident in store.incidents():
        if incident.kind.value != "incident":
            continue
        for sentence in prose_of(incident):
            lower = sentence.lower()
            for rule in RULES:
                if rule.prefilter is not None and not rule.prefilter.search(lower):
                    continue
                for match in rule.pattern.finditer(sentence):
                    if _negated(sentence, match.start()) or (rule.veto and rule.veto.search(
                            sentence[max(0, match.start() - 200):match.start()])):
                        continue
                    found.setdefault((sentence, rule.tag.value),
                                     (incident.key, rule.id, match.group(0)))
                    break
    by_provider: dict[str, list[tuple[str, str, dict]]] = {}
    for (sentence, tag), (key, rule_id, matched) in found.items():
        item_key = f"{tag}|{sentence}"
        order = hashlib.sha256(f"cause-role:{item_key}".encode()).hexdigest()
        row = {"key": item_key, "incident": key, "tag": tag, "text": sentence,
               "rule": rule_id, "match": matched, "split": split_of(item_key)}
        by_provider.setdefault(key.split("/")[0], []).append(
            (order, "causal" if _CAUSAL.search(sentence) else "plain", row))
    for provider in sorted(by_provider):
        quota = QUOTA.get(provider, OTHER_QUOTA)
        rows = sorted(by_provider[provider], key=lambda r: r[0])
        causal = [r for r in rows if r[1] == "causal"]
        plain = [r for r in rows if r[1] == "plain"]
        take = causal[: quota // 2]
        take += plain[: quota - len(take)]
        take += causal[quota // 2: quota // 2 + quota - len(take)]
        for _, _, row in take:
            print(json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    main()
