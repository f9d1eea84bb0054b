"""``streamledger k8s render``: manifests come from the jobs' own configuration and Settings.

The committed kustomize tree must equal a fresh render, and kustomize's output for each overlay must
equal what ``render JOB --overlay`` prints, so the two ways of deploying cannot disagree.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

import jobs.builder
from jobs.builder import job_configuration
from streamledger import k8s_render
from streamledger.config import ENV_PREFIX, Settings
from streamledger.errors import ConfigError
from streamledger.k8s_render import (
    CLUSTER_KEYS,
    JOBS,
    OVERLAYS,
    PENDING_SETTINGS,
    TRANSLATED_KEYS,
    ManifestError,
    ManifestsOutOfDateError,
    apply_json_patch,
    cluster_settings,
    flink_deployment,
    json_patch,
    kustomize_tree,
    register,
    sync_kustomize_tree,
)

from .cli_support import run_command

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
CASES = [(job, overlay) for overlay in OVERLAYS for job in JOBS]


def run(*argv: str) -> int:
    return run_command(register, "k8s", "render", *argv)


def pod_env(manifest: Mapping[str, Any]) -> dict[str, str]:
    container = manifest["spec"]["podTemplate"]["spec"]["containers"][0]
    return {item["name"]: item["value"] for item in container["env"] if "value" in item}


@pytest.fixture
def overlays(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, k8s_render.Overlay]]:
    """A private copy of OVERLAYS a test may change."""
    copy = dict(OVERLAYS)
    monkeypatch.setattr(k8s_render, "OVERLAYS", copy)
    yield copy


# ------------------------------------------------------------------------------------------ registry
def test_registry_names_the_four_jobs_by_module() -> None:
    assert list(JOBS) == ["account-balances", "payment-lifecycle", "loyalty-accrual", "fraud-cep"]
    for name, entry in JOBS.items():
        assert entry.name == name
        assert entry.module == "jobs." + name.replace("-", "_")
        assert entry.driver_args[:2] == ["-pym", entry.module]


def test_existing_job_modules_agree_on_the_job_name() -> None:
    from jobs import account_balances

    assert JOBS[account_balances.JOB_NAME].module == account_balances.__name__


def test_adding_a_job_is_one_registry_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = k8s_render.JobEntry("settlement-batch", "jobs.settlement_batch", ("--start", "earliest"))
    monkeypatch.setitem(JOBS, entry.name, entry)
    manifest = flink_deployment("settlement-batch", "prod")
    assert manifest["metadata"]["name"] == "settlement-batch"
    assert manifest["spec"]["job"]["args"] == ["-pym", "jobs.settlement_batch", "--start", "earliest"]
    assert manifest["spec"]["flinkConfiguration"]["pipeline.name"] == "settlement-batch"
    assert "overlays/prod/settlement-batch-patch.yaml" in kustomize_tree()


# ------------------------------------------------------------------------------------------ configuration
@pytest.mark.parametrize(("job", "overlay"), CASES)
def test_flink_configuration_is_the_job_configuration_translated(job: str, overlay: str) -> None:
    manifest = flink_deployment(job, overlay)
    config = manifest["spec"]["flinkConfiguration"]
    settings = cluster_settings(JOBS[job], OVERLAYS[overlay])
    local = job_configuration(job, settings)

    for key, value in local.items():
        if key not in TRANSLATED_KEYS:
            assert config[key] == value, key
    assert set(config) - set(local) - set(TRANSLATED_KEYS) <= set(CLUSTER_KEYS)

    store = OVERLAYS[overlay].object_store.uri
    assert store.startswith("s3://")
    assert config["execution.checkpointing.dir"] == f"{store}/checkpoints/{job}"
    assert config["execution.checkpointing.savepoint-dir"] == f"{store}/savepoints/{job}"
    assert config["high-availability.type"] == "kubernetes"
    assert config["high-availability.storageDir"] == f"{store}/ha"
    assert config["python.executable"] == config["python.client.executable"] == k8s_render.IMAGE_PYTHON
    assert config["metrics.reporter.prom.port"] == "9249"
    assert config["taskmanager.numberOfTaskSlots"] == str(settings.flink_taskmanager_slots)
    assert "pipeline.jars" not in config
    assert not any("file:" in value for value in config.values())
    assert (
        manifest["spec"]["job"]["parallelism"] == settings.parallelism == int(config["parallelism.default"])
    )
    assert manifest["spec"]["job"]["upgradeMode"] == "savepoint"
    assert list(config) == sorted(config)


@pytest.mark.parametrize(("job", "overlay"), CASES)
def test_pods_rebuild_the_settings_the_manifest_was_rendered_from(job: str, overlay: str) -> None:
    manifest = flink_deployment(job, overlay)
    env = pod_env(manifest)
    fields = {f.name for f in dataclasses.fields(Settings)}
    settings_env = {k: v for k, v in env.items() if k.startswith(ENV_PREFIX)}
    for name in settings_env:
        field = name.removeprefix(ENV_PREFIX).lower()
        assert field in fields or field in PENDING_SETTINGS, name

    in_pod = Settings.from_env(environ=env)
    rendered = cluster_settings(JOBS[job], OVERLAYS[overlay])
    assert in_pod == rendered
    assert job_configuration(job, in_pod) == job_configuration(job, rendered)


@pytest.mark.parametrize(("job", "overlay"), CASES)
def test_the_pii_key_comes_from_a_secret_and_its_value_is_never_rendered(job: str, overlay: str) -> None:
    manifest = flink_deployment(job, overlay)
    containers = manifest["spec"]["podTemplate"]["spec"]["containers"]
    env = [item for container in containers for item in container.get("env", [])]
    secret_env = [item for item in env if item["name"] == ENV_PREFIX + "PII_KEY_SECRET"]
    assert secret_env == [
        {
            "name": ENV_PREFIX + "PII_KEY_SECRET",
            "valueFrom": {"secretKeyRef": {"name": "streamledger-pii-key", "key": "secret"}},
        }
    ]
    assert Settings().pii_key_secret not in str(manifest)


def test_an_overlay_cannot_put_a_secret_into_the_manifests() -> None:
    leaky = dataclasses.replace(
        OVERLAYS["prod"], settings={**OVERLAYS["prod"].settings, "pii_key_secret": "x" * 32}
    )
    with pytest.raises(k8s_render.ManifestError, match="secrets"):
        cluster_settings(JOBS["payment-lifecycle"], leaky)


def test_pending_settings_are_not_settings_fields_yet() -> None:
    fields = {f.name for f in dataclasses.fields(Settings)}
    assert not fields & PENDING_SETTINGS.keys(), "promote them: Overlay.settings instead of pending_settings"


def test_prod_uses_a_rest_catalog_and_dev_the_jdbc_catalog_on_its_volume() -> None:
    prod = pod_env(flink_deployment("account-balances", "prod"))
    assert prod["STREAMLEDGER_CATALOG_TYPE"] == "rest"
    assert prod["STREAMLEDGER_CATALOG_WAREHOUSE"].startswith("s3://")
    dev_manifest = flink_deployment("account-balances", "dev")
    dev = pod_env(dev_manifest)
    assert dev["STREAMLEDGER_CATALOG_TYPE"] == "jdbc"
    assert dev["STREAMLEDGER_CATALOG_DB"].startswith(k8s_render.POD_HOME + "/")
    assert dev_manifest["spec"]["podTemplate"]["spec"]["volumes"][0]["persistentVolumeClaim"]
    assert dev_manifest["spec"]["flinkConfiguration"]["s3.endpoint"].startswith("http://minio.")


def test_local_only_keys_are_translated_or_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    def local(job_name: str, settings: Settings, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        config = job_configuration(job_name, settings)
        config.update(
            {
                "pipeline.jars": "file:/work/.streamledger/jars/flink/a.jar",
                "pipeline.classpaths": "file:/work/x",
                "python.executable": "/home/dev/.venv/bin/python",
                "state.checkpoints.dir": "file:///tmp/chk",
                "execution.state-recovery.path": "file:///tmp/sp",
            }
        )
        return config

    monkeypatch.setattr(jobs.builder, "job_configuration", local)
    config = flink_deployment("account-balances", "prod")["spec"]["flinkConfiguration"]
    assert "pipeline.jars" not in config
    assert "pipeline.classpaths" not in config
    assert "execution.state-recovery.path" not in config
    assert config["python.executable"] == k8s_render.IMAGE_PYTHON
    assert config["state.checkpoints.dir"] == config["execution.checkpointing.dir"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        # a new local path in the job configuration
        ("state.changelog.dstl.dfs.base-path", "file:///x"),
        # a job key the cluster also sets
        ("taskmanager.numberOfTaskSlots", "8"),
    ],
    ids=["new_local_path", "key_the_cluster_also_sets"],
)
def test_an_unexpected_job_configuration_key_stops_the_render(
    monkeypatch: pytest.MonkeyPatch, key: str, value: str
) -> None:
    def local(job_name: str, settings: Settings, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {**job_configuration(job_name, settings), key: value}

    monkeypatch.setattr(jobs.builder, "job_configuration", local)
    with pytest.raises(ManifestError, match=re.escape(key)):
        flink_deployment("account-balances", "dev")


def test_per_job_settings(overlays: dict[str, k8s_render.Overlay]) -> None:
    overlays["prod"] = dataclasses.replace(overlays["prod"], job_settings={"fraud-cep": {"parallelism": 6}})
    fraud = flink_deployment("fraud-cep", "prod")
    assert fraud["spec"]["job"]["parallelism"] == 6
    assert fraud["spec"]["flinkConfiguration"]["parallelism.default"] == "6"
    assert pod_env(fraud)["STREAMLEDGER_PARALLELISM"] == "6"
    assert flink_deployment("account-balances", "prod")["spec"]["job"]["parallelism"] == 4


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"settings": {"flink_rest_port": 8081}}, "local stack only"),
        ({"settings": {"kafka_hosts": "a,b"}}, "not Settings fields"),
        ({"settings": {"kafka_port": 80}}, "not a usable port"),
        ({"pending_settings": {"kafka_host": "x"}}, "Settings fields now"),
        ({"pending_settings": {"color": "blue"}}, "not listed in PENDING_SETTINGS"),
    ],
)
def test_bad_overlays_are_refused(
    overlays: dict[str, k8s_render.Overlay], change: dict[str, Any], message: str
) -> None:
    overlays["dev"] = dataclasses.replace(overlays["dev"], **change)
    with pytest.raises(ConfigError, match=message):
        flink_deployment("account-balances", "dev")


def test_a_latest_tag_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(k8s_render, "image_tag", lambda: "latest")
    with pytest.raises(ManifestError, match="mutable tag latest"):
        flink_deployment("account-balances", "dev")


def test_image_is_the_project_version_and_never_latest() -> None:
    from importlib.metadata import version

    for overlay in OVERLAYS.values():
        image = flink_deployment("account-balances", overlay.name)["spec"]["image"]
        assert image == f"{overlay.image_repository}:{version('streamledger')}"
        assert not image.endswith(":latest")


# ------------------------------------------------------------------------------------------ JSON patches
def test_json_patch_round_trips_and_escapes_keys() -> None:
    base = {"a": {"prometheus.io/scrape": "true", "x~y": 1, "gone": 2}, "list": [1, 2], "keep": True}
    target = {"a": {"prometheus.io/scrape": "false", "x~y": 1.0, "new": {"b": 3}}, "list": [1], "keep": True}
    ops = json_patch(base, target)
    assert {"op": "replace", "path": "/a/prometheus.io~1scrape", "value": "false"} in ops
    assert {"op": "replace", "path": "/a/x~0y", "value": 1.0} in ops  # 1 and 1.0 differ in YAML
    assert {"op": "remove", "path": "/a/gone"} in ops
    assert {"op": "replace", "path": "/list", "value": [1]} in ops
    assert apply_json_patch(base, ops) == target
    assert json_patch(target, target) == []


# ------------------------------------------------------------------------------------------ committed tree
def test_committed_kustomize_tree_equals_a_fresh_render() -> None:
    stale = sync_kustomize_tree(K8S, check=True)
    assert stale == [], "run `streamledger k8s render --kustomize k8s` and commit the result"


def test_generated_files_say_so() -> None:
    for path, text in kustomize_tree().items():
        assert text.startswith(k8s_render.GENERATED_HEADER), path


def load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


@pytest.mark.parametrize("overlay", [name for name in OVERLAYS if name != "base"])
def test_overlay_patches_on_the_base_give_the_rendered_manifests(overlay: str) -> None:
    kustomization = load(K8S / "overlays" / overlay / "kustomization.yaml")[0]
    images = {image["name"]: image["newName"] for image in kustomization.get("images", [])}
    patches = {patch["target"]["name"]: patch["path"] for patch in kustomization["patches"]}
    assert set(patches) == set(JOBS)
    for job, patch_file in patches.items():
        base = load(K8S / "base" / f"{job}.yaml")[0]
        ops = load(K8S / "overlays" / overlay / patch_file)[0]
        result = apply_json_patch(base, ops)
        repository, tag = result["spec"]["image"].rsplit(":", 1)
        result["spec"]["image"] = f"{images.get(repository, repository)}:{tag}"
        result["metadata"] = {"name": job, "namespace": kustomization["namespace"], **result["metadata"]}
        assert result == flink_deployment(job, overlay)


def kustomize_command() -> list[str] | None:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


@pytest.mark.skipif(kustomize_command() is None, reason="neither kustomize nor kubectl is installed")
@pytest.mark.parametrize("overlay", list(OVERLAYS))
def test_kustomize_builds_exactly_the_rendered_manifests(overlay: str) -> None:
    command = kustomize_command()
    assert command is not None
    directory = K8S / "base" if overlay == "base" else K8S / "overlays" / overlay
    built = subprocess.run(
        [*command, str(directory)], capture_output=True, text=True, check=True, timeout=120
    )
    documents = list(yaml.safe_load_all(built.stdout))
    deployments = {doc["metadata"]["name"]: doc for doc in documents if doc["kind"] == "FlinkDeployment"}
    assert set(deployments) == set(JOBS)
    for job, document in deployments.items():
        assert k8s_render._same(document, flink_deployment(job, overlay)), job
    kinds = {doc["kind"] for doc in documents}
    assert {"ServiceAccount", "Role", "RoleBinding"} <= kinds
    assert ("PodMonitor" in kinds) == OVERLAYS[overlay].pod_monitor
    namespace = OVERLAYS[overlay].namespace
    if namespace:
        assert {doc["metadata"].get("namespace") for doc in documents} == {namespace}
        binding = next(doc for doc in documents if doc["kind"] == "RoleBinding")
        assert binding["subjects"][0]["namespace"] == namespace


# ------------------------------------------------------------------------------------------ CLI
def test_render_prints_the_manifest(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("account-balances", "--overlay", "dev") == 0
    out = capsys.readouterr().out
    assert yaml.safe_load(out) == flink_deployment("account-balances", "dev")


def test_render_all_prints_every_job(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("all", "--overlay", "prod") == 0
    documents = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [doc["metadata"]["name"] for doc in documents] == list(JOBS)


def test_render_out_writes_one_file_per_job(tmp_path: Path) -> None:
    assert run("all", "--overlay", "prod", "--out", str(tmp_path / "out")) == 0
    for job in JOBS:
        assert load(tmp_path / "out" / f"{job}.yaml") == [flink_deployment(job, "prod")]


def test_render_kustomize_writes_checks_and_prunes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "k8s"
    with pytest.raises(ManifestsOutOfDateError, match="out of date"):
        run("--kustomize", str(root), "--check")
    assert run("--kustomize", str(root)) == 0
    assert run("--kustomize", str(root), "--check") == 0
    assert "up to date" in capsys.readouterr().out

    (root / "base" / "old-job.yaml").write_text("kind: FlinkDeployment\n")
    (root / "overlays" / "dev" / "kustomization.yaml").write_text("# edited by hand\n")
    with pytest.raises(ManifestsOutOfDateError) as error:
        run("--kustomize", str(root), "--check")
    assert "base/old-job.yaml (not generated any more)" in str(error.value)
    assert "overlays/dev/kustomization.yaml" in str(error.value)
    assert run("--kustomize", str(root)) == 0
    assert not (root / "base" / "old-job.yaml").exists()
    assert sync_kustomize_tree(root, check=True) == []


@pytest.mark.parametrize(
    "argv",
    [
        ["account-balances"],
        ["--overlay", "dev"],
        ["--check"],
        ["account-balances", "--overlay", "dev", "--kustomize", "k8s"],
    ],
)
def test_render_refuses_incomplete_or_mixed_arguments(argv: list[str]) -> None:
    with pytest.raises(ConfigError):
        run(*argv)


def test_render_rejects_unknown_jobs_and_overlays() -> None:
    with pytest.raises(SystemExit):
        run("no-such-job", "--overlay", "dev")
    with pytest.raises(SystemExit):
        run("account-balances", "--overlay", "staging")
