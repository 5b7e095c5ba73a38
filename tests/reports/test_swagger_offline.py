"""/docs in a real browser with every host but 127.0.0.1 unreachable: Swagger UI's assets come from the
server itself (the installed swagger-ui-bundle-v2), so the page renders the operations list offline.

The network is cut inside chromium: its resolver maps every name except 127.0.0.1 to "not found", and a
proxy that does not exist takes every request that is not for 127.0.0.1. FastAPI's default page (assets on
cdn.jsdelivr.net) renders nothing under these flags; the test also lists every request the page made and
fails on any that left the machine.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
import uvicorn
from reports_cdp import Browser

from _service import TOKEN, make_project
from driftwatch.api.app import create_app
from driftwatch.config.loading import load_settings
from driftwatch.storage.database import Database

pytestmark = pytest.mark.slow  # a browser start and a 1.5 MB script: ~10 s

OFFLINE_FLAGS = (
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--proxy-server=127.0.0.1:9",  # discard port: nothing listens, so a proxied request fails at once
    "--proxy-bypass-list=127.0.0.1",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app on a demo project, served by uvicorn on 127.0.0.1 in a thread."""
    settings = load_settings(make_project(tmp_path_factory.mktemp("swagger") / "p"))
    with Database(settings.storage, settings.database) as db:
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings, db, token=TOKEN), host="127.0.0.1", port=port, log_level="warning"
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(30)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    b = Browser(tmp_path_factory.mktemp("chromium-profile"), extra_flags=OFFLINE_FLAGS)
    try:
        yield b
    finally:
        b.close()


def test_the_network_is_really_cut(browser: Browser) -> None:
    """The flags work: a page on the internet does not load (else the next test would prove nothing)."""
    page = browser.page
    page.clear()
    page.call("Page.navigate", {"url": "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"})
    failed = page.wait_event("Network.loadingFailed", timeout=20)
    assert failed["params"]["errorText"].startswith("net::ERR_"), failed


def test_docs_renders_the_operations_offline(browser: Browser, base_url: str) -> None:
    page = browser.page
    page.navigate("about:blank")  # let the previous test's requests settle before counting this page's
    page.clear()
    page.navigate(f"{base_url}/docs")
    count = page.wait_for("document.querySelectorAll('.opblock').length", timeout=30)
    paths = page.evaluate(
        "Array.from(document.querySelectorAll('.opblock-summary-path')).map(e => e.getAttribute('data-path'))"
    )
    assert count >= 10
    assert {"/health", "/metrics", "/api/monitors", "/api/silences"} <= set(paths), paths
    title = page.evaluate("document.querySelector('.info .title')?.textContent || ''")
    assert title.startswith("driftwatch"), title
    urls = page.request_urls()
    assert any(u.endswith("/static/swagger-ui/swagger-ui-bundle.js") for u in urls), urls
    outside = [
        u for u in urls if urlparse(u).hostname not in ("127.0.0.1", None) and not u.startswith("data:")
    ]
    assert outside == [], outside
    assert page.errors() == [], page.errors()
