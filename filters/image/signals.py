"""Per-image signals stored with each image record: perceptual hashes and quality numbers.

All functions take the decoded ``(H, W, 3) uint8`` RGB array of
:func:`filters.image.decode.decode_image`.

Hashes are 64 bits as 8 bytes, big-endian bit order: bit ``i`` of the row-major 8x8 grid is
bit ``7 - i % 8`` of byte ``i // 8`` (``np.packbits`` order), so ``int.from_bytes(h, "big")``
reads the grid's first cell as the most significant bit. This is the packing
:mod:`filters.lsh` expects of bit hashes.

* :func:`phash`: DCT perceptual hash, robust to resizing and recompression (dedup).
* :func:`dhash`: gradient (difference) hash, cheaper, a second opinion.
* :func:`blur_score`: variance of the Laplacian at a fixed working size (low = blurry).
* :func:`colour_entropy` / :func:`is_near_uniform`: flat or near-empty images.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy.fft import dctn

#: Longer side, in pixels, that larger images are shrunk to before the blur score.
BLUR_WORKING_SIDE = 512
#: Quantization levels per channel of the colour histogram (16**3 = 4096 bins, at most 12 bits).
ENTROPY_LEVELS_PER_CHANNEL = 16
#: Default largest per-channel standard deviation of a "near-uniform" image.
UNIFORM_STD_MAX = 4.0
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


class SignalInputError(ValueError):
    """The array given to a signal function is not an (H, W, 3) uint8 RGB image."""


def _check_rgb(rgb: np.ndarray) -> None:
    """Refuse anything but a non-empty (H, W, 3) uint8 array."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 \
            or rgb.shape[2] != 3 or rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise SignalInputError(
            f"expected an (H, W, 3) uint8 RGB array, got shape={getattr(rgb, 'shape', None)} "
            f"dtype={getattr(rgb, 'dtype', type(rgb).__name__)}; pass DecodedImage.rgb")


def grayscale(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma of ``rgb`` as float32 in 0..255 (the hashes' and blur's input)."""
    _check_rgb(rgb)
    return rgb.astype(np.float32) @ _LUMA


def _resize_gray(gray: np.ndarray, width: int, height: int) -> np.ndarray:
    """``gray`` resampled to ``width`` x ``height`` (antialiased, float precision kept)."""
    img = Image.fromarray(np.ascontiguousarray(gray, dtype=np.float32))
    return np.asarray(img.resize((width, height), Image.Resampling.LANCZOS), dtype=np.float64)


def _pack_bits(bits: np.ndarray) -> bytes:
    """64 booleans (row-major) as 8 bytes, first bit most significant."""
    return np.packbits(bits.astype(np.uint8).ravel()).tobytes()


def phash(rgb: np.ndarray) -> bytes:
    """64-bit DCT perceptual hash: near-identical for resized/recompressed copies of a photo.

    Grayscale, 32x32, orthonormal 2-D DCT-II, the top-left 8x8 (lowest) frequencies; a bit is
    1 where the coefficient is above the median of the 63 non-DC coefficients. The DC term
    (overall brightness) carries no structure, so its bit (the first) is always 0.
    Coefficients are rounded to 1e-3 first so that float noise in flat regions does not flip
    bits: a uniform image hashes to all zeros on every platform.
    """
    small = _resize_gray(grayscale(rgb), 32, 32)
    low = np.round(dctn(small, type=2, norm="ortho")[:8, :8].ravel(), 3)
    median = np.median(low[1:])
    bits = low > median
    bits[0] = False
    return _pack_bits(bits)


def dhash(rgb: np.ndarray) -> bytes:
    """64-bit difference hash: 9x8 grayscale, bit = pixel brighter than its right neighbour."""
    small = _resize_gray(grayscale(rgb), 9, 8)
    return _pack_bits(small[:, :-1] > small[:, 1:])


def hamming(a: bytes, b: bytes) -> int:
    """Number of differing bits between two equal-length hashes."""
    if len(a) != len(b):
        raise ValueError(f"hashes have different lengths ({len(a)} and {len(b)} bytes); "
                         "compare hashes of the same kind")
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


def blur_score(rgb: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of the grayscale image; low means blurry.

    Images larger than :data:`BLUR_WORKING_SIDE` (longer side) are scored on a copy shrunk
    to that size, so the score of a large photo does not depend on its resolution; smaller
    images are scored as they are (upscaling would invent smooth pixels and punish them).
    """
    gray = grayscale(rgb)
    height, width = gray.shape
    scale = BLUR_WORKING_SIDE / max(height, width)
    work = (gray.astype(np.float64) if scale >= 1 else
            _resize_gray(gray, max(1, round(width * scale)), max(1, round(height * scale))))
    if work.shape[0] < 3 or work.shape[1] < 3:
        return 0.0
    lap = (work[1:-1, :-2] + work[1:-1, 2:] + work[:-2, 1:-1] + work[2:, 1:-1]
           - 4.0 * work[1:-1, 1:-1])
    return float(lap.var())


def colour_entropy(rgb: np.ndarray, levels: int = ENTROPY_LEVELS_PER_CHANNEL) -> float:
    """Shannon entropy (bits) of the colour histogram, ``levels`` per channel; flat image = 0.

    At most ``3 * log2(levels)`` bits (12 with the default 16 levels); a photo scores 3-8, a
    flat drawing of a few colours 1-2.
    """
    _check_rgb(rgb)
    if levels < 2 or levels > 256:
        raise ValueError(f"levels={levels} must be in 2..256")
    quant = (rgb.astype(np.uint32) * levels) >> 8
    codes = (quant[:, :, 0] * levels + quant[:, :, 1]) * levels + quant[:, :, 2]
    counts = np.bincount(codes.ravel(), minlength=levels ** 3)
    p = counts[counts > 0] / codes.size
    return float(max(0.0, -(p * np.log2(p)).sum()))


def colour_std(rgb: np.ndarray) -> float:
    """The largest per-channel standard deviation of the pixels (0 for a flat image)."""
    _check_rgb(rgb)
    return float(rgb.reshape(-1, 3).std(axis=0).max())


def is_near_uniform(rgb: np.ndarray, std_max: float = UNIFORM_STD_MAX) -> bool:
    """Whether every channel varies by at most ``std_max`` (blank, flat or near-empty images)."""
    return colour_std(rgb) <= std_max


def image_signals(rgb: np.ndarray, width: int, height: int, n_bytes: int,
                  source_format: str) -> dict[str, float | int | str]:
    """The stored per-image signals: size, aspect, byte count, format, blur, entropy, uniform.

    ``width``/``height`` are the decoded (upright) size; ``n_bytes`` the source file's size.
    ``uniform`` is a bool (an int subtype).
    """
    return {
        "width": int(width),
        "height": int(height),
        "aspect": float(width) / float(height) if height else 0.0,
        "bytes": int(n_bytes),
        "format": str(source_format),
        "blur": blur_score(rgb),
        "entropy": colour_entropy(rgb),
        "uniform": is_near_uniform(rgb),
    }
