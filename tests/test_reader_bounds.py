"""Readers stay bounded in time and memory whatever an input holds: decompression bombs (gzip
and zstd, built here in a streaming way), a JSON line nested 100,000 levels deep, records far
larger than any document, and the sums of them. Every bound hit is a quarantine row that names
the bound, the records around it are kept, and the outcomes still add up per input."""

from __future__ import annotations

import gzip
import io
import json
import random
import sys
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("filters.normalize")

from pipelines.config import SourceConfig  # noqa: E402
from pipelines.readers import (  # noqa: E402
    DEFAULT_MAX_RECORD_BYTES, ReadLimits, iter_lines, json_depth_exceeds, read_jsonl,
    read_parquet, read_warc)

SOURCE = {"name": "src", "license": "CC-BY-4.0", "text_field": "text"}
MiB = 1024 * 1024
BOMB_MIB = 200  # inflated size of each bomb; compressed they are 0.2 MB (gzip) or 6 kB (zstd)
BOUND = 64 * MiB  # the input bound the bomb tests configure, so they run in about a second


def _collect(outcomes: Iterator[tuple[str, dict]]) -> tuple[list[dict], list[dict]]:
    records, quarantine = [], []
    for kind, row in outcomes:
        (records if kind == "record" else quarantine).append(row)
    return records, quarantine


def _good(*texts: str) -> bytes:
    return b"".join(json.dumps({"text": t}, ensure_ascii=False).encode() + b"\n" for t in texts)


def _gzip_bomb(path: Path, head: bytes, unit: bytes, tail: bytes) -> Path:
    """``head``, then BOMB_MIB MiB of ``unit`` repeated, then ``tail``, gzipped one MiB at a
    time: the test holds one MiB, and the file is 0.2 MB."""
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = unit * (MiB // len(unit))
    with open(path, "wb") as fh:
        fh.write(c.compress(head))
        for _ in range(BOMB_MIB):
            fh.write(c.compress(block))
        fh.write(c.compress(tail) + c.flush())
    return path


def _zstd_bomb(path: Path, head: bytes, unit: bytes, tail: bytes) -> Path:
    import zstandard

    block = unit * (MiB // len(unit))
    with open(path, "wb") as fh, zstandard.ZstdCompressor(level=3).stream_writer(fh) as w:
        w.write(head)
        for _ in range(BOMB_MIB):
            w.write(block)
        w.write(tail)
    return path


def _read_file(path: Path, source: dict, **kw) -> tuple[list[dict], list[dict], int]:
    """Read ``path`` with read_jsonl; also the peak of Python memory while reading."""
    tracemalloc.start()
    try:
        with open(path, "rb") as fh:
            records, quarantine = _collect(read_jsonl(fh, f"file://{path}", source, **kw))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return records, quarantine, peak


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bombs")
    head, tail = _good("trước quả bom", "vẫn trước"), _good("sau quả bom")
    return {
        "newlines.gz": _gzip_bomb(d / "newlines.jsonl.gz", head, b"\n", tail),
        "line.gz": _gzip_bomb(d / "line.jsonl.gz", head, b"a", b"\n" + tail),
        "newlines.zst": _zstd_bomb(d / "newlines.jsonl.zst", head, b"\n", tail),
        "line.zst": _zstd_bomb(d / "line.jsonl.zst", head, b"a", b"\n" + tail),
    }


@pytest.mark.parametrize("bomb", ["newlines.gz", "line.gz", "newlines.zst", "line.zst"])
def test_decompression_bomb_stops_at_the_input_bound_and_keeps_the_records_before(
        bombs: dict[str, Path], bomb: str) -> None:
    path = bombs[bomb]
    assert path.stat().st_size < 300_000
    records, quarantine, peak = _read_file(path, {**SOURCE, "max_input_bytes": BOUND})
    assert [r["raw_text"] for r in records] == ["trước quả bom", "vẫn trước"]
    (q,) = quarantine
    assert q["error_class"] == "InputTooLargeError"
    assert f"{BOUND:,}-byte max_input_bytes bound" in q["message"] and "stopped after" in q["message"]
    assert "raise the source's max_input_bytes" in q["message"] and q["uri"].endswith(path.name)
    assert peak < 48 * MiB  # one chunk and one line at a time, never the inflated stream


@pytest.mark.parametrize("bomb", ["newlines.gz", "line.zst"])
def test_whole_bomb_under_the_bound_is_read_in_bounded_memory(bombs: dict[str, Path], bomb: str) -> None:
    """Under the default 8 GiB bound the 200 MiB inflate fully: the giant line is skipped in
    chunks, the blank lines are only counted, and the record after them keeps its number."""
    records, quarantine, peak = _read_file(bombs[bomb], SOURCE, max_line_bytes=MiB)
    assert [r["raw_text"] for r in records] == ["trước quả bom", "vẫn trước", "sau quả bom"]
    if bomb.startswith("newlines"):
        assert not quarantine and records[2]["pointer"] == f"line:{3 + BOMB_MIB * MiB}"
    else:
        (q,) = quarantine
        assert q["error_class"] == "LineTooLongError" and f"{BOMB_MIB * MiB:,} bytes" in q["message"]
    assert peak < 48 * MiB


class _Trickle(io.RawIOBase):
    """A stream that hands out reads of random sizes, to put chunk ends everywhere."""

    def __init__(self, data: bytes, seed: int) -> None:
        self._data, self._pos, self._rng = data, 0, random.Random(seed)

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:  # type: ignore[override]
        k = self._rng.choice([1, 2, 7, 300, 5000, n])
        out = self._data[self._pos:self._pos + min(k, n)]
        self._pos += len(out)
        return out


def _reference_lines(data: bytes, max_line: int) -> list[tuple[int, bytes | None, int]]:
    out = []
    for i, line in enumerate(data.split(b"\n"), 1):
        body = line.lstrip()
        if body:
            out.append((i, body if len(body) <= max_line else None, len(body)))
    return out


def test_line_splitting_agrees_with_split_wherever_chunks_end() -> None:
    rng = random.Random(7)
    pieces = [b"", b"   ", b"\r", b"\t \r", b'{"text": "x"}', b"  indented", b"y" * 900,
              b"z" * 3000, "dấu tiếng Việt".encode()]
    for seed in range(30):
        data = b"\n".join(rng.choice(pieces) for _ in range(rng.randint(0, 60)))
        if rng.random() < 0.5:
            data += b"\n"
        got = list(iter_lines(_Trickle(data, seed), max_line_bytes=1000))
        assert got == _reference_lines(data, 1000), seed


def test_input_bound_keeps_exactly_the_lines_that_end_within_it() -> None:
    data = b"".join(b'{"text": "%d"}\n' % i for i in range(1000))
    bound = data.index(b'{"text": "500"}') + 5  # inside line 501
    records, quarantine = _collect(read_jsonl(_Trickle(data, 1), "file:///x.jsonl",
                                              {**SOURCE, "max_input_bytes": bound}))
    assert [r["raw_text"] for r in records] == [str(i) for i in range(500)]
    assert [(q["error_class"], q["pointer"]) for q in quarantine] == [("InputTooLargeError", "line:501")]
    assert "in line 501" in quarantine[0]["message"]


def test_gzip_members_are_all_read_and_a_cut_member_keeps_what_came_before() -> None:
    members = gzip.compress(_good("thành viên một")) + gzip.compress(_good("thành viên hai"))
    records, quarantine = _collect(read_jsonl(_Trickle(members, 3), "file:///x.jsonl.gz", SOURCE))
    assert [r["raw_text"] for r in records] == ["thành viên một", "thành viên hai"] and not quarantine
    cut = members + gzip.compress(_good(*[f"dòng {i} " * 30 for i in range(3000)]))[:5000]
    records, quarantine = _collect(read_jsonl(io.BytesIO(cut), "file:///x.jsonl.gz", SOURCE))
    assert len(records) > 2 and [q["error_class"] for q in quarantine] == ["TruncatedInputError"]


def test_concatenated_and_corrupt_zstd_frames() -> None:
    """Every frame is read (pzstd writes several); a corrupt frame is quarantined, not raised."""
    import zstandard

    c = zstandard.ZstdCompressor()
    two = c.compress(_good("khung một")) + c.compress(_good("khung hai"))
    records, quarantine = _collect(read_jsonl(io.BytesIO(two), "file:///x.jsonl.zst", SOURCE))
    assert [r["raw_text"] for r in records] == ["khung một", "khung hai"] and not quarantine
    bad = bytearray(c.compress(_good(*[f"dòng {i} " * 20 for i in range(2000)])))
    bad[len(bad) // 2:len(bad) // 2 + 64] = bytes(64)
    _, quarantine = _collect(read_jsonl(io.BytesIO(bytes(bad)), "file:///x.jsonl.zst", SOURCE))
    assert [q["error_class"] for q in quarantine] == ["TruncatedInputError"]
    assert "damaged" in quarantine[0]["message"]


def test_json_nested_100000_levels_is_quarantined_and_reading_goes_on() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    deep_obj = b'{"text": "x", "a": ' + b'{"b": ' * 100_000 + b"1" + b"}" * 100_000 + b"}"
    fine = json.dumps({"text": "vừa đủ sâu", "tree": json.loads("[" * 200 + "]" * 200)}).encode()
    brackets = json.dumps({"text": "[[{" * 2000}).encode()  # brackets inside a string do not nest
    data = b"\n".join([_good("trước")[:-1], deep, deep_obj, fine, brackets, _good("sau")[:-1]])
    records, quarantine = _collect(read_jsonl(io.BytesIO(data), "file:///x.jsonl", SOURCE))
    assert [r["raw_text"] for r in records] == ["trước", "vừa đủ sâu", "[[{" * 2000, "sau"]
    assert [(q["error_class"], q["pointer"]) for q in quarantine] == [
        ("JsonTooDeepError", "line:2"), ("JsonTooDeepError", "line:3")]
    assert "deeper than 256 levels" in quarantine[0]["message"]
    assert "max_json_depth" in quarantine[0]["message"] and quarantine[0]["raw"].startswith(b"[[[")


def test_depth_is_counted_on_containers_only() -> None:
    assert not json_depth_exceeds({"t": "[[[[" * 100, "n": 1}, 1)
    assert not json_depth_exceeds({"a": [[["x"]]]}, 4) and json_depth_exceeds({"a": [[["x"]]]}, 3)
    assert json_depth_exceeds([1, {"b": [2, [3]]}], 3) and not json_depth_exceeds("x", 0)
    deep: list = []
    for _ in range(5000):  # built in Python, deeper than json.loads could parse it
        deep = [deep]
    assert json_depth_exceeds(deep, 256) and not json_depth_exceeds(deep, 5001)


def _frame_depth() -> int:
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    return depth


def test_recursion_error_below_the_configured_depth_is_quarantined_too() -> None:
    """On a deep worker stack json.loads can hit the interpreter's limit before the
    configured depth: that line is quarantined the same way, the run goes on."""
    line = b'{"text": "x", "a": ' + b"[" * 400 + b"]" * 400 + b"}"
    data = line + b"\n" + _good("sau")
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(_frame_depth() + 150)
    try:
        records, quarantine = _collect(read_jsonl(io.BytesIO(data), "file:///x.jsonl",
                                                  {**SOURCE, "max_json_depth": 900}))
    finally:
        sys.setrecursionlimit(old)
    assert [r["raw_text"] for r in records] == ["sau"]
    assert [q["error_class"] for q in quarantine] == ["JsonTooDeepError"]


def test_jsonl_record_over_the_record_bound_is_quarantined_with_its_size() -> None:
    big = "chữ " * 1_500_000  # 7.5 MB of UTF-8, over the 4 MiB default
    data = _good("nhỏ", big, "cũng nhỏ")
    records, quarantine = _collect(read_jsonl(io.BytesIO(data), "file:///x.jsonl", SOURCE))
    assert [r["raw_text"] for r in records] == ["nhỏ", "cũng nhỏ"]
    (q,) = quarantine
    assert q["error_class"] == "RecordTooLargeError" and q["pointer"] == "line:2"
    assert f"{len(big.encode()):,} bytes" in q["message"]
    assert f"{DEFAULT_MAX_RECORD_BYTES:,}-byte max_record_bytes bound" in q["message"]


def test_record_bound_counts_utf8_of_a_legacy_encoded_line() -> None:
    """A line in an 8-bit encoding is shorter than its text in UTF-8: the bound is on the UTF-8."""
    text = "Chân mây mênh mông, sân nhà " * 3000  # 84 kB as Latin-1, 102 kB as UTF-8
    line = json.dumps({"text": text}, ensure_ascii=False).encode("latin-1")
    bound = len(line) + 1000
    assert len(text.encode()) > bound
    records, quarantine = _collect(read_jsonl(io.BytesIO(line + b"\n"), "file:///x.jsonl",
                                              {**SOURCE, "encoding": "latin-1",
                                               "max_record_bytes": bound}))
    assert not records and [q["error_class"] for q in quarantine] == ["RecordTooLargeError"]


def _traced_peak(fn: Callable[[], tuple[list[dict], list[dict]]]):
    tracemalloc.start()
    try:
        result = fn()
        return (*result, tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()


def test_parquet_text_over_the_record_bound_never_becomes_a_python_string(tmp_path: Path) -> None:
    big = "Một câu văn rất dài lặp lại. " * 700_000  # 21 MB of UTF-8, a few kB compressed
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"text": ["một", big, "ba"], "url": ["u1", "u2", "u3"]}), path,
                   compression="zstd")
    source = {**SOURCE, "max_record_bytes": MiB}

    def read():
        with open(path, "rb") as fh:
            return _collect(read_parquet(fh, f"file://{path}", source))

    records, quarantine, peak = _traced_peak(read)
    assert [(r["raw_text"], r["url"]) for r in records] == [("một", "u1"), ("ba", "u3")]
    (q,) = quarantine
    assert q["error_class"] == "RecordTooLargeError" and q["pointer"] == "row:1"
    assert f"{len(big.encode()):,} bytes" in q["message"] and f"{MiB:,}-byte" in q["message"]
    assert peak < 8 * MiB  # the 21 MB text stayed in Arrow memory


def test_parquet_decodes_only_the_columns_it_needs(tmp_path: Path) -> None:
    """A huge blob and a deeply nested column next to the text are never decoded."""
    deep_type, deep_value = pa.int64(), 1
    for _ in range(100):
        deep_type, deep_value = pa.list_(deep_type), [deep_value]
    blob = b"<html>" + b"x" * 20_000_000 + b"</html>"
    table = pa.table({"text": ["một", "hai"], "html": pa.array([blob, b""], pa.binary()),
                      "deep": pa.array([deep_value, deep_value], deep_type),
                      "date": pa.array([1, 2], pa.timestamp("s"))})
    path = tmp_path / "wide.parquet"
    pq.write_table(table, path, compression="zstd", store_schema=False)

    def read():
        with open(path, "rb") as fh:
            return _collect(read_parquet(fh, f"file://{path}", SOURCE))

    records, quarantine, peak = _traced_peak(read)
    assert [r["raw_text"] for r in records] == ["một", "hai"] and not quarantine
    assert records[0]["crawl_date"].startswith("1970-01-01")
    assert peak < 8 * MiB


def test_parquet_input_bound_stops_between_row_groups(tmp_path: Path) -> None:
    texts = [f"văn bản số {i} " * 40 for i in range(4000)]
    path = tmp_path / "groups.parquet"
    pq.write_table(pa.table({"text": texts}), path, row_group_size=1000)
    md = pq.ParquetFile(path).metadata
    two_groups = sum(md.row_group(i).column(0).total_uncompressed_size for i in range(2))
    with open(path, "rb") as fh:
        records, quarantine = _collect(read_parquet(fh, f"file://{path}",
                                                    {**SOURCE, "max_input_bytes": two_groups + 1}))
    assert [r["raw_text"] for r in records] == texts[:2000]
    assert [(q["error_class"], q["pointer"]) for q in quarantine] == [("InputTooLargeError", "row:2000")]


def test_parquet_damaged_page_keeps_the_rows_before(tmp_path: Path) -> None:
    buf = io.BytesIO()
    pq.write_table(pa.table({"text": [f"văn bản {i} " * 50 for i in range(4000)]}), buf,
                   row_group_size=1000, compression="zstd", use_dictionary=False)
    raw = bytearray(buf.getvalue())
    col = pq.ParquetFile(io.BytesIO(bytes(raw))).metadata.row_group(2).column(0)
    start, size = col.data_page_offset, col.total_compressed_size
    raw[start + size // 3:start + size // 2] = bytes(b ^ 0x5A for b in raw[start + size // 3:start + size // 2])
    records, quarantine = _collect(read_parquet(io.BytesIO(bytes(raw)), "file:///x.parquet", SOURCE))
    assert len(records) == 2000
    assert [q["pointer"] for q in quarantine] == ["row:2000"] and "rows before it were kept" in quarantine[0]["message"]


class _Unseekable(io.RawIOBase):
    """A store stream: reads only, no seek (Parquet needs its footer, at the end)."""

    def __init__(self, data: bytes) -> None:
        self._buf = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        return self._buf.readinto(b)


def test_parquet_from_a_stream_is_spooled_within_the_input_bound() -> None:
    buf = io.BytesIO()
    pq.write_table(pa.table({"text": ["một", "hai"]}), buf)
    records, _ = _collect(read_parquet(_Unseekable(buf.getvalue()), "s3://b/x.parquet", SOURCE))
    assert [r["raw_text"] for r in records] == ["một", "hai"]
    _, quarantine = _collect(read_parquet(_Unseekable(buf.getvalue()), "s3://b/x.parquet",
                                          {**SOURCE, "max_input_bytes": 100}))
    assert [q["error_class"] for q in quarantine] == ["InputTooLargeError"]


def _warc(path: Path, payloads: list[tuple[str, str, bytes]]) -> Path:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for kind, url, body in payloads:
            if kind == "response":
                headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")],
                                           protocol="HTTP/1.1")
                rec = writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                http_headers=headers)
            else:
                rec = writer.create_warc_record(url, "conversion", payload=io.BytesIO(body),
                                                warc_content_type="text/plain")
            writer.write_record(rec)
    return path


def test_warc_payload_over_the_record_bound_is_quarantined_and_reading_goes_on(tmp_path: Path) -> None:
    rng = random.Random(5)
    words = "trang rất lớn người dân thành phố xe buýt điện tuyến mới giá vé".split()
    block = " ".join(rng.choice(words) for _ in range(12_000)).encode() + b" "  # > gzip's window
    huge_text = block * 35  # 2 MB that gzip shrinks only about 4:1
    path = _warc(tmp_path / "big.warc.gz", [
        ("conversion", "https://a.vn/1", "Bản tin ngắn thứ nhất.".encode()),
        ("response", "https://a.vn/huge", b"<html><body><p>" + huge_text + b"</p></body></html>"),
        ("conversion", "https://a.vn/huge-text", huge_text),
        ("conversion", "https://a.vn/2", "Bản tin ngắn thứ hai.".encode()),
    ])
    with open(path, "rb") as fh:
        records, quarantine, peak = _traced_peak(
            lambda: _collect(read_warc(fh, f"file://{path}", {**SOURCE, "max_record_bytes": MiB // 4})))
    assert [r["url"] for r in records] == ["https://a.vn/1", "https://a.vn/2"]
    assert [q["error_class"] for q in quarantine] == ["RecordTooLargeError"] * 2
    assert all(f"more than {MiB // 4:,} bytes" in q["message"] and "max_record_bytes" in q["message"]
               for q in quarantine)
    assert peak < 2 * MiB  # only the bound's worth of each payload was read


def test_warc_input_bound_stops_at_a_record(tmp_path: Path) -> None:
    path = _warc(tmp_path / "many.warc.gz", [
        ("conversion", f"https://a.vn/{i}", ("Bài số %d. " % i).encode() * 300) for i in range(10)])
    with open(path, "rb") as fh:
        records, quarantine = _collect(read_warc(fh, f"file://{path}",
                                                 {**SOURCE, "max_input_bytes": 12_000}))
    assert 0 < len(records) < 10
    assert [q["error_class"] for q in quarantine] == ["InputTooLargeError"]


def test_source_config_bounds_reach_the_readers() -> None:
    src = SourceConfig(name="s", format="jsonl", paths=["x"], max_input_bytes=5 * MiB,
                       max_record_bytes=2 * MiB, max_json_depth=64)
    limits = ReadLimits.of(src.model_dump(mode="json"))
    assert (limits.max_input_bytes, limits.max_record_bytes, limits.max_json_depth) == (5 * MiB, 2 * MiB, 64)
    defaults = ReadLimits.of(SourceConfig(name="s", format="jsonl", paths=["x"]).model_dump())
    assert defaults == ReadLimits()
    with pytest.raises(ValueError):
        SourceConfig(name="s", format="jsonl", paths=["x"], max_json_depth=5000)


@pytest.mark.slow
def test_ingest_of_bombs_deep_json_and_huge_records_reconciles(tmp_path: Path) -> None:
    from pipelines.config import load_ingest_config
    from pipelines.ingest import run_ingest
    from storage.local import LocalStore

    data = tmp_path / "in"
    data.mkdir()
    article = "Hôm nay trời đẹp, người dân đi dạo quanh hồ Gươm rất đông vui. " * 6
    head = _good(article, article.replace("Hôm nay", "Sáng nay"))
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    (data / "bomb.jsonl.gz").write_bytes(c.compress(head) + c.compress(b"\n" * (40 * MiB)) + c.flush())
    (data / "deep.jsonl").write_bytes(_good(article.replace("Hôm nay", "Chiều nay"))
                                      + b"[" * 100_000 + b"]" * 100_000 + b"\n")
    pq.write_table(pa.table({"text": [article.replace("Hôm nay", "Tối nay"), "x" * (3 * MiB)]}),
                   data / "big.parquet")
    with gzip.open(data / "ok.jsonl.gz", "wb") as fh:
        fh.write(_good(article.replace("Hôm nay", "Hôm qua")))
    cfg = tmp_path / "bounds.yaml"
    cfg.write_text(f"""
dataset: bounds
sources:
  - name: lines
    format: jsonl
    paths: ["{data}/*.jsonl*"]
    max_input_bytes: 16777216
  - name: table
    format: parquet
    paths: ["{data}/big.parquet"]
    max_record_bytes: 1048576
""")
    result = run_ingest(load_ingest_config(cfg), LocalStore(tmp_path / "store"))
    stats = result.stats
    assert stats["totals"]["reconciles"] and result.version == "v1"
    assert {"InputTooLargeError", "JsonTooDeepError", "RecordTooLargeError"} <= set(stats["quarantined_by_error"])
    assert stats["sources"]["lines"]["inputs"] == 2 + 1 + 2 + 1  # bomb: 2 records + its row
    assert stats["sources"]["table"]["inputs"] == 2
