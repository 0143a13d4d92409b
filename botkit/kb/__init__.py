"""The knowledge base: company documents in, cited answers out. See :mod:`botkit.kb.types` for the seam."""

from botkit.kb.types import Answerer, Hit, KBAnswer, Source

__all__ = ["Answerer", "Hit", "KBAnswer", "Source"]
