"""Finding Java and Maven, and fetching the pinned jars, with one-line errors when they are absent."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from streamledger.config import Settings
from streamledger.errors import JarsMissingError, ToolMissingError

#: A jar from each group ``jars fetch`` must produce; their presence means the fetch completed.
_FLINK_MARKER_JARS = ("flink-connector-kafka-", "iceberg-flink-runtime-", "streamledger-flink.jar")
_BROKER_MARKER_JARS = ("kafka_2.13-", "kafka-server-")


def java_executable() -> str:
    """The ``java`` to run: $JAVA_HOME/bin/java when set, else the one on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise ToolMissingError(
            "Java was not found (no JAVA_HOME, no `java` on PATH)",
            "install OpenJDK 17 (e.g. `apt-get install openjdk-17-jdk-headless`) and retry",
        )
    return found


def java_home() -> str:
    """JAVA_HOME for child processes (Flink's scripts and PyFlink's gateway read it)."""
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    return str(Path(os.path.realpath(java_executable())).parent.parent)


def maven_executable() -> str:
    found = shutil.which("mvn")
    if not found:
        raise ToolMissingError(
            "Maven (`mvn`) was not found on PATH; it resolves the pinned jars from Maven Central",
            "install Maven (e.g. `apt-get install maven`) and retry",
        )
    return found


def _jvm_build_dir(settings: Settings) -> Path:
    return settings.home / "jvm"


def jars_present(settings: Settings) -> bool:
    def has(directory: Path, prefixes: tuple[str, ...]) -> bool:
        names = [p.name for p in directory.glob("*.jar")] if directory.is_dir() else []
        return all(any(n.startswith(prefix) for n in names) for prefix in prefixes)

    return has(settings.flink_jars_dir, _FLINK_MARKER_JARS) and has(
        settings.broker_jars_dir, _BROKER_MARKER_JARS
    )


def fetch_jars(settings: Settings, *, quiet: bool = True) -> None:
    """Resolve the pinned jars with Maven into ``.streamledger/jars`` (Maven's cache makes reruns fast)."""
    java_executable()
    mvn = maven_executable()
    pom = _jvm_build_dir(settings) / "pom.xml"
    if not pom.is_file():
        raise JarsMissingError(f"{pom} is missing", "run streamledger from a checkout of the repository")
    argv = [mvn, "-B", "-f", str(pom), "package", "-DskipTests"]
    if quiet:
        argv.insert(1, "-q")
    result = subprocess.run(argv, capture_output=quiet, text=True, check=False)
    if result.returncode != 0:
        output = ((result.stdout or "") + (result.stderr or "")).strip().splitlines()
        errors = [line for line in output if "[ERROR]" in line][:3] or output[-3:]
        raise JarsMissingError(
            "Maven could not resolve the pinned jars: " + " | ".join(errors),
            "check that Maven Central is reachable and retry `streamledger jars fetch`",
        )


def require_jars(settings: Settings) -> None:
    if not jars_present(settings):
        raise JarsMissingError(
            f"the pinned JVM jars are not in {settings.jars_dir}",
            "run `streamledger jars fetch` (or `make setup`) first",
        )


#: Jars that belong on the JVM system classpath only (see prepare_pyflink_environment). A second
#: copy in the child-first user-code class loader would break them: DriverManager rejects a
#: driver class loaded by another loader than the caller's.
_SYSTEM_CLASSPATH_PREFIXES = ("hadoop-client-", "sqlite-jdbc-")


def flink_job_jars(settings: Settings) -> list[Path]:
    """The jars a streamledger Flink job adds to ``pipeline.jars``."""
    require_jars(settings)
    return sorted(
        jar
        for jar in settings.flink_jars_dir.glob("*.jar")
        if not jar.name.startswith(_SYSTEM_CLASSPATH_PREFIXES)
    )


def system_classpath(settings: Settings) -> str:
    """Jars that must be on the Flink JVMs' system classpath (see prepare_pyflink_environment)."""
    require_jars(settings)
    jars = [p for p in settings.flink_jars_dir.glob("*.jar") if p.name.startswith(_SYSTEM_CLASSPATH_PREFIXES)]
    return os.pathsep.join(sorted(str(p) for p in jars))


def prepare_pyflink_environment(settings: Settings) -> None:
    """Environment PyFlink's gateway JVM (and so the embedded MiniCluster) must start with.

    Two kinds of jar must be on the JVM's own classpath, not only in ``pipeline.jars``: the
    Hadoop client Iceberg's file IO needs (Flink loads ``org.apache.hadoop.*`` parent-first) and
    the SQLite JDBC driver (``java.sql.DriverManager`` ignores drivers in a user-code class
    loader). ``HADOOP_CLASSPATH`` is how both PyFlink's gateway and Flink's daemons take extra
    jars. Must run before the first PyFlink call starts the gateway.
    """
    os.environ.setdefault("HADOOP_CLASSPATH", system_classpath(settings))
    os.environ.setdefault("JAVA_HOME", java_home())
    log_dir = settings.state_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("FLINK_LOG_DIR", str(log_dir))
    os.environ.setdefault("LOG4J_PROPERTIES", str(Path(__file__).with_name("log4j-client.properties")))
