"""What every webhook server (Telegram, Slack Events API, Discord interactions) does with a request before the
platform's code sees it: bounded in size and time, authenticated, then checked to be one JSON object.

Anyone who can reach the port can send anything, so a request is refused with a 4xx and one WARNING line
(no traceback: a refusal is not a bug) in this order: 413 when ``Content-Length`` already says it is too
large (before reading any of it), 408 when the body does not arrive within :data:`BODY_TIMEOUT_S`, 413 when a
body without ``Content-Length`` grows past the limit (reading stops there), 401/403 for the platform's
authentication, 400 for a content type other than UTF-8 JSON (or the form Slack uses) and for a body that
is not one JSON object. Only then is the body parsed by the platform's code.

Slow clients: aiohttp's keep-alive timer closes a connection that has not sent a complete request head
within its timeout, counted from the connection's start (or the previous answer) and not extended by each
byte, so it bounds the headers' arrival; we set it to :data:`HEADER_TIMEOUT_S`. A slow client costs a
socket, never the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

MAX_BODY_BYTES = 1 << 20  # 1 MiB: the platforms' updates, events and interactions are a few KiB
HEADER_TIMEOUT_S = 10.0  # a request head must be complete this long after the connection is idle
BODY_TIMEOUT_S = 10.0  # and its body this long after the head
LINGER_S = 2.0  # after refusing a body, read (and drop) what the client still sends for this long, then close
MAX_FIELD_BYTES = 8190  # one header line (aiohttp's default, said here so the docs can name it)
MAX_HEADERS = 100  # header lines per request


@dataclass(frozen=True)
class HttpLimits:
    """The limits of one server; :func:`current` reads the module constants at the server's construction."""

    max_body_bytes: int
    header_timeout_s: float
    body_timeout_s: float

    def runner_options(self, platform: str) -> dict[str, Any]:
        """Keyword arguments for ``web.AppRunner`` (passed on to aiohttp's request handler)."""
        return {
            "logger": RequestErrorLog(logging.getLogger(f"botkit.adapters.{platform}"), {}),
            "access_log": None,  # the path is harmless but a proxy may rewrite it to include secrets
            "keepalive_timeout": self.header_timeout_s,
            "lingering_time": LINGER_S,
            "max_field_size": MAX_FIELD_BYTES,
            "max_headers": MAX_HEADERS,
        }


def current() -> HttpLimits:
    """The limits as the module constants say now (tests patch the constants before starting a server)."""
    return HttpLimits(MAX_BODY_BYTES, HEADER_TIMEOUT_S, BODY_TIMEOUT_S)


class RequestErrorLog(logging.LoggerAdapter):  # type: ignore[type-arg]  # generic only in typeshed
    """aiohttp's server log: a request HTTP cannot parse (a header too long, a bad ``Content-Length``) is
    the client's fault, logged at WARNING without a traceback; any other error keeps its ERROR traceback."""

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        """Log ``msg``: a WARNING for a malformed request, else an ERROR with the traceback."""
        if isinstance(exc_info, HttpProcessingError):
            reason = exc_info.message or type(exc_info).__name__
            self.logger.warning(f"{msg} (malformed HTTP, answered {exc_info.code}): %s", *args, reason)
            return
        self.logger.error(msg, *args, exc_info=exc_info, **kwargs)


class Refused(Exception):
    """A request refused before it was handled: answered with ``status`` and ``reason`` as plain text."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def refusal(
    log: logging.Logger, platform: str, request: web.Request, refused: Refused, *, as_json: bool = False
) -> web.Response:
    """Log ``refused`` at WARNING (no traceback) and build its response (``{"message": reason}`` as_json).

    A 408 or 413 answer also closes the connection: the rest of that body is not wanted.
    """
    log.warning("%s webhook: refused a request from %s: %s", platform, request.remote, refused.reason)
    if as_json:
        response: web.Response = web.json_response({"message": refused.reason}, status=refused.status)
    else:
        response = web.Response(status=refused.status, text=refused.reason)
    if refused.status in (408, 413):
        response.force_close()
    return response


async def read_body(request: web.Request, limits: HttpLimits) -> bytes:
    """The whole body, read within the limits.

    Raises:
        Refused: 413 (too large, by its declared length or as it arrives), 408 (too slow), 400 (the client
            hung up before the body ended; nobody reads that answer, but it is logged as a refusal).
    """
    declared = request.content_length
    if declared is not None and declared > limits.max_body_bytes:
        raise Refused(413, f"body of {declared} bytes is over the limit of {limits.max_body_bytes}")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(limits.body_timeout_s):
            while chunk := await request.content.readany():
                size += len(chunk)
                if size > limits.max_body_bytes:
                    raise Refused(413, f"body is over the limit of {limits.max_body_bytes} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise Refused(408, f"body not received within {limits.body_timeout_s:g} s") from None
    except ConnectionError:  # aiohttp would log the client's hang-up as an ERROR with a traceback
        raise Refused(400, "the client closed the connection before the body ended") from None
    return b"".join(chunks)


def check_content_type(request: web.Request, *allowed: str) -> None:
    """Refuse a content type not in ``allowed``, or a charset other than UTF-8.

    400 rather than 415: what the platforms document for any malformed request, and what a request whose
    body is then not JSON would get anyway.

    Raises:
        Refused: 400.
    """
    if request.content_type not in allowed:
        raise Refused(400, f"Content-Type must be {' or '.join(allowed)}, not {request.content_type!r}")
    charset = request.charset
    if charset is not None and charset.lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise Refused(400, f"charset must be utf-8, not {charset!r}")


def decode_utf8(body: bytes) -> str:
    """``body`` as text.

    Raises:
        Refused: 400, not UTF-8.
    """
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "body is not UTF-8") from None


def json_object(text: str | bytes, what: str = "body") -> dict[str, Any]:
    """``text`` parsed as JSON, which must be an object.

    Raises:
        Refused: 400, not UTF-8, not JSON, nested too deep to parse, or JSON of another kind.
    """
    if isinstance(text, bytes):
        text = decode_utf8(text)
    try:
        value = json.loads(text)
    except ValueError:
        raise Refused(400, f"{what} is not JSON") from None
    except RecursionError:  # "[[[[..." a few thousand deep: json's parser recurses once per level
        raise Refused(400, f"{what} is JSON nested too deep") from None
    if not isinstance(value, dict):
        raise Refused(400, f"{what} is not a JSON object")
    return value
