"""Model stages: a modality's model runs through Beam's RunInference with a handler it writes.

A modality (image, audio, video) writes one :class:`KhoModelHandler` subclass per model:

    class ClipImageEmbedder(KhoModelHandler):
        name = "open_clip"

        def load(self, device):            # once per worker process, on "cuda" or "cpu"
            ...; return model              # anything: a module, a tuple (model, transform), ...

        def preprocess(self, record):      # one record -> one model input (a raise quarantines it)
            ...

        def predict(self, model, batch):   # a list of inputs -> a list of outputs, same length
            ...

and applies it with :class:`AnnotateWithModel`:

    out = records | "ClipEmbed" >> AnnotateWithModel(ClipImageEmbedder(weights), field="clip")
    out.annotated   # the records, each with record["clip"] = its output
    out.quarantine  # quarantine rows (error class and message) of records that failed

What the core does around the handler:

* **Batching.** ``min_batch_size`` / ``max_batch_size`` / ``max_batch_duration_secs`` go to
  RunInference's ``beam.BatchElements`` through ``batch_elements_kwargs``. By default the
  batch size is fixed (min = max); a bundle's last batch can be smaller.
* **One model per worker process.** RunInference loads the model in ``DoFn.setup`` through
  ``apache_beam.utils.shared.Shared``: every thread of a process uses the same copy.
  ``large_model=True`` (or ``model_copies=N``) shares one copy (N copies) across all the
  processes of a machine instead (``multi_process_shared``; Beam's
  ``share_model_across_processes``), for models too big to hold once per process.
* **Device.** ``load`` gets ``"cuda"`` when torch is installed and sees a GPU, else
  ``"cpu"`` (``device="auto"``, the default). torch is imported lazily, on the worker, and
  only if installed: the core and its tests run without it.
* **Errors.** Records are keyed by ``id`` (``KeyedModelHandler``); each record travels with
  its model input through the batch, so nothing is shuffled and the output is joined back
  into the same record. A record whose ``preprocess`` raises and a batch whose ``predict``
  raises go to ``quarantine`` (RunInference's ``with_exception_handling``); with
  ``isolate_failures`` (the default) a failed batch is first retried one record at a time,
  so one bad record does not take its batch-mates with it. A model that cannot load fails
  the run with :class:`ModelLoadError`, which names the configured weights; weights that are
  a local path are checked on the driver before the pipeline starts.
* **Which weights ran.** :meth:`KhoModelHandler.model_info` is the line the report prints;
  with ``weights_sha256`` the worker refuses weights with another hash, so the line is true.
"""

from __future__ import annotations

import abc
import hashlib
import importlib.util
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import apache_beam as beam
from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler, PredictionResult, RunInference

from pipelines.records import quarantine_row

log = logging.getLogger(__name__)

__all__ = ["AnnotateWithModel", "KhoModelHandler", "ModelLoadError", "ModelOutputs", "resolve_device"]


class ModelLoadError(RuntimeError):
    """A model could not be loaded (or its weights are missing): the run fails with this."""


def resolve_device(requested: str = "auto") -> str:
    """The device a model loads on: ``"auto"`` -> ``"cuda"`` when torch is installed and a
    CUDA GPU is visible, else ``"cpu"``. ``"cpu"``, ``"cuda"`` and ``"cuda:N"`` are taken as
    asked; asking for CUDA where there is none is a :class:`ModelLoadError`."""
    if requested == "cpu":
        return "cpu"
    if requested != "auto" and not requested.startswith("cuda"):
        raise ModelLoadError(f"unknown device {requested!r}: use auto, cpu, cuda or cuda:N")
    has_torch = importlib.util.find_spec("torch") is not None
    cuda = False
    if has_torch:
        import torch  # lazily, on the worker: the core does not need torch

        cuda = bool(torch.cuda.is_available())
    if requested == "auto":
        return "cuda" if cuda else "cpu"
    if not cuda:
        why = "torch is not installed" if not has_torch else "torch sees no CUDA GPU"
        raise ModelLoadError(f"device {requested!r} was asked for but {why}")
    return requested


def file_sha256(path: str) -> str:
    """sha256 of a local file, read in 1 MiB pieces."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for piece in iter(lambda: f.read(1 << 20), b""):
            h.update(piece)
    return h.hexdigest()


class _Loaded:
    """What RunInference holds: the handler's model and its device. Beam's ``Shared`` keeps
    models by weak reference, which a tuple or dict cannot take; this wrapper can."""

    __slots__ = ("model", "device", "__weakref__")

    def __init__(self, model: Any, device: str) -> None:
        self.model, self.device = model, device


@dataclass(frozen=True)
class _Failed:
    """The output of one record whose inference failed on its own (after a batch failed)."""

    error_class: str
    message: str


class KhoModelHandler(ModelHandler, abc.ABC):
    """Base of every model a modality runs. Subclass it and implement :meth:`load`,
    :meth:`preprocess` and :meth:`predict`; set ``name`` and, where it helps the report,
    override :meth:`model_info`.

    The handler is pickled to the workers: keep only configuration on it. Build worker-side
    helpers lazily (on first use), and keep what ``predict`` needs (the device, a tokenizer)
    in the object ``load`` returns, since ``load`` runs on one handler copy per process and
    ``predict`` may run on another.

    Args:
      weights: the configured weights (a local path, a URI, or a name the library resolves).
      min_batch_size, max_batch_size: batch bounds for ``beam.BatchElements`` (min defaults
        to max: fixed batches).
      max_batch_duration_secs: buffer at most this long for a batch; switches BatchElements
        to its stateful form (elements are keyed per worker process), for streaming.
      device: ``"auto"`` (GPU when present, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
      large_model: share one model across the processes of a machine instead of one per
        process. model_copies: that many shared copies (implies sharing).
      weights_sha256: refuse weights (a local file) with another hash.
      isolate_failures: when a batch's ``predict`` raises, retry its records one by one so
        only the ones that fail alone are quarantined.
    """

    #: The model's name in messages, metrics and the report (e.g. "open_clip ViT-B-32").
    name: ClassVar[str] = "model"

    def __init__(self, weights: str | None = None, *, min_batch_size: int | None = None,
                 max_batch_size: int = 32, max_batch_duration_secs: float | None = None,
                 device: str = "auto", large_model: bool = False, model_copies: int | None = None,
                 weights_sha256: str | None = None, isolate_failures: bool = True) -> None:
        min_batch_size = max_batch_size if min_batch_size is None else min_batch_size
        if not 1 <= min_batch_size <= max_batch_size:
            raise ValueError(f"batch sizes must satisfy 1 <= min ({min_batch_size}) <= max ({max_batch_size})")
        if max_batch_duration_secs is not None and max_batch_duration_secs <= 0:
            raise ValueError(f"max_batch_duration_secs must be positive, not {max_batch_duration_secs}")
        super().__init__(min_batch_size=min_batch_size, max_batch_size=max_batch_size,
                         max_batch_duration_secs=max_batch_duration_secs, large_model=large_model,
                         model_copies=model_copies)
        self.weights = weights
        self.device = device
        self.weights_sha256 = weights_sha256.lower() if weights_sha256 else None
        self.isolate_failures = isolate_failures

    # ---- what a modality writes -------------------------------------------------------

    @abc.abstractmethod
    def load(self, device: str) -> Any:
        """Load the model from ``self.weights`` onto ``device`` ("cuda..." or "cpu") and
        return it (any object; it is passed to :meth:`predict` as ``model``). Runs once per
        worker process (once per machine with ``large_model``). Raising fails the run."""

    @abc.abstractmethod
    def preprocess(self, record: dict[str, Any]) -> Any:
        """One record -> the model input for it (decode, resize, tokenize). Runs before
        batching, without the model. Raising sends the record to quarantine."""

    @abc.abstractmethod
    def predict(self, model: Any, batch: list[Any]) -> list[Any]:
        """Model inputs -> one output per input, in order (put Arrow-friendly values in
        records: lists of floats, numbers, strings, or numpy arrays). Raising quarantines
        the batch (its records one by one with ``isolate_failures``)."""

    def model_info(self) -> str:
        """Which model and weights run, as the report prints it."""
        info = f"{self.name}, weights {self.weights}" if self.weights else self.name
        return info + (f" (sha256 {self.weights_sha256[:12]})" if self.weights_sha256 else "")

    def check(self) -> None:
        """Driver-side check before the pipeline starts: weights that are a local path must
        exist. URIs (``scheme://``) and names a library resolves are left to :meth:`load`;
        override this for another rule."""
        w = self.weights
        if w and "://" not in w and _looks_like_path(w) and not os.path.exists(w):
            raise ModelLoadError(f"model {self.name}: weights {w!r} do not exist")

    def quarantine_raw(self, record: dict[str, Any]) -> bytes | None:
        """The raw bytes kept in a quarantine row of this record (bounded by the core)."""
        return None

    # ---- Beam's ModelHandler, implemented once for every modality ----------------------

    def load_model(self) -> _Loaded:
        try:
            device = resolve_device(self.device)
            if self.weights_sha256 and self.weights and os.path.isfile(self.weights):
                got = file_sha256(self.weights)
                if got != self.weights_sha256:
                    raise ModelLoadError(f"sha256 is {got}, the config pins {self.weights_sha256}")
            model = self.load(device)
        except Exception as exc:  # noqa: BLE001 - one clear error that names the weights
            cause = exc.args[0] if isinstance(exc, ModelLoadError) and exc.args else f"{type(exc).__name__}: {exc}"
            raise ModelLoadError(f"model {self.name} could not load weights {self.weights!r}: {cause}") from exc
        log.info("loaded %s on %s in process %d", self.model_info(), device, os.getpid())
        return _Loaded(model, device)

    def run_inference(self, batch: Sequence[tuple[dict[str, Any], Any]], model: _Loaded,
                      inference_args: dict[str, Any] | None = None) -> list[PredictionResult]:
        records = [rec for rec, _x in batch]
        inputs = [x for _rec, x in batch]
        try:
            outputs = self._predict(model.model, inputs)
        except Exception as exc:  # noqa: BLE001 - retried one by one, or quarantined by Beam
            if not self.isolate_failures or len(inputs) == 1:
                raise
            log.warning("model %s: a batch of %d failed (%s: %s); retrying its records one by one",
                        self.name, len(inputs), type(exc).__name__, exc)
            outputs = []
            for x in inputs:
                try:
                    outputs.append(self._predict(model.model, [x])[0])
                except Exception as one:  # noqa: BLE001 - this record goes to quarantine
                    outputs.append(_Failed(type(one).__name__, str(one)))
        return [PredictionResult(rec, out) for rec, out in zip(records, outputs)]

    def _predict(self, model: Any, inputs: list[Any]) -> list[Any]:
        outputs = list(self.predict(model, inputs))
        if len(outputs) != len(inputs):
            raise ValueError(f"predict returned {len(outputs)} outputs for {len(inputs)} inputs")
        return outputs

    def get_num_bytes(self, batch: Sequence[Any]) -> int:
        # Beam's default pickles every batch just to count its bytes; count array bytes instead.
        total = 0
        for item in batch:
            x = item[1] if isinstance(item, tuple) and len(item) == 2 else item
            total += int(getattr(x, "nbytes", 0) or (len(x) if isinstance(x, (bytes, bytearray)) else 0))
        return total

    def get_metrics_namespace(self) -> str:
        return f"kho.model.{self.name}"

    def keyed_preprocess(self, kv: tuple[str, dict[str, Any]]) -> tuple[str, tuple[dict[str, Any], Any]]:
        """(id, record) -> (id, (record, model input)): the record rides along with its input."""
        key, rec = kv
        return key, (rec, self.preprocess(rec))


def _looks_like_path(w: str) -> bool:
    return os.sep in w or w.startswith(".") or os.path.splitext(w)[1] != ""


class ModelOutputs(NamedTuple):
    """What :class:`AnnotateWithModel` returns."""

    annotated: beam.PCollection
    quarantine: beam.PCollection


def _error_of(info: Any) -> tuple[str, str]:
    """(error class, message) from a dead-letter entry's ``(type, repr, traceback lines)``."""
    exc_type, rep, tb = info
    cls = exc_type.__name__ if isinstance(exc_type, type) else str(exc_type)
    last = tb[-1].strip() if tb else ""
    head, sep, msg = last.partition(": ")
    if sep and head.rsplit(".", 1)[-1] == cls:
        return cls, msg
    return cls, last if last and last != cls else str(rep)


def _quarantine(handler: KhoModelHandler, rec: dict[str, Any], phase: str, cls: str, msg: str) -> dict[str, Any]:
    row = quarantine_row(str(rec.get("source", "")), str(rec.get("uri", "")), str(rec.get("pointer", "")),
                         cls, f"model {handler.name} {phase} failed: {cls}: {msg}",
                         raw=handler.quarantine_raw(rec))
    if rec.get("id") is not None:
        row["id"] = rec["id"]
    return row


class _Join(beam.DoFn):
    """(id, PredictionResult(record, output)) -> the record with its output, or quarantine."""

    def __init__(self, handler: KhoModelHandler, field: str | None) -> None:
        self.handler, self.field = handler, field

    def process(self, kv):
        _key, result = kv
        rec, out = result.example, result.inference
        if isinstance(out, _Failed):
            yield beam.pvalue.TaggedOutput(
                "quarantine", _quarantine(self.handler, rec, "inference", out.error_class, out.message))
            return
        rec = dict(rec)
        if self.field is None:
            rec.update(out)
        else:
            rec[self.field] = out
        yield rec


class AnnotateWithModel(beam.PTransform):
    """Run ``handler`` on every record and put its output in ``record[field]``.

    ``field=None``: the output is a dict merged into the record (several fields at once).
    Returns :class:`ModelOutputs` ``(annotated, quarantine)``; quarantine rows have the core's
    quarantine columns (``pipelines.records.quarantine_row``) with the record's own ``id``.
    ``preflight``: run ``handler.check()`` on the driver (turn off when the weights exist
    only on the workers). ``model_identifier``: Beam's tag to share one loaded model between
    several stages that run the same weights (default: one model per stage)."""

    def __init__(self, handler: KhoModelHandler, field: str | None = "embedding", *,
                 preflight: bool = True, model_identifier: str | None = None) -> None:
        super().__init__()
        if not isinstance(handler, KhoModelHandler):
            raise TypeError(f"AnnotateWithModel needs a KhoModelHandler, not {type(handler).__name__}")
        self.handler, self.field = handler, field
        self.preflight, self.model_identifier = preflight, model_identifier

    def expand(self, records):
        handler = self.handler
        if self.preflight:
            handler.check()
        keyed_handler = KeyedModelHandler(handler).with_preprocess_fn(handler.keyed_preprocess)
        keyed = records | "KeyById" >> beam.Map(lambda rec: (rec["id"], rec))
        results, dlq = keyed | "RunInference" >> RunInference(
            keyed_handler, model_identifier=self.model_identifier).with_exception_handling()
        joined = results | "Join" >> beam.ParDo(_Join(handler, self.field)).with_outputs(
            "quarantine", main="annotated")

        def bad_record(entry, phase):
            (_key, rec), info = entry
            return _quarantine(handler, rec, phase, *_error_of(info))

        def bad_batch(entry):
            batch, info = entry
            cls, msg = _error_of(info)
            return [_quarantine(handler, rec, "inference", cls, msg) for _key, (rec, _x) in batch]

        failed = [joined.quarantine,
                  dlq.failed_inferences | "FailedBatches" >> beam.FlatMap(bad_batch)]
        for i, pc in enumerate(dlq.failed_preprocessing):
            failed.append(pc | f"FailedPreprocess{i}" >> beam.Map(bad_record, "preprocess"))
        quarantine = failed | "AllModelQuarantine" >> beam.Flatten()
        return ModelOutputs(joined.annotated, quarantine)
