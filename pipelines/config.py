"""The ingest configuration: validated data loaded from YAML (see pipelines/configs/sample.yaml).

Unknown keys and bad values are errors that name the key and what is allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from filters.minhash import MinHashConfig
from filters.quality import QualityThresholds
from pipelines.readers import (DEFAULT_MAX_EXTRA_BYTES, DEFAULT_MAX_INPUT_BYTES,
                               DEFAULT_MAX_JSON_DEPTH, DEFAULT_MAX_LINE_BYTES,
                               DEFAULT_MAX_RECORD_BYTES)
from schemas.config import ConfigError, read_yaml, validate_model
from storage.shards import DEFAULT_ROW_GROUP_ROWS, DEFAULT_TARGET_BYTES


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceConfig(_Strict):
    """One source: where its inputs are, how to read them, and its license.

    The ``max_*`` bounds keep one input's cost bounded whatever it holds (see
    pipelines/readers.py for the defaults and why): what is over a bound becomes a quarantine
    row that names the bound, and reading goes on."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    format: str = Field(description="How to read the inputs; one of the modality's readers "
                        "(text: jsonl, parquet, warc).")
    paths: list[str] = Field(min_length=1, description=(
        "Local files or globs (relative to the config file), or store:KEY / store:PREFIX/ "
        "for inputs already in the object store."))
    license: str = "unknown"
    text_field: str = "text"
    url_field: str = "url"
    date_field: str = "date"
    id_field: str = Field("id", min_length=1, description=(
        "The record's own id in the source, kept as source_id (a string; ints converted, null "
        "when the record has none). WARC: a header, WARC-Record-ID when left at 'id'."))
    extra_fields: list[str] = Field(default_factory=list, description=(
        "Further fields of the source kept per record in the extra column: one JSON object of "
        "the named fields the record has (WARC: named WARC, else HTTP, headers); null when "
        "none are named. Kept as they are, not PII-scrubbed: name only fields fit to publish."))
    max_extra_bytes: int = Field(DEFAULT_MAX_EXTRA_BYTES, ge=64, description=(
        "A record's source_id and extra together (UTF-8 bytes, 64 KiB); a record over it, or "
        "with text and these together over max_record_bytes, is quarantined as "
        "RecordTooLargeError."))
    max_line_bytes: int = Field(DEFAULT_MAX_LINE_BYTES, ge=1024, description=(
        "Longest JSONL line read; a longer one is skipped without being held in memory."))
    max_input_bytes: int = Field(DEFAULT_MAX_INPUT_BYTES, ge=1024, description=(
        "Decompressed bytes read from one input (8 GiB). Past it reading stops with one "
        "InputTooLargeError row and the records before are kept: a decompression bomb costs "
        "seconds, not the worker. Split bigger inputs, or raise it."))
    max_record_bytes: int = Field(DEFAULT_MAX_RECORD_BYTES, ge=1024, description=(
        "Largest text of one record (UTF-8 bytes; JSONL, Parquet) or payload of one WARC "
        "record (4 MiB). A larger one is quarantined as RecordTooLargeError."))
    max_json_depth: int = Field(DEFAULT_MAX_JSON_DEPTH, ge=1, le=900, description=(
        "Deepest JSON nesting of a JSONL line (256); a deeper one is quarantined as "
        "JsonTooDeepError. At most 900: the interpreter's recursion limit is 1000."))
    encoding: str | None = Field(None, description=(
        "Byte encoding when it is not UTF-8: a codec name (cp1258, windows-1252, ...), tcvn3 or "
        "vni, or 'legacy' to detect TCVN3 / VNI / CP1258 per record. Unset: strict UTF-8, and "
        "invalid bytes go to quarantine."))


    def accepts(self, uri: str) -> bool:
        """Whether a file the paths matched is an input of this source (a modality can skip
        files that travel with its inputs, such as an image folder's caption sidecars)."""
        return True


class TextSourceConfig(SourceConfig):
    """A source of the text modality: its format is one of the text readers."""

    format: Literal["jsonl", "parquet", "warc"]


class LanguageConfig(_Strict):
    """Which languages to keep, and what to do with Vietnamese typed without diacritics."""

    keep: list[str] = ["vi"]
    min_score: float = Field(0.65, ge=0, le=1)
    no_diacritics: Literal["keep", "reject"] = "keep"


class PiiConfig(_Strict):
    """PII scrubbing: findings are always counted; ``redact`` replaces them with placeholders."""

    redact: bool = True
    ner_fallback: bool = Field(True, description=(
        "Run underthesea's CRF NER on sentences whose capitalised words the name cues leave "
        "unexplained. Catches foreign and cue-less names (name recall 0.98 vs 0.94 on the "
        "labelled set) at about 40% of the pipeline's CPU time on news-like text."))


class NearDedupConfig(_Strict):
    """Near-duplicate removal (MinHash LSH, against the run and everything published);
    see docs/dedup.md. The kept record of a cluster is a published one if any, else the
    earliest crawl date, then the smallest id."""

    enabled: bool = True
    minhash: MinHashConfig = MinHashConfig()


class DedupConfig(_Strict):
    """Exact duplicates (hash of the normalized text) are removed; the earliest crawl date,
    then the smallest id, is kept."""

    exact: bool = True
    near: NearDedupConfig = NearDedupConfig()


class OutputConfig(_Strict):
    """How kept records and run tables are written."""

    target_shard_bytes: int = Field(DEFAULT_TARGET_BYTES, ge=1024)
    row_group_rows: int = Field(DEFAULT_ROW_GROUP_ROWS, ge=100)
    write_buckets: int = Field(4, ge=1, le=100_000, description=(
        "Parallel shard writers; each writes one or more shards of target size."))


class BaseIngestConfig(_Strict):
    """What every ingest run has, whatever its modality: the core's part of the config.

    ``modality`` picks the config model (text by default, so older configs still load); each
    modality's model narrows ``sources`` to its readers' formats and adds its own validated
    sections, and unknown keys stay errors."""

    modality: str = "text"
    dataset: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    store: str | None = Field(None, description="Object store URI; --store / $KHO_STORE win over it.")
    sources: list[SourceConfig] = Field(min_length=1)
    dedup: DedupConfig = DedupConfig()
    output: OutputConfig = OutputConfig()
    base_dir: Path = Field(Path("."), exclude=True)

    @field_validator("sources", mode="before")
    @classmethod
    def _sources_as_data(cls, sources):
        """Accept SourceConfig objects too (code builds configs), revalidated as this
        modality's source model."""
        if isinstance(sources, list):
            return [s.model_dump() if isinstance(s, SourceConfig) else s for s in sources]
        return sources

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, sources: list[SourceConfig]) -> list[SourceConfig]:
        names = [s.name for s in sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique; repeated: {', '.join(dupes)}")
        return sources


class IngestConfig(BaseIngestConfig):
    """A text ingest run: the core's part plus language, quality and PII sections."""

    modality: Literal["text"] = "text"
    sources: list[TextSourceConfig] = Field(min_length=1)
    language: LanguageConfig = LanguageConfig()
    quality: QualityThresholds = QualityThresholds()
    pii: PiiConfig = PiiConfig()


TextIngestConfig = IngestConfig


def load_ingest_config(path: str | Path) -> BaseIngestConfig:
    """Load and validate an ingest config with the model of its ``modality`` (default text);
    relative input paths resolve against the config's folder."""
    from pipelines.core.modality import UnknownModalityError, get_modality

    raw = read_yaml(path)
    name = raw.get("modality", "text") if isinstance(raw, dict) else "text"
    try:
        model = get_modality(str(name)).config_model
    except UnknownModalityError as exc:
        raise ConfigError(f"invalid configuration in {path}:\n  modality: {exc}") from None
    cfg = validate_model(model, raw, str(path))
    cfg.base_dir = Path(path).resolve().parent
    return cfg
