"""The knowledge-base pages (admins): the documents, uploading files (``KnowledgeBase.add``), deleting one
(``remove``), and a "try a question" box that shows what retrieval finds, with the dense, BM25 and fused
scores of each passage and the answer the bot would give.

Uploaded files are kept under ``<data_dir>/kb_uploads/`` by their own name, so uploading a changed file of
the same name replaces its chunks and an unchanged one is skipped, as ``botkit kb add`` does.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from botkit.console.accounts import Login
from botkit.console.web import back, page, render, state_of

TRY_PASSAGES = 5


def upload_folder(request: Request) -> Path:
    """Where uploaded files are kept (made if missing)."""
    settings = state_of(request).bot.settings
    folder = Path(settings.data_dir if settings is not None else ".botkit") / "kb_uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def safe_name(filename: str | None) -> str | None:
    """The upload's file name without any folder part; None for a name that cannot be kept."""
    name = Path((filename or "").replace("\\", "/")).name.strip()
    if not name or name.startswith(".") or len(name) > 200:
        return None
    return name


@page("admin")
async def kb_page(request: Request, login: Login) -> Response:
    """The documents, the upload form, and the "try a question" box with its results."""
    state = state_of(request)
    values: dict[str, Any] = {"documents": [], "error": "", "question": "", "hits": [], "answer": None}
    values["notice"] = request.query_params.get("notice", "")
    try:
        kb = state.knowledge()
    except ImportError as exc:
        values["error"] = str(exc)
        return render(request, "kb.html", login, **values)
    values["documents"] = await asyncio.to_thread(kb.documents)
    question = request.query_params.get("q", "")
    if question.strip():
        values["question"] = question
        try:
            values["hits"] = await asyncio.to_thread(kb.search, question, TRY_PASSAGES)
            values["answer"] = await asyncio.to_thread(kb.answer_now, question)
        except ValueError as exc:  # empty, or QueryTooLong (a ValueError naming the limit)
            values["try_error"] = str(exc)
    return render(request, "kb.html", login, **values)


@page("admin")
async def kb_upload(request: Request, login: Login) -> Response:
    """Add the uploaded files to the knowledge base; the report goes to the audit log and the page."""
    state = state_of(request)
    kb = state.knowledge()
    form = await request.form()
    limit = kb.settings.max_file_mb * 1024 * 1024
    folder = upload_folder(request)
    saved: list[Path] = []
    refused: list[str] = []
    for item in form.getlist("files"):
        if not isinstance(item, UploadFile):
            continue
        name = safe_name(item.filename)
        if name is None:
            refused.append(f"{item.filename!r}: not a usable file name")
            continue
        if item.size is not None and item.size > limit:
            refused.append(
                f"{name}: {item.size / 1e6:.1f} MB is over the limit of {kb.settings.max_file_mb} MB"
            )
            continue
        path = folder / name
        data = await item.read()
        await asyncio.to_thread(path.write_bytes, data)
        saved.append(path)
    report = await asyncio.to_thread(kb.add, saved) if saved else None
    errors = refused + ([str(e) for e in report.errors] if report is not None else [])
    detail = {
        "added": report.added if report else [],
        "replaced": report.replaced if report else [],
        "unchanged": report.unchanged if report else [],
        "errors": errors,
    }
    target = ", ".join(p.name for p in saved) or "(no file)"
    await asyncio.to_thread(state.audit.record, login.user.name, "kb.upload", target, **detail)
    said = (
        "; ".join(f"{what}: {', '.join(names)}" for what, names in detail.items() if names)
        or "no file was uploaded"
    )
    return back("/kb", notice=said)


@page("admin")
async def kb_delete(request: Request, login: Login) -> Response:
    """Remove a document and its chunks."""
    state = state_of(request)
    kb = state.knowledge()
    document_id = int(request.path_params["document_id"])
    names = {d.id: d.name for d in await asyncio.to_thread(kb.documents)}
    try:
        await asyncio.to_thread(kb.remove, document_id)
    except KeyError as exc:
        said = str(exc.args[0]) if exc.args else str(exc)
        await asyncio.to_thread(
            state.audit.record, login.user.name, "kb.delete", str(document_id), error=said
        )
        return back("/kb", notice=said)
    target = f"{names.get(document_id, '?')} (#{document_id})"
    await asyncio.to_thread(state.audit.record, login.user.name, "kb.delete", target)
    return back("/kb", notice=f"deleted {target}")


ROUTES = [
    Route("/kb", kb_page, methods=["GET"]),
    Route("/kb/upload", kb_upload, methods=["POST"]),
    Route("/kb/{document_id:int}/delete", kb_delete, methods=["POST"]),
]
