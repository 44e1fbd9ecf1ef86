"""List, show and remove dataset versions (the read and retire side of the version store)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from stockade.audit.log import utc_now
from stockade.core.errors import StockadeError
from stockade.core.references import parse_versioned_name
from stockade.data.importer import ImportContext
from stockade.data.versions import DATA_FILE, VersionView, all_versions, find_version


def list_versions(context: ImportContext, name: str | None = None) -> list[VersionView]:
    with Session(context.engine) as session:
        return [VersionView.of(row) for row in all_versions(session, name)]


def show_version(context: ImportContext, reference: str) -> VersionView:
    with Session(context.engine) as session:
        return VersionView.of(find_version(session, reference))


def remove_version(
    context: ImportContext, reference: str, workspace_root: Path, *, reason: str | None = None
) -> VersionView:
    """Delete a version's data file; keep its row, manifest and hashes, which lineage needs."""
    _, version = parse_versioned_name(reference, what="dataset reference")
    if version is None:
        raise StockadeError(
            f"say which version of {reference!r} to remove",
            fix=f"name it exactly, e.g. `stockade data rm {reference}@v1` (see `stockade data list`)",
        )
    with Session(context.engine) as session, session.begin():
        row = find_version(session, reference)
        if row.status == "removed":
            raise StockadeError(f"{reference} was already removed on {row.removed_at}")
        row.status, row.removed_at = "removed", utc_now()
        context.record(
            "dataset.remove",
            reference,
            session=session,
            reason=reason,
            content_sha256=row.content_sha256,
            rows=row.rows,
        )
        data_file = workspace_root / row.path
        if data_file.name == DATA_FILE:
            data_file.unlink(missing_ok=True)
        view = VersionView.of(row)
    return view
