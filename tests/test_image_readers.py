"""The image readers on real files, without Beam: every list format, both sidecar kinds,
WebDataset tars (good, sample without image, cut short), and bad sidecars; a reader never
raises, and every row ends as a record or a quarantine row."""

from __future__ import annotations

import csv
import gzip
import io
import json
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from pipelines.common import InputOpener
from pipelines.image.readers import read_image_folder, read_image_list, read_webdataset
from storage.local import LocalStore

SOURCE = {"name": "s", "license": "CC0-1.0", "caption_field": "caption", "path_field": "path",
          "url_field": "url", "license_field": "license", "id_field": "id", "date_field": "date",
          "extra_fields": ["photographer"], "max_image_bytes": 1_000_000,
          "image_extensions": [".jpg", ".png"], "fetch": {}}


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (80, 60), colour).save(buf, format="JPEG")
    return buf.getvalue()


def _read(reader, path: Path, store: LocalStore | None = None, source: dict | None = None):
    unit = {"location": "local", "path": str(path)}
    with open(path, "rb") as fh:
        return list(reader(fh, f"file://{path}", source or SOURCE, opener=InputOpener(store, unit)))


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    (tmp_path / "a.jpg").write_bytes(_jpeg((200, 10, 10)))
    (tmp_path / "a.txt").write_text("Chiếc xe đạp màu đỏ trước cửa nhà\n", encoding="utf-8")
    (tmp_path / "b.jpg").write_bytes(_jpeg((10, 200, 10)))
    (tmp_path / "b.json").write_text(json.dumps({"caption": "Cánh đồng lúa xanh", "license": "CC-BY-4.0",
                                                 "url": "https://example.vn/b.jpg", "photographer": "Lan",
                                                 "date": "2026-10-01"}), encoding="utf-8")
    (tmp_path / "c.jpg").write_bytes(_jpeg((10, 10, 200)))
    (tmp_path / "d.jpg").write_bytes(_jpeg((90, 90, 90)))
    (tmp_path / "d.json").write_text("{not json", encoding="utf-8")
    return tmp_path


def test_folder_images_take_their_caption_and_metadata_from_sidecars(folder: Path) -> None:
    (kind, a), = _read(read_image_folder, folder / "a.jpg")
    assert kind == "record" and a["caption_raw"] == "Chiếc xe đạp màu đỏ trước cửa nhà"
    assert (a["caption_origin"], a["license"]) == ("sidecar_txt", "CC0-1.0")
    (_, b), = _read(read_image_folder, folder / "b.jpg")
    assert (b["caption_origin"], b["license"], b["url"], b["crawl_date"]) == \
        ("sidecar_json", "CC-BY-4.0", "https://example.vn/b.jpg", "2026-10-01")
    assert json.loads(b["extra"]) == {"photographer": "Lan"}
    (_, c), = _read(read_image_folder, folder / "c.jpg")
    assert (c["caption_raw"], c["caption_origin"]) == (None, "none")
    assert c["image_bytes"][:2] == b"\xff\xd8"


def test_a_broken_sidecar_quarantines_its_image_with_a_clear_message(folder: Path) -> None:
    (kind, row), = _read(read_image_folder, folder / "d.jpg")
    assert kind == "quarantine" and row["error_class"] == "SidecarError" and "d.json" in row["message"]


def test_an_image_over_the_bound_is_quarantined(folder: Path) -> None:
    (kind, row), = _read(read_image_folder, folder / "a.jpg", source={**SOURCE, "max_image_bytes": 100})
    assert kind == "quarantine" and row["error_class"] == "ImageTooLargeError"


ROWS = [{"path": "a.jpg", "caption": "Xe đạp đỏ", "license": "CC-BY-4.0", "id": 7},
        {"path": "missing.jpg", "caption": "Không có ảnh"},
        {"caption": "Hàng không có đường dẫn"},
        {"path": "b.jpg", "caption": None}]


@pytest.mark.parametrize("kind", ["jsonl", "jsonl.gz", "csv", "parquet"])
def test_lists_in_every_format_give_one_outcome_per_row_in_order(folder: Path, kind: str) -> None:
    path = folder / f"list.{kind}"
    if kind == "jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS), encoding="utf-8")
    elif kind == "jsonl.gz":
        path.write_bytes(gzip.compress("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS).encode()))
    elif kind == "csv":
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=["path", "caption", "license", "id"])
            w.writeheader()
            w.writerows(ROWS)
    else:
        pq.write_table(pa.Table.from_pylist(ROWS), path)
    out = _read(read_image_list, path)
    assert [k for k, _ in out] == ["record", "quarantine", "quarantine", "record"]
    first = out[0][1]
    assert (first["caption_raw"], first["license"], first["source_id"], first["caption_origin"]) == \
        ("Xe đạp đỏ", "CC-BY-4.0", "7", "list")
    assert first["image_bytes"] == (folder / "a.jpg").read_bytes()
    assert "missing.jpg" in out[1][1]["message"] and "path" in out[2][1]["message"]
    assert out[3][1]["caption_origin"] == "none"


def test_a_list_in_the_store_cannot_name_a_file_outside_its_prefix(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    store.put_bytes("inputs/img/a.jpg", _jpeg((1, 2, 3)))
    store.put_bytes("secret/key.jpg", _jpeg((4, 5, 6)))
    store.put_text("inputs/img/list.jsonl", json.dumps({"path": "a.jpg", "caption": "x"}) + "\n"
                   + json.dumps({"path": "../../secret/key.jpg", "caption": "y"}) + "\n")
    unit = {"location": "store", "path": "inputs/img/list.jsonl"}
    with store.open_read("inputs/img/list.jsonl") as fh:
        out = list(read_image_list(fh, "store://inputs/img/list.jsonl", SOURCE, opener=InputOpener(store, unit)))
    assert [k for k, _ in out] == ["record", "quarantine"]
    assert "inside its prefix" in out[1][1]["message"]


def _tar(path: Path, members: list[tuple[str, bytes]]) -> None:
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_webdataset_samples_become_records_with_their_member_and_caption(tmp_path: Path) -> None:
    _tar(tmp_path / "s.tar", [("x/001.jpg", _jpeg((1, 1, 1))), ("x/001.txt", "Con mèo".encode()),
                              ("x/002.png", _jpeg((2, 2, 2))), ("x/002.json", json.dumps({"caption": "Con chó"}).encode()),
                              ("x/003.txt", b"no image here")])
    out = _read(read_webdataset, tmp_path / "s.tar")
    assert [k for k, _ in out] == ["record", "record", "quarantine"]
    assert (out[0][1]["member"], out[0][1]["caption_raw"], out[0][1]["caption_origin"]) == ("x/001.jpg", "Con mèo", "wds_txt")
    assert (out[1][1]["caption_raw"], out[1][1]["caption_origin"]) == ("Con chó", "wds_json")
    assert out[2][1]["error_class"] == "NoImageInSample"


def test_a_tar_cut_short_keeps_the_samples_before_and_quarantines_the_rest(tmp_path: Path) -> None:
    big = _jpeg((9, 9, 9)) + bytes(4096)
    _tar(tmp_path / "s.tar", [("001.jpg", _jpeg((1, 1, 1))), ("001.txt", b"mot"), ("002.jpg", big)])
    data = (tmp_path / "s.tar").read_bytes()
    (tmp_path / "cut.tar").write_bytes(data[:len(data) // 2 + 700])
    out = _read(read_webdataset, tmp_path / "cut.tar")
    assert out[0][0] == "record" and out[0][1]["caption_raw"] == "mot"
    assert out[-1][0] == "quarantine"
