"""filters/image/signals.py on the real image samples of pipelines/image/samples.py."""

from __future__ import annotations

import io
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageFilter

from filters.image.decode import DecodeSettings, decode_image
from filters.image.signals import (
    SignalInputError,
    blur_score,
    colour_entropy,
    colour_std,
    dhash,
    hamming,
    WORKING_SIDE,
    image_signals,
    is_near_uniform,
    phash,
    working_copy,
)
from filters.lsh import HammingConfig, HammingLSH
from pipelines.image.samples import make_image_samples

SETTINGS = DecodeSettings()


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The sample folder, written once for this module."""
    return make_image_samples(tmp_path_factory.mktemp("image_samples"))


@pytest.fixture(scope="module")
def pixels(samples: dict[str, Any]) -> dict[str, np.ndarray]:
    """Decoded RGB of every sample that decodes."""
    root = Path(samples["root"])
    return {key: decode_image((root / case["path"]).read_bytes(), SETTINGS).rgb
            for key, case in samples["cases"].items() if case["decode_error"] is None}


def _duplicate_cases(samples: dict[str, Any]) -> list[str]:
    return [k for k, c in samples["cases"].items() if c["duplicate_of"]]


def _jpeg_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def test_hashes_are_eight_bytes_and_deterministic(pixels):
    for rgb in (pixels["astronaut"], pixels["no_diacritics"], pixels["animated"]):
        assert len(phash(rgb)) == 8 and len(dhash(rgb)) == 8
        assert phash(rgb) == phash(rgb.copy()) and dhash(rgb) == dhash(rgb.copy())


def test_near_duplicates_are_within_a_few_phash_bits_of_their_original(samples, pixels):
    cases = _duplicate_cases(samples)
    assert {samples["cases"][k]["duplicate_kind"] for k in cases} == {
        "resized", "recompressed", "cropped", "pixel_copy"}
    for key in cases:
        original = samples["cases"][key]["duplicate_of"]
        assert hamming(phash(pixels[key]), phash(pixels[original])) <= 10, key
        assert hamming(dhash(pixels[key]), dhash(pixels[original])) <= 12, key


def test_distinct_photos_are_far_apart(samples, pixels):
    photos = [k for k, c in samples["cases"].items() if c["kind"] == "photo"]
    assert len(photos) >= 5
    for a, b in combinations(photos, 2):
        assert hamming(phash(pixels[a]), phash(pixels[b])) > 20, (a, b)


def test_no_accidental_near_duplicates_among_the_samples(samples, pixels):
    # the image dedup stage (max_distance 8) must cluster only the planted copies
    declared = {frozenset((k, samples["cases"][k]["duplicate_of"]))
                for k in _duplicate_cases(samples)}
    for a, b in combinations(pixels, 2):
        if frozenset((a, b)) not in declared:
            assert hamming(phash(pixels[a]), phash(pixels[b])) > 12, (a, b)


def test_phash_survives_heavy_recompression_and_downscaling(pixels):
    rgb = pixels["chelsea"]
    small = np.asarray(Image.fromarray(rgb).resize((113, 75), Image.Resampling.BILINEAR))
    for copy in (_jpeg_roundtrip(rgb, 10), small):
        assert hamming(phash(copy), phash(rgb)) <= 6


def test_uniform_image_hashes_to_zero_bits():
    flat = np.full((40, 60, 3), 77, np.uint8)
    assert phash(flat) == bytes(8) and dhash(flat) == bytes(8)


def test_hash_bits_are_row_major_most_significant_first():
    # left-to-right falling brightness in the top half, rising in the bottom half
    ramp = np.linspace(255, 0, 90)
    gray = np.vstack([np.tile(ramp, (40, 1)), np.tile(ramp[::-1], (40, 1))]).astype(np.uint8)
    assert dhash(np.repeat(gray[:, :, None], 3, axis=2)) == bytes([0xFF] * 4 + [0] * 4)


def test_hashes_feed_the_hamming_lsh(pixels):
    lsh = HammingLSH.from_config(HammingConfig(bits=64, max_distance=8))
    a, b = phash(pixels["coffee"]), phash(pixels["coffee_resized"])
    assert set(lsh.keys(a)) & set(lsh.keys(b))


def test_blurred_copy_scores_far_lower(pixels):
    for key in ("coffee", "astronaut", "chelsea"):
        rgb = pixels[key]
        blurred = np.asarray(Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(3)))
        assert blur_score(blurred) < 0.1 * blur_score(rgb), key


def test_blurry_sample_scores_below_every_photo(samples, pixels):
    photos = [k for k, c in samples["cases"].items() if c["kind"] == "photo"]
    assert blur_score(pixels["blurry"]) * 20 < min(blur_score(pixels[k]) for k in photos)


def test_blur_of_a_large_photo_does_not_depend_on_its_resolution(pixels):
    rgb = pixels["coffee"]  # 600x400
    double = np.asarray(Image.fromarray(rgb).resize((1200, 800), Image.Resampling.LANCZOS))
    assert 0.5 < blur_score(double) / blur_score(rgb) < 2.0


def test_uniform_image_has_near_zero_entropy(pixels):
    flat = pixels["uniform_grey"]
    assert colour_entropy(flat) < 0.01 and colour_std(flat) < 0.5
    assert is_near_uniform(flat)


def test_photos_have_entropy_and_are_not_uniform(samples, pixels):
    for key in (k for k, c in samples["cases"].items() if c["kind"] == "photo"):
        assert colour_entropy(pixels[key]) > 2.0, key
        assert not is_near_uniform(pixels[key]), key


def test_faint_noise_is_still_near_uniform():
    rng = np.random.default_rng(5)
    faint = np.clip(128 + rng.normal(0, 1.5, (64, 64, 3)), 0, 255).astype(np.uint8)
    assert is_near_uniform(faint)
    assert not is_near_uniform(faint, std_max=0.5)


def test_image_signals_record_the_stored_fields(samples, pixels):
    case = samples["cases"]["gps_rotated"]
    rgb = pixels["gps_rotated"]
    signals = image_signals(rgb, 384, 512, case["bytes"], "JPEG")
    assert set(signals) == {"width", "height", "aspect", "bytes", "format", "blur", "entropy",
                            "uniform"}
    assert (signals["width"], signals["height"], signals["format"]) == (384, 512, "JPEG")
    assert signals["aspect"] == pytest.approx(0.75)
    assert signals["bytes"] == case["bytes"] > 0
    work = working_copy(rgb)
    assert signals["blur"] == blur_score(work) and signals["entropy"] == colour_entropy(work)
    assert signals["uniform"] is False


def test_signal_functions_refuse_non_rgb_arrays():
    with pytest.raises(SignalInputError, match="uint8"):
        phash(np.zeros((8, 8), np.uint8))
    with pytest.raises(SignalInputError):
        blur_score(np.zeros((8, 8, 3), np.float64))


def _large(rgb: np.ndarray, side: int = 1600) -> np.ndarray:
    """``rgb`` upscaled so its long side is ``side`` (a large photo of the same scene)."""
    scale = side / max(rgb.shape[:2])
    size = (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BICUBIC))


def test_working_copy_bounds_the_long_side_keeps_small_images_and_is_idempotent(pixels):
    big = _large(pixels["coffee"])
    work = working_copy(big)
    assert max(work.shape[:2]) == WORKING_SIDE and work.dtype == np.uint8
    assert work.shape[1] / work.shape[0] == pytest.approx(big.shape[1] / big.shape[0], rel=0.01)
    assert working_copy(work) is work
    small = pixels["coffee"][:200, :300]
    assert working_copy(small) is small


def test_cheap_signals_of_the_working_copy_match_the_full_resolution_ones(pixels):
    # what the pipeline stores (the working copy's values) against the full-resolution pixels
    for key in ("coffee", "astronaut", "chelsea"):
        big = _large(pixels[key])
        work = working_copy(big)
        assert hamming(phash(work), phash(big)) <= 2, key
        assert hamming(dhash(work), dhash(big)) <= 4, key
        assert abs(colour_entropy(work) - colour_entropy(big)) < 0.15, key
        assert colour_std(work) == pytest.approx(colour_std(big), rel=0.05), key
        assert blur_score(work) == blur_score(big), key  # blur is defined at the working size


def test_colour_std_from_histograms_equals_the_float64_standard_deviation(pixels):
    for key in ("coffee", "uniform_grey", "blurry"):
        rgb = pixels[key]
        expected = float(rgb.reshape(-1, 3).astype(np.float64).std(axis=0).max())
        assert colour_std(rgb) == pytest.approx(expected, rel=1e-9, abs=1e-9), key


def test_entropy_with_many_levels_does_not_overflow():
    rng = np.random.default_rng(3)
    noise = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    # 64**3 = 262144 bins: codes need more than 16 bits; 16384 distinct pixels -> ~14 bits
    assert colour_entropy(noise, levels=64) > 13.5
