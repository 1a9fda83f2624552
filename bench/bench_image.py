"""bench/image: the image modality's speed on one CPU core, as ratios against named
baselines measured in the same run, on the same files.

Corpus: N (default 80, see :data:`DEFAULT_IMAGES`) photo-like JPEGs made deterministically
(seeded) from scikit-image's bundled photos (random crops, flips, rescales to a 640-1600 px
long side, colour shifts, JPEG quality 80-95), each with a Vietnamese caption in a ``.txt``
sidecar.

Baselines:

* ``pillow_loop`` (the named baseline of the CPU figures, the ceiling a user's own script
  reaches): a plain Python loop over the same files, ``Image.open`` -> ``convert("RGB")`` ->
  ``thumbnail((1024, 1024))`` -> JPEG encode at quality 90, into memory.
* ``bare_model_forward`` (the named baseline of the CLIP figure): the same CLIP model's
  ``encode_image`` on random tensors of the model's input size, in the same process, on the
  same device and in the same precision (fp16 on CUDA, fp32 on the CPU).

Kho, measured against them:

* ``kho``: ``run_ingest`` end to end (plan, read, annotate, dedup, WebDataset shards, run
  tables, report, commit) on the FnApiRunner with one worker, every signal on (faces, plates,
  nsfw, text, brisque, caption checks) except CLIP, which has no weights configured: Kho's
  defaults. images/s = inputs / wall time.
* ``kho_fast``: the same run with the costliest optional steps off, picked from the
  breakdown below among the text detector, the plate detector and BRISQUE (faces and NSFW stay
  on: they guard privacy and safety).
* ``kho_annotate_loop``: ``AnnotateImage.setup`` then ``annotate()`` in a plain loop (no
  Beam), reading each file and its sidecar as the loop goes; every step of annotate is timed
  (decode, signals, hashes, each scorer, face and plate detection, blur, encode, thumbnail,
  caption), which says where the time goes.
* the CLIP stage alone (``clip_stage_throughput``: decode, transform, image and caption
  forward, Beam) with test weights from ``make_test_weights`` (random init of the real
  architecture, cached under ``--cache``, never committed), against the bare forward.

"Per core": the whole bench is pinned to one CPU (``os.sched_setaffinity``), so every figure
is what one core gives, whatever threads the libraries start; wall and CPU seconds are both
recorded. On a CUDA machine the CLIP section is unpinned (the GPU is what it measures) and
runs in fp16; the rest is unchanged. Peak memory: the resident memory of the bench's process
tree during each end-to-end run, sampled every 0.25 s (bench/common.py).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from bench.common import PeakTreeRss, results_dir, write_results

log = logging.getLogger("bench.image")

WORKERS = 1
WORKING_SIDE_NOTE = "512 px"
#: Kho end to end (every signal on except CLIP) against the Pillow loop, on one core.
TARGET_CPU = 0.6
#: The CLIP stage against a bare model forward on random tensors.
TARGET_CLIP = 0.8
#: Annotate steps kho_fast may turn off (faces and NSFW guard privacy and safety: never).
OPTIONAL_STEPS = {"text": ("scorers", "text"), "plate_detect": ("privacy", "plates"),
                  "brisque": ("scorers", "brisque")}
FAST_OFF = 2
#: Not 400: at ~1.4 s per image end to end, the three passes over 400 images (annotate loop,
#: kho, kho_fast) would take about 22 minutes on this shared 2-core machine; 80 take about 5.
DEFAULT_IMAGES = 80

BASELINES = {
    "pillow_loop": "a plain Python loop over the same files: Image.open -> convert('RGB') -> "
                   "thumbnail((1024, 1024)) -> JPEG encode at quality 90 into memory, one core",
    "bare_model_forward": "the same CLIP model's encode_image on torch.randn(B, 3, S, S) in the same "
                          "process, device and precision, steady state (no decode, no transform, no "
                          "caption forward, no Beam)",
}

# ------------------------------------------------------------------------------ options


class BenchOptions(BaseModel):
    """What one bench run measures (from the command line)."""

    model_config = ConfigDict(extra="forbid")

    images: int = Field(DEFAULT_IMAGES, ge=4, description="images in the corpus")
    min_side: int = Field(640, ge=64, description="smallest long side of a corpus image, px")
    max_side: int = Field(1600, ge=64, description="largest long side of a corpus image, px")
    seed: int = 11
    repeat: int = Field(1, ge=1, description="end-to-end runs of each configuration; the fastest counts")
    clip: bool = True
    clip_arch: str = "ViT-B-32"
    clip_images: int = Field(32, ge=2)
    clip_batch: int = Field(8, ge=1)
    probe_images: int = Field(3, ge=1, description="images the onnxruntime threads probe times")
    cache: Path = Path(".kho/bench-cache")
    pin: bool = True
    tiny: bool = False


def parse_options(argv: list[str] | None = None) -> BenchOptions:
    """The command line as :class:`BenchOptions`; ``--tiny`` is the smoke-test size."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, help=f"images in the corpus (default {DEFAULT_IMAGES}; --tiny: 12)")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--repeat", type=int, default=1,
                    help="end-to-end runs of each configuration, interleaved; the fastest counts")
    ap.add_argument("--no-clip", dest="clip", action="store_false", help="skip the CLIP section")
    ap.add_argument("--clip-arch", help="open_clip architecture (default ViT-B-32; --tiny: ViT-S-32)")
    ap.add_argument("--clip-images", type=int, help="images through the CLIP stage (default 32; --tiny: 4)")
    ap.add_argument("--clip-batch", type=int, help="CLIP batch size (default 8; --tiny: 2)")
    ap.add_argument("--cache", type=Path, default=Path(".kho/bench-cache"),
                    help="where the CLIP test weights are made once and kept (never committed)")
    ap.add_argument("--no-pin", dest="pin", action="store_false",
                    help="do not pin the bench to one CPU (figures are then not per core)")
    ap.add_argument("--tiny", action="store_true",
                    help="smoke-test size: 12 small images, a small CLIP; the figures mean little")
    args = ap.parse_args(argv)
    tiny = {"images": 12, "min_side": 320, "max_side": 640, "clip_arch": "ViT-S-32",
            "clip_images": 4, "clip_batch": 2, "probe_images": 1} if args.tiny else {}
    given = {k: v for k, v in vars(args).items() if v is not None}
    return BenchOptions.model_validate({**tiny, **given})


# ------------------------------------------------------------------------------ the corpus

#: (scikit-image loader, Vietnamese captions of what it shows).
PHOTOS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("astronaut", ("Nữ phi hành gia mặc bộ đồ bay màu cam mỉm cười bên lá cờ",
                   "Chân dung một phi hành gia trong bộ đồ bay màu cam")),
    ("coffee", ("Tách cà phê sữa có hoa văn trên lớp bọt, đặt trên đĩa sứ",
                "Một tách cà phê nóng trên bàn gỗ")),
    ("chelsea", ("Chú mèo mướp đang nhìn sang bên cạnh", "Một con mèo vằn nằm nghỉ trong nhà")),
    ("rocket", ("Tên lửa rời bệ phóng giữa làn khói trắng cuồn cuộn",
                "Khoảnh khắc tên lửa được phóng lên bầu trời")),
    ("camera", ("Người đàn ông đang chụp ảnh bằng máy ảnh đặt trên chân máy",
                "Ảnh đen trắng một nhiếp ảnh gia ngoài trời")),
    ("hubble_deep_field", ("Hàng nghìn thiên hà xa xôi trên nền trời đêm",
                           "Ảnh vũ trụ sâu thẳm với vô số thiên hà")),
    ("immunohistochemistry", ("Ảnh hiển vi một lát cắt mô được nhuộm màu nâu và xanh",
                              "Tế bào dưới kính hiển vi sau khi nhuộm")),
    ("retina", ("Ảnh chụp đáy mắt thấy rõ các mạch máu màu đỏ", "Võng mạc người chụp qua máy soi đáy mắt")),
    ("coins", ("Những đồng xu cổ bằng kim loại xếp thành hàng", "Bộ sưu tập tiền xu xưa trên nền tối")),
    ("moon", ("Bề mặt Mặt Trăng với nhiều miệng hố", "Cận cảnh mặt đất gồ ghề của Mặt Trăng")),
    ("clock", ("Chiếc đồng hồ đặt cạnh bức tường sáng màu", "Một chiếc đồng hồ cũ trong phòng")),
    ("page", ("Trang sách cũ in chữ và hình minh họa", "Một trang tài liệu in được chụp lại")),
)
DETAILS = ("ánh sáng tự nhiên", "chụp từ góc thấp", "màu sắc ấm áp", "nhìn gần", "khung hình rộng",
           "buổi chiều ở Hà Nội", "ảnh lưu trữ của thư viện", "chụp bằng điện thoại", "tông màu lạnh",
           "góc nhìn nghiêng")


def _source_photos() -> list[tuple[Any, tuple[str, ...]]]:
    """The bundled photos as Pillow images (RGB, or L for the grayscale ones)."""
    from PIL import Image
    from skimage import data as skdata

    out = []
    for name, captions in PHOTOS:
        array = getattr(skdata, name)()
        out.append((Image.fromarray(array if array.ndim == 2 else array[:, :, :3]), captions))
    return out


def _variant(photo: Any, rng: np.random.Generator, min_side: int, max_side: int) -> Any:
    """A random crop (60-100 % of each side), flip, rescale and colour shift of ``photo``."""
    from PIL import Image, ImageOps

    w, h = photo.size
    cw, ch = (max(16, int(s * rng.uniform(0.6, 1.0))) for s in (w, h))
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    img = photo.crop((x0, y0, x0 + cw, y0 + ch))
    if rng.random() < 0.5:
        img = ImageOps.mirror(img)
    long_side = int(rng.integers(min_side, max_side + 1))
    scale = long_side / max(img.size)
    img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                     Image.Resampling.BICUBIC)
    if img.mode == "L" and rng.random() < 0.5:
        return img  # some stay grayscale JPEGs, as in real collections
    rgb = np.asarray(img.convert("RGB"), dtype=np.float32)
    gains = rng.uniform(0.85, 1.15, 3) * rng.uniform(0.9, 1.1)
    shifted = np.clip(rgb * gains + rng.uniform(-15, 15), 0, 255).astype(np.uint8)
    return Image.fromarray(shifted)


def make_corpus(dest: Path, n: int, seed: int, min_side: int = 640, max_side: int = 1600) -> list[Path]:
    """Write ``n`` JPEGs with ``.txt`` caption sidecars into ``dest``; the same bytes for the
    same arguments. Returns the image paths in order."""
    dest.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    photos = _source_photos()
    paths = []
    for i in range(n):
        photo, captions = photos[i % len(photos)]
        img = _variant(photo, rng, min_side, max_side)
        path = dest / f"img-{i:05d}.jpg"
        img.save(path, format="JPEG", quality=int(rng.integers(80, 96)))
        caption = f"{captions[int(rng.integers(len(captions)))]}, {DETAILS[int(rng.integers(len(DETAILS)))]}."
        path.with_suffix(".txt").write_text(caption + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def corpus_facts(paths: list[Path]) -> dict[str, Any]:
    """Sizes of the corpus (pixels and bytes), read from the headers."""
    from PIL import Image

    sides, nbytes, gray = [], 0, 0
    for p in paths:
        with Image.open(p) as img:
            sides.append(max(img.size))
            gray += img.mode == "L"
        nbytes += p.stat().st_size
    return {"long_side_px": {"min": min(sides), "mean": round(float(np.mean(sides))), "max": max(sides)},
            "mean_bytes": round(nbytes / len(paths)), "grayscale": gray}


# ------------------------------------------------------------------------------ one core


def pin_to_one_core() -> dict[str, Any]:
    """Pin this process (and threads and children started later) to one allowed CPU."""
    allowed = sorted(os.sched_getaffinity(0))
    cpu = allowed[-1]
    os.sched_setaffinity(0, {cpu})
    return {"pinned_cpu": cpu, "cpus_allowed_before": len(allowed)}


@contextlib.contextmanager
def affinity(cpus: set[int] | None) -> Iterator[None]:
    """Run the block with the CPU affinity ``cpus`` (None: leave it), then restore it."""
    before = os.sched_getaffinity(0)
    if cpus:
        os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its waited-for children so far."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


# ------------------------------------------------------------------------------ baseline


def pillow_loop(paths: list[Path]) -> dict[str, Any]:
    """The named baseline: open, convert to RGB, thumbnail to 1024, JPEG q90, one image at a time."""
    from PIL import Image

    out_bytes = 0
    t0, c0 = time.perf_counter(), cpu_seconds()
    for path in paths:
        with Image.open(path) as img:
            rgb = img.convert("RGB")
        rgb.thumbnail((1024, 1024))
        buf = io.BytesIO()
        rgb.save(buf, format="JPEG", quality=90)
        out_bytes += buf.tell()
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "cpu_s": cpu_seconds() - c0, "images_per_s": len(paths) / wall,
            "out_bytes": out_bytes}


# ------------------------------------------------------------------------------ Kho


def ingest_config(corpus: Path, off: list[str] | None = None) -> Any:
    """Kho's defaults with every scorer on, on the corpus folder (CLIP off: no weights), with the annotate steps
    in ``off`` (keys of :data:`OPTIONAL_STEPS`) turned off."""
    from pipelines.image.config import ImageIngestConfig

    raw: dict[str, Any] = {"dataset": "bench-image",
                           "sources": [{"name": "bench", "format": "image_folder",
                                        "paths": [str(corpus / "*.jpg")]}],
                           "output": {"write_buckets": WORKERS},
                           # every signal on (the text detector is off by default since this bench)
                           "scorers": {"text": True}}
    for step in off or []:
        section, key = OPTIONAL_STEPS[step]
        raw.setdefault(section, {})[key] = False
    return ImageIngestConfig.model_validate(raw)


def run_kho(corpus: Path, work: Path, label: str, off: list[str], attempt: int) -> dict[str, Any]:
    """One end-to-end ingest into a fresh store (a reused store's ledger would skip it all)."""
    from pipelines.ingest import run_ingest
    from storage.local import LocalStore

    cfg = ingest_config(corpus, off)
    store = LocalStore(work / f"store-{label}-{attempt}")
    with PeakTreeRss() as mem:
        t0, c0 = time.perf_counter(), cpu_seconds()
        result = run_ingest(cfg, store, ["--direct_running_mode=in_memory", f"--direct_num_workers={WORKERS}"])
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    totals = result.stats["totals"]
    log.info("%s attempt %d: %.1f s for %d images", label, attempt, wall, totals["inputs"])
    return {"wall_s": wall, "cpu_s": cpu, "images_per_s": totals["inputs"] / wall, "totals": totals,
            "peak_rss_mib": mem.peak_mib, "added_rss_mib": mem.added_mib}


class StepClock:
    """Seconds spent in named steps, by wrapping the callables that do them: wall seconds and
    this process's CPU seconds (every thread). On a shared machine the wall figure includes
    time spent waiting for the core; the CPU figure does not, so it is the steadier one."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)

    def wrap(self, step: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn``, timed into ``step``."""
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[step] += time.perf_counter() - t0
                self.cpu[step] += time.process_time() - c0
        return timed


#: Module functions annotate() looks up at call time: (module, attribute, step).
_MODULE_STEPS = (("filters.image.decode", "decode_image", "decode"),
                 ("filters.image.decode", "encode_image", "encode"),
                 ("filters.image.signals", "working_copy", "signals.working_copy"),
                 ("filters.image.signals", "blur_score", "signals.blur_score"),
                 ("filters.image.signals", "colour_entropy", "signals.colour_entropy"),
                 ("filters.image.signals", "colour_std", "signals.colour_std"),
                 ("filters.image.signals", "phash", "hashes.phash"),
                 ("filters.image.signals", "dhash", "hashes.dhash"),
                 ("filters.image.privacy", "blur_boxes", "blur"),
                 ("pipelines.image.annotate", "thumbnail_uri", "thumbnail"))


@contextlib.contextmanager
def timed_steps(annotator: Any, clock: StepClock) -> Iterator[None]:
    """Time every step of ``annotator.annotate`` (the real method, unchanged) into ``clock``:
    the module functions it calls are patched with timed wrappers for the block, and the
    annotator's own detectors, scorers and caption checker are wrapped on the instance."""
    import importlib

    with contextlib.ExitStack() as stack:
        for module, attr, step in _MODULE_STEPS:
            mod = importlib.import_module(module)
            stack.enter_context(mock.patch.object(mod, attr, clock.wrap(step, getattr(mod, attr))))
        objects = [(annotator.captions, "check", "caption")]
        if annotator.faces is not None:
            objects.append((annotator.faces, "detect", "face_detect"))
        if annotator.plates is not None:
            objects.append((annotator.plates, "detect", "plate_detect"))
        for name, scorer in annotator.scorers.items():
            objects.append((scorer, "details" if name == "text" else "score", name))
        for obj, attr, step in objects:
            stack.enter_context(mock.patch.object(obj, attr, clock.wrap(step, getattr(obj, attr))))
        yield


def _record(path: Path) -> dict[str, Any]:
    """The record the image-folder reader makes of ``path`` and its ``.txt`` sidecar."""
    from pipelines.image.readers import image_record

    caption = path.with_suffix(".txt").read_text(encoding="utf-8").strip()
    return image_record({"name": "bench"}, str(path), "file", path.read_bytes(), caption, "sidecar_txt")


def annotate_loop(paths: list[Path], cfg: Any) -> dict[str, Any]:
    """AnnotateImage.setup, one warm-up image (the models load lazily), then every image
    read and annotated in a plain loop, each step timed. Also returns the published images
    and captions (the CLIP section's inputs)."""
    from pipelines.image.annotate import AnnotateImage

    ann = AnnotateImage(cfg, "bench-run", "bench")
    t0 = time.perf_counter()
    ann.setup()
    ann.annotate(_record(paths[0]))
    setup_s = time.perf_counter() - t0
    clock, published, captions, reasons = StepClock(), [], [], defaultdict(int)
    with timed_steps(ann, clock):
        t0, c0 = time.perf_counter(), cpu_seconds()
        for path in paths:
            rec = clock.wrap("read", _record)(path)
            out = ann.annotate(rec)
            published.append(out["image"])
            captions.append(out["caption"])
            for r in out["reasons"]:
                reasons[r] += 1
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    return {"wall_s": wall, "cpu_s": cpu, "images_per_s": len(paths) / wall, "setup_s": setup_s,
            "breakdown": breakdown(dict(clock.seconds), wall, len(paths), dict(clock.cpu), cpu),
            "reasons": dict(reasons),
            "published": published, "captions": captions}


def _grouped(seconds: dict[str, float], total: float) -> dict[str, float]:
    """``seconds`` summed by group (``signals.x`` into ``signals``), plus ``other``: what no
    step accounts for of ``total``."""
    groups: dict[str, float] = defaultdict(float)
    for step, s in seconds.items():
        groups[step.split(".")[0]] += s
    groups["other"] = max(0.0, total - sum(seconds.values()))
    return groups


def breakdown(seconds: dict[str, float], wall: float, n: int, cpu_seconds_by_step: dict[str, float] | None = None,
              cpu_total: float | None = None) -> dict[str, Any]:
    """Per-image milliseconds of each step (grouped: signals.* and hashes.* add up to their
    group), their shares of the loop's wall time, ``other`` (what no step accounts for: the
    rules, building the record), the top five (by wall time); with the CPU seconds, the same
    in CPU milliseconds (``cpu_ms_per_image``, robust to other load on the core)."""
    groups = _grouped(seconds, wall)
    ms = {k: round(v / n * 1000, 2) for k, v in sorted(groups.items(), key=lambda kv: -kv[1])}
    cpu: dict[str, Any] = {}
    if cpu_seconds_by_step is not None and cpu_total is not None:
        cgroups = _grouped(cpu_seconds_by_step, cpu_total)
        cpu = {"cpu_ms_per_image": {k: round(v / n * 1000, 2) for k, v in sorted(cgroups.items(), key=lambda kv: -kv[1])},
               "cpu_detail_ms_per_image": {k: round(v / n * 1000, 2) for k, v in sorted(cpu_seconds_by_step.items())
                                           if "." in k},
               "cpu_total_ms_per_image": round(cpu_total / n * 1000, 2)}
    return {"images": n, "ms_per_image": ms, **cpu,
            "share": {k: round(v / wall, 3) for k, v in sorted(groups.items(), key=lambda kv: -kv[1])},
            "detail_ms_per_image": {k: round(v / n * 1000, 2) for k, v in sorted(seconds.items()) if "." in k},
            "total_ms_per_image": round(wall / n * 1000, 2),
            "top5": list(ms)[:5]}


def fast_steps(ms_per_image: dict[str, float], k: int = FAST_OFF) -> list[str]:
    """The ``k`` costliest optional steps of the breakdown (what kho_fast turns off)."""
    ranked = sorted((s for s in OPTIONAL_STEPS if ms_per_image.get(s)), key=lambda s: -ms_per_image[s])
    return ranked[:k]


def onnx_threads_probe(paths: list[Path], images: int = 3) -> dict[str, Any]:
    """ms per image of the onnxruntime models with their default thread count (None: one per
    core of the machine, not of the affinity mask) against one thread, on the same pinned core."""
    from filters.image.decode import DecodeSettings, decode_image
    from filters.image.privacy import FaceDetector, PrivacySettings
    from filters.image.scorers import get_scorer

    rgbs = [decode_image(p.read_bytes(), DecodeSettings()).rgb for p in paths[:images]]
    makers: dict[str, Callable[[int | None], Callable[[Any], Any]]] = {
        "text": lambda t: get_scorer("text", threads=t).score,
        "nsfw": lambda t: get_scorer("nsfw", threads=t).score,
        "face_detect": lambda t: FaceDetector(PrivacySettings(onnx_threads=t)).detect,
    }
    out: dict[str, Any] = {"images": len(rgbs)}
    for name, make in makers.items():
        for threads in (None, 1):
            fn = make(threads)
            fn(rgbs[0])  # load
            t0, c0 = time.perf_counter(), time.process_time()
            for rgb in rgbs:
                fn(rgb)
            label = threads or "default"
            out[f"{name}_ms_threads_{label}"] = round((time.perf_counter() - t0) / len(rgbs) * 1000, 1)
            out[f"{name}_cpu_ms_threads_{label}"] = round((time.process_time() - c0) / len(rgbs) * 1000, 1)
    return out


# ------------------------------------------------------------------------------ CLIP


def clip_weights(cache: Path, arch: str, seed: int = 0) -> tuple[Path, str]:
    """Test weights of ``arch`` under ``cache``, made once (their bytes depend on the torch and
    open_clip versions, which name the file) and their sha256."""
    import open_clip
    import torch

    from pipelines.core.inference import file_sha256
    from pipelines.image.clip import make_test_weights

    path = cache / f"clip-{arch}-seed{seed}-torch{torch.__version__}-open_clip{open_clip.__version__}.pt"
    if path.is_file():
        return path, file_sha256(str(path))
    return path, make_test_weights(path, arch, seed)


def bare_forward(loaded: Any, size: int, batch: int, batches: int, caption: str | None = None) -> dict[str, Any]:
    """Images/s of ``encode_image`` on random tensors, steady state (one warm-up batch); with
    ``caption``, also ``encode_text`` of it once per image (what the stage adds per batch)."""
    import torch

    x = torch.randn(batch, 3, size, size, device=loaded.device, dtype=loaded.dtype)
    tokens = None if caption is None else loaded.tokenizer([caption] * batch).to(loaded.device)

    def sync() -> None:
        if str(loaded.device).startswith("cuda"):
            torch.cuda.synchronize()

    def step() -> None:
        loaded.model.encode_image(x)
        if tokens is not None:
            loaded.model.encode_text(tokens)

    with torch.inference_mode():
        step()
        sync()
        t0 = time.perf_counter()
        for _ in range(batches):
            step()
        sync()
        wall = time.perf_counter() - t0
    return {"images": batch * batches, "wall_s": wall, "images_per_s": batch * batches / wall}


def clip_section(images: list[bytes], captions: list[str | None], opts: BenchOptions,
                 all_cpus: set[int]) -> dict[str, Any]:
    """The CLIP stage alone and a bare forward of the same model, on the best device here."""
    import torch

    from pipelines.image.clip import (ClipEmbedder, ClipSettings, _preprocess_cfg, clip_stage_throughput,
                                      random_weights_label)

    device = "cuda" if torch.cuda.is_available() else "cpu"
    path, sha = clip_weights(opts.cache, opts.clip_arch)
    settings = ClipSettings(architecture=opts.clip_arch, weights=str(path), weights_sha256=sha,
                            weights_label=random_weights_label(0), batch_size=opts.clip_batch, device=device)
    n = max(2 * opts.clip_batch, opts.clip_images)
    imgs = [images[i % len(images)] for i in range(n)]
    caps = [captions[i % len(captions)] for i in range(n)]
    with affinity(all_cpus if device == "cuda" else None):
        stage = clip_stage_throughput(ClipEmbedder(settings), imgs, caps, opts.clip_batch)
        loaded = ClipEmbedder(settings).load(device)
        size = _preprocess_cfg(opts.clip_arch)["size"]
        size = size if isinstance(size, int) else size[0]
        batches = max(2, n // opts.clip_batch)
        bare = bare_forward(loaded, size, opts.clip_batch, batches)
        caption = next((c for c in caps if c), "ảnh")
        with_caption = bare_forward(loaded, size, opts.clip_batch, batches, caption)
    return {"device": device, "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
            "dtype": str(loaded.dtype).replace("torch.", ""), "architecture": opts.clip_arch,
            "weights": settings.weights_label, "input_size": size, "batch_size": opts.clip_batch,
            "torch_threads": torch.get_num_threads(), "cpus": len(os.sched_getaffinity(0)) if device == "cpu"
            else len(all_cpus), "stage": stage, "bare": bare,
            # not a baseline: the bare forward plus one caption forward per image, as the stage runs
            "bare_with_caption": with_caption}


# ------------------------------------------------------------------------------ results


def ratio_entry(figures: dict[str, Any], numerator: str, denominator: str, target: float) -> dict[str, Any]:
    """``figures[numerator] / figures[denominator]`` beside its target."""
    value = figures[numerator] / figures[denominator]
    return {"value": value, "numerator": numerator, "denominator": denominator, "target": target,
            "meets_target": bool(value >= target)}


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest of a configuration's runs."""
    return min(runs, key=lambda r: r["wall_s"])


def figures_of(pillow: list[dict], kho: list[dict], fast: list[dict], loop: dict,
               clip: dict | None, probe: dict, off: list[str]) -> dict[str, Any]:
    """The JSON's figures: the fastest run of each configuration, and the breakdown."""
    p, k, f = _best(pillow), _best(kho), _best(fast)
    n = k["totals"]["inputs"]
    figures: dict[str, Any] = {
        "pillow_loop_images_per_s": p["images_per_s"], "pillow_loop_wall_s": p["wall_s"],
        "kho_images_per_s": k["images_per_s"], "kho_wall_s": k["wall_s"], "kho_cpu_s": k["cpu_s"],
        "kho_fast_images_per_s": f["images_per_s"], "kho_fast_wall_s": f["wall_s"], "kho_fast_cpu_s": f["cpu_s"],
        "kho_fast_off": off,
        "kho_annotate_loop_images_per_s": loop["images_per_s"], "kho_annotate_loop_wall_s": loop["wall_s"],
        "kho_annotate_setup_s": loop["setup_s"],
        "annotate_breakdown": loop["breakdown"],
        # what the Beam run costs beyond annotate: read, dedup, shards, tables, report, commit, start-up
        "kho_beyond_annotate_ms_per_image": k["wall_s"] / n * 1000 - loop["breakdown"]["total_ms_per_image"],
        "kho_outcomes": k["totals"], "kho_fast_outcomes": f["totals"], "annotate_reasons": loop["reasons"],
        "peak_rss_mib": {"kho": round(k["peak_rss_mib"]), "kho_fast": round(f["peak_rss_mib"])},
        "added_rss_mib": {"kho": round(k["added_rss_mib"]), "kho_fast": round(f["added_rss_mib"])},
        "all_wall_s": {"pillow_loop": [round(r["wall_s"], 3) for r in pillow],
                       "kho": [round(r["wall_s"], 2) for r in kho], "kho_fast": [round(r["wall_s"], 2) for r in fast]},
        "onnx_threads_probe": probe,
        # the same figures per CPU second of this process (the core's time Kho itself used):
        # steadier than wall time while other work shares the machine
        "cpu": cpu_figures(pillow, kho, fast, loop),
        "text_side": _text_side(),
        "face_plate_detect_max_side": _detect_side(),
    }
    if clip is not None:
        figures.update({"clip_stage_images_per_s": clip["stage"]["images_per_s"],
                        "bare_model_forward_images_per_s": clip["bare"]["images_per_s"],
                        "bare_model_forward_with_caption_images_per_s": clip["bare_with_caption"]["images_per_s"],
                        "clip": clip})
    return figures


def cpu_figures(pillow: list[dict], kho: list[dict], fast: list[dict], loop: dict) -> dict[str, Any]:
    """Images per CPU second of each configuration (the least CPU of its runs) and their ratios
    to the Pillow loop's: what one core gives when nothing else competes for it."""
    per = {"pillow_loop": min(r["cpu_s"] for r in pillow), "kho": min(r["cpu_s"] for r in kho),
           "kho_fast": min(r["cpu_s"] for r in fast), "kho_annotate_loop": loop["cpu_s"]}
    n = len(loop["published"])
    rates = {f"{k}_images_per_cpu_s": n / v for k, v in per.items() if v > 0}
    base = rates.get("pillow_loop_images_per_cpu_s")
    ratios = {f"{k}_vs_pillow_loop": rates[f"{k}_images_per_cpu_s"] / base
              for k in ("kho", "kho_fast", "kho_annotate_loop") if base and f"{k}_images_per_cpu_s" in rates}
    return {"cpu_s": {k: round(v, 3) for k, v in per.items()}, **rates, "ratio": ratios,
            "pillow_loop_cpu_ms_per_image": round(per["pillow_loop"] / n * 1000, 2)}


def _text_side() -> int:
    """The text detector's default long side (what the bench's Kho runs use)."""
    from filters.image.scorers import TextSettings

    return TextSettings().side


def _detect_side() -> int:
    """The face and plate detectors' default max side (privacy.max_side_detect)."""
    from filters.image.privacy import PrivacySettings

    return PrivacySettings().max_side_detect


def previous_summary(path: Path) -> dict[str, Any] | None:
    """The headline figures of the results file at ``path`` (the last measurement), kept in
    the new file as ``previous`` so before and after sit side by side; None if absent."""
    if not path.is_file():
        return None
    try:
        old = json.loads(path.read_text())
        fig, bd = old["figures"], old["figures"]["annotate_breakdown"]
    except (ValueError, KeyError):
        return None
    keys = ("pillow_loop_images_per_s", "kho_images_per_s", "kho_fast_images_per_s", "kho_fast_off",
            "kho_annotate_loop_images_per_s", "clip_stage_images_per_s", "bare_model_forward_images_per_s")
    return {"date": old.get("date"), **{k: fig.get(k) for k in keys},
            "annotate_ms_per_image": bd.get("ms_per_image"), "annotate_detail_ms_per_image": bd.get("detail_ms_per_image"),
            "annotate_total_ms_per_image": bd.get("total_ms_per_image"),
            "ratio": {k: r.get("value") for k, r in old.get("ratio", {}).items()}}


def previous_notes(previous: dict[str, Any] | None, figures: dict[str, Any]) -> list[str]:
    """One sentence per step that changed most against the previous results (per image; the
    previous run's wall ms against this run's CPU ms when it has them, wall ms otherwise)."""
    if not previous or not previous.get("annotate_ms_per_image"):
        return []
    bd = figures["annotate_breakdown"]
    now = bd.get("cpu_ms_per_image") or bd["ms_per_image"]
    total = bd.get("cpu_total_ms_per_image") or bd["total_ms_per_image"]
    old = previous["annotate_ms_per_image"]
    steps = sorted((s for s in old if s in now), key=lambda s: -(old[s] - now[s]))[:6]
    changes = ", ".join(f"{s} {old[s]:.0f} -> {now[s]:.0f}" for s in steps)
    return [f"Against the previous results ({previous.get('date')}, wall ms on a quieter machine, where wall "
            f"was about CPU): annotate {previous.get('annotate_total_ms_per_image', 0):.0f} -> {total:.0f} ms per "
            f"image; {changes}."]


def ratios_of(figures: dict[str, Any]) -> dict[str, Any]:
    """Each ratio with its numerator, denominator (figure names), target and verdict."""
    ratio = {"kho_vs_pillow_loop": ratio_entry(figures, "kho_images_per_s", "pillow_loop_images_per_s", TARGET_CPU),
             "kho_fast_vs_pillow_loop": ratio_entry(figures, "kho_fast_images_per_s", "pillow_loop_images_per_s",
                                                    TARGET_CPU),
             "kho_annotate_loop_vs_pillow_loop": ratio_entry(figures, "kho_annotate_loop_images_per_s",
                                                             "pillow_loop_images_per_s", TARGET_CPU)}
    if "clip_stage_images_per_s" in figures:
        ratio["clip_stage_vs_bare_model_forward"] = ratio_entry(
            figures, "clip_stage_images_per_s", "bare_model_forward_images_per_s", TARGET_CLIP)
    return ratio


def notes_of(figures: dict[str, Any], ratio: dict[str, Any]) -> list[str]:
    """Plain sentences on the gap to each target and its biggest costs (no fudging). The
    per-step costs and budget are in CPU milliseconds when the breakdown has them (steadier
    than wall time on a shared machine), else in wall milliseconds."""
    abd = figures["annotate_breakdown"]
    use_cpu = "cpu_ms_per_image" in abd and "cpu" in figures
    bd = abd["cpu_ms_per_image"] if use_cpu else abd["ms_per_image"]
    unit = "CPU ms" if use_cpu else "ms"
    pillow_ms = figures["cpu"]["pillow_loop_cpu_ms_per_image"] if use_cpu else 1000 / figures["pillow_loop_images_per_s"]
    budget = pillow_ms / TARGET_CPU
    total = abd["cpu_total_ms_per_image"] if use_cpu else abd["total_ms_per_image"]
    top = ", ".join(f"{s} {bd[s]:.0f}" for s in sorted(bd, key=lambda k: -bd[k])[:5])
    notes = []
    for key, label in (("kho_vs_pillow_loop", "Kho end to end (every signal on except CLIP)"),
                       ("kho_fast_vs_pillow_loop", f"kho_fast (off: {', '.join(figures['kho_fast_off'])})"),
                       ("kho_annotate_loop_vs_pillow_loop", "the annotate loop alone (no Beam)")):
        r = ratio[key]
        verdict = "meets" if r["meets_target"] else (
            "is far below" if r["value"] < r["target"] / 3 else "is below")
        cpu_ratio = figures.get("cpu", {}).get("ratio", {}).get(key)
        notes.append(f"{label} reaches {r['value']:.3f} of the Pillow loop in wall time"
                     + (f" ({cpu_ratio:.3f} per CPU second)" if cpu_ratio is not None else "")
                     + f": it {verdict} the {r['target']} target.")
    notes.append(f"The Pillow loop takes {pillow_ms:.0f} {unit} per image on one core, so the {TARGET_CPU} target "
                 f"leaves Kho {budget:.0f} {unit} per image end to end; annotate alone takes {total:.0f} {unit}. "
                 f"Top costs per image ({unit}): {top}.")
    required = {s: v for s, v in bd.items() if s not in OPTIONAL_STEPS}
    floor = sum(required.values())
    biggest = sorted(required, key=lambda s: -required[s])[:3]
    notes.append(f"With every optional step off (text, plates, brisque), annotate would still take {floor:.0f} {unit} "
                 f"per image ({', '.join(f'{s} {required[s]:.0f}' for s in biggest)}): at most "
                 f"{pillow_ms / floor:.2f} of the Pillow loop before Beam."
                 + (f" Face detection alone ({bd['face_detect']:.0f} {unit}) exceeds the {budget:.0f} {unit} budget, so "
                    "the target is out of reach on a CPU while every image goes through a face detector."
                    if bd.get("face_detect", 0) > budget else ""))
    detail = abd["cpu_detail_ms_per_image"] if use_cpu else abd["detail_ms_per_image"]
    if detail.get("signals.working_copy") is not None:
        cheap = bd.get("signals", 0) + bd.get("hashes", 0)
        notes.append(f"The cheap signals and hashes read one {WORKING_SIDE_NOTE} working copy: "
                     f"{cheap:.0f} {unit} per image together, of which making the copy is "
                     f"{detail['signals.working_copy']:.0f} {unit} (colour std "
                     f"{detail.get('signals.colour_std', 0):.1f} {unit} from channel histograms).")
    if "text" in bd:
        notes.append(f"The text detector (PP-OCRv4 at a {figures.get('text_side', '?')} px long side) costs "
                     f"{bd['text']:.0f} {unit} per image; it is off by default (scorers.text) like its rule "
                     "(rules.max_text_area).")
    probe = figures["onnx_threads_probe"]
    if probe.get("text_ms_threads_1") and probe.get("text_ms_threads_default"):
        notes.append("On one pinned core the onnxruntime models run faster with one thread than with their "
                     f"default thread count (text {probe['text_ms_threads_default']:.0f} -> "
                     f"{probe['text_ms_threads_1']:.0f} ms, nsfw {probe['nsfw_ms_threads_default']:.0f} -> "
                     f"{probe['nsfw_ms_threads_1']:.0f} ms, faces {probe['face_detect_ms_threads_default']:.0f} -> "
                     f"{probe['face_detect_ms_threads_1']:.0f} ms): with one worker per core the default "
                     "oversubscribes, so runtime.threads (default 1) sets every model's threads.")
    if "clip_stage_vs_bare_model_forward" in ratio:
        r, c = ratio["clip_stage_vs_bare_model_forward"], figures["clip"]
        with_caption = figures["bare_model_forward_with_caption_images_per_s"]
        notes.append(f"CLIP stage on {c['device']} ({c['dtype']}, {c['architecture']}, batch {c['batch_size']}): "
                     f"{r['value']:.3f} of the bare image forward, "
                     f"{'meeting' if r['meets_target'] else 'below'} the {r['target']} target; the stage also "
                     "decodes, transforms and runs one caption forward per batch, the ceiling does none of these "
                     f"(with one caption forward per image the bare forward gives {with_caption:.1f} images/s; "
                     f"the stage reaches {figures['clip_stage_images_per_s'] / with_caption:.2f} of that, the rest "
                     "is decode, transform and Beam).")
    return notes


def write_image_results(opts: BenchOptions, facts: dict[str, Any], pin: dict[str, Any],
                        figures: dict[str, Any], ratio: dict[str, Any], notes: list[str]) -> Path:
    """bench/results/image.json (or $KHO_BENCH_RESULTS/image.json), with the notes."""
    inputs = {"images": opts.images, "seed": opts.seed, "repeat": opts.repeat, "tiny": opts.tiny,
              "figure": "fastest of the repeats", "corpus": {
                  "made_from": [name for name, _ in PHOTOS], "format": "JPEG q80-95, .txt Vietnamese captions",
                  "long_side_range_px": [opts.min_side, opts.max_side], **facts},
              "workers": WORKERS, "per_core": pin, "baselines": BASELINES,
              "kho": "run_ingest, FnApiRunner in_memory, 1 worker, Kho's defaults: faces, plates, nsfw, text, "
                     "brisque and caption checks on, CLIP off (no weights), pHash near dedup on",
              "targets": {"kho_vs_pillow_loop": TARGET_CPU, "clip_stage_vs_bare_model_forward": TARGET_CLIP}}
    target = results_dir() / "image.json"
    previous = previous_summary(target)
    path = write_results("image", inputs, figures, ratio)
    result = json.loads(path.read_text())
    result["notes"] = notes + previous_notes(previous, figures)
    if previous is not None:
        result["previous"] = previous
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return path


# ------------------------------------------------------------------------------ main


def run_bench(opts: BenchOptions) -> Path:
    """Measure everything and write the results; returns the JSON's path."""
    all_cpus = set(os.sched_getaffinity(0))
    pin = pin_to_one_core() if opts.pin else {"pinned_cpu": None, "cpus_allowed_before": len(all_cpus)}
    work = Path(tempfile.mkdtemp(prefix="kho-bench-image-"))
    load_before = os.getloadavg()[0]
    try:
        corpus = work / "corpus"
        paths = make_corpus(corpus, opts.images, opts.seed, opts.min_side, opts.max_side)
        facts = corpus_facts(paths)
        pillow = [pillow_loop(paths) for _ in range(3)]
        loop = annotate_loop(paths, ingest_config(corpus))
        off = fast_steps(loop["breakdown"]["ms_per_image"])
        kho, fast = [], []
        for attempt in range(opts.repeat):
            kho.append(run_kho(corpus, work, "kho", [], attempt))
            fast.append(run_kho(corpus, work, "kho_fast", off, attempt))
            pillow.append(pillow_loop(paths))
        probe = onnx_threads_probe(paths, opts.probe_images)
        clip = clip_section(loop["published"], loop["captions"], opts, all_cpus) if opts.clip else None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    figures = figures_of(pillow, kho, fast, loop, clip, probe, off)
    # the machine is shared: how busy it was says how far wall figures are from one free core
    figures["load_average_1m"] = {"start": round(load_before, 2), "end": round(os.getloadavg()[0], 2),
                                  "cpus": len(all_cpus)}
    ratio = ratios_of(figures)
    notes = notes_of(figures, ratio)
    return write_image_results(opts, facts, pin, figures, ratio, notes)


def main(argv: list[str] | None = None) -> None:
    """Command line entry: run the bench and print the headline figures."""
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    log.setLevel(logging.INFO)
    opts = parse_options(argv)
    path = run_bench(opts)
    result = json.loads(path.read_text())
    for k, v in result["figures"].items():
        if isinstance(v, float):
            print(f"{k:40s} {v:,.3f}")
    for k, r in result["ratio"].items():
        print(f"{k:40s} {r['value']:.3f} (target {r['target']}, meets: {r['meets_target']})")
    print("annotate ms/image:", json.dumps(result["figures"]["annotate_breakdown"]["ms_per_image"], ensure_ascii=False))
    print("peak RSS MiB:", json.dumps(result["figures"]["peak_rss_mib"]))
    for note in result["notes"]:
        print("-", note)
    print(f"results: {path}")


if __name__ == "__main__":
    main()
