"""The chat format botkit's own models are trained with (ChatML-style turns).

Kept in one place so the tokenizer stage, the test model factory and the backend agree. Models from
elsewhere bring their own template in ``tokenizer_config.json`` / ``chat_template.jinja`` and it wins.
The ``{% generation %}`` markers let transformers return an assistant-token mask, which the
fine-tuning stage uses to put the loss on the assistant's words only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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
