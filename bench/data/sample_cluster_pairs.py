"""Draw the cluster-pair labelling set (bench/data/cluster_pairs.jsonl) from a corpus KB.

Usage: python bench/data/sample_cluster_pairs.py KB_DB_PATH > /tmp/pairs.jsonl

Every pair of incidents of two different providers whose impact intervals (as
kb.analysis.clusters builds them) overlap or lie within 6 hours of each other, plus every
pair within 24 hours that shares a region or vendor name, or where one names the other's
provider (the "looser window": overlap alone yields few pairs with any shared words). Each
side keeps its key, provider, title, interval and text (title and updates, first 6,000
characters), so the set is scored without the corpus. The split is fixed by a hash of the
pair key before any rule was tuned: sha256("split:" + key) first 8 hex digits mod 10 < 4 →
"heldout", else "tune". `label` ("yes"/"no": the two are one event or causally linked, as far
as their texts tell) is added by hand afterwards.
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import timedelta

TEXT_LIMIT = 6000


def split_of(key: str) -> str:
    return "heldout" if int(hashlib.sha256(f"split:{key}".encode()).hexdigest()[:8], 16) % 10 < 4 \
        else "tune"


def main() -> None:
    from kb.analysis import dataset
    from kb.analysis.clusters import _items, _text
    from kb.serialize import stamp
    from kb.store import Store

    store, _ = Store.open(f"sqlite:///{sys.argv[1]}")
    data = dataset.load(store)
    texts = {i.key: _text(i) for i in data.incidents}
    items = sorted(_items(data.incidents, data.by_key, data.causes, data.vendors, data.aliases),
                   key=lambda i: (i.member.start, i.member.key))
    near, loose = timedelta(hours=6), timedelta(hours=24)
    active: list = []
    for item in items:
        active = [a for a in active if a.member.end + loose >= item.member.start]
        for other in active:
            a, b = other.member, item.member
            if a.provider == b.provider:
                continue
            gap = max(a.start, b.start) - min(a.end, b.end)
            named = (other.terms & item.own) or (item.terms & other.own)
            window = ("overlap" if gap <= timedelta(0) else "6h" if gap <= near
                      else "24h" if (other.terms & item.terms) or named else None)
            if window is None:
                continue
            x, y = sorted((a, b), key=lambda m: m.key)
            key = f"{x.key}|{y.key}"
            print(json.dumps({
                "key": key, "split": split_of(key), "window": window,
                "gap_minutes": round(gap / timedelta(minutes=1), 1),
                "a": {"key": x.key, "provider": x.provider, "title": x.title,
                      "start": stamp(x.start), "end": stamp(x.end),
                      "text": texts[x.key][:TEXT_LIMIT]},
                "b": {"key": y.key, "provider": y.provider, "title": y.title,
                      "start": stamp(y.start), "end": stamp(y.end),
                      "text": texts[y.key][:TEXT_LIMIT]},
            }, ensure_ascii=False))
        active.append(item)


if __name__ == "__main__":
    main()
