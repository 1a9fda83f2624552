"""`--where` filters: every construct checked against a real pyarrow table, refusals with positions."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from storage.local import LocalStore
from storage.shards import ParquetShardWriter
from storage.versions import VersionStore, shard_prefix
from storage.where import (
    UnknownColumnError,
    WhereSyntaxError,
    check_columns,
    parse_where,
    referenced_columns,
    suggest_columns,
)

SIGNALS = pa.struct([("words", pa.int64()), ("gopher_n_words", pa.int64())])
ROWS = [
    # id, source,   lang, score, n,    flag,  url,                       signals
    (1, "s'yn",     "vi", 0.9,  120,  True,  "https://a.vn/x",          {"words": 10, "gopher_n_words": 100}),
    (2, "syn",      "vi", 0.5,  80,   False, "https://b.com/y",         {"words": 20, "gopher_n_words": 50}),
    (3, "vnexpress", "en", 0.95, 300, True,  "http://vnexpress.net/1",  {"words": 30, "gopher_n_words": 300}),
    (4, None,       "vi", None, None, None,  None,                      None),
    (5, "tuoitre",  None, 0.7,  -5,   False, "https://tuoitre.vn/100%", {"words": None, "gopher_n_words": 7}),
    (6, "o''k",     "fr", 0.1,  0,    True,  "HTTPS://C.VN/Z",          {"words": 1, "gopher_n_words": 1}),
]
TABLE = pa.table({
    "id": [r[0] for r in ROWS],
    "source": [r[1] for r in ROWS],
    "lang": [r[2] for r in ROWS],
    "score": pa.array([r[3] for r in ROWS], pa.float64()),
    "n": pa.array([r[4] for r in ROWS], pa.int64()),
    "flag": pa.array([r[5] for r in ROWS], pa.bool_()),
    "url": [r[6] for r in ROWS],
    "signals": pa.array([r[7] for r in ROWS], SIGNALS),
})


def ids(text: str, table: pa.Table = TABLE) -> list[int]:
    return table.filter(parse_where(text))["id"].to_pylist()


@pytest.mark.parametrize("text, expected", [
    ("source = 's''yn'", [1]),                       # '' is one quote: not 'syn'
    ("source = 'syn'", [2]),
    ("source = 'o''''k'", [6]),
    ("source <> 'syn'", [1, 3, 5, 6]),               # NULL source: unknown, dropped
    ("source != 'syn'", [1, 3, 5, 6]),
    ("score >= 0.9", [1, 3]),
    ("score > 0.9", [3]),
    ("score < 0.5", [6]),
    ("score <= 0.5", [2, 6]),
    ("0.9 <= score", [1, 3]),                        # value first: flipped
    ("n = -5", [5]),
    ("n > -10 AND n < 1", [5, 6]),
    ("n >= 1e2", [1, 3]),
    ("signals.gopher_n_words >= 100", [1, 3]),
    ("signals.words IS NULL", [4, 5]),               # a NULL struct has NULL fields
    ("signals IS NULL", [4]),
    ("lang = 'vi' AND score >= 0.8", [1]),
    ("lang = 'en' OR lang = 'fr'", [3, 6]),
    ("lang = 'vi' OR lang = 'en' AND score > 0.9", [1, 2, 3, 4]),  # AND binds tighter
    ("(lang = 'vi' OR lang = 'en') AND score > 0.9", [3]),
    ("NOT lang = 'vi'", [3, 6]),                     # NULL lang stays unknown under NOT
    ("NOT (lang = 'vi' OR lang = 'en')", [6]),
    ("NOT NOT lang = 'en'", [3]),
    ("source IN ('syn')", [2]),                      # a one-item list
    ("source IN ('syn', 's''yn', 'nowhere')", [1, 2]),
    ("source NOT IN ('syn', 'tuoitre')", [1, 3, 6]),  # SQL: NULL NOT IN (...) is unknown
    ("NOT source IN ('syn', 'tuoitre')", [1, 3, 6]),
    ("n IN (0, 120)", [1, 6]),
    ("n IN (-5)", [5]),
    ("lang IS NULL", [5]),
    ("lang IS NOT NULL AND score IS NULL", [4]),
    ("url LIKE 'https://%.vn/%'", [1, 5]),
    ("url LIKE 'http_://%'", [1, 2, 5]),
    ("url NOT LIKE 'https://%'", [3, 6]),
    ("url ILIKE 'https://%.vn/%'", [1, 5, 6]),
    ("url LIKE '%100\\%'", [5]),                     # backslash escapes %
    ("flag", [1, 3, 6]),
    ("NOT flag", [2, 5]),
    ("flag = TRUE", [1, 3, 6]),
    ("flag = false AND lang IS NOT NULL", [2]),
    ("\"lang\" = 'fr'", [6]),                        # a double-quoted name
    ("lang = 'vi' and score >= 0.8 or id = 6", [1, 6]),  # keywords in any case
    ("  id=2  ", [2]),
])
def test_every_construct_selects_the_right_rows(text: str, expected: list[int]) -> None:
    assert ids(text) == expected


def test_the_expression_works_as_a_parquet_read_filter(tmp_path: Path) -> None:
    """storage/pull.py hands the expression to pq.read_table(filters=...): same rows."""
    path = tmp_path / "t.parquet"
    pq.write_table(TABLE, path, row_group_size=2)
    for text in ("source NOT IN ('syn', 'tuoitre')", "source = 's''yn'",
                 "signals.gopher_n_words >= 100 AND url LIKE 'http%'", "lang IS NULL"):
        assert pq.read_table(path, filters=parse_where(text))["id"].to_pylist() == ids(text)


@pytest.mark.parametrize("text, message, position", [
    ("source = 's''yn", "unterminated string starting at character 10", 9),
    ("a = 'x' ;DROP", "unexpected character ';' at character 9", 8),
    ("a = 'x'; DROP TABLE t", "unexpected character ';'", 7),
    ("a == b", "'==' at character 3 is not SQL: write '='", 2),
    ("a = b", "got the column name b: comparing two columns is not supported", 4),
    ("lang = \"vi\"", "if you meant the text, quote it with single quotes: 'vi'", 7),
    ("a = 'x' b = 'y'", "expected AND, OR or the end of the filter at character 9, got 'b'", 8),
    ("lang 'vi'", "expected an operator", 5),
    ("a = NULL", "write `column IS NULL`", 4),
    ("a IN ()", "at least one value in the IN list", 6),
    ("a IN 'x'", "'(' after IN", 5),
    ("a IN ('x',)", "expected a value after ','", 10),
    ("a IN ('x', 1)", "mixes text", 5),
    ("a IN ('x', NULL)", "IS NULL", 11),
    ("a IS 'x'", "NULL or NOT NULL after IS", 5),
    ("a NOT = 'x'", "IN, LIKE or ILIKE after NOT", 6),
    ("a LIKE b", "a quoted pattern after LIKE", 7),
    ("(a = 1", "')' to close the '('", 6),
    ("a = 1)", "expected AND, OR or the end", 5),
    ("a = 1 AND", "got the end of the filter", 9),
    ("", "the filter is empty", 0),
    ("a && b", "write AND", 2),
    ("a = 5x", "malformed number", 4),
    ("a = - 'x'", "a number after '-'", 6),
    ("a.", "a field name after '.'", 2),
    ("__import__('os')", "expected an operator", 10),
    ("a = 1 + 1", "expected AND, OR or the end", 6),
    ("a = 'x' -- comment", "expected AND, OR or the end", 8),
    ("'x' = 'y'", "a column name after '='", 6),
])
def test_refusals_point_at_the_position(text: str, message: str, position: int) -> None:
    with pytest.raises(WhereSyntaxError) as err:
        parse_where(text)
    assert message in str(err.value)
    assert err.value.position == position
    if text:
        pointer = str(err.value).splitlines()[-1]
        assert pointer == "  " + " " * position + "^"


def test_referenced_columns_are_dotted_paths() -> None:
    assert referenced_columns("lang = 'vi' AND signals.words > 3 OR lang IS NULL") == [
        "lang", "signals.words"]


def test_unknown_column_names_the_closest_columns_not_the_schema() -> None:
    assert suggest_columns("signals.gopher_n_word", TABLE.schema)[0] == "signals.gopher_n_words"
    assert suggest_columns("gopher_n_words", TABLE.schema) == ["signals.gopher_n_words"]
    assert suggest_columns("langg", TABLE.schema)[0] == "lang"
    with pytest.raises(UnknownColumnError) as err:
        check_columns("lang = 'vi' AND signals.gopher_nwords >= 50", TABLE.schema)
    msg = str(err.value)
    assert msg.startswith("unknown column 'signals.gopher_nwords' in the filter; did you mean: "
                          "signals.gopher_n_words")
    assert "\n" not in msg and "url" not in msg
    check_columns(["id", "signals.words"], TABLE.schema)  # all present: no error
    with pytest.raises(UnknownColumnError, match="the columns are: id, source"):
        check_columns(["zzzzzz"], TABLE.schema)


@pytest.fixture
def published(tmp_path: Path) -> str:
    store = LocalStore(tmp_path / "store")
    schema = pa.schema([pa.field("id", pa.string()), pa.field("lang", pa.string()),
                        pa.field("signals", SIGNALS)])
    w = ParquetShardWriter(store, shard_prefix("news", "text", "r1"), schema, modality="text",
                           target_bytes=600, row_group_rows=10)
    w.write_rows([{"id": f"d{i}", "lang": "vi" if i % 2 else "en",
                   "signals": {"words": i, "gopher_n_words": i * 10}} for i in range(30)])
    VersionStore(store).commit("news", w.close(), code_version="test", run_id="r1")
    return str(tmp_path / "store")


def test_pull_with_a_quote_escape_and_a_one_item_list(published: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["pull", "news", str(tmp_path / "o"), "--store", published,
                                      "--where", "lang IN ('vi') AND signals.gopher_n_words >= 200"])
    assert result.exit_code == 0, result.output
    assert "5 rows" in result.output  # i = 21, 23, 25, 27, 29


def test_pull_with_an_unknown_column_suggests_names(published: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["pull", "news", str(tmp_path / "o"), "--store", published,
                                      "--where", "signals.gopher_words >= 50"])
    assert result.exit_code != 0
    assert isinstance(result.exception, UnknownColumnError)
    msg = str(result.exception)
    assert "unknown column 'signals.gopher_words'" in msg
    assert "did you mean: signals.gopher_n_words" in msg
    assert "FieldRef" not in msg and "\n" not in msg
