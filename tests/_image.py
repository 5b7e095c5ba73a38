"""The container image without a Docker engine: the Dockerfile's instructions parsed, and its file tree laid
out in a folder from them, with docker-compose.yml's mounts on top (tests/test_deploy.py runs the image's CMD and
HEALTHCHECK in that tree, chrooted, as the image's user).

What cannot be run here is emulated from the Dockerfile's own text, so breaking a line breaks the test: COPY
lines copy (symlinks kept, as Docker does), `mkdir -p` and `chown` in the RUN line create and hand over
folders, the `useradd --uid` and USER lines give the user. The one stand-in: the RUN line's virtual environment
is this checkout's (same package, same code) mounted at WORKDIR/.venv, since installing needs the network.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Dockerfile:
    base: str = ""
    workdir: str = "/"
    copies: list[tuple[list[str], str]] = field(default_factory=list)  # (sources, absolute destination)
    env: dict[str, str] = field(default_factory=dict)
    runs: list[str] = field(default_factory=list)
    user: str | None = None
    cmd: list[str] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)
    healthcheck_options: dict[str, str] = field(default_factory=dict)
    volumes: list[str] = field(default_factory=list)
    expose: list[str] = field(default_factory=list)


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def _absolute(workdir: str, path: str) -> str:
    return str(PurePosixPath(workdir) / path) if not path.startswith("/") else path


def _copy(image: Dockerfile, args: str) -> None:
    parts = shlex.split(args)
    assert not any(p.startswith("--") for p in parts), f"COPY options are not emulated: {args}"
    image.copies.append((parts[:-1], _absolute(image.workdir, parts[-1])))


def _env(image: Dockerfile, args: str) -> None:
    for item in shlex.split(args):
        key, _, value = item.partition("=")
        image.env[key] = value


def _healthcheck(image: Dockerfile, args: str) -> None:
    options, _, command = args.partition(" CMD ")
    image.healthcheck = json.loads(command)
    for option in shlex.split(options):
        key, _, value = option.removeprefix("--").partition("=")
        image.healthcheck_options[key] = value


def _set_base(image: Dockerfile, args: str) -> None:
    image.base = args


def _set_workdir(image: Dockerfile, args: str) -> None:
    image.workdir = _absolute(image.workdir, args)


def _set_user(image: Dockerfile, args: str) -> None:
    image.user = args


def _set_cmd(image: Dockerfile, args: str) -> None:
    image.cmd = json.loads(args)


# One handler per instruction the Dockerfile uses; anything else fails the test (it would not be emulated).
_INSTRUCTIONS: dict[str, Callable[[Dockerfile, str], None]] = {
    "FROM": _set_base,
    "WORKDIR": _set_workdir,
    "COPY": _copy,
    "ENV": _env,
    "RUN": lambda image, args: image.runs.append(args),
    "USER": _set_user,
    "CMD": _set_cmd,
    "HEALTHCHECK": _healthcheck,
    "VOLUME": lambda image, args: image.volumes.extend(json.loads(args)),
    "EXPOSE": lambda image, args: image.expose.extend(args.split()),
}


def parse_dockerfile(text: str) -> Dockerfile:
    image = Dockerfile()
    for word, args in instructions(text):
        handler = _INSTRUCTIONS.get(word)
        if handler is None:
            raise AssertionError(f"instruction {word} is not emulated by tests/_image.py")
        handler(image, args)
    return image


def run_effects(run: str) -> tuple[int | None, list[str], list[str]]:
    """(uid made by `useradd --uid`, folders made by `mkdir -p`, folders handed to that uid by `chown -R`)."""
    uid: int | None = None
    made: list[str] = []
    owned: list[str] = []
    for command in re.split(r"&&|;", run):
        words = shlex.split(command)
        if not words:
            continue
        if words[0] == "useradd" and "--uid" in words:
            uid = int(words[words.index("--uid") + 1])
        elif words[:2] == ["mkdir", "-p"]:
            made += words[2:]
        elif words[:2] == ["chown", "-R"]:
            owner = words[2].split(":")[0]
            assert uid is not None and owner in (str(uid), "driftwatch"), f"chown to {owner}, not the user"
            owned += words[3:]
    return uid, made, owned


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir() and not source.is_symlink():
        shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
    else:
        shutil.copy2(source, target, follow_symlinks=False)


def lay_out(image: Dockerfile, rootfs: Path, context: Path = ROOT) -> int:
    """Build the image's file tree in `rootfs` (no venv; see the module doc); returns the user's uid."""
    for sources, destination in image.copies:
        into_dir = destination.endswith("/") or len(sources) > 1
        for source in sources:
            path = context / source
            assert path.exists(), f"COPY {source}: not in the build context"
            target = rootfs / destination.lstrip("/")
            _copy(path, target / path.name if into_dir else target)
    (rootfs / image.workdir.lstrip("/")).mkdir(parents=True, exist_ok=True)
    uid: int | None = None
    for run in image.runs:
        made_uid, made, owned = run_effects(run)
        uid = made_uid if made_uid is not None else uid
        for folder in made:
            (rootfs / folder.lstrip("/")).mkdir(parents=True, exist_ok=True)
        for folder in owned:
            top = rootfs / folder.lstrip("/")
            assert top.exists(), f"chown {folder}: no such folder in the image"
            for path in [top, *top.rglob("*")]:
                os.chown(path, uid or 0, uid or 0, follow_symlinks=False)
    assert image.user is not None and uid is not None
    assert image.user.split(":")[0] in (str(uid), "driftwatch"), "USER is not the user the RUN line made"
    return uid
