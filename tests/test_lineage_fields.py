"""Lineage (issue 10, "Outputs open with no glue"): a record keeps its source's own id
(``source_id``) and the fields a source names (``extra``, one JSON object), an absent crawl
date is null rather than '', counts are integers, and the shards' schema is versioned."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("filters.normalize")

from pipelines.common import keep_rule  # noqa: E402
from pipelines.config import SourceConfig  # noqa: E402
from pipelines.readers import read_jsonl, read_parquet, read_warc  # noqa: E402
from schemas.text import duplicates_schema, rejected_schema, text_record_schema  # noqa: E402
from tests.warc_fixtures import write_sample_warc  # noqa: E402

SOURCE = {"name": "src", "license": "CC-BY-4.0", "text_field": "text"}
PROVENANCE = ["id", "source", "uri", "pointer", "source_id", "url", "crawl_date", "license", "extra"]


def _collect(outcomes):
    records, quarantine = [], []
    for kind, row in outcomes:
        (records if kind == "record" else quarantine).append(row)
    return records, quarantine


def _jsonl(*objs: dict) -> io.BytesIO:
    return io.BytesIO(b"".join(json.dumps(o, ensure_ascii=False).encode() + b"\n" for o in objs))


def _provenance_table(records: list[dict]) -> pa.Table:
    """The records as the published shards' provenance columns hold them (raises if a value
    cannot be stored there)."""
    fields = [f for f in text_record_schema([], []) if f.name in PROVENANCE]
    return pa.Table.from_pylist([{f.name: r[f.name] for f in fields} for r in records],
                                schema=pa.schema(fields))


# -- source_id ------------------------------------------------------------------------------

def test_jsonl_id_is_kept_as_a_string_and_null_when_absent() -> None:
    records, quarantine = _collect(read_jsonl(_jsonl(
        {"id": 17, "text": "một"}, {"id": "bai-2", "text": "hai"}, {"text": "ba"},
        {"id": None, "text": "bốn"}), "file:///x.jsonl", SOURCE))
    assert not quarantine
    assert [r["source_id"] for r in records] == ["17", "bai-2", None, None]
    _provenance_table(records)


def test_id_field_is_configurable() -> None:
    source = {**SOURCE, "id_field": "doc_id"}
    records, _ = _collect(read_jsonl(_jsonl({"doc_id": 5, "id": "not-this", "text": "một"}),
                                     "file:///x.jsonl", source))
    assert records[0]["source_id"] == "5"


def test_parquet_id_column_is_kept_as_a_string() -> None:
    buf = io.BytesIO()
    pq.write_table(pa.table({"id": pa.array([1, None, 3], pa.int64()), "text": ["một", "hai", "ba"]}), buf)
    buf.seek(0)
    records, _ = _collect(read_parquet(buf, "file:///x.parquet", SOURCE))
    assert [r["source_id"] for r in records] == ["1", None, "3"]


def test_warc_source_id_is_the_record_id_and_extras_are_named_headers(tmp_path: Path) -> None:
    path = tmp_path / "crawl.warc"
    write_sample_warc(path)
    source = {**SOURCE, "extra_fields": ["WARC-Type", "Content-Type", "X-Not-There"]}
    with open(path, "rb") as fh:
        records, _ = _collect(read_warc(fh, f"file://{path}", source))
    article = next(r for r in records if r["url"].endswith("xe-buyt"))
    assert article["source_id"] == article["pointer"] and article["source_id"].startswith("<urn:uuid:")
    # the WARC header first (the record's own Content-Type), its HTTP header otherwise
    assert json.loads(article["extra"]) == {"WARC-Type": "response",
                                            "Content-Type": "application/http; msgtype=response"}
    _provenance_table(records)


def test_warc_extras_fall_back_to_http_headers(tmp_path: Path) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from tests.warc_fixtures import ARTICLE

    path = tmp_path / "one.warc"
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=False)
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html"), ("Last-Modified", "Tue, 01 Oct 2026")],
                                protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(
            "https://tin.example.vn/a", "response", payload=io.BytesIO(ARTICLE.encode()), http_headers=http))
    with open(path, "rb") as fh:
        (r,), _ = _collect(read_warc(fh, f"file://{path}", {**SOURCE, "extra_fields": ["last-modified"]}))
    assert json.loads(r["extra"]) == {"last-modified": "Tue, 01 Oct 2026"}


# -- extra ----------------------------------------------------------------------------------

def test_extra_fields_are_one_json_object_of_the_fields_each_record_has() -> None:
    source = {**SOURCE, "extra_fields": ["author", "tags", "meta"]}
    records, quarantine = _collect(read_jsonl(_jsonl(
        {"text": "một", "author": "Nguyễn Văn A", "tags": ["x", 2], "meta": {"n": 1.5}},
        {"text": "hai", "author": None},
        {"text": "ba"}), "file:///x.jsonl", source))
    assert not quarantine
    extras = [r["extra"] for r in records]
    assert json.loads(extras[0]) == {"author": "Nguyễn Văn A", "tags": ["x", 2], "meta": {"n": 1.5}}
    assert "Nguyễn" in extras[0]  # UTF-8 as is, not \\u escapes
    assert json.loads(extras[1]) == {"author": None}  # present as null
    assert json.loads(extras[2]) == {}  # absent: left out
    _provenance_table(records)


def test_extra_is_null_when_the_source_names_no_fields() -> None:
    records, _ = _collect(read_jsonl(_jsonl({"text": "một", "author": "A"}), "file:///x.jsonl", SOURCE))
    assert records[0]["extra"] is None


def test_parquet_extras_keep_nested_and_typed_columns() -> None:
    import datetime as dt

    table = pa.table({
        "text": ["một", "hai"],
        "author": ["An", None],
        "meta": pa.array([{"page": 1, "lang": "vi"}, None]),
        "published": pa.array([dt.datetime(2024, 5, 1, 8, 30), None], pa.timestamp("s")),
        "score": [float("nan"), 2.5],
    })
    buf = io.BytesIO()
    pq.write_table(table, buf)
    buf.seek(0)
    source = {**SOURCE, "extra_fields": ["author", "meta", "published", "score", "missing"]}
    records, quarantine = _collect(read_parquet(buf, "file:///x.parquet", source))
    assert not quarantine
    assert json.loads(records[0]["extra"]) == {"author": "An", "meta": {"page": 1, "lang": "vi"},
                                               "published": "2024-05-01T08:30:00", "score": None}
    assert json.loads(records[1]["extra"]) == {"author": None, "meta": None, "published": None,
                                               "score": 2.5}


def test_values_arrow_cannot_store_are_made_storable() -> None:
    line = b'{"text": "m\\u1ed9t", "id": "a\\ud800", "url": 7, "date": 20240101, "x": "b\\udfff"}\n'
    records, quarantine = _collect(read_jsonl(io.BytesIO(line), "file:///x.jsonl",
                                              {**SOURCE, "extra_fields": ["x"]}))
    assert not quarantine
    (r,) = records
    assert r["url"] == "7" and r["crawl_date"] == "20240101"
    assert r["source_id"] == "a\\ud800" and json.loads(r["extra"]) == {"x": "b\udfff"}
    _provenance_table(records)


def test_oversize_extras_are_quarantined_not_let_past_the_record_bound() -> None:
    source = {**SOURCE, "extra_fields": ["blob"], "max_extra_bytes": 1024, "max_record_bytes": 4096}
    records, quarantine = _collect(read_jsonl(_jsonl(
        {"text": "một", "blob": "x" * 2000},              # extras over max_extra_bytes
        {"text": "y" * 3500, "blob": "z" * 1000},          # text + extras over max_record_bytes
        {"text": "hai", "blob": "ok"}), "file:///x.jsonl", source))
    assert [r["raw_text"] for r in records] == ["hai"]
    assert [q["error_class"] for q in quarantine] == ["RecordTooLargeError"] * 2
    assert "max_extra_bytes" in quarantine[0]["message"] and quarantine[0]["pointer"] == "line:1"
    assert "max_record_bytes" in quarantine[1]["message"] and quarantine[1]["pointer"] == "line:2"

    buf = io.BytesIO()
    pq.write_table(pa.table({"text": ["một", "hai"], "blob": ["x" * 2000, "ok"]}), buf)
    buf.seek(0)
    records, quarantine = _collect(read_parquet(buf, "file:///x.parquet", source))
    assert [r["raw_text"] for r in records] == ["hai"]
    assert "max_extra_bytes" in quarantine[0]["message"] and quarantine[0]["pointer"] == "row:0"


def test_source_config_has_the_lineage_fields() -> None:
    src = SourceConfig(name="s", format="jsonl", paths=["x"])
    assert (src.id_field, src.extra_fields, src.max_extra_bytes) == ("id", [], 64 * 1024)
    src = SourceConfig(name="s", format="jsonl", paths=["x"], id_field="doc", extra_fields=["a", "b"])
    assert src.model_dump()["extra_fields"] == ["a", "b"]


# -- crawl_date -----------------------------------------------------------------------------

def test_absent_or_empty_crawl_date_is_null() -> None:
    records, _ = _collect(read_jsonl(_jsonl({"text": "một"}, {"text": "hai", "date": ""},
                                            {"text": "ba", "date": "2026-01-01"}),
                                     "file:///x.jsonl", SOURCE))
    assert [r["crawl_date"] for r in records] == [None, None, "2026-01-01"]
    buf = io.BytesIO()
    pq.write_table(pa.table({"text": ["một"]}), buf)
    buf.seek(0)
    records, _ = _collect(read_parquet(buf, "file:///x.parquet", SOURCE))
    assert records[0]["crawl_date"] is None


def test_keep_rule_still_sorts_a_missing_date_last() -> None:
    dated, undated = {"crawl_date": "2026-12-31", "id": "z"}, {"crawl_date": None, "id": "a"}
    assert min([undated, dated], key=keep_rule) is dated
    assert min([{"crawl_date": None, "id": "b"}, undated], key=keep_rule) is undated


# -- schemas --------------------------------------------------------------------------------

def test_schemas_are_versioned_with_lineage_and_integer_counts() -> None:
    kept = text_record_schema(["words", "gopher_hash_ratio"], ["PHONE", "EMAIL"])
    assert kept.metadata[b"kho.schema"] == b"kho.text/2"
    assert rejected_schema([], []).metadata[b"kho.schema"] == b"kho.text.rejected/2"
    assert duplicates_schema().metadata[b"kho.schema"] == b"kho.duplicates/2"
    for schema in (kept, rejected_schema([], []), duplicates_schema()):
        assert schema.field("source_id").type == pa.string() and schema.field("source_id").nullable
        assert schema.field("extra").type == pa.string() and schema.field("extra").nullable
        assert schema.field("crawl_date").nullable
    assert kept.field("chars").type == pa.int64() and kept.field("pii_total").type == pa.int32()
    assert all(f.type == pa.int32() for f in kept.field("pii").type)
    assert all(f.type == pa.float64() for f in kept.field("signals").type)


# -- end to end -----------------------------------------------------------------------------

ARTICLE = ("Hà Nội là thủ đô của nước Cộng hòa xã hội chủ nghĩa Việt Nam. Thành phố nằm bên bờ sông "
           "Hồng, có lịch sử hơn một nghìn năm. Người dân Hà Nội rất thân thiện và hiếu khách, du "
           "khách đến đây thường ghé thăm hồ Hoàn Kiếm và phố cổ. Liên hệ 0912 345 678.")
OTHER = ("Thành phố Hồ Chí Minh là trung tâm kinh tế lớn nhất của Việt Nam. Thành phố có dân số "
         "đông nhất cả nước và là nơi tập trung nhiều doanh nghiệp. Giao thông ở đây khá đông đúc, "
         "nhất là vào giờ cao điểm buổi sáng và buổi chiều.")


@pytest.fixture(scope="module")
def lineage_run(tmp_path_factory):
    pytest.importorskip("filters.pii")
    from pipelines.config import load_ingest_config
    from pipelines.ingest import run_ingest
    from storage.local import LocalStore

    base = tmp_path_factory.mktemp("lineage")
    docs = [
        {"id": 17, "text": ARTICLE, "url": "https://a.vn/1", "date": "2024-01-01",
         "author": "Biên tập viên", "tags": ["thủ đô", "du lịch"]},
        {"id": 18, "text": ARTICLE, "url": "https://mirror.vn/1"},  # exact duplicate, no date
        {"id": "bai-3", "text": OTHER, "url": "https://a.vn/3", "section": {"name": "kinh tế"}},
        {"text": "Short.", "url": "https://a.vn/4", "date": ""},  # rejected, no id, empty date
    ]
    (base / "docs.jsonl").write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs),
                                     encoding="utf-8")
    (base / "cfg.yaml").write_text(
        "dataset: lineage\nsources:\n  - name: s1\n    format: jsonl\n    paths: [docs.jsonl]\n"
        "    extra_fields: [author, tags, section]\n"
        "quality: {min_doc_words: 5}\noutput: {write_buckets: 1}\n", encoding="utf-8")
    store = LocalStore(base / "store")
    result = run_ingest(load_ingest_config(base / "cfg.yaml"), store)
    return store, result


@pytest.mark.slow
def test_end_to_end_shards_carry_lineage_with_types_pyarrow_and_polars_read(lineage_run) -> None:
    import polars as pl

    from storage.api import shard_urls

    store, result = lineage_run
    t = result.stats["totals"]
    assert (t["kept"], t["duplicates"], t["rejected"], t["quarantined"]) == (2, 1, 1, 0)
    (shard,) = shard_urls(store, "lineage", result.version)
    table = pq.read_table(shard)
    assert table.schema.metadata[b"kho.schema"] == b"kho.text/2"
    rows = {r["source_id"]: r for r in table.to_pylist()}
    assert set(rows) == {"17", "bai-3"}  # the dated copy of the duplicate is kept
    assert rows["17"]["crawl_date"] == "2024-01-01" and rows["bai-3"]["crawl_date"] is None
    assert json.loads(rows["17"]["extra"]) == {"author": "Biên tập viên", "tags": ["thủ đô", "du lịch"]}
    assert json.loads(rows["bai-3"]["extra"]) == {"section": {"name": "kinh tế"}}
    assert rows["17"]["pii"]["PHONE"] == 1 and rows["17"]["pii_total"] >= 1

    df = pl.read_parquet(shard)
    assert df.schema["source_id"] == pl.String and df.schema["extra"] == pl.String
    assert df.schema["crawl_date"] == pl.String and df.schema["chars"] == pl.Int64
    assert df.schema["pii_total"] == pl.Int32
    assert all(f.dtype == pl.Int32 for f in df.schema["pii"].fields)
    assert df.filter(pl.col("crawl_date").is_null()).height == 1
    authors = df.select(pl.col("extra").str.json_path_match("$.author")).to_series().to_list()
    assert sorted(authors, key=str) == ["Biên tập viên", None]

    import duckdb

    got = duckdb.sql(f"SELECT source_id, extra->>'author' FROM read_parquet('{shard}') "
                     "WHERE crawl_date IS NOT NULL").fetchall()
    assert got == [("17", "Biên tập viên")]


@pytest.mark.slow
def test_end_to_end_run_tables_have_null_dates_and_lineage(lineage_run) -> None:
    store, result = lineage_run
    tables = {}
    for name in ("rejected", "duplicates"):
        (key,) = result.stats["tables"][name]
        table = pq.read_table(store.url(key))
        assert table.schema.metadata[b"kho.schema"] == f"kho.{'text.' if name == 'rejected' else ''}{name}/2".encode()
        tables[name] = table.to_pylist()
    (dup,) = tables["duplicates"]
    assert dup["source_id"] == "18" and dup["crawl_date"] is None and dup["kind"] == "exact"
    assert json.loads(dup["extra"]) == {}
    (rej,) = tables["rejected"]
    assert rej["source_id"] is None and rej["crawl_date"] is None and rej["url"] == "https://a.vn/4"


@pytest.mark.slow
def test_end_to_end_hf_datasets_loads_the_shard(lineage_run, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from datasets import load_dataset

    from storage.api import shard_urls

    store, result = lineage_run
    ds = load_dataset("parquet", data_files=shard_urls(store, "lineage", result.version),
                      split="train", cache_dir=str(tmp_path / "hf"))
    assert ds.features["extra"].dtype == "string" and ds.features["source_id"].dtype == "string"
    assert sorted(ds["source_id"]) == ["17", "bai-3"]
