"""The tamper-evident fingerprint: stored at finish, stable, and broken by any later change."""

from __future__ import annotations

import re
from pathlib import Path

import labledger as ll
from labledger.sdk.fingerprint import (
    FINGERPRINT_SECTION,
    PARTS,
    canonical_json,
    compute_fingerprint,
    fingerprint_material,
    verify_fingerprint,
)
from tests.repro.conftest import make_run


def store() -> ll.Api:
    return ll.Api()


def test_finish_stores_the_fingerprint_and_its_parts() -> None:
    run_id = make_run(config={"lr": 0.1}, seed=3)
    api = store()
    record = api.store.get_run(run_id)
    assert record.fingerprint is not None
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", record.fingerprint)
    assert record.fingerprint == compute_fingerprint(api.store, run_id)
    sealed = api.store.get_captures(run_id)[FINGERPRINT_SECTION]
    assert set(sealed["parts"]) == set(PARTS)
    assert verify_fingerprint(api.store, run_id).intact


def test_same_recipe_same_fingerprint_and_any_change_alters_it() -> None:
    """The fingerprint covers the recipe (config, code, packages, seeds, data, artifacts), not
    identity, times or metrics: two runs of the same recipe share it."""
    a = make_run(config={"lr": 0.1, "opt": {"name": "sgd"}}, seed=3, losses=(1.0, 0.5))
    b = make_run(config={"opt": {"name": "sgd"}, "lr": 0.1}, seed=3, losses=(9.0,))
    c = make_run(config={"lr": 0.2, "opt": {"name": "sgd"}}, seed=3)
    d = make_run(config={"lr": 0.1, "opt": {"name": "sgd"}}, seed=4)
    runs = store().store
    fa, fb, fc, fd = (runs.get_run(r).fingerprint for r in (a, b, c, d))
    assert fa == fb
    assert len({fa, fc, fd}) == 3


def test_material_is_canonical_json() -> None:
    run_id = make_run(config={"b": 1, "a": [1.5, "ü"]}, seed=1)
    material = fingerprint_material(store().store, run_id)
    assert material["config"] == {"b": 1, "a": [1.5, "ü"]}
    assert material["seeds"]["seeds"]["seed"] == 1
    assert canonical_json({"b": 1, "a": "ü"}) == '{"a":"ü","b":1}'


def test_a_config_changed_after_the_fact_is_detected_and_named() -> None:
    run_id = make_run(config={"lr": 0.1}, seed=3)
    api = store()
    api.store.log_config(run_id, {"lr": 0.01})  # someone "fixes" the record
    result = verify_fingerprint(api.store, run_id)
    assert result.status == "changed"
    assert result.changed_parts == ("config",)
    assert result.stored == api.store.get_run(run_id).fingerprint != result.current


def test_changed_seeds_and_code_are_named() -> None:
    run_id = make_run(seed=3)
    api = store()
    api.store.put_captures(run_id, {"seeds": {"seed": 4}, "git": {"present": False}})
    assert verify_fingerprint(api.store, run_id).changed_parts == ("code", "seeds")


def test_forged_part_digests_make_every_part_suspect() -> None:
    run_id = make_run(seed=3)
    api = store()
    api.store.log_config(run_id, {"lr": 1})
    api.store.put_captures(run_id, {FINGERPRINT_SECTION: {"version": 1, "parts": {}}})
    assert verify_fingerprint(api.store, run_id).changed_parts == PARTS


def test_artifacts_are_covered(tmp_path: Path) -> None:
    weights = tmp_path / "model.bin"
    weights.write_bytes(b"weights-v1")
    with ll.init(project="p", seed=1, capture=False) as run:
        run.log_artifact(weights, name="model", type="model")
    api = store()
    material = fingerprint_material(api.store, run.id)
    assert [a["name"] for a in material["artifacts"]] == ["model"]
    assert material["artifacts"][0]["digest"]
    assert verify_fingerprint(api.store, run.id).intact


def test_a_running_run_has_no_fingerprint_yet() -> None:
    run = ll.init(project="p", capture=False)
    try:
        assert verify_fingerprint(store().store, run.id).status == "missing"
    finally:
        run.finish()


def test_digests_see_values_as_the_store_gives_them_back() -> None:
    """The seal digests ``to_jsonable``'s result directly; verification digests what the
    store returns (its JSON round trip): both must print the same canonical JSON."""
    import dataclasses
    import enum
    import json

    import numpy as np

    from labledger.encoding import to_jsonable
    from labledger.sdk.fingerprint import _as_stored

    class Level(enum.IntEnum):
        HIGH = 3

    @dataclasses.dataclass
    class Opt:
        name: str = "adam"
        betas: tuple[float, float] = (0.9, 0.999)

    value = {
        1: "int key",
        "nested": {2.5: [1, (2, 3)], "set": {3, 1, 2}, "empty": {}},
        "floats": [0.1, -0.0, 1e300, 5e-324, float("nan"), float("-inf"), np.float64(0.3)],
        "ints": [2**70, np.int64(7), True, Level.HIGH],
        "text": 'naïve \u2603 "quoted"',
        "opt": Opt(),
        "path": Path("/tmp/x"),
        "other": object,
    }
    round_trip = json.loads(json.dumps(to_jsonable(value)))

    assert canonical_json(_as_stored(value)) == canonical_json(round_trip)
    assert to_jsonable(value) == to_jsonable(value, problems=[])  # the fast path agrees
