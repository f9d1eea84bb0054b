"""Every rendered FlinkDeployment validates against the operator's CRD, strictly, and its rules.

The CRDs are the Flink Kubernetes Operator 1.15.0 ones in ``../shared/k8s/crds``. The API server
prunes unknown fields silently, so a typo (``upgradeMod``) would vanish on apply; here the schema is
made strict instead: every object schema that lists ``properties`` rejects other keys, except where
the CRD says ``x-kubernetes-preserve-unknown-fields`` (``flinkConfiguration``). The operator's own
rules that the schema cannot express are :func:`streamledger.k8s_render.operator_rule_violations`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from streamledger import k8s_render
from streamledger.k8s_render import JOBS, OVERLAYS, flink_deployment, operator_rule_violations

REPO = Path(__file__).resolve().parents[2]
CRDS = REPO.parent / "shared" / "k8s" / "crds"
FLINK_DEPLOYMENT_CRD = CRDS / "flinkdeployments.flink.apache.org-v1.yml"
SNAPSHOT_CRD = CRDS / "flinkstatesnapshots.flink.apache.org-v1.yml"

pytestmark = pytest.mark.skipif(
    not FLINK_DEPLOYMENT_CRD.is_file(),
    reason=f"the operator CRDs are not at {CRDS} (shared/ is not beside this checkout)",
)

CASES = [(job, overlay) for overlay in OVERLAYS for job in JOBS]

#: What the API server accepts at the root of every custom resource besides the CRD's schema.
_OBJECT_META = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def strict(schema: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of an OpenAPI v3 CRD schema in which unknown fields are errors.

    ``additionalProperties: false`` goes on every object schema that has ``properties`` and no
    ``additionalProperties`` of its own, unless it preserves unknown fields (then it and everything
    below it stay open, as on the API server).
    """
    result = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if not isinstance(node, dict) or node.get("x-kubernetes-preserve-unknown-fields"):
            return
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for child in node.get("properties", {}).values():
            walk(child)
        for key in ("items", "additionalProperties", "not"):
            walk(node.get(key))
        for key in ("anyOf", "allOf", "oneOf"):
            for child in node.get(key, []):
                walk(child)

    walk(result)
    return result


def crd_root_schema(crd_file: Path) -> dict[str, Any]:
    """The CRD's openAPIV3Schema plus apiVersion/kind/metadata (implicit on the API server), strict."""
    crd = yaml.safe_load(crd_file.read_text())
    schema = copy.deepcopy(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    kind = crd["spec"]["names"]["kind"]
    group, version = crd["spec"]["group"], crd["spec"]["versions"][0]["name"]
    schema["properties"] = {
        "apiVersion": {"type": "string", "enum": [f"{group}/{version}"]},
        "kind": {"type": "string", "enum": [kind]},
        "metadata": _OBJECT_META,
        **schema["properties"],
    }
    schema["required"] = ["apiVersion", "kind", "metadata", "spec"]
    return strict(schema)


@cache
def validator(crd_file: Path = FLINK_DEPLOYMENT_CRD) -> jsonschema.Draft202012Validator:
    schema = crd_root_schema(crd_file)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@cache
def crd_flink_versions() -> tuple[str, ...]:
    crd = yaml.safe_load(FLINK_DEPLOYMENT_CRD.read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return tuple(spec["properties"]["flinkVersion"]["enum"])


def schema_errors(manifest: Any, crd_file: Path = FLINK_DEPLOYMENT_CRD) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in validator(crd_file).iter_errors(manifest)
    ]


def problems(manifest: Any) -> list[str]:
    """Everything the API server (strictly) and the operator would object to."""
    return schema_errors(manifest) + operator_rule_violations(manifest, crd_flink_versions())


# ------------------------------------------------------------------------------------------ the schema
def test_strict_schema_closes_objects_except_where_unknown_fields_are_preserved() -> None:
    schema = crd_root_schema(FLINK_DEPLOYMENT_CRD)
    spec = schema["properties"]["spec"]
    assert spec["additionalProperties"] is False
    assert spec["properties"]["job"]["additionalProperties"] is False
    container = spec["properties"]["podTemplate"]["properties"]["spec"]["properties"]["containers"]["items"]
    assert container["additionalProperties"] is False
    assert "additionalProperties" not in spec["properties"]["flinkConfiguration"]
    # Maps keep their own value schema.
    assert spec["properties"]["logConfiguration"]["additionalProperties"] == {"type": "string"}
    # The original is untouched.
    original = yaml.safe_load(FLINK_DEPLOYMENT_CRD.read_text())
    original_spec = original["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert "additionalProperties" not in original_spec


def test_the_targeted_flink_version_is_in_the_crd() -> None:
    assert k8s_render.CRD_FLINK_VERSION == "v2_1"
    assert k8s_render.CRD_FLINK_VERSION in crd_flink_versions()


# ------------------------------------------------------------------------------------------ positive
@pytest.mark.parametrize(("job", "overlay"), CASES)
def test_rendered_manifest_is_valid(job: str, overlay: str) -> None:
    assert problems(flink_deployment(job, overlay)) == []


def committed_documents() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted((REPO / "k8s").rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if isinstance(document, dict) and document.get("kind") == "FlinkDeployment":
                yield path.relative_to(REPO).as_posix(), document


def test_committed_flink_deployments_are_valid() -> None:
    found = dict(committed_documents())
    assert len(found) == len(JOBS)  # the base; overlays are patches on it
    for path, document in found.items():
        assert problems(document) == [], path


def test_unknown_flink_configuration_keys_are_allowed() -> None:
    manifest = flink_deployment("account-balances", "dev")
    manifest["spec"]["flinkConfiguration"]["some.future.option"] = "x"
    assert schema_errors(manifest) == []


# ------------------------------------------------------------------------------------------ negative
Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(manifest: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = manifest
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[last] = value

    return mutate


def _delete(path: str, *keys: str) -> Mutation:
    def mutate(manifest: dict[str, Any]) -> None:
        node: Any = manifest
        for key in path.split("."):
            node = node[int(key)] if isinstance(node, list) else node[key]
        for key in keys:
            node.pop(key, None)

    return mutate


SCHEMA_REJECTS: dict[str, tuple[Mutation, str]] = {
    "unknown spec field": (_set("spec.upgradeMode", "savepoint"), "upgradeMode"),
    "typo in job": (_set("spec.job.upgradeMod", "savepoint"), "upgradeMod"),
    "unknown top-level field": (_set("specification", {}), "specification"),
    "unknown container field": (_set("spec.podTemplate.spec.containers.0.envv", []), "envv"),
    "unknown metadata field": (_set("metadata.label", {}), "label"),
    "cpu as a string": (_set("spec.taskManager.resource.cpu", "2"), "is not of type 'number'"),
    "parallelism as a string": (_set("spec.job.parallelism", "2"), "is not of type 'integer'"),
    "unknown upgrade mode": (_set("spec.job.upgradeMode", "snapshot"), "is not one of"),
    "unsupported flinkVersion": (_set("spec.flinkVersion", "v2_3"), "'v2_3' is not one of"),
    "wrong kind": (_set("kind", "FlinkSessionJob"), "is not one of"),
}


@pytest.mark.parametrize("case", SCHEMA_REJECTS)
def test_schema_rejects(case: str) -> None:
    mutate, expected = SCHEMA_REJECTS[case]
    manifest = flink_deployment("account-balances", "prod")
    mutate(manifest)
    errors = schema_errors(manifest)
    assert errors, case
    assert any(expected in error for error in errors), errors


def _set_config(key: str, value: Any) -> Mutation:
    """flinkConfiguration keys contain dots, so they are set as one key."""

    def mutate(manifest: dict[str, Any]) -> None:
        manifest["spec"]["flinkConfiguration"][key] = value

    return mutate


RULES_REJECT: dict[str, tuple[Mutation, str]] = {
    "no savepoint dir": (
        _delete("spec.flinkConfiguration", "execution.checkpointing.savepoint-dir"),
        "needs execution.checkpointing.savepoint-dir",
    ),
    "no checkpoint dir": (
        _delete("spec.flinkConfiguration", "execution.checkpointing.dir"),
        "needs execution.checkpointing.dir",
    ),
    "no high availability": (
        _delete("spec.flinkConfiguration", "high-availability.type", "high-availability.storageDir"),
        "needs high availability",
    ),
    "HA switched off": (_set_config("high-availability.type", "NONE"), "needs high availability"),
    "HA without storage": (
        _delete("spec.flinkConfiguration", "high-availability.storageDir"),
        "high-availability.storageDir",
    ),
    "unsupported flinkVersion": (_set("spec.flinkVersion", "v2_4"), "flinkVersion 'v2_4'"),
    "no jarURI": (_delete("spec.job", "jarURI"), "job.jarURI is missing"),
    "no entryClass": (_delete("spec.job", "entryClass"), "job.entryClass is missing"),
    "no job": (_delete("spec", "job"), "job is missing"),
    "no python module": (_set("spec.job.args", []), "-pym MODULE"),
    "no task manager resources": (_delete("spec.taskManager", "resource"), "taskManager.resource is missing"),
    "no job manager memory": (_delete("spec.jobManager.resource", "memory"), "jobManager.resource.memory"),
    "zero cpu": (_set("spec.taskManager.resource.cpu", 0), "taskManager.resource.cpu"),
    "latest tag": (_set("spec.image", "streamledger:latest"), "mutable tag latest"),
    "untagged image": (_set("spec.image", "registry.example/streamledger"), "no tag or digest"),
    "local checkpoint dir": (
        _set_config("execution.checkpointing.dir", "file:///tmp/checkpoints"),
        "local-only configuration",
    ),
    "local jars": (_set_config("pipeline.jars", "file:/x.jar"), "local-only configuration"),
    "non-string configuration value": (_set_config("parallelism.default", 4), "values must be strings"),
    "parallelism contradicts configuration": (_set("spec.job.parallelism", 7), "contradicts"),
    "invalid name": (_set("metadata.name", "Account_Balances"), "DNS-1035"),
    "status set": (_set("status", {}), "status is written by the operator"),
    "no service account": (_delete("spec", "serviceAccount"), "serviceAccount"),
}


@pytest.mark.parametrize("case", RULES_REJECT)
def test_operator_rules_reject(case: str) -> None:
    mutate, expected = RULES_REJECT[case]
    manifest = flink_deployment("account-balances", "dev")
    mutate(manifest)
    violations = operator_rule_violations(manifest, crd_flink_versions())
    assert any(expected in violation for violation in violations), violations


def test_legacy_directory_keys_satisfy_the_rules() -> None:
    manifest = flink_deployment("account-balances", "dev")
    config = manifest["spec"]["flinkConfiguration"]
    config["state.checkpoints.dir"] = config.pop("execution.checkpointing.dir")
    config["state.savepoints.dir"] = config.pop("execution.checkpointing.savepoint-dir")
    assert problems(manifest) == []


def test_stateless_jobs_need_no_state_directories() -> None:
    manifest = flink_deployment("account-balances", "dev")
    manifest["spec"]["job"]["upgradeMode"] = "stateless"
    for key in (
        "execution.checkpointing.savepoint-dir",
        "kubernetes.operator.periodic.savepoint.interval",
        "high-availability.type",
        "high-availability.storageDir",
    ):
        del manifest["spec"]["flinkConfiguration"][key]
    assert problems(manifest) == []


# ------------------------------------------------------------------------------------------ runbook
def runbook_documents() -> list[dict[str, Any]]:
    text = (REPO / "k8s" / "README.md").read_text()
    documents: list[dict[str, Any]] = []
    for block in re.findall(r"```yaml\n(.*?)```", text, flags=re.S):
        documents += [doc for doc in yaml.safe_load_all(block) if isinstance(doc, dict)]
    return documents


def test_runbook_snapshots_and_deployments_are_valid() -> None:
    documents = runbook_documents()
    snapshots = [doc for doc in documents if doc.get("kind") == "FlinkStateSnapshot"]
    assert snapshots, "the runbook shows how to trigger a savepoint with a FlinkStateSnapshot"
    for document in snapshots:
        assert schema_errors(document, SNAPSHOT_CRD) == []
        assert document["spec"]["jobReference"]["name"] in JOBS
    for document in documents:
        if document.get("kind") == "FlinkDeployment":
            assert schema_errors(document) == []


def test_snapshot_schema_is_strict_too() -> None:
    snapshot = copy.deepcopy(next(d for d in runbook_documents() if d["kind"] == "FlinkStateSnapshot"))
    snapshot["spec"]["savepoint"]["formatTyp"] = "CANONICAL"
    assert schema_errors(snapshot, SNAPSHOT_CRD)
