"""The image modality's sample data: photos, generated images and planted edge cases.

:func:`make_image_samples` writes, deterministically, a flat folder of images with caption
sidecars (``<stem>.txt``, or ``<stem>.json`` with caption, license and url) and a
``list.jsonl`` for the list reader, and returns a manifest saying what every file is and
what Kho should make of it, so tests can assert case by case and ``kho demo`` has an
image corpus without network access.

Contents (manifest ``kind``):

* ``photo``: real photos bundled with scikit-image (astronaut has a face), Vietnamese
  captions (one English);
* ``generated``: seeded numpy drawings (one of them a flat grey image);
* ``near_duplicate``: a resized, a recompressed and a cropped copy of photos, and a PNG with
  the exact pixels of another PNG but different bytes;
* ``edge``: decode cases (decompression bomb, truncated JPEG, not an image, empty file) and
  conversion cases (alpha PNG, CMYK JPEG, 16-bit PNG, animated GIF, EXIF-rotated JPEG with
  GPS, 1-bit PNG, a blurry photo);
* ``caption_case``: a caption with a phone number, one without diacritics, no caption.

Run ``python -m pipelines.image.samples DEST`` to write them.
"""

from __future__ import annotations

import io
import json
import logging
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import ExifTags, Image, ImageDraw, ImageFilter, PngImagePlugin
from skimage import data as skdata

logger = logging.getLogger(__name__)

#: Side of the decompression bomb (1-bit PNG): 400 Mpx declared, about 50 KB on disk.
BOMB_SIDE = 20_000
#: Hà Nội (Hoàn Kiếm lake), degrees/minutes/seconds, written into gps_rotated.jpg's EXIF.
HANOI_LAT_DMS = (21.0, 1.0, 42.0)
HANOI_LON_DMS = (105.0, 51.0, 15.0)
LIST_FILE = "list.jsonl"

_PD = "public-domain"
_CC0 = "CC0-1.0"
_SKIMAGE_URL = "https://scikit-image.org/docs/stable/api/skimage.data.html#skimage.data."


def _as_rgb(array: np.ndarray) -> np.ndarray:
    """A grayscale or RGB uint8 array as (H, W, 3)."""
    return np.repeat(array[:, :, None], 3, axis=2) if array.ndim == 2 else array[:, :, :3]


def _fit(img: Image.Image, max_side: int) -> Image.Image:
    """``img`` shrunk so its longer side is at most ``max_side``."""
    scale = max_side / max(img.size)
    if scale >= 1:
        return img
    return img.resize((round(img.width * scale), round(img.height * scale)),
                      Image.Resampling.LANCZOS)


def _jpeg(img: Image.Image, quality: int = 90, **params: Any) -> bytes:
    """``img`` as JPEG bytes."""
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality, **params)
    return buf.getvalue()


def _png(img: Image.Image, **params: Any) -> bytes:
    """``img`` as PNG bytes."""
    buf = io.BytesIO()
    img.save(buf, format="PNG", **params)
    return buf.getvalue()


# ---------------------------------------------------------------- generated drawings

def _sunset(size: int = 256) -> np.ndarray:
    """Orange-to-purple sky, a yellow sun left of centre, dark hills along the bottom."""
    t = np.linspace(0.0, 1.0, size)[:, None, None]
    top, bottom = np.array([255, 140, 40]), np.array([90, 30, 120])
    sky = np.broadcast_to(top * (1 - t) + bottom * t, (size, size, 3))
    img = Image.fromarray(sky.astype(np.uint8))
    draw = ImageDraw.Draw(img)
    draw.ellipse((50, 90, 120, 160), fill=(255, 220, 60))
    hills = [(0, 200), (60, 170), (110, 205), (170, 150), (256, 190), (256, 256), (0, 256)]
    draw.polygon(hills, fill=(40, 20, 50))
    return np.asarray(img)


def _shapes(seed: int, size: int = 256) -> np.ndarray:
    """Seeded coloured circles and rectangles on white."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x0, y0 = (int(v) for v in rng.integers(0, size - 40, 2))
        w, h = (int(v) for v in rng.integers(20, 80, 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        box = (x0, y0, min(size - 1, x0 + w), min(size - 1, y0 + h))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    return np.asarray(img)


def _checkerboard(size: int = 256, cell: int = 48) -> np.ndarray:
    """Black and white squares (a cell size that does not divide the side, so not symmetric)."""
    yy, xx = np.mgrid[0:size, 0:size] // cell
    return _as_rgb(np.where((yy + xx) % 2 == 0, 255, 0).astype(np.uint8))


def _vase(seed: int, size: int = 256) -> np.ndarray:
    """A blue ceramic vase with seeded white dots, on a beige background."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, size)[:, None, None]
    wall = np.array([240, 228, 200]) * (1 - t) + np.array([190, 160, 120]) * t
    img = Image.fromarray(np.broadcast_to(wall, (size, size, 3)).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for i in range(12):  # the glaze, darker towards the right
        draw.ellipse((50 + i * 4, 80 + i * 2, 170 - i * 3, 230 - i * 2),
                     fill=(30 + i * 8, 60 + i * 6, 150 + i * 6))
    draw.rectangle((88, 40, 128, 100), fill=(40, 70, 160))
    for _ in range(25):
        x, y = (int(v) for v in rng.integers((70, 100), (150, 210)))
        draw.ellipse((x - 4, y - 4, x + 4, y + 4), fill=(250, 250, 250))
    draw.rectangle((0, 230, size - 1, size - 1), fill=(120, 80, 50))
    return np.asarray(img)


def _rings(size: int = 256) -> np.ndarray:
    """Hard-edged colour rings around a point off the centre."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    r = np.hypot(yy - 0.4 * size, xx - 0.3 * size)
    return np.stack([np.where(np.sin(r / k) > 0, 230, 25).astype(np.uint8) for k in (6, 9, 13)],
                    axis=2)


#: The CMYK sample's blocks: COLOUR_BLOCKS[row][column] is the RGB colour of the block
#: spanning BLOCK_ROWS[row] x BLOCK_COLUMNS[column] (pixel ranges; uneven on purpose, so the
#: layout is not symmetric).
COLOUR_BLOCKS: tuple[tuple[tuple[int, int, int], ...], ...] = (
    ((255, 255, 255), (0, 0, 255), (255, 255, 0), (255, 0, 0)),
    ((0, 0, 0), (0, 255, 255), (255, 0, 255), (0, 255, 0)),
)
BLOCK_ROWS: tuple[tuple[int, int], ...] = ((0, 64), (64, 160))
BLOCK_COLUMNS: tuple[tuple[int, int], ...] = ((0, 56), (56, 152), (152, 216), (216, 320))


def _colour_blocks() -> np.ndarray:
    """Eight uneven blocks: white, blue, yellow, red over black, cyan, magenta, green."""
    out = np.zeros((BLOCK_ROWS[-1][1], BLOCK_COLUMNS[-1][1], 3), np.uint8)
    for (y0, y1), row in zip(BLOCK_ROWS, COLOUR_BLOCKS):
        for (x0, x1), colour in zip(BLOCK_COLUMNS, row):
            out[y0:y1, x0:x1] = colour
    return out


def _alpha_disc(size: int = 128) -> Image.Image:
    """An opaque red disc on a fully transparent background, a half-transparent blue band."""
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.ellipse((12, 16, 84, 88), fill=(220, 20, 20, 255))
    draw.rectangle((0, size - 16, size - 1, size - 1), fill=(0, 0, 255, 128))
    return img


#: Where the 16-bit sample is black (value 0): (x, y); it is 65535 at the farthest corner.
GRAY16_DARK_POINT = (64, 16)


def _gray16_radial(width: int = 256, height: int = 64) -> Image.Image:
    """16-bit grayscale: 0 at GRAY16_DARK_POINT rising with distance to 65535 at the far corner."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    r = np.hypot(xx - GRAY16_DARK_POINT[0], yy - GRAY16_DARK_POINT[1])
    return Image.fromarray(np.rint(65535 * r / r.max()).astype(np.uint16))


# ---------------------------------------------------------------- edge-case bytes

def _png_chunk(tag: bytes, payload: bytes) -> bytes:
    """One PNG chunk: length, tag, payload, CRC."""
    crc = zlib.crc32(tag + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", crc)


def bomb_png(side: int = BOMB_SIDE) -> bytes:
    """A valid all-black 1-bit PNG of ``side`` x ``side``: tiny on disk, huge once decoded.

    Written chunk by chunk and compressed row by row, so making it needs no big buffer.
    """
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    row = b"\x00" * (1 + (side + 7) // 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))


def _gps_exif() -> bytes:
    """EXIF with orientation 6 (rotate 90 degrees clockwise to view) and Hà Nội's GPS."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "Kho sample camera"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: HANOI_LAT_DMS,
        ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: HANOI_LON_DMS,
    }
    return exif.tobytes()


def _animated_gif() -> bytes:
    """Two palette frames: a red square top left, then a blue square bottom right."""
    frames = []
    for colour, box in (((230, 30, 30), (6, 8, 34, 36)), ((30, 30, 230), (30, 28, 58, 56))):
        img = Image.new("RGB", (64, 64), (255, 255, 255))
        ImageDraw.Draw(img).rectangle(box, fill=colour)
        frames.append(img.convert("P", palette=Image.Palette.ADAPTIVE, colors=4))
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:],
                   duration=400, loop=0)
    return buf.getvalue()


# ---------------------------------------------------------------- the corpus

class _Writer:
    """Writes files and sidecars into ``dest`` and records manifest entries."""

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self.cases: dict[str, dict[str, Any]] = {}

    def add(self, key: str, name: str, payload: bytes, *, kind: str, what: str,
            caption: str | None, sidecar: str | None = "txt", license: str = _CC0,
            url: str | None = None, decode_error: str | None = None,
            duplicate_of: str | None = None, duplicate_kind: str | None = None,
            **expect: Any) -> None:
        """Write one image (and its caption sidecar) and its manifest entry."""
        (self.dest / name).write_bytes(payload)
        stem = Path(name).stem
        if sidecar == "txt":
            (self.dest / f"{stem}.txt").write_text(caption + "\n", encoding="utf-8")
        elif sidecar == "json":
            meta = {"caption": caption, "license": license, "url": url}
            (self.dest / f"{stem}.json").write_text(
                json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        self.cases[key] = {
            "path": name, "kind": kind, "what": what, "caption": caption,
            "sidecar": f"{stem}.{sidecar}" if sidecar else None,
            "license": license, "url": url,
            "bytes": len(payload), "decode_error": decode_error,
            "duplicate_of": duplicate_of, "duplicate_kind": duplicate_kind, "expect": expect,
        }


def _photo(loader: Callable[[], np.ndarray], max_side: int = 640) -> Image.Image:
    """A scikit-image photo as a Pillow image (RGB, or L for grayscale), at most ``max_side``."""
    array = loader()
    img = Image.fromarray(array if array.ndim == 2 else array[:, :, :3])
    return _fit(img, max_side)


def _write_photos(w: _Writer) -> dict[str, Image.Image]:
    """The real photos; returns them (upright, as written) for the copies made from them."""
    astronaut = _photo(skdata.astronaut)
    coffee = _photo(skdata.coffee)
    chelsea = _photo(skdata.chelsea)
    rocket = _photo(skdata.rocket)
    camera = _photo(skdata.camera)
    coins = _photo(skdata.coins)
    hubble = _photo(skdata.hubble_deep_field, max_side=480)
    w.add("astronaut", "astronaut.jpg", _jpeg(astronaut), kind="photo",
          what="skimage astronaut (Eileen Collins): a face", license=_PD, caption=(
              "Một nữ phi hành gia mặc bộ đồ bay màu cam mỉm cười, phía sau là lá cờ Mỹ"),
          source_format="JPEG", width=512, height=512, has_face=True)
    w.add("coffee", "coffee.jpg", _jpeg(coffee), kind="photo", what="skimage coffee",
          caption="Một tách cà phê sữa có hoa văn trên lớp bọt, đặt trên đĩa sứ và bàn gỗ",
          sidecar="json", license=_CC0, url=_SKIMAGE_URL + "coffee",
          source_format="JPEG", width=600, height=400, has_face=False)
    w.add("chelsea", "chelsea.png", _png(chelsea, compress_level=9), kind="photo",
          what="skimage chelsea (a cat), PNG", license=_CC0,
          caption="Một chú mèo mướp đang nhìn sang bên cạnh",
          source_format="PNG", width=451, height=300, has_face=False)
    w.add("rocket", "rocket.jpg", _jpeg(rocket), kind="photo",
          what="skimage rocket (Falcon 9 launch)",
          caption="Tên lửa Falcon 9 rời bệ phóng giữa làn khói trắng cuồn cuộn",
          sidecar="json", license=_PD, url=_SKIMAGE_URL + "rocket",
          source_format="JPEG", width=640, height=427, has_face=False)
    w.add("camera", "camera.jpg", _jpeg(camera), kind="photo",
          what="skimage camera, grayscale (mode L) JPEG", license=_CC0, caption=(
              "Ảnh đen trắng một người đàn ông đang chụp ảnh bằng máy ảnh đặt trên chân máy"),
          source_format="JPEG", source_mode="L", width=512, height=512)
    w.add("coins", "coins.png", _png(coins), kind="photo",
          what="skimage coins, grayscale PNG",
          caption="Những đồng xu cổ bằng kim loại xếp thành hàng trên nền tối",
          sidecar="json", license=_PD, url=_SKIMAGE_URL + "coins",
          source_format="PNG", source_mode="L", width=384, height=303)
    w.add("hubble", "hubble.jpg", _jpeg(hubble), kind="photo",
          what="skimage hubble_deep_field, English caption", license=_PD, caption=(
              "Deep field view of thousands of distant galaxies taken by the Hubble Space "
              "Telescope"), caption_lang="en", source_format="JPEG",
          width=hubble.width, height=hubble.height)
    return {"astronaut": astronaut, "coffee": coffee, "chelsea": chelsea, "rocket": rocket}


def _write_generated(w: _Writer) -> None:
    """Seeded drawings with Vietnamese captions."""
    w.add("sunset", "sunset.png", _png(Image.fromarray(_sunset())), kind="generated",
          what="gradient sky with a sun",
          caption="Tranh minh họa mặt trời lặn trên bầu trời chuyển từ màu cam sang màu tím")
    w.add("shapes", "shapes.png", _png(Image.fromarray(_shapes(seed=7))), kind="generated",
          what="seeded coloured circles and rectangles", sidecar="json", license=_CC0,
          caption="Các hình tròn và hình chữ nhật nhiều màu sắc trên nền trắng")
    w.add("checkerboard", "checkerboard.png", _png(Image.fromarray(_checkerboard())),
          kind="generated", what="black and white checkerboard",
          caption="Bàn cờ với các ô vuông đen trắng xen kẽ nhau")
    w.add("uniform_grey", "uniform_grey.png",
          _png(Image.new("RGB", (256, 256), (128, 128, 128))), kind="generated",
          what="one flat grey colour: entropy 0, near-uniform",
          caption="Một bức ảnh toàn màu xám, không có chi tiết nào", uniform=True)


def _write_near_duplicates(w: _Writer, photos: dict[str, Image.Image]) -> None:
    """Copies of photos that dedup must cluster with their original."""
    coffee, rocket, astronaut, chelsea = (
        photos["coffee"], photos["rocket"], photos["astronaut"], photos["chelsea"])
    w.add("coffee_resized", "coffee_resized.jpg",
          _jpeg(coffee.resize((300, 200), Image.Resampling.LANCZOS)), kind="near_duplicate",
          what="coffee.jpg at half size", caption="Tách cà phê trên bàn gỗ, ảnh thu nhỏ",
          duplicate_of="coffee", duplicate_kind="resized", width=300, height=200)
    w.add("rocket_recompressed", "rocket_recompressed.jpg", _jpeg(rocket, quality=20),
          kind="near_duplicate", what="rocket.jpg re-encoded at JPEG quality 20",
          caption="Tên lửa phóng lên từ bệ phóng trong làn khói",
          duplicate_of="rocket", duplicate_kind="recompressed", license=_PD)
    cut = 8  # pixels off each side: ~1.6 % of 512
    w.add("astronaut_cropped", "astronaut_cropped.jpg",
          _jpeg(astronaut.crop((cut, cut, astronaut.width - cut, astronaut.height - cut))),
          kind="near_duplicate", what="astronaut.jpg with 8 px cut off each side",
          caption="Chân dung nữ phi hành gia bên lá cờ", duplicate_of="astronaut",
          duplicate_kind="cropped", license=_PD, width=512 - 2 * cut, height=512 - 2 * cut)
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "Bản sao của chelsea.png")
    w.add("chelsea_copy", "chelsea_copy.png", _png(chelsea, compress_level=1, pnginfo=info),
          kind="near_duplicate", what="chelsea.png's exact pixels, different bytes",
          caption="Chú mèo mướp nhìn sang bên cạnh", sidecar="json", license=_CC0,
          url=_SKIMAGE_URL + "chelsea", duplicate_of="chelsea", duplicate_kind="pixel_copy")


def _write_edge_cases(w: _Writer) -> None:
    """Files that exercise the decoder's refusals and conversions."""
    w.add("bomb", "bomb.png", bomb_png(), kind="edge",
          what=f"valid 1-bit PNG declaring {BOMB_SIDE}x{BOMB_SIDE} (decompression bomb)",
          caption="Một bức ảnh màu đen rất lớn", decode_error="decompression_bomb",
          declared_width=BOMB_SIDE, declared_height=BOMB_SIDE)
    whole = _jpeg(_photo(skdata.rocket, max_side=320))
    w.add("truncated", "truncated.jpg", whole[: len(whole) // 2], kind="edge",
          what="a real JPEG cut in half", caption="Tên lửa đang bay lên bầu trời xanh",
          decode_error="truncated", license=_PD)
    w.add("not_an_image", "not_an_image.jpg",
          "Đây là một tệp văn bản, không phải ảnh.\n".encode(), kind="edge",
          what="UTF-8 text with a .jpg name", caption="Ảnh một bông hoa sen đang nở",
          decode_error="not_an_image")
    w.add("empty", "empty.jpg", b"", kind="edge", what="zero bytes",
          caption="Ảnh bãi biển Nha Trang lúc bình minh", decode_error="empty")
    w.add("alpha", "alpha.png", _png(_alpha_disc()), kind="edge",
          what="RGBA: red disc on transparent, half-transparent blue band at the bottom",
          caption="Hình tròn màu đỏ trên nền trong suốt", source_mode="RGBA",
          width=128, height=128)
    w.add("cmyk", "cmyk.jpg", _jpeg(Image.fromarray(_colour_blocks()).convert("CMYK"), 95),
          kind="edge", what="CMYK JPEG of eight colour blocks (COLOUR_BLOCKS)",
          caption="Tám ô màu trắng, xanh dương, vàng, đỏ, đen, xanh lơ, tím và xanh lá",
          source_mode="CMYK", width=320, height=160)
    w.add("gray16", "gray16.png", _png(_gray16_radial()), kind="edge",
          what="16-bit grayscale PNG: 0 at GRAY16_DARK_POINT rising radially to 65535",
          caption="Vầng sáng xám chuyển dần từ đen ở giữa sang trắng ở góc",
          source_mode="I;16", width=256, height=64)
    w.add("animated", "animated.gif", _animated_gif(), kind="edge",
          what="palette GIF, 2 frames: red square top left, then blue square bottom right",
          caption="Ảnh động hình vuông đổi màu từ đỏ sang xanh", source_format="GIF",
          source_mode="P", frames=2, width=64, height=64)
    upright = Image.fromarray(skdata.immunohistochemistry()[:, :384])  # 384 wide, 512 tall
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what a sideways camera writes
    w.add("gps_rotated", "gps_rotated.jpg", _jpeg(stored, exif=_gps_exif()), kind="edge",
          what="JPEG stored 512x384 with EXIF orientation 6 (upright 384x512) and GPS of Hà Nội",
          caption="Ảnh hiển vi một lát cắt mô được nhuộm màu nâu và xanh",
          license=_PD, orientation=6, had_gps=True, stored_width=512, stored_height=384,
          width=384, height=512)
    retina = _photo(skdata.retina, max_side=384).filter(ImageFilter.GaussianBlur(4))
    w.add("blurry", "blurry.jpg", _jpeg(retina), kind="edge",
          what="skimage retina, Gaussian-blurred (radius 4)",
          caption="Ảnh chụp đáy mắt bị mờ, thấy lờ mờ các mạch máu màu đỏ", blurry=True)


def _write_caption_cases(w: _Writer) -> None:
    """Images whose captions (or their absence) are the point."""
    w.add("phone_caption", "vase.png", _png(Image.fromarray(_vase(seed=3))),
          kind="caption_case", what="a drawn vase; the caption carries a phone number",
          caption="Bình gốm men lam vẽ chấm trắng. Liên hệ 0912 345 678 để mua",
          caption_phone="0912 345 678")
    horse = Image.fromarray(skdata.horse()).convert("1")
    w.add("no_diacritics", "horse.png", _png(horse), kind="caption_case",
          what="skimage horse silhouette, 1-bit PNG; caption typed without diacritics",
          caption="hinh bong mot con ngua mau den", source_mode="1", caption_diacritics=False)
    w.add("no_caption", "rings.png", _png(Image.fromarray(_rings())), kind="caption_case",
          what="hard-edged colour rings with no sidecar: caption missing", caption=None,
          sidecar=None)


def _write_list(w: _Writer, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """``list.jsonl``: rows {path, caption, license} for some of the images."""
    rows = [{"path": w.cases[k]["path"], "caption": w.cases[k]["caption"],
             "license": w.cases[k]["license"]} for k in keys]
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    (w.dest / LIST_FILE).write_text(text, encoding="utf-8")
    return rows


def make_image_samples(dest: Path) -> dict[str, Any]:
    """Write the image sample corpus into ``dest`` (created if needed) and return its manifest.

    The manifest is ``{"root", "cases", "list_file", "list_rows"}``; ``cases`` maps a case
    name to ``{path, kind, what, caption, sidecar, license, url, bytes, decode_error,
    duplicate_of, duplicate_kind, expect}`` where ``expect`` holds case-specific facts
    (e.g. ``width``/``height`` after orientation, ``source_mode``, ``frames``, ``had_gps``).
    ``license`` is the image's real license; only ``.json`` sidecars and ``list.jsonl`` carry
    it (a ``.txt`` sidecar is the caption alone). ``decode_error`` is the
    ``ImageDecodeError.reason`` the file must raise, ``duplicate_of`` the case it copies.
    Output is byte-for-byte the same on every run with the same library versions.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    w = _Writer(dest)
    photos = _write_photos(w)
    _write_generated(w)
    _write_near_duplicates(w, photos)
    _write_edge_cases(w)
    _write_caption_cases(w)
    rows = _write_list(w, ("astronaut", "coffee", "chelsea", "shapes", "sunset"))
    logger.info("wrote %d image samples (%d bytes) to %s", len(w.cases),
                sum(c["bytes"] for c in w.cases.values()), dest)
    return {"root": str(dest), "cases": w.cases, "list_file": LIST_FILE, "list_rows": rows}


def main(argv: list[str] | None = None) -> int:
    """``python -m pipelines.image.samples DEST``: write the samples into DEST."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        logger.error("usage: python -m pipelines.image.samples DEST")
        return 2
    manifest = make_image_samples(Path(args[0]))
    for key, case in manifest["cases"].items():
        logger.info("%-20s %-24s %s", key, case["path"], case["what"])
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sys.exit(main())
