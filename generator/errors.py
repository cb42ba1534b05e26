"""The one error type the command line turns into a clean message and exit 1."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad input: names the file (and line, where there is one)."""

    def __init__(self, path: Path | str | None, message: str, line: int | None = None):
        self.path = Path(path) if path is not None else None
        self.line = line
        self.message = message
        super().__init__(str(self))

    def __reduce__(self):  # picklable, so a worker process can report it
        return (self.__class__, (self.path, self.message, self.line))

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line else f"{self.path}: "
        return f"{where}{self.message}"
