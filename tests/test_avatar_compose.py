"""Compositions (issue 20): the person cut out and set in a scene, a framing per take; scenes
drawn from numbers; perceptual-hash near-duplicates dropped; more varied than the photo crops.

Real models on real photos from packages (scikit-image's astronaut); no photo is committed.
"""

from __future__ import annotations

import itertools
import statistics

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from avatar import testing
from avatar.backends.art import ArtBackend
from avatar.backends.base import StyleBackend
from avatar.checks import PhotoChecker
from avatar.compose import FRAMINGS, Composer, Plan, _photo_fade, plan_take
from avatar.config import CheckThresholds, IntakeLimits
from avatar.diversity import NEAR_DUPLICATE_BITS, distance, job_report, median_pairwise, phash
from avatar.faces import FaceModels, to_bgr
from avatar.generate import NEAR_DUPLICATE, Dropped, Made, generate
from avatar.moderation import NudityChecker
from avatar.scenes import FAMILIES, SCENES, render_scene
from avatar.segment import PersonSegmenter, grabcut_mask, segmentation_problem
from avatar.styles import Style

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def faces() -> FaceModels:
    return FaceModels()


@pytest.fixture(scope="module")
def sitter(faces):
    image = testing.astronaut()
    return image, faces.detect(to_bgr(image))[0]


@pytest.fixture(scope="module")
def checked(faces):
    checker = PhotoChecker(faces, NudityChecker(), CheckThresholds(), IntakeLimits())
    result = checker.check(testing.selfie_uploads(3))
    assert len(result.accepted) == 3
    return checker, result


def _person_and_background(alpha: np.ndarray, face) -> tuple[float, float]:
    """Mean alpha inside the face box, and in the two top corners (sky behind the sitter)."""
    x, y, w, h = (int(v) for v in (face.x, face.y, face.w, face.h))
    inside = float(alpha[y + h // 4 : y + 3 * h // 4, x + w // 4 : x + 3 * w // 4].mean())
    corners = float(np.concatenate([alpha[:60, :60].ravel(), alpha[:60, -60:].ravel()]).mean())
    return inside, corners


def test_the_packaged_segmentation_model_cuts_out_the_person(sitter) -> None:
    assert segmentation_problem() is None, segmentation_problem()
    image, face = sitter
    segmenter = PersonSegmenter()
    assert segmenter.method == "selfie-model"
    alpha = segmenter.mask(to_bgr(image), face)
    assert alpha.shape == (512, 512) and alpha.dtype == np.float32
    inside, corners = _person_and_background(alpha, face)
    assert inside > 0.95 and corners < 0.05


def test_grabcut_fallback_is_anchored_on_the_face(sitter) -> None:
    image, face = sitter
    assert PersonSegmenter(use_model=False).method == "grabcut"
    inside, corners = _person_and_background(grabcut_mask(to_bgr(image), face), face)
    assert inside > 0.9 and corners < 0.2


def test_scenes_are_drawn_per_seed_and_show_no_face(faces) -> None:
    # Every kind in every style family draws, differs with the seed, repeats with it, and
    # contains nothing YuNet takes for a face (never a photo of someone else).
    for kind in SCENES:
        style = next(s for s, fam in FAMILIES.items() if kind in fam.kinds)
        index = FAMILIES[style].kinds.index(kind)
        got, one = render_scene(style, index, 256, seed=1)
        assert got == kind and one.shape == (256, 256, 3) and one.dtype == np.uint8
        assert np.array_equal(one, render_scene(style, index, 256, seed=1)[1])
        assert not np.array_equal(one, render_scene(style, index, 256, seed=2)[1])
        assert faces.detect(np.ascontiguousarray(one[:, :, ::-1]), 0.5) == [], kind


@pytest.mark.parametrize("framing", FRAMINGS[:3], ids=lambda f: f.name)
def test_the_face_lands_where_the_framing_says(faces, sitter, framing) -> None:
    image, face = sitter
    composer = Composer(PersonSegmenter())
    for mirror in (False, True):
        plan = Plan(framing, mirror, 0, 0.0, 0.0, 0.0)
        composed = composer.compose(image, face, "duotone", plan, 512, 3)
        found = faces.detect(to_bgr(composed.image))[0]
        x = (1 - framing.x) if mirror else framing.x
        assert found.center[0] == pytest.approx(x * 512, abs=20)
        assert found.center[1] == pytest.approx(framing.y * 512, abs=20)
        assert found.h == pytest.approx(framing.face * 512, rel=0.12)
        assert composed.face[3] == pytest.approx(framing.face * 512, rel=0.01)


def test_a_close_selfie_is_zoomed_and_faded_where_the_photo_ends(faces, sitter) -> None:
    image, _ = sitter
    tight = image.crop((150, 20, 330, 230)).resize((360, 420))  # the photo ends at the chin
    face = faces.detect(to_bgr(tight))[0]
    # Placed as a bust, the photo's bottom edge would sit inside the canvas: the person fades
    # to nothing there instead of smearing the last row of pixels down to the bottom.
    matrix = np.float32([[1, 0, 100], [0, 1, 20]])
    fade = _photo_fade((420, 360), matrix, 512)
    assert fade[20 + 210, 100 + 180] == 1.0  # well inside the photo
    assert fade[500, 280] == 0.0 and fade[20 + 419, 280] < 0.05  # below it, and at its edge
    assert _photo_fade((2000, 2000), np.float32([[1, 0, -500], [0, 1, -500]]), 512).min() == 1
    composed = Composer(PersonSegmenter()).compose(
        tight, face, "duotone", Plan(FRAMINGS[1], False, 0, 0.0, 0.0, 0.0), 512, 1
    )
    # Zoomed in (up to a third) so that more of the canvas is person.
    assert composed.face[3] > FRAMINGS[1].face * 512 * 1.2


def test_phash_tells_near_duplicates_from_different_pictures(sitter) -> None:
    image, _ = sitter
    base = phash(image)
    assert distance(base, phash(ImageEnhance.Brightness(image).enhance(1.1))) < 6
    assert distance(base, phash(image.resize((200, 200)).resize((512, 512)))) < 6
    assert distance(base, phash(image.transpose(Image.Transpose.FLIP_TOP_BOTTOM))) > 20
    assert median_pairwise([base, base]) == 0.0
    report = job_report([0.5, 0.7, 0.6], [base, base ^ 0xFFFF, base ^ 0xFF], 1, "scene", "x")
    assert (report.likeness_median, report.likeness_min, report.closest_pair_bits) == (0.6, 0.5, 8)


class Still(StyleBackend):
    """Test double: the same picture whatever it is asked (every take a near-duplicate)."""

    name = "still"

    def __init__(self, picture: Image.Image) -> None:
        self.picture = picture

    def catalog(self) -> list[Style]:
        return [Style("same", "Same", "Always the same picture.", "a test double")]

    def render(self, portrait: Image.Image, style_id: str, variant: int, seed: int) -> Image.Image:
        return self.picture.copy()


def test_near_duplicates_are_dropped_and_replaced_within_the_budget(checked) -> None:
    checker, result = checked
    events = list(
        generate(
            Still(testing.astronaut()),
            checker,
            result.accepted,
            result.reference,
            {"same": 3},
            512,
            "job",
            composer=Composer(PersonSegmenter()),
            min_distance=NEAR_DUPLICATE_BITS,
        )
    )
    made = [e for e in events if isinstance(e, Made)]
    dropped = [e for e in events if isinstance(e, Dropped)]
    # One kept; every later take is the same picture: dropped, until the budget (2 x 3) ends.
    assert len(made) == 1 and len(dropped) == 5
    assert all(d.reason == NEAR_DUPLICATE for d in dropped)


def test_scene_avatars_differ_more_than_photo_crops_and_none_is_a_near_duplicate(
    checked,
) -> None:
    checker, result = checked
    counts = {"duotone": 6, "comic": 6}

    def run(composer: Composer | None) -> list[Made]:
        events = generate(
            ArtBackend(),
            checker,
            result.accepted,
            result.reference,
            counts,
            512,
            "job",
            composer=composer,
            min_distance=NEAR_DUPLICATE_BITS if composer else 0,
        )
        return [e for e in events if isinstance(e, Made)]

    scene = run(Composer(PersonSegmenter()))
    photo = run(None)
    assert len(scene) == len(photo) == 12
    hashes = [m.hash for m in scene]
    assert min(distance(a, b) for a, b in itertools.combinations(hashes, 2)) >= (
        NEAR_DUPLICATE_BITS
    )
    # Different framings and scenes, not the same crop repeated.
    assert len({m.composition.split("/")[0] for m in scene}) == len(FRAMINGS)
    assert len({m.composition.split("/")[1] for m in scene}) >= 5
    # Measurably more varied than the photo crops, and no less like the person.
    assert median_pairwise(hashes) >= median_pairwise([m.hash for m in photo]) + 4
    scene_likeness = statistics.median(m.similarity for m in scene)
    assert scene_likeness >= statistics.median(m.similarity for m in photo) - 0.05
    assert plan_take(0, 0, 1).framing != plan_take(1, 0, 1).framing


class Mirror(StyleBackend):
    """Test double with an identity prompt: returns the composition, records the prompts."""

    name = "mirror"
    identity_prompt = True

    def __init__(self) -> None:
        self.identities: list[Image.Image] = []

    def catalog(self) -> list[Style]:
        return [Style("same", "Same", "The composition itself.", "a test double")]

    def render(self, portrait: Image.Image, style_id: str, variant: int, seed: int) -> Image.Image:
        raise AssertionError("a backend with an identity prompt gets render_with_identity")

    def render_with_identity(self, portrait, style_id, variant, seed, identity) -> Image.Image:
        self.identities.append(identity)
        return portrait


def test_a_backend_with_an_identity_prompt_gets_the_selfie_face(checked, faces) -> None:
    checker, result = checked
    backend = Mirror()
    events = generate(
        backend, checker, result.accepted, result.reference, {"same": 2}, 512, "job",
        composer=Composer(PersonSegmenter()),
    )  # fmt: skip
    assert [type(e) for e in events] == [Made, Made]
    assert [i.size for i in backend.identities] == [(224, 224), (224, 224)]
    # The prompt is the face, filling the crop.
    found = faces.detect(to_bgr(backend.identities[0]))
    assert len(found) == 1 and found[0].h > 224 * 0.45
