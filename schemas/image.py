"""Arrow schemas of the image modality's tables (``kho.image/1``).

Kept images are published as WebDataset tars (``KEY.jpg`` + ``KEY.txt`` + ``KEY.json``); each
tar has a Parquet index with one row per sample: the row below plus the tar member offsets
the writer adds (storage/shards.py). The rejected and duplicates tables carry the published
(privacy-scrubbed) image bytes too, so the review app shows annotators what was dropped
exactly as it would have been published; raw inputs are only ever in the quarantine table.

- ``signals``: one struct field per signal, float64; a signal whose scorer did not run (its
  model is absent or turned off) is null, never 0.
- ``phash`` / ``dhash``: 64-bit perceptual hashes as 16 hex digits (readable in every tool).
- ``embedding``: the open_clip image embedding, float16 (null when no CLIP weights ran).
- ``boxes``: the faces and licence plates blurred in the published image, in its pixels.
- ``content_hash``: sha256 of the decoded pixels (exact duplicates: a re-encoded copy with
  the same pixels, or the same image with its metadata stripped, is still a copy).
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from schemas.text import PROVENANCE_FIELDS, pii_type

IMAGE_SCHEMA_VERSION = "kho.image/1"
REJECTED_SCHEMA_VERSION = "kho.image.rejected/1"
DUPLICATES_SCHEMA_VERSION = "kho.image.duplicates/1"

#: Signals stored per image (see filters/image/ and pipelines/image/annotate.py).
SIGNAL_NAMES = ("blur", "entropy", "colour_std", "nsfw", "text_area", "text_boxes", "brisque",
                "clip_similarity")

BOX_TYPE = pa.struct([pa.field("kind", pa.string()), pa.field("x0", pa.int32()), pa.field("y0", pa.int32()),
                      pa.field("x1", pa.int32()), pa.field("y1", pa.int32()), pa.field("score", pa.float32()),
                      pa.field("detector", pa.string())])


def signals_type(names: Sequence[str] = SIGNAL_NAMES) -> pa.StructType:
    return pa.struct([pa.field(n, pa.float64()) for n in names])


def _image_fields(signal_names: Sequence[str], pii_types: Sequence[str]) -> list[pa.Field]:
    return [
        *PROVENANCE_FIELDS,
        pa.field("member", pa.string()),  # tar member of a WebDataset input, else null
        pa.field("caption", pa.string()),  # PII-scrubbed, normalized; null when none
        pa.field("caption_origin", pa.string()),  # sidecar_txt | sidecar_json | list | wds_txt | wds_json | none
        pa.field("caption_chars", pa.int32()),
        pa.field("caption_lang", pa.string()),
        pa.field("caption_lang_score", pa.float64()),
        pa.field("caption_variant", pa.string()),
        pa.field("caption_pii", pii_type(pii_types)),
        pa.field("caption_pii_total", pa.int32()),
        pa.field("width", pa.int32()),  # published
        pa.field("height", pa.int32()),
        pa.field("orig_width", pa.int32()),  # after EXIF orientation
        pa.field("orig_height", pa.int32()),
        pa.field("aspect", pa.float64()),
        pa.field("bytes", pa.int64()),  # published bytes
        pa.field("orig_bytes", pa.int64()),
        pa.field("format", pa.string()),  # published: jpeg | webp | png
        pa.field("source_format", pa.string()),
        pa.field("source_mode", pa.string()),
        pa.field("frames", pa.int32()),
        pa.field("had_gps", pa.bool_()),  # the input carried GPS EXIF (stripped on publication)
        pa.field("signals", signals_type(signal_names)),
        pa.field("phash", pa.string()),
        pa.field("dhash", pa.string()),
        pa.field("embedding", pa.list_(pa.float16())),
        pa.field("faces", pa.int32()),
        pa.field("plates", pa.int32()),
        pa.field("boxes", pa.list_(BOX_TYPE)),
        pa.field("original_sha256", pa.string()),
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field("run_id", pa.string()),
        pa.field("code_version", pa.string()),
    ]


def image_record_schema(signal_names: Sequence[str], pii_types: Sequence[str]) -> pa.Schema:
    """The Parquet index row of one published sample (the tar holds the bytes)."""
    return pa.schema(_image_fields(signal_names, pii_types), metadata={"kho.schema": IMAGE_SCHEMA_VERSION})


def image_rejected_schema(signal_names: Sequence[str], pii_types: Sequence[str]) -> pa.Schema:
    """Rejected images: the published bytes (scrubbed), every field, and every failed rule."""
    return pa.schema([*_image_fields(signal_names, pii_types), pa.field("image", pa.binary()),
                      pa.field("reasons", pa.list_(pa.string()), nullable=False)],
                     metadata={"kho.schema": REJECTED_SCHEMA_VERSION})


def image_duplicates_schema() -> pa.Schema:
    """Images dropped as duplicates, with the id they duplicate and their scrubbed bytes."""
    return pa.schema([
        *PROVENANCE_FIELDS,
        pa.field("member", pa.string()),
        pa.field("dup_of", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # exact | near
        pa.field("content_hash", pa.string()),
        pa.field("phash", pa.string()),
        pa.field("caption", pa.string()),
        pa.field("image", pa.binary()),
    ], metadata={"kho.schema": DUPLICATES_SCHEMA_VERSION})
