"""Generation plan: counts per style, retries within a budget, same results in parallel."""

from __future__ import annotations

import pytest
from PIL import Image

from avatar import testing
from avatar.backends.art import ArtBackend
from avatar.backends.base import StyleBackend
from avatar.checks import PhotoChecker
from avatar.config import CheckThresholds, IntakeLimits
from avatar.faces import FaceModels
from avatar.generate import Dropped, Made, Progress, generate, plan_counts
from avatar.moderation import NudityChecker
from avatar.styles import Style

pytestmark = pytest.mark.slow


class Flaky(StyleBackend):
    """Test double over the real art backend: some takes come out blank (no face)."""

    name = "flaky"

    def __init__(self, blank_every: int) -> None:
        self.art = ArtBackend()
        self.blank_every = blank_every
        self.calls = 0

    def catalog(self) -> list[Style]:
        return self.art.catalog()

    def render(self, portrait: Image.Image, style_id: str, variant: int, seed: int) -> Image.Image:
        self.calls += 1
        if (self.calls - 1) % self.blank_every == 0:  # the 1st, then every n-th take
            return Image.new("RGB", portrait.size, (128, 128, 128))
        return self.art.render(portrait, style_id, variant, seed)


@pytest.fixture(scope="module")
def checked():
    checker = PhotoChecker(FaceModels(), NudityChecker(), CheckThresholds(), IntakeLimits())
    result = checker.check(testing.selfie_uploads(3))
    assert len(result.accepted) == 3
    return checker, result


def test_counts_spread_evenly() -> None:
    assert plan_counts(30, ["a", "b", "c", "d", "e"]) == dict.fromkeys("abcde", 6)
    assert plan_counts(30, ["a", "b", "c", "d"]) == {"a": 8, "b": 8, "c": 7, "d": 7}
    assert sum(plan_counts(30, ["a", "b"]).values()) == 30


def test_parallel_takes_give_the_same_avatars_in_the_same_order(checked) -> None:
    checker, result = checked
    counts = {"duotone": 3, "pencil-sketch": 3}

    def run(workers: int) -> list[tuple]:
        events = generate(
            ArtBackend(), checker, result.accepted, result.reference, counts, 256, "job", workers
        )
        return [
            (e.style, e.photo_index, e.variant, round(e.similarity, 5), type(e).__name__)
            for e in events
            if not isinstance(e, Progress)
        ]

    one = run(1)
    assert len(one) == 6 and all(kind == "Made" for *_, kind in one)
    assert run(2) == one


def test_failed_takes_are_dropped_and_replaced_within_a_budget(checked) -> None:
    checker, result = checked

    # Every other take is blank: 3 wanted -> 3 kept, 3 dropped, 6 renders.
    flaky = Flaky(blank_every=2)
    events = list(
        generate(flaky, checker, result.accepted, result.reference, {"duotone": 3}, 256, "j")
    )
    made = [e for e in events if isinstance(e, Made)]
    dropped = [e for e in events if isinstance(e, Dropped)]
    assert (len(made), len(dropped), flaky.calls) == (3, 3, 6)
    assert {e.reason.code for e in dropped} == {"output_no_face"}
    assert [e.percent for e in made] == [pytest.approx(100 / 3), pytest.approx(200 / 3), 100.0]

    # Nothing works: the style gives up after twice the wanted count; the bar still ends.
    hopeless = Flaky(blank_every=1)
    events = list(
        generate(hopeless, checker, result.accepted, result.reference, {"duotone": 2}, 256, "j")
    )
    assert hopeless.calls == 4
    assert isinstance(events[-1], Progress) and events[-1].percent == 100.0
