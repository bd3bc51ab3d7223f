"""The checks every selfie (and every avatar) goes through, each with a reason the user can act on.

Selfies: readable within limits -> exactly one face -> face big, lit and sharp enough ->
no nudity -> the same person as the group (SFace against the group's median embedding).
Avatars: still one recognisable face of the same person, and no nudity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from avatar.config import CheckThresholds, IntakeLimits
from avatar.faces import Face, FaceModels, cosine, median_embedding, to_bgr
from avatar.intake import Photo, PhotoRejectedError, Reason, Upload, decode_photo
from avatar.moderation import NudityModel, nudity_reason


@dataclass(slots=True)
class PhotoVerdict:
    index: int
    filename: str
    accepted: bool
    reasons: list[Reason] = field(default_factory=list)
    # What was measured (face size, sharpness, brightness, similarity...), for the UI and tuning.
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class CheckedPhoto:
    photo: Photo
    face: Face
    embedding: np.ndarray


@dataclass(slots=True)
class CheckResult:
    verdicts: list[PhotoVerdict]
    accepted: list[CheckedPhoto]
    # The group's identity: median of the accepted photos' embeddings (never stored on disk).
    reference: np.ndarray | None

    def enough(self, min_photos: int) -> bool:
        return len(self.accepted) >= min_photos


@dataclass(frozen=True, slots=True)
class OutputCheck:
    similarity: float
    reason: Reason | None


def face_quality(bgr: np.ndarray, face: Face) -> dict[str, float]:
    """Brightness and sharpness of the face region, measured on a fixed 112x112 grey crop."""
    import cv2

    height, width = bgr.shape[:2]
    x0, y0 = max(0, int(face.x)), max(0, int(face.y))
    x1, y1 = min(width, int(face.x + face.w)), min(height, int(face.y + face.h))
    grey = cv2.cvtColor(bgr[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY)
    grey = cv2.resize(grey, (112, 112), interpolation=cv2.INTER_AREA)
    return {
        "brightness": float(grey.mean()),
        "sharpness": float(cv2.Laplacian(grey, cv2.CV_64F).var()),
    }


def counted_faces(faces: list[Face], t: CheckThresholds) -> list[Face]:
    """Faces that count as people in the photo: a tiny face far behind does not."""
    if not faces:
        return []
    main = faces[0].size
    return [f for f in faces if f.size >= t.other_face_ratio * main]


class PhotoChecker:
    def __init__(
        self,
        faces: FaceModels,
        nudity: NudityModel,
        thresholds: CheckThresholds,
        limits: IntakeLimits,
    ) -> None:
        self.faces = faces
        self.nudity = nudity
        self.t = thresholds
        self.limits = limits

    def unavailable_reason(self) -> str | None:
        """None when the face and nudity models can run here, else what to install. Test
        doubles without the method count as available."""
        for models in (self.faces, self.nudity):
            probe = getattr(models, "unavailable_reason", None)
            reason = probe() if probe is not None else None
            if reason:
                return reason
        return None

    # -- selfies -----------------------------------------------------------------------------

    def check(self, uploads: Sequence[Upload]) -> CheckResult:
        verdicts: list[PhotoVerdict] = []
        candidates: list[tuple[PhotoVerdict, CheckedPhoto]] = []
        for index, upload in enumerate(uploads):
            verdict, checked = self._check_one(index, upload)
            verdicts.append(verdict)
            if checked is not None:
                candidates.append((verdict, checked))
        reference = self._check_identity(candidates)
        accepted = [checked for verdict, checked in candidates if verdict.accepted]
        return CheckResult(verdicts, accepted, reference)

    def _check_one(self, index: int, upload: Upload) -> tuple[PhotoVerdict, CheckedPhoto | None]:
        verdict = PhotoVerdict(index, upload.filename, accepted=False)
        try:
            photo = decode_photo(upload, index, self.limits)
        except PhotoRejectedError as rejected:
            verdict.reasons.append(rejected.reason)
            return verdict, None
        t = self.t
        bgr = to_bgr(photo.image)
        faces = counted_faces(self.faces.detect(bgr, t.face_score), t)
        verdict.metrics["faces"] = float(len(faces))
        face = faces[0] if len(faces) == 1 else None
        if not faces:
            verdict.reasons.append(
                Reason(
                    "no_face",
                    "We could not find a face. Use a photo where your whole face is visible, "
                    "facing the camera, without sunglasses or a mask.",
                )
            )
        elif len(faces) > 1:
            verdict.reasons.append(
                Reason(
                    "several_faces",
                    f"We found {len(faces)} faces. Use photos of only you, or crop the others out.",
                )
            )
        if face is not None:
            verdict.reasons.extend(self._face_reasons(bgr, face, verdict.metrics))
        scores = self.nudity.score(photo.image)
        verdict.metrics["open_nsfw"] = round(scores.open_nsfw, 4)
        verdict.metrics["nudity_exposed"] = round(scores.exposed, 4)
        nude = nudity_reason(scores, t)
        if nude is not None:
            verdict.reasons.append(nude)
        if verdict.reasons or face is None:
            return verdict, None
        verdict.accepted = True
        return verdict, CheckedPhoto(photo, face, self.faces.embed(bgr, face))

    def _face_reasons(self, bgr: np.ndarray, face: Face, metrics: dict[str, float]) -> list[Reason]:
        t = self.t
        reasons: list[Reason] = []
        short_side = min(bgr.shape[:2])
        fraction = face.h / short_side
        metrics.update(face_px=round(face.size, 1), face_fraction=round(fraction, 3))
        if face.size < t.min_face_px or fraction < t.min_face_fraction:
            reasons.append(
                Reason(
                    "face_too_small",
                    f"Your face is too small in this photo ({face.size:.0f} px, "
                    f"{fraction:.0%} of the picture). Take it closer, or crop around your face.",
                )
            )
        quality = face_quality(bgr, face)
        metrics.update({k: round(v, 1) for k, v in quality.items()})
        if quality["brightness"] < t.min_brightness:
            reasons.append(
                Reason(
                    "too_dark", "Your face is too dark. Take the photo facing a window or light."
                )
            )
        elif quality["brightness"] > t.max_brightness:
            reasons.append(
                Reason(
                    "too_bright",
                    "Your face is washed out by light. Avoid direct sun or flash on your face.",
                )
            )
        # A dark face also measures soft; the lighting reason above is the one to act on.
        elif quality["sharpness"] < t.min_sharpness:
            reasons.append(
                Reason(
                    "blurry",
                    "Your face is blurry. Hold the phone still and tap your face to focus.",
                )
            )
        return reasons

    def _check_identity(
        self, candidates: list[tuple[PhotoVerdict, CheckedPhoto]]
    ) -> np.ndarray | None:
        """Drop the photos that do not look like the rest; return the group's median embedding."""
        if not candidates:
            return None
        members = list(candidates)
        reference = median_embedding([c.embedding for _, c in members])
        # Twice: a first median may be pulled by an outsider; the second uses the inliers only.
        for _ in range(2):
            inliers = [
                (v, c) for v, c in members if cosine(c.embedding, reference) >= self.t.same_person
            ]
            if inliers:
                reference = median_embedding([c.embedding for _, c in inliers])
        for verdict, checked in candidates:
            similarity = cosine(checked.embedding, reference)
            verdict.metrics["similarity"] = round(similarity, 3)
            if len(candidates) > 1 and similarity < self.t.same_person:
                verdict.accepted = False
                verdict.reasons.append(
                    Reason(
                        "different_person",
                        "This looks like a different person from your other photos. "
                        "Use photos of only yourself.",
                    )
                )
        return reference

    # -- avatars -----------------------------------------------------------------------------

    def check_output(self, image: Image.Image, reference: np.ndarray) -> OutputCheck:
        """Does the avatar still show one face of the same person, without nudity?"""
        bgr = to_bgr(image)
        faces = self.faces.detect(bgr, 0.5)
        if not faces:
            return OutputCheck(0.0, Reason("output_no_face", "No face is visible in this avatar."))
        similarity = cosine(self.faces.embed(bgr, faces[0]), reference)
        if similarity < self.t.output_similarity:
            return OutputCheck(
                similarity,
                Reason("output_not_you", "This avatar no longer looked enough like you."),
            )
        nude = nudity_reason(self.nudity.score(image), self.t, output=True)
        return OutputCheck(similarity, nude)
