"""`persona avatar styles` and `persona avatar SELFIES... --styles --out` (channels.cli.avatar)."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from avatar import testing
from avatar.labels import read_label
from channels.cli.avatar import avatar_app

runner = CliRunner()


@pytest.fixture
def persona(tmp_path, monkeypatch):
    """The avatar sub-app mounted as the real `persona` command mounts it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PERSONA_DATA_DIR", str(tmp_path / "data"))
    app = typer.Typer()
    app.add_typer(avatar_app, name="avatar")

    @app.command()
    def version() -> None:  # a second command, so "avatar" stays a sub-command
        print("0")

    return app


def test_styles_lists_one_id_per_line_then_its_description(persona) -> None:
    result = runner.invoke(persona, ["avatar", "styles"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 10
    ids = [line.split()[0] for line in lines]
    assert ids[0] == "painted-sunlit" and "duotone" in ids
    assert "Two-colour print" in lines[ids.index("duotone")]


@pytest.mark.slow
def test_selfies_to_avatars_in_a_folder(persona, tmp_path) -> None:
    paths = []
    for upload in testing.selfie_uploads(3):
        path = tmp_path / upload.filename
        path.write_bytes(upload.data)
        paths.append(str(path))
    out = tmp_path / "avatars"
    args = ["avatar", *paths, "--styles", "duotone,pencil-sketch", "--out", str(out)]
    result = runner.invoke(persona, args)
    assert result.exit_code == 0, result.output
    written = sorted(out.glob("*.jpg"))
    assert len(written) == 30
    assert written[0].name.startswith("01-")
    assert all(read_label(p.read_bytes()).ai_generated for p in written[:3])
    assert "30 avatars written" in result.stdout
    # The studio kept no selfie.
    assert not any((tmp_path / "data" / "avatar" / "uploads").rglob("*.jpg"))

    # Same creator, same day: refused with the time of the next chance.
    again = runner.invoke(persona, args)
    assert again.exit_code == 1
    assert "a day" in again.output


def test_clear_errors_for_missing_files_and_bad_styles(persona, tmp_path) -> None:
    missing = runner.invoke(persona, ["avatar", "nope.jpg", "--styles", "a,b", "--out", "x"])
    assert missing.exit_code == 2 and "no such file" in missing.output
    photo = tmp_path / "p.jpg"
    photo.write_bytes(testing.selfie_uploads(1)[0].data)
    bad = runner.invoke(
        persona,
        ["avatar", str(photo), str(photo), str(photo), "--styles", "duotone,magic", "--out", "x"],
    )
    assert bad.exit_code == 1 and "choose from" in bad.output
