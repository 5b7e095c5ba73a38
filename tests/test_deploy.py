"""The container set-up, checked without a Docker engine: files parse, reference files that exist, name metrics
that driftwatch really exports, and run the same command the README gives."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

import _early
from _image import lay_out, parse_dockerfile, run_effects
from _service import TOKEN, TestClient, make_project, spec
from driftwatch.alerting.rules import load_rules
from driftwatch.api.app import create_app
from driftwatch.config.loading import load_settings
from driftwatch.config.server import ServerSettings
from driftwatch.demo import write_demo_project
from driftwatch.pipeline.cycle import run_monitor
from driftwatch.storage.database import Database

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DASHBOARD = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / "driftwatch.json").read_text())


def test_compose_services_and_mounted_files_exist() -> None:
    services = COMPOSE["services"]
    assert set(services) == {"driftwatch", "prometheus", "grafana"}
    assert services["driftwatch"]["build"] == "."
    assert services["driftwatch"]["env_file"] == ".env"  # secrets from an env file, never inline
    assert "environment" not in services["driftwatch"]
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                if source == "./data":
                    continue  # the user's own data folder
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repo"
    assert (ROOT / "deploy" / "env.example").is_file()


def test_prometheus_config_and_rules_are_well_formed() -> None:
    prom = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    job = prom["scrape_configs"][0]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["driftwatch:8080"]
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus-rules.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
            assert rule["expr"].count("(") == rule["expr"].count(")")
            assert re.fullmatch(r"\d+[smhd]", rule.get("for", "1m"))


def test_grafana_provisioning_points_at_the_dashboard() -> None:
    ds = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    assert ds["datasources"][0]["url"] == "http://prometheus:9090"
    uid = ds["datasources"][0]["uid"]
    prov = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/driftwatch.yml").read_text())
    assert prov["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    for panel in DASHBOARD["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == uid
            assert panel["targets"]


def _metric_names(expr: str) -> set[str]:
    return {re.sub(r"_total$", "", m) for m in re.findall(r"driftwatch_[a-z_]+", expr)}


def test_every_metric_the_dashboard_and_rules_use_is_exported(tmp_path: Path) -> None:
    """Scrape a real /metrics after a demo cycle with labels and alerting, and find each name there."""
    settings = load_settings(make_project(tmp_path / "p"))
    with Database(settings.storage, settings.database) as db:
        from driftwatch.pipeline.alerts import alerting_settings, prepare_alerting

        run_monitor(
            db,
            settings,
            "credit-default",
            trigger="test",
            alerting=prepare_alerting(alerting_settings(settings)),
        )
        client = TestClient(create_app(settings, db, ServerSettings(), token=TOKEN))
        text = client.get("/metrics").text
    exported = {
        re.sub(r"_total$", "", line.split()[2]) for line in text.splitlines() if line.startswith("# TYPE")
    }
    used: set[str] = set()
    for panel in DASHBOARD["panels"]:
        for target in panel.get("targets", []):
            used |= _metric_names(target["expr"])
    used |= _metric_names(DASHBOARD["templating"]["list"][0]["query"])
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus-rules.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            used |= _metric_names(rule["expr"])
    assert len(used) >= 10
    assert used <= exported, sorted(used - exported)


def _readme_serve_line() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Run it as a service", 1)[1].split("\n## ", 1)[0]
    line = next(
        ln for ln in section.splitlines() if "driftwatch serve" in ln and ln.strip().startswith("driftwatch")
    )
    return shlex.split(line.strip())


def test_dockerfile_runs_the_readme_commands() -> None:
    docker = (ROOT / "Dockerfile").read_text()
    run = re.search(r"^RUN (.+?)(?:\\\n.*)?$", docker, re.M)
    assert run is not None
    readme = (ROOT / "README.md").read_text()
    setup = "python3 -m venv .venv && .venv/bin/pip install -q uv"
    assert setup in run.group(1) and setup in readme
    cmd: list[Any] = json.loads(re.search(r"^CMD (\[.+\])$", docker, re.M).group(1))  # type: ignore[union-attr]
    assert cmd[0] == ".venv/bin/driftwatch"
    serve = _readme_serve_line()
    assert cmd[1:3] == serve[1:3] == ["serve", "--config"]
    assert {"--host", "--port"} <= set(serve) and {"--host", "--port"} <= set(cmd)


@pytest.mark.parametrize("path", ["Dockerfile", "docker-compose.yml", "deploy/env.example"])
def test_no_secret_values_in_deploy_files(path: str) -> None:
    text = (ROOT / path).read_text()
    assert "hooks.slack.com" not in text and "xoxb-" not in text


# --- the image: hardened, pinned, and its layout finds what its config names ----------------------------------

IMAGE = parse_dockerfile((ROOT / "Dockerfile").read_text())
SERVICE = COMPOSE["services"]["driftwatch"]


def test_image_runs_as_a_non_root_user_and_checks_health() -> None:
    uid, _, owned = run_effects(" && ".join(IMAGE.runs))
    assert uid is not None and uid != 0
    assert IMAGE.user is not None and IMAGE.user.split(":")[0] in (str(uid), "driftwatch")
    assert "/data" in owned  # the volume the service writes belongs to the user
    # the healthcheck asks /health on the port the CMD serves, with python (the slim image has no curl)
    port = IMAGE.cmd[IMAGE.cmd.index("--port") + 1]
    assert IMAGE.expose == [port]
    probe = " ".join(IMAGE.healthcheck)
    assert IMAGE.healthcheck[0].endswith("/python") and f"http://127.0.0.1:{port}/health" in probe
    assert int(IMAGE.healthcheck_options["start-period"].rstrip("s")) >= 60  # warm-up and catch-up cycle
    assert IMAGE.volumes == ["/data"]
    # the config the CMD reads is the one compose mounts there
    config = IMAGE.cmd[IMAGE.cmd.index("--config") + 1]
    assert f"./deploy/driftwatch.yml:{config}:ro" in SERVICE["volumes"]


def test_image_installs_the_pinned_versions() -> None:
    """Reproducible builds: the RUN line installs with deploy/constraints.txt, which pins every runtime
    dependency (and their dependencies) to one version inside pyproject's range."""
    from packaging.requirements import Requirement

    copied = {dest: sources for sources, dest in IMAGE.copies}
    assert copied.get("/app/constraints.txt") == ["deploy/constraints.txt"]
    assert re.search(r"uv pip install .*--constraint constraints\.txt \.", " ".join(IMAGE.runs))
    assert re.search(r"pip install -q uv==\d+\.\d+\.\d+", " ".join(IMAGE.runs))  # the installer too
    pins: dict[str, list[str]] = {}
    for line in (ROOT / "deploy" / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            spec = str(requirement.specifier)
            assert spec.startswith("==") and "," not in spec, line
            pins.setdefault(requirement.name.lower(), []).append(spec[2:])
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for entry in project["dependencies"]:
        wanted = Requirement(entry)
        versions = pins.get(wanted.name.lower())
        assert versions, f"{wanted.name} is not pinned in deploy/constraints.txt"
        for version in versions:
            assert wanted.specifier.contains(version), (
                f"{wanted.name}=={version} is outside {wanted.specifier}"
            )


def test_compose_waits_for_a_healthy_driftwatch() -> None:
    assert COMPOSE["services"]["prometheus"]["depends_on"] == {"driftwatch": {"condition": "service_healthy"}}


def _unshare_works() -> str | None:
    """None when this process can make mount and network namespaces (root on Linux); else why not."""
    if shutil.which("unshare") is None or shutil.which("chroot") is None or shutil.which("ip") is None:
        return "unshare, chroot or ip is not installed"
    done = subprocess.run(
        ["unshare", "--mount", "--net", "--propagation", "private", "sh", "-c", "ip link set lo up"],
        capture_output=True,
        text=True,
    )
    return None if done.returncode == 0 else f"cannot make namespaces here: {done.stderr.strip()}"


PROBE = """
import json, time, urllib.request
from pathlib import Path
def get(path):
    with urllib.request.urlopen('http://127.0.0.1:8080' + path, timeout=30) as r:
        return r.read().decode()
deadline = time.monotonic() + 300
while True:
    health = json.loads(get('/health'))
    if all(m['last_run_status'] == 'ok' and not m['cycle_running'] for m in health['monitors']):
        break
    if time.monotonic() > deadline:
        break
    time.sleep(0.5)
files = sorted(str(p) for p in Path('/data').rglob('*') if p.is_file())
print(json.dumps({'health': health, 'alerts': json.loads(get('/api/alerts')), 'metrics': get('/metrics'),
                  'files': files, 'reports': json.loads(get('/api/monitors'))}))
"""


@dataclass(frozen=True)
class ContainerRun:
    rootfs: Path
    out: Path
    uid: int

    def read(self, name: str) -> str:
        path = self.out / name
        return path.read_text() if path.exists() else ""


@dataclass
class ContainerStart:
    """The container run under way in the background (tests/_early.py), or why it cannot run here."""

    skip: str | None
    process: subprocess.Popen[bytes] | None = None
    run: ContainerRun | None = None

    def wait(self) -> ContainerRun:
        if self.skip is not None:
            pytest.skip(self.skip)
        assert self.process is not None and self.run is not None
        try:
            self.process.wait(timeout=600)
        except subprocess.TimeoutExpired:
            self.stop()  # the script's own loops are bounded; this is the old subprocess.run's timeout
            raise
        return self.run

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, 9)
            self.process.wait(timeout=60)


@pytest.fixture(scope="session")
def container(tmp_path_factory: pytest.TempPathFactory) -> ContainerRun:
    """The image's tree (tests/_image.py) with compose's mounts, run with `unshare` (own mounts and network)
    and `chroot` as the image's user: the CMD as is (port 8080 is the namespace's own), then the HEALTHCHECK
    command until it passes, `driftwatch rules check`, a probe of the API, and SIGTERM. Started right after
    collection when the test below is selected (EARLY_STARTS), so it runs while the tests before it run."""
    started: ContainerStart = _early.take(
        "container", lambda: tmp_path_factory.mktemp("image"), start_container
    )
    return started.wait()


def start_container(base: Path) -> ContainerStart:
    why = _unshare_works()
    if why is not None:
        return ContainerStart(skip=why)
    rootfs, out = base / "rootfs", base / "out"
    out.mkdir()
    uid = lay_out(IMAGE, rootfs)
    # The user's data folder (compose: ./data): a 4-day demo with drift from day 2, ending today, so its
    # windows are inside alerting's first-evaluation backfill (7 days).
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    user_data = write_demo_project(base / "user", spec(end=today)).parent / "data"
    binds: list[tuple[Path, str, bool]] = []
    for volume in SERVICE["volumes"]:
        source, target, *mode = volume.split(":")
        if not source.startswith("./"):
            assert target in IMAGE.volumes, f"named volume {source} on {target}, which is not a VOLUME"
            continue  # a fresh named volume starts as the image's content: already in rootfs
        host = user_data if source == "./data" else ROOT / source
        binds.append((host, target, mode == ["ro"]))
    env_file = ROOT / "deploy" / "env.example"  # docs: `cp deploy/env.example .env`
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/data"}
    env |= IMAGE.env
    for line in env_file.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    venv = Path(sys.executable).parent.parent
    q = shlex.quote
    lines = ["set -u", "ip link set lo up", f"R={q(str(rootfs))}"]
    for name in ("bin", "lib", "lib64", "sbin"):
        if Path("/" + name).is_symlink():
            lines.append(f'ln -sfn {q(os.readlink("/" + name))} "$R/{name}"')
    for name in ("usr", "etc", "dev"):
        lines.append(f'mkdir -p "$R/{name}" && mount --rbind /{name} "$R/{name}"')
    lines += ['mkdir -p "$R/proc" "$R/tmp"', 'mount -t proc proc "$R/proc"', 'mount -t tmpfs tmpfs "$R/tmp"']
    # the checkout (the venv's editable install points into it) and the venv's interpreter read-only at their
    # own paths, the venv at WORKDIR/.venv (the image's RUN line makes it there)
    python_home = Path(sys.base_prefix)
    if not python_home.is_relative_to("/usr"):
        lines.append(
            f'mkdir -p "$R"{q(str(python_home))} && mount --bind -o ro {q(str(python_home))} "$R"{q(str(python_home))}'
        )
    lines.append(f'mkdir -p "$R"{q(str(ROOT))} && mount --bind -o ro {q(str(ROOT))} "$R"{q(str(ROOT))}')
    lines.append(
        f'mkdir -p "$R"{q(IMAGE.workdir)}/.venv && mount --bind {q(str(venv))} "$R"{q(IMAGE.workdir)}/.venv'
    )
    for host, target, read_only in binds:
        make = "mkdir -p" if host.is_dir() else "touch"
        lines.append(f'{make} "$R"{q(target)} && mount --bind {q(str(host))} "$R"{q(target)}')
        if read_only:
            lines.append(f'mount -o remount,bind,ro "$R"{q(target)}')
    environment = " ".join(q(f"{k}={v}") for k, v in env.items())
    inside = f'chroot --userspec={uid}:{uid} "$R" /usr/bin/env -i {environment} sh -c \'cd "$0" && exec "$@"\' {q(IMAGE.workdir)}'
    lines += [
        f'serve() {{ exec {inside} "$@"; }}',
        f'inside() {{ {inside} "$@"; }}',
        f"serve {' '.join(q(c) for c in IMAGE.cmd)} > {q(str(out / 'serve.log'))} 2>&1 &",
        "pid=$!",
        "for i in $(seq 1 600); do",
        f"  if inside {' '.join(q(c) for c in IMAGE.healthcheck)} 2>/dev/null; then echo $i > {q(str(out / 'healthy'))}; break; fi",
        "  kill -0 $pid 2>/dev/null || break",
        "  sleep 0.5",
        "done",
        f"inside .venv/bin/driftwatch rules check --config {q(IMAGE.cmd[IMAGE.cmd.index('--config') + 1])}"
        f" > {q(str(out / 'rules.txt'))} 2>&1; echo $? > {q(str(out / 'rules.rc'))}",
        f"inside .venv/bin/python -c {q(PROBE)} > {q(str(out / 'probe.json'))} 2> {q(str(out / 'probe.err'))}",
        "kill -TERM $pid; wait $pid; echo $? > " + q(str(out / "serve.rc")),
    ]
    script = "\n".join(lines)
    (out / "script.sh").write_text(script)
    process = subprocess.Popen(
        ["unshare", "--mount", "--net", "--propagation", "private", "sh", "-c", script],
        start_new_session=True,  # stop() ends the whole run, the served process inside too
    )
    return ContainerStart(skip=None, process=process, run=ContainerRun(rootfs, out, uid))


EARLY_STARTS = {"container": start_container}


@pytest.mark.slow  # a server start in the laid-out image with a fresh numba cache: ~30-60 s
def test_image_layout_finds_rules_reports_and_data(container: ContainerRun) -> None:
    log = container.read("serve.log")
    assert container.read("healthy"), f"the HEALTHCHECK command never passed\n{log[-3000:]}"
    # the rules the config names are found, in the image, and valid
    shipped = load_rules(ROOT / "alert_rules")
    assert container.read("rules.rc").strip() == "0", container.read("rules.txt")
    assert f"ok: {len(shipped.rules)} rule(s)" in container.read("rules.txt")
    probe = json.loads(container.read("probe.json") or "{}") or pytest.fail(container.read("probe.err") + log)
    monitors = probe["health"]["monitors"]
    assert [m["last_run_status"] for m in monitors] == ["ok"], log[-3000:]
    # alerting ran: alert states are stored (with the rules missing there is no alert table at all), and
    # the demo's drift fired an alert that the log channel wrote on the volume
    assert probe["alerts"].get("note") is None and probe["alerts"]["items"], probe["alerts"]
    assert "driftwatch_alerts{" in probe["metrics"]
    files = set(probe["files"])
    assert "/data/state/driftwatch.duckdb" in files  # storage on the volume
    assert "/data/.driftwatch/alerts.log" in files  # the rule file's log channel, relative to the config
    assert any(f.startswith("/data/reports/") and f.endswith(".html") for f in files), sorted(files)
    # everything the service wrote belongs to the image's user, and it stopped cleanly on SIGTERM
    for name in files:
        path = container.rootfs / name.lstrip("/")
        if (
            not name.startswith("/data/data/") and name != "/data/driftwatch.yml" and path.exists()
        ):  # WAL: gone
            assert path.stat().st_uid == container.uid, name
    assert container.read("serve.rc").strip() == "0", log[-3000:]
