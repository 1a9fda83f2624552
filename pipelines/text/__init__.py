"""The text modality: Vietnamese documents from JSONL, Parquet and WARC/WET into Parquet shards.

Importing it registers :data:`TEXT` with the ingest core (pipelines/core/modality.py).
"""

from pipelines.text.annotate import AnnotateText, TextDedupItems
from pipelines.text.modality import TEXT, TextModality

__all__ = ["AnnotateText", "TEXT", "TextDedupItems", "TextModality"]
