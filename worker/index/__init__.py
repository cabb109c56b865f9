"""The index: documents read, chunked, redacted and embedded once, kept in Redis, shared by every worker.

Between document gathering (``worker/documents``) and the engines (``worker/engine``, ``worker/clara``):
gathering says *which* documents a question may be answered from, the index turns them into candidate
chunks with their vectors and lexical postings (indexing what it has not seen, within the question if
need be), and the engine ranks and answers. See docs/architecture.md.
"""
