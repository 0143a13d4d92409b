"""The knowledge base's rows in ``kb_documents`` and ``kb_chunks``, written one document per transaction.

A document row's ``source`` is the file's resolved path (so re-adding the same file finds it); its ``title``
is the name citations show (the path relative to the folder it was added from) and its ``url`` the page's
canonical URL where it has one (citations link to it). A chunk's
``embedding`` holds its retrieval keys' unit vectors back to back as float32: one for a passage, two for an
FAQ entry (question with answer, then the question alone, then each alternate phrasing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import Engine, delete, func, insert, select, update

from botkit.db.schema import kb_chunks, kb_documents
from botkit.kb.chunking import Chunk
from botkit.kb.embedder import Vectors
from botkit.kb.errors import ModelMismatch
from botkit.kb.types import Source


@dataclass(frozen=True)
class DocumentInfo:
    """A document in the knowledge base, as ``botkit kb list`` shows it."""

    id: int
    name: str
    source: str
    kind: str
    chunks: int
    sha256: str
    added_at: datetime
    url: str | None = None


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as retrieval needs it: its text, its citation and its keys' vectors ``(keys, dimension)``."""

    id: int
    source: Source
    text: str
    question: str | None
    language: str | None
    vectors: Vectors


def find_document(engine: Engine, source: str) -> tuple[int, str, str] | None:
    """``(id, sha256, title)`` of the document added from ``source``, or None."""
    with engine.connect() as conn:
        row = conn.execute(
            select(kb_documents.c.id, kb_documents.c.sha256, kb_documents.c.title).where(
                kb_documents.c.source == source
            )
        ).first()
    return (row.id, row.sha256, row.title) if row else None


def rename_document(engine: Engine, document_id: int, title: str) -> None:
    """Show the document under another name (the same file, added this time from another folder)."""
    with engine.begin() as conn:
        conn.execute(update(kb_documents).where(kb_documents.c.id == document_id).values(title=title))


def write_document(
    engine: Engine,
    *,
    source: str,
    title: str,
    url: str | None,
    kind: str,
    sha256: str,
    chunks: Sequence[Chunk],
    vectors: Sequence[Vectors],
) -> tuple[int, bool]:
    """Put a document and its chunks in, replacing the chunks of an earlier version, in one transaction.

    Returns:
        ``(document id, whether an earlier version was replaced)``.
    """
    now = datetime.now(UTC)
    with engine.begin() as conn:
        existing = conn.execute(select(kb_documents.c.id).where(kb_documents.c.source == source)).scalar()
        values = {"title": title, "url": url, "kind": kind, "sha256": sha256, "added_at": now}
        if existing is None:
            query = insert(kb_documents).values(source=source, **values).returning(kb_documents.c.id)
            document_id = conn.execute(query).scalar_one()
        else:
            document_id = existing
            conn.execute(delete(kb_chunks).where(kb_chunks.c.document_id == existing))
            conn.execute(update(kb_documents).where(kb_documents.c.id == existing).values(**values))
        if chunks:
            conn.execute(
                insert(kb_chunks),
                [
                    {
                        "document_id": document_id,
                        "position": chunk.position,
                        "heading": chunk.heading,
                        "text": chunk.text,
                        "question": chunk.question,
                        "language": chunk.language,
                        "embedding": np.ascontiguousarray(keys, dtype=np.float32).tobytes(),
                    }
                    for chunk, keys in zip(chunks, vectors, strict=True)
                ],
            )
    return int(document_id), existing is not None


def remove_document(engine: Engine, document_id: int) -> bool:
    """Delete a document and its chunks; False when there is no such document."""
    with engine.begin() as conn:
        conn.execute(delete(kb_chunks).where(kb_chunks.c.document_id == document_id))
        return conn.execute(delete(kb_documents).where(kb_documents.c.id == document_id)).rowcount > 0


def list_documents(engine: Engine) -> list[DocumentInfo]:
    """Every document with its number of chunks, in the order they were first added."""
    counts = (
        select(kb_chunks.c.document_id, func.count().label("n")).group_by(kb_chunks.c.document_id).subquery()
    )
    query = (
        select(kb_documents, func.coalesce(counts.c.n, 0).label("n"))
        .outerjoin(counts, counts.c.document_id == kb_documents.c.id)
        .order_by(kb_documents.c.id)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        DocumentInfo(
            id=row.id,
            name=row.title,
            url=row.url,
            source=row.source,
            kind=row.kind,
            chunks=int(row.n),
            sha256=row.sha256,
            added_at=row.added_at,
        )
        for row in rows
    ]


def load_chunks(engine: Engine, dimension: int) -> list[StoredChunk]:
    """Every chunk with its vectors, in document order.

    Raises:
        ModelMismatch: a chunk's vectors are not of ``dimension`` (they were made by another model).
    """
    query = (
        select(kb_chunks, kb_documents.c.title, kb_documents.c.url)
        .join(kb_documents, kb_documents.c.id == kb_chunks.c.document_id)
        .order_by(kb_chunks.c.document_id, kb_chunks.c.position)
    )
    chunks: list[StoredChunk] = []
    with engine.connect() as conn:
        for row in conn.execute(query):
            raw = np.frombuffer(row.embedding or b"", dtype=np.float32)
            if raw.size == 0 or raw.size % dimension:
                raise ModelMismatch(
                    f"the stored vectors of chunk {row.id} do not fit the embedding model ({dimension} "
                    "numbers each): the model was changed; run `botkit kb reindex`"
                )
            chunks.append(
                StoredChunk(
                    id=row.id,
                    source=Source(document=row.title, heading=row.heading, url=row.url),
                    text=row.text,
                    question=row.question,
                    language=row.language,
                    vectors=raw.reshape(-1, dimension),
                )
            )
    return chunks


def chunk_texts(engine: Engine) -> list[tuple[int, str, str, str | None]]:
    """``(id, heading, text, question)`` of every chunk: what :meth:`reindex` embeds again."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(kb_chunks.c.id, kb_chunks.c.heading, kb_chunks.c.text, kb_chunks.c.question)
        ).all()
    return [(r.id, r.heading, r.text, r.question) for r in rows]


def write_vectors(engine: Engine, vectors: dict[int, Vectors]) -> None:
    """Replace the vectors of the given chunks, and mark every document as rewritten, in one transaction."""
    with engine.begin() as conn:
        for chunk_id, keys in vectors.items():
            conn.execute(
                update(kb_chunks)
                .where(kb_chunks.c.id == chunk_id)
                .values(embedding=np.ascontiguousarray(keys, dtype=np.float32).tobytes())
            )
        conn.execute(update(kb_documents).values(added_at=datetime.now(UTC)))


def signature(engine: Engine) -> tuple[object, ...]:
    """Changes whenever a document is added, replaced, removed or reindexed (a cached index is stale)."""
    with engine.connect() as conn:
        docs = conn.execute(select(func.count(), func.max(kb_documents.c.added_at))).one()
        chunks = conn.execute(select(func.count(), func.coalesce(func.sum(kb_chunks.c.id), 0))).one()
    return (docs[0], docs[1], chunks[0], chunks[1])
