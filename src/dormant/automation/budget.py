"""The time budget of one invocation: stop collecting while there is still time to save.

Lambda kills a function at its timeout without a word. :class:`Watchdog` polls the time left
(``context.get_remaining_time_in_millis()``) and sets the collection's ``cancel`` event once
less than the reserve remains; every source then stops making calls and keeps what it read,
and the run saves, judges and notifies within the reserve, saying that it is partial.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Watchdog:
    """Sets ``cancel`` when ``remaining_ms()`` drops to ``reserve_s`` seconds or less."""

    remaining_ms: Callable[[], int]
    reserve_s: float
    cancel: threading.Event = field(default_factory=threading.Event)
    poll_s: float = 0.5
    fired_with_ms: int | None = None
    """The time left when it fired; None while it has not."""
    started_with_ms: int | None = None
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def _check(self) -> bool:
        left = int(self.remaining_ms())
        if self.started_with_ms is None:
            self.started_with_ms = left
        if left <= self.reserve_s * 1000:
            self.fired_with_ms = left
            self.cancel.set()
            return True
        return False

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self._check():
                return
            self._stop.wait(self.poll_s)

    def __enter__(self) -> Watchdog:
        if not self._check():
            self._thread = threading.Thread(target=self._loop, name="dormant-budget", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    @property
    def fired(self) -> bool:
        return self.fired_with_ms is not None

    def describe(self) -> str:
        """Why the run is partial, for the result, the logs and the notification."""
        return (
            f"the time budget ran out: collection stopped with {self.fired_with_ms / 1000:.0f} s "
            f"left (reserve {self.reserve_s:.0f} s) to save and report what was read"
        )
