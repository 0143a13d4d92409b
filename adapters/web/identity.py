"""Who is on the other end of a widget: an anonymous visitor with a signed id, or a site's signed-in user.

An anonymous visitor gets a random id, signed with ``web.secret`` (itsdangerous), as an HttpOnly cookie and
as a token the widget keeps in the page's ``localStorage``: a page on another site cannot rely on cookies
(browsers hold back third-party cookies), so the widget hands the token back in its ``hello``. Either
way the server believes only what its own signature vouches for; the conversation key is ``web:<id>``.

A site that knows its user passes ``data-user-id`` and ``data-user-hash``, the hex HMAC-SHA256 of the id
under ``web.identity_secret`` (Chatwoot's identity validation works the same way): the site's server
computes the hash, so a visitor cannot claim someone else's id. The key is then ``web:user:<id>``. An id
without a hash, or with a wrong one, is refused, never silently downgraded to an anonymous chat.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, Signer

from botkit.adapters.web.protocol import Hello

COOKIE = "botkit_visitor"
COOKIE_MAX_AGE_S = 365 * 24 * 3600
USER_PREFIX = "user:"  # anonymous ids are hex, so they never start with it
_VISITOR_ID = re.compile(r"^[0-9a-f]{32}$")
_USER_ID = re.compile(r"^[\w.@+\-:]{1,128}$")  # printable, no spaces: it becomes part of a store key


class IdentityRefused(Exception):
    """The visitor claimed an identity the server cannot vouch for; the reason is shown to them."""


@dataclass(frozen=True)
class Visitor:
    """The person a connection speaks for.

    Attributes:
        conversation_id: the part of the store key after ``web:`` (``<hex>`` or ``user:<id>``).
        user_id: the site's id of a signed-in user, or the anonymous visitor's random id.
        token: the signed visitor token to keep (empty for a signed-in user).
        new: True when this connection minted the anonymous id.
    """

    conversation_id: str
    user_id: str
    token: str = ""
    new: bool = False


class Identities:
    """Signs visitor ids and checks claimed identities.

    Args:
        secret: ``web.secret``: signs visitor tokens and cookies.
        identity_secret: ``web.identity_secret``: the key of sites' user hashes (None: not accepted).
    """

    def __init__(self, secret: str, identity_secret: str | None) -> None:
        self._signer = Signer(secret, salt="botkit.web.visitor")
        self._identity_key = identity_secret.encode() if identity_secret else None

    def token_for(self, visitor_id: str) -> str:
        """The signed token naming ``visitor_id``."""
        return self._signer.sign(visitor_id).decode()

    def visitor_of(self, token: str | None) -> str | None:
        """The visitor id a token names, or None when it is missing, forged or malformed."""
        if not token:
            return None
        try:
            visitor_id = self._signer.unsign(token).decode()
        except BadSignature:
            return None
        return visitor_id if _VISITOR_ID.match(visitor_id) else None

    def resolve(self, hello: Hello, cookie: str | None) -> Visitor:
        """Who ``hello`` (and the request's visitor cookie) speaks for.

        A signed-in user's claim wins; then the widget's token, then the cookie; else a new visitor.

        Raises:
            IdentityRefused: a user id without a hash, a wrong hash, a malformed id, or a user id when
                this server has no ``identity_secret``.
        """
        if hello.user_id is not None or hello.user_hash is not None:
            user_id = self._verified_user(hello.user_id, hello.user_hash)
            return Visitor(USER_PREFIX + user_id, user_id)
        for token in (hello.visitor, cookie):
            visitor_id = self.visitor_of(token)
            if visitor_id is not None:
                return Visitor(visitor_id, visitor_id, self.token_for(visitor_id))
        visitor_id = self.new_visitor_id()
        return Visitor(visitor_id, visitor_id, self.token_for(visitor_id), new=True)

    @staticmethod
    def new_visitor_id() -> str:
        """A fresh random visitor id (128 bits, hex)."""
        return secrets.token_hex(16)

    def _verified_user(self, user_id: str | None, user_hash: str | None) -> str:
        if not user_id:
            raise IdentityRefused("identity refused: a user hash came without a user id")
        if not user_hash:
            raise IdentityRefused("identity refused: the user id is not signed (data-user-hash is missing)")
        if self._identity_key is None:
            raise IdentityRefused("identity refused: this chat server does not accept signed-in users")
        if not _USER_ID.match(user_id):
            raise IdentityRefused("identity refused: the user id has characters a user id cannot have")
        expected = user_hash_for(self._identity_key, user_id)
        if not hmac.compare_digest(expected, user_hash.lower()):
            raise IdentityRefused("identity refused: the user hash does not match the user id")
        return user_id


def user_hash_for(identity_secret: bytes, user_id: str) -> str:
    """What a site's server puts in ``data-user-hash``: hex HMAC-SHA256 of ``user_id`` under the secret."""
    return hmac.new(identity_secret, user_id.encode(), hashlib.sha256).hexdigest()


def is_conversation_id(conversation_id: str) -> bool:
    """Whether ``conversation_id`` is one this adapter could have made (for ``send_to``)."""
    if conversation_id.startswith(USER_PREFIX):
        return bool(_USER_ID.match(conversation_id[len(USER_PREFIX) :]))
    return bool(_VISITOR_ID.match(conversation_id))
