"""The run filter language, parsed into a small AST (no SQL here).

    metrics.acc > 0.9 and config.optimizer = 'adam'
    (status = 'finished' or status = 'crashed') and not tags contains 'debug'
    config.model.layers in (2, 3) and metrics.loss is not null

Fields are run attributes (``status``, ``name``, ``project``, ``group``, ``tags``, ``run_id``,
``created_at``, ``ended_at``, ``host``, ``reproduces``), ``metrics.KEY`` (final value), or
``config.KEY`` / ``params.KEY`` (flattened config). Keys with unusual characters go in backquotes:
``metrics.`val acc```. Operators: ``= == != < <= > >= in contains is [not] null``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from labledger.errors import FilterError

ATTRIBUTES = frozenset(
    {
        "status",
        "name",
        "project",
        "group",
        "tags",
        "run_id",
        "created_at",
        "ended_at",
        "host",
        "reproduces",
        "runtime",
    }
)
# The names ``runs ls`` shows its columns under, accepted for the attributes they show.
ATTRIBUTE_ALIASES = {"id": "run_id", "created": "created_at", "ended": "ended_at"}
NAMESPACES = {"metrics": "metrics", "config": "config", "params": "config", "param": "config"}

Literal_ = str | float | bool | None
Op = Literal["=", "!=", "<", "<=", ">", ">=", "in", "contains", "is null", "is not null"]


@dataclass(frozen=True)
class Field:
    namespace: str  # "attr", "metrics" or "config"
    key: str

    def __str__(self) -> str:
        return self.key if self.namespace == "attr" else f"{self.namespace}.{self.key}"


@dataclass(frozen=True)
class Comparison:
    field: Field
    op: Op
    value: Literal_ | tuple[Literal_, ...] = None


@dataclass(frozen=True)
class BoolOp:
    op: Literal["and", "or"]
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    item: Expr


Expr = Comparison | BoolOp | Not


@dataclass(frozen=True)
class OrderKey:
    field: Field
    descending: bool


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
      | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<op><=|>=|!=|==|=|<|>|\(|\)|,)
      | (?P<name>(?:`[^`]+`|[A-Za-z_][\w/\-:@]*)(?:\.(?:`[^`]+`|[\w/\-:@]+))*)
    )""",
    re.VERBOSE,
)
KEYWORDS = frozenset({"and", "or", "not", "in", "contains", "is", "null", "true", "false"})


def _tokenize(text: str) -> tuple[list[tuple[str, str]], list[int]]:
    """Tokens as (kind, value) and, in a parallel list, where each one starts in ``text``."""
    tokens: list[tuple[str, str]] = []
    starts: list[int] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            at = pos + len(text[pos:]) - len(text[pos:].lstrip())
            raise FilterError(
                f"cannot parse filter at {text[at : at + 20]!r} (position {at})", position=at
            )
        kind = match.lastgroup or ""
        value = match.group(kind)
        starts.append(match.start(kind))
        if kind == "name" and value.lower() in KEYWORDS:
            kind, value = "keyword", value.lower()
        tokens.append((kind, value))
        pos = match.end()
    return tokens, starts


def parse_field(text: str) -> Field:
    """Parse ``metrics.acc``, ``config.optimizer.lr`` or an attribute name."""
    parts = [p.strip("`") for p in re.findall(r"`[^`]+`|[^.]+", text)]
    if not parts or not all(p.strip() for p in parts):
        raise FilterError(f"empty field name in {text!r}: use metrics.KEY, config.KEY or a field")
    head = parts[0]
    if len(parts) == 1:
        head = ATTRIBUTE_ALIASES.get(head, head)
        if head not in ATTRIBUTES:
            known = ", ".join(sorted(ATTRIBUTES))
            raise FilterError(
                f"unknown field {text!r}: use metrics.KEY, config.KEY or one of {known}"
            )
        return Field("attr", head)
    if head not in NAMESPACES:
        raise FilterError(f"unknown field {text!r}: prefix must be metrics. or config.")
    return Field(NAMESPACES[head], ".".join(parts[1:]))


MAX_FILTER_LENGTH = 20_000  # characters
MAX_FILTER_DEPTH = 50  # nested parentheses and nots
MAX_FILTER_TERMS = 200  # comparisons (SQLite refuses expression trees deeper than 1000)


class _Parser:
    def __init__(self, text: str) -> None:
        if len(text) > MAX_FILTER_LENGTH:
            raise FilterError(f"filter is too long ({len(text)} > {MAX_FILTER_LENGTH} characters)")
        self.text = text
        self.tokens, self.starts = _tokenize(text)
        self.pos = 0
        self.depth = 0
        self.terms = 0

    def error(self, message: str, index: int | None = None) -> FilterError:
        """A FilterError pointing at token ``index`` (default: the next one; end of text)."""
        index = self.pos if index is None else index
        at = self.starts[index] if index < len(self.starts) else len(self.text.rstrip())
        return FilterError(f"filter {self.text!r}: {message} (position {at})", position=at)

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, kind: str | None = None, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (kind and token[0] != kind) or (value and token[1] != value):
            wanted = {"name": "a field", "keyword": value}.get(
                kind or "", value or kind or "more input"
            )
            found = "end of filter" if token is None else repr(token[1])
            raise self.error(f"expected {wanted}, found {found}")
        self.pos += 1
        return token

    def accept(self, kind: str, value: str) -> bool:
        if self.peek() == (kind, value):
            self.pos += 1
            return True
        return False

    def parse(self) -> Expr:
        expr = self.or_expr()
        if self.peek() is not None:
            raise self.error(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return expr

    def or_expr(self) -> Expr:
        items = [self.and_expr()]
        while self.accept("keyword", "or"):
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else BoolOp("or", tuple(items))

    def and_expr(self) -> Expr:
        items = [self.not_expr()]
        while self.accept("keyword", "and"):
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else BoolOp("and", tuple(items))

    def not_expr(self) -> Expr:
        if self.peek() in (("keyword", "not"), ("op", "(")):
            self.depth += 1
            if self.depth > MAX_FILTER_DEPTH:
                raise self.error(f"nested more than {MAX_FILTER_DEPTH} levels deep")
            try:
                if self.accept("keyword", "not"):
                    return Not(self.not_expr())
                self.take("op", "(")
                expr = self.or_expr()
                self.take("op", ")")
                return expr
            finally:
                self.depth -= 1
        self.terms += 1
        if self.terms > MAX_FILTER_TERMS:
            raise self.error(f"more than {MAX_FILTER_TERMS} comparisons")
        return self.comparison()

    def comparison(self) -> Comparison:
        name_index = self.pos
        name = self.take("name")[1]
        try:
            field = parse_field(name)
        except FilterError as exc:
            at = self.starts[name_index]
            raise FilterError(f"{exc} (position {at})", position=at) from None
        token = self.take()
        if token == ("keyword", "is"):
            negated = self.accept("keyword", "not")
            self.take("keyword", "null")
            return Comparison(field, "is not null" if negated else "is null")
        if token == ("keyword", "in"):
            self.take("op", "(")
            values = [self.literal()]
            while self.accept("op", ","):
                values.append(self.literal())
            self.take("op", ")")
            for value in values:
                _check_comparable(field, value)
            return Comparison(field, "in", tuple(values))
        if token == ("keyword", "contains"):
            value = self.literal()
            _check_comparable(field, value)
            return Comparison(field, "contains", value)
        if token[0] != "op" or token[1] in "(),":
            raise self.error(f"expected an operator after {field}", self.pos - 1)
        op = "=" if token[1] == "==" else token[1]
        value = self.literal()
        _check_comparable(field, value)
        return Comparison(field, op, value)  # type: ignore[arg-type]

    def literal(self) -> Literal_:
        index = self.pos
        kind, value = self.take()
        if kind == "number":
            return float(value)
        if kind == "string":
            return re.sub(r"\\(.)", r"\1", value[1:-1])
        if kind == "keyword" and value in ("true", "false"):
            return value == "true"
        if kind == "keyword" and value == "null":
            return None
        if re.fullmatch(r"[A-Za-z_][\w.\-/]*", str(value)):
            raise self.error(
                f"expected a value, found {value!r}: quote text values, as in '{value}'", index
            )
        raise self.error(f"expected a value, found {value!r}", index)


def _check_comparable(field: Field, value: Literal_) -> None:
    if field.namespace == "attr" and isinstance(value, bool):
        raise FilterError(f"{field} cannot be compared with {str(value).lower()}")
    if field.namespace == "metrics" and not isinstance(value, float) and value is not None:
        raise FilterError(f"{field} is numeric: compare it with a number, not {value!r}")


def check_range(name: str, value: int | None) -> None:
    """Refuse a ``limit``/``offset`` that is not a whole number a database can take."""
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63
    ):
        raise FilterError(f"{name} must be a whole number from 0 to 2**63-1, got {value!r}")


def parse_filter(text: str | None) -> Expr | None:
    """Parse a filter expression; ``None`` or blank means no filter."""
    if text is None or not text.strip():
        return None
    return _Parser(text).parse()


def parse_order(keys: str | list[str] | tuple[str, ...] | None) -> list[OrderKey]:
    """Parse ``"-metrics.acc"`` or ``["-metrics.acc", "created_at"]`` (``-`` = descending)."""
    if keys is None:
        return []
    if isinstance(keys, str):
        keys = [k for k in keys.split(",") if k.strip()]
    result = []
    for raw in keys:
        if not isinstance(raw, str):
            raise FilterError(f"sort keys are strings like '-metrics.acc', not {raw!r}")
        text = raw.strip()
        descending = text.startswith("-")
        text = text.lstrip("+-").strip()
        if text.endswith((" desc", " asc")):
            descending = text.endswith(" desc")
            text = text.rsplit(" ", 1)[0].strip()
        result.append(OrderKey(parse_field(text), descending))
    return result
