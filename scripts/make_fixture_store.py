"""Write the committed upgrade fixture for the store schema this labledger release uses.

    python scripts/make_fixture_store.py tests/fixtures/stores/<revision>

Writes a small store (two runs with config, tags, notes, metrics, a summary and console
output; an artifact with two versions and an alias) with the public SDK only, so it runs
against older releases too (``PYTHONPATH=<old checkout>/src``), and ``expected.json``: what
was written, which ``tests/reliability/test_upgrade.py`` reads back after upgrading.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path


def main() -> None:
    out = Path(sys.argv[1]).absolute()
    store = out / "store"
    os.environ["LABLEDGER_DIR"] = str(store)
    os.environ["LABLEDGER_SYSTEM_METRICS_INTERVAL"] = "0"
    import labledger as ll
    from labledger.store.migrate import HEAD_REVISION

    expected: dict[str, object] = {"revision": HEAD_REVISION, "runs": [], "artifacts": []}
    weights = out / "weights.bin"
    versions: list[int] = []
    for i in range(2):
        config = {"lr": 0.01 * (i + 1), "model": {"layers": [64, 32], "act": "relu"}}
        run = ll.init(
            project="fixture",
            name=f"run-{i}",
            config=config,
            tags=["fixture", f"t{i}"],
            notes=f"note {i}",
            capture=False,
        )
        history = {
            "loss": [1.0 / (s + 1) + i for s in range(50)],
            "acc": [s / 50 for s in range(50)],
        }
        for step in range(50):
            run.log({k: v[step] for k, v in history.items()}, step=step)
        weights.write_bytes(bytes([i]) * 1000)
        logged = run.log_artifact(
            weights, name="model", metadata={"run": i}, aliases=["best"] if i else []
        )
        versions.append(int(logged.version))
        run.finish()
        expected["runs"].append(  # type: ignore[attr-defined]
            {
                "id": run.id,
                "name": f"run-{i}",
                "config": config,
                "tags": ["fixture", f"t{i}"],
                "notes": f"note {i}",
                "history": history,
            }
        )
    expected["artifacts"] = [
        {"ref": f"model:v{v}", "metadata": {"run": i}} for i, v in enumerate(versions)
    ]
    expected["aliases"] = {"model:best": versions[1]}
    weights.unlink()
    from labledger.sdk.backend import close_stores

    close_stores()
    db = sqlite3.connect(store / "labledger.db")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("PRAGMA journal_mode=DELETE")
    db.close()
    for extra in ("labledger.db-wal", "labledger.db-shm", ".gitignore", ".migrate.lock"):
        (store / extra).unlink(missing_ok=True)
    for cache in store.glob("hash-cache.db*"):  # a local cache of file digests, not data
        cache.unlink()
    (out / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    print(f"wrote {out} (schema {HEAD_REVISION})")


if __name__ == "__main__":
    main()
