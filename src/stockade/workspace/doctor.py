"""`stockade doctor`: checks of the machine, the offline guard and the workspace."""

from __future__ import annotations

import importlib.metadata
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import text

from stockade.audit import AuditLog, verify_chain
from stockade.core import environment, network, offline
from stockade.core.errors import StockadeError
from stockade.core.settings import Settings
from stockade.core.workspace import Workspace, default_location
from stockade.storage.database import make_engine
from stockade.storage.migrate import current_revision, head_revision

Status = Literal["pass", "warn", "fail"]
CORE_LIBRARIES = ("typer", "rich", "pydantic", "sqlalchemy", "alembic", "pyyaml")
TRAIN_LIBRARIES = ("torch", "transformers", "peft", "accelerate", "tokenizers", "safetensors")


@dataclass
class Check:
    group: str
    name: str
    status: Status
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_python() -> list[Check]:
    version = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info >= (3, 10)
    return [Check("system", "python", "pass" if ok else "fail", version, "" if ok else "use Python 3.10+")]


def check_libraries() -> list[Check]:
    checks = []
    missing_core = [p for p in CORE_LIBRARIES if _version(p) is None]
    core = ", ".join(f"{p} {_version(p)}" for p in CORE_LIBRARIES if _version(p))
    checks.append(
        Check(
            "system",
            "core libraries",
            "fail" if missing_core else "pass",
            core,
            f"pip install stockade (missing: {', '.join(missing_core)})" if missing_core else "",
        )
    )
    missing = [p for p in TRAIN_LIBRARIES if _version(p) is None]
    found = ", ".join(f"{p} {_version(p)}" for p in TRAIN_LIBRARIES if _version(p))
    checks.append(
        Check(
            "system",
            "training libraries",
            "warn" if missing else "pass",
            found or "none installed",
            f"install the train extra (missing: {', '.join(missing)}): "
            "pip install torch==2.13.0 && pip install 'stockade[train]'"
            if missing
            else "",
        )
    )
    return checks


# Why no "CUDA >= 11.8" (the deployment guide says 11.7): PyTorch wheels carry their own CUDA runtime, so
# the CUDA toolkit installed on the server is not used at all; the one CUDA requirement is the NVIDIA
# driver, which must support the runtime the installed torch was built with (`torch.version.cuda`).
# Since CUDA 11 a driver runs every newer minor version of its major ("minor version compatibility"),
# so the check compares majors: the guide's CUDA 11.7 driver is right for a cu117/cu118 build of an older
# PyTorch, and too old for torch 2.13's CUDA builds (CUDA 12 or newer). bitsandbytes (QLoRA) loads the kernels
# of torch's CUDA runtime and adds no requirement of its own.
DRIVER_ADVICE = (
    "no CUDA toolkit is needed (PyTorch brings its own CUDA runtime); the NVIDIA driver must support the "
    "CUDA version of the PyTorch build (python -c 'import torch; print(torch.version.cuda)': 12 or newer for "
    "torch 2.13's CUDA builds, so a CUDA 11.7-era driver is too old for them)"
)


def torch_cuda_version() -> str | None:
    """The CUDA runtime the installed torch was built with ("12.6"), None for a CPU build or no torch."""
    if _version("torch") is None:
        return None
    try:
        import torch
    except Exception:
        return None
    return torch.version.cuda


def check_driver(driver_cuda: tuple[int, int], built_for: str | None) -> Check:
    """The driver's CUDA version against the one torch was built with (same major suffices)."""
    shown = f"driver supports CUDA {driver_cuda[0]}.{driver_cuda[1]}"
    if built_for is None:
        return Check(
            "system",
            "CUDA driver",
            "warn",
            f"{shown}; PyTorch is a CPU build or not installed",
            f"install a CUDA build of PyTorch; {DRIVER_ADVICE}",
        )
    major = int(built_for.split(".")[0])
    if driver_cuda[0] >= major:
        return Check("system", "CUDA driver", "pass", f"{shown}; PyTorch built for CUDA {built_for}")
    return Check(
        "system",
        "CUDA driver",
        "fail",
        f"{shown}, PyTorch is built for CUDA {built_for}: the driver is too old to run it",
        f"upgrade the NVIDIA driver to one for CUDA {major}.x, or install a PyTorch build for CUDA "
        f"{driver_cuda[0]}.x; {DRIVER_ADVICE}",
    )


def check_gpu() -> list[Check]:
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:
        return [
            Check(
                "system",
                "GPU (NVML)",
                "warn",
                "no NVIDIA driver found: training and serving run on CPU",
                f"on a GPU server install the NVIDIA driver; {DRIVER_ADVICE}",
            )
        ]
    try:
        driver = pynvml.nvmlSystemGetDriverVersion()
        count = pynvml.nvmlDeviceGetCount()
        names = []
        for index in range(count):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle).total / 2**30
            names.append(f"{pynvml.nvmlDeviceGetName(handle)} ({memory:.0f} GiB)")
        cuda = pynvml.nvmlSystemGetCudaDriverVersion_v2()
    finally:
        pynvml.nvmlShutdown()
    detail = f"driver {driver}, CUDA {cuda // 1000}.{cuda % 1000 // 10}, {count} GPU(s): {', '.join(names)}"
    checks = [Check("system", "GPU (NVML)", "pass" if count else "warn", detail)]
    if count:
        checks.append(check_driver((cuda // 1000, cuda % 1000 // 10), torch_cuda_version()))
    return checks


def check_locale() -> list[Check]:
    settings = environment.locale_settings()
    encoding = settings.get("preferred_encoding", "").replace("-", "").lower()
    shown = ", ".join(f"{k}={v}" for k, v in settings.items())
    if encoding == "utf8":
        return [Check("system", "UTF-8 locale", "pass", shown)]
    return [
        Check(
            "system",
            "UTF-8 locale",
            "warn",
            shown,
            "Chinese text may print as 乱码: export LANG=zh_CN.UTF-8 (or C.UTF-8); on Debian: "
            "apt-get install locales && dpkg-reconfigure locales",
        )
    ]


def check_offline() -> list[Check]:
    guard = offline.status()
    checks = [
        Check(
            "offline",
            "egress guard",
            "pass" if guard.active else "fail",
            "audit hook installed, probe to 192.0.2.1:9 refused, hub/telemetry switches set"
            if guard.active
            else f"hook={guard.hook_installed} probe_blocked={guard.probe_blocked} "
            f"unset={guard.variables_missing}",
            ""
            if guard.active
            else "run Stockade through its entry points (`stockade ...`), which activate it",
        )
    ]
    proxies = environment.proxy_settings()
    checks.append(
        Check(
            "offline",
            "proxy variables",
            "warn" if proxies else "pass",
            ", ".join(sorted(proxies)) if proxies else "none set",
            "unset proxy variables on an isolated server" if proxies else "",
        )
    )
    routes = network.default_routes()
    checks.append(
        Check(
            "offline",
            "default route",
            "warn" if routes else "pass",
            f"via {', '.join(routes)}" if routes else "none: only local networks are reachable",
            "the guard blocks Stockade itself; also block egress in the firewall "
            "(the deployment guide: 禁用服务器的外网访问权限)"
            if routes
            else "",
        )
    )
    return checks


def check_disk_before_init(root: Path) -> Check:
    """Free disk where the workspace will be created (its nearest existing folder), against the default."""
    folder = root
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    need = Settings.model_fields["min_free_disk_gb"].default
    free = shutil.disk_usage(folder).free / 1e9
    enough = free >= need
    return Check(
        "system",
        "free disk",
        "pass" if enough else "fail",
        f"{free:.1f} GB free at {folder} for the workspace's models (need {need:g})",
        "" if enough else "free space, or create the workspace on a larger disk (stockade init DIR)",
    )


def check_workspace(root: Path | None) -> list[Check]:
    target = (root or default_location()).expanduser().resolve()
    if not target.exists() or (target.is_dir() and not any(target.iterdir())):  # as `init` would take it
        # before `stockade init`: the machine checks above still count; only the workspace is to come
        return [
            check_disk_before_init(target),
            Check(
                "workspace",
                "workspace",
                "warn",
                f"not created yet: no stockade.yaml in {target}",
                f"stockade init {target} (or point to yours with --workspace or STOCKADE_HOME)",
            ),
        ]
    try:
        workspace = Workspace.locate(root)
        settings = workspace.settings
    except StockadeError as exc:
        return [Check("workspace", "workspace", "fail", exc.what, exc.fix or "")]
    checks = []
    try:
        with tempfile.NamedTemporaryFile(dir=workspace.root, prefix=".doctor-"):
            pass
        checks.append(Check("workspace", "writable", "pass", str(workspace.root)))
    except OSError as exc:
        checks.append(
            Check(
                "workspace",
                "writable",
                "fail",
                f"{workspace.root}: {exc.strerror}",
                "give the service account write access to the workspace",
            )
        )
    mode = workspace.root.stat().st_mode & 0o777
    checks.append(
        Check(
            "workspace",
            "permissions",
            "pass" if mode & 0o077 == 0 else "warn",
            f"{mode:o}",
            "" if mode & 0o077 == 0 else f"chmod 700 {workspace.root}",
        )
    )
    models = workspace.folder("models")
    free = shutil.disk_usage(models if models.exists() else workspace.root).free / 1e9
    enough = free >= settings.min_free_disk_gb
    checks.append(
        Check(
            "workspace",
            "free disk",
            "pass" if enough else "fail",
            f"{free:.1f} GB free for models (need {settings.min_free_disk_gb:g})",
            "" if enough else "free space, move the workspace, or lower min_free_disk_gb",
        )
    )
    checks.extend(_check_database(workspace))
    return checks


def _check_database(workspace: Workspace) -> list[Check]:
    engine = make_engine(workspace.database_url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        revision, head = current_revision(engine), head_revision()
        if revision != head:
            return [
                Check(
                    "workspace",
                    "database",
                    "fail",
                    f"schema {revision or 'none'}, need {head}",
                    f"stockade init {workspace.root}",
                )
            ]
        checks = [Check("workspace", "database", "pass", f"{engine.dialect.name}, schema {revision}")]
        verification = verify_chain(AuditLog(engine))
        checks.append(
            Check(
                "workspace",
                "audit chain",
                "pass" if verification.ok else "fail",
                f"{verification.checked} records intact" if verification.ok else verification.problem or "",
                ""
                if verification.ok
                else "investigate: run `stockade audit verify` and keep this database as evidence",
            )
        )
        checks.append(_check_leftovers(workspace, engine))
        return checks
    except Exception as exc:
        return [
            Check(
                "workspace",
                "database",
                "fail",
                f"{exc.__class__.__name__}: {exc}",
                "check database_url in stockade.yaml and that the database server runs",
            )
        ]
    finally:
        engine.dispose()


def _check_leftovers(workspace: Workspace, engine: Any) -> Check:
    """Staging folders, unregistered version and run folders and stuck runs that crashes left behind."""
    from stockade.workspace.recovery import find_leftovers

    leftovers = find_leftovers(workspace.root, engine)
    stale = [item for item in leftovers if "in use" not in item.detail]
    if not stale:
        return Check("workspace", "crash leftovers", "pass", "none")
    shown = "; ".join(f"{item.kind} {item.path} ({item.detail})" for item in stale[:5])
    more = f"; and {len(stale) - 5} more" if len(stale) > 5 else ""
    return Check(
        "workspace",
        "crash leftovers",
        "warn",
        f"{len(stale)} found: {shown}{more}",
        "stockade doctor --repair (removes them, audited as recovery.*)",
    )


def check_training_spec(spec: Any, model_dir: Path, *, free: int | None = None) -> Check:
    """Whether this machine can run ``spec`` (``stockade doctor --for CONFIG.yaml``): the estimator's peak
    (stockade.resources, as `stockade train` checks it before loading weights) against the free memory of
    this machine's first GPU, or its available RAM on CPU; on failure the smallest change that fits.
    ``free``: the free bytes to check against (default: measured now)."""
    from stockade.core.errors import ConfigError
    from stockade.resources.estimate import GIB, estimate_training
    from stockade.resources.fit import available_memory, first_fitting
    from stockade.resources.plan import device_of, setup_for_spec
    from stockade.resources.shape import read_shape

    name = f"fits {model_dir.name}"
    try:
        device = device_of(0)
        shape = read_shape(model_dir)
        setup = setup_for_spec(spec, model_dir, device)
        estimate = estimate_training(shape, setup)
    except ConfigError as exc:
        return Check("resources", name, "warn", f"not estimated: {exc.what}", exc.fix or "")
    free = available_memory(device) if free is None else free
    place = "free on GPU 0" if setup.device == "cuda" else "of RAM available (CPU run)"
    detail = (
        f"peak {estimate.peak_device / GIB:.2f} GiB ({setup.method}, batch {setup.batch_size}, cutoff "
        f"{setup.cutoff}, recompute {'on' if setup.recompute else 'off'}); {free / GIB:.2f} GiB {place}"
    )
    if estimate.peak_device <= free:
        return Check("resources", name, "pass", detail)
    change = first_fitting(shape, setup, free)
    if change is None:
        fix = "no single change fits this machine: use a smaller model, or a machine with more memory"
    else:
        fits = estimate_training(shape, change.setup).peak_device
        fix = f"set {change.description} (estimated {fits / GIB:.2f} GiB)"
    return Check(
        "resources", name, "fail", f"does not fit: {detail}", f"{fix}; `stockade estimate` shows why"
    )


def check_native() -> list[Check]:
    """The privacy gate's optional C extension (docs/privacy.md): without it the name detector runs
    in Python, with the same results and slower."""
    name = "privacy native code"
    try:
        from stockade.privacy.detectors import _segment  # noqa: F401 (only whether it is built)
    except ImportError:
        return [
            Check(
                "system",
                name,
                "warn",
                "not built: the name detector runs in Python (same results, slower `data desensitize`)",
                "install Stockade from the install bundle's wheel, or from source with a C compiler (gcc) "
                "present: pip install .",
            )
        ]
    if not environment.native_code_enabled():
        return [
            Check("system", name, "warn", "built, turned off by STOCKADE_NATIVE", "unset STOCKADE_NATIVE")
        ]
    return [Check("system", name, "pass", "built and in use (the name detector's search and check in C)", "")]


CHECKS: tuple[Callable[[], list[Check]], ...] = (
    check_python,
    check_libraries,
    check_native,
    check_gpu,
    check_locale,
    check_offline,
)


def run_doctor(root: Path | None) -> list[Check]:
    results: list[Check] = []
    for check in CHECKS:
        results.extend(check())
    results.extend(check_workspace(root))
    return results


def exit_code(checks: list[Check]) -> int:
    return 1 if any(check.status == "fail" for check in checks) else 0


__all__ = ["Check", "check_training_spec", "exit_code", "run_doctor"]
