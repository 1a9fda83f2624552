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
* :func:`working_copy`: the one downscaled copy (long side :data:`WORKING_SIDE`) that the
  pipeline computes every cheap signal on, so each image is resampled once and no signal
  makes a pass over the full-resolution pixels.

The working copy. The image is shrunk (Lanczos, antialiased, uint8 RGB) so its longer side is
at most :data:`WORKING_SIDE` (512 px); smaller images are used as they are. The pipeline
(pipelines/image/annotate.py) stores blur, entropy, colour std, pHash, dHash and BRISQUE of
this copy. Blur was already defined at this size (it is a per-pixel statistic, so it depends
on resolution); the hashes shrink to 32x32 / 9x8 anyway (identical bits on the bench corpus);
entropy and std are statistics of the colour distribution, which the copy keeps (within 0.06
bits and 3 % on the bench corpus).
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy.fft import dctn

#: Longer side, in pixels, of the working copy every cheap signal is computed on.
WORKING_SIDE = 512
#: Longer side, in pixels, that larger images are shrunk to before the blur score.
BLUR_WORKING_SIDE = WORKING_SIDE
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


def working_copy(rgb: np.ndarray, side: int = WORKING_SIDE) -> np.ndarray:
    """``rgb`` shrunk (Lanczos, aspect kept) so its longer side is at most ``side``; an image
    that already fits is returned as it is (no copy, never upscaled).

    Why: every cheap signal (blur, entropy, colour std, hashes) and BRISQUE read this one copy,
    so an image is resampled once and no signal walks the full-resolution pixels. Applying it
    twice gives the same array (the second call returns its input).
    """
    _check_rgb(rgb)
    height, width = rgb.shape[:2]
    scale = side / max(height, width)
    if scale >= 1:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS))


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

    Images larger than :data:`BLUR_WORKING_SIDE` (longer side) are scored on their
    :func:`working_copy`, so the score of a large photo does not depend on its resolution;
    smaller images are scored as they are (upscaling would invent smooth pixels and punish
    them). float32 throughout: the values are 0..255 sums, far inside its precision.
    """
    work = grayscale(working_copy(rgb, BLUR_WORKING_SIDE))
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
    # uint16 holds every code of up to 40 levels (40**3 < 2**16); more levels need uint32
    quant = (rgb.astype(np.uint16 if levels ** 3 <= 1 << 16 else np.uint32) * levels) >> 8
    codes = (quant[:, :, 0] * levels + quant[:, :, 1]) * levels + quant[:, :, 2]
    counts = np.bincount(codes.ravel(), minlength=levels ** 3)
    p = counts[counts > 0] / codes.size
    return float(max(0.0, -(p * np.log2(p)).sum()))


def colour_std(rgb: np.ndarray) -> float:
    """The largest per-channel standard deviation of the pixels (0 for a flat image).

    Computed from each channel's 256-bin histogram (integer counts, then one float64 sum over
    256 values), not a float64 pass over every pixel: the same value, a fraction of the cost.
    """
    _check_rgb(rgb)
    levels = np.arange(256, dtype=np.float64)
    n = rgb.shape[0] * rgb.shape[1]
    best = 0.0
    for c in range(3):
        counts = np.bincount(rgb[:, :, c].ravel(), minlength=256)
        mean = float(counts @ levels) / n
        var = float(counts @ (levels - mean) ** 2) / n
        best = max(best, var)
    return float(np.sqrt(best))


def is_near_uniform(rgb: np.ndarray, std_max: float = UNIFORM_STD_MAX) -> bool:
    """Whether every channel varies by at most ``std_max`` (blank, flat or near-empty images)."""
    return colour_std(rgb) <= std_max


def image_signals(rgb: np.ndarray, width: int, height: int, n_bytes: int,
                  source_format: str) -> dict[str, float | int | str]:
    """The stored per-image signals: size, aspect, byte count, format, blur, entropy, uniform.

    ``width``/``height`` are the decoded (upright) size; ``n_bytes`` the source file's size.
    ``uniform`` is a bool (an int subtype). Blur, entropy and uniformity are of the
    :func:`working_copy`, made once here, as the pipeline stores them.
    """
    rgb = working_copy(rgb)
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
