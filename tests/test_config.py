"""Configuration is validated data: unknown keys and bad values are named with what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.config import ConfigError

pytest.importorskip("filters.quality")

from pipelines.config import load_ingest_config  # noqa: E402

GOOD = """
dataset: demo
sources:
  - name: news
    format: jsonl
    paths: [a.jsonl]
"""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_valid_config_loads_with_defaults(tmp_path: Path) -> None:
    cfg = load_ingest_config(_write(tmp_path, GOOD))
    assert cfg.language.keep == ["vi"] and cfg.dedup.exact
    assert cfg.base_dir == tmp_path


def test_unknown_key_is_named_with_the_allowed_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_ingest_config(_write(tmp_path, GOOD + "languge:\n  keep: [vi]\n"))
    msg = str(err.value)
    assert "languge: unknown key" in msg and "language" in msg


def test_nested_unknown_key_and_bad_value(tmp_path: Path) -> None:
    text = GOOD.replace("format: jsonl", "format: csv") + "language:\n  min_scor: 0.5\n"
    with pytest.raises(ConfigError) as err:
        load_ingest_config(_write(tmp_path, text))
    msg = str(err.value)
    assert "sources.0.format" in msg and "'jsonl'" in msg
    assert "language.min_scor: unknown key" in msg and "min_score" in msg


def test_missing_file_and_broken_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_ingest_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_ingest_config(_write(tmp_path, "dataset: [unclosed"))


def test_the_readme_config_example_is_valid() -> None:
    import yaml

    from pipelines.config import IngestConfig

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    example = readme.split("```yaml")[1].split("```")[0]
    cfg = IngestConfig.model_validate(yaml.safe_load(example))
    assert cfg.sources[0].encoding == "legacy" and cfg.dedup.near.minhash.bands == 14
