"""A modality whose writer is WebDataset gets tars + a Parquet index per tar from the core,
readable by webdataset with no glue; a failing writer leaves no spool file and no version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipelines.config import load_ingest_config
from pipelines.core import register_modality
from pipelines.ingest import run_ingest
from storage.local import LocalStore
from storage.verify import verify_version
from storage.versions import VersionStore
from tests.test_modality_plugin import LinesConfig, LinesModality


class TarLinesConfig(LinesConfig):
    modality: str = "tarlines"  # type: ignore[assignment]


class TarLinesModality(LinesModality):
    name = "tarlines"
    config_model = TarLinesConfig
    writer = "webdataset"

    def to_sample(self, rec: dict[str, Any]):
        if rec["text"] == "explode here":
            raise RuntimeError("writer failed on purpose")
        meta = {k: rec.get(k) for k in ("id", "source", "uri", "pointer", "text", "chars", "content_hash")}
        return rec["id"], {"txt": rec["text"].encode(), "json": json.dumps({"id": rec["id"]}).encode()}, meta


register_modality(TarLinesModality())


def _config(tmp_path: Path, lines: list[str], buckets: int = 2) -> Path:
    data = tmp_path / "in.txt"
    data.write_text("\n".join(lines) + "\n")
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"modality": "tarlines", "dataset": "tars", "min_chars": 3,
                               "output": {"write_buckets": buckets},
                               "sources": [{"name": "notes", "format": "lines", "paths": [str(data)]}]}))
    return cfg


def test_kept_records_become_webdataset_tars_with_an_index(tmp_path: Path) -> None:
    import webdataset as wds

    store = LocalStore(tmp_path / "store")
    result = run_ingest(load_ingest_config(_config(tmp_path, ["mot", "hai ba", "bon nam sau", "x"])), store)
    vs = VersionStore(store)
    m = vs.manifest(f"tars@{result.version}")
    assert verify_version(vs, m).ok
    shards = list(vs.shards(m))
    tars = [s for s in shards if s.format == "webdataset"]
    assert tars and {s.format for s in shards} == {"webdataset", "wds-index"}
    assert all(s.pair for s in shards)
    texts = sorted(sample["txt"].decode() for sample in wds.WebDataset([str(store.root / t.key) for t in tars],
                                                                      shardshuffle=False))
    assert texts == ["bon nam sau", "hai ba", "mot"]
    assert m.total_rows == 3


def test_a_failing_writer_leaves_no_spool_file_and_commits_nothing(tmp_path: Path, monkeypatch) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setenv("KHO_TMP_DIR", str(spool))
    store = LocalStore(tmp_path / "store")
    with pytest.raises(Exception, match="writer failed on purpose"):
        run_ingest(load_ingest_config(_config(tmp_path, ["mot hai", "ba bon", "nam sau bay", "explode here"], buckets=1)), store)
    assert list(spool.iterdir()) == []
    assert VersionStore(store).versions("tars") == []
    assert not list((store.root / "leases").rglob("*.json"))  # the lease was released
