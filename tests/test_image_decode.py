"""filters/image/decode.py on the real image samples of pipelines/image/samples.py."""

from __future__ import annotations

import io
import json
import pickle
import resource
import struct
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pydantic
import pytest
from PIL import Image
from skimage import data as skdata

from filters.image.decode import (
    DECODE_ERROR_REASONS,
    DecodedImage,
    DecodeSettings,
    ImageDecodeError,
    ImageEncodeError,
    TruncatedImageError,
    decode_image,
    encode_image,
)
from pipelines.image.samples import (
    BLOCK_COLUMNS,
    BLOCK_ROWS,
    BOMB_SIDE,
    COLOUR_BLOCKS,
    GRAY16_DARK_POINT,
    LIST_FILE,
    bomb_png,
    main,
    make_image_samples,
)

SETTINGS = DecodeSettings()


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The sample folder, written once for this module."""
    return make_image_samples(tmp_path_factory.mktemp("image_samples"))


def _bytes(samples: dict[str, Any], case: str) -> bytes:
    return (Path(samples["root"]) / samples["cases"][case]["path"]).read_bytes()


def _decode(samples: dict[str, Any], case: str,
            settings: DecodeSettings = SETTINGS) -> DecodedImage:
    return decode_image(_bytes(samples, case), settings)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def test_bomb_file_is_small_and_declares_a_huge_size(samples):
    raw = _bytes(samples, "bomb")
    width, height = struct.unpack(">II", raw[16:24])  # IHDR right after the signature
    assert (width, height) == (BOMB_SIDE, BOMB_SIDE)
    assert len(raw) < 1_000_000


def test_bomb_is_refused_from_the_header_without_decoding_pixels(samples):
    before = _peak_rss_mb()
    with pytest.raises(ImageDecodeError) as info:
        _decode(samples, "bomb")
    assert info.value.reason == "decompression_bomb"
    assert "max_pixels" in str(info.value)
    # decoding 400 Mpx would need ~400 MB; the peak resident size must not move by that much
    assert _peak_rss_mb() - before < 100


def test_image_above_max_pixels_is_refused_with_its_size_in_the_message(samples):
    with pytest.raises(ImageDecodeError) as info:
        _decode(samples, "astronaut", DecodeSettings(max_pixels=100_000))
    assert info.value.reason == "decompression_bomb"
    assert "512x512" in str(info.value) and "max_pixels=100000" in str(info.value)


def test_bomb_between_pillows_warning_and_error_limits_is_refused_by_kho():
    medium = bomb_png(10_000)  # 100 Mpx: Pillow only warns, Kho's max_pixels refuses
    with pytest.warns(Image.DecompressionBombWarning), pytest.raises(ImageDecodeError) as info:
        decode_image(medium, SETTINGS)
    assert info.value.reason == "decompression_bomb" and "10000x10000" in str(info.value)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with pytest.raises(ImageDecodeError) as escalated:
            decode_image(medium, SETTINGS)
    assert escalated.value.reason == "decompression_bomb"


@pytest.mark.parametrize("case", ["bomb", "truncated", "not_an_image", "empty"])
def test_bad_inputs_raise_their_manifest_reason(samples, case):
    expected = samples["cases"][case]["decode_error"]
    with pytest.raises(ImageDecodeError) as info:
        _decode(samples, case)
    assert info.value.reason == expected
    assert info.value.reason in DECODE_ERROR_REASONS


def test_truncated_jpeg_is_a_truncated_error_subclass(samples):
    with pytest.raises(TruncatedImageError, match="truncated"):
        _decode(samples, "truncated")


def test_format_outside_allowed_formats_is_unsupported(samples):
    with pytest.raises(ImageDecodeError) as info:
        _decode(samples, "chelsea", DecodeSettings(allowed_formats={"jpeg"}))
    assert info.value.reason == "unsupported_format"
    assert "PNG" in str(info.value) and "allowed_formats" in str(info.value)


def test_damaged_bytes_raise_only_image_decode_errors(samples):
    rng = np.random.default_rng(11)
    outcomes = {"decoded": 0, "refused": 0}
    for case in ("astronaut", "chelsea", "animated", "gray16", "gps_rotated", "cmyk"):
        raw = np.frombuffer(_bytes(samples, case), dtype=np.uint8)
        for _ in range(6):
            damaged = raw.copy()
            spots = rng.integers(0, len(damaged), 8)
            damaged[spots] = rng.integers(0, 256, len(spots))
            cut = int(rng.integers(1, len(raw)))
            for variant in (damaged.tobytes(), raw[:cut].tobytes()):
                try:
                    decoded = decode_image(variant, SETTINGS)
                except ImageDecodeError as exc:
                    assert exc.reason in DECODE_ERROR_REASONS
                    outcomes["refused"] += 1
                else:
                    assert decoded.rgb.dtype == np.uint8 and decoded.rgb.shape[2] == 3
                    outcomes["decoded"] += 1
    assert outcomes["refused"] > 0


def test_decode_error_survives_pickling_with_its_reason(samples):
    with pytest.raises(ImageDecodeError) as info:
        _decode(samples, "truncated")
    again = pickle.loads(pickle.dumps(info.value))
    assert type(again) is type(info.value)
    assert again.reason == "truncated" and str(again) == str(info.value)


def test_cmyk_jpeg_decodes_to_its_rgb_colours(samples):
    img = _decode(samples, "cmyk")
    assert img.source_mode == "CMYK"
    assert img.rgb.dtype == np.uint8 and img.rgb.shape == (160, 320, 3)
    for (y0, y1), row in zip(BLOCK_ROWS, COLOUR_BLOCKS):
        for (x0, x1), colour in zip(BLOCK_COLUMNS, row):
            centre = img.rgb[(y0 + y1) // 2, (x0 + x1) // 2].astype(int)
            assert np.abs(centre - np.array(colour)).max() <= 12, (colour, centre)


def test_sixteen_bit_png_is_scaled_not_clipped(samples):
    img = _decode(samples, "gray16")
    assert img.source_mode.startswith("I;16")
    gray = img.rgb[:, :, 0]
    assert (img.rgb[:, :, 1] == gray).all() and (img.rgb[:, :, 2] == gray).all()
    x, y = GRAY16_DARK_POINT
    assert gray[y, x] == 0 and gray.max() == 255
    assert 60 < np.median(gray) < 200  # clipping 0..65535 to 0..255 would put it at 255
    assert len(np.unique(gray)) > 200
    row = gray[y, x:].astype(int)
    assert (np.diff(row) >= 0).all()  # brighter with distance from the dark point


def test_animated_gif_gives_its_first_frame(samples):
    img = _decode(samples, "animated")
    assert (img.source_format, img.source_mode, img.frames) == ("GIF", "P", 2)
    assert tuple(img.rgb[20, 20]) == (230, 30, 30)  # frame 1's red square, not frame 2's blue
    assert tuple(img.rgb[45, 45]) == (255, 255, 255)


def test_alpha_png_is_composited_on_white(samples):
    img = _decode(samples, "alpha")
    assert img.source_mode == "RGBA" and img.rgb.shape == (128, 128, 3)
    assert tuple(img.rgb[2, 120]) == (255, 255, 255)  # fully transparent corner
    assert tuple(img.rgb[52, 48]) == (220, 20, 20)  # opaque disc
    assert np.abs(img.rgb[124, 64].astype(int) - (127, 127, 255)).max() <= 1  # 50 % blue


def test_one_bit_and_grayscale_sources_become_equal_channel_rgb(samples):
    horse = _decode(samples, "no_diacritics")
    assert horse.source_mode == "1"
    assert set(np.unique(horse.rgb)) == {0, 255}
    camera = _decode(samples, "camera")
    assert camera.source_mode == "L"
    assert (camera.rgb[:, :, 0] == camera.rgb[:, :, 2]).all()


def test_exif_orientation_six_turns_the_image_upright(samples):
    raw = _bytes(samples, "gps_rotated")
    with Image.open(io.BytesIO(raw)) as stored:
        assert stored.size == (512, 384)
    img = _decode(samples, "gps_rotated")
    assert (img.width, img.height) == (384, 512) and img.rgb.shape == (512, 384, 3)
    upright = skdata.immunohistochemistry()[:, :384].astype(int)
    assert np.abs(img.rgb.astype(int) - upright).mean() < 6


def test_gps_and_exif_are_detected(samples):
    rotated = _decode(samples, "gps_rotated")
    assert rotated.had_exif and rotated.had_gps
    plain = _decode(samples, "astronaut")
    assert not plain.had_exif and not plain.had_gps


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "png"])
def test_reencoded_gps_image_carries_no_metadata(samples, fmt):
    settings = DecodeSettings(format=fmt)
    img = _decode(samples, "gps_rotated", settings)
    published, width, height = encode_image(img.rgb, settings)
    with Image.open(io.BytesIO(published)) as out:
        assert out.format == fmt.upper()
        assert len(out.getexif()) == 0
        assert not {"exif", "icc_profile", "xmp", "XML:com.adobe.xmp"} & set(out.info)
        assert out.size == (width, height) == (384, 512)
    assert b"Kho sample camera" not in published


def test_encode_shrinks_to_max_side_keeping_aspect(samples):
    img = _decode(samples, "gps_rotated")
    published, width, height = encode_image(img.rgb, DecodeSettings(max_side=256))
    assert (width, height) == (192, 256)
    with Image.open(io.BytesIO(published)) as out:
        assert out.size == (192, 256)


def test_png_encoding_is_lossless(samples):
    settings = DecodeSettings(format="png", max_side=4096)
    img = _decode(samples, "chelsea")
    published, _, _ = encode_image(img.rgb, settings)
    assert decode_image(published, settings).pixel_sha256 == img.pixel_sha256


def test_encode_refuses_a_non_rgb_array():
    with pytest.raises(ImageEncodeError, match="uint8"):
        encode_image(np.zeros((4, 4), np.float32), SETTINGS)


def test_pixel_hash_ignores_bytes_but_not_pixels(samples):
    chelsea, copy = _decode(samples, "chelsea"), _decode(samples, "chelsea_copy")
    assert chelsea.original_sha256 != copy.original_sha256
    assert chelsea.pixel_sha256 == copy.pixel_sha256
    rocket, recompressed = _decode(samples, "rocket"), _decode(samples, "rocket_recompressed")
    assert rocket.pixel_sha256 != recompressed.pixel_sha256


def test_decoded_pixels_are_read_only_original_size(samples):
    img = _decode(samples, "coffee")
    assert (img.width, img.height) == (600, 400) and img.rgb.shape == (400, 600, 3)
    with pytest.raises(ValueError):
        img.rgb[0, 0, 0] = 1


@pytest.mark.parametrize("case", ["astronaut", "coffee", "chelsea", "rocket", "camera", "coins",
                                  "hubble", "coffee_resized", "astronaut_cropped"])
def test_sizes_and_formats_match_the_manifest(samples, case):
    expect = samples["cases"][case]["expect"]
    img = _decode(samples, case)
    assert img.source_format == expect.get("source_format", "JPEG")
    assert (img.width, img.height) == (expect["width"], expect["height"])


def test_settings_refuse_unknown_keys_and_bad_quality():
    with pytest.raises(pydantic.ValidationError):
        DecodeSettings(max_pixel=10)
    with pytest.raises(pydantic.ValidationError):
        DecodeSettings(quality=0)
    assert DecodeSettings(allowed_formats=["png", " Jpeg"]).allowed_formats == {"PNG", "JPEG"}
    dumped = DecodeSettings().model_dump(mode="json")
    assert dumped["allowed_formats"] == sorted(dumped["allowed_formats"])  # stable fingerprints
    assert DecodeSettings.model_validate(dumped) == DecodeSettings()


def test_samples_are_byte_identical_when_written_again(samples, tmp_path):
    assert main([str(tmp_path)]) == 0
    first, second = Path(samples["root"]), tmp_path
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_sample_folder_is_small_and_every_case_has_its_file(samples):
    root = Path(samples["root"])
    assert sum(p.stat().st_size for p in root.iterdir()) < 3_000_000
    for key, case in samples["cases"].items():
        assert (root / case["path"]).stat().st_size == case["bytes"], key


def test_sidecars_carry_the_manifest_captions(samples):
    root = Path(samples["root"])
    kinds = set()
    for key, case in samples["cases"].items():
        if case["sidecar"] is None:
            assert [p.name for p in root.glob(Path(case["path"]).stem + ".*")] == [case["path"]]
            continue
        text = (root / case["sidecar"]).read_text(encoding="utf-8")
        kinds.add(Path(case["sidecar"]).suffix)
        if case["sidecar"].endswith(".json"):
            meta = json.loads(text)
            assert meta == {"caption": case["caption"], "license": case["license"],
                            "url": case["url"]}, key
        else:
            assert text.strip() == case["caption"], key
    assert kinds == {".txt", ".json"}
    assert samples["cases"]["no_caption"]["caption"] is None
    assert "0912 345 678" in samples["cases"]["phone_caption"]["caption"]
    assert not samples["cases"]["astronaut"]["caption"].isascii()  # Vietnamese diacritics
    assert samples["cases"]["no_diacritics"]["caption"].isascii()


def test_list_file_rows_point_at_sample_images(samples):
    root = Path(samples["root"])
    lines = (root / LIST_FILE).read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    assert rows == samples["list_rows"] and len(rows) >= 3
    for row in rows:
        assert set(row) == {"path", "caption", "license"}
        assert (root / row["path"]).is_file() and row["caption"] and row["license"]
