"""The knowledge base: company documents in, cited answers out.

:class:`KnowledgeBase` ingests Markdown, text, HTML, CSV FAQs and PDFs into the database, retrieves with
dense embeddings and BM25 evidence weighed as calibrated on held-out questions (:mod:`botkit.kb.calibration`),
and answers with the FAQ's own text or the passage that
answers, citing its source, or says it is unsure. :mod:`botkit.kb.types` is the seam its users code against.

The knowledge base itself needs the ``kb`` extra (sentence-transformers, bm25s, jieba, pypdf, BeautifulSoup);
its types and errors do not, so they import without it and the rest is loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from botkit.kb.errors import IngestError, KBError, ModelMismatch, QueryTooLong
from botkit.kb.types import Answerer, Hit, KBAnswer, Source

if TYPE_CHECKING:
    from botkit.kb.ingest import AddReport
    from botkit.kb.knowledge import KnowledgeBase, open_knowledge_base
    from botkit.kb.storage import DocumentInfo

_LAZY = {
    "AddReport": "botkit.kb.ingest",
    "DocumentInfo": "botkit.kb.storage",
    "KnowledgeBase": "botkit.kb.knowledge",
    "open_knowledge_base": "botkit.kb.knowledge",
}

__all__ = [
    "AddReport",
    "Answerer",
    "DocumentInfo",
    "Hit",
    "IngestError",
    "KBAnswer",
    "KBError",
    "KnowledgeBase",
    "ModelMismatch",
    "QueryTooLong",
    "Source",
    "open_knowledge_base",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'botkit.kb' has no attribute {name!r}")
