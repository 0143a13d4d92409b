"""The knowledge base: documents in (one transaction per file), cited answers out.

Retrieval runs in this process over vectors kept in the database (SQLite or PostgreSQL alike). The index is
cached and rebuilt when the knowledge base changed, in this process or in another one (``botkit kb add``
while the bot runs): every search first compares a cheap signature of the tables.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from botkit.kb import storage
from botkit.kb.answers import confidence, direct_answer, rephrased
from botkit.kb.calibration import CALIBRATION_FILE, SHIPPED, TUNED, Calibration
from botkit.kb.chunking import language_of
from botkit.kb.embedder import Embedder, Vectors, load_embedder, shipped_model_dir
from botkit.kb.errors import IngestError, KBError, QueryTooLong
from botkit.kb.index import Index, Method, dense_keys
from botkit.kb.ingest import AddReport, FileToAdd, collect, parse, read_file
from botkit.kb.storage import DocumentInfo
from botkit.kb.tune import TuneConfig, TuneReport, fine_tune, question_pairs, training_pairs, tuned_model_dir
from botkit.kb.types import Hit, KBAnswer

if TYPE_CHECKING:
    from botkit.config import KBSettings, Settings
    from botkit.types import Generator

Progress = Callable[[int, int, str], None]
"""``progress(done, total, name)``: called after each file of ``add`` or each batch of ``reindex``."""


class KnowledgeBase:
    """Documents, their chunks and the answers made from them, in the database of ``engine``.

    Args:
        engine: the database (see :func:`botkit.db.engine.open_engine`).
        settings: the ``[kb]`` section.
        generator: the dialogue model, used only to rephrase passages where ``settings.rephrase`` is on.
        tuned_dir: where :meth:`tune` keeps the model it adapted to this knowledge base (in the data
            directory); used, where it is, instead of the shipped model. None: no tuning.
        calibration_file: where ``botkit kb calibrate`` keeps the calibration fitted on the user's held-out
            questions (:mod:`botkit.kb.calibration`); used, where it is, instead of the shipped one.
    """

    def __init__(
        self,
        engine: Engine,
        settings: KBSettings,
        *,
        generator: Generator | None = None,
        tuned_dir: Path | None = None,
        calibration_file: Path | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.generator = generator
        self.tuned_dir = tuned_dir
        self.calibration_file = calibration_file
        self._calibration: tuple[int, Calibration] | None = None  # (the file's mtime in ns, what it says)
        self._embedder: Embedder | None = None
        self._index: Index | None = None
        self._signature: tuple[object, ...] | None = None
        self._lock = threading.Lock()

    @property
    def model_dir(self) -> Path | None:
        """The embedding model's folder: ``kb.model_dir``, else the tuned model where there is one, else
        None (the shipped model)."""
        if self.settings.model_dir is not None:
            return self.settings.model_dir
        if self.tuned_dir is not None and (self.tuned_dir / "modules.json").is_file():
            return self.tuned_dir
        return None

    @property
    def embedder(self) -> Embedder:
        """The embedding model (loaded on first use, shared within the process)."""
        if self._embedder is None:
            self._embedder = load_embedder(self.model_dir)
        return self._embedder

    @property
    def calibration(self) -> Calibration:
        """How learned fusion ranks and how sure it is: the calibration file where there is one (read again
        when it changed, e.g. by ``botkit kb calibrate`` while the bot runs), else the shipped one for the
        model in use (:data:`~botkit.kb.calibration.TUNED` for a tuned model).

        Raises:
            KBError: the calibration file is not one.
        """
        if self.calibration_file is None or not self.calibration_file.is_file():
            tuned = self.tuned_dir is not None and self.model_dir == self.tuned_dir
            return TUNED if tuned else SHIPPED
        stamp = self.calibration_file.stat().st_mtime_ns
        if self._calibration is None or self._calibration[0] != stamp:
            self._calibration = (stamp, Calibration.load(self.calibration_file))
        return self._calibration[1]

    def tune(
        self,
        config: TuneConfig | None = None,
        *,
        questions: Sequence[tuple[str, str]] = (),
        progress: Progress | None = None,
    ) -> TuneReport:
        """Adapt the shipped embedding model to this knowledge base (:mod:`botkit.kb.tune`), and to
        ``questions`` (``(question, label)``: labelled as in :mod:`botkit.kb.heldout`) where given; save it in
        ``tuned_dir`` and embed every chunk again with it. Tuning starts from the shipped model each time.

        Raises:
            KBError: there is no ``tuned_dir``, ``kb.model_dir`` is set (it would win over the tuned model),
                a question's label names nothing here, or the knowledge base is too small to tune on.
        """
        if self.tuned_dir is None:
            raise KBError("this knowledge base has no data directory to keep a tuned model in")
        if self.settings.model_dir is not None:
            raise KBError(f"kb.model_dir is set ({self.settings.model_dir}): unset it to use a tuned model")
        pairs = training_pairs(storage.chunk_texts(self.engine))
        if questions:
            pairs += question_pairs(questions, self.index().chunks)
        report = fine_tune(shipped_model_dir(), self.tuned_dir, pairs, config or TuneConfig(), progress)
        self._embedder = None
        self.reindex()
        return report

    # -- documents ---------------------------------------------------------------------------------------

    def add(self, paths: Iterable[Path | str], *, progress: Progress | None = None) -> AddReport:
        """Add files and folders. A changed file replaces its chunks, an unchanged one is skipped.

        A file that cannot be added is reported in ``errors`` (each names the file and the reason) and
        leaves the knowledge base as it was; the other files are still added.
        """
        files, errors = collect(paths)
        report = AddReport(errors=list(errors))
        for done, file in enumerate(files, start=1):
            try:
                self._add_file(file, report)
            except IngestError as exc:
                report.errors.append(exc)
            if progress is not None:
                progress(done, len(files), file.name)
        self._forget_index()
        return report

    def _add_file(self, file: FileToAdd, report: AddReport) -> None:
        data, sha256 = read_file(file, self.settings.max_file_mb)
        existing = storage.find_document(self.engine, str(file.path))
        if existing is not None and existing[1] == sha256:
            if existing[2] != file.name:  # the same file, added this time from another folder
                storage.rename_document(self.engine, existing[0], file.name)
            report.unchanged.append(file.name)
            return
        document = parse(file, data, self.settings.chunk_words)
        vectors = self._embed_chunks([(c.heading, c.text, c.question) for c in document.chunks])
        _, replaced = storage.write_document(
            self.engine,
            source=str(file.path),
            title=file.name,
            url=document.url,
            kind=document.kind,
            sha256=sha256,
            chunks=document.chunks,
            vectors=vectors,
        )
        (report.replaced if replaced else report.added).append(file.name)
        report.chunks += len(document.chunks)

    def _embed_chunks(self, chunks: list[tuple[str, str, str | None]]) -> list[Vectors]:
        """Each chunk's retrieval keys embedded, in one batch for the whole list."""
        keys = [dense_keys(heading, text, question) for heading, text, question in chunks]
        flat = self.embedder.encode([t for texts in keys for t in texts])
        out: list[Vectors] = []
        start = 0
        for texts in keys:
            out.append(flat[start : start + len(texts)])
            start += len(texts)
        return out

    def remove(self, document_id: int) -> None:
        """Remove a document and its chunks.

        Raises:
            KeyError: there is no document with that id (``botkit kb list`` shows the ids).
        """
        if not storage.remove_document(self.engine, document_id):
            raise KeyError(f"there is no document {document_id} in the knowledge base (see `botkit kb list`)")
        self._forget_index()

    def documents(self) -> list[DocumentInfo]:
        """The documents in the knowledge base with their chunk counts."""
        return storage.list_documents(self.engine)

    def reindex(self, *, progress: Progress | None = None, batch: int = 64) -> int:
        """Embed every chunk again with the configured model (after changing ``kb.model_dir``).

        All vectors are replaced in one transaction at the end, so an interrupted reindex changes nothing.
        Returns the number of chunks embedded.
        """
        rows = storage.chunk_texts(self.engine)
        vectors: dict[int, Vectors] = {}
        for start in range(0, len(rows), batch):
            part = rows[start : start + batch]
            for (chunk_id, *_), keys in zip(part, self._embed_chunks([r[1:] for r in part]), strict=True):
                vectors[chunk_id] = keys
            if progress is not None:
                progress(min(start + batch, len(rows)), len(rows), "")
        storage.write_vectors(self.engine, vectors)
        self._forget_index()
        return len(rows)

    # -- retrieval ---------------------------------------------------------------------------------------

    def _forget_index(self) -> None:
        with self._lock:
            self._index, self._signature = None, None

    def index(self) -> Index:
        """The search index of the knowledge base as it is now (rebuilt only when it changed)."""
        current = storage.signature(self.engine)
        with self._lock:
            if self._index is None or self._signature != current:
                self._embedder = None  # another process may have tuned the model (and re-embedded)
                dimension = self.embedder.dimension
                self._index = Index(storage.load_chunks(self.engine, dimension), dimension)
                self._signature = current
            return self._index

    def check_question(self, question: str) -> str:
        """``question`` stripped, or an error saying why it cannot be searched.

        Raises:
            ValueError: the question is empty.
            QueryTooLong: it is longer than ``kb.max_query_chars``.
        """
        text = question.strip()
        if not text:
            raise ValueError("the question is empty: ask the knowledge base something")
        if len(text) > self.settings.max_query_chars:
            raise QueryTooLong(len(text), self.settings.max_query_chars)
        return text

    def _query_vector(self, text: str, method: Method) -> Vectors | None:
        """The question's embedding, where the method uses one. Fused search skips the embedding model for
        questions in a language outside ``kb.dense_languages``: its similarities say nothing there."""
        if method == "bm25" or (method == "fused" and language_of(text) not in self.settings.dense_languages):
            return None
        vector: Vectors = self.embedder.encode([text])[0]
        return vector

    def search(self, question: str, k: int | None = None, *, method: Method = "fused") -> list[Hit]:
        """The ``k`` (default ``kb.top_k``) chunks that best answer ``question``, best first."""
        return self._search(self.check_question(question), k or self.settings.top_k, method)[2]

    def _search(self, text: str, k: int, method: Method) -> tuple[Index, Vectors | None, list[Hit]]:
        """The index searched, the query's embedding (None where the method uses none) and the hits."""
        index = self.index()
        query = self._query_vector(text, method)
        hits = index.search(
            query,
            text,
            method,
            k,
            bm25_weight=self.settings.bm25_weight,
            fusion=self.settings.fusion,
            calibration=self.calibration,
        )
        return index, query, hits

    def answer_now(self, question: str, *, method: Method = "fused") -> KBAnswer:
        """:meth:`answer` without the model's rephrasing, in the calling thread (it blocks)."""
        text = self.check_question(question)
        index, query, hits = self._search(text, max(self.settings.top_k, 3), method)
        sure = self._confidence(index, text, hits, method)
        embedder = self.embedder if query is not None else None
        return direct_answer(text, hits, sure, self.settings.threshold, query, embedder)

    def _confidence(self, index: Index, text: str, hits: list[Hit], method: Method) -> float:
        """Learned fusion's calibrated confidence; the top hit's cosine (or coverage) otherwise."""
        if not hits:
            return 0.0
        top = hits[0]
        if method != "fused" or self.settings.fusion != "learned":
            return confidence(top, index.coverage(text, top) if top.dense is None else None)
        if top.dense is None:  # ranked by BM25 alone
            return self.calibration.lexical_confidence(index.coverage(text, top))
        return self.calibration.confidence(top.score, hits[1].score if len(hits) > 1 else None)

    async def answer(
        self, question: str, *, language: str | None = None, method: Method = "fused"
    ) -> KBAnswer:
        """Answer from the knowledge base, citing sources, or say it is unsure (``kind == "unsure"``).

        An FAQ hit answers with the company's own text; a passage with its relevant paragraph, rephrased by
        the dialogue model where ``kb.rephrase`` is on and a generator was given (in ``language`` when set).

        Raises:
            ValueError: the question is empty.
            QueryTooLong: it is longer than ``kb.max_query_chars``.
        """
        answer = await asyncio.to_thread(self.answer_now, question, method=method)
        if self.settings.rephrase and self.generator is not None:
            answer = await rephrased(
                answer,
                question.strip(),
                self.generator,
                self.settings.threshold,
                self.settings.top_k,
                language,
            )
        return answer


def open_knowledge_base(settings: Settings, *, generator: Generator | None = None) -> KnowledgeBase:
    """The knowledge base in the database that ``settings`` name (the schema brought up to date)."""
    from botkit.db.engine import database_url, open_engine

    return KnowledgeBase(
        open_engine(database_url(settings)),
        settings.kb,
        generator=generator,
        tuned_dir=tuned_model_dir(Path(settings.data_dir)),
        calibration_file=Path(settings.data_dir) / CALIBRATION_FILE,
    )
