"""The chat format botkit's own models are trained with (ChatML-style turns), and encoding chats in it.

Kept in one place so the tokenizer stage, the test model factory, the worker and the bot agree. Models
from elsewhere bring their own template in ``tokenizer_config.json`` / ``chat_template.jinja`` and it
wins. The ``{% generation %}`` markers let transformers return an assistant-token mask, which the
fine-tuning stage uses to put the loss on the assistant's words only.

Two ways to encode a chat, which give the same ids: :func:`encode_chat` with the transformers tokenizer a
loaded model has, and :class:`ChatTokenizer`, which needs only ``tokenizers`` and ``jinja2``, so that a
queue-mode bot counts prompt tokens without importing torch or transformers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from botkit.types import ChatTurn

BOS = "<|endoftext|>"
EOS = "<|im_end|>"
TURN_START = "<|im_start|>"
PAD = "<|pad|>"
SPECIAL_TOKENS = [PAD, BOS, TURN_START, EOS]

CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['role'] == 'assistant' -%}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{%- else -%}"
    "{{ message['content'] + '<|im_end|>' }}"
    "{%- endif -%}"
    "{{ '\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)

# The names transformers passes to a chat template (its ``special_tokens_map``), e.g. ``bos_token``.
TEMPLATE_TOKEN_NAMES = (
    "bos_token",
    "eos_token",
    "unk_token",
    "sep_token",
    "pad_token",
    "cls_token",
    "mask_token",
)


def encode_chat(tokenizer: Any, messages: Sequence[ChatTurn]) -> list[int]:
    """Token ids of ``messages`` rendered with the chat template, ending where the assistant speaks.

    What people wrote is encoded as plain text: a message containing ``<|im_end|>`` or ``<|im_start|>system``
    gets the ids of those characters, never the special tokens, so nobody can write a turn of their own
    (see :func:`encode_with_plain_content`).

    Args:
        tokenizer: a transformers tokenizer with a chat template (``LoadedModel.tokenizer``), or anything
            with the same ``apply_chat_template`` (then encoded by it as it is).
        messages: the conversation.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None and isinstance(getattr(tokenizer, "chat_template", None), str):

        def render(turns: list[dict[str, Any]]) -> str:
            text: str = tokenizer.apply_chat_template(turns, add_generation_prompt=True, tokenize=False)
            return text

        return encode_with_plain_content(backend, render, messages)
    ids = tokenizer.apply_chat_template(
        [dict(m) for m in messages], add_generation_prompt=True, tokenize=True, return_dict=False
    )
    if isinstance(ids, dict) or hasattr(ids, "keys"):  # some tokenizers return a BatchEncoding anyway
        ids = ids["input_ids"]
    return [int(i) for i in ids]


# Private-use code points mark where each message's content sits in the rendered template.
_MARK = re.compile("\ue000(\\d+)\ue001")
# tokenizer id -> (the tokenizer, a copy of it that reads special-token strings as plain text)
_PLAIN: dict[int, tuple[Any, Any]] = {}


def encode_with_plain_content(
    tokenizer: Any, render: Callable[[list[dict[str, Any]]], str], messages: Sequence[ChatTurn]
) -> list[int]:
    """Encode a chat so that the template's markers are special tokens and the messages' text never is.

    The template is rendered with a marker in place of each message's content; the text between markers
    (the template's own) is encoded as usual, each content with special-token matching turned off. For the
    byte-level BPE of botkit's models this gives the same ids as encoding the whole prompt when no message
    holds a special token (the template's pieces end at a newline or a special token, where the
    pre-tokenizer splits anyway; ``tests/model/test_chat_injection.py`` checks it).

    A template that does not copy a content verbatim (it trims or rewrites it) cannot be split this way;
    then the rendered prompt is encoded whole, after any special-token text inside the contents has been
    broken up with a zero-width joiner, so that it still reads as text.

    Args:
        tokenizer: a ``tokenizers.Tokenizer``.
        render: renders the template for a list of message dicts (with the generation prompt).
        messages: the conversation.
    """
    marks = [f"\ue000{i}\ue001" for i in range(len(messages))]
    rendered = render([{**dict(m), "content": mark} for m, mark in zip(messages, marks, strict=True)])
    contents = [m["content"] for m in messages]
    if any(rendered.count(mark) != 1 for mark in marks) or any("\ue000" in c for c in contents):
        defanged = [{**dict(m), "content": _defang(tokenizer, m["content"])} for m in messages]
        whole: list[int] = tokenizer.encode(render(defanged), add_special_tokens=False).ids
        return whole
    plain = _plain_copy(tokenizer)
    ids: list[int] = []
    for i, piece in enumerate(_MARK.split(rendered)):
        if i % 2:  # a captured message index
            ids += plain.encode(contents[int(piece)], add_special_tokens=False).ids
        elif piece:
            ids += tokenizer.encode(piece, add_special_tokens=False).ids
    return ids


def _plain_copy(tokenizer: Any) -> Any:
    """A copy of ``tokenizer`` with ``encode_special_tokens`` on (a copy, so that threads sharing the
    original never see the flag flip)."""
    known = _PLAIN.get(id(tokenizer))
    if known is None or known[0] is not tokenizer:
        from tokenizers import Tokenizer

        copy = Tokenizer.from_str(tokenizer.to_str())
        copy.encode_special_tokens = True
        known = _PLAIN[id(tokenizer)] = (tokenizer, copy)
    return known[1]


def _defang(tokenizer: Any, text: str) -> str:
    """``text`` with every added special token's string broken after its first character."""
    for token in tokenizer.get_added_tokens_decoder().values():
        if token.special and len(token.content) > 1 and token.content in text:
            text = text.replace(token.content, token.content[0] + "\u200d" + token.content[1:])
    return text


class ChatTokenizer:
    """Encodes chats as the model's transformers tokenizer does, from ``tokenizer.json`` and the template.

    It renders the template in the same sandboxed jinja2 set-up as transformers (trimmed blocks, the
    ``generation`` tag, ``raise_exception``) with the same special-token names, then encodes the text
    without adding special tokens, which is what ``apply_chat_template(tokenize=True)`` does.

    Args:
        tokenizer: a ``tokenizers.Tokenizer``.
        template: the chat template (jinja2 source).
        template_tokens: ``bos_token`` and the like, as the template sees them.
    """

    def __init__(self, tokenizer: Any, template: str, template_tokens: dict[str, str]) -> None:
        self._tokenizer = tokenizer
        self._template = _compile(template)
        self._template_tokens = dict(template_tokens)

    @classmethod
    def from_dir(cls, directory: str | Path) -> ChatTokenizer:
        """Read ``tokenizer.json``, ``tokenizer_config.json`` and ``chat_template.jinja`` in ``directory``.

        The template is ``chat_template.jinja``, else the config's ``chat_template``, else botkit's own
        (as the model loader does for a model without one).

        Raises:
            FileNotFoundError: there is no ``tokenizer.json`` (a slow, sentencepiece-only tokenizer).
        """
        from tokenizers import Tokenizer

        where = Path(directory)
        if not (where / "tokenizer.json").is_file():
            raise FileNotFoundError(
                f"{where} has no tokenizer.json; the bot counts tokens with the tokenizers library, which "
                "reads only that file (save the model's tokenizer as a fast tokenizer)"
            )
        config: dict[str, Any] = {}
        for name in (
            "special_tokens_map.json",
            "tokenizer_config.json",
        ):  # the second wins, as in transformers
            if (where / name).is_file():
                config |= json.loads((where / name).read_text(encoding="utf-8"))
        template = _template(where, config.get("chat_template"))
        tokens = {
            name: _content(config[name]) for name in TEMPLATE_TOKEN_NAMES if config.get(name) is not None
        }
        return cls(Tokenizer.from_file(str(where / "tokenizer.json")), template, tokens)

    def render(self, messages: Sequence[ChatTurn]) -> str:
        """The prompt text of ``messages``, ending where the assistant speaks."""
        turns = [{k: v for k, v in m.items() if v is not None} for m in messages]
        rendered: str = self._template.render(
            messages=turns, tools=None, documents=None, add_generation_prompt=True, **self._template_tokens
        )
        return rendered

    def encode_chat(self, messages: Sequence[ChatTurn]) -> list[int]:
        """Token ids of ``messages``; the same as :func:`encode_chat` with the model's own tokenizer (the
        messages' text is plain text, never special tokens)."""

        def render(turns: list[dict[str, Any]]) -> str:
            return self.render(turns)  # type: ignore[arg-type]

        return encode_with_plain_content(self._tokenizer, render, messages)


def _template(directory: Path, configured: Any) -> str:
    if (directory / "chat_template.jinja").is_file():
        return (directory / "chat_template.jinja").read_text(encoding="utf-8")
    if isinstance(configured, str):
        return configured
    if isinstance(configured, list):  # named templates: [{"name": "default", "template": ...}, ...]
        named = {item.get("name"): item.get("template") for item in configured if isinstance(item, dict)}
        if isinstance(named.get("default"), str):
            return str(named["default"])
    return CHAT_TEMPLATE


def _content(token: Any) -> str:
    """A special token as written in a tokenizer config: a string or an ``AddedToken`` dict."""
    return str(token["content"]) if isinstance(token, dict) else str(token)


def _compile(template: str) -> Any:
    """``template`` compiled as transformers compiles chat templates (templates are untrusted code)."""
    import jinja2
    from jinja2.ext import Extension, loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class GenerationTag(Extension):
        """``{% generation %}...{% endgeneration %}``: marks assistant text; renders its body unchanged."""

        tags = {"generation"}  # noqa: RUF012  # jinja2's own declaration style

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

        def _body(self, caller: Any) -> str:
            return str(caller())

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None, **kwargs: Any) -> str:
        return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, **kwargs)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env.from_string(template)


def train_chat_tokenizer(
    texts: Iterable[str], vocab_size: int, *, min_frequency: int = 2, model_max_length: int = 512
) -> Any:
    """Train a byte-level BPE tokenizer on ``texts`` and wrap it with this chat format.

    Byte-level: any text (Chinese, emoji, code) round-trips with no unknown token. Used by the
    tokenizer training stage and by the test-model factory, so both speak the same format.

    Returns:
        A ``transformers.PreTrainedTokenizerFast`` with the special tokens and the chat template.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=[TURN_START],
        model_max_length=model_max_length,
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer
