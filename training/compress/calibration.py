"""Calibration: which weights matter, from the inputs each linear layer sees on real dialogues.

For a linear layer ``y = x W^T`` the output error of a perturbed weight is ``||(W - W') X^T||^2 =
tr((W - W') H (W - W')^T)`` with ``H = X^T X`` summed over the calibration tokens. Its diagonal weights
each input column's error (the codec's reconstruction loss); GPTQ and the codebook fine-tuning use all of
it. A tied input embedding is also the output head, so it is weighted by the head's inputs.
"""

from __future__ import annotations

from typing import Any

import torch

from botkit.training.packing import encode_dialogue

MAX_TOKENS = 256  # each calibration dialogue is cut to this many tokens


def compressible(model: Any) -> list[str]:
    """Names (in ``model.state_dict()``) of the matrices to compress: every 2-D weight but a tied head."""
    state = model.state_dict()
    tied = bool(getattr(model.config, "tie_word_embeddings", False))
    return [
        name for name, value in state.items() if value.ndim == 2 and not (tied and name == "lm_head.weight")
    ]


def input_module_of(model: Any, weight_name: str) -> str:
    """The module whose inputs weight ``weight_name``'s errors: itself, or the head for a tied embedding."""
    module = weight_name.rsplit(".", 1)[0]
    embedding = model.get_input_embeddings()
    if dict(model.named_modules()).get(module) is embedding:
        return "lm_head"
    return module


def hessians(
    model: Any, tokenizer: Any, dialogues: list[list[dict[str, str]]], max_tokens: int = MAX_TOKENS
) -> dict[str, torch.Tensor]:
    """``H = X^T X`` (float64, divided by the token count) for each compressible weight's input.

    Args:
        model: the float model (eval mode).
        tokenizer: its tokenizer (with the chat template).
        dialogues: calibration dialogues (a few hundred from the training split).
        max_tokens: each dialogue is cut to this many tokens.

    Returns:
        weight name -> (in_features, in_features) matrix.
    """
    wanted = {name: input_module_of(model, name) for name in compressible(model)}
    modules = dict(model.named_modules())
    sums: dict[str, torch.Tensor] = {}
    count = [0]

    def hook(module_name: str) -> Any:
        def record(_module: Any, inputs: tuple[torch.Tensor, ...]) -> None:
            x = inputs[0].detach().reshape(-1, inputs[0].shape[-1]).double()
            sums[module_name] = sums.get(module_name, 0) + x.T @ x

        return record

    handles = [modules[m].register_forward_pre_hook(hook(m)) for m in set(wanted.values())]
    try:
        with torch.no_grad():
            for messages in dialogues:
                ids, _ = encode_dialogue(tokenizer, messages)
                ids_t = torch.tensor(ids[:max_tokens])[None]
                count[0] += ids_t.shape[1]
                model(input_ids=ids_t)
    finally:
        for handle in handles:
            handle.remove()
    return {name: sums[module] / max(count[0], 1) for name, module in wanted.items()}
