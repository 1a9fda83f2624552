"""Row filters written as SQL ``WHERE`` text, turned into pyarrow compute expressions.

The accepted language, and nothing else (anything else is refused with the position)::

    lang = 'vi' AND lang_score >= 0.8
    signals.gopher_n_words > 100 OR source IN ('vnexpress', 'tuoitre')
    pii_total = 0 AND NOT lang_variant = 'no_diacritics'
    source = 's''yn'                  -- '' inside a string is one quote
    url LIKE 'https://%.vn/%'         -- % any run of characters, _ one character
    title IS NOT NULL AND source NOT IN ('spam')

* values: 'text' (single quotes, '' for a quote), numbers (-3, 0.8, 1e6), TRUE, FALSE;
* columns: names, dotted to reach into struct columns (``signals.n_words``), or
  "double quoted" for names that are keywords or contain other characters;
* comparisons ``= != <> < <= > >=`` of a column with a value (either side), ``[NOT] IN
  (v, ...)``, ``IS [NOT] NULL``, ``[NOT] LIKE 'pattern'`` and ``ILIKE`` (case-insensitive;
  a backslash escapes % and _), a bare boolean column, joined by ``AND``, ``OR``, ``NOT``
  and parentheses. Keywords are case-insensitive.

NULLs follow SQL: a comparison, IN or LIKE on a NULL is unknown, and an unknown row is
dropped, also under NOT (``source NOT IN ('a')`` keeps no row whose source is NULL).

A hand-written tokenizer and recursive-descent parser build the expression directly: no
text is ever evaluated, and no construct is guessed at.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

EXAMPLE = "\"lang = 'vi' AND lang_score >= 0.8\""
_KEYWORDS = {"AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE", "TRUE", "FALSE"}
_COMPARISONS = {"=": "__eq__", "!=": "__ne__", "<>": "__ne__", "<": "__lt__", "<=": "__le__",
                ">": "__gt__", ">=": "__ge__"}
_FLIPPED = {"=": "=", "!=": "!=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_NULL_BOOL = pc.scalar(pa.scalar(None, pa.bool_()))


class WhereSyntaxError(ValueError):
    """The filter text is not a supported expression; ``position`` is the 0-based offset."""

    def __init__(self, message: str, text: str = "", position: int | None = None) -> None:
        self.text, self.position = text, position
        super().__init__(_with_pointer(message, text, position))


class UnknownColumnError(WhereSyntaxError):
    """The filter names a column the data does not have."""


def _with_pointer(message: str, text: str, position: int | None) -> str:
    """``message`` and, when the position is known, the filter with a caret under it."""
    if position is None or not text or "\n" in text:
        return message
    return f"{message}\n  {text}\n  {' ' * position}^"


# -- tokens --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Token:
    """One lexical unit: ``kind`` is string, number, name, qname, keyword, op, punct or end."""

    kind: str
    value: Any
    pos: int
    raw: str


_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_NAME = re.compile(r"[^\W\d]\w*")
_OPERATORS = ("<=", ">=", "<>", "!=", "=", "<", ">")


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, ending with an ``end`` token; raise on any stray character."""
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch == "'":
            tokens.append(_quoted(text, i, "'", "string"))
            i += len(tokens[-1].raw)
        elif ch == '"':
            tokens.append(_quoted(text, i, '"', "qname"))
            i += len(tokens[-1].raw)
        elif ch.isdigit() or (ch == "." and text[i + 1:i + 2].isdigit()):
            tokens.append(_number(text, i))
            i += len(tokens[-1].raw)
        elif _NAME.match(text, i):
            raw = _NAME.match(text, i).group()
            kind = "keyword" if raw.upper() in _KEYWORDS else "name"
            tokens.append(Token(kind, raw.upper() if kind == "keyword" else raw, i, raw))
            i += len(raw)
        elif text.startswith("==", i):
            raise WhereSyntaxError(f"'==' at character {i + 1} is not SQL: write '=' for "
                                   "equality", text, i)
        elif op := next((o for o in _OPERATORS if text.startswith(o, i)), None):
            tokens.append(Token("op", op, i, op))
            i += len(op)
        elif ch in "(),.+-":
            tokens.append(Token("punct", ch, i, ch))
            i += 1
        else:
            raise WhereSyntaxError(f"unexpected character {ch!r} at character {i + 1}"
                                   f"{_hint_for(ch)}", text, i)
    tokens.append(Token("end", None, len(text), ""))
    return tokens


def _hint_for(ch: str) -> str:
    return {"&": ": write AND", "|": ": write OR", "!": ": write NOT or !=",
            ";": ": a filter is one expression"}.get(ch, "")


def _quoted(text: str, start: int, quote: str, kind: str) -> Token:
    """A quoted string or name starting at ``start``; a doubled quote stands for one."""
    i = start + 1
    parts: list[str] = []
    while True:
        end = text.find(quote, i)
        if end < 0:
            what = "string" if kind == "string" else "quoted name"
            raise WhereSyntaxError(
                f"unterminated {what} starting at character {start + 1}: close it with {quote} "
                f"(write {quote}{quote} for a {quote} inside it)", text, start)
        parts.append(text[i:end])
        if text.startswith(quote * 2, end):
            parts.append(quote)
            i = end + 2
            continue
        return Token(kind, "".join(parts), start, text[start:end + 1])


def _number(text: str, start: int) -> Token:
    raw = _NUMBER.match(text, start).group()
    after = start + len(raw)
    if after < len(text) and (text[after].isalnum() or text[after] in "_."):
        raise WhereSyntaxError(f"malformed number at character {start + 1}", text, start)
    value: int | float = float(raw) if any(c in raw for c in ".eE") else int(raw)
    return Token("number", value, start, raw)


# -- parser --------------------------------------------------------------------------------
class _Parser:
    """Recursive descent over the tokens; ``columns`` collects every column path named."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.columns: list[tuple[str, ...]] = []

    # token helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def next(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at_keyword(self, *words: str) -> bool:
        return self.tok.kind == "keyword" and self.tok.value in words

    def at_punct(self, ch: str) -> bool:
        return self.tok.kind == "punct" and self.tok.value == ch

    def fail(self, expected: str, tok: Token | None = None) -> WhereSyntaxError:
        tok = tok or self.tok
        got = "the end of the filter" if tok.kind == "end" else repr(tok.raw)
        return WhereSyntaxError(f"expected {expected} at character {tok.pos + 1}, got {got}",
                                self.text, tok.pos)

    def expect_punct(self, ch: str, expected: str) -> None:
        if not self.at_punct(ch):
            raise self.fail(expected)
        self.i += 1

    # grammar
    def parse(self) -> ds.Expression:
        if self.tok.kind == "end":
            raise WhereSyntaxError(f"the filter is empty; example: {EXAMPLE}", self.text, 0)
        expr = self.or_expr()
        if self.tok.kind != "end":
            raise self.fail("AND, OR or the end of the filter")
        return expr

    def or_expr(self) -> ds.Expression:
        expr = self.and_expr()
        while self.at_keyword("OR"):
            self.i += 1
            expr = expr | self.and_expr()
        return expr

    def and_expr(self) -> ds.Expression:
        expr = self.not_expr()
        while self.at_keyword("AND"):
            self.i += 1
            expr = expr & self.not_expr()
        return expr

    def not_expr(self) -> ds.Expression:
        if self.at_keyword("NOT"):
            self.i += 1
            return ~self.not_expr()
        return self.predicate()

    def predicate(self) -> ds.Expression:
        if self.at_punct("("):
            self.i += 1
            expr = self.or_expr()
            self.expect_punct(")", "')' to close the '('")
            return expr
        if self.tok.kind in ("name", "qname"):
            return self.column_predicate(self.column())
        if self.tok.kind in ("string", "number") or self.at_keyword("TRUE", "FALSE") \
                or self.at_punct("-") or self.at_punct("+"):
            return self.value_first_comparison()
        raise self.fail("a column name, NOT or '('")

    def column(self) -> ds.Expression:
        """A column path: name ('.' name)*; after a dot any word is a field name."""
        parts = [self.next().value]
        while self.at_punct("."):
            self.i += 1
            tok = self.next()
            if tok.kind not in ("name", "qname", "keyword"):
                raise self.fail("a field name after '.'", tok)
            parts.append(tok.raw if tok.kind == "keyword" else tok.value)
        self.columns.append(tuple(parts))
        return pc.field(*parts)

    def column_predicate(self, field: ds.Expression) -> ds.Expression:
        tok = self.tok
        if tok.kind == "op":
            self.i += 1
            return self.comparison(field, tok.value, self.value(f"a value after {tok.value!r}"))
        negate = self.at_keyword("NOT")
        if negate:
            self.i += 1
            if not self.at_keyword("IN", "LIKE", "ILIKE"):
                raise self.fail("IN, LIKE or ILIKE after NOT")
        if self.at_keyword("IN"):
            self.i += 1
            expr = _sql_in(field, self.value_list())
        elif self.at_keyword("LIKE", "ILIKE"):
            expr = self.like(field)
        elif self.at_keyword("IS"):
            return self.is_null(field)
        elif self.tok.kind == "end" or self.at_keyword("AND", "OR") or self.at_punct(")"):
            return field  # a bare boolean column
        else:
            raise self.fail("an operator (= != <> < <= > >=), IN, LIKE or IS after the column")
        return ~expr if negate else expr

    def value_first_comparison(self) -> ds.Expression:
        value = self.value("a value")
        tok = self.tok
        if tok.kind != "op":
            raise self.fail("a comparison operator after the value")
        self.i += 1
        if self.tok.kind not in ("name", "qname"):
            raise self.fail(f"a column name after {tok.value!r}")
        return self.comparison(self.column(), _FLIPPED[tok.value], value)

    def comparison(self, field: ds.Expression, op: str, value: Any) -> ds.Expression:
        return getattr(field, _COMPARISONS[op])(value)

    def value(self, expected: str) -> Any:
        """A literal: 'text', a signed number, TRUE or FALSE; refuse columns and NULL."""
        tok = self.tok
        if self.at_punct("-") or self.at_punct("+"):
            self.i += 1
            if self.tok.kind != "number":
                raise self.fail(f"a number after {tok.value!r}")
            number = self.next().value
            return -number if tok.value == "-" else number
        if tok.kind in ("string", "number"):
            self.i += 1
            return tok.value
        if self.at_keyword("TRUE", "FALSE"):
            self.i += 1
            return tok.value == "TRUE"
        if self.at_keyword("NULL"):
            raise WhereSyntaxError(
                f"comparing with NULL at character {tok.pos + 1} is never true in SQL: write "
                "`column IS NULL` or `column IS NOT NULL`", self.text, tok.pos)
        if tok.kind in ("name", "qname"):
            quoted = f"'{tok.value}'"
            raise WhereSyntaxError(
                f"expected {expected} at character {tok.pos + 1}, got the column name "
                f"{tok.raw}: comparing two columns is not supported; if you meant the text, "
                f"quote it with single quotes: {quoted}", self.text, tok.pos)
        raise self.fail(expected)

    def value_list(self) -> list[Any]:
        """``( value [, value]* )`` for IN: at least one value, all text or all numbers."""
        open_tok = self.tok
        self.expect_punct("(", "'(' after IN: IN takes a list like ('a', 'b')")
        if self.at_punct(")"):
            raise self.fail("at least one value in the IN list")
        values = [self.value("a value in the IN list")]
        while self.at_punct(","):
            self.i += 1
            values.append(self.value("a value after ','"))
        self.expect_punct(")", "',' or ')' in the IN list")
        if len({_kind(v) for v in values}) > 1:
            raise WhereSyntaxError(f"the IN list at character {open_tok.pos + 1} mixes text, "
                                   "numbers and booleans: use values of one kind",
                                   self.text, open_tok.pos)
        return values

    def like(self, field: ds.Expression) -> ds.Expression:
        keyword = self.next().value
        tok = self.tok
        if tok.kind != "string":
            raise self.fail(f"a quoted pattern after {keyword}, like 'vn%'")
        self.i += 1
        return pc.match_like(field, tok.value, ignore_case=keyword == "ILIKE")

    def is_null(self, field: ds.Expression) -> ds.Expression:
        self.i += 1  # IS
        negate = self.at_keyword("NOT")
        if negate:
            self.i += 1
        if not self.at_keyword("NULL"):
            raise self.fail("NULL or NOT NULL after IS")
        self.i += 1
        return field.is_valid() if negate else field.is_null()


def _kind(value: Any) -> str:
    """'text', 'boolean' or 'number': the kinds an IN list must not mix."""
    return "text" if isinstance(value, str) else "boolean" if isinstance(value, bool) else "number"


def _sql_in(field: ds.Expression, values: list[Any]) -> ds.Expression:
    """``field IN values`` with SQL's NULL rule: a NULL field gives unknown, not false."""
    return field.isin(values) | (field.is_null() & _NULL_BOOL)


# -- public API ----------------------------------------------------------------------------
def parse_where(text: str) -> ds.Expression:
    """Parse ``text`` into a pyarrow dataset expression; raise WhereSyntaxError if invalid."""
    return _Parser(text).parse()


def referenced_columns(text: str) -> list[str]:
    """The dotted column names that the filter ``text`` uses, in order, without repeats."""
    parser = _Parser(text)
    parser.parse()
    return list(dict.fromkeys(".".join(path) for path in parser.columns))


def schema_columns(schema: pa.Schema) -> list[str]:
    """Every column of ``schema`` as a dotted name, struct fields included (``signals.n``)."""
    names: list[str] = []

    def walk(prefix: str, fields: Iterable[pa.Field]) -> None:
        for f in fields:
            name = f"{prefix}{f.name}"
            names.append(name)
            if pa.types.is_struct(f.type):
                walk(f"{name}.", (f.type.field(i) for i in range(f.type.num_fields)))

    walk("", schema)
    return names


def suggest_columns(name: str, schema: pa.Schema, limit: int = 5) -> list[str]:
    """Columns of ``schema`` that ``name`` was probably meant to be, best first.

    Columns whose last part equals the name's last part come first (``gopher_n_words`` ->
    ``signals.gopher_n_words``), then difflib's close matches."""
    columns = schema_columns(schema)
    leaf_of = {c: c.rsplit(".", 1)[-1] for c in columns}
    leaf = name.rsplit(".", 1)[-1]
    ranked = [c for c in columns if leaf_of[c].lower() == leaf.lower()]
    ranked += difflib.get_close_matches(name, columns, n=limit, cutoff=0.6)
    close_leaves = difflib.get_close_matches(leaf, sorted(set(leaf_of.values())), n=limit,
                                             cutoff=0.6)
    ranked += [c for near in close_leaves for c in columns if leaf_of[c] == near]
    return [c for c in dict.fromkeys(ranked) if c != name][:limit]


def check_columns(where: str | Iterable[str], schema: pa.Schema) -> None:
    """Raise UnknownColumnError, with the likely intended names, for a column not in ``schema``.

    ``where`` is filter text or an iterable of dotted column names."""
    names = referenced_columns(where) if isinstance(where, str) else list(where)
    known = set(schema_columns(schema))
    for name in names:
        if name not in known:
            raise UnknownColumnError(unknown_column_message(name, schema))


def unknown_column_message(name: str, schema: pa.Schema) -> str:
    """"unknown column 'x'; did you mean: a, b" (or the first columns there are)."""
    suggestions = suggest_columns(name, schema)
    if suggestions:
        return f"unknown column {name!r} in the filter; did you mean: {', '.join(suggestions)}?"
    columns = schema_columns(schema)
    shown = ", ".join(columns[:12])
    if len(columns) > 12:
        shown += f", ... ({len(columns)} in all)"
    return f"unknown column {name!r} in the filter; the columns are: {shown}"


__all__ = ["UnknownColumnError", "WhereSyntaxError", "check_columns", "parse_where",
           "referenced_columns", "schema_columns", "suggest_columns", "unknown_column_message"]
