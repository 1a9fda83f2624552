"""Planning reads each input of a source once, whatever reaches it: overlapping globs, a
symlinked folder, a link loop under a recursive glob, the same object named twice in the
store. A broken link is counted and quarantined instead of stopping the plan. Real files and
real symlinks in a temporary folder."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from pipelines.config import IngestConfig, SourceConfig
from pipelines.plan import NoInputsError, _local_inputs, _store_inputs, plan_units
from storage.local import LocalStore


def _tree(root: Path) -> Path:
    """data/a.jsonl, data/b.jsonl, data/sub/c.jsonl, data/sub/deeper/d.jsonl"""
    data = root / "data"
    (data / "sub" / "deeper").mkdir(parents=True)
    for rel in ("a.jsonl", "b.jsonl", "sub/c.jsonl", "sub/deeper/d.jsonl"):
        (data / rel).write_text(json.dumps({"text": rel}) + "\n")
    return data


def _src(*paths: str) -> SourceConfig:
    return SourceConfig(name="s", format="jsonl", paths=list(paths))


def _names(found: list[tuple[str, str, int, str]]) -> list[str]:
    return [Path(uri.removeprefix("file://")).name for uri, *_ in found]


def test_overlapping_globs_list_each_file_once_first_occurrence_first(tmp_path: Path, caplog) -> None:
    data = _tree(tmp_path)
    caplog.set_level(logging.INFO, logger="pipelines.plan")
    found = _local_inputs(_src("data/b.jsonl", "data/*.jsonl", "data/**/*.jsonl",
                               f"{data}/sub/c.jsonl"), tmp_path)
    assert _names(found) == ["b.jsonl", "a.jsonl", "c.jsonl", "d.jsonl"]
    assert len({uri for uri, *_ in found}) == len(found)
    assert "4 duplicate local inputs dropped" in caplog.text
    uri, path, size, fp = found[0]
    assert uri == f"file://{(data / 'b.jsonl').resolve()}" and path == str((data / "b.jsonl").resolve())
    assert size == (data / "b.jsonl").stat().st_size and fp.startswith(f"{size}:")


def test_symlinked_folder_is_read_once(tmp_path: Path) -> None:
    data = _tree(tmp_path)
    (data / "mirror").symlink_to(data / "sub", target_is_directory=True)
    (tmp_path / "elsewhere").symlink_to(data, target_is_directory=True)
    found = _local_inputs(_src("data/**/*.jsonl", "elsewhere/sub/*.jsonl", "data/mirror/*.jsonl"),
                          tmp_path)
    assert sorted(_names(found)) == ["a.jsonl", "b.jsonl", "c.jsonl", "d.jsonl"]
    assert all("mirror" not in uri and "elsewhere" not in uri for uri, *_ in found)


def test_recursive_glob_over_link_loops_terminates_with_each_file_once(tmp_path: Path) -> None:
    data = _tree(tmp_path)
    (data / "loop").symlink_to(".", target_is_directory=True)  # data/loop -> data
    found = _local_inputs(_src("data/**/*.jsonl"), tmp_path)
    assert sorted(_names(found)) == ["a.jsonl", "b.jsonl", "c.jsonl", "d.jsonl"]
    # Two loops: glob.glob would walk 2^40 paths before the kernel's link limit stops it.
    (data / "sub" / "deeper" / "up").symlink_to("../..", target_is_directory=True)
    (data / "sub" / "back").symlink_to("..", target_is_directory=True)
    found = _local_inputs(_src("data/**/*.jsonl", "data/**"), tmp_path)
    assert sorted(_names(found)) == ["a.jsonl", "b.jsonl", "c.jsonl", "d.jsonl"]


def test_recursive_glob_matches_like_glob_without_links(tmp_path: Path) -> None:
    import glob

    data = _tree(tmp_path)
    (data / ".hidden").mkdir()
    (data / ".hidden" / "h.jsonl").write_text("{}\n")
    (data / ".dot.jsonl").write_text("{}\n")
    (data / "sub" / "notes.txt").write_text("x\n")
    for pattern in ("data/**/*.jsonl", "data/**/c.jsonl", "data/s*/**/*.jsonl", "data/**/deeper/*",
                    "data/**/.hidden/*.jsonl", "data/**/*.txt"):
        expected = sorted(p for p in glob.glob(str(tmp_path / pattern), recursive=True) if os.path.isfile(p))
        got = [path for _, path, _, _ in _local_inputs(_src(pattern), tmp_path)]
        assert got == expected, pattern


def test_broken_and_looping_links_are_planned_as_inputs_to_quarantine(tmp_path: Path, caplog) -> None:
    data = _tree(tmp_path)
    (data / "gone.jsonl").symlink_to("missing.jsonl")
    (data / "self.jsonl").symlink_to("self.jsonl")
    (tmp_path / "literal.jsonl").symlink_to(tmp_path / "nowhere.jsonl")
    found = _local_inputs(_src("data/*.jsonl", "literal.jsonl"), tmp_path)
    broken = {Path(path).name: (size, fp) for _, path, size, fp in found if size < 0}
    assert broken == {"gone.jsonl": (-1, "broken-link:missing.jsonl"),
                      "self.jsonl": (-1, "broken-link:self.jsonl"),
                      "literal.jsonl": (-1, f"broken-link:{tmp_path / 'nowhere.jsonl'}")}
    assert sorted(n for n in _names(found) if n.endswith(".jsonl")) == sorted(
        ["a.jsonl", "b.jsonl", "missing.jsonl", "self.jsonl", "nowhere.jsonl"])
    assert "broken or looping symbolic link" in caplog.text


def test_a_missing_literal_path_is_still_a_config_error(tmp_path: Path) -> None:
    _tree(tmp_path)
    with pytest.raises(NoInputsError, match="does not exist"):
        _local_inputs(_src("data/a.jsonl", "data/typo.jsonl"), tmp_path)


def test_store_patterns_that_overlap_list_each_key_once(tmp_path: Path, caplog) -> None:
    store = LocalStore(tmp_path / "store")
    for key in ("inputs/a.jsonl", "inputs/b.jsonl"):
        store.put_bytes(key, b'{"text": "x"}\n', "application/x-ndjson")
    caplog.set_level(logging.INFO, logger="pipelines.plan")
    found = _store_inputs(_src("store:inputs/b.jsonl", "store:inputs/", "store:inputs/a.jsonl"), store)
    assert [key for _, key, _, _ in found] == ["inputs/b.jsonl", "inputs/a.jsonl"]
    assert "2 duplicate store inputs dropped" in caplog.text


def test_the_same_file_in_two_sources_is_an_input_of_each(tmp_path: Path) -> None:
    data = _tree(tmp_path)
    cfg = IngestConfig(dataset="d", base_dir=tmp_path, sources=[
        SourceConfig(name="one", format="jsonl", paths=["data/a.jsonl", "data/*.jsonl"]),
        SourceConfig(name="two", format="jsonl", paths=[str(data / "a.jsonl")])])
    units, _ = plan_units(cfg, LocalStore(tmp_path / "store"), committed=set())
    assert sorted((u.source["name"], Path(u.path).name) for u in units) == [
        ("one", "a.jsonl"), ("one", "b.jsonl"), ("two", "a.jsonl")]
    assert len({u.unit_id for u in units}) == 3


@pytest.mark.slow
def test_ingest_over_overlapping_paths_links_and_a_broken_link_reconciles(tmp_path: Path) -> None:
    from pipelines.config import load_ingest_config
    from pipelines.ingest import run_ingest

    data = tmp_path / "in"
    (data / "sub").mkdir(parents=True)
    articles = [f"Bài số {i}: hôm nay trời đẹp, người dân đi dạo quanh hồ Gươm rất đông vui. " * 6
                for i in range(3)]
    (data / "a.jsonl").write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n"
                                          for t in articles[:2]), encoding="utf-8")
    (data / "sub" / "b.jsonl").write_text(json.dumps({"text": articles[2]}, ensure_ascii=False) + "\n",
                                          encoding="utf-8")
    (data / "mirror").symlink_to(data / "sub", target_is_directory=True)
    (data / "loop").symlink_to(".", target_is_directory=True)
    (data / "gone.jsonl").symlink_to("missing.jsonl")
    cfg = tmp_path / "paths.yaml"
    cfg.write_text(f"""
dataset: paths
sources:
  - name: news
    format: jsonl
    paths: ["{data}/*.jsonl", "{data}/**/*.jsonl", "{data}/mirror/b.jsonl"]
  - name: again
    format: jsonl
    paths: ["{data}/a.jsonl"]
""")
    result = run_ingest(load_ingest_config(cfg), LocalStore(tmp_path / "store"))
    stats = result.stats
    assert stats["totals"]["reconciles"] and result.version == "v1"
    assert stats["sources"]["news"]["inputs"] == 3 + 1  # three articles, one broken link
    assert stats["sources"]["news"]["quarantined"] == 1
    assert stats["quarantined_by_error"].get("BrokenLinkError") == 1
    again = stats["sources"]["again"]
    assert again["inputs"] == 2 and again["duplicates"] + again["kept"] + again["rejected"] == 2
