"""CLIP image and caption embeddings (open_clip) as a model stage.

One :class:`ClipEmbedder` (a :class:`~pipelines.core.inference.KhoModelHandler`) embeds
each record's published image (``record["image"]``: JPEG, WebP or PNG bytes) and its caption
(``record["caption"]``, may be None or empty) and merges two fields into the record:

* ``clip_embedding``: the L2-normalised image embedding as a ``numpy.float16`` array of the
  model's width (512 for ViT-B-32). float16 because it is what travels between workers and
  lands in Parquet: 1 KiB per record pickled and as an Arrow ``list<halffloat>``, against
  ~4.6 KiB for a list of Python floats; its rounding (~5e-4 relative) is far below what
  dedup (cosine >= 0.9x) or a caption-similarity filter can see.
* ``clip_similarity``: the cosine of the image and caption embeddings (computed in float32
  before the cast), or None when the record has no caption.

    settings = ClipSettings(weights="/models/clip.pt", weights_sha256="...")
    if settings.active():
        out = records | "Clip" >> AnnotateWithModel(ClipEmbedder(settings), field=None)

Weights are a local checkpoint path, or ``store:KEY``: an object of the Kho object store that
each worker downloads to a temporary file (give the handler the store, or a function that
writes the object to a path). Weights left unset mean the CLIP signals are absent: callers
check :meth:`ClipSettings.active` and skip the stage. Test weights (the real architecture,
randomly initialised under a fixed seed) come from :func:`make_test_weights` or
``python -m pipelines.image.clip make-test-weights PATH``; they are never committed.

The production default architecture is the multilingual ``xlm-roberta-base-ViT-B-32``
(:attr:`ClipSettings.production_default`, for Vietnamese captions). Its text tower and
tokenizer come from Hugging Face (``xlm-roberta-base``), which must be in the local Hugging
Face cache on every worker: they cannot be downloaded here (no network at run time), so the
tests and the demo use ``ViT-B-32``, whose BPE tokenizer ships inside open_clip.

The image transform is the architecture's own open_clip inference transform (resize the
short side with bicubic, centre crop, normalise with the architecture's mean and std); a
checkpoint trained with another normalisation needs its own architecture config.

torch, open_clip and Pillow are imported on first use, so settings validate without them.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipelines.core.inference import KhoModelHandler, ModelLoadError, file_sha256
from storage.base import ObjectStore, check_key
from storage.errors import InvalidKeyError

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

__all__ = ["ClipEmbedder", "ClipInput", "ClipSettings", "ImageDecodeError", "LoadedClip",
           "STORE_PREFIX", "WeightsFetcher", "clip_stage_throughput", "make_test_weights",
           "random_weights_label"]

#: Weights that start with this name an object in the Kho object store.
STORE_PREFIX = "store:"

#: Writes the store object ``key`` to the local file ``path`` (on the worker).
WeightsFetcher = Callable[[str, Path], None]

_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
_MAKE_HINT = "python -m pipelines.image.clip make-test-weights PATH"


class ImageDecodeError(ValueError):
    """A record's image bytes could not be decoded; the core quarantines the record."""


class ClipSettings(BaseModel):
    """The CLIP stage's configuration (the image modality's ``clip`` section)."""

    model_config = ConfigDict(extra="forbid")

    #: The multilingual architecture production runs (needs Hugging Face's xlm-roberta-base
    #: tokenizer and config in the local cache; see the module docstring).
    production_default: ClassVar[str] = "xlm-roberta-base-ViT-B-32"

    enabled: bool = Field(True, description="run the stage when weights are configured")
    architecture: str = Field("ViT-B-32", min_length=1, description="an open_clip model name")
    weights: str | None = Field(None, description="a local checkpoint path, or store:KEY; "
                                                  "None: the CLIP signals are absent")
    weights_sha256: str | None = Field(None, pattern=r"^[0-9a-fA-F]{64}$",
                                       description="refuse weights with another sha256")
    weights_label: str | None = Field(None, description="what the report calls the weights, e.g. "
                                                        "'random init, seed 0 (test weights)'")
    batch_size: int = Field(16, ge=1, le=4096)
    device: str = Field("auto", description="auto (a GPU when present), cpu, cuda or cuda:N")
    precision: Literal["auto", "fp32", "fp16"] = Field(
        "auto", description="auto: fp16 on CUDA, fp32 on the CPU")
    tokenizer: str | None = Field(None, description="an open_clip tokenizer name; None: the "
                                                    "architecture's own")
    cpu_threads: int | None = Field(None, ge=1, le=256, description=(
        "torch intra-op threads when the model runs on the CPU (the ingest config sets it from "
        "runtime.threads); None: torch's default"))

    @field_validator("device")
    @classmethod
    def _known_device(cls, v: str) -> str:
        if not _DEVICE.match(v):
            raise ValueError(f"unknown device {v!r}: use auto, cpu, cuda or cuda:N")
        return v

    @field_validator("weights")
    @classmethod
    def _valid_weights(cls, v: str | None) -> str | None:
        if v is not None and v.startswith(STORE_PREFIX):
            try:
                check_key(v[len(STORE_PREFIX):])
            except InvalidKeyError as exc:
                raise ValueError(f"weights {v!r}: {exc}") from exc
        elif v is not None and not v.strip():
            raise ValueError("weights is empty: give a checkpoint path or store:KEY, or leave it unset")
        return v

    def active(self) -> bool:
        """Whether the stage runs: enabled and weights configured. Without weights the CLIP
        signals are absent (the caller skips the stage) rather than made up."""
        return self.enabled and self.weights is not None

    def store_key(self) -> str | None:
        """The object-store key of ``store:KEY`` weights; None for a local path."""
        if self.weights and self.weights.startswith(STORE_PREFIX):
            return self.weights[len(STORE_PREFIX):]
        return None


# ------------------------------------------------------------------------------ the model

def _quiet_random_init() -> contextlib.AbstractContextManager[None]:
    """Silence open_clip's "initialized randomly" warning: the weights load right after."""

    class _Drop(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return not record.getMessage().startswith("No pretrained weights loaded")

    @contextlib.contextmanager
    def quiet() -> Iterator[None]:
        root, drop = logging.getLogger(), _Drop()
        root.addFilter(drop)
        try:
            yield
        finally:
            root.removeFilter(drop)

    return quiet()


def _build_model(architecture: str) -> torch.nn.Module:
    """The open_clip architecture with random weights, on the CPU, without the network."""
    import open_clip

    with _quiet_random_init():
        return open_clip.create_model(architecture, pretrained=None, pretrained_text=False, device="cpu")


def random_weights_label(seed: int = 0) -> str:
    """The ``weights_label`` of weights made by :func:`make_test_weights`."""
    return f"random init, seed {seed} (test weights)"


def make_test_weights(path: Path, architecture: str = "ViT-B-32", seed: int = 0) -> str:
    """Save a state dict of the real ``architecture`` randomly initialised under ``seed`` to
    ``path`` and return its sha256. For tests, the demo and the bench: the stage runs the
    true model shape and cost offline, with no downloaded weights. The bytes (and so the
    sha256) depend only on the architecture, the seed and the torch/open_clip versions, not
    on ``path``. Never commit the file."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = _build_model(architecture)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as f:  # a file object: the archive's inner name does not vary with the path,
            torch.save(model.state_dict(), f)  # so one architecture and seed always give one sha256
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    digest = file_sha256(str(path))
    log.info("made test weights %s for %s (seed %d): sha256 %s", path, architecture, seed, digest)
    return digest


def _state_dict_of(checkpoint: Any) -> dict[str, Any]:
    """The state dict in a checkpoint: a bare state dict, or open_clip's training checkpoint
    (``{"state_dict": ...}``, keys prefixed ``module.`` when saved from DDP)."""
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("state_dict"), dict):
        checkpoint = checkpoint["state_dict"]
    if not isinstance(checkpoint, dict):
        raise ModelLoadError(f"the checkpoint holds a {type(checkpoint).__name__}, not a state dict: "
                             "save one with torch.save(model.state_dict(), PATH)")
    if checkpoint and all(k.startswith("module.") for k in checkpoint):
        checkpoint = {k[len("module."):]: v for k, v in checkpoint.items()}
    return checkpoint


def _read_state(path: Path) -> dict[str, Any]:
    """The state dict in the checkpoint at ``path`` (read on the CPU, tensors only)."""
    import torch

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - one clear message
        first = (str(exc).splitlines() or [""])[0]
        raise ModelLoadError(f"not a torch checkpoint ({type(exc).__name__}: {first}); "
                             f"make one with `{_MAKE_HINT}`") from exc
    return _state_dict_of(checkpoint)


def _fit_state(model: torch.nn.Module, state: dict[str, Any], architecture: str) -> None:
    """Load ``state`` into ``model`` strictly: every key must match, or a clear error."""
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ModelLoadError(f"the checkpoint does not fit architecture {architecture}: "
                             f"{len(missing)} missing keys {missing[:3]}, {len(unexpected)} unexpected "
                             f"keys {unexpected[:3]}; set clip.architecture to the one it was saved from")


def _dtype_for(precision: str, device: str) -> torch.dtype:
    """fp16 on CUDA and fp32 on the CPU for ``auto``; otherwise as asked."""
    import torch

    if precision == "fp16" or (precision == "auto" and device.startswith("cuda")):
        return torch.float16
    return torch.float32


def _preprocess_cfg(architecture: str) -> dict[str, Any]:
    """The architecture's inference preprocessing (size, mean, std, interpolation, resize
    mode) from its open_clip config, as ``open_clip.create_model`` sets it without a
    pretrained tag; known before the model loads, so records can be preprocessed first."""
    import open_clip
    from open_clip.transform import PreprocessCfg, merge_preprocess_dict

    cfg = open_clip.get_model_config(architecture)
    if cfg is None:
        raise ModelLoadError(f"open_clip has no architecture {architecture!r}: "
                             "pick one of open_clip.list_models()")
    pp = merge_preprocess_dict(PreprocessCfg(), cfg.get("preprocess_cfg", {}))
    if "image_size" in cfg.get("vision_cfg", {}):
        pp["size"] = cfg["vision_cfg"]["image_size"]
    return pp


def _comparable(pp: dict[str, Any]) -> dict[str, Any]:
    """A preprocess config with sizes as (h, w) and sequences as tuples, for comparison."""
    out = {k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in pp.items()}
    if isinstance(out.get("size"), int):
        out["size"] = (out["size"], out["size"])
    return out


def _image_transform(pp: dict[str, Any]) -> Callable[[Any], torch.Tensor]:
    """open_clip's inference transform for a preprocess config (PIL image -> CHW float)."""
    import open_clip

    return open_clip.image_transform(pp["size"], is_train=False, mean=pp["mean"], std=pp["std"],
                                     interpolation=pp["interpolation"], resize_mode=pp["resize_mode"],
                                     fill_color=pp["fill_color"])


@dataclass(frozen=True)
class ClipInput:
    """One record's model input: the transformed image (CPU float32) and its caption."""

    pixels: torch.Tensor
    caption: str | None

    @property
    def nbytes(self) -> int:
        """The image tensor's bytes (Beam's batch-size metrics read this)."""
        return int(self.pixels.numel() * self.pixels.element_size())


@dataclass(frozen=True)
class LoadedClip:
    """What :meth:`ClipEmbedder.load` returns: the model on its device and what predict needs."""

    model: torch.nn.Module
    tokenizer: Callable[[list[str]], torch.Tensor]
    device: str
    dtype: torch.dtype
    sha256: str
    width: int


# ------------------------------------------------------------------------------ the handler

class ClipEmbedder(KhoModelHandler):
    """CLIP image embeddings and image-caption similarity for image records.

    Args:
      settings: the stage's :class:`ClipSettings` (weights, architecture, batch size,
        device, precision).
      store: where ``store:KEY`` weights live: an :class:`~storage.base.ObjectStore` or a
        :data:`WeightsFetcher`; it is pickled to the workers with the handler.
      **core: the core's batching and failure options (``min_batch_size``,
        ``max_batch_duration_secs``, ``large_model``, ``isolate_failures``, ...).
    """

    name: ClassVar[str] = "open_clip"

    def __init__(self, settings: ClipSettings, *, store: ObjectStore | WeightsFetcher | None = None,
                 **core: Any) -> None:
        super().__init__(settings.weights, max_batch_size=settings.batch_size, device=settings.device,
                         weights_sha256=settings.weights_sha256, **core)
        self.settings = settings
        self.store = store
        self._transform: Callable[[Any], torch.Tensor] | None = None
        self._seen_sha256: str | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_transform"] = None  # rebuilt on the worker, on first use
        return state

    # ---- driver side ------------------------------------------------------------------

    def check(self) -> None:
        """Before the run: weights are configured, the architecture exists, and a local path
        exists (a store key: the store is given and, for an ObjectStore, holds the key)."""
        import open_clip

        s = self.settings
        if s.weights is None:
            raise ModelLoadError(f"model {self.name}: no weights configured (clip.weights); skip the stage "
                                 f"when ClipSettings.active() is False, or make test weights with `{_MAKE_HINT}`")
        if s.architecture not in open_clip.list_models():
            raise ModelLoadError(f"model {self.name}: unknown architecture {s.architecture!r}; "
                                 "pick one of open_clip.list_models()")
        key = s.store_key()
        if key is not None:
            if self.store is None:
                raise ModelLoadError(f"model {self.name}: weights {s.weights!r} are in the object store, "
                                     "but no store was given: pass ClipEmbedder(settings, store=...)")
            if isinstance(self.store, ObjectStore) and not self.store.exists(key):
                raise ModelLoadError(f"model {self.name}: weights {s.weights!r} are not in {self.store!r}; "
                                     "upload the checkpoint there or fix clip.weights")
        elif not os.path.isfile(s.weights):
            raise ModelLoadError(f"model {self.name}: weights {s.weights!r} do not exist; point clip.weights "
                                 f"at a checkpoint, or make test weights with "
                                 f"`python -m pipelines.image.clip make-test-weights {s.weights}`")

    def model_info(self) -> str:
        """"open_clip ARCH, weights LABEL-OR-PATH (sha256 ...)": which weights ran."""
        s = self.settings
        sha = self.weights_sha256 or self._seen_sha256
        if sha is None and s.weights and s.store_key() is None and os.path.isfile(s.weights):
            sha = self._seen_sha256 = file_sha256(s.weights)
        what = s.weights_label or s.weights or "none"
        return f"{self.name} {s.architecture}, weights {what} (sha256 {sha[:12] if sha else 'unknown'})"

    def quarantine_raw(self, record: dict[str, Any]) -> bytes | None:
        """The image bytes, so a quarantined image can be inspected."""
        img = record.get("image")
        return bytes(img) if isinstance(img, (bytes, bytearray, memoryview)) else None

    # ---- worker side ------------------------------------------------------------------

    @contextlib.contextmanager
    def _local_weights(self) -> Iterator[tuple[Path, str]]:
        """The checkpoint as a local file and its sha256; store weights are downloaded to a
        temporary file (checked against the pin) that is removed after loading."""
        s = self.settings
        key = s.store_key()
        if key is None:
            assert s.weights is not None
            # a pinned local file was already checked by the core before load()
            yield Path(s.weights), self.weights_sha256 or file_sha256(s.weights)
            return
        if self.store is None:
            raise ModelLoadError("no store was given for store weights: pass ClipEmbedder(settings, store=...)")
        fetch = self.store.download if isinstance(self.store, ObjectStore) else self.store
        with tempfile.TemporaryDirectory(prefix="kho-clip-") as tmp:
            path = Path(tmp) / "weights.pt"
            fetch(key, path)
            got = file_sha256(str(path))
            if self.weights_sha256 and got != self.weights_sha256:
                raise ModelLoadError(f"sha256 is {got}, the config pins {self.weights_sha256}")
            yield path, got

    def load(self, device: str) -> LoadedClip:
        """Build the architecture, load the weights strictly, move it to ``device`` in the
        configured precision, and get its tokenizer (all offline)."""
        import open_clip

        s = self.settings
        if s.weights is None:
            raise ModelLoadError("no weights configured; skip the stage when ClipSettings.active() is False")
        with self._local_weights() as (path, sha):
            state = _read_state(path)
        model = _build_model(s.architecture)
        _fit_state(model, state, s.architecture)
        del state
        ours, its = _comparable(_preprocess_cfg(s.architecture)), getattr(model.visual, "preprocess_cfg", None)
        if its and _comparable(its) != ours:
            raise ModelLoadError(f"the model's preprocessing {its} differs from the stage's {ours}: "
                                 "this architecture is not supported by the CLIP stage yet")
        dtype = _dtype_for(s.precision, device)
        if s.cpu_threads and not str(device).startswith("cuda"):
            import torch

            torch.set_num_threads(s.cpu_threads)  # one worker per core: do not oversubscribe it
        model = model.to(device=device, dtype=dtype).eval()
        tokenizer = open_clip.get_tokenizer(s.tokenizer or s.architecture)
        self._seen_sha256 = sha
        width = int(open_clip.get_model_config(s.architecture)["embed_dim"])
        return LoadedClip(model, tokenizer, device, dtype, sha, width)

    def preprocess(self, record: dict[str, Any]) -> ClipInput:
        """Decode the image bytes (Pillow -> RGB) and apply the architecture's transform; an
        image that does not decode raises :class:`ImageDecodeError` (the record is
        quarantined). The caption is kept as a string, or None when it is missing or blank."""
        if self._transform is None:
            self._transform = _image_transform(_preprocess_cfg(self.settings.architecture))
        return ClipInput(self._transform(_decode_rgb(record)), _caption_of(record))

    def predict(self, model: LoadedClip, batch: list[ClipInput]) -> list[dict[str, Any]]:
        """One image forward and one caption forward per batch; L2-normalised embeddings
        (float16 out) and the image-caption cosine (None without a caption)."""
        import torch

        with torch.inference_mode():
            pixels = torch.stack([x.pixels for x in batch]).to(model.device, model.dtype)
            images = _normalized(model.model.encode_image(pixels))
            sims: list[float | None] = [None] * len(batch)
            captioned = [i for i, x in enumerate(batch) if x.caption is not None]
            if captioned:
                tokens = model.tokenizer([batch[i].caption for i in captioned]).to(model.device)
                texts = _normalized(encode_text_trimmed(model.model, tokens))
                cos = (images[captioned] * texts).sum(dim=-1).tolist()
                for i, c in zip(captioned, cos):
                    sims[i] = float(c)
            embeddings = images.cpu().numpy().astype(np.float16)
        return [{"clip_embedding": emb.copy(), "clip_similarity": sim} for emb, sim in zip(embeddings, sims)]


def encode_text_trimmed(model: Any, tokens: torch.Tensor) -> torch.Tensor:
    """``model.encode_text(tokens)`` with the padding after the batch's longest caption cut off.

    Why: the tokenizer pads every caption to the context length (77 tokens) and the text
    tower's cost grows with the sequence, while a caption is usually 15-40 tokens. For
    open_clip's own text tower (a causal mask and pooling at a token of the sequence: argmax
    or eos) no kept position attends to the cut positions, so the embeddings are the same
    (up to float rounding) for a fraction of the work. Any other text tower (e.g. a Hugging
    Face encoder) runs ``encode_text`` unchanged.
    """
    needed = ("token_embedding", "positional_embedding", "transformer", "attn_mask", "ln_final")
    pool = getattr(model, "text_pool_type", None)
    if not all(hasattr(model, a) for a in needed) or model.attn_mask is None or pool not in ("argmax", "eos") \
            or tokens.ndim != 2 or getattr(model, "pad_id", 0) != 0:
        return model.encode_text(tokens)
    import torch
    from open_clip.transformer import text_global_pool

    used = (tokens != 0).any(dim=0).nonzero()
    length = int(used.max()) + 1 if used.numel() else 1
    if length >= tokens.shape[1]:
        return model.encode_text(tokens)
    cut = tokens[:, :length]
    cast_dtype = model.transformer.get_cast_dtype()
    x = model.token_embedding(cut).to(cast_dtype) + model.positional_embedding[:length].to(cast_dtype)
    x = model.transformer(x, attn_mask=model.attn_mask[:length, :length])
    x = model.ln_final(x)
    x = text_global_pool(x, cut, pool, eos_token_id=getattr(model, "text_eos_id", None))
    projection = model.text_projection
    if projection is not None:
        x = projection(x) if isinstance(projection, torch.nn.Linear) else x @ projection
    return x


def _normalized(x: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit L2 norm, in float32 (fp16 outputs are upcast first)."""
    import torch

    return torch.nn.functional.normalize(x.float(), dim=-1)


def _decode_rgb(record: dict[str, Any]) -> Any:
    """The record's image bytes as an RGB PIL image, or :class:`ImageDecodeError`."""
    from PIL import Image

    data = record.get("image")
    if not isinstance(data, (bytes, bytearray, memoryview)) or not len(data):
        raise ImageDecodeError(f"record has no image bytes (got {type(data).__name__}): the CLIP stage "
                               "needs the published image in record['image']")
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
        head = bytes(data[:8]).hex()
        raise ImageDecodeError(f"image bytes do not decode ({type(exc).__name__}: {exc}; {len(data)} bytes "
                               f"starting {head}); the record is quarantined: re-fetch or drop it") from exc


def _caption_of(record: dict[str, Any]) -> str | None:
    """The caption, or None when it is missing or blank; a non-string is an error."""
    cap = record.get("caption")
    if cap is None:
        return None
    if not isinstance(cap, str):
        raise TypeError(f"caption must be a string or None, not {type(cap).__name__}")
    return cap if cap.strip() else None


# ------------------------------------------------------------------------------ bench

class _Stamp:
    """Writes each record's arrival time to a file in ``folder`` (works in any worker)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def __call__(self, rec: dict[str, Any]) -> None:
        with open(os.path.join(self.folder, f"{uuid.uuid4().hex}.t"), "w") as f:
            f.write(repr(time.perf_counter()))


def clip_stage_throughput(handler: ClipEmbedder, images: Sequence[bytes], captions: Sequence[str | None],
                          batch_size: int) -> dict[str, Any]:
    """Images per second of the whole stage (decode, transform, image and caption forward,
    Beam) in a one-worker FnApiRunner pipeline, in steady state: timed from the first
    batch's output to the last, so the model load is left out. Needs at least two batches."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipelines.core.inference import AnnotateWithModel

    if len(images) != len(captions) or len(images) < 2 * batch_size:
        raise ValueError(f"give as many captions as images, and at least {2 * batch_size} images "
                         f"(got {len(images)} images, {len(captions)} captions)")
    sized = ClipEmbedder(handler.settings.model_copy(update={"batch_size": batch_size}), store=handler.store)
    records = [{"id": f"bench-{i:05d}", "source": "bench", "uri": "mem://bench", "pointer": f"#{i}",
                "image": img, "caption": cap} for i, (img, cap) in enumerate(zip(images, captions))]
    with tempfile.TemporaryDirectory(prefix="kho-clip-bench-") as tmp:
        start = time.perf_counter()
        with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as p:
            out = p | beam.Create(records) | AnnotateWithModel(sized, field=None)
            out.annotated | "Stamp" >> beam.Map(_Stamp(tmp))
        wall = time.perf_counter() - start
        stamps = sorted(float(Path(tmp, n).read_text()) for n in os.listdir(tmp))
    if len(stamps) != len(images):
        raise RuntimeError(f"{len(images) - len(stamps)} of {len(images)} bench images were quarantined")
    steady = stamps[-1] - stamps[batch_size - 1]
    return {"images": len(images), "batch_size": batch_size, "wall_s": wall,
            "steady_s": steady, "images_per_s": (len(images) - batch_size) / steady if steady > 0 else None}


# ------------------------------------------------------------------------------ CLI

def main(argv: list[str] | None = None) -> int:
    """``python -m pipelines.image.clip make-test-weights PATH``: write test weights and
    print their sha256 (for ``clip.weights_sha256``)."""
    parser = argparse.ArgumentParser(prog="python -m pipelines.image.clip",
                                     description="Tools for the CLIP stage.")
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("make-test-weights", help="random-init weights of the real architecture")
    make.add_argument("path", type=Path)
    make.add_argument("--architecture", default="ViT-B-32")
    make.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", force=True)
    log.setLevel(logging.INFO)  # this module's lines, not open_clip's INFO chatter on the root logger
    digest = make_test_weights(args.path, args.architecture, args.seed)
    sys.stdout.write(f"{digest}  {args.path}\n")
    log.info("use: clip: {weights: %s, weights_sha256: %s, weights_label: %r}",
             args.path, digest, random_weights_label(args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
