"""The ``install.sh`` and ``README.md`` written into every install bundle.

``install.sh`` needs only bash, the target Python (with venv) and, for a signed bundle, OpenSSL: it
checks every file against MANIFEST.json, the signature against the organisation's public key, then
installs with ``pip --no-index --find-links wheels --require-hashes`` and runs ``stockade doctor``.
"""

from __future__ import annotations

from typing import Any

INSTALL_SH = r"""#!/usr/bin/env bash
# Install Stockade from this bundle on a machine with no network. Nothing is downloaded.
#
#   ./install.sh --trusted-key ORG.pub [--venv DIR] [--python PYTHON] [--torch-wheel FILE]
#                [--system-site-packages] [--no-doctor]
#   ./install.sh --allow-unsigned ...     (checks file hashes only: integrity, not origin)
#
# --venv DIR               where to create the virtual environment (default: ./stockade-venv; must not exist)
# --python PYTHON          the interpreter to build it with (default: python3; must be the bundle's version)
# --torch-wheel FILE       a torch wheel carried beside a --exclude-torch bundle, installed first
# --system-site-packages   let the venv see the machine's own packages (a GPU machine's torch)
# --no-doctor              skip `stockade doctor` at the end
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$PWD/stockade-venv"
PYTHON=python3
TRUSTED_KEY=""
ALLOW_UNSIGNED=0
TORCH_WHEEL=""
SITE=""
DOCTOR=1

fail() { echo "install.sh: ${*:1:$#-1}" >&2; exit "${!#}"; }  # the last argument is the exit code

while [ $# -gt 0 ]; do
  case "$1" in
    --venv) VENV="$2"; shift 2 ;;
    --python) PYTHON="$2"; shift 2 ;;
    --trusted-key) TRUSTED_KEY="$2"; shift 2 ;;
    --allow-unsigned) ALLOW_UNSIGNED=1; shift ;;
    --torch-wheel) TORCH_WHEEL="$2"; shift 2 ;;
    --system-site-packages) SITE="--system-site-packages"; shift ;;
    --no-doctor) DOCTOR=0; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) fail "unknown option $1 (see --help)" 2 ;;
  esac
done

# pip reads no configuration of this machine: no index, no proxy, no constraint applies here.
export PIP_CONFIG_FILE=/dev/null PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_CONSTRAINT PIP_REQUIREMENT

[ -e "$VENV" ] && fail "$VENV already exists: give a new --venv DIR (upgrades install beside the old one)" 2
command -v "$PYTHON" >/dev/null 2>&1 || fail "no $PYTHON here: give --python /path/to/python3.X" 2

echo "1/4 checking every file against MANIFEST.json"
"$PYTHON" - "$HERE" "$SITE" <<'PY' || exit $?
import hashlib, json, pathlib, sys
root = pathlib.Path(sys.argv[1])
manifest = json.loads((root / "MANIFEST.json").read_bytes())
if manifest.get("format") != "stockade-bundle" or manifest.get("kind") != "install":
    sys.exit("install.sh: MANIFEST.json is not a Stockade install bundle's")
want = manifest["python"]
have = "%d.%d" % sys.version_info[:2]
if want != have:
    print(f"install.sh: this bundle is for Python {want}, {sys.executable} is {have}: give --python",
          file=sys.stderr)
    sys.exit(2)
if manifest.get("omitted") and not sys.argv[2]:
    print("install.sh: this bundle leaves out packages the machine must provide:",
          ", ".join(manifest["omitted"]), "- add --system-site-packages", file=sys.stderr)
    sys.exit(2)
expected = {entry["path"]: entry for entry in manifest["files"]}
present = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
present -= {"MANIFEST.json", "MANIFEST.json.sig"}
bad = []
for path in sorted(present & expected.keys()):
    digest = hashlib.sha256()
    with open(root / path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected[path]["sha256"]:
        bad.append(f"changed: {path}")
bad += [f"missing: {p}" for p in sorted(expected.keys() - present)]
bad += [f"not in the manifest: {p}" for p in sorted(present - expected.keys())]
if bad:
    print("install.sh: the bundle differs from its manifest; do not install it:", *bad,
          sep="\n  ", file=sys.stderr)
    sys.exit(3)
print(f"   {len(expected)} files match")
PY

echo "2/4 checking the signature"
if [ -n "$TRUSTED_KEY" ]; then
  [ -f "$HERE/MANIFEST.json.sig" ] \
    || fail "the bundle is not signed (MANIFEST.json.sig is missing); do not install it" 3
  command -v openssl >/dev/null 2>&1 \
    || fail "openssl is needed to check the signature (or use \`stockade bundle verify\` where Stockade is)" 2
  openssl pkeyutl -verify -pubin -inkey "$TRUSTED_KEY" -rawin -in "$HERE/MANIFEST.json" \
    -sigfile "$HERE/MANIFEST.json.sig" >/dev/null \
    || fail "the signature does not match $TRUSTED_KEY: MANIFEST.json changed after signing," \
            "or another key signed it; do not install it" 3
  echo "   signed by the trusted key"
elif [ "$ALLOW_UNSIGNED" = 1 ]; then
  echo "   not checked (--allow-unsigned): the file hashes prove integrity, not origin"
else
  fail "give --trusted-key ORG.pub (the organisation's public key, obtained apart from the bundle)," \
       "or --allow-unsigned" 2
fi

echo "3/4 installing into $VENV (pip --no-index)"
# shellcheck disable=SC2086
"$PYTHON" -m venv $SITE "$VENV"
PIP=("$VENV/bin/python" -m pip install --no-index --find-links "$HERE/wheels")
if [ -n "$TORCH_WHEEL" ]; then
  "${PIP[@]}" "$TORCH_WHEEL"
fi
"${PIP[@]}" --require-hashes -r "$HERE/requirements.txt"

if [ "$DOCTOR" = 1 ]; then
  echo "4/4 stockade doctor"
  "$VENV/bin/stockade" doctor \
    || echo "install.sh: doctor reported problems above (the install itself is complete)" >&2
else
  echo "4/4 doctor skipped (--no-doctor)"
fi
echo "installed: $VENV/bin/stockade"
"""


def readme(manifest: dict[str, Any]) -> str:
    """What the bundle is for, in words (its facts come from the manifest written beside it)."""
    torch = manifest["torch"]
    if torch["included"]:
        torch_line = f"torch {torch['version']} ({torch['build']}) is in wheels/."
    else:
        torch_line = (
            f"torch is NOT in this bundle (--exclude-torch): the machine provides it (the lock was resolved "
            f"with torch {torch['version']}, {torch['build']}; Stockade needs torch >= 2.4); give "
            "`--system-site-packages` to use the machine's, or `--torch-wheel FILE` to install a wheel "
            "carried beside the bundle."
        )
    omitted = ""
    if manifest.get("omitted"):
        omitted = (
            "\nNot in this bundle (--omit), to be provided by the machine and seen through "
            f"`--system-site-packages`: {', '.join(manifest['omitted'])}.\n"
        )
    driver = ""
    if torch.get("cuda"):
        driver = (
            f"\nCUDA: the torch build is {torch['build']} (CUDA {torch['cuda']}); the NVIDIA driver must be "
            f"{torch['min_driver']} or newer (`nvidia-smi` shows it).\n"
        )
    return f"""# Stockade {manifest["stockade_version"]} offline install bundle

Target: {manifest["target"]}, Python {manifest["python"]}, platform {manifest["platform"]};
extras: {", ".join(manifest["extras"]) or "(none)"}. Built {manifest["created_at"]}.
{torch_line}
{omitted}{driver}
## Install (no network needed)

    ./install.sh --trusted-key ORG.pub --venv /opt/stockade/venv-{manifest["stockade_version"]}

`install.sh` checks every file against MANIFEST.json (SHA-256 and size), the signature
MANIFEST.json.sig against the organisation key (OpenSSL), then runs
`pip install --no-index --find-links wheels --require-hashes -r requirements.txt` and `stockade doctor`.
Where Stockade is already installed, `stockade bundle verify . --trusted-key ORG.pub` checks the same.
`./install.sh --help` lists the options.
"""
