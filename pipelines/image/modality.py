"""The image modality: what Vietnamese image-caption pairs plug into the ingest core.

Readers: image folders with caption sidecars, image lists (paths or politely fetched URLs),
WebDataset tars. Annotator: safe decode, signals, perceptual hashes, NSFW / text / BRISQUE
scorers, face and plate blur, re-encode without metadata, caption checks through the text
filters. Model stage: open_clip through RunInference (when weights are configured). Exact
dedup: decoded-pixel hash; near dedup: pHash Hamming distance (or CLIP embedding cosine).
Shards: WebDataset tars with a Parquet index. Report: thumbnails per reason and histograms.
"""

from __future__ import annotations

import json
from typing import Any

import apache_beam as beam

from pipelines.core.modality import Modality, ModalitySchemas, register_modality
from pipelines.image.config import ImageIngestConfig

EXTENSIONS = {"jpeg": "jpg", "webp": "webp", "png": "png"}
#: Fields of the per-sample ``.json`` member (the tar is usable without the index).
JSON_FIELDS = ("id", "source", "uri", "pointer", "member", "url", "license", "crawl_date", "caption",
               "caption_origin", "caption_lang", "width", "height", "orig_width", "orig_height", "format",
               "signals", "phash", "dhash", "faces", "plates", "content_hash", "run_id")


class ImageModality(Modality):
    """Images with Vietnamese captions."""

    name = "image"
    config_model = ImageIngestConfig
    writer = "webdataset"
    funnel = ("read", "decoded", "image_ok", "caption_ok", "unique")

    def readers(self):
        from pipelines.image.readers import READERS

        return dict(READERS)

    def annotator(self, cfg: ImageIngestConfig, run_id: str, code_version: str) -> beam.DoFn:
        from pipelines.image.annotate import AnnotateImage

        return AnnotateImage(cfg, run_id, code_version)

    def model_stages(self, cfg: ImageIngestConfig, store):
        if not cfg.clip.active():
            return []
        from pipelines.core.inference import AnnotateWithModel
        from pipelines.image.clip import ClipEmbedder

        return [("Clip", AnnotateWithModel(ClipEmbedder(cfg.clip_settings(), store=store), field=None))]

    def decide(self, cfg: ImageIngestConfig):
        if not cfg.clip.active():
            return None
        from pipelines.image.annotate import DecideOnClip

        return DecideOnClip(cfg)

    def schemas(self, cfg: ImageIngestConfig) -> ModalitySchemas:
        from pipelines.image.annotate import pii_types, signal_names
        from schemas.image import image_duplicates_schema, image_record_schema, image_rejected_schema
        from schemas.text import QUARANTINE_SCHEMA

        signals, pii = signal_names(cfg), pii_types()
        return ModalitySchemas(image_record_schema(signals, pii), image_rejected_schema(signals, pii),
                               image_duplicates_schema(), QUARANTINE_SCHEMA)

    def dedup_items(self, cfg: ImageIngestConfig) -> beam.DoFn | None:
        from pipelines.image.annotate import ImageDedupItems

        near = cfg.dedup.near
        if not near.enabled:
            return None
        return ImageDedupItems(near.kind, self.near_dedup_config(cfg))

    def near_dedup_config(self, cfg: ImageIngestConfig):
        near = cfg.dedup.near
        return near.hamming if near.kind == "phash" else near.cosine

    def stages(self, outcome: str, reasons: list[str]) -> list[str]:
        stages = ["read"]
        if outcome == "quarantined" or any(r.startswith("optout:") for r in reasons):
            return stages
        stages.append("decoded")
        if not any(r.startswith(("image:", "clip:", "head:")) for r in reasons):
            stages.append("image_ok")
            if not any(r.startswith("caption:") for r in reasons):
                stages.append("caption_ok")
        if outcome == "kept":
            stages.append("unique")
        return stages

    def sample(self, rec: dict[str, Any]) -> dict[str, Any]:
        s = rec.get("signals") or {}
        w, h = rec.get("orig_width"), rec.get("orig_height")
        return {"short_side": min(w, h) if w and h else None, "aspect": rec.get("aspect"),
                "bytes": rec.get("orig_bytes"), "blur": s.get("blur"), "entropy": s.get("entropy"),
                "nsfw": s.get("nsfw"), "clip_similarity": s.get("clip_similarity")}

    def example_text(self, rec: dict[str, Any]) -> str:
        return rec.get("caption") or ""

    def example_media(self, rec: dict[str, Any]) -> dict[str, Any]:
        return {"thumb": rec["thumb"]} if rec.get("thumb") else {}

    def model_lines(self, config: dict[str, Any]) -> list[str]:
        from filters.image.privacy import FaceDetector, PlateDetector
        from filters.image.scorers import get_scorer
        from pipelines.image.clip import ClipEmbedder

        try:
            cfg = ImageIngestConfig.model_validate(config)
        except ValueError:
            return []
        lines = [ClipEmbedder(cfg.clip_settings()).model_info() if cfg.clip.active() else
                 "CLIP stage off (no clip.weights configured): embedding and clip_similarity are null"]
        if cfg.privacy.faces:
            lines.append(FaceDetector(cfg.privacy).info())
        if cfg.privacy.plates:
            lines.append(PlateDetector(cfg.privacy).info())
        lines += [get_scorer(name).info() for name in ("nsfw", "text", "brisque") if getattr(cfg.scorers, name)]
        lines += [f"linear head {n}: {h.weights}" for n, h in cfg.scorers.linear_heads.items()]
        return lines

    def report_plots(self, stats: dict[str, Any]) -> list[str]:
        from pipelines.image.report import image_report_plots

        return image_report_plots(stats)

    def to_sample(self, rec: dict[str, Any]) -> tuple[str, dict[str, bytes], dict[str, Any]]:
        meta = {k: rec.get(k) for k in JSON_FIELDS}
        members = {EXTENSIONS[rec["format"]]: rec["image"],
                   "txt": (rec.get("caption") or "").encode("utf-8"),
                   "json": json.dumps(meta, ensure_ascii=False, sort_keys=True).encode("utf-8")}
        return rec["id"], members, rec

    def duplicate_row(self, rec: dict[str, Any]) -> dict[str, Any]:
        return {**rec, "kind": rec.get("dup_kind", "exact")}


IMAGE = register_modality(ImageModality())
