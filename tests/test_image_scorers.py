"""The image scorers give sensible values on real photos, and absent models give None, not 0."""

from __future__ import annotations

import logging
import math
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict
from skimage import data

from filters.image.scorers import (
    ImageScorer,
    InvalidImageError,
    ScorerConfigError,
    ScorerInputError,
    ScorerLoadError,
    TextScorer,
    UnknownScorerError,
    get_scorer,
    register_scorer,
    registered_scorers,
)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()


def with_caption(rgb: np.ndarray) -> np.ndarray:
    """A copy with a large overlaid caption, as on a meme or an advert."""
    out = rgb.copy()
    cv2.putText(out, "KHUYEN MAI 50%", (30, 120), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (255, 255, 255), 4, cv2.LINE_AA)
    cv2.putText(out, "www.example.vn", (30, 470), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 0), 3, cv2.LINE_AA)
    return out


def test_builtin_scorers_are_registered() -> None:
    assert {"nsfw", "text", "brisque", "linear"} <= set(registered_scorers())


def test_nsfw_probability_of_a_benign_photo_is_low(astronaut: np.ndarray) -> None:
    scorer = get_scorer("nsfw", threads=1)
    assert scorer.available()
    value = scorer.score(astronaut)
    assert isinstance(value, float) and 0.0 <= value <= 1.0
    assert value < 0.3
    assert scorer.details(astronaut) == {"nsfw": value}


def test_text_fraction_is_clearly_higher_with_overlaid_text(astronaut: np.ndarray) -> None:
    scorer = get_scorer("text", threads=1)
    plain = scorer.details(astronaut)
    captioned = scorer.details(with_caption(astronaut))
    assert captioned["text_boxes"] >= 2 > plain["text_boxes"]
    assert captioned["text_fraction"] > plain["text_fraction"] + 0.05
    assert scorer.score(with_caption(astronaut)) == captioned["text_fraction"]


def test_brisque_scores_a_blurred_noisy_copy_worse(astronaut: np.ndarray) -> None:
    scorer = get_scorer("brisque")
    clean = scorer.score(astronaut)
    blurred = cv2.GaussianBlur(astronaut, (0, 0), 4)
    noise = np.random.default_rng(0).normal(0, 25, astronaut.shape)
    degraded = np.clip(blurred + noise, 0, 255).astype(np.uint8)
    worse = scorer.score(degraded)
    assert clean is not None and worse is not None
    assert worse > clean + 20  # measured: about 0.5 against 50


def test_linear_head_gives_the_exact_sigmoid(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    w, b, e = rng.normal(size=16), 0.25, rng.normal(size=16)
    path = tmp_path / "head.npy"
    np.save(path, np.append(w, b))
    scorer = get_scorer("linear", weights_path=str(path))
    assert scorer.inputs == "embedding"
    assert scorer.score(e) == pytest.approx(1.0 / (1.0 + math.exp(-(float(w @ e) + b))), rel=1e-12)
    normalized = get_scorer("linear", weights_path=str(path), normalize=True)
    unit = e / np.linalg.norm(e)
    assert normalized.score(e) == pytest.approx(1.0 / (1.0 + math.exp(-(float(w @ unit) + b))), rel=1e-12)


def test_linear_head_is_stable_for_large_logits(tmp_path: Path) -> None:
    path = tmp_path / "big.npy"
    np.save(path, np.array([1000.0, 0.0]))
    scorer = get_scorer("linear", weights_path=str(path))
    assert scorer.score(np.array([-1.0])) == 0.0
    assert scorer.score(np.array([1.0])) == 1.0


def test_linear_head_rejects_wrong_dimensions_and_bad_weight_files(tmp_path: Path) -> None:
    path = tmp_path / "head.npy"
    np.save(path, np.ones(5))
    with pytest.raises(ScorerInputError, match="7 dimensions but the head .* has 4"):
        get_scorer("linear", weights_path=str(path)).score(np.ones(7))
    with pytest.raises(ScorerInputError, match="1-D"):
        get_scorer("linear", weights_path=str(path)).score(np.ones((2, 4)))
    bad = tmp_path / "matrix.npy"
    np.save(bad, np.ones((3, 4)))
    with pytest.raises(ScorerLoadError, match=r"np.save\(path, np.append\(w, b\)\)"):
        get_scorer("linear", weights_path=str(bad)).load()


def test_missing_weights_give_none_and_say_why_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    missing = tmp_path / "absent.npy"
    scorer = get_scorer("linear", weights_path=str(missing))
    assert not scorer.available()
    assert str(missing) in (scorer.unavailable_reason or "")
    with caplog.at_level(logging.WARNING, logger="filters.image.scorers"):
        assert scorer.score(np.ones(4)) is None
        assert scorer.score(np.ones(4)) is None
    warnings = [r for r in caplog.records if str(missing) in r.getMessage()]
    assert len(warnings) == 1
    assert "UNAVAILABLE" in scorer.info()


@pytest.mark.parametrize(("name", "kwargs", "reason"), [
    ("nsfw", {"model_path": "/nonexistent/open-nsfw.onnx"}, "does not exist"),
    ("brisque", {"model_dir": "EMPTY"}, "opencv-data"),
])
def test_image_scorers_without_their_model_files_are_absent(name: str, kwargs: dict[str, str], reason: str,
                                                            tmp_path: Path, astronaut: np.ndarray) -> None:
    kwargs = {k: (str(tmp_path) if v == "EMPTY" else v) for k, v in kwargs.items()}
    scorer = get_scorer(name, **kwargs)
    assert not scorer.available() and reason in (scorer.unavailable_reason or "")
    assert scorer.score(astronaut) is None


def test_text_details_are_none_when_unavailable(tmp_path: Path, astronaut: np.ndarray) -> None:
    class NoDetector(TextScorer):
        def _model_path(self) -> Path:
            return tmp_path / "missing.onnx"

    assert NoDetector().details(astronaut) == {"text_fraction": None, "text_boxes": None}


def test_scorers_pickle_before_and_after_loading(astronaut: np.ndarray) -> None:
    scorer = get_scorer("brisque")
    fresh = pickle.loads(pickle.dumps(scorer))
    expected = scorer.score(astronaut)
    assert pickle.loads(pickle.dumps(scorer)).score(astronaut) == expected == fresh.score(astronaut)


def test_registry_builds_plugins_and_refuses_unknown_names_and_settings(astronaut: np.ndarray) -> None:
    class MeanBrightnessSettings(BaseModel):
        model_config = ConfigDict(extra="forbid")

    class MeanBrightness(ImageScorer):
        name = "mean_brightness_test"
        Settings = MeanBrightnessSettings

        def _missing(self) -> str | None:
            return None

        def _build(self) -> None:
            return None

        def _score(self, x: np.ndarray) -> float:
            return float(x.mean()) / 255.0

        def _describe(self) -> str:
            return "mean pixel value"

    register_scorer(MeanBrightness.name, MeanBrightness, replace=True)
    assert get_scorer(MeanBrightness.name).score(astronaut) == pytest.approx(astronaut.mean() / 255.0)
    with pytest.raises(ScorerConfigError, match="already registered"):
        register_scorer(MeanBrightness.name, MeanBrightness)
    with pytest.raises(UnknownScorerError, match="nsfw"):
        get_scorer("aesthetics")
    with pytest.raises(ScorerConfigError, match="extra"):
        get_scorer("brisque", model_path="/x")


def test_rgb_scorers_refuse_arrays_that_are_not_rgb_uint8() -> None:
    with pytest.raises(InvalidImageError, match="decode the image"):
        get_scorer("brisque").score(np.zeros((32, 32), np.uint8))
    with pytest.raises(InvalidImageError, match="empty"):
        get_scorer("brisque").score(np.zeros((0, 5, 3), np.uint8))
