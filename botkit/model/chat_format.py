"""The chat format botkit's own models are trained with (ChatML-style turns).

Kept in one place so the tokenizer stage, the test model factory and the backend agree. Models from
elsewhere bring their own template in ``tokenizer_config.json`` / ``chat_template.jinja`` and it wins.
The ``{% generation %}`` markers let transformers return an assistant-token mask, which the
fine-tuning stage uses to put the loss on the assistant's words only.
"""

from __future__ import annotations

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
