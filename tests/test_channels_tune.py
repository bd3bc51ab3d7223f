"""persona tune through the command line: a versioned adapter trained from a creator's posts in the
platform's database (a tiny random Qwen2, the packaged tokenizer)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _creator_db(data_dir: Path) -> None:
    """A data dir whose database holds one creator with 80 posts (no index: tuning reads
    only the database)."""
    from channels.migrate import upgrade
    from persona.domain import PostKind, PostRecord
    from persona.store import Creator, Database, DatabaseConfig, Post
    from persona.style import build_profile

    records = [
        PostRecord(
            "camille",
            text,
            text,
            kind=PostKind.REPLY if i % 4 else PostKind.POST,
            lang="en",
            reply_to_text="Love your recipes!" if i % 8 == 1 else None,
        )
        for i, text in enumerate(f"Lemon tart number {i} is the best!! 🍋" for i in range(80))
    ]
    data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(DatabaseConfig(f"sqlite:///{data_dir / 'persona.db'}"))
    upgrade(db.engine)
    with db.session() as session:
        session.add(
            Creator(
                id="camille",
                display_name="Camille",
                profile=build_profile("camille", records).to_dict(),
                settings={},
            )
        )
        session.flush()
        for r in records:
            session.add(
                Post(
                    creator_id="camille",
                    content_hash=r.content_hash,
                    text=r.text,
                    clean_text=r.clean_text,
                    kind=str(r.kind),
                    lang=r.lang,
                    reply_to_text=r.reply_to_text,
                )
            )
    db.dispose()


def test_tune_command_trains_a_versioned_adapter(
    tiny_base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import typer
    from typer.testing import CliRunner

    from channels.cli.tune import tune
    from persona.tune.adapters import AdapterStatus, AdapterStore

    data_dir = tmp_path / "data"
    _creator_db(data_dir)
    monkeypatch.setenv("PERSONA_DATA_DIR", str(data_dir))
    app = typer.Typer()
    app.command()(tune)
    runner = CliRunner()
    base = ["camille", "--base", str(tiny_base), "--threads", "1", "--device", "cpu"]

    nothing = runner.invoke(app, [*base, "--resume"])
    assert nothing.exit_code == 1 and "no unfinished training" in nothing.output

    done = runner.invoke(app, [*base, "--max-steps", "2", "--top-layers", "1", "--rank", "2"])
    assert done.exit_code == 0, done.output
    assert "camille-v1" in done.output and "validation loss" in done.output
    version = AdapterStore(data_dir).latest("camille")
    assert version is not None and version.manifest.status == AdapterStatus.CANDIDATE
    assert version.has_weights() and not version.work_dir.exists()
    manifest = version.manifest
    assert (manifest.steps, manifest.total_steps) == (2, 2)
    assert manifest.base_model == tiny_base.name and len(manifest.base_sha256) == 64
    assert manifest.train_examples > 0 and manifest.val_loss is not None
    assert manifest.dataset["skipped"]["held_out"] > 0  # the eval's posts stayed out

    unknown = runner.invoke(app, ["nobody", "--base", str(tiny_base)])
    assert unknown.exit_code == 1 and "ingest their posts first" in unknown.output
