"""The selfie and avatar checks, run with the real models on real photos from packages."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter

from avatar import testing
from avatar.checks import PhotoChecker
from avatar.config import CheckThresholds, IntakeLimits
from avatar.faces import FaceModels, to_bgr
from avatar.intake import Upload
from avatar.moderation import NudityChecker, NudityScores, nudity_reason
from avatar.portrait import portrait_crop

pytestmark = pytest.mark.slow


class AlwaysNude:
    """Test double: a nudity model that is sure about everything."""

    def score(self, image: Image.Image) -> NudityScores:
        return NudityScores(exposed=0.95, exposed_class="FEMALE_BREAST_EXPOSED", open_nsfw=0.97)


@pytest.fixture(scope="module")
def faces() -> FaceModels:
    return FaceModels(threads=1)


@pytest.fixture(scope="module")
def nudity() -> NudityChecker:
    return NudityChecker(threads=1)


@pytest.fixture(scope="module")
def checker(faces: FaceModels, nudity: NudityChecker) -> PhotoChecker:
    return PhotoChecker(faces, nudity, CheckThresholds(), IntakeLimits())


@pytest.fixture(scope="module")
def group_photo(tmp_path_factory: pytest.TempPathFactory) -> Image.Image:
    try:
        return testing.fetch_group_photo(tmp_path_factory.mktemp("insightface"))
    except RuntimeError as exc:
        pytest.skip(f"insightface's group photo could not be fetched from the package index: {exc}")


def upload(image: Image.Image, name: str = "photo.jpg") -> Upload:
    return Upload(name, testing.encode(image, "JPEG", quality=92))


def codes(verdict) -> list[str]:
    return [r.code for r in verdict.reasons]


def test_augmented_selfies_of_one_person_all_pass(checker: PhotoChecker) -> None:
    result = checker.check(testing.selfie_uploads(5))
    assert [v.accepted for v in result.verdicts] == [True] * 5, [codes(v) for v in result.verdicts]
    assert result.enough(3)
    assert result.reference is not None
    for verdict in result.verdicts:
        assert verdict.metrics["faces"] == 1
        assert verdict.metrics["similarity"] > 0.8
        assert verdict.metrics["face_px"] >= 80


def test_a_different_person_is_flagged_against_the_group(checker: PhotoChecker) -> None:
    uploads = testing.selfie_uploads(4) + [upload(testing.cameraman_closeup(), "other.jpg")]
    result = checker.check(uploads)
    other = result.verdicts[4]
    assert codes(other) == ["different_person"]
    assert "different person" in other.reasons[0].message
    assert other.metrics["similarity"] < CheckThresholds().same_person
    assert all(v.accepted for v in result.verdicts[:4])
    assert len(result.accepted) == 4


def test_group_photo_is_refused_for_several_faces(checker: PhotoChecker, group_photo) -> None:
    result = checker.check([upload(group_photo, "t1.jpg")])
    verdict = result.verdicts[0]
    assert not verdict.accepted
    # Only the faces: a group photo in summer clothes is not mistaken for nudity.
    assert codes(verdict) == ["several_faces"]
    assert "6 faces" in verdict.reasons[0].message
    assert verdict.metrics["open_nsfw"] < 0.5 and verdict.metrics["nudity_exposed"] < 0.35


def test_group_photo_faces_cropped_out_are_other_people(
    checker: PhotoChecker, faces: FaceModels, group_photo
) -> None:
    # Crop two people out of the group photo and slip them among the astronaut's selfies.
    found = faces.detect(to_bgr(group_photo))
    crops = [portrait_crop(group_photo, face, 512) for face in found[:2]]
    uploads = testing.selfie_uploads(3) + [upload(c, f"guest{i}.jpg") for i, c in enumerate(crops)]
    result = checker.check(uploads)
    assert [v.accepted for v in result.verdicts] == [True, True, True, False, False]
    assert codes(result.verdicts[3]) == ["different_person"]


def test_photo_without_a_face(checker: PhotoChecker) -> None:
    from skimage import data

    verdict = checker.check([upload(Image.fromarray(data.coffee()), "coffee.jpg")]).verdicts[0]
    assert codes(verdict) == ["no_face"]
    assert "could not find a face" in verdict.reasons[0].message


def test_small_face_is_measured_and_refused(checker: PhotoChecker) -> None:
    canvas = Image.new("RGB", (1200, 1200), (120, 130, 140))
    canvas.paste(testing.astronaut().resize((300, 300)), (450, 450))
    verdict = checker.check([upload(canvas)]).verdicts[0]
    assert codes(verdict) == ["face_too_small"]
    assert verdict.metrics["face_px"] < 80


def test_lighting_and_sharpness_gates(checker: PhotoChecker) -> None:
    astronaut = testing.astronaut()
    photos = {
        "blurry": astronaut.filter(ImageFilter.GaussianBlur(2.5)),
        "too_dark": ImageEnhance.Brightness(astronaut).enhance(0.3),
        "too_bright": ImageEnhance.Brightness(astronaut).enhance(1.8),
    }
    result = checker.check([upload(image, f"{name}.jpg") for name, image in photos.items()])
    for (name, _), verdict in zip(photos.items(), result.verdicts, strict=True):
        # A dark face also measures soft: only the lighting reason is given, it is the cause.
        assert codes(verdict) == [name], (name, verdict.metrics)
    t = CheckThresholds()
    assert result.verdicts[0].metrics["sharpness"] < t.min_sharpness
    assert result.verdicts[1].metrics["brightness"] < t.min_brightness
    assert result.verdicts[2].metrics["brightness"] > t.max_brightness


def test_harmless_photos_are_not_flagged_as_nudity(nudity: NudityChecker) -> None:
    from skimage import data

    harmless = [
        testing.astronaut(),
        testing.cameraman(),
        Image.fromarray(data.chelsea()),
        Image.fromarray(data.coffee()),
        *testing.augment(testing.astronaut(), 4),
    ]
    for image in harmless:
        scores = nudity.score(image)
        assert nudity_reason(scores, CheckThresholds()) is None, scores
        assert scores.open_nsfw < 0.5


def test_nudity_decision_needs_a_sure_model_or_two_agreeing() -> None:
    t = CheckThresholds()
    assert nudity_reason(NudityScores(0.0, None, 0.0), t) is None
    assert nudity_reason(NudityScores(0.5, "BUTTOCKS_EXPOSED", 0.3), t) is None
    assert nudity_reason(NudityScores(0.0, None, 0.85), t) is None
    assert nudity_reason(NudityScores(0.7, "FEMALE_BREAST_EXPOSED", 0.0), t).code == "nudity"
    assert nudity_reason(NudityScores(0.0, None, 0.95), t).code == "nudity"
    assert nudity_reason(NudityScores(0.4, "BUTTOCKS_EXPOSED", 0.65), t).code == "nudity"
    assert nudity_reason(NudityScores(0.7, "X", 0.0), t, output=True).code == "output_nudity"


def test_nudity_verdict_reaches_the_photo_and_the_avatar(faces: FaceModels) -> None:
    checker = PhotoChecker(faces, AlwaysNude(), CheckThresholds(), IntakeLimits())
    result = checker.check(testing.selfie_uploads(3))
    assert not result.accepted
    assert all(codes(v) == ["nudity"] for v in result.verdicts)
    assert "dressed" in result.verdicts[0].reasons[0].message

    astronaut = testing.astronaut()
    face = faces.detect(to_bgr(astronaut))[0]
    reference = faces.embed(to_bgr(astronaut), face)
    check = checker.check_output(portrait_crop(astronaut, face, 512), reference)
    assert check.reason is not None and check.reason.code == "output_nudity"


def test_output_checks_keep_likeness_and_drop_the_rest(checker: PhotoChecker, faces) -> None:
    astronaut = testing.astronaut()
    face = faces.detect(to_bgr(astronaut))[0]
    reference = faces.embed(to_bgr(astronaut), face)

    kept = checker.check_output(portrait_crop(astronaut, face, 512), reference)
    assert kept.reason is None and kept.similarity > 0.8

    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (512, 512, 3), np.uint8))
    assert checker.check_output(noise, reference).reason.code == "output_no_face"

    stranger = checker.check_output(testing.cameraman_closeup(), reference)
    assert stranger.reason.code == "output_not_you"
    assert stranger.similarity < CheckThresholds().output_similarity
