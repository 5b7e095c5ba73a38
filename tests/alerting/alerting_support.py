"""Test support for the alerting tests: a real loopback HTTP server, a hand-driven clock, and builders."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from driftwatch.alerting.model import Condition, Op, Route, Rule, Sample, Selector, Threshold

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday; window 0 starts here
DAY = timedelta(days=1)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class LoopbackServer:
    """`ThreadingHTTPServer` on 127.0.0.1, port 0. Records each request; answers from a scripted queue of
    (status, headers, body), then 200 "ok" once the queue is empty."""

    requests: list[RecordedRequest] = field(default_factory=list)
    _script: deque[tuple[int, dict[str, str], bytes]] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with server._lock:
                    server.requests.append(
                        RecordedRequest("POST", self.path, dict(self.headers.items()), body)
                    )
                    status, headers, reply = server._script.popleft() if server._script else (200, {}, b"ok")
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature of the base
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll keeps shutdown() (which waits for the loop to notice) fast.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def reply(self, status: int, headers: Mapping[str, str] | None = None, body: bytes | str = b"ok") -> None:
        with self._lock:
            self._script.append(
                (status, dict(headers or {}), body.encode() if isinstance(body, str) else body)
            )

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class FakeClock:
    """The delivery loop's clock and sleep: sleeping advances time instantly and is recorded."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)


def make_rule(
    name: str = "FeaturePSIHigh",
    metric: str | tuple[str, ...] = "psi",
    op: str = ">",
    threshold: float | Threshold = 0.25,
    recover: float | Threshold | None = None,
    for_windows: int = 1,
    keep_firing_for: int = 0,
    min_samples: int | None = None,
    channels: tuple[str, ...] = ("log",),
    repeat_interval: timedelta | None = timedelta(hours=24),
    send_resolved: bool = True,
    annotations: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    feature: tuple[str, ...] | None = ("*",),
) -> Rule:
    def as_threshold(value: float | Threshold | None) -> Threshold | None:
        if value is None or isinstance(value, Threshold):
            return value
        return Threshold("absolute", float(value))

    limit = as_threshold(threshold)
    assert limit is not None
    return Rule(
        name=name,
        group="test",
        select=Selector(metric=(metric,) if isinstance(metric, str) else metric, feature=feature),
        condition=Condition(Op(op), limit, as_threshold(recover), min_samples),
        route=Route(channels=channels, repeat_interval=repeat_interval, send_resolved=send_resolved),
        for_windows=for_windows,
        keep_firing_for=keep_firing_for,
        labels=dict(labels or {"severity": "warning"}),
        annotations=dict(annotations or {"summary": "{{ metric }} {{ value }} on {{ feature }}"}),
    )


def window_sample(
    index: int,
    value: float | None,
    feature: str | None = "age",
    metric: str = "psi",
    samples: int | None = 1000,
    monitor: str = "credit-default",
    baseline: float | None = None,
    model_version: str = "v1",
    segment: str = "all",
    width: timedelta = DAY,
) -> Sample:
    start = T0 + index * width
    return Sample(
        monitor=monitor,
        model_version=model_version,
        segment=segment,
        feature=feature,
        metric=metric,
        window_start=start,
        window_end=start + width,
        value=value,
        samples=samples,
        baseline=baseline,
        report_url=f"/reports/{monitor}/{start:%Y-%m-%d}.html",
    )


def series(values: list[float | None], **kwargs: Any) -> list[Sample]:
    return [window_sample(i, v, **kwargs) for i, v in enumerate(values)]
