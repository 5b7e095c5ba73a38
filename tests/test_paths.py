"""driftwatch.paths.inside: the one containment check the API's file routes and the report writer share."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftwatch.paths import inside


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "reports"
    (folder / "m").mkdir(parents=True)
    (folder / "m" / "page.html").write_text("x")
    (tmp_path / "secret.html").write_text("no")
    return folder


@pytest.mark.parametrize("path", ["m/page.html", "m/../m/page.html", "./m/page.html"])
def test_paths_inside_resolve_to_the_file(root: Path, path: str) -> None:
    assert inside(root, path) == (root / "m" / "page.html").resolve()


def test_the_folder_itself_is_inside(root: Path) -> None:
    assert inside(root, ".") == root.resolve()
    assert inside(root, "m/..") == root.resolve()


@pytest.mark.parametrize("path", ["..", "../secret.html", "m/../../secret.html", "", "a\x00b", "/etc/passwd"])
def test_dot_dot_absolute_empty_and_nul_are_refused(root: Path, path: str) -> None:
    assert inside(root, path) is None


def test_an_absolute_path_inside_is_accepted(root: Path) -> None:
    page = (root / "m" / "page.html").resolve()
    assert inside(root, page) == page


def test_a_symlink_escaping_the_folder_is_refused_one_staying_inside_is_not(root: Path) -> None:
    (root / "out").symlink_to(root.parent)
    (root / "leak.html").symlink_to(root.parent / "secret.html")
    (root / "alias").symlink_to(root / "m")
    assert inside(root, "out/secret.html") is None
    assert inside(root, "leak.html") is None
    assert inside(root, "alias/page.html") == (root / "m" / "page.html").resolve()


def test_a_symlinked_root_is_followed_once(tmp_path: Path, root: Path) -> None:
    """The root is resolved too, so a root reached through a symlink still contains its own files."""
    (tmp_path / "via").symlink_to(root)
    assert inside(tmp_path / "via", "m/page.html") == (root / "m" / "page.html").resolve()


def test_a_symlink_loop_is_refused_not_raised(root: Path) -> None:
    (root / "loop").symlink_to(root / "loop")
    assert inside(root, "loop/x.html") is None
