"""Embeddings and the per-creator post index (Chroma behind LangChain's VectorStore seam)."""
