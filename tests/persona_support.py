"""The persona library built alone, the way an application that embeds it would: a database
(its own tables), the post index, the embeddings, a model backend and the reply engine. No
`channels/`: persona's tests must not need the platform around the library."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from langchain_core.embeddings import Embeddings

import tests.doubles  # noqa: F401 - registers the scripted backend
from ingest.demo import DEMO_CREATOR_ID, DEMO_DISPLAY_NAME, demo_posts_path
from ingest.pipeline import Ingestor, ingest_file
from persona.engine.engine import EngineConfig, ReplyEngine
from persona.engine.safety_guard import SafetyGuard
from persona.llm import LLMBackend, LLMConfig, open_backend
from persona.retrieval.embeddings import EmbeddingsConfig, create_embeddings
from persona.retrieval.index import PostIndex, VectorStoreConfig
from persona.store import Base, Database, DatabaseConfig


@dataclass
class Library:
    db: Database
    index: PostIndex
    embeddings: Embeddings
    llm: LLMBackend

    @cached_property
    def engine(self) -> ReplyEngine:
        # On first use, so that a test sets the scripted model's lines before (the scripted
        # backend copies them into each chat model it makes).
        return ReplyEngine(
            self.db,
            self.index,
            self.embeddings,
            self.llm.chat_model(),
            SafetyGuard(),
            EngineConfig(prefill=self.llm.continues_assistant_prefix),
            adapters=self.llm,
        )

    def close(self) -> None:
        self.llm.stop()
        self.db.dispose()


def open_library(data_dir: Path, llm: LLMConfig | None = None) -> Library:
    """Persona's parts over `data_dir` (its tables created when missing), with the scripted
    model unless `llm` says otherwise."""
    data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(DatabaseConfig(f"sqlite:///{data_dir / 'persona.db'}"))
    Base.metadata.create_all(db.engine)
    embeddings = create_embeddings(EmbeddingsConfig(threads=1, cache_dir=data_dir / "models"))
    index = PostIndex(VectorStoreConfig(path=data_dir / "chroma"), embeddings)
    backend = open_backend(llm or LLMConfig(backend="scripted"))
    return Library(db, index, embeddings, backend)


def build_demo_library(data_dir: Path) -> Path:
    """A data dir with the demo creator ingested through persona and ingest alone."""
    library = open_library(data_dir)
    try:
        ingest_file(
            Ingestor(library.db, library.index),
            demo_posts_path(),
            creator=DEMO_CREATOR_ID,
            display_name=DEMO_DISPLAY_NAME,
        )
    finally:
        library.close()
    return data_dir


def copy_data_dir(template: Path, target: Path) -> Path:
    shutil.copytree(template, target)
    return target
