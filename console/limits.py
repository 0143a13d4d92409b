"""Login attempts, limited per user name and per client address (a sliding window in this process).

Only failed attempts count: a person who types their password right is never held back, and a guesser gets
``attempts`` tries per ``window_s`` for any one name and from any one address, whichever fills first. The
window lives in memory, so a restart forgets it; a console served by several processes multiplies the
allowance by their number, which still stops a brute force (argon2 makes each guess slow as well).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


class LoginLimiter:
    """Counts failed logins; :meth:`retry_after` says how long a name or an address must wait.

    Args:
        attempts: failures allowed within the window.
        window_s: the window, in seconds.
        clock: monotonic seconds (tests pass their own).
    """

    def __init__(
        self, attempts: int = 5, window_s: float = 60.0, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, name: str, address: str) -> int | None:
        """Whole seconds until the next attempt for ``name`` from ``address`` is allowed; None: now."""
        now = self.clock()
        waits = []
        for key in (f"name:{name.casefold()}", f"addr:{address}"):
            times = self._recent(key, now)
            if len(times) >= self.attempts:
                waits.append(times[len(times) - self.attempts] + self.window_s - now)
        return max(1, math.ceil(max(waits))) if waits else None

    def failed(self, name: str, address: str) -> None:
        """Count a failed attempt against both the name and the address."""
        now = self.clock()
        for key in (f"name:{name.casefold()}", f"addr:{address}"):
            self._failures.setdefault(key, deque()).append(now)
