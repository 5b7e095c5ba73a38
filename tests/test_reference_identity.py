"""One identity hash for a reference file, shared by the drift profile and the reference performance."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from driftwatch.errors import SourceError
from driftwatch.sources.identity import reference_identity


def test_the_identity_is_the_documented_hash_and_follows_the_file(tmp_path: Path) -> None:
    ref = tmp_path / "ref.parquet"
    ref.write_bytes(b"x" * 10)
    os.utime(ref, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    settings = {"format": 3, "bins": 10}
    literal = {"format": 3, "bins": 10, "path": str(ref), "size": 10, "mtime_ns": 1_700_000_000_000_000_000}
    expected = hashlib.sha256(json.dumps(literal, sort_keys=True).encode()).hexdigest()[:16]
    assert reference_identity(str(ref), settings) == expected
    assert reference_identity(str(ref), {"bins": 10, "format": 3}) == expected  # key order does not matter
    assert reference_identity(str(ref), settings | {"bins": 20}) != expected
    os.utime(ref, ns=(1_700_000_000_000_000_001, 1_700_000_000_000_000_001))
    assert reference_identity(str(ref), settings) != expected


def test_a_missing_reference_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="reference file cannot be read"):
        reference_identity(str(tmp_path / "gone.parquet"), {})
