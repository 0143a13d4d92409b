"""An in-memory store: for tests and throwaway bots."""

from __future__ import annotations

import copy
from typing import Any

from botkit.types import ChatTurn


class MemoryStore:
    """Keeps everything in dicts; forgets it all when the process ends."""

    def __init__(self) -> None:
        self._history: dict[str, list[ChatTurn]] = {}
        self._state: dict[str, dict[str, Any]] = {}

    async def history(self, key: str, limit: int | None = None) -> list[ChatTurn]:
        turns = self._history.get(key, [])
        return list(turns if limit is None else turns[-limit:] if limit > 0 else [])

    async def append(self, key: str, *turns: ChatTurn) -> None:
        self._history.setdefault(key, []).extend(
            ChatTurn(role=t["role"], content=t["content"]) for t in turns
        )

    async def clear(self, key: str) -> None:
        self._history.pop(key, None)
        self._state.pop(key, None)

    async def get_state(self, key: str) -> dict[str, Any]:
        return copy.deepcopy(self._state.get(key, {}))

    async def set_state(self, key: str, state: dict[str, Any]) -> None:
        self._state[key] = copy.deepcopy(state)

    async def close(self) -> None:
        return None
