"""Relational store (SQLAlchemy 2): SQLite in WAL mode by default, PostgreSQL by URL."""

from persona.store.db import Database, DatabaseConfig
from persona.store.models import Base, Conversation, Creator, Fan, Message, Post, VoiceEval

__all__ = [
    "Base",
    "Conversation",
    "Creator",
    "Database",
    "DatabaseConfig",
    "Fan",
    "Message",
    "Post",
    "VoiceEval",
]
