"""Bad input goes to quarantine with a clear error and reading goes on — real corrupt files."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("filters.normalize")

from pipelines.readers import read_jsonl, read_parquet, read_warc  # noqa: E402
from tests.warc_fixtures import write_sample_warc, write_sample_wet  # noqa: E402

SOURCE = {"name": "src", "license": "CC-BY-4.0", "text_field": "text"}


def _collect(outcomes):
    records, quarantine = [], []
    for kind, row in outcomes:
        (records if kind == "record" else quarantine).append(row)
    return records, quarantine


def _jsonl(lines: list[bytes]) -> bytes:
    return b"\n".join(lines) + b"\n"


def test_good_jsonl_lines_become_records_with_provenance() -> None:
    data = _jsonl([json.dumps({"text": "Xin chào", "url": "https://a.vn", "date": "2026-01-01"},
                              ensure_ascii=False).encode()])
    records, quarantine = _collect(read_jsonl(io.BytesIO(data), "file:///x.jsonl", SOURCE))
    assert not quarantine
    (r,) = records
    assert r["raw_text"] == "Xin chào" and r["url"] == "https://a.vn" and r["pointer"] == "line:1"
    assert r["license"] == "CC-BY-4.0" and len(r["id"]) == 32


def test_invalid_utf8_malformed_json_and_missing_field_are_quarantined_and_reading_goes_on() -> None:
    data = _jsonl([b'{"text": "m\xff\xfe"}', b'{"text": "thi\xe1\xba\xbfu', b'{"body": "x"}',
                   json.dumps({"text": "vẫn đọc tiếp"}, ensure_ascii=False).encode()])
    records, quarantine = _collect(read_jsonl(io.BytesIO(data), "file:///x.jsonl", SOURCE))
    assert [r["raw_text"] for r in records] == ["vẫn đọc tiếp"]
    assert [q["pointer"] for q in quarantine] == ["line:1", "line:2", "line:3"]
    assert quarantine[0]["error_class"] == "TextDecodeError"
    assert quarantine[1]["error_class"] == "JSONDecodeError" and "malformed JSON" in quarantine[1]["message"]
    assert quarantine[2]["error_class"] == "MissingFieldError" and "text_field" in quarantine[2]["message"]
    assert quarantine[0]["raw"].startswith(b'{"text"')


def test_truncated_gzip_keeps_records_before_the_cut() -> None:
    lines = [json.dumps({"text": f"đoạn văn số {i} " * 40}, ensure_ascii=False).encode() for i in range(400)]
    full = gzip.compress(_jsonl(lines))
    cut = full[: len(full) // 2]
    records, quarantine = _collect(read_jsonl(io.BytesIO(cut), "file:///x.jsonl.gz", SOURCE))
    assert 0 < len(records) < 400
    assert [q["error_class"] for q in quarantine] == ["TruncatedInputError"]
    assert "damaged" in quarantine[0]["message"]


def test_zstd_jsonl_is_read() -> None:
    import zstandard

    data = zstandard.ZstdCompressor().compress(_jsonl([b'{"text": "a"}', b'{"text": "b"}']))
    records, _ = _collect(read_jsonl(io.BytesIO(data), "file:///x.jsonl.zst", SOURCE))
    assert [r["raw_text"] for r in records] == ["a", "b"]


def test_empty_file_is_quarantined_as_one_input() -> None:
    records, quarantine = _collect(read_jsonl(io.BytesIO(b""), "file:///empty.jsonl", SOURCE))
    assert not records and [q["error_class"] for q in quarantine] == ["EmptyInputError"]


def test_gigantic_line_is_skipped_with_bounded_memory() -> None:
    big = b'{"text": "' + b"a" * 5_000_000 + b'"}'
    data = _jsonl([b'{"text": "truoc"}', big, b'{"text": "sau"}'])
    records, quarantine = _collect(read_jsonl(io.BytesIO(data), "file:///x.jsonl", SOURCE,
                                              max_line_bytes=1_000_000))
    assert [r["raw_text"] for r in records] == ["truoc", "sau"]
    assert quarantine[0]["error_class"] == "LineTooLongError" and quarantine[0]["pointer"] == "line:2"
    assert "5,000,0" in quarantine[0]["message"]


def test_parquet_rows_become_records(tmp_path: Path) -> None:
    buf = io.BytesIO()
    pq.write_table(pa.table({"text": ["một", None, "ba"], "url": ["u1", "u2", "u3"]}), buf)
    records, quarantine = _collect(read_parquet(io.BytesIO(buf.getvalue()), "file:///x.parquet", SOURCE))
    assert [r["raw_text"] for r in records] == ["một", "ba"]
    assert [q["pointer"] for q in quarantine] == ["row:1"]


def test_corrupt_parquet_is_quarantined() -> None:
    _, quarantine = _collect(read_parquet(io.BytesIO(b"PAR1garbage"), "file:///x.parquet", SOURCE))
    assert len(quarantine) == 1 and "not a readable Parquet" in quarantine[0]["message"]


def test_warc_extracts_html_and_quarantines_broken_records(tmp_path: Path) -> None:
    path = tmp_path / "crawl.warc"
    expected = write_sample_warc(path)
    with open(path, "rb") as fh:
        records, quarantine = _collect(read_warc(fh, f"file://{path}", SOURCE))
    assert len(records) == expected["records"]
    article = next(r for r in records if r["url"].endswith("xe-buyt"))
    assert "xe buýt điện" in article["raw_text"] and "Trang chủ" not in article["raw_text"]
    assert article["pointer"].startswith("<urn:uuid:")
    assert len(quarantine) == expected["quarantine"]
    assert {q["error_class"] for q in quarantine} >= {"UnsupportedContentError"}


def test_wet_conversion_records_become_documents_and_bad_bytes_are_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "sample.warc.wet.gz"
    expected = write_sample_wet(path)
    with open(path, "rb") as fh:
        records, quarantine = _collect(read_warc(fh, f"file://{path}", SOURCE))
    assert sorted(r["url"] for r in records) == expected["urls"]
    weather = next(r for r in records if r["url"].endswith("thoi-tiet"))
    assert weather["raw_text"].startswith("Miền Bắc") and "\n" in weather["raw_text"]
    assert weather["pointer"].startswith("<urn:uuid:") and weather["crawl_date"]
    assert len(quarantine) == expected["quarantine"]
    assert quarantine[0]["error_class"] == "TextDecodeError" and quarantine[0]["raw"].startswith(b"Gi")


def _as_cp1258(text: str) -> bytes:
    """How Windows-1258 stores Vietnamese: shaped base letters plus separate tone marks."""
    import unicodedata

    tones = "\u0300\u0301\u0303\u0309\u0323"
    out = []
    for ch in text:
        parts = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in tones))
        out.append(base + "".join(c for c in parts if c in tones))
    return "".join(out).encode("cp1258")


def test_cp1258_source_is_decoded_when_declared_and_when_detected() -> None:
    text = "Tiếng Việt có dấu được lưu bằng bảng mã Windows 1258 ngày trước"
    raw = _as_cp1258(json.dumps({"text": text}, ensure_ascii=False))
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    for encoding in ("cp1258", "legacy"):
        records, quarantine = _collect(read_jsonl(io.BytesIO(raw + b"\n"), "file:///x.jsonl",
                                                  {**SOURCE, "encoding": encoding}))
        assert not quarantine and records[0]["raw_text"] == text
    _, quarantine = _collect(read_jsonl(io.BytesIO(raw + b"\n"), "file:///x.jsonl", SOURCE))
    assert quarantine[0]["error_class"] == "TextDecodeError"
