"""The job image (k8s/Dockerfile) agrees with the project's pins, packages, jars and manifests.

No Docker engine is needed: these tests read the Dockerfile, its ignore file and the locks, and
compare them with pyproject.toml, jvm/pom.xml, the local jar split and the renderer's paths.
"""

from __future__ import annotations

import re
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from streamledger import k8s_render
from streamledger.stack import toolchain

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "k8s" / "Dockerfile"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def dockerfile() -> str:
    return DOCKERFILE.read_text()


def instructions() -> list[str]:
    """Dockerfile instructions with continuation lines joined and comments dropped."""
    lines = [line for line in dockerfile().splitlines() if not line.startswith("#")]
    text = re.sub(r"\\\n", " ", "\n".join(lines))
    return [line.strip() for line in text.splitlines() if line.strip()]


def stage(name: str) -> list[str]:
    """The instructions of one build stage (``FROM ... AS name``)."""
    lines: list[str] = []
    inside = False
    for line in instructions():
        if line.startswith("FROM "):
            inside = line.endswith(f" AS {name}")
        elif inside:
            lines.append(line)
    assert lines, name
    return lines


def arg_defaults() -> dict[str, str]:
    return dict(re.findall(r"^ARG (\w+)=(\S+)$", dockerfile(), flags=re.M))


def lock_pins(path: Path) -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)", path.read_text(), flags=re.M)
    return {name.lower().replace("_", "-"): version for name, version in pins}


def pinned_dependencies() -> dict[str, str]:
    pins = {}
    for dependency in PYPROJECT["project"]["dependencies"]:
        requirement = Requirement(dependency)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", dependency
        pins[requirement.name.lower().replace("_", "-")] = specifier.version
    return pins


# ------------------------------------------------------------------------------------------ versions
def test_flink_version_is_the_same_everywhere() -> None:
    pom = ET.parse(REPO / "jvm" / "pom.xml").getroot()
    namespace = {"m": "http://maven.apache.org/POM/4.0.0"}
    pom_version = pom.findtext("m:properties/m:flink.version", namespaces=namespace)
    assert pinned_dependencies()["apache-flink"] == k8s_render.FLINK_VERSION
    assert pom_version == k8s_render.FLINK_VERSION
    assert arg_defaults()["FLINK_VERSION"] == k8s_render.FLINK_VERSION
    assert arg_defaults()["FLINK_IMAGE"] == "flink:${FLINK_VERSION}-scala_2.12-java17"
    expected_jar = f"local:///opt/flink/opt/flink-python-{k8s_render.FLINK_VERSION}.jar"
    assert expected_jar == k8s_render.PYTHON_JAR_URI
    assert 'test -f "/opt/flink/opt/flink-python-${FLINK_VERSION}.jar"' in dockerfile()


def test_java_release_matches_the_image() -> None:
    pom = (REPO / "jvm" / "pom.xml").read_text()
    release = re.search(r"<maven.compiler.release>(\d+)</maven.compiler.release>", pom)
    assert release is not None
    assert arg_defaults()["FLINK_IMAGE"].endswith(f"-java{release.group(1)}")
    assert arg_defaults()["MAVEN_IMAGE"].endswith(f"-eclipse-temurin-{release.group(1)}")


def test_python_version_satisfies_requires_python() -> None:
    version = arg_defaults()["PYTHON_VERSION"]
    assert re.fullmatch(r"3\.11\.\d+", version)
    assert version in SpecifierSet(PYPROJECT["project"]["requires-python"])


def test_every_image_is_pinned_and_none_is_latest() -> None:
    args = arg_defaults()
    for name in ("FLINK_IMAGE", "MAVEN_IMAGE", "UV_IMAGE"):
        image = args[name].replace("${FLINK_VERSION}", args["FLINK_VERSION"])
        repository, _, tag = image.rpartition(":")
        assert repository and re.match(r"\d+\.\d+\.\d+", tag), image
    stages = set()
    for line in instructions():
        if line.startswith("FROM "):
            words = line.split()
            assert re.fullmatch(r"\$\{\w+_IMAGE\}", words[1]), line  # only the pinned ARGs above
            if len(words) == 4:
                stages.add(words[3])
        if line.startswith("COPY --from="):
            source = line.split()[1].removeprefix("--from=")
            assert source in stages, line
    for path in (REPO / "k8s").rglob("*"):
        if path.is_file():
            assert not re.search(r":latest\b", path.read_text()), path


# ------------------------------------------------------------------------------------------ contents
def test_the_image_installs_every_package_of_the_project() -> None:
    top_level = {package.split(".")[0] for package in PYPROJECT["tool"]["setuptools"]["packages"]}
    copied = {line.split()[1].rstrip("/") for line in stage("python") if re.match(r"COPY \w+/ \w+/$", line)}
    assert copied == top_level
    ignore = (REPO / "k8s" / "Dockerfile.dockerignore").read_text().splitlines()
    for name in [*sorted(top_level), "pyproject.toml", "README.md", "jvm", "k8s/requirements.lock"]:
        assert f"!{name}/" in ignore or f"!{name}" in ignore, name
    assert PYPROJECT["project"]["readme"] == "README.md"


def test_system_classpath_jars_go_to_lib_like_locally() -> None:
    prefixes = toolchain._SYSTEM_CLASSPATH_PREFIXES
    moved = re.search(r"mv (.*) /out/lib/;", dockerfile())
    assert moved is not None
    assert sorted(moved.group(1).split()) == sorted(f"{prefix}*.jar" for prefix in prefixes)
    assert "COPY --from=jars --chown=flink:flink /out/lib/ /opt/flink/lib/" in dockerfile()
    assert "COPY --from=jars --chown=flink:flink /out/usrlib/ /opt/flink/usrlib/" in dockerfile()
    for marker in toolchain._FLINK_MARKER_JARS:
        assert marker in dockerfile()
    assert "mvn -B -q -f jvm/pom.xml -pl flink-connectors -am package" in dockerfile()


def test_paths_the_manifests_rely_on_exist_in_the_image() -> None:
    text = dockerfile()
    venv = k8s_render.IMAGE_PYTHON.removesuffix("/bin/python")
    assert f'uv venv --python "${{PYTHON_VERSION}}" {venv}' in text
    assert f"COPY --from=python {venv} {venv}" in text
    assert f"mkdir -p {k8s_render.POD_HOME}" in text
    assert "plugins/metrics-prometheus" in text
    assert "plugins/s3-fs-presto" in text
    last_user = [line for line in instructions() if line.startswith("USER ")][-1]
    assert last_user == f"USER {k8s_render.FLINK_UID}:{k8s_render.FLINK_UID}"
    assert instructions()[-1] == last_user


# ------------------------------------------------------------------------------------------ locks
def test_lock_pins_the_project_dependencies_exactly() -> None:
    locked = lock_pins(REPO / "k8s" / "requirements.lock")
    for name, version in pinned_dependencies().items():
        assert locked.get(name) == version, f"{name}: lock {locked.get(name)}, pyproject {version}"


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-build.lock"])
def test_every_locked_requirement_is_hashed(lock: str) -> None:
    text = (REPO / "k8s" / lock).read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    assert entries
    for entry in entries:
        assert re.match(r"[A-Za-z0-9_.-]+==\S+", entry), entry[:80]
        assert "--hash=sha256:" in entry, entry.splitlines()[0]


def test_build_lock_satisfies_the_build_system_and_agrees_with_the_runtime_lock() -> None:
    build = lock_pins(REPO / "k8s" / "requirements-build.lock")
    runtime = lock_pins(REPO / "k8s" / "requirements.lock")
    for requirement in map(Requirement, PYPROJECT["build-system"]["requires"]):
        name = requirement.name.lower()
        assert name in build, name
        assert requirement.specifier.contains(build[name]), requirement
    for name in build.keys() & runtime.keys():
        assert build[name] == runtime[name], name


def test_the_image_carries_s3_file_io_and_an_s3_warehouse_uses_it() -> None:
    from streamledger.config import Settings
    from streamledger.stack.iceberg_catalog import flink_catalog_ddl

    dockerfile = (REPO / "k8s" / "Dockerfile").read_text()
    pom = (REPO / "jvm" / "flink-connectors" / "pom.xml").read_text()
    assert "-P object-store" in dockerfile and "iceberg-aws-bundle-" in dockerfile
    assert "<id>object-store</id>" in pom and "<artifactId>iceberg-aws-bundle</artifactId>" in pom
    s3 = Settings.from_env(
        environ={},
        catalog_type="rest",
        catalog_rest_uri="http://catalog:8181",
        catalog_warehouse="s3://lake/warehouse",
    )
    assert "'io-impl' = 'org.apache.iceberg.aws.s3.S3FileIO'" in flink_catalog_ddl(s3)[0]
    local = Settings.from_env(environ={})
    assert "io-impl" not in flink_catalog_ddl(local)[0]
