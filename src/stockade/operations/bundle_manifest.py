"""A bundle folder's ``MANIFEST.json`` (name, version, SHA-256 and size of every file) and its signature.

Install bundles and model bundles share it: ``write_manifest`` lists every file of the folder and signs
the manifest's exact bytes when given a key; ``verify_bundle`` checks the signature against a trusted
public key first (the file list is only worth reading once its origin is known), then re-hashes every
file and names each one that changed, appeared or disappeared.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from stockade.core.errors import StockadeError
from stockade.core.hashing import sha256_file
from stockade.operations.signing import (
    SignatureRefused,
    check_signature,
    fingerprint,
    load_private_key,
    load_public_key,
    sign,
)

MANIFEST_NAME = "MANIFEST.json"
SIGNATURE_NAME = "MANIFEST.json.sig"
FORMAT = "stockade-bundle"
FORMAT_VERSION = 1
Progress = Callable[[int], None]


class BundleTampered(StockadeError):
    """A file of the bundle differs from its manifest (exit code 3, like other refusals)."""

    exit_code = 3


@dataclass(frozen=True)
class VerifiedBundle:
    folder: Path
    manifest: dict[str, Any]
    signer: str | None  # fingerprint of the trusted key that checked the signature; None: not checked
    files: int
    bytes: int

    @property
    def kind(self) -> str:
        return str(self.manifest.get("kind"))


def describe(relative: str) -> tuple[str, str | None]:
    """(name, version) of a bundle file: a wheel's come from its file name, other files have no version."""
    filename = PurePosixPath(relative).name
    if filename.endswith(".whl"):
        parts = filename[: -len(".whl")].split("-")
        if len(parts) >= 5:
            return parts[0].replace("_", "-").lower(), parts[1]
    return relative, None


def list_bundle_files(folder: Path) -> list[str]:
    """Every regular file under ``folder`` but the manifest and its signature (relative POSIX paths)."""
    names = []
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            raise StockadeError(
                "a bundle holds no symbolic links (they can point anywhere)",
                where=str(path),
                fix="replace the link with the file it points to",
            )
        relative = path.relative_to(folder).as_posix()
        if path.is_file() and relative not in (MANIFEST_NAME, SIGNATURE_NAME):
            names.append(relative)
    return names


def write_manifest(
    folder: Path, metadata: dict[str, Any], *, sign_key: Path | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Hash every file of ``folder`` into ``MANIFEST.json``; sign it with ``sign_key`` when given."""
    key = load_private_key(sign_key) if sign_key is not None else None
    files = []
    for relative in list_bundle_files(folder):
        path = folder / relative
        name, version = describe(relative)
        files.append(
            {
                "path": relative,
                "name": name,
                "version": version,
                "sha256": sha256_file(path, progress),
                "bytes": path.stat().st_size,
            }
        )
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **metadata,
        "signed_by": fingerprint(key.public_key()) if key else None,
        "files": files,
    }
    data = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8") + b"\n"
    (folder / MANIFEST_NAME).write_bytes(data)
    if key is not None:
        (folder / SIGNATURE_NAME).write_bytes(sign(key, data))
    return manifest


def _read_manifest(folder: Path) -> tuple[bytes, dict[str, Any]]:
    if not folder.is_dir():
        raise StockadeError(
            "no such bundle folder", where=str(folder), fix="give the folder `bundle build` wrote"
        )
    path = folder / MANIFEST_NAME
    if not path.is_file():
        raise BundleTampered(
            f"not a Stockade bundle: {MANIFEST_NAME} is missing",
            where=str(folder),
            fix="give the folder that `stockade bundle build` or `stockade bundle model` wrote, copied whole",
        )
    data = path.read_bytes()
    try:
        manifest = json.loads(data)
    except ValueError as exc:
        raise BundleTampered(f"{MANIFEST_NAME} is not valid JSON ({exc})", where=str(path)) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleTampered(f"{MANIFEST_NAME} is not a Stockade bundle manifest", where=str(path))
    if manifest.get("format_version") != FORMAT_VERSION:
        raise StockadeError(
            f"bundle format version {manifest.get('format_version')!r} is not known to this Stockade "
            f"(it reads {FORMAT_VERSION})",
            where=str(path),
            fix="verify it with the Stockade version that built it",
        )
    return data, manifest


def _check_origin(
    folder: Path, data: bytes, manifest: dict[str, Any], trusted_key: Path | None, allow_unsigned: bool
) -> str | None:
    signature_path = folder / SIGNATURE_NAME
    signed_by = manifest.get("signed_by")
    if trusted_key is None:
        if allow_unsigned:
            return None
        if signature_path.exists():
            raise SignatureRefused(
                f"the bundle is signed (by key {signed_by}) but no trusted key was given to check it",
                where=str(folder),
                fix="add --trusted-key ORG.pub (the organisation's public key, obtained apart from the "
                "bundle)",
            )
        raise SignatureRefused(
            "the bundle is not signed",
            where=str(folder),
            fix="ask for a bundle built with --sign-key; to check file hashes only (integrity, not origin), "
            "add --allow-unsigned",
        )
    public = load_public_key(trusted_key)
    if not signature_path.is_file():
        raise SignatureRefused(
            f"the bundle is not signed ({SIGNATURE_NAME} is missing)",
            where=str(folder),
            fix="do not install it; ask for a copy built with --sign-key and the organisation key",
        )
    trusted = fingerprint(public)
    if signed_by is not None and signed_by != trusted:
        raise SignatureRefused(
            f"the bundle says it was signed by key {signed_by}, not by the trusted key {trusted}",
            where=str(signature_path),
            fix="check you gave the right --trusted-key; otherwise do not install it",
        )
    check_signature(public, data, signature_path.read_bytes(), where=str(signature_path))
    return trusted


def verify_bundle(
    folder: Path,
    *,
    trusted_key: Path | None = None,
    allow_unsigned: bool = False,
    progress: Progress | None = None,
) -> VerifiedBundle:
    """Check origin (signature) and integrity (every file's SHA-256 and size); raise naming what differs."""
    folder = folder.expanduser()
    data, manifest = _read_manifest(folder)
    signer = _check_origin(folder, data, manifest, trusted_key, allow_unsigned)
    expected = {}
    for entry in manifest.get("files", []):
        relative = PurePosixPath(entry["path"])
        if relative.is_absolute() or ".." in relative.parts:
            raise BundleTampered(
                f"the manifest names a path outside the bundle: {entry['path']}", where=str(folder)
            )
        expected[entry["path"]] = entry
    present = list_bundle_files(folder)
    changed = []
    for relative in present:
        entry = expected.get(relative)
        if entry is None:
            continue
        path = folder / relative
        if path.stat().st_size != entry["bytes"] or sha256_file(path, progress) != entry["sha256"]:
            changed.append(relative)
    added = sorted(set(present) - expected.keys())
    removed = sorted(expected.keys() - set(present))
    problems = [
        f"{label}: {', '.join(names)}"
        for label, names in (("changed", changed), ("not in the manifest", added), ("missing", removed))
        if names
    ]
    if problems:
        raise BundleTampered(
            f"the bundle differs from its manifest ({'; '.join(problems)})",
            where=str(folder),
            fix="do not install it; copy the bundle again from the signed original and verify again",
        )
    return VerifiedBundle(
        folder, manifest, signer, len(expected), sum(int(e["bytes"]) for e in expected.values())
    )
