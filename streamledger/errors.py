"""Errors a user can hit, each with a one-line message that says what is wrong and what to do.

The CLI prints ``str(error)`` and exits non-zero instead of a traceback: a payments engineer
should not have to read a 200-line Java stack trace to learn that port 19092 is taken.
"""

from __future__ import annotations

import re


def first_line(error: BaseException | str, limit: int = 300) -> str:
    """The line of an error's message that says what failed, at most ``limit`` characters.

    A py4j error's message is the whole Java stack trace under a generic first line ("An error
    occurred while calling o598.attachAsDataStream."): the line that matters is the root cause
    (the last ``Caused by:``), else the Java exception right under that first line.
    """
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    if not lines:
        return type(error).__name__ if isinstance(error, BaseException) else "unknown cause"
    causes = [line.removeprefix("Caused by:").strip() for line in lines if line.startswith("Caused by:")]
    if causes:
        return causes[-1][:limit]
    if lines[0].startswith("An error occurred while calling") and len(lines) > 1:
        return lines[1].removeprefix(":").strip()[:limit]
    return lines[0][:limit]


class StreamledgerError(Exception):
    """Base class: ``str()`` is the one line the CLI prints."""

    exit_code = 1

    def __init__(self, problem: str, remedy: str = "") -> None:
        self.problem = problem
        self.remedy = remedy
        super().__init__(f"{problem} — {remedy}" if remedy else problem)


class ConfigError(StreamledgerError):
    """A setting is missing, malformed or contradicts another one."""

    exit_code = 2


class ToolMissingError(StreamledgerError):
    """Java, Maven or another required program is not installed."""


class JarsMissingError(StreamledgerError):
    """The pinned JVM dependencies have not been fetched into the project."""


class PortInUseError(StreamledgerError):
    """A port the local stack needs is already bound by another process."""


class ServiceStartError(StreamledgerError):
    """A local service (broker, Flink cluster) did not become ready in time."""


class ServiceUnavailableError(StreamledgerError):
    """A service the command needs (broker, Flink REST API) cannot be reached."""


class JobFailedError(StreamledgerError):
    """A Flink job ended in a failed state."""


class NonRestoredStateError(StreamledgerError):
    """A savepoint holds state for an operator (a uid) the job being started no longer has.

    Flink refuses such a restore rather than silently dropping that state (a renamed uid orphans
    it, and balances or lifecycles would be lost without anyone noticing); the user decides.
    """

    #: How Flink refuses such a restore (``Checkpoints.loadAndValidateCheckpoint``), deep in a
    #: JobInitializationException, embedded or in the output of ``flink run``.
    _FLINK_REFUSAL = re.compile(
        r"Failed to rollback to checkpoint/savepoint (?P<path>\S+)\. Cannot map checkpoint/savepoint "
        r"state for operator (?P<operator>[0-9a-f]+) to the new program"
    )

    @classmethod
    def in_flink_output(cls, job: str, text: str) -> NonRestoredStateError | None:
        """The error for ``job`` if ``text`` (a Java exception, a client's output) is that refusal."""
        found = cls._FLINK_REFUSAL.search(text)
        if found is None:
            return None
        return cls(
            f"{found['path']} holds state of operator {found['operator']}, which this version of {job} "
            "does not have (its uid changed or the operator was removed)",
            "if dropping that state is intended, start with --allow-non-restored-state "
            "(allow_non_restored_state=True)",
        )
