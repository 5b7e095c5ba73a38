"""The demo project, read from an S3 server instead of local files (docs/sources.md, "Try it").

    .venv/bin/python benchmarks/s3_demo.py [--dir driftwatch-s3-demo] [--days 14]

Writes the `driftwatch demo` project, starts a moto S3 server on loopback (the tests' own fixture,
tests/sources/conftest.py; needs the dev dependencies), uploads the predictions, labels and reference to a
bucket, deletes the local copies, points driftwatch.yml at ``s3://…`` with the server as `endpoint_url`, and
runs the real CLI (`driftwatch run`) twice: the first cycle reads every object, the second finds nothing new.
Credentials are set in this process's environment only (moto accepts any), never in the config.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "sources"))

from conftest import S3_ENV, S3Server  # noqa: E402
from driftwatch.demo import DemoSpec, write_demo_project  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("driftwatch-s3-demo"))
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--rows-per-day", type=int, default=2000)
    args = parser.parse_args()
    root = args.dir.resolve()
    if root.exists():
        shutil.rmtree(root)
    config = write_demo_project(root, DemoSpec(days=args.days, rows_per_day=args.rows_per_day))
    os.environ.update(S3_ENV)
    server = S3Server()
    try:
        bucket = server.new_bucket()
        s3 = server.client()
        data = root / "data"
        for path in sorted(data.rglob("*")):
            if path.is_file():
                s3.upload_file(str(path), bucket, str(path.relative_to(data)))
        print(
            f"uploaded {sum(1 for p in data.rglob('*') if p.is_file())} files to s3://{bucket} at {server.url}"
        )
        shutil.rmtree(data)  # from here on the data exists only in the bucket
        store = f"\n      object_store:\n        endpoint_url: {server.url}"
        text = config.read_text()
        text = re.sub(r"path: data/(\S+)", lambda m: f"path: s3://{bucket}/{m.group(1)}{store}", text)
        config.write_text(text)
        cli = [sys.executable, "-m", "driftwatch.cli"]
        for attempt in ("first cycle: every object is new", "second cycle: nothing new to fetch"):
            print(f"\n$ driftwatch run --config {config}   # {attempt}")
            subprocess.run([*cli, "run", "--config", str(config)], check=True, env=os.environ)
        print(f"\nreports: open {root / 'reports' / 'index.html'}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
