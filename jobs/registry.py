"""Every streamledger job, by name: the one list the CLI, the Kubernetes renderer and the
operations commands read, so a job cannot exist in one and be missing from another.

A job module (``JobEntry.module``) provides:

- ``JOB_NAME`` — the ``pipeline.name``, consumer group, savepoint directory and resource name;
- ``create(settings, *, bounded=False, start="committed", flink_config=None) -> JobBuilder``;
- ``run(settings, *, bounded=False, start="committed", flink_config=None)`` — embedded run;
- ``run_until_caught_up(settings) -> RunReport`` — resume, process the backlog, savepoint;
- ``main()`` — the cluster entry point (``python -m <module>`` / ``-pym <module>``), settings
  from ``STREAMLEDGER_*`` variables.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from streamledger.errors import ConfigError


@dataclass(frozen=True)
class JobEntry:
    """A job: its name and the module that builds and runs it."""

    name: str
    module: str
    args: tuple[str, ...] = ()

    @property
    def driver_args(self) -> list[str]:
        """Arguments of Flink's PythonDriver: run the module's ``main()``."""
        return ["-pym", self.module, *self.args]

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)


def _registry(*entries: JobEntry) -> dict[str, JobEntry]:
    return {entry.name: entry for entry in entries}


#: Every job. Adding a job is one entry (then ``streamledger k8s render --kustomize k8s``).
JOBS: dict[str, JobEntry] = _registry(
    JobEntry("account-balances", "jobs.account_balances"),
    JobEntry("payment-lifecycle", "jobs.payment_lifecycle"),
    JobEntry("loyalty-accrual", "jobs.loyalty_accrual"),
    JobEntry("fraud-cep", "jobs.fraud_cep"),
)


def run_main(module: str) -> None:
    """Run ``module``'s ``main()`` from its imported copy, for ``python -m``/``-pym`` entry points.

    Under ``-pym jobs.x`` the job module runs as ``__main__``, and cloudpickle ships functions and
    classes of ``__main__`` *by value* to the Python workers — together with whatever module state
    they reach (locks included, which cannot be pickled). Imported as ``jobs.x`` they are shipped
    by reference and the workers import them, as in every other run.
    """
    importlib.import_module(module).main()


def job(name: str) -> JobEntry:
    """The registered job ``name``, or a ConfigError listing the choices."""
    try:
        return JOBS[name]
    except KeyError:
        raise ConfigError(f"unknown job {name!r}", f"choose one of {', '.join(JOBS)}") from None
