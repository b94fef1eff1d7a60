"""The chaos run's history: one JSON object per line, every record with `type`, `t` (time.time()) and `seq`.

Records are kept in memory in write order and, when the History was opened with a path, each one is also written
to the file as a single line (one write call, then it is on disk: lines never interleave) so that a run that dies
half-way still leaves every record written so far.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["History", "HistoryError"]

StrPath = str | os.PathLike[str]


class HistoryError(Exception):
    """A history file that cannot be read: the message names file:line."""


class History:
    """An append-only list of records; `History(path)` also writes them to `path` as JSON lines.

    `append=True` continues an existing file (its records are loaded first, so seq keeps increasing); otherwise the
    file is truncated.
    """

    def __init__(self, path: StrPath | None = None, *, append: bool = False) -> None:
        self.path: Path | None = Path(path) if path is not None else None
        self.records: list[dict[str, Any]] = []
        self._seq = 0
        self._file: IO[bytes] | None = None
        if self.path is not None:
            if append and self.path.exists():
                self.records = _read(self.path)
                self._seq = max((r["seq"] for r in self.records), default=-1) + 1
            self._file = open(self.path, "ab" if append else "wb", buffering=0)

    @classmethod
    def load(cls, path: StrPath) -> History:
        """Read a history file (nothing is written back). Raises HistoryError naming file:line on a bad line."""
        h = cls()
        h.records = _read(Path(path))
        h._seq = max((r["seq"] for r in h.records), default=-1) + 1
        return h

    def record(self, type: str, /, **fields: Any) -> dict[str, Any]:
        """Append a record: `t` defaults to time.time(), `seq` is assigned here. Returns the record."""
        for reserved in ("type", "seq"):
            if reserved in fields:
                raise TypeError(f"record(): {reserved!r} is set by History, not by the caller")
        rec: dict[str, Any] = {"type": type, "t": fields.pop("t", None), "seq": self._seq}
        if rec["t"] is None:
            rec["t"] = time.time()
        rec.update(fields)
        line = (json.dumps(rec, separators=(",", ":"), allow_nan=False) + "\n").encode()  # fails before any change
        if self._file is not None:
            view = memoryview(line)
            while view:  # an unbuffered write to a regular file writes everything at once; loop for the odd case
                n = self._file.write(view)
                if not n:  # pragma: no cover - only a non-blocking file writes nothing
                    raise OSError(f"{self.path}: could not write the history")
                view = view[n:]
        self._seq += 1
        self.records.append(rec)
        return rec

    def of(self, type: str) -> list[dict[str, Any]]:
        """The records of one type, in write order."""
        return [r for r in self.records if r["type"] == type]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.records)


def _read(path: Path) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    try:
        f = open(path, "rb")
    except OSError as e:
        raise HistoryError(f"{path}: {e.strerror or e}") from e
    with f:
        for lineno, raw in enumerate(f, 1):
            where = f"{path}:{lineno}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise HistoryError(f"{where}: not UTF-8: {e.reason}") from e
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise HistoryError(f"{where}: bad JSON: {e.msg} (column {e.colno})") from e
            if not isinstance(rec, dict):
                raise HistoryError(f"{where}: a record must be a JSON object, not {type(rec).__name__}")
            if not isinstance(rec.get("type"), str):
                raise HistoryError(f'{where}: record has no string "type"')
            t, seq = rec.get("t"), rec.get("seq")
            if not isinstance(t, int | float) or isinstance(t, bool):
                raise HistoryError(f'{where}: record has no numeric "t"')
            if not isinstance(seq, int) or isinstance(seq, bool):
                raise HistoryError(f'{where}: record has no integer "seq"')
            records.append(rec)
    return records
