"""Row filters written as SQL-like text, turned into pyarrow compute expressions.

Accepts comparisons joined by AND / OR / NOT, with parentheses::

    lang = 'vi' AND lang_score >= 0.8
    signals.gopher_n_words > 100 OR source IN ('vnexpress', 'tuoitre')
    pii_total = 0 AND NOT lang_variant = 'no_diacritics'

Dotted names reach into struct columns. Parsing goes through Python's ``ast`` module on a
rewritten string and accepts only these node types, so nothing is ever evaluated.
"""

from __future__ import annotations

import ast
import re

import pyarrow.compute as pc
import pyarrow.dataset as ds


class WhereSyntaxError(ValueError):
    """The filter text is not a supported expression."""


_SQL_TO_PY = [
    (re.compile(r"(?<![<>!=])=(?!=)"), "=="),
    (re.compile(r"<>"), "!="),
    (re.compile(r"\bAND\b", re.I), " and "),
    (re.compile(r"\bOR\b", re.I), " or "),
    (re.compile(r"\bNOT\s+IN\b", re.I), " not in "),
    (re.compile(r"\bNOT\b", re.I), " not "),
    (re.compile(r"\bIN\b", re.I), " in "),
    (re.compile(r"\bTRUE\b", re.I), "True"),
    (re.compile(r"\bFALSE\b", re.I), "False"),
    (re.compile(r"\bNULL\b", re.I), "None"),
]

_OPS = {ast.Eq: "__eq__", ast.NotEq: "__ne__", ast.Lt: "__lt__", ast.LtE: "__le__",
        ast.Gt: "__gt__", ast.GtE: "__ge__"}


def _to_python(text: str) -> str:
    # Replace operators outside string literals only.
    parts = re.split(r"('(?:[^']|'')*')", text)
    for i in range(0, len(parts), 2):
        for pattern, repl in _SQL_TO_PY:
            parts[i] = pattern.sub(repl, parts[i])
    return "".join(parts)


def parse_where(text: str) -> ds.Expression:
    """Parse ``text`` into a pyarrow dataset expression; raise WhereSyntaxError if invalid."""
    try:
        tree = ast.parse(_to_python(text).strip(), mode="eval")
    except SyntaxError as exc:
        raise WhereSyntaxError(f"cannot parse filter {text!r}: {exc.msg}. Example: "
                               "\"lang = 'vi' AND lang_score >= 0.8\"") from None
    return _expr(tree.body, text)


def _field(node: ast.AST, text: str) -> ds.Expression:
    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        raise WhereSyntaxError(f"in {text!r}: expected a column name, got {ast.unparse(node)!r}")
    names.append(node.id)
    return pc.field(*reversed(names))


def _value(node: ast.AST, text: str):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return -node.operand.value
    raise WhereSyntaxError(f"in {text!r}: expected a literal, got {ast.unparse(node)!r}")


def _expr(node: ast.AST, text: str) -> ds.Expression:
    if isinstance(node, ast.BoolOp):
        exprs = [_expr(v, text) for v in node.values]
        out = exprs[0]
        for e in exprs[1:]:
            out = (out & e) if isinstance(node.op, ast.And) else (out | e)
        return out
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return ~_expr(node.operand, text)
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        left, op, right = node.left, node.ops[0], node.comparators[0]
        field = _field(left, text)
        if isinstance(op, (ast.In, ast.NotIn)):
            if not isinstance(right, (ast.Tuple, ast.List, ast.Set)):
                raise WhereSyntaxError(f"in {text!r}: IN needs a list like ('a', 'b')")
            expr = field.isin([_value(v, text) for v in right.elts])
            return ~expr if isinstance(op, ast.NotIn) else expr
        value = _value(right, text)
        if value is None and isinstance(op, (ast.Eq, ast.NotEq)):
            return field.is_null() if isinstance(op, ast.Eq) else ~field.is_null()
        if type(op) not in _OPS:
            raise WhereSyntaxError(f"in {text!r}: unsupported operator")
        return getattr(field, _OPS[type(op)])(value)
    raise WhereSyntaxError(f"unsupported filter {text!r}: use comparisons joined by AND/OR/NOT")
