"""botkit's own texts in the user's language, through gettext catalogs read with Babel.

English is the source language: each text in the code is its own message id, marked with :func:`N_` so
that Babel's extractor finds it. A translation is a gettext catalog,
``botkit/locale/<lang>/LC_MESSAGES/botkit.po``, read and compiled in memory the first time a user needs
that language: there is no build step and no ``.mo`` file to keep in step. A translator adds a language by
adding its ``.po`` file (start from ``botkit/locale/botkit.pot``), without touching code.

The language of a reply is the user's, where the platform tells it (:attr:`botkit.message.User.language`),
else the config's ``language``, else English; a tag is matched to a catalog by its longest known prefix, so
"zh", "zh-hans", "zh-CN" and "zh_Hant_TW" all choose ``zh``::

    language = language_for(ctx.incoming.author, ctx.bot.settings)
    await ctx.reply(translate(N_("Done: I've forgotten our conversation."), language))
"""

from __future__ import annotations

import functools
import gettext
import logging
import string
from io import BytesIO
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger("botkit.i18n")

DOMAIN = "botkit"
LOCALE_DIR = Path(__file__).parent / "locale"
SOURCE_LANGUAGE = "en"


def N_(message: str) -> str:  # gettext's own name for "mark only"
    """Mark ``message`` for extraction into the catalogs; it is returned unchanged (translate it later)."""
    return message


def available_languages() -> list[str]:
    """The languages botkit's texts exist in: English and each catalog under :data:`LOCALE_DIR`, sorted."""
    return sorted(_languages_in(LOCALE_DIR).values())


@functools.cache
def _languages_in(folder: Path) -> dict[str, str]:
    """Normalised tag -> catalog name, looked up once per folder (not once per reply)."""
    found = [SOURCE_LANGUAGE]
    if folder.is_dir():
        found += [po.parent.parent.name for po in folder.glob(f"*/LC_MESSAGES/{DOMAIN}.po")]
    return {_normal(code): code for code in found}


def choose_language(*preferred: str | None) -> str:
    """The first of ``preferred`` (IETF or POSIX tags, None skipped) that has texts, else English.

    A tag matches a catalog by its longest known prefix: with a ``zh`` catalog, "zh-CN", "zh-hans" and
    "zh_Hant_TW" all choose ``zh``; a translator who adds ``zh_Hant`` makes "zh-Hant-TW" choose that.
    """
    known = _languages_in(LOCALE_DIR)
    for tag in preferred:
        if not tag:
            continue
        parts = _normal(tag).split("-")
        for end in range(len(parts), 0, -1):
            code = known.get("-".join(parts[:end]))
            if code is not None:
                return code
    return SOURCE_LANGUAGE


# Structural types, so that this module imports nothing of botkit and every module may use it.
class Speaker(Protocol):
    """Who a text is for: :class:`botkit.message.User` is one."""

    @property
    def language(self) -> str | None: ...


class LanguageSetting(Protocol):
    """Where the default language is set: :class:`botkit.config.Settings` is one."""

    @property
    def language(self) -> str: ...


def language_for(user: Speaker | None, settings: LanguageSetting | None) -> str:
    """The language to answer ``user`` in: theirs where the platform tells it, else ``settings.language``."""
    return choose_language(
        user.language if user is not None else None, settings.language if settings is not None else None
    )


def translate(message: str, language: str | None, **params: Any) -> str:
    """``message`` (an English message id) in ``language``, with ``{name}`` fields filled from ``params``.

    A text without a translation stays English. A translation whose fields do not match the message's is
    logged and the English text is used, so a translator's slip never loses a reply.
    """
    catalog = _catalog(LOCALE_DIR, choose_language(language))
    text = catalog.gettext(message)
    if not params:
        return text
    try:
        return text.format(**params)
    except (KeyError, IndexError, ValueError) as exc:
        log.error("%s translation of %r does not fit its fields (%s); using English", language, message, exc)
        return message.format(**params)


class _Sent(Protocol):
    @property
    def author(self) -> Speaker: ...


class _Configured(Protocol):
    @property
    def settings(self) -> LanguageSetting | None: ...


class HandlerContext(Protocol):
    """What :func:`translate_for` needs of a handler's context: :class:`botkit.context.Context` is one."""

    @property
    def incoming(self) -> _Sent: ...

    @property
    def bot(self) -> _Configured: ...


def translate_for(ctx: HandlerContext, message: str, **params: Any) -> str:
    """``message`` in the language of the user who wrote ``ctx``'s message (see :func:`language_for`)."""
    return translate(message, language_for(ctx.incoming.author, ctx.bot.settings), **params)


def fields(text: str) -> set[str]:
    """The ``{name}`` fields of a format string (the catalog test compares them between languages)."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


@functools.cache
def _catalog(folder: Path, language: str) -> gettext.NullTranslations:
    """The compiled catalog of ``language`` in ``folder`` (English: none, every text is its own id)."""
    path = folder / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == SOURCE_LANGUAGE or not path.is_file():
        return gettext.NullTranslations()
    # Babel reads the .po and compiles it; imported here, so that an English-only bot never loads it.
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    try:
        with path.open("rb") as po:
            catalog = read_po(po, domain=DOMAIN, abort_invalid=True)
    except Exception as exc:  # a broken catalog must not silence the bot: answer in English, say why
        log.error("cannot read %s (%s: %s); %s users get English", path, type(exc).__name__, exc, language)
        return gettext.NullTranslations()
    compiled = BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out, as msgfmt does
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def _normal(tag: str) -> str:
    return tag.strip().replace("_", "-").lower()
