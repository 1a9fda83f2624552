"""The image modality's per-record Beam steps: annotate (safe decode, signals, perceptual
hashes, scorers, face and plate blur, re-encode, caption checks through the text filters, every
failed rule), the post-CLIP decision, and the near-dedup items (pHash or embedding).

Per-image logic lives in filters/image/ (no Beam). Detectors, scorers, the language
identifier and the PII detector load once per worker in ``setup``. A record that cannot be
annotated goes to quarantine with its error; the bundle goes on.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections import Counter
from typing import Any

import apache_beam as beam

from pipelines.common import keep_rule
from pipelines.records import quarantine_row

PROVENANCE = ("id", "source", "uri", "pointer", "url", "crawl_date", "license", "source_id", "extra", "member")


def pii_types() -> tuple[str, ...]:
    from filters.pii import PII_TYPES

    return tuple(PII_TYPES)


def signal_names(cfg: Any) -> tuple[str, ...]:
    """The image signals stored per record: the built-in ones plus one per linear head."""
    from schemas.image import SIGNAL_NAMES

    return (*SIGNAL_NAMES, *(f"head_{n}" for n in cfg.scorers.linear_heads))


def thumbnail_uri(rgb, side: int) -> str | None:
    """A small JPEG data URI of (already scrubbed) pixels for the report's examples."""
    if side <= 0:
        return None
    from PIL import Image

    img = Image.fromarray(rgb)
    img.thumbnail((side, side))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=70)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def set_cpu_threads(threads: int) -> None:
    """Give OpenCV ``threads`` threads in this worker process (Haar cascades, resizes, BRISQUE).

    Beam runs one worker per core; OpenCV's default pool (one thread per core of the machine)
    would make every worker compete for every core. onnxruntime sessions and torch get the same
    count through their own settings (see :class:`pipelines.image.config.ImageRuntimeConfig`).
    """
    import cv2

    cv2.setNumThreads(threads)


class CaptionChecker:
    """The caption's text checks: normalize, language (with the no-diacritics rule), PII scrub,
    length; the same filters as the text modality."""

    def __init__(self, caption_cfg: dict[str, Any]) -> None:
        from filters.langid import default_identifier
        from filters.pii import PiiDetector

        self.cfg = caption_cfg
        self.lid = default_identifier()
        self.pii = PiiDetector(use_ner=caption_cfg["pii"]["ner_fallback"])
        self.types = pii_types()

    def check(self, raw: str | None) -> tuple[dict[str, Any], list[str]]:
        from filters.normalize import normalize_text

        text = normalize_text(raw).text.strip() if raw else ""
        out: dict[str, Any] = {"caption": None, "caption_chars": 0, "caption_lang": None,
                               "caption_lang_score": None, "caption_variant": None,
                               "caption_pii": {t: 0 for t in self.types}, "caption_pii_total": 0}
        if not text:
            return out, ["caption:missing"] if self.cfg["required"] else []
        reasons = []
        lang = self.lid.identify(text)
        lcfg = self.cfg["language"]
        if lang.lang not in lcfg["keep"]:
            reasons.append("caption:other_language")
        else:
            if lang.score < lcfg["min_score"]:
                reasons.append("caption:low_language_score")
            if lang.variant == "no_diacritics" and lcfg["no_diacritics"] == "reject":
                reasons.append("caption:no_diacritics")
        findings = self.pii.find_pii(text)
        counts = Counter(f.type for f in findings)
        published = self.pii.redact(text, findings) if self.cfg["pii"]["redact"] else text
        if len(published) < self.cfg["min_chars"]:
            reasons.append("caption:too_short")
        if len(published) > self.cfg["max_chars"]:
            reasons.append("caption:too_long")
        out.update({"caption": published, "caption_chars": len(published), "caption_lang": lang.lang,
                    "caption_lang_score": float(lang.score), "caption_variant": lang.variant,
                    "caption_pii": {t: counts.get(t, 0) for t in self.types},
                    "caption_pii_total": sum(counts.values())})
        return out, reasons


def image_rule_reasons(rules: dict[str, Any], orig_w: int, orig_h: int, signals: dict[str, Any]) -> list[str]:
    """Every image rule the record fails (a rule set to null is off; a null signal fails none)."""
    reasons = []
    short, long_ = min(orig_w, orig_h), max(orig_w, orig_h)
    if rules["min_side"] is not None and short < rules["min_side"]:
        reasons.append("image:too_small")
    if rules["max_aspect"] is not None and short and long_ / short > rules["max_aspect"]:
        reasons.append("image:extreme_aspect")
    checks = (("blur", "min_blur", "<", "image:blurry"), ("entropy", "min_entropy", "<", "image:near_uniform"),
              ("nsfw", "max_nsfw", ">", "image:nsfw"), ("text_area", "max_text_area", ">", "image:text_overlay"),
              ("brisque", "max_brisque", ">", "image:low_quality"))
    for signal, rule, op, reason in checks:
        value, bound = signals.get(signal), rules[rule]
        if value is None or bound is None:
            continue
        if (op == "<" and value < bound) or (op == ">" and value > bound):
            reasons.append(reason)
    return reasons


class AnnotateImage(beam.DoFn):
    """Decode safely, compute signals and hashes, blur faces and plates, re-encode without
    metadata, check the caption, and list every failed rule."""

    def __init__(self, cfg: Any, run_id: str, code_version: str) -> None:
        self.decode_cfg = cfg.decode.model_dump(mode="json")
        self.privacy_cfg = cfg.privacy.model_dump(mode="json")
        self.rules = cfg.rules.model_dump()
        self.caption_cfg = cfg.caption.model_dump(mode="json")
        self.scorers_cfg = cfg.scorers.model_dump(mode="json")
        self.threads = cfg.runtime.threads
        self.thumb_side = cfg.output.thumbnails
        # The report shows thumbnails beside rejection reasons only: a record needs one if it
        # already fails a rule, or if a rule after the CLIP stage may still reject it.
        self.late_rules = cfg.clip.active() and (
            cfg.rules.min_clip_similarity is not None
            or any(h.max_score is not None for h in cfg.scorers.linear_heads.values()))
        self.signal_names = signal_names(cfg)
        self.run_id, self.code_version = run_id, code_version

    def setup(self) -> None:
        from filters.image.decode import DecodeSettings
        from filters.image.privacy import FaceDetector, PlateDetector, PrivacySettings
        from filters.image.scorers import get_scorer

        set_cpu_threads(self.threads)
        self.decode = DecodeSettings.model_validate(self.decode_cfg)
        privacy = PrivacySettings.model_validate(self.privacy_cfg)
        # runtime.threads applies to RetinaFace unless privacy.onnx_threads says otherwise
        self.privacy = privacy if privacy.onnx_threads else privacy.model_copy(update={"onnx_threads": self.threads})
        self.faces = FaceDetector(self.privacy) if self.privacy.faces else None
        self.plates = PlateDetector(self.privacy) if self.privacy.plates else None
        self.scorers = {name: get_scorer(name, **({} if name == "brisque" else {"threads": self.threads}))
                        for name in ("nsfw", "text", "brisque") if self.scorers_cfg[name]}
        self.captions = CaptionChecker(self.caption_cfg)

    def process(self, rec: dict[str, Any]):
        from filters.image.decode import ImageDecodeError

        try:
            yield self.annotate(rec)
        except ImageDecodeError as exc:
            yield beam.pvalue.TaggedOutput("quarantine", quarantine_row(
                rec["source"], rec["uri"], rec["pointer"], exc, raw=rec.get("image_bytes")))
        except Exception as exc:  # noqa: BLE001 - one bad record goes to quarantine
            yield beam.pvalue.TaggedOutput("quarantine", quarantine_row(
                rec["source"], rec["uri"], rec["pointer"], exc,
                f"annotating failed: {type(exc).__name__}: {exc}", raw=rec.get("image_bytes")))

    def _base(self, rec: dict[str, Any]) -> dict[str, Any]:
        return {**{k: rec.get(k) for k in PROVENANCE}, "caption_origin": rec.get("caption_origin"),
                "run_id": self.run_id, "code_version": self.code_version}

    def _unfetched(self, rec: dict[str, Any], caption: dict[str, Any], reasons: list[str]) -> dict[str, Any]:
        """A record whose image was never fetched (an opt-out): rejected, no image fields."""
        return {**self._base(rec), **caption, "signals": None, "embedding": None, "boxes": [], "faces": 0,
                "plates": 0, "image": None,
                "content_hash": hashlib.sha256(f"unfetched\0{rec['id']}".encode()).hexdigest(),
                "reasons": reasons}

    def _scores(self, rgb, work) -> dict[str, float | None]:
        """The scorers' signals: the text detector reads the full-resolution pixels (it
        resizes to its own side), NSFW and BRISQUE the shared working copy (open_nsfw shrinks
        to 256 px anyway; BRISQUE is defined at the working size)."""
        out: dict[str, float | None] = {}
        for name, scorer in self.scorers.items():
            if name == "text":
                details = scorer.details(rgb)
                out["text_area"] = None if not details else details.get("text_fraction")
                out["text_boxes"] = None if not details else details.get("text_boxes")
            else:
                out[name] = scorer.score(work)
        return out

    def _scrub(self, rgb):
        from filters.image.privacy import blur_boxes

        boxes = []
        if self.faces is not None:
            boxes += self.faces.detect(rgb)
        if self.plates is not None:
            boxes += self.plates.detect(rgb)
        return (blur_boxes(rgb, boxes, self.privacy) if boxes else rgb), boxes

    def annotate(self, rec: dict[str, Any]) -> dict[str, Any]:
        from filters.image.decode import decode_image, encode_image
        from filters.image.signals import blur_score, colour_entropy, colour_std, dhash, phash, working_copy

        caption, reasons = self.captions.check(rec.get("caption_raw"))
        reasons = [*rec.get("read_reasons", []), *reasons]
        if rec.get("image_bytes") is None:
            return self._unfetched(rec, caption, reasons)
        data = rec["image_bytes"]
        img = decode_image(data, self.decode)
        rgb = img.rgb
        # one shared downscaled copy (filters/image/signals.py, "The working copy") for every
        # cheap signal, the hashes, NSFW and BRISQUE; detectors bound their own input size
        work = working_copy(rgb)
        signals: dict[str, Any] = {n: None for n in self.signal_names}
        signals.update({"blur": blur_score(work), "entropy": colour_entropy(work), "colour_std": colour_std(work)})
        signals.update(self._scores(rgb, work))
        reasons += image_rule_reasons(self.rules, img.width, img.height, signals)
        scrubbed, boxes = self._scrub(rgb)
        published, w, h = encode_image(scrubbed, self.decode)
        scale = w / img.width if img.width else 1.0
        return {
            **self._base(rec), **caption,
            "width": w, "height": h, "orig_width": img.width, "orig_height": img.height,
            "aspect": img.width / img.height if img.height else None,
            "bytes": len(published), "orig_bytes": len(data), "format": self.decode.format,
            "source_format": img.source_format, "source_mode": img.source_mode, "frames": img.frames,
            "had_gps": img.had_gps, "signals": signals,
            "phash": phash(work).hex(), "dhash": dhash(work).hex(), "embedding": None,
            "faces": sum(b.kind == "face" for b in boxes), "plates": sum(b.kind == "plate" for b in boxes),
            "boxes": [{"kind": b.kind, "x0": int(b.x0 * scale), "y0": int(b.y0 * scale),
                       "x1": int(b.x1 * scale), "y1": int(b.y1 * scale), "score": float(b.score),
                       "detector": b.detector} for b in boxes],
            "original_sha256": img.original_sha256, "content_hash": img.pixel_sha256,
            "image": published,
            "thumb": thumbnail_uri(scrubbed, self.thumb_side) if reasons or self.late_rules else None,
            "reasons": reasons,
        }


class DecideOnClip:
    """After the CLIP stage: store the similarity, the embedding (float16) and the linear
    heads' scores, and add the rules they fail. A picklable callable (Beam ships it)."""

    def __init__(self, cfg: Any) -> None:
        self.min_similarity = cfg.rules.min_clip_similarity
        self.heads = {n: {**h.model_dump(), "weights": cfg.local_path(h.weights)}
                      for n, h in cfg.scorers.linear_heads.items()}
        self._loaded: dict[str, Any] | None = None

    def _head_weights(self) -> dict[str, Any]:
        if self._loaded is None:
            import numpy as np

            self._loaded = {n: np.load(h["weights"]).astype("float32") for n, h in self.heads.items()}
        return self._loaded

    def __call__(self, rec: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        emb = rec.pop("clip_embedding", None)
        sim = rec.pop("clip_similarity", None)
        if rec.get("signals") is None or emb is None:
            return rec
        signals = {**rec["signals"], "clip_similarity": None if sim is None else float(sim)}
        reasons = list(rec["reasons"])
        if self.min_similarity is not None and sim is not None and sim < self.min_similarity:
            reasons.append("clip:low_similarity")
        vec = np.asarray(emb, dtype=np.float32)
        for name, w in self._head_weights().items():
            score = float(1 / (1 + np.exp(-(float(w[:-1] @ vec) + float(w[-1])))))
            signals[f"head_{name}"] = score
            bound = self.heads[name]["max_score"]
            if bound is not None and score > bound:
                reasons.append(f"head:{name}")
        return {**rec, "signals": signals, "embedding": vec.astype(np.float16).tolist(), "reasons": reasons}


class ImageDedupItems(beam.DoFn):
    """Near-dedup items of kept images: the pHash (Hamming) or the CLIP embedding (cosine)."""

    def __init__(self, kind: str, cluster_cfg: Any) -> None:
        self.kind, self.cluster_cfg = kind, cluster_cfg

    def setup(self) -> None:
        from filters.lsh import CosineLSH, HammingLSH

        self.lsh = (HammingLSH.from_config(self.cluster_cfg) if self.kind == "phash"
                    else CosineLSH.from_config(self.cluster_cfg))

    def process(self, rec: dict[str, Any]):
        import numpy as np

        from pipelines.dedup import cosine_dedup_item, hamming_dedup_item

        if self.kind == "phash":
            yield hamming_dedup_item(rec["id"], bytes.fromhex(rec["phash"]), self.lsh, priority=keep_rule(rec))
        elif rec.get("embedding") is not None:
            yield cosine_dedup_item(rec["id"], np.asarray(rec["embedding"], dtype=np.float32), self.lsh,
                                    priority=keep_rule(rec))
