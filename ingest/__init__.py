"""From a creator's past posts to a voice profile and a retrieval index.

sources -> clean -> (language, reply detection) -> relational store -> embeddings/Chroma -> profile
"""
