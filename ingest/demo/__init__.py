"""The fictional demo creator shipped with the platform, so a fresh install has data to try.

Camille Roux (`camille.cuisine`) is invented: a bilingual French/English home-cooking creator
in Lyon. Her posts live in `camille.jsonl` beside this module, one JSON object a line:
`id`, `created` (ISO 8601, UTC), `text`, and on replies to fans `reply_to` (the fan's message)
and `fan` (the fan's handle). `FACTS.md` lists the facts the posts state and what they never do.
"""

from __future__ import annotations

import pathlib
from importlib import resources

DEMO_CREATOR_ID = "camille.cuisine"
DEMO_DISPLAY_NAME = "Camille Roux"
DEMO_POSTS_FILE = "camille.jsonl"


def demo_posts_path() -> pathlib.Path:
    """Path of the demo creator's posts, from a source checkout or an installed wheel."""
    resource = resources.files(__package__).joinpath(DEMO_POSTS_FILE)
    # Wheels install as plain files, so the traversable is a real path; a zipped install
    # (zipimport) is not supported by the ingest pipeline, which streams the file by path.
    path = pathlib.Path(str(resource))
    if not path.is_file():
        raise FileNotFoundError(
            f"demo posts not found at {path}; reinstall persona-platform so that its package "
            "data (ingest/demo/*.jsonl) is included"
        )
    return path
