"""runtime.threads: one validated setting gives every per-image model of a Beam worker its
thread count (onnxruntime sessions, OpenCV, torch for CLIP on the CPU)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import pytest
from pydantic import ValidationError
from skimage import data

from pipelines.image.annotate import AnnotateImage
from pipelines.image.config import ImageIngestConfig


def _config(tmp_path: Path, **extra: Any) -> ImageIngestConfig:
    raw = {"dataset": "runtime-test", "base_dir": str(tmp_path),
           "sources": [{"name": "photos", "format": "image_folder", "paths": [str(tmp_path / "*.jpg")]}],
           "scorers": {"text": True}, **extra}
    return ImageIngestConfig.model_validate(raw)


def _intra_op_threads(session: Any) -> int:
    return session.get_session_options().intra_op_num_threads


def test_threads_default_to_one_per_worker_and_are_validated(tmp_path: Path) -> None:
    assert _config(tmp_path).runtime.threads == 1
    assert _config(tmp_path, runtime={"threads": 3}).runtime.threads == 3
    for bad in ({"threads": 0}, {"threads": "many"}, {"threads": 2, "thread": 2}):
        with pytest.raises(ValidationError):
            _config(tmp_path, runtime=bad)


def test_annotator_sessions_opencv_and_clip_get_the_configured_threads(tmp_path: Path) -> None:
    before = cv2.getNumThreads()
    try:
        for threads in (1, 2):
            cfg = _config(tmp_path, runtime={"threads": threads})
            ann = AnnotateImage(cfg, "run", "test")
            ann.setup()
            assert cv2.getNumThreads() == threads
            photo = data.astronaut()
            ann.faces.detect(photo)
            assert _intra_op_threads(ann.faces._backend._session) == threads
            for name in ("nsfw", "text"):
                scorer = ann.scorers[name]
                scorer.score(photo)
                session = scorer._model._session if name == "nsfw" else scorer._model.infer.session
                assert _intra_op_threads(session) == threads, name
            assert cfg.clip_settings().cpu_threads == threads
    finally:
        cv2.setNumThreads(before)


def test_explicit_privacy_onnx_threads_win_over_runtime_threads(tmp_path: Path) -> None:
    cfg = _config(tmp_path, runtime={"threads": 1}, privacy={"onnx_threads": 2})
    ann = AnnotateImage(cfg, "run", "test")
    ann.setup()
    assert ann.privacy.onnx_threads == 2
