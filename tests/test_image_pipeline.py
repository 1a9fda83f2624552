"""The image modality end to end on real files: `run_ingest` of the generated sample folder
and list (real photos, near-duplicates, a decompression bomb, truncated/empty/non-image files,
CMYK, 16-bit, alpha, animated, GPS EXIF, caption cases), then the published WebDataset shards,
their Parquet index, the run tables, the report, verify, and re-runs."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from pipelines.image.config import ImageIngestConfig
from pipelines.image.samples import make_image_samples
from pipelines.ingest import run_ingest
from pipelines.records import record_id
from storage.local import LocalStore
from storage.verify import verify_version
from storage.versions import VersionStore

pytestmark = pytest.mark.slow


def _config(root: Path, dataset: str = "img", **kw: Any) -> ImageIngestConfig:
    return ImageIngestConfig(dataset=dataset, sources=[
        {"name": "photos", "format": "image_folder", "paths": [f"{root}/*"]},
        {"name": "list", "format": "image_list", "paths": [f"{root}/list.jsonl"]}], **kw)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("image")
    samples = make_image_samples(base / "samples")
    store = LocalStore(base / "store")
    result = run_ingest(_config(Path(samples["root"])), store)
    vs = VersionStore(store)
    manifest = vs.manifest("img@latest")
    shards = list(vs.shards(manifest))
    tars = [store.root / s.key for s in shards if s.format == "webdataset"]
    index = pa.concat_tables([pq.read_table(store.root / s.key) for s in shards if s.format == "wds-index"])
    tables = {name: pq.read_table(store.root / f"runs/{result.run_id}/{name}")
              for name in ("rejected", "duplicates", "quarantine")}
    return {"samples": samples, "store": store, "result": result, "vs": vs, "manifest": manifest,
            "tars": tars, "index": index, "tables": tables, "base": base}


def _folder_id(run: dict[str, Any], case: str) -> str:
    path = Path(run["samples"]["root"]) / run["samples"]["cases"][case]["path"]
    return record_id("photos", f"file://{path.resolve()}", "file")


def _outcome(run: dict[str, Any], rid: str) -> str:
    if rid in set(run["index"].column("id").to_pylist()):
        return "kept"
    for name, table in run["tables"].items():
        if rid in set(table.column("id").to_pylist()):
            return name
    raise AssertionError(f"record {rid} is in no outcome")


def test_every_input_ends_in_exactly_one_outcome_and_the_counts_reconcile(run) -> None:
    totals = run["result"].stats["totals"]
    assert totals["reconciles"]
    n_folder = sum(1 for _ in Path(run["samples"]["root"]).glob("*.*")
                   if _.suffix.lower() in (".jpg", ".png", ".gif"))
    assert totals["inputs"] == n_folder + len(run["samples"]["list_rows"])
    assert totals["kept"] == run["index"].num_rows == run["manifest"].total_rows
    assert totals["rejected"] == run["tables"]["rejected"].num_rows
    assert totals["duplicates"] == run["tables"]["duplicates"].num_rows
    assert totals["quarantined"] == run["tables"]["quarantine"].num_rows
    assert verify_version(run["vs"], run["manifest"]).ok


def test_broken_files_are_quarantined_with_their_decode_error(run) -> None:
    q = {r["id"]: r for r in run["tables"]["quarantine"].to_pylist()}
    expected = {"bomb": "DecompressionBombImageError", "truncated": "TruncatedImageError",
                "not_an_image": "NotAnImageError", "empty": "EmptyImageError"}
    for case, error in expected.items():
        row = q[_folder_id(run, case)]
        assert row["error_class"] == error, case
        assert row["message"]
    assert "max_pixels" in q[_folder_id(run, "bomb")]["message"] or "pixels" in q[_folder_id(run, "bomb")]["message"]


def test_odd_colour_modes_are_published_as_rgb(run) -> None:
    rows = {r["id"]: r for r in run["index"].to_pylist()}
    for case, mode in (("cmyk", "CMYK"), ("gray16", None), ("alpha", "RGBA"), ("animated", "P")):
        rid = _folder_id(run, case)
        if _outcome(run, rid) != "kept":
            continue  # a rule may reject it; its mode is checked in the rejected table below
        row = rows[rid]
        if mode:
            assert row["source_mode"] == mode
        assert row["format"] == "jpeg"
    kept_modes = {r["source_mode"] for r in rows.values()}
    assert "CMYK" in kept_modes


def _member(run: dict[str, Any], rid: str, ext: str) -> bytes:
    for tar_path in run["tars"]:
        with tarfile.open(tar_path) as tar:
            try:
                return tar.extractfile(f"{rid}.{ext}").read()
            except KeyError:
                continue
    raise AssertionError(f"{rid}.{ext} is in no published tar")


def test_published_image_is_upright_and_carries_no_exif_or_gps(run) -> None:
    rid = _folder_id(run, "gps_rotated")
    assert _outcome(run, rid) == "kept"
    row = next(r for r in run["index"].to_pylist() if r["id"] == rid)
    assert row["had_gps"] is True
    expect = run["samples"]["cases"]["gps_rotated"]["expect"]
    assert (row["orig_width"], row["orig_height"]) == (expect["width"], expect["height"])
    img = Image.open(io.BytesIO(_member(run, rid, "jpg")))
    assert not img.getexif()
    assert "exif" not in img.info and "icc_profile" not in img.info
    assert img.size == (row["width"], row["height"])


def test_the_astronauts_face_is_blurred_in_the_published_image(run) -> None:
    root = Path(run["samples"]["root"])
    originals = {_folder_id(run, "astronaut"): root / "astronaut.jpg",
                 _folder_id(run, "astronaut_cropped"): root / "astronaut_cropped.jpg"}
    list_pointer = next(n for n, r in enumerate(run["samples"]["list_rows"], 1) if r["path"] == "astronaut.jpg")
    originals[record_id("list", f"file://{(root / 'list.jsonl').resolve()}", f"line:{list_pointer}")] = \
        root / "astronaut.jpg"
    row = next(r for r in run["index"].to_pylist() if r["id"] in originals)  # one copy is kept
    assert row["faces"] >= 1
    box = next(b for b in row["boxes"] if b["kind"] == "face")
    published = np.asarray(Image.open(io.BytesIO(_member(run, row["id"], "jpg"))).convert("L"), dtype=np.float32)
    original = np.asarray(Image.open(originals[row["id"]]).convert("L").resize((row["width"], row["height"])),
                          dtype=np.float32)
    cut = lambda a: a[box["y0"]:box["y1"], box["x0"]:box["x1"]]  # noqa: E731
    lap = lambda a: float(np.var(np.diff(a, 2, axis=0)) + np.var(np.diff(a, 2, axis=1)))  # noqa: E731
    assert lap(cut(published)) < 0.1 * lap(cut(original))


def test_captions_are_scrubbed_and_checked_with_the_text_filters(run) -> None:
    rejected = {r["id"]: r for r in run["tables"]["rejected"].to_pylist()}
    kept = {r["id"]: r for r in run["index"].to_pylist()}
    phone = _folder_id(run, "phone_caption")
    row = kept.get(phone) or rejected[phone]
    assert "0912" not in row["caption"] and row["caption_pii_total"] >= 1
    assert "caption:other_language" in rejected[_folder_id(run, "hubble")]["reasons"]
    assert "caption:missing" in rejected[_folder_id(run, "no_caption")]["reasons"]
    nd = _folder_id(run, "no_diacritics")
    assert (kept.get(nd) or rejected[nd])["caption_variant"] == "no_diacritics"


def test_image_rules_list_every_failed_rule_and_rejected_rows_keep_the_published_bytes(run) -> None:
    rejected = {r["id"]: r for r in run["tables"]["rejected"].to_pylist()}
    flat = rejected[_folder_id(run, "uniform_grey")]
    assert "image:near_uniform" in flat["reasons"]
    assert "image:blurry" in rejected[_folder_id(run, "blurry")]["reasons"]
    assert Image.open(io.BytesIO(flat["image"])).format == "JPEG"
    assert run["result"].stats["rejected_by_reason"]["image:near_uniform"] >= 1


def test_copies_are_duplicates_exact_by_pixels_and_near_by_phash(run) -> None:
    dup = {r["id"]: r for r in run["tables"]["duplicates"].to_pylist()}
    copy = dup[_folder_id(run, "chelsea_copy")] if _folder_id(run, "chelsea_copy") in dup else None
    chelsea = _folder_id(run, "chelsea")
    if copy is None:  # the copy won the tie on ids: then chelsea is the duplicate
        copy, chelsea = dup[chelsea], _folder_id(run, "chelsea_copy")
    assert copy["kind"] == "exact"
    for case in ("coffee_resized", "rocket_recompressed", "astronaut_cropped"):
        rid, orig = _folder_id(run, case), run["samples"]["cases"][case]["duplicate_of"]
        assert _outcome(run, rid) == "duplicates" or _outcome(run, _folder_id(run, orig)) == "duplicates", case
    kinds = {r["kind"] for r in dup.values()}
    assert kinds == {"exact", "near"}
    # the list names five folder images: each pair keeps exactly one
    for row in run["samples"]["list_rows"]:
        folder = record_id("photos", f"file://{(Path(run['samples']['root']) / row['path']).resolve()}", "file")
        outcomes = {_outcome(run, folder)}
        assert "duplicates" in outcomes or any(
            d["dup_of"] == folder for d in dup.values()), row["path"]


def test_shards_open_with_webdataset_and_the_index_with_pyarrow(run) -> None:
    import webdataset as wds

    samples = list(wds.WebDataset([str(p) for p in run["tars"]], shardshuffle=False))
    assert len(samples) == run["index"].num_rows
    first = samples[0]
    assert {"jpg", "txt", "json"} <= set(first)
    meta = json.loads(first["json"])
    assert meta["id"] == first["__key__"]
    assert Image.open(io.BytesIO(first["jpg"])).mode == "RGB"
    assert first["txt"].decode("utf-8") == (meta["caption"] or "")
    idx = run["index"]
    assert {"key", "members", "signals", "phash", "boxes", "caption"} <= set(idx.column_names)
    assert all(len(h) == 16 for h in idx.column("phash").to_pylist())


def test_the_report_shows_image_plots_thumbnails_and_which_models_ran(run) -> None:
    html = (run["store"].root / f"runs/{run['result'].run_id}/report.html").read_text()
    assert "Sharpness (sample)" in html and "Shorter side (sample)" in html
    assert 'src="data:image/jpeg;base64,' in html
    assert "Models that ran" in html and "RetinaFace" in html and "CLIP stage off" in html


def test_a_second_run_ingests_nothing_and_a_published_image_is_not_published_again(run, tmp_path: Path) -> None:
    again = run_ingest(_config(Path(run["samples"]["root"])), run["store"])
    assert again.version is None
    extra = tmp_path / "more"
    extra.mkdir()
    src = Path(run["samples"]["root"])
    Image.open(src / "coffee.jpg").resize((300, 200)).save(extra / "coffee_small.jpg", quality=80)
    (extra / "coffee_small.txt").write_text("Tách cà phê nhỏ trên bàn gỗ", encoding="utf-8")
    cfg = ImageIngestConfig(dataset="img", sources=[{"name": "more", "format": "image_folder",
                                                     "paths": [f"{extra}/*"]}])
    res = run_ingest(cfg, run["store"])
    assert res.stats["totals"]["duplicates"] == 1 and res.stats["totals"]["kept"] == 0


def test_published_shards_can_be_recurated_as_a_webdataset_source(run, tmp_path: Path) -> None:
    tars = tmp_path / "tars"
    tars.mkdir()
    for p in run["tars"]:
        shutil.copy(p, tars / p.name)
    cfg = ImageIngestConfig(dataset="recurated", sources=[{"name": "wds", "format": "webdataset",
                                                           "paths": [f"{tars}/*.tar"]}],
                            caption={"required": False})
    res = run_ingest(cfg, LocalStore(tmp_path / "store2"))
    t = res.stats["totals"]
    assert t["inputs"] == run["index"].num_rows and t["quarantined"] == 0 and t["reconciles"]
    assert t["kept"] + t["rejected"] + t["duplicates"] == t["inputs"]


def test_the_clip_stage_embeds_images_and_semantic_dedup_uses_the_embeddings(run, tmp_path: Path) -> None:
    from pipelines.image.clip import make_test_weights

    weights = tmp_path / "clip.pt"
    sha = make_test_weights(weights, "ViT-B-32", seed=0)
    folder = tmp_path / "few"
    folder.mkdir()
    root = Path(run["samples"]["root"])
    for name in ("astronaut", "astronaut_cropped", "coffee", "rocket"):
        src = next(root.glob(f"{name}.*[gp]"))
        shutil.copy(src, folder / src.name)
        (folder / f"{name}.txt").write_text(f"Ảnh chụp {name} rất đẹp và rõ nét", encoding="utf-8")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    cfg = ImageIngestConfig(dataset="clip", sources=[{"name": "few", "format": "image_folder",
                                                      "paths": [f"{folder}/*"]}],
                            clip={"weights": str(weights), "weights_sha256": sha, "batch_size": 2,
                                  "weights_label": "random init, seed 0 (test weights)"},
                            rules={"min_clip_similarity": -1.0}, scorers={"text": False, "brisque": False},
                            # random weights: a crop is at cosine 0.99, other sample photos below 0.98
                            dedup={"near": {"kind": "embedding", "cosine": {"dim": 512, "cosine_threshold": 0.99}}})
    store = LocalStore(tmp_path / "store")
    res = run_ingest(cfg, store)
    t = res.stats["totals"]
    assert (t["inputs"], t["kept"], t["duplicates"], t["quarantined"]) == (5, 3, 1, 1) and t["reconciles"]
    dup = pq.read_table(store.root / f"runs/{res.run_id}/duplicates").to_pylist()
    assert [d["kind"] for d in dup] == ["near"]
    astronauts = {record_id("few", f"file://{(folder / n).resolve()}", "file")
                  for n in ("astronaut.jpg", "astronaut_cropped.jpg")}
    assert {dup[0]["id"], dup[0]["dup_of"]} == astronauts
    vs = VersionStore(store)
    idx = pa.concat_tables([pq.read_table(store.root / s.key) for s in vs.shards(vs.manifest("clip@latest"))
                            if s.format == "wds-index"])
    assert idx.schema.field("embedding").type == pa.list_(pa.float16())
    for emb, sig in zip(idx.column("embedding").to_pylist(), idx.column("signals").to_pylist()):
        assert len(emb) == 512 and abs(np.linalg.norm(np.asarray(emb, np.float32)) - 1) < 1e-2
        assert -1 <= sig["clip_similarity"] <= 1
    html = (store.root / f"runs/{res.run_id}/report.html").read_text()
    assert "open_clip ViT-B-32" in html and sha[:12] in html and "test weights" in html
