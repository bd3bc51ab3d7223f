"""The shipped demo creator, loaded on demand by `persona demo`, `persona serve`, the red
team and the answers evaluation. Outside the command line, so the evaluation runners do not
import it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from channels.terminal import ingest_with_progress, print_ingest_report

if TYPE_CHECKING:
    from channels.services import Platform


def ensure_demo(services: Platform) -> str:
    """Load the shipped demo creator if it is not there yet (idempotent)."""
    from ingest.demo import DEMO_CREATOR_ID, DEMO_DISPLAY_NAME, demo_posts_path
    from persona.store import Creator

    with services.db.session() as session:
        present = session.get(Creator, DEMO_CREATOR_ID) is not None
    if not present:
        report = ingest_with_progress(
            services, demo_posts_path(), creator=DEMO_CREATOR_ID, display_name=DEMO_DISPLAY_NAME
        )
        print_ingest_report(report)
    return DEMO_CREATOR_ID
