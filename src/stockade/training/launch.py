"""Scale-out: the command line that runs `stockade train` on several processes, GPUs or nodes.

Nothing here starts a process: :func:`build_launch_command` returns an argv list for ``subprocess`` (or
for the operator to copy into a job script). Each process the launcher starts dies with it
(``PR_SET_PDEATHSIG``, armed by :func:`stockade.training.distributed.bind_to_launcher`). Two launchers
are supported, both already shipped with the ``train`` extra:

* ``torchrun`` (``python -m torch.distributed.run``): DDP, or a DeepSpeed ZeRO config through the
  spec's ``deepspeed`` setting (passed on as ``--deepspeed FILE`` when the spec has none), as
  LLaMA-Factory does with ``FORCE_TORCHRUN=1``;
* ``accelerate`` (``python -m accelerate.commands.launch``): DDP (``--multi_gpu``), DeepSpeed (a
  multi-process launch with ``--deepspeed FILE`` for the trainer: the loop maps the file itself, so
  accelerate's ``--use_deepspeed``, which needs DeepSpeed installed, is not used) or FSDP
  (``--use_fsdp`` and its flags).

The trainer maps a ZeRO config onto DDP/FSDP2 (:mod:`stockade.training.zero`). DeepSpeed JSON files are
read and checked before anything runs (:func:`validate_deepspeed_config`): ``zero_optimization.stage``
0..3, offload devices ``cpu`` or ``none``, and the ``"auto"`` values of LLaMA-Factory's shipped configs
are accepted (the trainer fills them in from the spec). Monitors that send metrics away (wandb, comet)
are refused. Stockade ships ``ds_z2.json``, ``ds_z3.json`` and ``ds_z3_offload.json`` (see
:func:`shipped_config`).

Multi-node: ``master_addr`` must be reachable from every node. An address other than loopback is only
usable when it is listed in the workspace's ``egress_allowlist`` (stockade.yaml): the offline guard
refuses connections anywhere else. This module does not check the allowlist; the guard does, at run time.
"""

from __future__ import annotations

import ipaddress
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from stockade.core.errors import ConfigError

if TYPE_CHECKING:
    from stockade.core.specs.train import TrainSpec

Launcher = Literal["torchrun", "accelerate"]
Strategy = Literal["ddp", "deepspeed", "fsdp"]

CONFIG_DIR = Path(__file__).parent / "configs"
SHIPPED_CONFIGS = ("ds_z2", "ds_z3", "ds_z3_offload")
OFFLOAD_DEVICES = ("cpu", "none")
# Keys that are numbers (or "auto", filled in by the trainer).
_NUMERIC_KEYS = (
    "train_batch_size",
    "train_micro_batch_size_per_gpu",
    "gradient_accumulation_steps",
    "gradient_clipping",
)
# DeepSpeed monitors that would send metrics off the machine.
_REMOTE_MONITORS = ("wandb", "comet")
# FSDP flags for accelerate: full sharding, one unit per decoder layer, sharded checkpoints.
FSDP_FLAGS = (
    "--fsdp_sharding_strategy",
    "FULL_SHARD",
    "--fsdp_auto_wrap_policy",
    "TRANSFORMER_BASED_WRAP",
    "--fsdp_state_dict_type",
    "SHARDED_STATE_DICT",
    "--fsdp_use_orig_params",
    "true",
    "--fsdp_cpu_ram_efficient_loading",
    "true",
)


def shipped_config(name: str) -> Path:
    """The path of a DeepSpeed config shipped with Stockade: ``ds_z2``, ``ds_z3`` or ``ds_z3_offload``."""
    name = name.removesuffix(".json")
    if name not in SHIPPED_CONFIGS:
        raise ConfigError(
            f"unknown shipped DeepSpeed config {name!r}",
            fix=f"choose one of {', '.join(SHIPPED_CONFIGS)}",
        )
    return CONFIG_DIR / f"{name}.json"


def validate_deepspeed_config(path: Path) -> dict[str, Any]:
    """Read and check a DeepSpeed JSON file; return it. Every error names the file and the key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(
            f"cannot read the DeepSpeed config: {error.strerror or error}",
            where=str(path),
            fix="set `deepspeed:` to an existing JSON file, e.g. one of Stockade's shipped configs",
        ) from error
    return check_deepspeed_config(parse_deepspeed_json(text, str(path)), str(path))


def parse_deepspeed_json(text: str, where: str) -> dict[str, Any]:
    """The JSON object in ``text``; a ConfigError with the line and column of a syntax error."""
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(
            f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})",
            where=where,
            fix="DeepSpeed configs are JSON (no comments, no trailing commas)",
        ) from error
    if not isinstance(config, dict):
        raise ConfigError("a DeepSpeed config must be a JSON object", where=where)
    return config


def check_deepspeed_config(config: dict[str, Any], where: str) -> dict[str, Any]:
    """Check the shape of a parsed DeepSpeed config (``where``: the file, for errors); return it.
    What each key means for a run is decided by :func:`stockade.training.zero.plan_zero`."""
    path = where

    def fail(key: str, what: str, fix: str) -> ConfigError:
        return ConfigError(what, where=f"{path}: {key}", fix=fix)

    for key in _NUMERIC_KEYS:
        if key in config and not _number_or_auto(config[key]):
            raise fail(key, f'expected a number or "auto", got {config[key]!r}', 'use a number or "auto"')
    for section in ("fp16", "bf16"):
        value = config.get(section)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise fail(section, f"expected an object, got {value!r}", 'write {"enabled": "auto"}')
        if "enabled" in value and value["enabled"] not in (True, False, "auto"):
            raise fail(
                f"{section}.enabled",
                f'expected true, false or "auto", got {value["enabled"]!r}',
                'use "auto"',
            )
    if _enabled(config.get("fp16")) is True and _enabled(config.get("bf16")) is True:
        raise fail("bf16.enabled", "fp16 and bf16 are both enabled", 'set one of them to false (or "auto")')

    zero = config.get("zero_optimization", {})
    if not isinstance(zero, dict):
        raise fail("zero_optimization", f"expected an object, got {zero!r}", 'write {"stage": 2}')
    stage = zero.get("stage", 0)
    if isinstance(stage, bool) or not isinstance(stage, int) or not 0 <= stage <= 3:
        raise fail(
            "zero_optimization.stage", f"expected 0, 1, 2 or 3, got {stage!r}", "use a ZeRO stage 0..3"
        )
    for key in ("offload_optimizer", "offload_param"):
        offload = zero.get(key)
        if offload is None:
            continue
        where = f"zero_optimization.{key}"
        if not isinstance(offload, dict):
            raise fail(where, f"expected an object, got {offload!r}", 'write {"device": "cpu"}')
        device = offload.get("device", "none")
        if device not in OFFLOAD_DEVICES:
            raise fail(
                f"{where}.device",
                f"offload device {device!r} is not supported",
                f"use one of {', '.join(OFFLOAD_DEVICES)} (NVMe offload is not supported by Stockade)",
            )
        if key == "offload_param" and device != "none" and stage != 3:
            raise fail(where, f"parameter offload needs ZeRO stage 3, not {stage}", "set stage to 3")
        if key == "offload_optimizer" and device != "none" and stage == 0:
            raise fail(where, "optimizer offload needs ZeRO stage 1, 2 or 3", "set stage to 2 or 3")
    for key in _REMOTE_MONITORS:
        monitor = config.get(key)
        if isinstance(monitor, dict) and monitor.get("enabled"):
            raise fail(
                f"{key}.enabled",
                f"the {key} monitor sends metrics off the machine",
                f"remove the {key!r} section; metrics stay in the run folder",
            )
    return config


def build_launch_command(
    spec: TrainSpec,
    *,
    config_path: Path,
    nproc_per_node: int,
    strategy: Strategy,
    nnodes: int = 1,
    node_rank: int = 0,
    master_addr: str = "127.0.0.1",
    master_port: int = 29500,
    launcher: Launcher = "torchrun",
) -> list[str]:
    """The argv that runs ``stockade train CONFIG`` on ``nproc_per_node`` processes on each of ``nnodes``.

    ``strategy="deepspeed"`` uses ``spec.deepspeed`` (or, when unset, the shipped ``ds_z2.json`` for
    LoRA/QLoRA and ``ds_z3.json`` for full/freeze) after :func:`validate_deepspeed_config`.
    ``strategy="fsdp"`` needs ``launcher="accelerate"``. ``master_addr`` must be loopback for one node;
    a non-loopback address must be in the workspace's egress allowlist (checked by the offline guard
    when the job runs, not here).
    """
    _check_topology(nproc_per_node, nnodes, node_rank, master_addr, master_port)
    if launcher not in ("torchrun", "accelerate"):
        raise ConfigError(f"unknown launcher {launcher!r}", fix="use torchrun or accelerate")
    if strategy not in ("ddp", "deepspeed", "fsdp"):
        raise ConfigError(f"unknown strategy {strategy!r}", fix="use ddp, deepspeed or fsdp")
    if strategy != "deepspeed" and spec.deepspeed:
        raise ConfigError(
            f"the spec sets deepspeed: {spec.deepspeed} but the strategy is {strategy}",
            where="deepspeed",
            fix="use strategy deepspeed, or remove `deepspeed:` from the spec",
        )
    if strategy == "fsdp" and launcher != "accelerate":
        raise ConfigError(
            "FSDP is launched with accelerate",
            where="launcher",
            fix="use launcher accelerate for strategy fsdp",
        )
    if strategy == "fsdp" and spec.finetuning_type == "qlora":
        raise ConfigError(
            "QLoRA (4-bit base) with FSDP is not supported",
            where="finetuning_type",
            fix="use strategy ddp or deepspeed for QLoRA",
        )

    ds_config: Path | None = None
    if strategy == "deepspeed":
        if spec.deepspeed:
            ds_config = Path(spec.deepspeed)
        else:
            ds_config = shipped_config("ds_z2" if spec.finetuning_type in ("lora", "qlora") else "ds_z3")
        validate_deepspeed_config(ds_config)

    train = ["-m", "stockade", "train", str(config_path)]
    if launcher == "torchrun":
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            str(nproc_per_node),
            "--nnodes",
            str(nnodes),
            "--node_rank",
            str(node_rank),
            "--master_addr",
            master_addr,
            "--master_port",
            str(master_port),
            *train,
        ]
        if ds_config is not None and not spec.deepspeed:
            command += ["--deepspeed", str(ds_config)]
        return command

    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--num_processes",
        str(nproc_per_node * nnodes),
        "--num_machines",
        str(nnodes),
        "--machine_rank",
        str(node_rank),
        "--main_process_ip",
        master_addr,
        "--main_process_port",
        str(master_port),
    ]
    mixed = {"bf16": "bf16", "fp16": "fp16", "fp32": "no"}.get(spec.precision)
    if mixed:
        command += ["--mixed_precision", mixed]
    if strategy in ("ddp", "deepspeed"):
        if nproc_per_node * nnodes > 1:
            command.append("--multi_gpu")
    else:
        command += ["--use_fsdp", *FSDP_FLAGS]
    if ds_config is not None and not spec.deepspeed:
        train += ["--deepspeed", str(ds_config)]
    return [*command, *train]


def _number_or_auto(value: object) -> bool:
    return value == "auto" or (isinstance(value, int | float) and not isinstance(value, bool))


def _enabled(section: object) -> object:
    return section.get("enabled") if isinstance(section, dict) else None


def _check_topology(nproc_per_node: int, nnodes: int, node_rank: int, master_addr: str, port: int) -> None:
    if nproc_per_node < 1:
        raise ConfigError(f"nproc_per_node must be at least 1, got {nproc_per_node}", where="nproc_per_node")
    if nnodes < 1:
        raise ConfigError(f"nnodes must be at least 1, got {nnodes}", where="nnodes")
    if not 0 <= node_rank < nnodes:
        raise ConfigError(f"node_rank {node_rank} is outside 0..{nnodes - 1}", where="node_rank")
    if not 1 <= port <= 65535:
        raise ConfigError(f"master_port {port} is not a TCP port (1..65535)", where="master_port")
    if not master_addr or any(c.isspace() for c in master_addr):
        raise ConfigError(f"master_addr {master_addr!r} is not an address", where="master_addr")
    if nnodes > 1 and _is_loopback(master_addr):
        raise ConfigError(
            f"master_addr {master_addr} is loopback, which other nodes cannot reach",
            where="master_addr",
            fix="use node 0's address on the cluster network (it must be in egress_allowlist)",
        )


def _is_loopback(address: str) -> bool:
    if address.lower() in ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"):
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
