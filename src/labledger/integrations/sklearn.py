"""scikit-learn autologging: ``labledger.integrations.sklearn.autolog()``.

After ``autolog()`` every outermost ``fit`` of a scikit-learn estimator is recorded: the
estimator's parameters (nested for pipelines and meta-estimators), the fit time, the training
score, validation scores the estimator knows (out-of-bag, early-stopping, cross-validation)
and the fitted estimator as a pickled ``model`` artifact. Inside an active run everything goes
to that run; otherwise each fit is its own run. ``GridSearchCV`` / ``RandomizedSearchCV``
record a parent run and one child run per candidate, all in one group. A later
``estimator.score(X, y)`` is recorded as ``val/score`` of the run that fitted it.
"""

from __future__ import annotations

import contextlib
import functools
import pickle
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import labledger as ll
from labledger.integrations._common import (
    artifact_name,
    guarded,
    log_file_artifact,
    numeric,
    require,
    run_scope,
)

_state = threading.local()
_lock = threading.Lock()
_patched: dict[tuple[type, str], Callable[..., Any]] = {}
_options: dict[str, Any] = {}
_RUN_ATTR = "_labledger_run_id"


def autolog(
    project: str | None = None,
    *,
    log_models: bool = True,
    log_candidates: bool = True,
    disable: bool = False,
) -> None:
    """Record every scikit-learn ``fit`` from now on (``disable=True`` undoes it).

    ``project`` is used for runs autolog starts itself; ``log_models`` stores each fitted
    estimator as an artifact; ``log_candidates`` adds a child run per search candidate.
    """
    require("sklearn", "sklearn", "scikit-learn")
    import sklearn.base

    with _lock:
        if disable:
            _unpatch_all()
            return
        _options.update(project=project, log_models=log_models, log_candidates=log_candidates)
        base = sklearn.base.BaseEstimator
        for cls in _subclasses(base):
            _patch_class(cls)
        for mixin in (sklearn.base.ClassifierMixin, sklearn.base.RegressorMixin):
            _patch_method(mixin, "score", _score_wrapper)
        if (base, "__init_subclass__") not in _patched:
            original = base.__dict__.get("__init_subclass__")

            def init_subclass(cls: type, /, **kwargs: Any) -> None:
                if original is not None:
                    original.__func__(cls, **kwargs)
                else:
                    super(base, cls).__init_subclass__(**kwargs)
                _patch_class(cls)  # estimators defined or imported after autolog()

            _patched[(base, "__init_subclass__")] = original
            base.__init_subclass__ = classmethod(init_subclass)


def _subclasses(cls: type) -> list[type]:
    seen: list[type] = []
    stack = [cls]
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.append(current)
            stack.extend(current.__subclasses__())
    return seen


def _patch_class(cls: type) -> None:
    if "fit" in cls.__dict__:
        _patch_method(cls, "fit", _fit_wrapper)
    if "score" in cls.__dict__:
        _patch_method(cls, "score", _score_wrapper)


def _patch_method(cls: type, name: str, make: Callable[[Callable[..., Any]], Any]) -> None:
    if (cls, name) in _patched or name not in cls.__dict__:
        return
    original = cls.__dict__[name]
    if callable(original):
        wrapped: Any = make(original)
    elif hasattr(original, "__get__"):  # available_if(...) methods such as Pipeline.score
        wrapped = _WrappedDescriptor(original, make)
    else:
        return
    _patched[(cls, name)] = original
    setattr(cls, name, wrapped)


class _WrappedDescriptor:
    """Wraps what a method descriptor returns, keeping its availability checks."""

    def __init__(self, inner: Any, make: Callable[[Callable[..., Any]], Any]) -> None:
        self.inner = inner
        self.make = make

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        bound = self.inner.__get__(obj, owner)
        if obj is None:
            return bound
        unbound = getattr(bound, "__func__", None)
        if unbound is not None:
            return functools.partial(self.make(unbound), obj)
        wrapped = self.make(lambda _self, *args, **kwargs: bound(*args, **kwargs))
        return functools.partial(wrapped, obj)


def _unpatch_all() -> None:
    for (cls, name), original in _patched.items():
        if original is None:
            delattr(cls, name)
        else:
            setattr(cls, name, original)
    _patched.clear()


def _depth() -> int:
    return getattr(_state, "depth", 0)


class _Nested:
    """Marks that labledger is already inside an estimator call on this thread."""

    def __enter__(self) -> None:
        _state.depth = _depth() + 1

    def __exit__(self, *exc: object) -> None:
        _state.depth = _depth() - 1


def _fit_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _depth() > 0:
            return original(self, *args, **kwargs)
        return _record_fit(original, self, args, kwargs)

    return fit


def _score_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def score(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _depth() > 0:
            return original(self, *args, **kwargs)
        with _Nested():
            value = original(self, *args, **kwargs)
        run_id = getattr(self, _RUN_ATTR, None)
        if run_id is not None:
            guarded("recording the validation score", _record_score, run_id, value)
        return value

    return score


def _record_fit(
    original: Callable[..., Any], estimator: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    X = args[0] if args else kwargs.get("X")
    y = args[1] if len(args) > 1 else kwargs.get("y")
    name = type(estimator).__name__
    is_search = hasattr(estimator, "param_grid") or hasattr(estimator, "param_distributions")
    config = {"estimator": _qualname(estimator), **params_tree(estimator)}
    init_kwargs: dict[str, Any] = {
        "project": _options.get("project"),
        "config": config,
        "tags": ["sklearn", "search"] if is_search else ["sklearn"],
        "name": f"{name}-{secrets.token_hex(2)}",
    }
    if is_search:
        init_kwargs["group"] = f"{name.lower()}-{secrets.token_hex(3)}"
    with run_scope(**init_kwargs) as (run, owned):
        if not owned:
            guarded("recording estimator params", run.update_config, config)
        started = time.perf_counter()
        with _Nested():
            result = original(estimator, *args, **kwargs)
        fit_time = time.perf_counter() - started
        with _Nested():
            guarded("recording the fit", _record_result, run, estimator, X, y, fit_time, is_search)
        # An estimator with __slots__ gets no post-fit scores; nothing else is lost.
        with contextlib.suppress(Exception):
            object.__setattr__(estimator, _RUN_ATTR, run.id)
    return result


def _record_result(
    run: ll.Run, estimator: Any, X: Any, y: Any, fit_time: float, is_search: bool
) -> None:
    summary: dict[str, Any] = {"fit_time": fit_time}
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) >= 1:
        summary["train/n_samples"] = int(shape[0])
        if len(shape) > 1:
            summary["train/n_features"] = int(shape[1])
    if y is not None and hasattr(estimator, "score"):
        train_score = guarded("the training score", estimator.score, X, y)
        if train_score is not None:
            summary["train/score"] = float(train_score)
    summary.update(_known_validation(estimator))
    run.summary.update(summary)
    if is_search:
        _record_search(run, estimator)
    if _options.get("log_models", True):
        log_file_artifact(
            run,
            lambda path: _pickle_to(path, estimator),
            "model.pkl",
            name=artifact_name(run.project, type(estimator).__name__),
            metadata={"framework": "sklearn", "class": _qualname(estimator), "format": "pickle"},
        )


def _pickle_to(path: Path, estimator: Any) -> None:
    path.write_bytes(pickle.dumps(estimator))


def _known_validation(estimator: Any) -> dict[str, float]:
    """Validation figures estimators compute while fitting."""
    values: dict[str, float] = {}
    for attr, key in (
        ("oob_score_", "val/oob_score"),
        ("best_validation_score_", "val/score"),
        ("best_score_", "val/best_score"),
    ):
        value = getattr(estimator, attr, None)
        if value is not None:
            values.update(numeric({key: value}))
    return values


def _record_search(parent: ll.Run, search: Any) -> None:
    results: Mapping[str, Any] = getattr(search, "cv_results_", {})
    if not results:
        return
    best = getattr(search, "best_params_", None)
    if best is not None:
        parent.update_config({"best_params": dict(best)})
    if not _options.get("log_candidates", True):
        return
    n_splits = int(getattr(search, "n_splits_", 0) or 0)
    group = parent.record.group or parent.id
    base_name = type(search.estimator).__name__
    for index, params in enumerate(results["params"]):
        config = {"estimator": _qualname(search.estimator), "params": dict(params)}
        with ll.init(
            project=parent.project,
            config=config,
            group=group,
            name=f"{parent.name}-candidate-{index}",
            tags=["sklearn", "candidate", base_name],
            notes=f"candidate {index} of search run {parent.id}",
            capture=False,
        ) as child:
            for split in range(n_splits):
                point = {}
                for key in results:
                    prefix = f"split{split}_"
                    if key.startswith(prefix):
                        metric = key[len(prefix) :].replace("_", "/", 1)  # test/score
                        value = numeric({metric: results[key][index]})
                        point.update(value)
                if point:
                    child.log(point, step=split)
            summary: dict[str, Any] = {"search_run": parent.id}
            for key, column in results.items():
                if key.startswith(("mean_", "std_", "rank_")):
                    summary.update(numeric({key: column[index]}))
            child.summary.update(summary)


def _record_score(run_id: str, value: Any) -> None:
    current = ll.current_run()
    score = numeric({"val/score": value})
    if not score:
        return
    if current is not None and current.id == run_id:
        current.log(score)
        return
    with ll.init(resume=run_id, capture=False) as run:
        run.log(score)


def params_tree(estimator: Any) -> dict[str, Any]:
    """``get_params(deep=False)`` with nested estimators (pipeline steps, a search's
    estimator, an ensemble's members) expanded into their own parameter dicts."""
    return {key: _param_value(value) for key, value in estimator.get_params(deep=False).items()}


def _param_value(value: Any) -> Any:
    if hasattr(value, "get_params") and not isinstance(value, type):
        return {"estimator": _qualname(value), **params_tree(value)}
    if (
        isinstance(value, (list, tuple))
        and value
        and all(
            isinstance(item, tuple) and len(item) in (2, 3) and isinstance(item[0], str)
            for item in value
        )
    ):
        return {item[0]: _param_value(item[1]) for item in value}  # (name, estimator[, cols])
    if isinstance(value, Mapping):
        return {str(k): _param_value(v) for k, v in value.items()}
    if callable(value):
        return getattr(value, "__name__", repr(value))
    return value


def _qualname(value: Any) -> str:
    cls = value if isinstance(value, type) else type(value)
    return f"{cls.__module__.split('.')[0]}.{cls.__qualname__}"
