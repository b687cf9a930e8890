"""One-off migration (2026-12-01): stored results keyed by their part's settings instead of the whole
chapter's. The value of each result is unchanged (same computation, same configuration); only its
key and stored configuration change, and its provenance records the old key. Run once from the
repository root: ``python scripts/migrations/per_part_keys.py``."""

import datetime
import json

from kdbook.experiments import chapter
from kdbook.experiments.common import part_config
from kdbook.store import ResultStore, atomic_write_bytes, config_hash, to_jsonable

store = ResultStore()
today = datetime.date.today().isoformat()
for name in ("ch02", "ch03", "ch04", "ch05", "ch07"):
    mod = chapter(name)
    s = mod.settings("full")
    for part in mod.PARTS:
        old = store.root / "full" / part.kind / f"{config_hash(part.kind, s)}.json"
        cfg = part_config(s, part.reads)
        new = store.path("full", part.kind, cfg)
        if not old.is_file():
            print(f"{part.kind}: no result under the old key ({'already migrated' if new.is_file() else 'missing'})")
            continue
        doc = json.loads(old.read_text())
        doc["config"] = to_jsonable(cfg)
        doc["config_hash"] = config_hash(part.kind, cfg)
        doc["provenance"]["rekeyed"] = {"from": old.stem, "date": today,
                                        "why": "keyed by the part's own settings; value unchanged"}
        atomic_write_bytes(new, (json.dumps(doc, sort_keys=True) + "\n").encode())
        old.unlink()
        print(f"{part.kind}: {old.stem} -> {new.stem}")
