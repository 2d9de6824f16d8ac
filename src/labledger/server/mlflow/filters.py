"""MLflow's ``search_runs`` filter and ``order_by`` syntax, translated into labledger's run
filter language where it has an equivalent (the store answers those with its indexes), and
checked in Python on the converted runs where it has not (``LIKE``/``ILIKE``, system tags,
``user_id``, datasets).

    metrics.acc > 0.9 and params.lr = '0.01' and tags.team = 'vision'
    attributes.status = 'FINISHED' and attributes.run_name ILIKE '%sweep%'
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labledger.server.mlflow import convert
from labledger.server.mlflow.errors import invalid

METRIC_OPS = {">", ">=", "!=", "=", "<", "<="}
PARAM_TAG_OPS = {"!=", "=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"}
STRING_ATTR_OPS = {"!=", "=", "LIKE", "ILIKE", "IN", "NOT IN"}
ENTITIES = {
    "metric": "metric",
    "metrics": "metric",
    "param": "param",
    "params": "param",
    "parameter": "param",
    "parameters": "param",
    "tag": "tag",
    "tags": "tag",
    "attribute": "attr",
    "attributes": "attr",
    "attr": "attr",
    "run": "attr",
    "dataset": "dataset",
    "datasets": "dataset",
}
STRING_ATTRS = {
    "run_id": "run_id",
    "run_name": "run_name",
    "run name": "run_name",
    "status": "status",
    "user_id": "user_id",
    "artifact_uri": "artifact_uri",
    "lifecycle_stage": "lifecycle_stage",
}
NUMERIC_ATTRS = {"start_time": "start_time", "created": "start_time", "end_time": "end_time"}
DATASET_KEYS = {"name", "digest", "context"}

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
      | (?P<op><=|>=|!=|<>|==|=|<|>|\(|\)|,)
      | (?P<ident>[A-Za-z_]\w*(?:\.(?:`[^`]*`|"[^"]*"|[\w.\-/:]+))?)
    )""",
    re.VERBOSE,
)
KEYWORDS = {"AND", "LIKE", "ILIKE", "IN", "NOT", "IS", "NULL"}


@dataclass(frozen=True)
class Condition:
    entity: str  # metric, param, tag, attr, dataset
    key: str
    op: str
    value: Any = None


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _tokens(text: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    pos, text = 0, text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise invalid(f"Invalid filter '{text}': cannot parse at {text[pos : pos + 20]!r}")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "ident" and value.upper() in KEYWORDS:
            kind, value = "keyword", value.upper()
        found.append((kind, value))
        pos = match.end()
    return found


def _identifier(text: str, filter_text: str) -> tuple[str, str]:
    head, dot, rest = text.partition(".")
    if not dot:
        if text in STRING_ATTRS or text in NUMERIC_ATTRS:
            return "attr", text
        raise invalid(
            f"Invalid attribute key '{text}' specified. Valid keys are "
            f"'{sorted(set(STRING_ATTRS) | set(NUMERIC_ATTRS))}'"
        )
    entity = ENTITIES.get(head.lower())
    if entity is None:
        raise invalid(
            f"Invalid entity type '{head}'. Valid values are "
            "['metric', 'parameter', 'tag', 'attribute', 'dataset']"
        )
    key = rest[1:-1] if rest[:1] in '`"' and rest[-1:] == rest[:1] and len(rest) > 1 else rest
    if not key:
        raise invalid(f"Invalid filter '{filter_text}': empty key")
    return entity, key


def parse(text: str | None) -> list[Condition]:
    """The conditions of an MLflow filter (a conjunction)."""
    if text is None or not text.strip():
        return []
    tokens = _tokens(text)
    conditions: list[Condition] = []
    pos = 0

    def take() -> tuple[str, str]:
        nonlocal pos
        if pos >= len(tokens):
            raise invalid(f"Invalid filter '{text}': unexpected end")
        pos += 1
        return tokens[pos - 1]

    def value() -> Any:
        kind, raw = take()
        if kind == "string":
            return _unquote(raw)
        if kind == "number":
            return float(raw)
        raise invalid(f"Invalid filter '{text}': expected a value, found {raw!r}")

    while True:
        kind, raw = take()
        if kind != "ident":
            raise invalid(f"Invalid filter '{text}': expected an identifier, found {raw!r}")
        entity, key = _identifier(raw, text)
        kind, op = take()
        if kind == "op" and op not in "(),":
            op = {"==": "=", "<>": "!="}.get(op, op)
            conditions.append(Condition(entity, key, op, value()))
        elif (kind, op) in (("keyword", "LIKE"), ("keyword", "ILIKE")):
            conditions.append(Condition(entity, key, op, value()))
        elif (kind, op) == ("keyword", "IS"):
            negated = pos < len(tokens) and tokens[pos] == ("keyword", "NOT")
            pos += negated
            if take() != ("keyword", "NULL"):
                raise invalid(f"Invalid filter '{text}': expected NULL after IS")
            conditions.append(Condition(entity, key, "IS NOT NULL" if negated else "IS NULL"))
        elif (kind, op) in (("keyword", "IN"), ("keyword", "NOT")):
            if op == "NOT" and take() != ("keyword", "IN"):
                raise invalid(f"Invalid filter '{text}': expected IN after NOT")
            if take() != ("op", "("):
                raise invalid(f"Invalid filter '{text}': expected '(' after IN")
            values = [value()]
            while (token := take()) == ("op", ","):
                values.append(value())
            if token != ("op", ")"):
                raise invalid(f"Invalid filter '{text}': expected ')'")
            conditions.append(
                Condition(entity, key, "IN" if op == "IN" else "NOT IN", tuple(values))
            )
        else:
            raise invalid(f"Invalid filter '{text}': expected a comparison, found {op!r}")
        _check(conditions[-1])
        if pos >= len(tokens):
            return conditions
        if take() != ("keyword", "AND"):
            raise invalid(
                f"Invalid filter '{text}': conditions are joined with AND (OR is not supported)"
            )


def _check(cond: Condition) -> None:
    if cond.entity == "metric":
        allowed = METRIC_OPS
        if not isinstance(cond.value, float):
            raise invalid(f"Expected numeric value type for metric. Found {cond.value!r}")
    elif cond.entity in ("param", "tag"):
        allowed = PARAM_TAG_OPS
        if cond.value is not None and not isinstance(cond.value, str):
            raise invalid(
                f"Expected a quoted string value for {cond.entity}s (e.g. 'my-value'). Got value"
                f" {cond.value:g}"
            )
    elif cond.entity == "dataset":
        allowed = STRING_ATTR_OPS
        if cond.key not in DATASET_KEYS:
            raise invalid(
                f"Invalid dataset key '{cond.key}'. Valid keys are {sorted(DATASET_KEYS)}"
            )
    elif cond.key in NUMERIC_ATTRS:
        allowed = METRIC_OPS
        if not isinstance(cond.value, float):
            raise invalid(f"Expected numeric value type for numeric attribute: {cond.key}.")
    elif cond.key in STRING_ATTRS:
        allowed = STRING_ATTR_OPS
    else:
        raise invalid(f"Invalid attribute key '{cond.key}' specified.")
    if cond.op not in allowed:
        raise invalid(f"Invalid comparator '{cond.op}' not one of '{sorted(allowed)}'")


# --- translation -----------------------------------------------------------------------------
def _quote(value: Any) -> str:
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else "null"
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _field(namespace: str, key: str) -> str:
    return f"{namespace}.`{key}`"


_STATUS = {
    "RUNNING": ("running",),
    "SCHEDULED": (),
    "FINISHED": ("finished",),
    "FAILED": ("failed", "crashed"),
    "KILLED": ("killed",),
}


def _status(op: str, values: tuple[str, ...]) -> str:
    wanted = sorted({s for v in values for s in _STATUS.get(str(v).upper(), ("none",))}) or ["none"]
    text = f"status in ({', '.join(_quote(s) for s in wanted)})"
    return text if op in ("=", "IN") else f"not ({text})"


def to_store(cond: Condition) -> str | None:
    """The labledger filter for ``cond``, or None when it is checked in Python."""
    op, value = cond.op, cond.value
    if op in ("LIKE", "ILIKE"):
        return None
    if cond.entity == "metric":
        return f"{_field('metrics', cond.key)} {op} {_quote(value)}"
    if cond.entity == "param":
        column = _field("config", cond.key)
        if op in ("IS NULL", "IS NOT NULL"):
            return f"{column} {op.lower()}"
        return f"{column} {op} {_quote(value)}"
    if cond.entity == "tag":
        if cond.key == convert.RUN_NAME and op in ("=", "!="):
            return f"name {op} {_quote(value)}"
        if cond.key.startswith("mlflow.") or op != "=":
            return None
        return f"tags contains {_quote(f'{cond.key}={value}')}"
    if cond.entity == "attr":
        key = STRING_ATTRS.get(cond.key) or NUMERIC_ATTRS.get(cond.key)
        values = value if isinstance(value, tuple) else (value,)
        if key == "status":
            return _status(op, values)
        if key in ("run_id", "run_name"):
            column = "run_id" if key == "run_id" else "name"
            if op in ("IN", "NOT IN"):
                listed = f"{column} in ({', '.join(_quote(v) for v in values)})"
                return listed if op == "IN" else f"not ({listed})"
            return f"{column} {op} {_quote(value)}"
        if key in ("start_time", "end_time") and op != "=" and op != "!=":
            column = "created_at" if key == "start_time" else "ended_at"
            return f"{column} {op} {_quote(float(value) / 1000)}"
    return None


@dataclass
class Translated:
    store_filter: str | None
    residual: list[Condition] = field(default_factory=list)


def translate(conditions: list[Condition]) -> Translated:
    parts, residual = [], []
    for cond in conditions:
        text = to_store(cond)
        if text is None:
            residual.append(cond)
        else:
            parts.append(text)
    return Translated(" and ".join(parts) or None, residual)


# --- Python evaluation on converted runs -----------------------------------------------------
def _like(pattern: str, text: str, ignore_case: bool) -> bool:
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, text, re.DOTALL | (re.IGNORECASE if ignore_case else 0)) is not None


def value_of(run: dict[str, Any], entity: str, key: str) -> Any:
    data, info = run["data"], run["info"]
    if entity == "metric":
        found = [m["value"] for m in data["metrics"] if m["key"] == key]
        return float(found[0]) if found else None
    if entity in ("param", "tag"):
        items = data["params" if entity == "param" else "tags"]
        return next((i["value"] for i in items if i["key"] == key), None)
    if entity == "dataset":
        return [
            (d.get("dataset") or {}).get(key)
            if key != "context"
            else next(
                (
                    t.get("value")
                    for t in d.get("tags", [])
                    if t.get("key") == "mlflow.data.context"
                ),
                None,
            )
            for d in run.get("inputs", {}).get("dataset_inputs", [])
        ]
    name = STRING_ATTRS.get(key) or NUMERIC_ATTRS.get(key) or key
    return info.get(name)


def _compare(op: str, have: Any, want: Any) -> bool:
    if op == "IS NULL":
        return have is None
    if op == "IS NOT NULL":
        return have is not None
    if have is None:
        return False
    if op in ("LIKE", "ILIKE"):
        return _like(str(want), str(have), op == "ILIKE")
    if op in ("IN", "NOT IN"):
        return (str(have) in {str(w) for w in want}) == (op == "IN")
    if isinstance(want, float):
        try:
            have = float(have)
        except (TypeError, ValueError):
            return False
    comparisons: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: bool(a == b),
        "!=": lambda a, b: bool(a != b),
        "<": lambda a, b: bool(a < b),
        "<=": lambda a, b: bool(a <= b),
        ">": lambda a, b: bool(a > b),
        ">=": lambda a, b: bool(a >= b),
    }
    return comparisons[op](have, want)


def matches(run: dict[str, Any], conditions: list[Condition]) -> bool:
    for cond in conditions:
        have = value_of(run, cond.entity, cond.key)
        if cond.entity == "dataset":
            if not any(_compare(cond.op, h, cond.value) for h in have):
                return False
        elif cond.entity == "attr" and cond.key == "status" and have is not None:
            if not _compare(cond.op, str(have).upper(), _upper(cond.value)):
                return False
        elif not _compare(cond.op, have, cond.value):
            return False
    return True


def _upper(value: Any) -> Any:
    return tuple(str(v).upper() for v in value) if isinstance(value, tuple) else str(value).upper()


# --- order_by --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Order:
    entity: str
    key: str
    descending: bool


def parse_order(clauses: list[str]) -> list[Order]:
    orders = []
    for clause in clauses:
        text = str(clause).strip()
        descending = False
        match = re.fullmatch(r"(.*?)\s+(ASC|DESC)", text, re.IGNORECASE)
        if match:
            text, descending = match.group(1).strip(), match.group(2).upper() == "DESC"
        if not text:
            raise invalid(f"Invalid order_by clause '{clause}'")
        entity, key = _identifier(text, text)
        if entity == "dataset":
            raise invalid(f"Invalid order_by clause '{clause}': datasets cannot be sorted")
        if entity == "attr" and key not in STRING_ATTRS and key not in NUMERIC_ATTRS:
            raise invalid(f"Invalid order_by clause '{clause}'")
        orders.append(Order(entity, key, descending))
    return orders


def store_order(orders: list[Order]) -> list[str] | None:
    """labledger sort keys for ``orders``, or None when sorting must happen in Python."""
    keys = []
    for order in orders:
        sign = "-" if order.descending else ""
        if order.entity == "metric":
            keys.append(f"{sign}{_field('metrics', order.key)}")
        elif order.entity == "attr" and order.key in ("start_time", "created", "end_time"):
            keys.append(f"{sign}{'ended_at' if order.key == 'end_time' else 'created_at'}")
        elif order.entity == "attr" and order.key in ("run_name", "run name", "run_id", "status"):
            column = {"run_id": "run_id", "status": "status"}.get(order.key, "name")
            keys.append(f"{sign}{column}")
        else:
            return None  # params sort as text in MLflow; tags and other attributes: Python
    return keys


def sort_runs(runs: list[dict[str, Any]], orders: list[Order]) -> list[dict[str, Any]]:
    """MLflow's order: the given keys (missing values last), then start time (newest first)
    and run ID."""
    ordered = sorted(runs, key=lambda r: r["info"]["run_id"])
    ordered.sort(key=lambda r: -(r["info"].get("start_time") or 0))
    for order in reversed(orders):
        present = [r for r in ordered if value_of(r, order.entity, order.key) is not None]
        absent = [r for r in ordered if value_of(r, order.entity, order.key) is None]
        present.sort(
            key=lambda r: _sort_key(value_of(r, order.entity, order.key)), reverse=order.descending
        )
        ordered = present + absent
    return ordered


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, int | float):
        return (0, float(value))
    return (1, str(value))
