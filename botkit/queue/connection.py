"""How every botkit process connects to Redis: the credentials and TLS options of ``[queue] redis_url``, the
URL as it may be shown (password hidden), and the start-up check that tells a Redis refusing botkit's
credentials (a configuration error: stop and say so) from a Redis that is down (wait for it).

Credentials travel in the URL, as redis-py, kombu and Flower all read it:
``redis://USER:PASSWORD@HOST:PORT/DB`` (an ACL user) or ``redis://:PASSWORD@HOST:PORT/DB`` (``requirepass``).
``rediss://`` connects with TLS; the server's certificate is verified against the system's CAs unless the
URL names others (``?ssl_ca_certs=/path/ca.pem``), and ``ssl_certfile``/``ssl_keyfile`` add a client
certificate. Celery's result backend refuses a ``rediss://`` URL without ``ssl_cert_reqs`` and kombu's
broker then falls back to *no* verification, so :func:`tls_options` spells them out for both.
"""

from __future__ import annotations

import logging
import ssl
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.exceptions import AuthenticationError, NoPermissionError, RedisError

from botkit.model.loader import ModelLoadError
from botkit.queue.protocol import redis_url

if TYPE_CHECKING:
    from botkit.config import QueueSettings

log = logging.getLogger("botkit.queue")

TLS_QUERY_KEYS = ("ssl_cert_reqs", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile")
CERT_REQS = {
    "required": ssl.CERT_REQUIRED,
    "cert_required": ssl.CERT_REQUIRED,
    "optional": ssl.CERT_OPTIONAL,
    "cert_optional": ssl.CERT_OPTIONAL,
    "none": ssl.CERT_NONE,
    "cert_none": ssl.CERT_NONE,
}
HIDDEN = "***"


class QueueRefused(ModelLoadError):
    """Redis refused botkit's credentials (or its ACL forbids what botkit needs). One line for the user.

    A :class:`~botkit.model.loader.ModelLoadError` because, like a model that does not load, it leaves
    a bot without a model: every command that builds one (``botkit run``, ``botkit chat``) reports it
    as one line and stops, instead of answering "busy" to every message.
    """


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***`` (user, host, port and database kept): safe to log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{HIDDEN}@{host}"))


def tls_options(url: str) -> dict[str, Any] | None:
    """The TLS settings of a ``rediss://`` URL for Celery (``broker_use_ssl``, ``redis_backend_use_ssl``).

    Returns None for ``redis://`` and ``unix://``. The certificate is required unless the URL says
    ``ssl_cert_reqs=optional`` or ``none``.
    """
    parts = urlsplit(url)
    if parts.scheme != "rediss":
        return None
    query = dict(parse_qsl(parts.query))
    options: dict[str, Any] = {"ssl_cert_reqs": CERT_REQS[query.get("ssl_cert_reqs", "required").lower()]}
    for key in TLS_QUERY_KEYS[1:]:
        if query.get(key):
            options[key] = query[key]
    return options


def without_tls_query(url: str) -> str:
    """``url`` without its ``ssl_*`` parameters (Celery gets them from :func:`tls_options`)."""
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query) if k not in TLS_QUERY_KEYS]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def refusal(url: str, exc: Exception) -> str:
    """One line saying why Redis at ``url`` refused botkit, and what to change (no password in it)."""
    where = f"Redis at {redact(url)}"
    reason = str(exc).strip() or type(exc).__name__
    if isinstance(exc, NoPermissionError):
        user = urlsplit(url).username or "default"
        return (
            f"{where} accepted user {user!r} but its ACL forbids what botkit needs ({reason}); allow the "
            "user the keys ~* and channels &* with +@all -@dangerous (see deploy/README.md)"
        )
    if urlsplit(url).password is None:
        return (  # Redis's own words (NOAUTH, about HELLO) would say less than this
            f"{where} requires authentication and the URL has no password: set [queue] redis_url "
            "(BOTKIT_QUEUE__REDIS_URL) to redis://USER:PASSWORD@HOST:PORT/DB"
        )
    return (
        f"{where} refused the credentials: authentication failed ({reason}); set the user and password "
        "that Redis expects in [queue] redis_url (BOTKIT_QUEUE__REDIS_URL)"
    )


def is_refusal(exc: BaseException) -> bool:
    """True when ``exc`` is Redis refusing the credentials or the ACL (not a Redis that is down)."""
    return isinstance(exc, AuthenticationError | NoPermissionError)


def is_untrusted(exc: BaseException) -> bool:
    """True when ``exc`` is a TLS server whose certificate could not be verified (wrong or missing CA)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def check_queue(queue: QueueSettings) -> bool:
    """:func:`check_credentials` on the ``[queue]`` settings' Redis, within their connect timeout: what
    every botkit process (bot, worker, jobs, beat) checks as it starts."""
    return check_credentials(redis_url(queue), timeout_s=queue.connect_timeout_s)


def check_credentials(url: str, *, timeout_s: float) -> bool:
    """Ask Redis at ``url`` whether botkit may use it (the commands every process starts with).

    Returns:
        True when Redis answered and accepted the credentials; False when it could not be reached
        (a process then goes on and reconnects later, as it does after an outage).

    Raises:
        QueueRefused: Redis refused the credentials (wrong or missing password, unknown user), its ACL
            forbids botkit's commands, or its TLS certificate cannot be verified; the message is one
            line and never holds the password.
    """
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=max(timeout_s, 1.0))
    try:
        client.ping()
        # A reply stream and a claim: an ACL without the stream or string commands fails here, at start.
        client.xlen("botkit:connection-check")
        client.exists("botkit:connection-check")
    except RedisError as exc:
        if is_refusal(exc):
            raise QueueRefused(refusal(url, exc)) from None
        if is_untrusted(exc):
            raise QueueRefused(
                f"Redis at {redact(url)} presented a TLS certificate that cannot be verified ({exc}); name "
                "the CA that signed it with ?ssl_ca_certs=FILE in [queue] redis_url"
            ) from None
        log.warning("Redis at %s is not reachable yet (%s); going on, it is retried", redact(url), exc)
        return False
    finally:
        client.close()
    return True
