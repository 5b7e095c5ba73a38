"""tests/_early.py: a resource is started early only for a selected test that uses it, taken once by its
fixture, started on demand when there was no early start, and stopped at the end when never taken."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

import _early


class Handle:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True


def _item(module: object, *fixtures: str) -> SimpleNamespace:
    return SimpleNamespace(module=module, fixturenames=list(fixtures))


@pytest.fixture(autouse=True)
def _own_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Empty registries for these tests: the session's real early starts (the MLflow server...) stay put."""
    monkeypatch.setattr(_early, "_started", {})
    monkeypatch.setattr(_early, "_folders", [])


def test_started_only_for_a_selected_test_that_uses_it_and_taken_once(tmp_path: Path) -> None:
    started: list[Handle] = []

    def start(folder: Path) -> Handle:
        started.append(Handle(folder))
        return started[-1]

    module = SimpleNamespace(EARLY_STARTS={"srv_a": start, "srv_b": start})
    items = [
        _item(module, "srv_a", "tmp_path"),
        _item(module, "srv_a"),
        _item(SimpleNamespace(), "x"),
    ]
    assert _early.start_needed(items) == ["srv_a"]  # b: no selected test uses it
    assert len(started) == 1 and started[0].folder.is_dir()
    taken = _early.take("srv_a", lambda: tmp_path / "unused", start)
    assert taken is started[0] and len(started) == 1
    # a second take (no early handle left) starts one in the fixture's own folder
    again = _early.take("srv_a", lambda: tmp_path, start)
    assert again.folder == tmp_path and len(started) == 2
    _early.stop_untaken()
    assert not started[0].folder.exists()  # the early folder is removed at the end
    assert not started[0].stopped  # a taken handle is its fixture's to stop


def test_never_taken_is_stopped_and_an_early_error_is_raised_by_the_fixture(tmp_path: Path) -> None:
    handle = Handle(tmp_path)
    calls: list[str] = []

    def broken(folder: Path) -> Handle:
        calls.append("broken")
        raise RuntimeError("could not start")

    module = SimpleNamespace(EARLY_STARTS={"srv_kept": lambda folder: handle, "srv_broken": broken})
    _early.start_needed([_item(module, "srv_kept", "srv_broken")])
    with pytest.raises(RuntimeError, match="could not start"):
        _early.take("srv_broken", lambda: tmp_path, broken)  # started again, so the test sees the error
    assert calls == ["broken", "broken"]
    _early.stop_untaken()
    assert handle.stopped
