"""Backup → destroy → restore → verify, with a writer appending audit records during the backup; tampered
archives, wrong passphrases and occupied folders are refused."""

from __future__ import annotations

import json
import shutil
import tarfile
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stockade.core.workspace import Workspace
from stockade.governance.sessions import session_file
from stockade.storage.model_tables import ModelVersion
from stockade.storage.tables import AuditRecord, DatasetVersion
from tests.conftest import run_cli
from tests.operations.backup_setup import ADMIN, PASSPHRASE, PASSWORD, populated_workspace, secret_files


def _audit_count(root: Path) -> int:
    from stockade.workspace.service import open_workspace

    with open_workspace(root) as context:
        return context.audit.count()[0]


class _Writer(threading.Thread):
    """Appends audit records through the workspace's audit sink until stopped."""

    def __init__(self, root: Path) -> None:
        super().__init__(daemon=True)
        self.root, self.stop, self.written, self.error = root, threading.Event(), 0, None

    def run(self) -> None:
        from stockade.workspace.service import open_workspace

        try:
            with open_workspace(self.root) as context:
                while not self.stop.is_set():
                    context.record("test.concurrent", f"event-{self.written}", index=self.written)
                    self.written += 1
        except Exception as exc:  # reported by the test
            self.error = exc


def _manifest(archive: Path) -> dict:
    with tarfile.open(archive) as tar:
        return json.loads(tar.extractfile("MANIFEST.json").read())


def _rows(root: Path) -> tuple[list[str], list[str]]:
    from stockade.workspace.service import open_workspace

    with open_workspace(root) as context, Session(context.engine) as session:
        datasets = [
            f"{r.name}@v{r.version}:{r.content_sha256}" for r in session.scalars(select(DatasetVersion))
        ]
        models = [f"{r.name}@v{r.version}:{r.manifest_sha256}" for r in session.scalars(select(ModelVersion))]
    return sorted(datasets), sorted(models)


@pytest.mark.slow
def test_backup_under_load_destroy_restore_and_verify(tmp_path: Path) -> None:
    root = populated_workspace(tmp_path)
    password, passphrase = secret_files(tmp_path)
    datasets, models = _rows(root)
    writer = _Writer(root)
    writer.start()
    while writer.written < 20 and writer.is_alive():  # the writer is well under way
        threading.Event().wait(0.01)
    before = _audit_count(root)
    archive = tmp_path / "backup.tar"
    created = run_cli(
        "-w", str(root), "backup", "create", "--include-weights", "--out", str(archive),
        "--passphrase-file", str(passphrase), "--json",
    )  # fmt: skip
    after = _audit_count(root)
    writer.stop.set()
    writer.join(30)
    assert writer.error is None, writer.error
    assert created.returncode == 0, created.stderr
    manifest = _manifest(archive)
    head = manifest["audit_head"]
    assert before <= head["seq"] < after, "the writer kept appending while the backup ran"
    assert manifest["counts"]["audit_records"] == head["seq"]
    assert manifest["include_weights"] is True and manifest["database"]["kind"] == "sqlite"
    names = {member["name"] for member in manifest["members"]}
    assert "workspace/models/fake/v1/model.safetensors" in names and "secrets.tar.sealed" in names
    assert not any(name.startswith("workspace/pki/") for name in names), "keys travel sealed only"
    assert "database/stockade.db" in names and "workspace/stockade.db" not in names
    with tarfile.open(archive) as tar:
        sealed = tar.extractfile("secrets.tar.sealed").read()
    assert b"PRIVATE KEY" not in sealed

    verified = run_cli("backup", "verify", str(archive), "--json")
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["members"] == len(manifest["members"])

    shutil.rmtree(root)  # the disaster
    restored = tmp_path / "elsewhere" / "restored"
    result = run_cli(
        "backup", "restore", str(archive), "--into", str(restored), "--user", ADMIN,
        "--password-file", str(password), "--passphrase-file", str(passphrase), "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["weights_not_in_backup"] == []

    from stockade.workspace.service import open_workspace

    with open_workspace(restored) as context, Session(context.engine) as session:
        assert session.get(AuditRecord, head["seq"]).hash == head["hash"]
        assert (
            session.scalar(
                select(func.count()).select_from(AuditRecord).where(AuditRecord.seq <= head["seq"])
            )
            == (manifest["counts"]["audit_records"])
        )
        last = session.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1)).one()
        assert last.action == "backup.restore" and last.actor == ADMIN
    assert _rows(restored) == (datasets, models)
    audit = run_cli("-w", str(restored), "audit", "verify", "--json")
    assert audit.returncode == 0 and json.loads(audit.stdout)["ok"], audit.stdout
    model = run_cli("-w", str(restored), "model", "verify", "fake@v1")
    assert model.returncode == 0, model.stdout + model.stderr
    assert (restored / "pki" / "privacy-hmac.key").stat().st_mode & 0o777 == 0o600
    assert (restored / "models" / "safety-policy.yaml").read_text() == "allow_pickle_weights: false\n"


@pytest.fixture(scope="module")
def backed_up(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(workspace, archive without weights), made once for the refusal tests."""
    from stockade.operations.backup import create_backup
    from stockade.workspace.service import open_workspace

    folder = tmp_path_factory.mktemp("backed-up")
    root = populated_workspace(folder)
    with open_workspace(root) as context:
        create_backup(context, folder / "backup.tar", passphrase=PASSPHRASE)
    return root, folder / "backup.tar"


def _authorize(context) -> None:
    from stockade.governance.roles import require
    from stockade.governance.sessions import login

    login(context, ADMIN, PASSWORD)
    require(context, "backup.restore")


def _restore(archive: Path, into: Path, passphrase: str = PASSPHRASE):
    from stockade.operations.restore import restore_backup

    return restore_backup(archive, into, passphrase=passphrase, authorize=_authorize)


def test_without_weights_restore_names_the_missing_weight_files(backed_up, tmp_path: Path) -> None:
    _, archive = backed_up
    manifest = _manifest(archive)
    assert {
        "path": "models/fake/v1/model.safetensors",
        "reason": "weights (back up with --include-weights)",
    } in (manifest["omitted"])
    result = _restore(archive, tmp_path / "restored")
    assert result.weights_not_in_backup == ["models/fake/v1/model.safetensors"]
    assert (tmp_path / "restored" / "models/fake/v1/config.json").is_file()
    assert (tmp_path / "restored" / "datasets").is_dir()


def _flip_byte(archive: Path, member: str) -> None:
    with tarfile.open(archive) as tar:
        offset = tar.getmember(member).offset_data
    with archive.open("r+b") as handle:
        handle.seek(offset + 3)
        byte = handle.read(1)
        handle.seek(offset + 3)
        handle.write(bytes([byte[0] ^ 0x01]))


def _add_member(archive: Path, member: str) -> None:
    import io

    with tarfile.open(archive, "a") as tar:
        info = tarfile.TarInfo(member)
        info.size = 5
        tar.addfile(info, io.BytesIO(b"extra"))


def _remove_member(archive: Path, member: str) -> None:
    copy = archive.with_suffix(".tmp")
    with tarfile.open(archive) as source, tarfile.open(copy, "w", format=tarfile.PAX_FORMAT) as target:
        for info in source.getmembers():
            if info.name != member:
                target.addfile(info, source.extractfile(info))
    copy.replace(archive)


TAMPERING = {
    "flipped byte": (_flip_byte, "workspace/datasets/loans/v1/data.jsonl", "was changed"),
    "flipped byte in the database": (_flip_byte, "database/stockade.db", "was changed"),
    "added member": (_add_member, "workspace/pki/extra.key", "not listed"),
    "removed member": (_remove_member, "workspace/models/fake/v1/config.json", "missing"),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_a_tampered_archive_is_refused_naming_the_member(backed_up, tmp_path: Path, case: str) -> None:
    from stockade.operations.archive import ArchiveRefused

    damage, member, word = TAMPERING[case]
    archive = tmp_path / "backup.tar"
    shutil.copy(backed_up[1], archive)
    damage(archive, member)
    result = run_cli("backup", "verify", str(archive))
    assert result.returncode == 1
    assert member in result.stderr and word in result.stderr, result.stderr
    with pytest.raises(ArchiveRefused, match=word) as refused:
        _restore(archive, tmp_path / "restored")
    assert member in str(refused.value)
    assert not (tmp_path / "restored").exists()
    assert not [path for path in tmp_path.iterdir() if ".restoring-" in path.name]


def test_restore_into_a_non_empty_folder_is_refused(backed_up, tmp_path: Path) -> None:
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    password, passphrase = secret_files(tmp_path)
    result = run_cli(
        "backup", "restore", str(backed_up[1]), "--into", str(occupied), "--user", ADMIN,
        "--password-file", str(password), "--passphrase-file", str(passphrase),
    )  # fmt: skip
    assert result.returncode == 1 and "not empty" in result.stderr and str(occupied) in result.stderr
    assert [path.name for path in occupied.iterdir()] == ["notes.txt"]


def test_an_empty_folder_is_fine(backed_up, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    _restore(backed_up[1], tmp_path / "empty")
    assert (tmp_path / "empty" / "stockade.db").is_file()


def test_a_wrong_passphrase_is_refused_and_nothing_is_written(backed_up, tmp_path: Path) -> None:
    password, passphrase = secret_files(tmp_path)
    passphrase.write_text("not the passphrase at all\n")
    result = run_cli(
        "backup", "restore", str(backed_up[1]), "--into", str(tmp_path / "restored"), "--user", ADMIN,
        "--password-file", str(password), "--passphrase-file", str(passphrase),
    )  # fmt: skip
    assert result.returncode == 3
    assert "wrong passphrase" in result.stderr and "secrets.tar.sealed" in result.stderr
    assert not (tmp_path / "restored").exists()


def test_a_wrong_admin_password_leaves_nothing(backed_up, tmp_path: Path) -> None:
    from stockade.governance.sessions import LoginFailed
    from stockade.operations.restore import restore_backup

    def wrong(context) -> None:
        from stockade.governance.sessions import login

        login(context, ADMIN, "not-the-password")

    with pytest.raises(LoginFailed):
        restore_backup(backed_up[1], tmp_path / "restored", passphrase=PASSPHRASE, authorize=wrong)
    assert list(tmp_path.iterdir()) == []


def test_backup_needs_an_admin_and_is_audited(backed_up, tmp_path: Path) -> None:
    root, _ = backed_up
    _, passphrase = secret_files(tmp_path)
    out = tmp_path / "b.tar"
    token = session_file(Workspace(root))
    saved = token.read_bytes()
    token.unlink()
    try:
        refused = run_cli(
            "-w", str(root), "backup", "create", "--out", str(out), "--passphrase-file", str(passphrase)
        )
    finally:
        token.write_bytes(saved)
    assert refused.returncode == 3 and "backup.create" in refused.stderr and not out.exists()
    inside = run_cli(
        "-w",
        str(root),
        "backup",
        "create",
        "--out",
        str(root / "b.tar"),
        "--passphrase-file",
        str(passphrase),
    )
    assert inside.returncode == 1 and "inside the workspace" in inside.stderr
    assert _audit_count(root) > 0
    with tarfile.open(backed_up[1]) as tar:
        assert not [name for name in tar.getnames() if name.startswith("workspace/session")]


def test_a_short_passphrase_is_refused(backed_up, tmp_path: Path) -> None:
    from stockade.core.errors import StockadeError
    from stockade.operations.backup import create_backup
    from stockade.workspace.service import open_workspace

    with open_workspace(backed_up[0]) as context, pytest.raises(StockadeError, match="at least 12"):
        create_backup(context, tmp_path / "b.tar", passphrase="short")
    assert not (tmp_path / "b.tar").exists()


def test_a_missing_pg_dump_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from stockade.core.errors import DependencyMissing
    from stockade.operations import snapshot

    monkeypatch.setattr(snapshot.shutil, "which", lambda _name: None)
    with pytest.raises(DependencyMissing, match="pg_dump is not installed") as missing:
        snapshot.snapshot_postgres("postgresql+psycopg://u:p@127.0.0.1/db", Path("unused"))
    assert "postgresql-client" in str(missing.value)


def test_a_model_registered_in_place_outside_the_workspace_is_named_not_fatal(tmp_path: Path) -> None:
    from stockade.models.store.service import import_model
    from stockade.operations.backup import create_backup
    from stockade.workspace.service import open_workspace
    from tests.operations.backup_setup import fake_model

    root = populated_workspace(tmp_path)
    with open_workspace(root) as context:
        import_model(context, fake_model(tmp_path / "in-place"), "shared", copy=False)
        create_backup(context, tmp_path / "b.tar", passphrase=PASSPHRASE)
    shutil.rmtree(tmp_path / "in-place")  # another machine: the folder is not there
    result = _restore(tmp_path / "b.tar", tmp_path / "restored")
    assert (
        "1 registered in place outside the workspace, not checked" in dict(result.checks)["model manifests"]
    )
    assert not any("in-place" in member["name"] for member in _manifest(tmp_path / "b.tar")["members"])


def test_a_backup_of_a_tampered_workspace_does_not_restore(tmp_path: Path) -> None:
    import sqlite3

    from stockade.operations.backup import create_backup
    from stockade.operations.restore import RestoreFailed
    from stockade.workspace.service import open_workspace

    root = populated_workspace(tmp_path)
    with sqlite3.connect(root / "stockade.db") as connection:
        connection.execute("UPDATE audit_records SET actor = 'mallory' WHERE seq = 2")
    with open_workspace(root) as context:
        create_backup(context, tmp_path / "b.tar", passphrase=PASSPHRASE)
    with pytest.raises(RestoreFailed, match=r"audit log: record #2 was edited") as refused:
        _restore(tmp_path / "b.tar", tmp_path / "restored")
    assert "nothing was restored" in str(refused.value)
    assert not (tmp_path / "restored").exists()
