"""Person segmentation: which pixels are the person, so that they can be set in a new scene.

The model is MediaPipe's selfie segmentation (Apache-2.0, 256x256 MobileNetV3, ~4 ms on one
thread). It ships inside the `mediapipe` wheel (`mediapipe/modules/selfie_segmentation/`);
that package is installed without its dependencies and never imported (its native code wants
protobuf < 5 and numpy < 2), we only read the .tflite file. The TFLite runtime is
`ai-edge-litert`. Without either, a face-anchored GrabCut (seeded from the YuNet box) does the
job less well; `PersonSegmenter.method` says which one ran.
"""

from __future__ import annotations

import contextlib
import importlib.util
import threading
from pathlib import Path

import numpy as np

from avatar.faces import Face

MODEL_FILE = "selfie_segmentation.tflite"
MODEL_SIDE = 256


def segmentation_model_path() -> Path | None:
    """The packaged .tflite, or None when mediapipe is not installed (found, never imported)."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root / "modules" / "selfie_segmentation" / MODEL_FILE
    return path if path.is_file() else None


def segmentation_problem() -> str | None:
    """None when the model can run, else what to install (the GrabCut fallback runs anyway)."""
    if segmentation_model_path() is None:
        return (
            "the person-segmentation model ships in mediapipe's wheel: "
            "pip install --no-deps mediapipe==0.10.21"
        )
    if importlib.util.find_spec("ai_edge_litert") is None:
        return "the TFLite runtime is missing: pip install 'ai-edge-litert>=2.0,<3'"
    return None


class PersonSegmenter:
    """`mask(bgr, face)` -> float32 alpha in [0, 1], the image's size. Thread-safe: one
    interpreter per thread (TFLite interpreters keep their tensors between calls)."""

    def __init__(self, threads: int = 1, use_model: bool = True) -> None:
        self.threads = threads
        self._local = threading.local()
        self.method = "selfie-model" if use_model and segmentation_problem() is None else "grabcut"

    def _interpreter(self):  # ai_edge_litert.interpreter.Interpreter of this thread
        interpreter = getattr(self._local, "interpreter", None)
        if interpreter is None:
            from ai_edge_litert.interpreter import Interpreter

            interpreter = Interpreter(
                model_path=str(segmentation_model_path()), num_threads=self.threads
            )
            interpreter.allocate_tensors()
            self._local.interpreter = interpreter
        return interpreter

    def mask(self, bgr: np.ndarray, face: Face) -> np.ndarray:
        if self.method == "selfie-model":
            return self._model_mask(bgr)
        return grabcut_mask(bgr, face)

    def _model_mask(self, bgr: np.ndarray) -> np.ndarray:
        import cv2

        height, width = bgr.shape[:2]
        small = cv2.resize(bgr, (MODEL_SIDE, MODEL_SIDE), interpolation=cv2.INTER_AREA)
        x = (small[:, :, ::-1].astype(np.float32) / 255.0)[None]
        interpreter = self._interpreter()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        interpreter.invoke()
        out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0, :, :, 0]
        alpha = cv2.resize(out.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
        return refine(alpha, bgr)


def refine(alpha: np.ndarray, bgr: np.ndarray) -> np.ndarray:
    """A crisper, slightly tightened edge: the model's 256 px mask is soft when scaled up, and
    a halo of the old background around the hair is what gives a cut-out away."""
    import cv2

    # Steepen the soft ramp around 0.5, then pull the edge in by ~1 px before feathering.
    hard = np.clip((alpha - 0.5) * 4.0 + 0.5, 0.0, 1.0)
    hard = cv2.erode(hard, np.ones((3, 3), np.uint8))
    del bgr  # kept in the signature for an edge-aware refinement; a blur suffices at 512 px
    return cv2.GaussianBlur(hard, (0, 0), 1.2)


def grabcut_mask(bgr: np.ndarray, face: Face) -> np.ndarray:
    """Face-anchored GrabCut: the face and a torso below it are sure person, the top corners
    sure background; GrabCut settles the rest. Run at <= 256 px (it is slow)."""
    import cv2

    height, width = bgr.shape[:2]
    scale = min(1.0, 256 / max(height, width))
    small = cv2.resize(bgr, (max(1, round(width * scale)), max(1, round(height * scale))))
    h, w = small.shape[:2]
    fx, fy, fw, fh = (v * scale for v in (face.x, face.y, face.w, face.h))
    seed = np.full((h, w), cv2.GC_PR_BGD, np.uint8)
    # Probable person: a head-and-shoulders shape from the face box down to the bottom.
    cx = fx + fw / 2
    cv2.ellipse(seed, (round(cx), round(fy + fh / 2)), (round(fw * 0.75), round(fh * 0.85)),
                0, 0, 360, cv2.GC_PR_FGD, -1)  # fmt: skip
    top = round(fy + fh * 1.1)
    seed[top:, max(0, round(cx - fw * 1.6)) : min(w, round(cx + fw * 1.6))] = cv2.GC_PR_FGD
    # Sure person: the inner face.
    rows = slice(round(fy + fh * 0.2), round(fy + fh * 0.9))
    seed[rows, round(fx + fw * 0.2) : round(fx + fw * 0.8)] = cv2.GC_FGD
    # Sure background: the top corners beside the head.
    seed[: max(1, round(fy)), : max(1, round(fx - fw * 0.6))] = cv2.GC_BGD
    seed[: max(1, round(fy)), min(w - 1, round(fx + fw * 1.6)) :] = cv2.GC_BGD
    bg_model = np.zeros((1, 65), np.float64)
    fg_model = np.zeros((1, 65), np.float64)
    # Degenerate seeds (a tiny photo) raise: the seeded shape itself is then the mask.
    with contextlib.suppress(cv2.error):
        cv2.grabCut(small, seed, None, bg_model, fg_model, 3, cv2.GC_INIT_WITH_MASK)
    person = np.isin(seed, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.float32)
    alpha = cv2.resize(person, (width, height), interpolation=cv2.INTER_LINEAR)
    return cv2.GaussianBlur(alpha, (0, 0), 1.5)
