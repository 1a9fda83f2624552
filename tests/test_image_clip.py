"""The CLIP stage (pipelines/image/clip.py): the real ViT-B-32 architecture with random test
weights, through AnnotateWithModel on the FnApiRunner, checked against open_clip's own
loader and transform run directly. A handful of images: ViT-B-32 is ~1 s per image here."""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import apache_beam as beam
import numpy as np
import pytest
import skimage.data
from apache_beam.options.pipeline_options import PipelineOptions
from PIL import Image
from pydantic import ValidationError

from pipelines.core.inference import AnnotateWithModel, ModelLoadError
from pipelines.image.clip import (ClipEmbedder, ClipSettings, ImageDecodeError, make_test_weights,
                                  random_weights_label)
from storage.local import LocalStore
from tests.test_inference import _Collect

open_clip = pytest.importorskip("open_clip")
torch = pytest.importorskip("torch")

WIDTH = 512  # ViT-B-32's embedding width
GARBAGE = b"\xff\xd8\xff\xe0 this is not a JPEG"


def encode(pixels: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, fmt, **({"quality": 90} if fmt in ("JPEG", "WEBP") else {}))
    return buf.getvalue()


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("clip") / "vit-b-32-seed0.pt"
    return path, make_test_weights(path, "ViT-B-32", seed=0)


@pytest.fixture(scope="module")
def reference(weights: tuple[Path, str]) -> tuple[Any, Any, Any]:
    """open_clip's own model, transform and tokenizer, loading the same checkpoint itself."""
    model, _, transform = open_clip.create_model_and_transforms("ViT-B-32", pretrained=str(weights[0]))
    return model.eval(), transform, open_clip.get_tokenizer("ViT-B-32")


def reference_embeddings(reference, image: bytes, caption: str) -> tuple[np.ndarray, np.ndarray]:
    model, transform, tokenizer = reference
    with torch.inference_mode():
        img = model.encode_image(transform(Image.open(io.BytesIO(image)).convert("RGB"))[None])
        txt = model.encode_text(tokenizer([caption]))
    norm = torch.nn.functional.normalize
    return norm(img, dim=-1)[0].numpy(), norm(txt, dim=-1)[0].numpy()


def settings(path: Path | str | None, **kw: Any) -> ClipSettings:
    return ClipSettings(weights=None if path is None else str(path), device="cpu", **kw)


def record(rid: str, image: bytes, caption: str | None) -> dict[str, Any]:
    return {"id": rid, "source": "test", "uri": "mem://images", "pointer": f"#{rid}",
            "image": image, "caption": caption}


def run(records: list[dict], handler: ClipEmbedder, tmp: Path) -> tuple[dict[str, dict], dict[str, dict]]:
    ok, bad = tmp / "ok", tmp / "bad"
    ok.mkdir()
    bad.mkdir()
    with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as p:
        out = p | beam.Create(records) | "Clip" >> AnnotateWithModel(handler, field=None)
        out.annotated | "Ok" >> beam.ParDo(_Collect(str(ok)))
        out.quarantine | "Bad" >> beam.ParDo(_Collect(str(bad)))
    read = lambda folder: {r["id"]: r for r in (pickle.loads(f.read_bytes()) for f in folder.glob("*.pkl"))}
    return read(ok), read(bad)


def test_beam_stage_embeds_images_scores_captions_and_quarantines_garbage(
        tmp_path: Path, weights: tuple[Path, str], reference) -> None:
    astronaut = encode(skimage.data.astronaut(), "JPEG")
    records = [record("astro-1", astronaut, "an astronaut in a white suit"),
               record("astro-2", astronaut, "a cup of coffee on a saucer"),  # same image, other caption
               record("coffee", encode(skimage.data.coffee(), "PNG"), None),
               record("cat", encode(skimage.data.chelsea(), "WEBP"), "   "),
               record("broken", GARBAGE, "a caption of an image that is not there")]
    handler = ClipEmbedder(settings(weights[0], weights_sha256=weights[1], batch_size=2))
    annotated, quarantined = run(records, handler, tmp_path)

    assert set(annotated) == {"astro-1", "astro-2", "coffee", "cat"}
    assert set(quarantined) == {"broken"}
    row = quarantined["broken"]
    assert row["error_class"] == "ImageDecodeError"
    assert row["message"].startswith("model open_clip preprocess failed: ImageDecodeError: image bytes do not decode")
    assert row["raw"] == GARBAGE

    for rec in annotated.values():
        emb = rec["clip_embedding"]
        assert emb.dtype == np.float16 and emb.shape == (WIDTH,)
        assert float(np.linalg.norm(emb.astype(np.float32))) == pytest.approx(1.0, abs=2e-3)
        assert rec["image"] == next(r["image"] for r in records if r["id"] == rec["id"])  # rest kept
    a1, a2 = annotated["astro-1"]["clip_embedding"], annotated["astro-2"]["clip_embedding"]
    assert np.array_equal(a1, a2), "the same image gives the same embedding"
    assert not np.allclose(a1, annotated["coffee"]["clip_embedding"], atol=1e-2), "different images differ"
    assert annotated["coffee"]["clip_similarity"] is None  # no caption
    assert annotated["cat"]["clip_similarity"] is None     # a blank caption

    want_img, want_txt = reference_embeddings(reference, astronaut, "an astronaut in a white suit")
    np.testing.assert_allclose(a1.astype(np.float32), want_img, atol=1e-4)  # float16 rounding: < 3e-5
    _, other_txt = reference_embeddings(reference, astronaut, "a cup of coffee on a saucer")
    sims = {rid: annotated[rid]["clip_similarity"] for rid in ("astro-1", "astro-2")}
    assert all(isinstance(v, float) for v in sims.values())
    # both fp32 on the CPU from the same weights: they agree to ~1e-8 (random-init cosines are ~0.01,
    # so a looser tolerance would not see a wrong similarity); each caption scored with its own image
    assert sims["astro-1"] == pytest.approx(float(want_img @ want_txt), rel=1e-3, abs=1e-6)
    assert sims["astro-2"] == pytest.approx(float(want_img @ other_txt), rel=1e-3, abs=1e-6)


def test_weights_from_the_object_store_load_on_the_worker_and_match_the_file(
        tmp_path: Path, weights: tuple[Path, str], reference) -> None:
    store = LocalStore(tmp_path / "store")
    store.put_file("models/clip/vit-b-32.pt", weights[0])
    handler = ClipEmbedder(settings("store:models/clip/vit-b-32.pt", weights_sha256=weights[1]), store=store)
    handler.check()
    shipped = pickle.loads(pickle.dumps(handler))  # as the workers get it
    loaded = shipped.load_model().model
    assert loaded.sha256 == weights[1] and loaded.width == WIDTH

    coffee = encode(skimage.data.coffee(), "JPEG")
    out = shipped.predict(loaded, [shipped.preprocess(record("c", coffee, "a cup of coffee"))])
    want_img, want_txt = reference_embeddings(reference, coffee, "a cup of coffee")
    np.testing.assert_allclose(out[0]["clip_embedding"].astype(np.float32), want_img, atol=1e-4)
    assert out[0]["clip_similarity"] == pytest.approx(float(want_img @ want_txt), rel=1e-3, abs=1e-6)

    wrong = ClipEmbedder(settings("store:models/clip/vit-b-32.pt", weights_sha256="0" * 64), store=store)
    with pytest.raises(ModelLoadError, match=f"sha256 is {weights[1]}, the config pins 0000"):
        wrong.load_model()


def test_model_info_names_the_architecture_label_and_sha256(weights: tuple[Path, str]) -> None:
    path, sha = weights
    pinned = ClipEmbedder(settings(path, weights_sha256=sha, weights_label=random_weights_label(0)))
    assert pinned.model_info() == f"open_clip ViT-B-32, weights random init, seed 0 (test weights) (sha256 {sha[:12]})"
    unpinned = ClipEmbedder(settings(path))  # the report still says which file it was
    assert unpinned.model_info() == f"open_clip ViT-B-32, weights {path} (sha256 {sha[:12]})"


def test_test_weights_are_the_same_bytes_for_the_same_seed_wherever_they_are_saved(
        tmp_path: Path, weights: tuple[Path, str]) -> None:
    assert make_test_weights(tmp_path / "elsewhere" / "copy.pt", "ViT-B-32", seed=0) == weights[1]


def test_missing_weights_path_fails_before_the_run_naming_the_path_and_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "models" / "clip.pt"
    handler = ClipEmbedder(settings(missing))
    with pytest.raises(ModelLoadError) as err:
        with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as p:
            _ = p | beam.Create([record("x", b"", None)]) | AnnotateWithModel(handler, field=None)
    assert str(err.value) == (f"model open_clip: weights '{missing}' do not exist; point clip.weights at a "
                              f"checkpoint, or make test weights with "
                              f"`python -m pipelines.image.clip make-test-weights {missing}`")


def test_unset_weights_mean_the_stage_is_inactive_and_refuses_to_run() -> None:
    s = settings(None)
    assert not s.active()
    assert not settings("w.pt", enabled=False).active()
    assert settings("w.pt").active()
    with pytest.raises(ModelLoadError, match="no weights configured"):
        ClipEmbedder(s).check()


def test_store_weights_without_a_store_or_key_fail_before_the_run(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no store was given"):
        ClipEmbedder(settings("store:models/clip.pt")).check()
    with pytest.raises(ModelLoadError, match="are not in LocalStore"):
        ClipEmbedder(settings("store:models/clip.pt"), store=LocalStore(tmp_path / "s")).check()


def test_a_file_that_is_not_a_checkpoint_fails_to_load_with_the_fix(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelLoadError) as err:
        ClipEmbedder(settings(broken)).load_model()
    assert str(err.value).startswith(f"model open_clip could not load weights '{broken}': not a torch checkpoint")
    assert "make-test-weights" in str(err.value)


def test_undecodable_and_missing_images_raise_image_decode_error(weights: tuple[Path, str]) -> None:
    handler = ClipEmbedder(settings(weights[0]))
    with pytest.raises(ImageDecodeError, match="image bytes do not decode"):
        handler.preprocess(record("g", GARBAGE, None))
    with pytest.raises(ImageDecodeError, match="no image bytes"):
        handler.preprocess({"id": "n", "caption": "x"})
    x = handler.preprocess(record("ok", encode(skimage.data.camera(), "PNG"), "grey"))  # greyscale -> RGB
    assert tuple(x.pixels.shape) == (3, 224, 224) and x.caption == "grey"
    assert pickle.loads(pickle.dumps(handler))._transform is None, "the transform is rebuilt on the worker"


def test_settings_refuse_unknown_keys_bad_devices_and_bad_store_keys() -> None:
    with pytest.raises(ValidationError, match="extra"):
        ClipSettings(weights="w.pt", model="ViT-B-32")
    with pytest.raises(ValidationError, match="unknown device 'gpu'"):
        ClipSettings(device="gpu")
    with pytest.raises(ValidationError, match="no '.', '..' or empty segments"):
        ClipSettings(weights="store:models//clip.pt")
    assert ClipSettings.production_default == "xlm-roberta-base-ViT-B-32"


def test_caption_forward_without_the_padding_gives_the_same_embeddings(reference) -> None:
    from pipelines.image.clip import encode_text_trimmed

    model, _, tokenizer = reference
    captions = ["Một tách cà phê nóng trên bàn gỗ", "Chú mèo mướp đang nhìn sang bên cạnh, ánh sáng tự nhiên",
                "ảnh"]
    tokens = tokenizer(captions)
    assert tokens.shape[1] == 77 and int((tokens != 0).sum(dim=1).max()) < 60  # the rest is padding
    with torch.inference_mode():
        full = model.encode_text(tokens)
        trimmed = encode_text_trimmed(model, tokens)
    assert trimmed.shape == full.shape
    assert torch.allclose(trimmed, full, atol=1e-4, rtol=1e-4)
