"""Safe decoding of untrusted image bytes with Pillow, and metadata-free re-encoding.

:func:`decode_image` is the only place Kho turns image bytes into pixels. It

1. refuses empty input, files Pillow cannot identify and formats outside
   :attr:`DecodeSettings.allowed_formats`;
2. refuses decompression bombs from the *header* size (``width * height`` above
   :attr:`DecodeSettings.max_pixels`) before any pixel is decoded; Pillow's own
   ``DecompressionBombError`` (and its warning, where a process escalates warnings to
   errors) become the same :class:`ImageDecodeError`;
3. forces a full decode of the first frame so truncated files fail here, not later in a
   model stage (``ImageFile.LOAD_TRUNCATED_IMAGES`` is never set);
4. applies the EXIF orientation and converts every mode (CMYK, 16-bit, palette, alpha,
   grayscale...) to 8-bit RGB, compositing transparency on white.

Anything wrong with the *data* raises :class:`ImageDecodeError` (a ``ValueError``) with a
``reason`` from :data:`DECODE_ERROR_REASONS`; nothing else escapes for bad input.

Colour management: embedded ICC profiles are ignored (pixels are taken as sRGB), so a copy
with its metadata stripped decodes to the same pixels and the same ``pixel_sha256``.

:func:`encode_image` writes the published bytes from pixels only: no EXIF (so no GPS), no ICC
profile, no XMP.
"""

from __future__ import annotations

import hashlib
import io
import logging
import struct
import zlib
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

logger = logging.getLogger(__name__)

#: Every value :attr:`ImageDecodeError.reason` can take.
DECODE_ERROR_REASONS: tuple[str, ...] = (
    "decompression_bomb", "truncated", "unsupported_format", "not_an_image", "empty",
)
#: Raster formats accepted by default (Pillow's format names).
DEFAULT_ALLOWED_FORMATS: frozenset[str] = frozenset(
    {"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO"})

#: What Pillow raises for malformed data, besides its own bomb error, while parsing or decoding.
_DATA_ERRORS: tuple[type[BaseException], ...] = (
    OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, TypeError,
    IndexError, KeyError, ZeroDivisionError, OverflowError,
)
_BOMB_ERRORS: tuple[type[BaseException], ...] = (
    Image.DecompressionBombError, Image.DecompressionBombWarning)
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_EXIF_GPS_IFD = 0x8825


class DecodeSettings(BaseModel):
    """How untrusted images are decoded and how published images are re-encoded."""

    model_config = ConfigDict(extra="forbid")

    max_pixels: int = Field(40_000_000, ge=1, description=(
        "largest width*height accepted; larger images are refused from the header, undecoded"))
    max_side: int = Field(1024, ge=1, description=(
        "the published image is resized so its longer side is at most this (aspect kept)"))
    format: Literal["jpeg", "webp", "png"] = Field("jpeg", description="published encoding")
    quality: int = Field(90, ge=1, le=100, description="JPEG/WebP quality (PNG is lossless)")
    allowed_formats: frozenset[str] = Field(DEFAULT_ALLOWED_FORMATS, description=(
        "Pillow format names accepted as input, e.g. JPEG, PNG, WEBP"))

    @field_validator("allowed_formats")
    @classmethod
    def _upper_non_empty(cls, value: frozenset[str]) -> frozenset[str]:
        """Format names compare upper-case (Pillow's spelling); an empty set would refuse all."""
        if not value:
            raise ValueError("allowed_formats is empty, so every image would be refused; "
                             "list at least one Pillow format name such as JPEG")
        return frozenset(name.strip().upper() for name in value)

    @field_serializer("allowed_formats")
    def _sorted(self, value: frozenset[str]) -> list[str]:
        """Dumped sorted, so a config's dump (and any fingerprint of it) is stable across runs."""
        return sorted(value)


class ImageDecodeError(ValueError):
    """Bytes that cannot become an image: ``reason`` says why (one of DECODE_ERROR_REASONS)."""

    def __init__(self, reason: str, message: str) -> None:
        if reason not in DECODE_ERROR_REASONS:
            raise ValueError(f"unknown decode error reason {reason!r}; "
                             f"use one of {', '.join(DECODE_ERROR_REASONS)}")
        super().__init__(message)
        self.reason = reason

    def __reduce__(self):  # keeps the subclass and reason through pickling (Beam moves errors)
        return (_rebuild_error, (self.reason, str(self)))


class DecompressionBombImageError(ImageDecodeError):
    """The header declares more pixels than ``max_pixels``."""

    def __init__(self, message: str) -> None:
        super().__init__("decompression_bomb", message)


class TruncatedImageError(ImageDecodeError):
    """The header parsed but the pixel data ends early or is corrupt."""

    def __init__(self, message: str) -> None:
        super().__init__("truncated", message)


class UnsupportedFormatError(ImageDecodeError):
    """A real image, in a format (or pixel mode) that is not accepted."""

    def __init__(self, message: str) -> None:
        super().__init__("unsupported_format", message)


class NotAnImageError(ImageDecodeError):
    """Pillow does not recognise the bytes as any image format."""

    def __init__(self, message: str) -> None:
        super().__init__("not_an_image", message)


class EmptyImageError(ImageDecodeError):
    """Zero bytes."""

    def __init__(self, message: str) -> None:
        super().__init__("empty", message)


_ERROR_TYPES: dict[str, type[ImageDecodeError]] = {
    "decompression_bomb": DecompressionBombImageError,
    "truncated": TruncatedImageError,
    "unsupported_format": UnsupportedFormatError,
    "not_an_image": NotAnImageError,
    "empty": EmptyImageError,
}


def _rebuild_error(reason: str, message: str) -> ImageDecodeError:
    """Unpickling helper: the subclass for ``reason`` with ``message``."""
    return _ERROR_TYPES[reason](message)


class ImageEncodeError(ValueError):
    """Pixels handed to :func:`encode_image` are not an (H, W, 3) uint8 array."""


@dataclass(frozen=True, eq=False)
class DecodedImage:
    """A decoded image: read-only RGB pixels at original size plus facts about the source."""

    rgb: np.ndarray
    width: int
    height: int
    source_format: str
    source_mode: str
    frames: int
    had_exif: bool
    had_gps: bool
    original_sha256: str
    pixel_sha256: str


def pixel_sha256(rgb: np.ndarray) -> str:
    """SHA-256 of pixels and their shape: equal for byte-different files with equal pixels."""
    pixels = np.ascontiguousarray(rgb)
    digest = hashlib.sha256("x".join(str(n) for n in pixels.shape).encode() + b";")
    digest.update(pixels.tobytes())
    return digest.hexdigest()


def decode_image(data: bytes, settings: DecodeSettings) -> DecodedImage:
    """Decode untrusted ``data`` to upright 8-bit RGB, or raise :class:`ImageDecodeError`.

    Only the first frame of animated images is decoded. The size check runs on the header,
    before pixels are decoded, so a bomb costs neither time nor memory.
    """
    if not data:
        raise EmptyImageError("the file is empty (0 bytes); check that the download or copy "
                              "finished, or drop the record")
    _warn_if_truncated_images_load()
    img = _open(data, settings)
    try:
        frames = _first_frame(img, settings)
        _load(img, settings)
        had_exif, had_gps = _exif_facts(img)
        upright = _apply_orientation(img)
        rgb = to_rgb8(upright)
    finally:
        img.close()
    rgb.setflags(write=False)
    height, width = rgb.shape[:2]
    return DecodedImage(
        rgb=rgb, width=width, height=height, source_format=str(img.format),
        source_mode=img.mode, frames=frames, had_exif=had_exif, had_gps=had_gps,
        original_sha256=hashlib.sha256(data).hexdigest(), pixel_sha256=pixel_sha256(rgb),
    )


def _open(data: bytes, settings: DecodeSettings) -> Image.Image:
    """Parse the header only: identify the format and check the format and the size."""
    try:
        img = Image.open(io.BytesIO(data))
    except _BOMB_ERRORS as exc:
        raise _pillow_bomb_error(exc, settings) from exc
    except UnidentifiedImageError as exc:
        raise NotAnImageError(
            f"the {len(data)} bytes are not an image Pillow recognises (starts with "
            f"{data[:8]!r}); check the file's real type, or drop the record") from exc
    except _DATA_ERRORS as exc:
        raise NotAnImageError(f"the image header is malformed ({type(exc).__name__}: {exc}); "
                              "the file is damaged or not an image, drop the record") from exc
    try:
        if img.format not in settings.allowed_formats:
            raise UnsupportedFormatError(
                f"format {img.format} is not in image.decode.allowed_formats "
                f"({', '.join(sorted(settings.allowed_formats))}); add it there if such files "
                "are wanted")
        _check_pixels(img.size, settings)
    except ImageDecodeError:
        img.close()
        raise
    return img


_warned_truncated_load = False


def _warn_if_truncated_images_load() -> None:
    """Log once if some code in this process set Pillow to accept truncated files."""
    global _warned_truncated_load
    if ImageFile.LOAD_TRUNCATED_IMAGES and not _warned_truncated_load:
        _warned_truncated_load = True
        logger.warning("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is set in this process: truncated "
                       "images decode with grey fill instead of being refused; unset it")


def _check_pixels(size: tuple[int, int], settings: DecodeSettings) -> None:
    """Refuse a frame whose declared width*height is above ``max_pixels``."""
    width, height = size
    pixels = width * height
    if pixels > settings.max_pixels:
        raise DecompressionBombImageError(
            f"image is {width}x{height} = {pixels / 1e6:.0f} Mpx, above "
            f"max_pixels={settings.max_pixels}; raise image.decode.max_pixels if such images "
            "are wanted")
    if width < 1 or height < 1:
        raise TruncatedImageError(f"image header declares a {width}x{height} size; the file "
                                  "is damaged, drop the record")


def _pillow_bomb_error(exc: BaseException, settings: DecodeSettings) -> DecompressionBombImageError:
    """Pillow's own bomb guard fired (its limit, PIL.Image.MAX_IMAGE_PIXELS, is process-wide)."""
    return DecompressionBombImageError(
        f"image refused undecoded as a decompression bomb: {exc} (Kho's limit is "
        f"max_pixels={settings.max_pixels}); raise image.decode.max_pixels, and Pillow's "
        "process-wide PIL.Image.MAX_IMAGE_PIXELS, if such images are wanted")


def _first_frame(img: Image.Image, settings: DecodeSettings) -> int:
    """Count frames and go back to the first one; its size is checked again (GIFs can grow)."""
    try:
        frames = int(getattr(img, "n_frames", 1))
        if frames > 1:
            img.seek(0)
    except _BOMB_ERRORS as exc:
        raise _pillow_bomb_error(exc, settings) from exc
    except _DATA_ERRORS as exc:
        raise TruncatedImageError(f"the image's frames cannot be read ({type(exc).__name__}: "
                                  f"{exc}); the file is truncated or corrupt, drop the record"
                                  ) from exc
    _check_pixels(img.size, settings)
    return max(frames, 1)


def _load(img: Image.Image, settings: DecodeSettings) -> None:
    """Decode every pixel of the current frame now, so damaged data fails here."""
    try:
        img.load()
    except _BOMB_ERRORS as exc:
        raise _pillow_bomb_error(exc, settings) from exc
    except _DATA_ERRORS as exc:
        raise TruncatedImageError(
            f"the {img.format} pixel data is truncated or corrupt ({type(exc).__name__}: {exc})"
            "; re-fetch the file, or drop the record") from exc


def _exif_facts(img: Image.Image) -> tuple[bool, bool]:
    """(had_exif, had_gps): whether the source carried EXIF, and a non-empty GPS IFD in it."""
    raw_present = bool(img.info.get("exif"))
    try:
        exif = img.getexif()
        had_gps = _EXIF_GPS_IFD in exif and bool(exif.get_ifd(_EXIF_GPS_IFD))
        return raw_present or len(exif) > 0, had_gps
    except _DATA_ERRORS as exc:
        logger.debug("unreadable EXIF ignored: %s", exc)
        return raw_present, False


def _apply_orientation(img: Image.Image) -> Image.Image:
    """The image turned upright per its EXIF orientation; unreadable EXIF leaves it as is."""
    try:
        upright = ImageOps.exif_transpose(img)
    except _DATA_ERRORS as exc:
        logger.debug("EXIF orientation not applied (%s)", exc)
        return img
    return img if upright is None else upright


def to_rgb8(img: Image.Image) -> np.ndarray:
    """Any loaded Pillow image as a C-contiguous (H, W, 3) uint8 array.

    16-bit and 32-bit values are scaled down (not clipped); transparency is composited on
    white so transparent areas do not turn black.
    """
    try:
        if img.mode in _SIXTEEN_BIT_MODES or img.mode in ("I", "F"):
            gray = _scale_to_uint8(np.asarray(img))
            return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
        if img.mode in _ALPHA_MODES or "transparency" in img.info:
            return _composite_on_white(np.asarray(img.convert("RGBA")))
        rgb = img if img.mode == "RGB" else img.convert("RGB")
        return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))
    except _DATA_ERRORS as exc:
        raise UnsupportedFormatError(
            f"pixel mode {img.mode} of this {img.format} cannot be converted to RGB "
            f"({exc}); convert such files upstream, or drop them") from exc


def _scale_to_uint8(values: np.ndarray) -> np.ndarray:
    """High-bit-depth grayscale to 0..255: 16-bit by /257; other ranges stretched min..max."""
    if values.dtype.kind in "ui" and values.size and values.min() >= 0 and values.max() <= 65535:
        scaled = values.astype(np.float32) / 257.0
    elif values.dtype.kind == "f" and values.size and 0 <= np.nanmin(values) <= np.nanmax(values) <= 1:
        scaled = np.nan_to_num(values.astype(np.float32)) * 255.0
    else:
        flt = np.nan_to_num(values.astype(np.float64))
        low, high = (float(flt.min()), float(flt.max())) if flt.size else (0.0, 0.0)
        scaled = (flt - low) * (255.0 / (high - low)) if high > low else np.zeros_like(flt)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _composite_on_white(rgba: np.ndarray) -> np.ndarray:
    """RGBA (straight alpha) over a white background, rounded to uint8 RGB."""
    colour = rgba[:, :, :3].astype(np.uint32)
    alpha = rgba[:, :, 3:4].astype(np.uint32)
    mixed = (colour * alpha + 255 * (255 - alpha) + 127) // 255
    return np.ascontiguousarray(mixed.astype(np.uint8))


def encode_image(rgb: np.ndarray, settings: DecodeSettings) -> tuple[bytes, int, int]:
    """Publishable bytes from pixels: resized to ``max_side``, no EXIF/ICC/XMP at all.

    Returns ``(bytes, width, height)`` of the encoded image. The image is built from the
    array alone, so nothing of the source file (GPS, camera serials, profiles) can leak.
    """
    _check_rgb_array(rgb)
    img = Image.fromarray(np.ascontiguousarray(rgb))
    img = _fit_longer_side(img, settings.max_side)
    buf = io.BytesIO()
    if settings.format == "jpeg":
        img.save(buf, format="JPEG", quality=settings.quality, optimize=True)
    elif settings.format == "webp":
        img.save(buf, format="WEBP", quality=settings.quality, method=4)
    else:
        img.save(buf, format="PNG", compress_level=6)
    return buf.getvalue(), img.width, img.height


def _check_rgb_array(rgb: np.ndarray) -> None:
    """Refuse anything but a non-empty (H, W, 3) uint8 array."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 \
            or rgb.shape[2] != 3 or rgb.shape[0] < 1 or rgb.shape[1] < 1:
        shape = getattr(rgb, "shape", None)
        dtype = getattr(rgb, "dtype", type(rgb).__name__)
        raise ImageEncodeError(f"expected an (H, W, 3) uint8 RGB array, got shape={shape} "
                               f"dtype={dtype}; pass DecodedImage.rgb")


def _fit_longer_side(img: Image.Image, max_side: int) -> Image.Image:
    """``img`` shrunk (LANCZOS, aspect kept) so its longer side is at most ``max_side``."""
    longer = max(img.width, img.height)
    if longer <= max_side:
        return img
    scale = max_side / longer
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, Image.Resampling.LANCZOS)
