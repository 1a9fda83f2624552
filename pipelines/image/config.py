"""The image ingest configuration (``modality: image``): sources, decoding, privacy, rules,
caption checks, scorers, the CLIP stage and dedup, each a validated section.

Every rule threshold can be set to null to turn that rule off; its signal is still stored.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from filters.image.decode import DecodeSettings
from filters.image.privacy import PrivacySettings
from filters.lsh import CosineConfig, HammingConfig
from pipelines.config import BaseIngestConfig, LanguageConfig, OutputConfig, PiiConfig, SourceConfig
from pipelines.image.clip import ClipSettings
from pipelines.image.fetch import FetchSettings

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff")
LIST_EXTENSIONS = (".jsonl", ".json", ".ndjson", ".csv", ".tsv", ".parquet", ".gz", ".zst")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImageSourceConfig(SourceConfig):
    """A source of images.

    - ``image_folder``: the paths match image files; each image's caption comes from a
      sidecar beside it (``x.txt``, or ``x.json`` with ``caption_field`` and ``license``).
    - ``image_list``: the paths match Parquet / CSV / JSONL lists, one image per row: a
      ``path_field`` (relative to the list, absolute, or ``store:KEY``) or a ``url_field``
      (fetched politely, see ``fetch``), and a ``caption_field`` (the img2dataset convention).
    - ``webdataset``: the paths match WebDataset tars (``KEY.jpg`` + ``KEY.txt``/``KEY.json``),
      so other people's shards can be re-curated.
    """

    format: Literal["image_folder", "image_list", "webdataset"]
    caption_field: str = "caption"
    path_field: str = "path"
    license_field: str = "license"
    image_extensions: list[str] = Field(default_factory=lambda: list(IMAGE_EXTENSIONS))
    max_image_bytes: int = Field(50 * 1024 * 1024, ge=1024, description=(
        "Largest encoded image read (50 MiB); a larger one is quarantined as ImageTooLargeError."))
    fetch: FetchSettings = FetchSettings()

    def accepts(self, uri: str) -> bool:
        """Folders: image files only (caption sidecars travel with their image); lists and
        tars: every file the paths match."""
        if self.format != "image_folder":
            return True
        return os.path.splitext(uri)[1].lower() in {e.lower() for e in self.image_extensions}


class ImageRules(_Strict):
    """Thresholds of the image rules (null turns a rule off; the signal is still stored)."""

    min_side: int | None = Field(64, ge=1, description="shorter side of the decoded image, pixels")
    max_aspect: float | None = Field(4.0, ge=1, description="longer side / shorter side")
    min_blur: float | None = Field(20.0, ge=0, description="variance of the Laplacian (sharpness)")
    min_entropy: float | None = Field(0.5, ge=0, description="colour entropy, bits (near-uniform images)")
    max_nsfw: float | None = Field(0.6, ge=0, le=1, description="open_nsfw probability")
    max_text_area: float | None = Field(None, ge=0, le=1, description=(
        "share of the image covered by detected text (overlays, watermarks); off by default"))
    max_brisque: float | None = Field(None, description="BRISQUE score, lower is better; off by default")
    min_clip_similarity: float | None = Field(None, ge=-1, le=1, description=(
        "caption-image cosine of the CLIP stage; off by default: meaningless without trained weights"))


class CaptionConfig(_Strict):
    """The caption's own checks, through the text filters (normalize, language, PII)."""

    required: bool = True
    min_chars: int = Field(5, ge=0)
    max_chars: int = Field(2000, ge=1)
    language: LanguageConfig = LanguageConfig()
    pii: PiiConfig = PiiConfig(ner_fallback=False)


class LinearHeadConfig(_Strict):
    """A linear head on the CLIP embedding (e.g. an aesthetic or watermark head): a .npy of
    dim+1 floats (weights then bias); the score is sigmoid(w . e + b)."""

    weights: str
    max_score: float | None = Field(None, description="reject above this (null: signal only)")


class ScorersConfig(_Strict):
    """Which scorers run. A scorer whose model is not installed leaves its signal null."""

    nsfw: bool = True
    text: bool = Field(False, description=(
        "PP-OCRv4 text detector (overlays, watermarks): about half of the per-image CPU time "
        "(bench/image), so off by default like its rule rules.max_text_area"))
    brisque: bool = True
    linear_heads: dict[str, LinearHeadConfig] = Field(default_factory=dict)


class ImageRuntimeConfig(_Strict):
    """How the per-image models use the CPU of one Beam worker."""

    threads: int = Field(1, ge=1, le=256, description=(
        "intra-op threads of every per-image model (onnxruntime: NSFW, text, RetinaFace; OpenCV: "
        "Haar, resizes, BRISQUE; torch: CLIP on the CPU). Beam runs one worker per core, so 1 "
        "(the default) gives each worker its core; onnxruntime's own default (one thread per "
        "core of the machine) oversubscribes and ran about 2x slower per core (bench/image). "
        "Raise it only when one worker has several cores to itself"))


class ImageNearDedupConfig(_Strict):
    """Near duplicates: pHash Hamming distance (default) or, optionally, CLIP embedding
    cosine ("semantic" duplicates; needs CLIP weights)."""

    enabled: bool = True
    kind: Literal["phash", "embedding"] = "phash"
    hamming: HammingConfig = HammingConfig(bits=64, max_distance=8)
    cosine: CosineConfig = CosineConfig(dim=512, cosine_threshold=0.95)


class ImageDedupConfig(_Strict):
    """Exact duplicates by decoded-pixel hash, near duplicates as configured; the earliest
    crawl date, then the smallest id, is kept, and an image already published is not
    published again."""

    exact: bool = True
    near: ImageNearDedupConfig = ImageNearDedupConfig()


class ImageOutputConfig(OutputConfig):
    """WebDataset tars of about ``target_shard_bytes`` each, with a Parquet index per tar."""

    target_shard_bytes: int = Field(256 * 1024 * 1024, ge=1024)
    thumbnails: int = Field(96, ge=0, le=256, description=(
        "longer side of the report's example thumbnails (of the published, blurred image; 0: none)"))


class ImageIngestConfig(BaseIngestConfig):
    """An image-caption ingest run."""

    modality: Literal["image"] = "image"
    sources: list[ImageSourceConfig] = Field(min_length=1)
    decode: DecodeSettings = DecodeSettings()
    privacy: PrivacySettings = PrivacySettings()
    rules: ImageRules = ImageRules()
    caption: CaptionConfig = CaptionConfig()
    scorers: ScorersConfig = ScorersConfig()
    clip: ClipSettings = ClipSettings()
    runtime: ImageRuntimeConfig = ImageRuntimeConfig()
    dedup: ImageDedupConfig = ImageDedupConfig()
    output: ImageOutputConfig = ImageOutputConfig()

    def local_path(self, path: str) -> str:
        """A configured file path resolved against the config's folder (``store:`` keys and
        absolute paths as they are)."""
        if path.startswith("store:") or os.path.isabs(path):
            return path
        return str((self.base_dir / path).resolve())

    def clip_settings(self) -> ClipSettings:
        """The CLIP settings with the weights path resolved against the config's folder."""
        update: dict[str, object] = {"cpu_threads": self.runtime.threads}
        if self.clip.weights:
            update["weights"] = self.local_path(self.clip.weights)
        return self.clip.model_copy(update=update)

    @model_validator(mode="after")
    def _embedding_dedup_needs_clip(self) -> "ImageIngestConfig":
        if self.dedup.near.enabled and self.dedup.near.kind == "embedding" and not self.clip.weights:
            raise ValueError("dedup.near.kind: embedding needs CLIP weights (clip.weights); "
                             "set them or use kind: phash")
        return self
