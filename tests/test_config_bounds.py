"""Config loading stays bounded: alias bombs are refused, and error messages stay short."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from schemas.config import MAX_CONFIG_NODES, MAX_ERROR_LINES, ConfigError, load_model

# Nine levels of nine aliases: 9^9 = 387,420,489 strings from a file of well under 1 KB.
BOMB = "\n".join(
    ['lol0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"lol{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    + ["dataset: *l8", "sources:", "  - name: news", "    format: jsonl", "    paths: *l8"]
) + "\n"


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    format: str = Field(pattern="^(jsonl|parquet)$")
    paths: list[str]


class Demo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dataset: str = Field(pattern=r"^[A-Za-z0-9._-]+$")
    sources: list[Source]
    tags: dict[str, str] = {}


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_alias_bomb_is_refused_quickly_before_it_is_built(tmp_path: Path) -> None:
    path = _write(tmp_path, BOMB)
    assert path.stat().st_size < 1024
    started = time.monotonic()
    with pytest.raises(ConfigError) as err:
        load_model(Demo, path)
    elapsed = time.monotonic() - started
    assert elapsed < 2, f"took {elapsed:.1f}s"
    msg = str(err.value)
    assert f"expands to more than {MAX_CONFIG_NODES:,} nodes (YAML aliases?)" in msg
    assert str(path) in msg and "\n" not in msg


def test_alias_bomb_is_refused_by_the_ingest_config_loader(tmp_path: Path) -> None:
    pytest.importorskip("filters.quality")
    from pipelines.config import load_ingest_config

    started = time.monotonic()
    with pytest.raises(ConfigError, match="YAML aliases"):
        load_ingest_config(_write(tmp_path, BOMB))
    assert time.monotonic() - started < 2


def test_a_config_with_a_few_aliases_still_loads(tmp_path: Path) -> None:
    good = _write(tmp_path, """
dataset: demo
sources:
  - &src {name: one, format: jsonl, paths: &paths ["a.jsonl", "b.jsonl"]}
  - {<<: *src, name: two}
  - {name: three, format: parquet, paths: *paths}
""")
    cfg = load_model(Demo, good)
    assert [s.name for s in cfg.sources] == ["one", "two", "three"]
    assert cfg.sources[1].paths == cfg.sources[2].paths == ["a.jsonl", "b.jsonl"]


def test_a_large_plain_config_under_the_budget_loads(tmp_path: Path) -> None:
    lines = ["dataset: demo", "sources:"]
    for i in range(2000):  # ~8,000 nodes: far more than any real config
        lines += [f"  - name: s{i}", "    format: jsonl", f"    paths: [p{i}.jsonl]"]
    cfg = load_model(Demo, _write(tmp_path, "\n".join(lines) + "\n"))
    assert len(cfg.sources) == 2000


def test_a_huge_value_in_an_error_is_truncated(tmp_path: Path) -> None:
    text = ("dataset: [" + ", ".join(f"item{i}" for i in range(20_000)) + "]\n"
            "sources:\n  - name: news\n    format: " + "z" * 100_000 + "\n    paths: [a]\n")
    with pytest.raises(ConfigError) as err:
        load_model(Demo, _write(tmp_path, text))
    msg = str(err.value)
    assert len(msg) < 1500, len(msg)
    lines = msg.splitlines()
    dataset_line = next(line for line in lines if line.startswith("  dataset:"))
    format_line = next(line for line in lines if line.startswith("  sources.0.format:"))
    assert "item0" in dataset_line and "..." in dataset_line and "item19999" not in dataset_line
    assert "zzz" in format_line and "..." in format_line and len(format_line) < 450


def test_the_number_of_error_lines_is_capped(tmp_path: Path) -> None:
    lines = ["dataset: demo", "sources:"]
    for i in range(300):
        lines += [f"  - name: s{i}", "    format: csv", "    paths: [a]"]
    with pytest.raises(ConfigError) as err:
        load_model(Demo, _write(tmp_path, "\n".join(lines) + "\n"))
    msg_lines = str(err.value).splitlines()
    assert len(msg_lines) == 1 + MAX_ERROR_LINES + 1
    assert msg_lines[-1] == f"  ... and {300 - MAX_ERROR_LINES} more problems; fix these first"


def test_absurdly_deep_nesting_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="too deeply"):
        load_model(Demo, _write(tmp_path, "dataset: " + "[" * 5000 + "]" * 5000 + "\n"))
