"""The README's newcomer commands work as written: the avatar styles it names exist, and the
console-account commands it gives make an account one can sign in with."""

from __future__ import annotations

import os
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from channels.cli.avatar import avatar_app
from channels.console.auth import AuthConfig, sign_in
from persona.store import Database, DatabaseConfig

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def test_the_avatar_example_names_styles_that_exist(tmp_path: Path) -> None:
    named = {s for m in re.findall(r"--styles ([\w,-]+)", README) for s in m.split(",")}
    assert named, "the README shows no avatar example"
    env = {"PERSONA_DATA_DIR": str(tmp_path / "data"), "PERSONA_LOG_LEVEL": "WARNING"}
    listing = CliRunner().invoke(avatar_app, ["styles"], env=env)
    assert listing.exit_code == 0, listing.output
    catalog = {line.split()[0] for line in listing.output.splitlines() if line.strip()}
    assert named <= catalog, f"unknown in the README: {named - catalog}"


def test_the_readme_account_commands_make_an_account(tmp_path: Path) -> None:
    blocks = re.findall(r"```bash\n(.*?)```", README, re.S)
    piped = next(b.strip() for b in blocks if "create-creator" in b and "--password-stdin" in b)
    typed = next(b.strip() for b in blocks if "create-creator" in b and b.strip() != piped)
    local = REPO / ".venv" / "bin" / "persona"
    persona = str(local) if local.exists() else "persona"
    env = {**os.environ, "PERSONA_DATA_DIR": str(tmp_path / "data"), "PERSONA_LOG_LEVEL": "WARNING"}
    env["PASSWORD"] = "a newcomer's passphrase"

    def run(command: str) -> subprocess.CompletedProcess[str]:
        command = command.replace(".venv/bin/persona", persona)
        return subprocess.run(
            ["bash", "-c", command], env=env, stdin=subprocess.DEVNULL, capture_output=True,
            text=True, timeout=120, cwd=REPO,
        )  # fmt: skip

    # Without a terminal the typed form says what to do instead of failing with "Aborted.".
    refused = run(typed)
    assert refused.returncode == 2 and "--password-stdin" in refused.stderr
    made = run(piped)
    assert made.returncode == 0, made.stderr
    assert "/console/login" in made.stdout
    db = Database(DatabaseConfig(f"sqlite:///{tmp_path / 'data' / 'persona.db'}"))
    try:
        session = sign_in(db, "camille.cuisine", env["PASSWORD"], datetime.now(UTC), AuthConfig())
        assert session.creator_id == "camille.cuisine"
    finally:
        db.dispose()
