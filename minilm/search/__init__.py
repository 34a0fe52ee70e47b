"""Semantic search on disk and the tools built on pairwise similarity: the index (index, store, ann), near
duplicates (dedup), clusters (cluster), the block-wise pair walk they share (pairs), and adapters for
LangChain and Chroma."""
