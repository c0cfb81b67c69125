"""The JSON-lines channel a running step reports progress and metrics through (no parsing of log text)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Callable


class EventTail(threading.Thread):
    """Follows a step's events file while it runs and hands each complete event to `callback`."""

    def __init__(self, path: Path, callback: Callable[[dict[str, Any]], None], interval: float = 0.2):
        super().__init__(daemon=True)
        self.path, self.callback, self.interval = path, callback, interval
        self._offset = 0
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.wait(self.interval):
            self._drain()
        self._drain()

    def stop(self) -> None:
        self._stopping.set()
        self.join()

    def _drain(self) -> None:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except FileNotFoundError:
            return
        complete = chunk[: chunk.rfind(b"\n") + 1]      # a half-written last line waits for the next read
        self._offset += len(complete)
        for line in complete.splitlines():
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(event, dict):
                self.callback(event)
