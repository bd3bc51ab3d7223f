"""The AI double: voice profile, retrieval, reply engine, model backends, guardrails.

A library: it reads no environment and imports none of `channels`, `ingest` or `avatar`.
"""
