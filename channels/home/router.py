"""`/`: the first page a newcomer sees after `persona serve` (it answered a bare 404 before).

Public: it names the creators whose space is open and what serves them, never a database URL,
a token or a path on disk."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select

from channels.deps import PlatformDep
from channels.services import Platform
from persona.store import Creator, Post

HERE = Path(__file__).resolve().parent
CSS = HERE / "static" / "home.css"

templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class OpenSpace:
    id: str
    display_name: str
    posts: int


@dataclass(frozen=True, slots=True)
class Runtime:
    """What serves the replies, in words a newcomer can check against the README."""

    model: str
    vectors: str
    database: str


def open_spaces(services: Platform, limit: int = 50) -> list[OpenSpace]:
    """Creators with a voice profile (their space opens), most posts first."""
    counts = (
        select(Post.creator_id, func.count(Post.id).label("n")).group_by(Post.creator_id).subquery()
    )
    query = (
        select(Creator.id, Creator.display_name, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.creator_id == Creator.id)
        .where(Creator.profile.is_not(None))
        .order_by(func.coalesce(counts.c.n, 0).desc(), Creator.id)
        .limit(limit)
    )
    with services.db.session() as session:
        return [OpenSpace(i, name or i, int(n)) for i, name, n in session.execute(query).all()]


def runtime(services: Platform) -> Runtime:
    s = services.settings
    if s.llm_backend == "embedded":
        name = s.llm_model_path.name if s.llm_model_path else s.packaged_model
        model = f"{name} on the embedded llama.cpp server"
    elif s.llm_backend == "openai":
        model = f"{s.llm_model or 'a model'} on an OpenAI-compatible server (vLLM or similar)"
    else:
        model = f"the “{s.llm_backend}” backend"
    vectors = "Chroma (embedded)" if s.vector_backend == "chroma-embedded" else "Chroma server"
    url = s.resolved_database_url
    database = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}.get(
        url.split(":", 1)[0].split("+", 1)[0], "SQL database"
    )
    return Runtime(model=model, vectors=vectors, database=database)


@cache
def _css_version() -> str:
    return hashlib.sha256(CSS.read_bytes()).hexdigest()[:12]


HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, services: PlatformDep) -> Response:
    spaces = await asyncio.to_thread(open_spaces, services)
    return templates.TemplateResponse(
        request,
        "home.html",
        {
            "spaces": spaces,
            "runtime": runtime(services),
            "css": f"/home.css?v={_css_version()}",
        },
        headers=HEADERS,
    )


@router.get("/home.css")
def home_css() -> FileResponse:
    return FileResponse(
        CSS,
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
