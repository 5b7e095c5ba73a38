"""The version-pair pages (reports/versions.py) are linked from the index and from the monitor's overview when
the monitor has `versions:` configured: they used to be written but reachable from no page. Links are followed
as a browser resolves them (relative to the page), and must land on the pair's page."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

from _versions_sim import START, write_project
from driftwatch.config.loading import load_settings
from driftwatch.pipeline.cycle import run_monitor
from driftwatch.storage.database import Database


class _Section(HTMLParser):
    """The links and text of the page's `<section id="versions">`."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0  # > 0 inside the section
        self.links: list[tuple[str, str]] = []  # (href, text)
        self.text: list[str] = []
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "section" and (self.depth or found.get("id") == "versions"):
            self.depth += 1
        elif self.depth and tag == "a":
            self._href = found.get("href")

    def handle_endtag(self, tag: str) -> None:
        if tag == "section" and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.text.append(data)
            if self._href is not None:
                self.links.append((self._href, data))
                self._href = None


def section(page: Path) -> _Section:
    parser = _Section()
    parser.feed(page.read_text())
    return parser


def follow(root: Path, page: Path, href: str) -> Path:
    """Where a browser goes from `page` (a file under `root`) on clicking `href`."""
    base = "http://reports/" + page.relative_to(root).as_posix()
    return root / urljoin(base, href).removeprefix("http://reports/")


def run(config: Path) -> Path:
    settings = load_settings(config)
    with Database(settings.storage, settings.database) as db:
        run_monitor(db, settings, "m", now=START + timedelta(days=3))
    return settings.reports_dir


def test_index_and_overview_link_each_pair_page(tmp_path: Path) -> None:
    reports = run(write_project(tmp_path, days=1, rows=1500, mode="shadow", effect=False, seed=3))
    pair_page = reports / "m" / "versions" / "1.4-vs-1.5.html"
    assert pair_page.is_file()
    for page, label in (
        (reports / "index.html", "m: 1.4 vs 1.5"),
        (reports / "m" / "index.html", "1.4 vs 1.5"),
    ):
        found = section(page)
        assert [text for _, text in found.links] == [label], page
        [(href, _)] = found.links
        assert follow(reports, page, href) == pair_page
        shown = " ".join(found.text)
        assert "candidate_ok" in shown or "candidate_worse" in shown or "insufficient_data" in shown


def test_a_pair_not_compared_yet_says_so_and_a_monitor_without_versions_shows_nothing(tmp_path: Path) -> None:
    (tmp_path / "waiting").mkdir()
    (tmp_path / "plain").mkdir()
    config = write_project(tmp_path / "waiting", days=1, rows=300, mode="shadow", effect=False, seed=4)
    for f in (config.parent / "preds").iterdir():
        f.unlink()  # no prediction yet: nothing to compare
    reports = run(config)
    found = section(reports / "m" / "index.html")
    assert found.links == []
    assert "no window has both the baseline" in " ".join(found.text)

    plain = write_project(tmp_path / "plain", days=1, rows=300, mode="shadow", effect=False, seed=5)
    text = plain.read_text()
    plain.write_text(text[: text.index("    versions:")])
    reports = run(plain)
    for page in (reports / "index.html", reports / "m" / "index.html"):
        assert 'id="versions"' not in page.read_text()
