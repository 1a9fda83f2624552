"""Datasheets: a version built by the real text ingest from a corpus with known composition
(planted domains, licences, dialect markers, a no-diacritics document, crawl months, a
rejected and a duplicated input), checked figure by figure; the Hugging Face card; the CLI;
gc keeping the cards; the card written at commit for the bundled sample."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

pytest.importorskip("filters.quality")
pytest.importorskip("filters.langid")

from huggingface_hub import DatasetCard, DatasetCardData  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from pipelines.cli import SAMPLE_CONFIG, app  # noqa: E402
from pipelines.config import load_ingest_config  # noqa: E402
from pipelines.datasheet import DatasheetBounds, build_datasheet  # noqa: E402
from pipelines.datasheet import lexicons as lx  # noqa: E402
from pipelines.datasheet.card import card_keys, hf_license, render_html, size_category  # noqa: E402
from pipelines.datasheet.domains import domain_and_tld, registered_domain  # noqa: E402
from pipelines.datasheet.text import FINGERPRINT as TEXT_FINGERPRINT  # noqa: E402
from pipelines.datasheet.text import TextScan  # noqa: E402
from pipelines.ingest import run_ingest  # noqa: E402
from pipelines.sample_data.make_sample import ARTICLES, FORUM, NEWS, OTHER_LANG  # noqa: E402
from storage.api import open_dataset  # noqa: E402
from storage.gc import collect_garbage  # noqa: E402
from storage.layout import datasheet_prefix, review_summary_key  # noqa: E402
from storage.local import LocalStore  # noqa: E402
from storage.versions import VersionStore  # noqa: E402

NORTH = " Mẹ tôi bảo bây giờ phải về quê ngay, vâng lời mẹ thì tốt hơn."
SOUTH = " Dạ, người bán nói hổng biết nhiêu tiền một ký nên cứ hỏi lại."
CENTRAL = " Chừ răng mà rứa, mô có ai biết chuyện ni đâu."


def _strip_marks(text: str) -> str:
    """Vietnamese as typed without tone marks (đ -> d)."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


def _docs() -> tuple[list[dict], list[dict]]:
    """(source one: 6 docs, source two: 6 inputs of which 4 are kept)."""
    texts = [f"{t}\n\n{b}" for t, b in NEWS] + [f"{t}\n\n{b}" for _, t, b in ARTICLES]  # 9 documents
    texts[0] += NORTH
    texts[1] += NORTH
    texts[2] += SOUTH
    texts[3] += CENTRAL
    nodiac = _strip_marks(FORUM[0] + " " + FORUM[1])
    hosts = ["a.vn", "tin.a.vn", "www.a.vn", "a.vn", "tin.a.vn", "a.vn",  # 6 x a.vn
             "b.com.vn", "news.b.com.vn", "b.com.vn", "c.org"]  # 3 x b.com.vn, 1 x c.org
    months = ["2026-01"] * 5 + ["2026-02"] * 3 + ["2026-03"] * 2
    rows = [{"id": f"d{i}", "url": f"https://{h}/bai/{i}", "date": f"{m}-1{i % 10}", "text": t}
            for i, (t, h, m) in enumerate(zip(texts + [nodiac], hosts, months))]
    one, two = rows[:6], rows[6:]
    two.append({"id": "en", "url": "https://c.org/en", "date": "2026-03-01", "text": OTHER_LANG[0]})
    two.append({**rows[7], "id": "dup", "date": "2026-03-20"})  # exact copy, crawled later
    return one, two


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _config(tmp: Path, two_paths: list[str]) -> Path:
    cfg = tmp / "ingest.yaml"
    cfg.write_text(
        "dataset: planted\n"
        "sources:\n"
        "  - {name: one, format: jsonl, paths: [one.jsonl], license: CC-BY-4.0}\n"
        f"  - {{name: two, format: jsonl, paths: [{', '.join(two_paths)}], license: CC-BY-SA-4.0}}\n"
        "language: {keep: [vi], min_score: 0.5, no_diacritics: keep}\n"
        "quality: {min_stop_words: 0}\n"
        "dedup: {exact: true}\n", encoding="utf-8")
    return cfg


slow = pytest.mark.slow


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """The planted corpus ingested twice: v1 from both sources, v2 one more document."""
    tmp = tmp_path_factory.mktemp("planted")
    one, two = _docs()
    _write_jsonl(tmp / "one.jsonl", one)
    _write_jsonl(tmp / "two.jsonl", two)
    store = LocalStore(tmp / "store")
    r1 = run_ingest(load_ingest_config(_config(tmp, ["two.jsonl"])), store)
    extra = {"id": "late", "url": "https://d.vn/x", "date": "2026-04-02",
             "text": f"{FORUM[3]} Bây giờ mọi người biết thế nào rồi đó."}
    _write_jsonl(tmp / "three.jsonl", [extra])
    r2 = run_ingest(load_ingest_config(_config(tmp, ["two.jsonl", "three.jsonl"])), store)
    return store, r1, r2, one + two


def _shares(items: list[dict]) -> dict:
    return {d["value"]: d["count"] for d in items}


@slow
def test_every_figure_of_the_planted_version(planted) -> None:
    store, r1, _, inputs = planted
    assert r1.version == "v1"
    sheet = build_datasheet(store, "planted", "v1")
    c = sheet["composition"]["text"]
    assert c["rows"] == 10 and sheet["rows"] == 10
    assert _shares(c["by_source"]) == {"one": 6, "two": 4}
    assert _shares(c["by_license"]) == {"CC-BY-4.0": 6, "CC-BY-SA-4.0": 4}
    assert _shares(c["by_domain"]) == {"a.vn": 6, "b.com.vn": 3, "c.org": 1}
    assert [d["share"] for d in c["by_domain"]] == [0.6, 0.3, 0.1]
    assert _shares(c["by_tld"]) == {"vn": 9, "org": 1}
    assert c["by_crawl_month"] == [{"value": "2026-01", "count": 5, "share": 0.5},
                                   {"value": "2026-02", "count": 3, "share": 0.3},
                                   {"value": "2026-03", "count": 2, "share": 0.2}]
    assert _shares(c["by_language"]) == {"vi": 10}
    assert _shares(c["by_lang_variant"]) == {"standard": 9, "no_diacritics": 1}
    stored = open_dataset(store, "planted", "v1").to_table(columns=["text", "signals"]).to_pylist()
    kept_texts = [r["text"] for r in stored]
    assert c["words"] == int(sum(r["signals"]["words"] for r in stored))
    assert c["text_bytes"] == sum(len(t.encode()) for t in kept_texts)
    assert c["stored_bytes"] == sum(s.bytes for s in VersionStore(store).shards(VersionStore(store).manifest("planted@v1")))

    s = sheet["skew"]["text"]
    assert s["top_domain_share"]["value"] == 0.6 and s["top_domain_share"]["domain"] == "a.vn"
    assert s["top_domain_share"]["flagged"]  # > 0.5 by default
    assert s["top5_domain_share"]["value"] == 1.0
    assert s["domain_hhi"]["value"] == pytest.approx(0.36 + 0.09 + 0.01)
    assert s["domain_hhi"]["flagged"] and s["domain_hhi"]["domains"] == 3
    assert s["no_diacritics_share"]["value"] == 0.1 and not s["no_diacritics_share"]["flagged"]
    d = s["dialect_region"]
    assert d["documents"] == {"northern": 2, "central": 1, "southern": 1}
    assert d["documents_with_markers"] == 4 and d["documents_without_markers"] == 6
    assert d["value"] == {"northern": 0.5, "central": 0.25, "southern": 0.25}
    assert "indicative" in d["limits"].lower() and d["method"]
    male, female = (_count_terms(kept_texts, lx.GENDER_TERMS[g]) for g in ("male", "female"))
    g = s["gender_term_ratio"]
    assert (g["male_terms"], g["female_terms"]) == (male, female)
    assert g["value"] == pytest.approx(male / female)
    assert s["time_coverage"]["value"] == {"first_month": "2026-01", "last_month": "2026-03",
                                           "months_covered": 3, "rows_without_date": 0}
    topics = _shares(s["topic_mix"]["value"])
    assert sum(topics.values()) == 10 and topics.get("thể thao", 0) >= 1
    assert "keyword" in s["topic_mix"]["method"].lower()
    for ind in s.values():
        assert {"value", "measures", "limits", "flagged"} <= ind.keys()

    f = sheet["funnel"]
    assert f["totals"] == {"inputs": 12, "kept": 10, "rejected": 1, "quarantined": 0, "duplicates": 1}
    assert f["rejected_by_reason"] == {"language:other_language": 1}
    assert f["duplicates_by_kind"] == {"exact": 1, "near": 0}

    p = sheet["provenance"]
    assert {(x["name"], x["license"]) for x in p["sources"]} == {("one", "CC-BY-4.0"), ("two", "CC-BY-SA-4.0")}
    assert all(x["uris"] and x["uris"][0].endswith(".jsonl") for x in p["sources"])
    assert [r["run_id"] for r in p["runs"]] == [r1.run_id]
    m = VersionStore(store).manifest("planted@v1")
    assert p["runs"][0]["config_hash"] == m.config_hash and p["runs"][0]["code_version"] == m.code_version
    assert p["merkle_root"] == m.merkle_root and p["verify"]["command"] == "kho verify planted@v1"

    assert sheet["privacy"]["text"]["pii_total"] == 0
    q = sheet["quality"]["text"]["signals"]
    assert q["words"]["count"] == 10 and q["words"]["thresholds"]["min"] == 50
    assert q["words"]["p5"] <= q["words"]["p50"] <= q["words"]["p95"]
    assert q["lang_score"]["thresholds"] == {"min": 0.5}
    assert sheet["quality"]["annotator_precision"]["runs"][0]["status"] == "no judgements yet"


def _index_rows(store, dataset: str, version: str) -> list[dict]:
    """Every row of the version's WebDataset indexes, read directly with pyarrow."""
    import pyarrow.parquet as pq

    vs = VersionStore(store)
    return [r for s in vs.shards(vs.manifest(f"{dataset}@{version}")) if s.format == "wds-index"
            for r in pq.read_table(store.root / s.key, columns=["faces", "plates", "license"]).to_pylist()]


def _count_terms(texts: list[str], terms: tuple[str, ...]) -> int:
    """An independent count: whole-word regex matches of each term, case-folded."""
    n = 0
    for t in texts:
        low = unicodedata.normalize("NFC", t).casefold()
        n += sum(len(re.findall(rf"(?<!\w){re.escape(term)}(?!\w)", low)) for term in terms)
    return n


@slow
def test_lineage_funnel_provenance_and_bounds(planted) -> None:
    store, r1, r2, _ = planted
    assert r2.version == "v2"
    sheet = build_datasheet(store, "planted", "latest", DatasheetBounds(max_top_domain_share=0.9))
    assert sheet["version"] == "v2" and sheet["composition"]["text"]["rows"] == 11
    assert sheet["funnel"]["totals"] == {"inputs": 13, "kept": 11, "rejected": 1, "quarantined": 0, "duplicates": 1}
    assert [r["version"] for r in sheet["funnel"]["runs"]] == ["v2", "v1"]
    assert [r["run_id"] for r in sheet["provenance"]["runs"]] == [r2.run_id, r1.run_id]
    assert sheet["skew"]["text"]["dialect_region"]["documents"]["northern"] == 3
    assert not sheet["skew"]["text"]["top_domain_share"]["flagged"]  # 6/11 < 0.9
    assert sheet["skew"]["text"]["time_coverage"]["value"]["last_month"] == "2026-04"


def _text_shards(store, version: str) -> int:
    vs = VersionStore(store)
    return sum(1 for s in vs.shards(vs.manifest(f"planted@{version}"), "text") if s.format == "parquet")


def _comparable(sheet: dict) -> dict:
    return {k: v for k, v in sheet.items() if k not in ("built_at", "scans")}


@slow
def test_the_card_at_commit_starts_from_the_parents_scan_and_equals_a_full_rebuild(planted) -> None:
    store, *_ = planted
    stored = json.loads(store.get_bytes(card_keys("planted", "v2")["json"]))
    assert stored["scans"] == {"text": "incremental from v1 (+1 shards)"}  # v2 adds one shard
    full = build_datasheet(store, "planted", "v2", incremental=False)
    assert full["scans"] == {"text": f"full ({_text_shards(store, 'v2')} shards)"}
    assert _comparable(stored) == _comparable(full)


@slow
def test_a_stale_or_damaged_parent_scan_means_a_full_scan_with_the_same_figures(planted) -> None:
    from pipelines.datasheet import state

    store, *_ = planted
    key = state.state_key("planted", "v1", "text")
    good = store.get_bytes(key)
    try:
        parent_scan, covers = state.load(TextScan, good, TEXT_FINGERPRINT)
        assert covers == "v1"
        for bad in (good[:100], state.dump(parent_scan, "another-fingerprint", covers="v1")):
            store.put_bytes(key, bad)
            sheet = build_datasheet(store, "planted", "v2")
            assert sheet["scans"] == {"text": f"full ({_text_shards(store, 'v2')} shards)"}
            assert _comparable(sheet) == _comparable(build_datasheet(store, "planted", "v2", incremental=False))
    finally:
        store.put_bytes(key, good)


def test_values_merged_from_two_scans_give_the_quantiles_of_one_scan() -> None:
    import numpy as np

    from pipelines.datasheet import measures

    rng = np.random.default_rng(3)
    a, b = rng.normal(size=700).tolist(), rng.exponential(size=500).tolist()
    one, left, right = measures.Values(), measures.Values(), measures.Values()
    one.add(a + b)
    left.add(a)
    right.add(b)
    left.merge(right)
    assert left.summary() == one.summary()


def test_merged_values_stay_bounded_and_say_they_are_sampled(monkeypatch) -> None:
    from pipelines.datasheet import measures

    monkeypatch.setattr(measures, "MAX_VALUES", 100)
    left, right = measures.Values(), measures.Values()
    left.add(range(90))
    right.add(range(90, 300))  # right alone passes the bound: every other value kept
    left.merge(right)
    summary = left.summary()
    assert left.n <= 100 and summary["count"] == 300 and summary["sampled"] and summary["max"] >= 290


@slow
def test_review_summary_gives_precision_per_filter(planted) -> None:
    store, r1, _, _ = planted
    from review.export import summary_key

    assert review_summary_key(r1.run_id) == summary_key(r1.run_id)
    store.put_bytes(review_summary_key(r1.run_id), json.dumps({"exported_at": "2026-12-01T00:00:00", "judgements": 7,
        "queues": [{"queue": "language", "kind": "filter", "judged": 7, "precision": 0.857,
                    "interval": [0.5, 0.97]}]}).encode())
    try:
        run = build_datasheet(store, "planted", "v1")["quality"]["annotator_precision"]["runs"][0]
    finally:
        store.delete(review_summary_key(r1.run_id))
    assert run["status"] == "judged"
    assert run["filters"] == [{"queue": "language", "kind": "filter", "judged": 7, "precision": 0.857,
                               "interval": [0.5, 0.97]}]


@slow
def test_card_written_at_commit_is_a_valid_hf_card(planted) -> None:
    store, _, _, _ = planted
    keys = card_keys("planted", "v1")
    assert all(store.exists(k) for k in keys.values())
    assert keys["readme"].startswith(datasheet_prefix("planted", "v1") + "/")
    card = DatasetCard(store.get_text(keys["readme"]))
    data = card.data.to_dict()
    assert data["license"] == ["cc-by-4.0", "cc-by-sa-4.0"]
    assert data["language"] == ["vi"] and data["size_categories"] == ["n<1K"]
    assert data["task_categories"] == ["text-generation"]
    again = DatasetCardData(**data)
    assert again.to_dict() == data
    assert "## Skew and bias indicators" in card.text and "kho verify planted@v1" in card.text
    sheet = json.loads(store.get_bytes(keys["json"]))
    assert sheet["version"] == "v1" and sheet["composition"]["text"]["rows"] == 10


@slow
def test_html_escapes_every_value(planted) -> None:
    store, _, _, _ = planted
    sheet = build_datasheet(store, "planted", "v1")
    sheet["composition"]["text"]["by_source"][0]["value"] = "<script>alert(1)</script>"
    page = render_html(sheet)
    assert "<script>alert" not in page and "&lt;script&gt;" in page and "<svg" in page


@slow
def test_cli_prints_the_card_and_builds_a_missing_one(planted) -> None:
    store, _, _, _ = planted
    keys = card_keys("planted", "v2")
    for k in keys.values():
        store.delete(k)
    runner = CliRunner()
    res = runner.invoke(app, ["datasets", "card", "planted", "--store", str(store.root)])
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("---\n") and "# Datasheet of planted@v2" in res.stdout
    assert store.exists(keys["readme"]) and store.exists(keys["json"])
    res = runner.invoke(app, ["datasets", "card", "planted@v1", "--json", "--store", str(store.root)])
    assert res.exit_code == 0 and json.loads(res.stdout)["version"] == "v1"


@slow
def test_diff_shows_the_composition_moves(planted) -> None:
    from pipelines.datasheet.diff import composition_deltas, load_datasheet

    store, _, _, _ = planted
    a, b = load_datasheet(store, "planted", "v1"), load_datasheet(store, "planted", "v2")
    moves = {(d["dimension"], d["value"]): d for d in composition_deltas(a, b)}
    assert moves[("domain", "d.vn")]["rows_a"] == 0 and moves[("domain", "d.vn")]["rows_b"] == 1
    assert moves[("domain", "a.vn")]["share_change"] == pytest.approx(6 / 11 - 0.6, abs=1e-6)
    assert moves[("source", "two")]["rows_b"] == 5 and ("source", "one") in moves  # its share fell
    assert moves[("dialect_region", "northern")]["rows_a"] == 2 and moves[("dialect_region", "northern")]["rows_b"] == 3
    assert ("license", "CC-BY-4.0") in moves and ("crawl_month", "2026-04") in moves
    res = CliRunner().invoke(app, ["datasets", "diff", "planted@v1", "planted@v2", "--store", str(store.root)])
    assert res.exit_code == 0, res.output
    assert "composition moves" in res.stdout and "d.vn" in res.stdout and "dialect_region" in res.stdout


@slow
def test_gc_keeps_the_cards_of_committed_versions(planted) -> None:
    store, _, _, _ = planted
    report = collect_garbage(VersionStore(store), ["planted"], grace=timedelta(0), dry_run=False)
    assert not any("/cards/" in o.key for o in report.unreferenced)
    for version in ("v1", "v2"):
        assert all(store.exists(k) for k in card_keys("planted", version).values())


@slow
def test_pull_brings_the_card_along(planted, tmp_path) -> None:
    from storage.pull import pull_version, sidecar

    store, _, _, _ = planted
    vs = VersionStore(store)
    report = pull_version(vs, vs.manifest("planted@v1"), tmp_path / "out")
    assert report.card == sidecar(tmp_path / "out") / "card"
    for name in ("README.md", "datasheet.json", "datasheet.html"):
        assert (report.card / name).read_bytes() == store.get_bytes(f"{datasheet_prefix('planted', 'v1')}/{name}")
    assert not any(p.name == "README.md" for p in (tmp_path / "out").rglob("*"))  # the data folder stays data only


@slow
def test_repair_run_writes_a_missing_card(planted) -> None:
    from pipelines.commit import repair_run
    from pipelines.report import render_report

    store, r1, _, _ = planted
    for key in card_keys("planted", "v1").values():
        store.delete(key)
    store.delete(f"runs/{r1.run_id}/report.html")  # as a run killed after its commit leaves it
    assert repair_run(store, r1.run_id, "v1", render_report)
    assert all(store.exists(k) for k in card_keys("planted", "v1").values())


@slow
def test_a_failing_card_does_not_fail_the_commit(tmp_path, monkeypatch) -> None:
    import pipelines.datasheet.card as card

    def boom(*a, **k):
        raise RuntimeError("planted failure")

    monkeypatch.setattr(card, "build_with_context", boom)
    store = LocalStore(tmp_path / "store")
    result = run_ingest(load_ingest_config(SAMPLE_CONFIG), store)
    assert result.version == "v1" and not store.exists(card_keys("vi-text-sample", "v1")["readme"])


@slow
def test_the_demo_sample_gets_a_card_at_commit(tmp_path) -> None:
    store = LocalStore(tmp_path / "store")
    result = run_ingest(load_ingest_config(SAMPLE_CONFIG), store)
    keys = card_keys("vi-text-sample", result.version)
    assert all(store.exists(k) for k in keys.values())
    assert DatasetCard(store.get_text(keys["readme"])).data.license == ["cc-by-4.0", "cc-by-nc-4.0", "cc-by-sa-4.0"]


@pytest.mark.parametrize("host, domain", [("tin.a.vn", "a.vn"), ("news.b.com.vn", "b.com.vn"),
                                          ("x.hust.edu.vn", "hust.edu.vn"), ("chinhphu.gov.vn", "chinhphu.gov.vn"),
                                          ("c.org", "c.org"), ("10.0.0.1", "10.0.0.1")])
def test_registered_domain(host: str, domain: str) -> None:
    assert registered_domain(host) == domain


def test_domain_of_urls_and_card_helpers() -> None:
    assert domain_and_tld("https://Tin.A.vn:8443/x") == ("a.vn", "vn")
    assert domain_and_tld("ftp://a.vn/x") == (None, None) and domain_and_tld(None) == (None, None)
    assert [size_category(n) for n in (0, 999, 1000, 12_345, 2_000_000)] == \
        ["n<1K", "n<1K", "1K<n<10K", "10K<n<100K", "1M<n<10M"]
    assert hf_license("CC-BY-4.0") == "cc-by-4.0" and hf_license(None) == "other"
    assert hf_license("public-domain") == "other" and hf_license("Public Domain") == "other"


@slow
def test_an_image_version_gets_its_own_sections(tmp_path) -> None:
    from pipelines.image.config import ImageIngestConfig
    from pipelines.image.samples import make_image_samples

    root = make_image_samples(tmp_path / "samples")["root"]
    cfg = ImageIngestConfig(dataset="img", sources=[
        {"name": "photos", "format": "image_folder", "paths": [f"{root}/*"], "license": "CC0-1.0"},
        {"name": "list", "format": "image_list", "paths": [f"{root}/list.jsonl"]}])
    store = LocalStore(tmp_path / "store")
    result = run_ingest(cfg, store)
    keys = card_keys("img", result.version)
    sheet = json.loads(store.get_bytes(keys["json"]))
    index = _index_rows(store, "img", result.version)
    c = sheet["composition"]["image"]
    assert sheet["modalities"] == ["image"] and c["images"] == len(index) == sheet["rows"]
    assert _shares(c["by_license"]) == dict(Counter(r["license"] for r in index))
    p = sheet["privacy"]["image"]
    assert p["faces_blurred"] == sum(r["faces"] or 0 for r in index) >= 1
    assert p["plates_blurred"] == sum(r["plates"] or 0 for r in index)
    assert sheet["quality"]["image"]["signals"]["width"]["count"] == len(index)
    assert "text" not in sheet["composition"]
    data = DatasetCard(store.get_text(keys["readme"])).data
    assert data.task_categories == ["image-to-text", "text-to-image"] and data.language == ["vi"]
