"""The Iceberg catalog shared by Flink (writes) and pyiceberg (reads).

Locally it is Iceberg's JDBC catalog on a SQLite file plus a warehouse directory
(``catalog_type=jdbc``); a cluster may use an Iceberg REST catalog instead
(``catalog_type=rest``). Flink's Iceberg connector opens the JDBC one as
``org.apache.iceberg.jdbc.JdbcCatalog`` and pyiceberg as ``SqlCatalog``;
both use the same two tables (``iceberg_tables``, ``iceberg_namespace_properties``), so a table
Flink commits is visible to pyiceberg at the very snapshot Flink committed.

pyiceberg creates the catalog tables (``initialize``) before any job runs: the Java catalog then
uses them as they are (schema V0, tables only; views are not used by streamledger).
"""

from __future__ import annotations

from typing import Any

from streamledger.config import Settings


def flink_catalog_ddl(settings: Settings) -> list[str]:
    """Flink SQL that registers the catalog in a TableEnvironment."""
    if settings.catalog_type == "rest":
        rest = {
            "type": "iceberg",
            "catalog-type": "rest",
            "uri": settings.catalog_rest_uri or "",
            "warehouse": settings.catalog_warehouse or "",
        }
        if (settings.catalog_warehouse or "").startswith("s3://"):
            # Iceberg's own S3 client (iceberg-aws-bundle, in the image), not Hadoop's s3a.
            rest["io-impl"] = "org.apache.iceberg.aws.s3.S3FileIO"
        return [_create_catalog(settings, rest)]
    options = {
        "type": "iceberg",
        "catalog-impl": "org.apache.iceberg.jdbc.JdbcCatalog",
        "uri": settings.catalog_uri,
        "warehouse": settings.warehouse_path.as_uri(),
        "jdbc.schema-version": "V0",
        # SQLite has no users; the JDBC catalog still wants the keys present.
        "jdbc.user": "",
        "jdbc.password": "",
    }
    return [_create_catalog(settings, options)]


def _create_catalog(settings: Settings, options: dict[str, str]) -> str:
    rendered = ", ".join(f"'{k}' = '{v}'" for k, v in options.items())
    return f"CREATE CATALOG IF NOT EXISTS `{settings.catalog_name}` WITH ({rendered})"


def load(settings: Settings) -> Any:
    """pyiceberg's view of the same catalog (creates the SQLite file and tables when missing)."""
    if settings.catalog_type == "rest":
        from pyiceberg.catalog import load_catalog

        return load_catalog(
            settings.catalog_name,
            type="rest",
            uri=settings.catalog_rest_uri,
            warehouse=settings.catalog_warehouse,
        )
    from pyiceberg.catalog.sql import SqlCatalog

    settings.catalog_db_path.parent.mkdir(parents=True, exist_ok=True)
    settings.warehouse_path.mkdir(parents=True, exist_ok=True)
    return SqlCatalog(
        settings.catalog_name,
        uri=f"sqlite:///{settings.catalog_db_path}",
        warehouse=settings.warehouse_path.as_uri(),
    )


def initialize(settings: Settings) -> None:
    """Create the catalog database and warehouse (idempotent)."""
    load(settings)


def ready(settings: Settings) -> bool:
    return settings.catalog_db_path.is_file() and settings.warehouse_path.is_dir()
