"""``labledger verify``: metrics and curves within tolerances, and the ranked explanation."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import labledger as ll
from labledger.cli.repro import verify
from labledger.errors import LabledgerError
from labledger.repro.verify import Tolerance, Verification, parse_tolerances, verify_runs
from tests.repro.conftest import invoke, make_run


def compare(a: str, b: str, tolerance: Tolerance | None = None, **kwargs: object) -> Verification:
    api = ll.Api()
    return verify_runs(api.run(a), api.run(b), api.store, tolerance, **kwargs)  # type: ignore[arg-type]


def test_identical_runs_are_reproduced() -> None:
    a = make_run(config={"lr": 0.1}, seed=1)
    b = make_run(config={"lr": 0.1}, seed=1)
    result = compare(a, b)
    assert result.reproduced and not result.causes
    assert {(c.key, c.kind) for c in result.checks} == {
        ("acc", "final"),
        ("loss", "final"),
        ("loss", "curve"),
    }
    cli = invoke(verify, a, b)
    assert cli.exit_code == 0 and cli.stdout.startswith("REPRODUCED")


def test_differences_within_tolerance_pass_and_beyond_fail() -> None:
    a = make_run(losses=(1.0, 0.5), summary={"acc": 0.90})
    b = make_run(losses=(1.0, 0.5 + 1e-4), summary={"acc": 0.905})
    failing = compare(a, b)
    assert {(c.key, c.kind) for c in failing.failures} == {
        ("acc", "final"),
        ("loss", "final"),
        ("loss", "curve"),
    }
    curve = next(c for c in failing.failures if c.kind == "curve")
    assert curve.detail.startswith("1 of 2 points differ from step 1")
    relaxed = Tolerance(rtol=1e-5, atol=1e-8, per_metric=(("acc", 0.01), ("lo*", 1e-3)))
    assert compare(a, b, relaxed).reproduced
    cli = invoke(verify, a, b, "--tol", "acc=0.01", "--tol", "loss=1e-3")
    assert cli.exit_code == 0, cli.stdout
    cli = invoke(verify, a, b, "--tol", "acc=0.01")
    assert cli.exit_code == 1 and "final loss" in cli.stdout and "curve loss" in cli.stdout


def test_missing_metrics_and_step_mismatch_fail() -> None:
    a = make_run(losses=(1.0, 0.5, 0.25))
    b = make_run(losses=(1.0, 0.5), summary={"acc": 0.9, "f1": 0.5})
    result = compare(a, b)
    details = {(c.key, c.kind): c.detail for c in result.failures}
    assert details[("f1", "final")] == "missing in run A"
    assert details[("loss", "curve")] == "3 points vs 2, at different steps"


def test_system_metrics_are_ignored_by_default() -> None:
    def run(cpu: float) -> str:
        with ll.init(project="p", capture=False) as r:
            r.log({"loss": 1.0}, step=0)
            r._record_system(0.0, {"system/cpu": cpu})
            return r.id

    a, b = run(10.0), run(90.0)
    assert compare(a, b).reproduced
    assert not compare(a, b, include_system=True).reproduced
    assert compare(a, b, include_system=True, ignore=["system/*"]).reproduced


def test_nan_matches_nan() -> None:
    a = make_run(losses=(1.0, math.nan))
    b = make_run(losses=(1.0, math.nan))
    assert compare(a, b).reproduced


def test_a_seed_difference_is_named_as_the_likely_cause() -> None:
    a = make_run(config={"lr": 0.1}, seed=1, losses=(1.0, 0.5))
    b = make_run(config={"lr": 0.1}, seed=2, losses=(1.0, 0.6))
    result = compare(a, b)
    assert not result.reproduced
    assert result.likely_cause is not None and result.likely_cause.category == "seeds"
    assert "seed: 1 → 2" in result.likely_cause.details
    cli = invoke(verify, a, b)
    assert cli.exit_code == 1
    assert "1. Seeds  <- likely cause" in cli.stdout


def test_causes_are_ranked_seeds_before_config_before_packages() -> None:
    a = make_run(config={"lr": 0.1, "seed": 1}, losses=(1.0,))
    b = make_run(config={"lr": 0.2, "seed": 2}, losses=(2.0,))
    api = ll.Api()
    api.store.put_captures(a, {"environment": {"packages": {"numpy": "2.0.0"}}})
    api.store.put_captures(b, {"environment": {"packages": {"numpy": "2.1.0"}}})
    causes = compare(a, b).causes
    assert [c.category for c in causes] == ["seeds", "config", "packages"]
    assert causes[1].details == ("lr: 0.1 → 0.2",)
    assert causes[2].details == ("numpy: '2.0.0' → '2.1.0'",)


def test_no_recorded_difference_points_at_nondeterminism() -> None:
    a = make_run(losses=(1.0,), seed=1)
    b = make_run(losses=(2.0,), seed=1)
    result = compare(a, b)
    assert not result.reproduced and result.causes == ()
    assert "likely nondeterministic" in invoke(verify, a, b).stdout


def test_tolerance_parsing() -> None:
    assert parse_tolerances(["val/acc=0.01", "a=b=1"]) == (("val/acc", 0.01), ("a=b", 1.0))
    for bad in ("acc", "=1", "acc=x", "acc=-1", "acc=nan"):
        with pytest.raises(LabledgerError, match="KEY=NUMBER"):
            parse_tolerances([bad])
    assert Tolerance(per_metric=(("val/*", 0.5),)).for_key("val/acc") == (0.0, 0.5)
    assert Tolerance().for_key("loss") == (1e-5, 1e-8)


def test_non_finite_finals_compare_as_themselves() -> None:
    import math

    import labledger as ll
    from labledger.repro.verify import verify_runs

    def run_with(last: float) -> str:
        with ll.init(project="p", capture=False) as run:
            run.log({"loss": 1.0}, step=0)
            run.log({"loss": last}, step=1)
        return run.id

    api = ll.Api()
    pos, neg, nan_a, nan_b = (run_with(v) for v in (math.inf, -math.inf, math.nan, math.nan))
    assert api.run(pos).metrics["loss"] == math.inf
    assert api.run(neg).metrics["loss"] == -math.inf
    result = verify_runs(api.run(pos), api.run(neg), api.store, curves=False)
    assert not result.reproduced
    assert verify_runs(api.run(nan_a), api.run(nan_b), api.store, curves=False).reproduced


def test_verify_reports_whether_the_weights_are_the_same_bytes(tmp_path: Path) -> None:
    import labledger as ll
    from labledger.repro.verify import verify_runs

    def run_with(weights: bytes) -> str:
        (tmp_path / "model.pt").write_bytes(weights)
        with ll.init(project="p", capture=False) as run:
            run.log({"loss": 0.5}, step=0)
            run.log_artifact(str(tmp_path / "model.pt"), name="model", type="model")
        return run.id

    api = ll.Api()
    a, same, other = run_with(b"w1"), run_with(b"w1"), run_with(b"w2")
    (check,) = verify_runs(api.run(a), api.run(same), api.store).artifacts
    assert check.name == "model" and check.identical
    (check,) = verify_runs(api.run(a), api.run(other), api.store).artifacts
    assert not check.identical and check.a_digest != check.b_digest
