"""`stockade bundle build | keygen | verify | model`: offline install and model bundles, signed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stockade.cli.output import console, escape, print_json

app = typer.Typer(
    help="Offline install bundles (wheels, install.sh) and model bundles for servers with no network, "
    "signed with the organisation's Ed25519 key and verified before use. See docs/operations.md.",
    no_args_is_help=True,
)

TrustedKeyOption = Annotated[
    Path | None,
    typer.Option(
        help="The organisation's public key (KEY.pub from `bundle keygen`); the signature must match it."
    ),
]
AllowUnsignedOption = Annotated[
    bool,
    typer.Option(
        "--allow-unsigned", help="Without --trusted-key: check file hashes only (integrity, not origin)."
    ),
]
SignKeyOption = Annotated[
    Path | None, typer.Option(help="Sign MANIFEST.json with this private key (from `bundle keygen`).")
]


@app.command()
def build(
    out: Annotated[Path, typer.Option(help="The bundle folder to write (new or empty).")],
    target: Annotated[
        str, typer.Option(help="cpu, or cuda (torch's CUDA build from the package registry).")
    ] = "cpu",
    python: Annotated[
        str, typer.Option(help="The target's Python: 3.10, 3.11 or 3.12 (needs its lock).")
    ] = "3.11",
    platform: Annotated[str, typer.Option(help="The target's wheel platform tag.")] = "manylinux_2_28_x86_64",
    extras: Annotated[
        str, typer.Option(help="Comma-separated extras whose dependencies to pack: train, serve, postgres.")
    ] = "train,serve",
    include_torch: Annotated[
        bool,
        typer.Option(
            "--include-torch/--exclude-torch",
            help="Pack torch (and, for cuda, its CUDA runtime) or leave it to the target machine.",
        ),
    ] = True,
    omit: Annotated[
        str,
        typer.Option(
            help="Comma-separated packages the target machine already has (e.g. a GPU machine's numpy, "
            "transformers): left out; install with --system-site-packages."
        ),
    ] = "",
    sign_key: SignKeyOption = None,
    source: Annotated[
        Path, typer.Option(help="The Stockade checkout (pyproject.toml, requirements/).")
    ] = Path(),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """On a connected machine: download the locked wheels for the target, build Stockade's wheel, write
    requirements.txt (hashes), install.sh, README.md and MANIFEST.json (signed with --sign-key)."""
    from stockade.operations.bundle import BuildRequest, build_bundle

    request = BuildRequest(
        source=source.resolve(),
        out=out.resolve(),
        target=target,
        python=python,
        platform=platform,
        extras=tuple(extra.strip() for extra in extras.split(",") if extra.strip()),
        include_torch=include_torch,
        sign_key=sign_key,
        omit=tuple(name.strip() for name in omit.split(",") if name.strip()),
    )
    if not as_json:
        console.print(f"building the {target} bundle for Python {python} ({platform}); pip downloads…")
    result = build_bundle(request)
    summary = {
        "out": str(result.out),
        "wheels": result.wheels,
        "bytes": result.bytes,
        "torch": result.manifest["torch"],
        "signed_by": result.manifest["signed_by"],
        "omitted": result.manifest["omitted"],
        "left_out": result.left_out,
    }
    if as_json:
        print_json(summary)
        return
    torch = result.manifest["torch"]
    console.print(
        f"[green]bundle written[/]: {escape(str(result.out))} ({result.wheels} wheels, "
        f"{result.bytes / 1e6:.1f} MB; torch {torch['version']} {torch['build']} "
        f"{'included' if torch['included'] else 'left out'}; "
        f"{'signed by ' + result.manifest['signed_by'] if result.manifest['signed_by'] else 'unsigned'})"
    )


@app.command()
def keygen(
    out: Annotated[
        Path, typer.Option(help="The private key file to create (0600); KEY.pub is written beside.")
    ],
) -> None:
    """Make the organisation's Ed25519 signing key pair. Keep the private key offline; hand out KEY.pub."""
    from stockade.operations.signing import generate_key_pair

    public, fingerprint = generate_key_pair(out)
    console.print(
        f"[green]key pair written[/]: {escape(str(out))} (private, 0600) and {escape(str(public))} "
        f"(public); fingerprint {fingerprint}"
    )


@app.command()
def verify(
    folder: Annotated[Path, typer.Argument(help="The bundle folder.")],
    trusted_key: TrustedKeyOption = None,
    allow_unsigned: AllowUnsignedOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check the signature against the trusted key, then every file's SHA-256 and size; exit 3 naming the
    file (or the signature) that does not match."""
    from stockade.operations.bundle_manifest import verify_bundle

    checked = verify_bundle(folder, trusted_key=trusted_key, allow_unsigned=allow_unsigned)
    summary = {
        "folder": str(checked.folder),
        "kind": checked.kind,
        "files": checked.files,
        "bytes": checked.bytes,
        "signed_by": checked.signer,
    }
    if as_json:
        print_json(summary)
        return
    origin = f"signed by the trusted key {checked.signer}" if checked.signer else "signature not checked"
    console.print(
        f"[green]bundle ok[/]: {checked.kind}, {checked.files} files, {checked.bytes / 1e6:.1f} MB, {origin}"
    )


@app.command()
def model(
    path: Annotated[Path, typer.Argument(help="A local model folder (what `model import` accepts).")],
    out: Annotated[Path, typer.Option(help="The bundle folder to write (new or empty).")],
    sign_key: SignKeyOption = None,
) -> None:
    """Pack a model folder with its SHA-256 manifest (the one `model import` registers) for the transfer;
    `stockade model import OUT` verifies it before copying."""
    from stockade.operations.model_bundle import pack_model

    packed = pack_model(path, out, sign_key=sign_key)
    console.print(
        f"[green]model bundle written[/]: {escape(str(packed.folder))} ({packed.files} files, "
        f"{packed.bytes / 1e6:.1f} MB, manifest sha256 {packed.manifest_sha256[:16]}…, "
        f"{'signed by ' + packed.signed_by if packed.signed_by else 'unsigned'})"
    )
