"""The avatar service end to end: a full job, privacy deadlines, the daily limit, restarts.

Real models, real files, a real SQLite database; time is a fake clock handed to the service
(the deadlines are compared with it), so no test waits or depends on timing.
"""

from __future__ import annotations

import io
import itertools
import statistics
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import create_engine, event

from avatar import (
    AvatarBase,
    AvatarConfig,
    AvatarService,
    DailyLimitError,
    IntakeError,
    JobState,
    NotFoundError,
    StyleError,
    Upload,
    testing,
)
from avatar.checks import CheckThresholds
from avatar.diversity import NEAR_DUPLICATE_BITS, distance, phash
from avatar.faces import FaceModels
from avatar.labels import TRAINED_ALGORITHMIC_MEDIA, read_label
from avatar.moderation import NudityChecker

pytestmark = pytest.mark.slow

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
FIVE_STYLES = ["painted-pastel", "painted-dusk", "pencil-sketch", "duotone", "comic"]
FAST_STYLES = ["duotone", "pencil-sketch"]


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def sqlite_engine(path: Path):
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _wal(connection, _record) -> None:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA busy_timeout=10000")

    AvatarBase.metadata.create_all(engine)
    return engine


@pytest.fixture(scope="module")
def models():
    # Shared across services: loading them once keeps the module fast.
    return FaceModels(threads=1), NudityChecker(threads=1)


@pytest.fixture
def make_service(tmp_path, models):
    engine = sqlite_engine(tmp_path / "avatar.db")
    made: list[AvatarService] = []

    def make(clock: Clock, **config) -> AvatarService:
        faces, nudity = models
        config.setdefault("max_outputs", 4)
        service = AvatarService(
            AvatarConfig(data_dir=tmp_path, **config),
            engine,
            clock=clock,
            faces=faces,
            nudity=nudity,
        )
        made.append(service)
        return service

    yield make
    for service in made:
        service.stop()
    engine.dispose()


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def selfies_with_metadata(n: int = 3) -> list[Upload]:
    """Selfies that carry EXIF with GPS and a comment, as phone photos do."""
    uploads = []
    for i, image in enumerate(testing.augment(testing.astronaut(), n)):
        exif = Image.Exif()
        exif[0x010F] = "PhoneMaker"
        exif.get_ifd(0x8825).update({1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)})
        data = testing.encode(image, "JPEG", quality=92, exif=exif, comment=b"my home address")
        uploads.append(Upload(f"phone-{i}.jpg", data))
    return uploads


# -- the full job: 30 avatars from 5 selfies in 5 styles ------------------------------------


@pytest.fixture(scope="module")
def full_job(tmp_path_factory, models):
    folder = tmp_path_factory.mktemp("full-job")
    engine = sqlite_engine(folder / "avatar.db")
    faces, nudity = models
    service = AvatarService(AvatarConfig(data_dir=folder), engine, faces=faces, nudity=nudity)
    submission = service.submit("ana", testing.selfie_uploads(5), FIVE_STYLES)
    seen: list = []
    service.run_pending(on_progress=seen.append)
    yield service, submission, seen
    engine.dispose()


def test_full_job_makes_30_ranked_labelled_avatars(full_job) -> None:
    service, submission, seen = full_job
    assert submission.job is not None and len(submission.verdicts) == 5
    status = service.status("ana", submission.job.id)
    assert status.state is JobState.DONE, status.message
    assert (status.images_done, status.images_total, status.percent) == (30, 30, 100.0)

    outputs = service.outputs("ana", submission.job.id)
    assert len(outputs) == 30
    assert {o.style for o in outputs} == set(FIVE_STYLES)
    assert all(sum(o.style == s for o in outputs) == 6 for s in FIVE_STYLES)
    # Ranked by likeness, best first; none below the likeness threshold.
    assert [o.rank for o in outputs] == list(range(1, 31))
    similarities = [o.similarity for o in outputs]
    assert similarities == sorted(similarities, reverse=True)
    assert min(similarities) >= CheckThresholds().output_similarity
    # Every avatar is a labelled 512 px JPEG whose label reads back.
    for output in outputs:
        data = service.output_file("ana", output.id).read_bytes()
        label = read_label(data)
        assert label.xmp_source_type == TRAINED_ALGORITHMIC_MEDIA
        assert label.c2pa_source_type == TRAINED_ALGORITHMIC_MEDIA
        assert output.label == "c2pa+xmp"
        assert Image.open(io.BytesIO(data)).size == (512, 512)
    # The job's report: likeness and diversity of the set; no two avatars near-duplicates.
    report = status.report
    assert report["avatars"] == 30 and report["composition"] == "scene"
    assert report["likeness_median"] == pytest.approx(statistics.median(similarities), abs=2e-3)
    assert report["closest_pair_bits"] >= NEAR_DUPLICATE_BITS
    # Read back from the stored JPEGs (re-encoded, so a few bits of slack): still far apart.
    hashes = [phash(Image.open(service.output_file("ana", o.id))) for o in outputs]
    assert min(distance(a, b) for a, b in itertools.combinations(hashes, 2)) >= 8
    # Retention shown to the creator: a week after the job ended.
    assert status.outputs_expire_at == status.finished_at + timedelta(days=7)
    assert all(o.expires_at == status.outputs_expire_at for o in outputs)


def test_full_job_reports_progress_and_deletes_the_uploads(full_job) -> None:
    service, submission, seen = full_job
    percents = [s.percent for s in seen]
    assert percents == sorted(percents), "progress never goes back"
    assert [s.images_done for s in seen] == sorted(s.images_done for s in seen)
    assert seen[-1].state is JobState.DONE and seen[-1].percent == 100.0
    assert len(seen) >= 30
    status = service.status("ana", submission.job.id)
    assert status.uploads_deleted
    assert files_under(service.files.uploads) == []


def test_zip_of_some_or_all_and_profile_picture(full_job) -> None:
    service, submission, _ = full_job
    job_id = submission.job.id
    outputs = service.outputs("ana", job_id)
    everything = zipfile.ZipFile(io.BytesIO(service.zip_bytes("ana", job_id)))
    assert len(everything.namelist()) == 30
    assert everything.namelist()[0].startswith("01-")
    some = zipfile.ZipFile(
        io.BytesIO(service.zip_bytes("ana", job_id, [o.id for o in outputs[:3]]))
    )
    assert len(some.namelist()) == 3
    with pytest.raises(NotFoundError):
        service.zip_bytes("ana", job_id, ["nope"])

    picture = service.set_profile_picture("ana", outputs[4].id)
    assert picture.path.read_bytes() == service.output_file("ana", outputs[4].id).read_bytes()
    assert service.profile_picture("ana").output_id == outputs[4].id
    assert [o.chosen for o in service.outputs("ana", job_id) if o.id == outputs[4].id] == [True]

    # Another creator sees none of it.
    with pytest.raises(NotFoundError):
        service.status("bob", job_id)
    with pytest.raises(NotFoundError):
        service.output_file("bob", outputs[0].id)
    with pytest.raises(NotFoundError):
        service.profile_picture("bob")


# -- intake rules ------------------------------------------------------------------------------


def test_uploads_are_stored_without_any_metadata(make_service) -> None:
    service = make_service(Clock())
    submission = service.submit("ana", selfies_with_metadata(3), FAST_STYLES)
    stored = files_under(service.files.uploads_dir(submission.job.id))
    assert len(stored) == 3
    for path in stored:
        data = path.read_bytes()
        image = Image.open(io.BytesIO(data))
        assert len(image.getexif()) == 0
        assert "comment" not in image.info and "xmp" not in image.info
        assert b"PhoneMaker" not in data and b"my home address" not in data
    service.run_pending()
    for output in service.outputs("ana", submission.job.id):
        data = service.output_file("ana", output.id).read_bytes()
        assert b"PhoneMaker" not in data and b"my home address" not in data
        assert len(Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)) == 0


def test_job_starts_only_when_enough_photos_pass(make_service) -> None:
    from skimage import data

    service = make_service(Clock())
    no_face = Upload("coffee.jpg", testing.encode(Image.fromarray(data.coffee()), "JPEG"))
    submission = service.submit("ana", [*testing.selfie_uploads(2), no_face], FAST_STYLES)
    assert submission.job is None
    assert [v.accepted for v in submission.verdicts] == [True, True, False]
    assert "at least 3" in submission.message
    assert files_under(service.files.root / "uploads") == []
    # A refused upload does not use up the day's job.
    assert service.quota("ana").used == 0


def test_wrong_counts_and_styles_are_refused_before_any_check(make_service) -> None:
    service = make_service(Clock())
    three = testing.selfie_uploads(3)
    with pytest.raises(IntakeError, match="3 to 10 photos"):
        service.submit("ana", three[:2], FAST_STYLES)
    with pytest.raises(IntakeError, match="3 to 10 photos"):
        service.submit("ana", three * 4, FAST_STYLES)
    with pytest.raises(StyleError, match="2 to 5"):
        service.submit("ana", three, ["duotone"])
    with pytest.raises(StyleError, match="choose from"):
        service.submit("ana", three, ["duotone", "magic"])


# -- daily limit -------------------------------------------------------------------------------


def test_one_job_a_day_per_creator(make_service) -> None:
    clock = Clock()
    service = make_service(clock)
    uploads = testing.selfie_uploads(3)
    assert service.submit("ana", uploads, FAST_STYLES).job is not None
    with pytest.raises(DailyLimitError) as limited:
        service.submit("ana", uploads, FAST_STYLES)
    assert limited.value.next_allowed_at == T0 + timedelta(days=1)
    assert "1 avatar job a day" in str(limited.value)
    # Other creators have their own day.
    assert service.submit("bob", uploads, FAST_STYLES).job is not None

    clock.advance(24 * 3600 - 1)
    with pytest.raises(DailyLimitError):
        service.submit("ana", uploads, FAST_STYLES)
    clock.advance(2)
    assert service.submit("ana", uploads, FAST_STYLES).job is not None


def test_daily_limit_is_configurable_and_cancelled_jobs_do_not_count(make_service) -> None:
    service = make_service(Clock(), daily_limit=2)
    uploads = testing.selfie_uploads(3)
    first = service.submit("ana", uploads, FAST_STYLES).job
    service.submit("ana", uploads, FAST_STYLES)
    with pytest.raises(DailyLimitError, match="2 avatar jobs a day"):
        service.submit("ana", uploads, FAST_STYLES)
    cancelled = service.cancel("ana", first.id)
    assert cancelled.state is JobState.CANCELLED
    assert service.quota("ana").used == 1
    assert service.submit("ana", uploads, FAST_STYLES).job is not None

    unlimited = make_service(Clock(), daily_limit=None)
    assert unlimited.quota("ana").next_allowed_at is None


# -- deletion deadlines --------------------------------------------------------------------------


def test_uploads_are_gone_five_minutes_after_upload_even_if_the_job_never_ran(make_service) -> None:
    clock = Clock()
    service = make_service(clock)
    job = service.submit("ana", testing.selfie_uploads(3), FAST_STYLES).job
    folder = service.files.uploads_dir(job.id)
    assert len(files_under(folder)) == 3
    assert job.uploads_expire_at == T0 + timedelta(seconds=300)

    clock.advance(299)
    service.sweep()
    assert len(files_under(folder)) == 3

    clock.advance(2)
    report = service.sweep()
    assert report.uploads_deleted == 1 and report.jobs_failed == 1
    assert not folder.exists()
    status = service.status("ana", job.id)
    assert status.state is JobState.FAILED and status.uploads_deleted
    assert "deleted for privacy" in status.message
    # The failed job does not count toward the day.
    assert service.quota("ana").used == 0


def test_upload_deadline_holds_across_a_restart(make_service) -> None:
    clock = Clock()
    before = make_service(clock)
    job = before.submit("ana", testing.selfie_uploads(3), FAST_STYLES).job
    folder = before.files.uploads_dir(job.id)
    assert folder.exists()
    # The process dies without stopping anything; a new one starts 6 minutes later.
    clock.advance(360)
    after = make_service(clock)
    after.start()
    after.stop()
    assert not folder.exists()
    assert after.status("ana", job.id).state is JobState.FAILED


def test_unchosen_outputs_are_deleted_after_the_retention(make_service) -> None:
    clock = Clock()
    service = make_service(clock, output_retention_s=3600)
    job = service.submit("ana", testing.selfie_uploads(3), FAST_STYLES).job
    service.run_pending()
    outputs = service.outputs("ana", job.id)
    assert len(outputs) == 4
    keep, favourite, *rest = outputs
    service.choose("ana", job.id, [favourite.id])
    service.set_profile_picture("ana", keep.id)
    paths = {o.id: service.output_file("ana", o.id) for o in outputs}
    assert all(o.expires_at == T0 + timedelta(hours=1) for o in rest)

    clock.advance(3599)
    assert service.sweep().outputs_deleted == 0
    clock.advance(2)
    assert service.sweep().outputs_deleted == len(rest)
    for output in rest:
        assert not paths[output.id].exists()
        with pytest.raises(NotFoundError):
            service.output_file("ana", output.id)
    assert paths[keep.id].exists() and paths[favourite.id].exists()
    assert {o.id for o in service.outputs("ana", job.id)} == {keep.id, favourite.id}
    assert service.profile_picture("ana").path.exists()

    # Un-choosing a favourite after the retention lets the next sweep delete it.
    service.choose("ana", job.id, [favourite.id], chosen=False)
    service.sweep()
    assert not paths[favourite.id].exists()


# -- jobs: cancel, worker thread, restart ----------------------------------------------------------


def test_cancelling_a_running_job_deletes_what_it_made(make_service) -> None:
    service = make_service(Clock(), max_outputs=6)
    job = service.submit("ana", testing.selfie_uploads(3), FAST_STYLES).job

    def cancel_after_first(status) -> None:
        if status.images_done == 1:
            service.cancel("ana", job.id)

    final = service.run_pending(on_progress=cancel_after_first)
    assert final == [job.id]
    status = service.status("ana", job.id)
    assert status.state is JobState.CANCELLED and status.uploads_deleted
    assert service.outputs("ana", job.id) == []
    assert files_under(service.files.outputs_dir(job.id)) == []
    assert files_under(service.files.uploads_dir(job.id)) == []


def test_worker_thread_runs_queued_jobs(make_service) -> None:
    import time

    service = make_service(Clock())
    service.start()
    job = service.submit("ana", testing.selfie_uploads(3), FAST_STYLES).job
    deadline = time.monotonic() + 300
    while not service.status("ana", job.id).finished and time.monotonic() < deadline:
        time.sleep(0.2)
    service.stop()
    status = service.status("ana", job.id)
    assert status.state is JobState.DONE and status.images_done == 4


def test_stopping_the_service_puts_the_running_job_back_in_the_queue(make_service) -> None:
    service = make_service(Clock())
    job = service.submit("ana", testing.selfie_uploads(3), FAST_STYLES).job
    assert service.book.claim_next() == job.id
    service.runner.stopping = lambda: True  # what stop() signals to the worker
    status = service.process(job.id)
    assert status.state is JobState.QUEUED and not status.uploads_deleted
    assert len(files_under(service.files.uploads_dir(job.id))) == 3
    assert service.outputs("ana", job.id) == []
    service.runner.stopping = lambda: False
    assert service.run_pending() == [job.id]
    assert service.status("ana", job.id).state is JobState.DONE


def test_a_job_interrupted_by_a_restart_is_resumed(make_service) -> None:
    clock = Clock()
    crashed = make_service(clock)
    job = crashed.submit("ana", testing.selfie_uploads(3), FAST_STYLES).job
    # A worker claims the job, then the process dies before making anything.
    assert crashed.book.claim_next() == job.id
    assert crashed.status("ana", job.id).state is JobState.RUNNING

    clock.advance(130)  # past stale_job_s (120 s), within the 300 s upload TTL
    restarted = make_service(clock)
    report = restarted.sweep()
    assert report.jobs_requeued == 1
    assert restarted.run_pending() == [job.id]
    assert restarted.status("ana", job.id).state is JobState.DONE


def test_a_job_interrupted_after_its_uploads_expired_fails_cleanly(make_service) -> None:
    clock = Clock()
    crashed = make_service(clock)
    job = crashed.submit("ana", testing.selfie_uploads(3), FAST_STYLES).job
    crashed.book.claim_next()
    clock.advance(400)
    restarted = make_service(clock)
    report = restarted.sweep()
    assert report.jobs_failed == 1
    status = restarted.status("ana", job.id)
    assert status.state is JobState.FAILED and status.uploads_deleted
    assert not restarted.files.uploads_dir(job.id).exists()


def test_orphan_files_without_a_job_are_swept(make_service) -> None:
    import os

    service = make_service(Clock())
    stray = service.files.uploads_dir("deadbeef") / "0.jpg"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"left by a crash")
    old = stray.stat().st_mtime - 3600
    os.utime(stray.parent, (old, old))
    assert service.sweep().orphans_deleted == 1
    assert not stray.parent.exists()


def test_delete_job_removes_its_avatars_now(make_service) -> None:
    service = make_service(Clock())
    job = service.submit("ana", testing.selfie_uploads(3), FAST_STYLES).job
    service.run_pending()
    folder = service.files.outputs_dir(job.id)
    assert len(files_under(folder)) == 4
    service.delete_job("ana", job.id)
    assert not folder.exists()
    with pytest.raises(NotFoundError):
        service.status("ana", job.id)
    assert service.jobs("ana") == []
    # Deleting the day's job does not give it back.
    assert service.quota("ana").used == 1
