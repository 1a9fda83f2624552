"""The Modality contract: what a modality package gives the ingest core.

The core (pipelines/core/skeleton.py) owns every modality-neutral step of a run: plan and
ledger, read (through the modality's reader registry), annotate with the try/quarantine
wrapper, decide, exact dedup, near dedup (the shared clustering step), write shards and run
tables, stats, commit, report. A modality supplies only what differs: its config section,
its readers, its annotator, its dedup items, its schemas, its writer kind and its report
plots. Adding a modality means adding a package that registers one of these; the core is not
edited (see docs/architecture.md, "Adding a modality").
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, ClassVar

import apache_beam as beam
import pyarrow as pa
from pydantic import BaseModel

#: A reader turns one opened input into ``("record", row)`` / ``("quarantine", row)`` outcomes
#: and never raises for bad data (see pipelines/readers.py).
Reader = Callable[[BinaryIO, str, dict[str, Any]], Iterator[tuple[str, dict[str, Any]]]]


@dataclass(frozen=True)
class ModalitySchemas:
    """The Arrow schemas of a modality's kept shards and run tables."""

    kept: pa.Schema
    rejected: pa.Schema
    duplicates: pa.Schema
    quarantine: pa.Schema


class Modality(abc.ABC):
    """One modality (text, image, audio, video) as the core sees it.

    Records flowing between the steps are dicts with at least: ``id``, ``source``, ``uri``,
    ``pointer``, ``crawl_date`` (or None), ``content_hash`` (exact dedup), ``reasons`` (the
    rules it failed; empty means keep). Everything else is the modality's own.
    """

    #: The value of ``modality:`` in an ingest config.
    name: ClassVar[str]
    #: The validated config model of an ingest of this modality (a subclass of BaseIngestConfig).
    config_model: ClassVar[type[BaseModel]]
    #: "parquet" (kept records as Parquet shards) or "webdataset" (tars + Parquet index, through
    #: :meth:`to_sample`).
    writer: ClassVar[str] = "parquet"
    #: The funnel's stages in order, as :meth:`stages` names them (the report's funnel chart).
    funnel: ClassVar[tuple[str, ...]] = ("read", "decoded", "accepted", "unique")

    @abc.abstractmethod
    def readers(self) -> dict[str, Reader]:
        """Source ``format`` -> reader."""

    @abc.abstractmethod
    def annotator(self, cfg: Any, run_id: str, code_version: str) -> beam.DoFn:
        """A DoFn: one read record -> one annotated record (signals, ``reasons``). The core
        wraps nothing around it: it must quarantine a record it cannot annotate by yielding a
        ``TaggedOutput("quarantine", row)`` (see :class:`pipelines.core.annotate.AnnotateDoFn`)."""

    @abc.abstractmethod
    def schemas(self, cfg: Any) -> ModalitySchemas:
        """Schemas of the kept shards and the run tables."""

    def model_stages(self, cfg: Any, store: Any) -> list[tuple[str, beam.PTransform]]:
        """Model stages run on the annotated records before the decision, in order, as
        (label, transform). Each transform returns
        :class:`pipelines.core.inference.ModelOutputs` (``annotated``, ``quarantine``), which
        is what :class:`~pipelines.core.inference.AnnotateWithModel` returns: a modality only
        writes a ``KhoModelHandler`` per model. Failed records join the run's quarantine.
        ``store`` is the run's object store (for weights kept there as ``store:KEY``)."""
        return []

    def decide(self, cfg: Any) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
        """A function run on every record after the model stages that adds the rules it fails
        on model signals to ``reasons`` (None: the annotator's ``reasons`` stand)."""
        return None

    def dedup_items(self, cfg: Any) -> beam.DoFn | None:
        """A DoFn: kept record -> :class:`pipelines.dedup.DedupItem` for near-duplicate
        clustering, or None when the config turns near dedup off."""
        return None

    def near_dedup_config(self, cfg: Any) -> Any | None:
        """The MinHash settings the dedup index of this modality is keyed by (None: no index)."""
        return None

    def stages(self, outcome: str, reasons: list[str]) -> list[str]:
        """Funnel stages a record got through (for the report's funnel)."""
        stages = ["read"]
        if outcome != "quarantined":
            stages.append("decoded")
        if outcome in ("kept", "duplicates"):
            stages.append("accepted")
        if outcome == "kept":
            stages.append("unique")
        return stages

    def sample(self, rec: dict[str, Any]) -> dict[str, Any]:
        """What the report's histograms need of one record (kept small: it is sampled)."""
        return {}

    def example_text(self, rec: dict[str, Any]) -> str:
        """A short human-readable excerpt of a record for the report's examples."""
        return ""

    def example_media(self, rec: dict[str, Any]) -> dict[str, Any]:
        """Small media for the report's examples, e.g. ``{"thumb": "data:image/jpeg;base64,..."}``
        (a thumbnail of the published, privacy-scrubbed content only, never the raw input)."""
        return {}

    def model_lines(self, config: dict[str, Any]) -> list[str]:
        """One line per model the run's config ran (name, weights, their hash), for the report:
        it must say plainly which weights produced the signals."""
        return []

    def report_plots(self, stats: dict[str, Any]) -> list[str]:
        """Extra SVG plots for the run report."""
        return []

    def to_sample(self, rec: dict[str, Any]) -> tuple[str, dict[str, bytes], dict[str, Any]]:
        """For ``writer = "webdataset"``: (sample key, members by extension such as
        ``{"jpg": ..., "txt": ..., "json": ...}``, the metadata row of the kept schema that
        goes to the tar's Parquet index)."""
        raise NotImplementedError(f"modality {self.name!r} writes WebDataset but has no to_sample")

    def duplicate_row(self, rec: dict[str, Any]) -> dict[str, Any]:
        """A duplicate record as a row of the duplicates table."""
        return {**rec, "kind": rec.get("dup_kind", "exact")}


_REGISTRY: dict[str, Modality] = {}


class UnknownModalityError(ValueError):
    """A config names a modality no package registered."""


def register_modality(modality: Modality) -> Modality:
    """Make ``modality`` available to ``modality: NAME`` configs (idempotent per name)."""
    _REGISTRY[modality.name] = modality
    return modality


def get_modality(name: str) -> Modality:
    """The registered modality called ``name``; built-in ones are imported on first use."""
    if name not in _REGISTRY:
        _import_builtin(name)
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(set(_REGISTRY) | set(BUILTIN))) or "none"
        raise UnknownModalityError(f"unknown modality {name!r}: known modalities are {known}") from None


#: Built-in modality packages, imported lazily (so text alone does not import image code).
BUILTIN = {"text": "pipelines.text", "image": "pipelines.image.modality"}


def _import_builtin(name: str) -> None:
    import importlib

    if name in BUILTIN:
        importlib.import_module(BUILTIN[name])
