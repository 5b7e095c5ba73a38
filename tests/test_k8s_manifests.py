"""deploy/k8s/: every manifest valid against the Kubernetes JSON schemas (kubernetes-validate bundles them, so
this runs offline), strict (unknown fields are errors), and the pieces fit together: one replica recreated,
never rolled (DuckDB has one writer), probes on /health, the image's user, the config the image reads, the
Secret's keys, a Service and a ServiceMonitor that select the pod's port.

The ServiceMonitor is a custom resource of the Prometheus operator; kubernetes-validate has no schema for it,
so it is checked against the part of its CRD schema that matters here (written out below), not the full CRD.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from _image import parse_dockerfile, run_effects

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSIONS = ("1.28", "1.33")  # the oldest and a recent minor still commonly run


def load(name: str) -> dict[str, Any]:
    documents = [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]
    assert len(documents) == 1, name
    return dict(documents[0])


KUSTOMIZATION = load("kustomization.yaml")
MANIFESTS = [*KUSTOMIZATION["resources"], "secret.example.yaml"]
BUILTIN = [m for m in MANIFESTS if m != "servicemonitor.yaml"]
DEPLOYMENT = load("deployment.yaml")
POD = DEPLOYMENT["spec"]["template"]["spec"]
CONTAINER = POD["containers"][0]

# From the Prometheus operator's ServiceMonitor CRD (monitoring.coreos.com/v1): the required fields and the
# types of the ones used here.
SERVICE_MONITOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "required": ["selector"],
            "properties": {
                "selector": {
                    "type": "object",
                    "properties": {
                        "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}}
                    },
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string", "pattern": "^/"},
                            "interval": {
                                "type": "string",
                                "pattern": "^(0|(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?)$",
                            },
                            "scrapeTimeout": {
                                "type": "string",
                                "pattern": "^(0|(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?)$",
                            },
                            "authorization": {"type": "object"},
                        },
                    },
                },
            },
        },
    },
}


def test_kustomization_lists_every_manifest() -> None:
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(MANIFESTS) == on_disk
    # the Secret is not applied with the folder: a placeholder must never overwrite the real token
    assert "secret.example.yaml" not in KUSTOMIZATION["resources"]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("name", BUILTIN)
def test_manifest_is_valid_against_the_kubernetes_schema(name: str, version: str) -> None:
    assert kubernetes_validate.validate(load(name), version, strict=True) == version


def test_the_validator_rejects_what_kubernetes_would() -> None:
    """The check can fail: a typo'd field and a wrong type are both errors."""
    typo = copy.deepcopy(DEPLOYMENT)
    typo["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
    wrong = copy.deepcopy(DEPLOYMENT)
    wrong["spec"]["replicas"] = "one"
    for bad in (typo, wrong):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(bad, KUBERNETES_VERSIONS[-1], strict=True)


def test_service_monitor_matches_its_crd_schema_and_the_service() -> None:
    monitor = load("servicemonitor.yaml")
    jsonschema.validate(monitor, SERVICE_MONITOR_SCHEMA)
    broken = copy.deepcopy(monitor)
    broken["spec"]["endpoints"][0]["intervall"] = "60s"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SERVICE_MONITOR_SCHEMA)
    service = load("service.yaml")
    wanted = monitor["spec"]["selector"]["matchLabels"]
    assert wanted.items() <= service["metadata"]["labels"].items()
    port_names = {p["name"] for p in service["spec"]["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= port_names
    assert [e["path"] for e in monitor["spec"]["endpoints"]] == ["/metrics"]


def test_one_writer_one_replica_recreated() -> None:
    assert DEPLOYMENT["spec"]["replicas"] == 1
    assert DEPLOYMENT["spec"]["strategy"] == {"type": "Recreate"}
    claim = next(v for v in POD["volumes"] if "persistentVolumeClaim" in v)
    pvc = load("pvc.yaml")
    assert claim["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert {"kind": "HorizontalPodAutoscaler"} not in [{"kind": load(m)["kind"]} for m in MANIFESTS]


def test_pod_runs_the_image_as_built() -> None:
    image = parse_dockerfile((ROOT / "Dockerfile").read_text())
    uid, _, _ = run_effects(" && ".join(image.runs))
    security = POD["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == security["fsGroup"] == uid
    assert "command" not in CONTAINER and "args" not in CONTAINER  # the image's CMD
    # the config the CMD reads comes from the ConfigMap, and is deploy/driftwatch.yml
    config_path = image.cmd[image.cmd.index("--config") + 1]
    mounts = {m["mountPath"]: m for m in CONTAINER["volumeMounts"]}
    assert mounts[config_path]["subPath"] == "driftwatch.yml" and mounts[config_path]["readOnly"] is True
    volumes = {v["name"]: v for v in POD["volumes"]}
    config_map = load("configmap.yaml")
    assert volumes[mounts[config_path]["name"]]["configMap"]["name"] == config_map["metadata"]["name"]
    assert yaml.safe_load(config_map["data"]["driftwatch.yml"]) == yaml.safe_load(
        (ROOT / "deploy" / "driftwatch.yml").read_text()
    )
    # the image's volume and every folder it writes outside it are writable mounts (read-only root)
    assert CONTAINER["securityContext"]["readOnlyRootFilesystem"] is True
    assert set(image.volumes) <= set(mounts)
    assert {image.env["NUMBA_CACHE_DIR"], "/tmp"} <= set(mounts)
    port = int(image.cmd[image.cmd.index("--port") + 1])
    assert CONTAINER["ports"] == [{"name": "http", "containerPort": port}]


def test_probes_resources_and_secret() -> None:
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert CONTAINER[probe]["httpGet"] == {"path": "/health", "port": "http"}, probe
    startup = CONTAINER["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 180  # warm-up and catch-up cycle
    assert {"cpu", "memory"} <= set(CONTAINER["resources"]["requests"])
    assert "memory" in CONTAINER["resources"]["limits"]
    secret = load("secret.example.yaml")
    assert [e["secretRef"]["name"] for e in CONTAINER["envFrom"]] == [secret["metadata"]["name"]]
    assert "DRIFTWATCH_TOKEN" in secret["stringData"]
    text = (K8S / "secret.example.yaml").read_text()
    assert "hooks.slack.com" not in text and "xoxb-" not in text
    assert "env" not in CONTAINER  # nothing secret written inline
    assert POD["terminationGracePeriodSeconds"] >= 60  # SIGTERM: the running cycle finishes first
