"""Where the avatar studio keeps files: everything under <data_dir>/avatar/.

uploads/<job>/<n>.jpg     selfies, metadata-free; deleted at job end or after the TTL
outputs/<job>/<id>.jpg    labelled avatars; unchosen ones deleted after the retention
profiles/<key>.jpg        the creator's profile picture (a copy, kept until replaced)
previews/<backend>/...    catalog previews (no personal data)
signing/                  the local C2PA signing certificate, when no operator one is set
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path


class FileLayout:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def uploads(self) -> Path:
        return self.root / "uploads"

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    @property
    def profiles(self) -> Path:
        return self.root / "profiles"

    @property
    def signing(self) -> Path:
        return self.root / "signing"

    def previews(self, backend: str) -> Path:
        return self.root / "previews" / backend

    def uploads_dir(self, job_id: str) -> Path:
        return self.uploads / job_id

    def outputs_dir(self, job_id: str) -> Path:
        return self.outputs / job_id

    def profile_path(self, creator_id: str) -> Path:
        # Creator ids are not file names: hash them.
        key = hashlib.sha256(creator_id.encode()).hexdigest()[:32]
        return self.profiles / f"{key}.jpg"

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def resolve(self, relative: str) -> Path:
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"path escapes the avatar folder: {relative}")
        return path


def write_atomic(path: Path, data: bytes) -> None:
    """Readers see the whole file or none of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_tree(path: Path) -> bool:
    """Delete a folder and everything in it; True when something was there."""
    if not path.exists():
        return False
    shutil.rmtree(path, ignore_errors=True)
    return True


def remove_file(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
