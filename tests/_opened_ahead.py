"""A spy on `pipeline.files_ahead.FilesAhead._open`: the names of the files (or downloaded objects) it opened
ahead, in order. Shared by the local-file and the object-storage read-ahead tests."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from driftwatch.pipeline import files_ahead


def spy_opened_ahead(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Patch `FilesAhead._open`; the returned list fills with the name of each file it opened (not the ones
    it left to the usual way)."""
    opened: list[str] = []
    real_open = files_ahead.FilesAhead._open

    def spy(self: files_ahead.FilesAhead, f: Any, after: threading.Event) -> Any:
        result = real_open(self, f, after)
        if result is not None:
            opened.append(Path(f.path).name)
        return result

    monkeypatch.setattr(files_ahead.FilesAhead, "_open", spy)
    return opened
