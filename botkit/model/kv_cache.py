"""A KV cache that writes into room reserved up front, for batched decoding.

transformers' stock ``DynamicLayer`` concatenates its whole [B, H, T, D] tensor with each new token, so
every decode step copies the entire cache; at batch 32 that copy cost more than the matmuls. The
reserved layer keeps a [B, H, capacity, D] buffer and views its filled part, and can merge a second
batch's rows under its own (how late requests join a running batch).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from botkit.model.loader import LoadedModel


def preallocated_cache(lm: LoadedModel, capacity: int) -> Any:
    """A ``DynamicCache`` whose full-attention layers write into room reserved up front.

    The stock layer concatenates its whole [B, H, T, D] tensor with each new token, so a step copies the
    entire cache: at batch 32 that copy cost more than the matmuls (O(T^2) per reply). Sliding-window and
    other special layers keep their own behaviour.
    """
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    reserved = reserved_layer_class()
    cache = DynamicCache(config=lm.model.config)
    cache.layers = [reserved(capacity) if type(layer) is DynamicLayer else layer for layer in cache.layers]
    return cache


@functools.cache
def reserved_layer_class() -> type:
    from transformers.cache_utils import DynamicLayer

    class ReservedLayer(DynamicLayer):  # type: ignore[misc]  # transformers is untyped
        """Keys/values live in a [B, H, capacity, D] buffer; ``keys``/``values`` view its filled part."""

        def __init__(self, capacity: int) -> None:
            super().__init__()
            self.capacity = capacity
            self.filled = 0
            self.key_buffer: torch.Tensor | None = None
            self.value_buffer: torch.Tensor | None = None

        def update(
            self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
        ) -> tuple[torch.Tensor, torch.Tensor]:
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            end = self.filled + key_states.shape[-2]
            if self.key_buffer is None or self.value_buffer is None or end > self.key_buffer.shape[-2]:
                self._reserve(key_states, value_states, max(end, self.capacity))
            assert self.key_buffer is not None
            assert self.value_buffer is not None
            self.key_buffer[:, :, self.filled : end] = key_states
            self.value_buffer[:, :, self.filled : end] = value_states
            self.filled = end
            self.keys = self.key_buffer[:, :, :end]
            self.values = self.value_buffer[:, :, :end]
            return self.keys, self.values

        def _reserve(self, key_states: torch.Tensor, value_states: torch.Tensor, size: int) -> None:
            batch, heads = key_states.shape[:2]
            keys = key_states.new_empty((batch, heads, size, key_states.shape[-1]))
            values = value_states.new_empty((batch, heads, size, value_states.shape[-1]))
            if self.key_buffer is not None and self.value_buffer is not None:
                keys[:, :, : self.filled] = self.key_buffer[:, :, : self.filled]
                values[:, :, : self.filled] = self.value_buffer[:, :, : self.filled]
            self.key_buffer, self.value_buffer, self.capacity = keys, values, size

        def merge(self, other: Any, length: int, capacity: int) -> None:
            """Stack ``other``'s rows under these, both right-aligned at ``length`` (zeros on the left:
            masked positions must hold finite values, since 0 * NaN would poison the softmax)."""
            ours, theirs = (self.key_buffer, self.value_buffer), (other.key_buffer, other.value_buffer)
            merged = []
            for mine, their in zip(ours, theirs, strict=True):
                assert mine is not None
                assert their is not None
                shape = (mine.shape[0] + their.shape[0], mine.shape[1], capacity, mine.shape[3])
                both = mine.new_zeros(shape)
                both[: mine.shape[0], :, length - self.filled : length] = mine[:, :, : self.filled]
                both[mine.shape[0] :, :, length - other.filled : length] = their[:, :, : other.filled]
                merged.append(both)
            self.key_buffer, self.value_buffer = merged
            self.filled, self.capacity = length, capacity
            self.keys = self.key_buffer[:, :, :length]
            self.values = self.value_buffer[:, :, :length]

        def batch_select_indices(self, indices: torch.Tensor) -> None:
            if self.key_buffer is not None and self.value_buffer is not None:
                self.key_buffer = self.key_buffer[indices]
                self.value_buffer = self.value_buffer[indices]
                self.keys = self.key_buffer[:, :, : self.filled]
                self.values = self.value_buffer[:, :, : self.filled]

    return ReservedLayer
