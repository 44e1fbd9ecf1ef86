"""`stockade estimate`: peak memory (and time per epoch) of a training run or of serving, from config.json."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from stockade.cli.output import console, escape, new_table, print_json
from stockade.cli.state import state
from stockade.core.errors import ConfigError


class Method(str, Enum):
    lora = "lora"
    qlora = "qlora"
    full = "full"
    freeze = "freeze"


class Precision(str, Enum):
    bf16 = "bf16"
    fp16 = "fp16"
    fp32 = "fp32"


class Device(str, Enum):
    cuda = "cuda"
    cpu = "cpu"


class Fsdp(str, Enum):
    full = "full"
    grad_op = "grad-op"


class Loss(str, Enum):
    chunked = "chunked"
    full = "full"


def _model_folder(reference: str) -> Path:
    from stockade.core.references import parse_model_reference

    parsed = parse_model_reference(reference, where="--model")
    if parsed.kind == "path" and parsed.path is not None:
        return parsed.path
    from stockade.governance.roles import require
    from stockade.resources.plan import registered_model_folder
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "model.read")
        return registered_model_folder(context.engine, context.workspace.root, reference)


def _sharding(gpus: int, fsdp: Fsdp | None, zero: int | None) -> str:
    if fsdp is not None and zero is not None:
        raise ConfigError("--fsdp and --zero both given", where="estimate", fix="choose one")
    if zero is not None and zero not in (2, 3):
        raise ConfigError(f"--zero {zero} is not 2 or 3", where="--zero", fix="use --zero 2 or --zero 3")
    sharding = {2: "grad-op", 3: "full"}.get(zero or 0) or (fsdp.value if fsdp else "none")
    if sharding != "none" and gpus < 2:
        raise ConfigError("sharding needs several GPUs", where="--fsdp/--zero", fix="add --gpus 2 (or more)")
    return sharding


def register(app: typer.Typer) -> None:
    @app.command()
    def estimate(
        ctx: typer.Context,
        model: Annotated[
            str, typer.Option("--model", help="A registered model NAME[@vN], or a folder with config.json.")
        ],
        method: Annotated[Method, typer.Option(help="Fine-tuning method.")] = Method.lora,
        batch_size: Annotated[int, typer.Option(min=1, help="Micro-batch size per GPU.")] = 4,
        cutoff: Annotated[int, typer.Option(min=8, help="Tokens per row (cutoff_len).")] = 2048,
        lora_rank: Annotated[int, typer.Option(min=1, help="LoRA rank.")] = 8,
        lora_target: Annotated[
            str, typer.Option(help="`all`, or comma-separated linear layers (q_proj,v_proj).")
        ] = "all",
        gradient_checkpointing: Annotated[
            bool, typer.Option(help="Activation recompute (the table also shows the other choice's peak).")
        ] = False,
        quantization_bit: Annotated[
            int | None, typer.Option(help="4: a 4-bit nf4 base (QLoRA). 8 is not run by `stockade train`.")
        ] = None,
        precision: Annotated[Precision, typer.Option(help="Compute dtype (bf16 autocast on a GPU).")] = (
            Precision.bf16
        ),
        cross_entropy: Annotated[Loss, typer.Option(help="The loss: chunked (default) or full logits.")] = (
            Loss.chunked
        ),
        gpus: Annotated[
            int, typer.Option(min=1, help="GPUs (data-parallel; with --fsdp/--zero sharded).")
        ] = 1,
        fsdp: Annotated[
            Fsdp | None, typer.Option(help="FSDP sharding: full (ZeRO-3) or grad-op (ZeRO-2).")
        ] = None,
        zero: Annotated[
            int | None, typer.Option(help="2 or 3: ZeRO's sharding, run by this build as FSDP grad-op/full.")
        ] = None,
        optimizer: Annotated[str, typer.Option(help="adamw (the training loop's optimizer).")] = "adamw",
        device: Annotated[
            Device, typer.Option(help="cuda: a GPU run; cpu: the CPU run (fp32).")
        ] = Device.cuda,
        dataset_tokens: Annotated[
            int | None, typer.Option(min=1, help="Tokens in one epoch of the dataset, for the time estimate.")
        ] = None,
        tokens_per_second: Annotated[
            float | None, typer.Option(min=0.001, help="Training throughput per GPU (stated or measured).")
        ] = None,
        serve: Annotated[bool, typer.Option("--serve", help="Estimate serving instead of training.")] = False,
        max_batch_size: Annotated[int, typer.Option(min=1, help="Serving: concurrent sequences.")] = 8,
        max_len: Annotated[int, typer.Option(min=1, help="Serving: tokens per sequence.")] = 4096,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Peak GPU memory (and time per epoch) of a training run or of serving, from config.json alone."""
        from stockade.resources.estimate import estimate_training
        from stockade.resources.shape import read_shape

        _refuse_options_of_the_other_mode(ctx, serve)
        if optimizer != "adamw":
            raise ConfigError(
                f"optimizer {optimizer} is not run by `stockade train`",
                where="--optimizer",
                fix="the training loop uses torch AdamW (two fp32 moments): --optimizer adamw",
            )
        if quantization_bit not in (None, 4):
            raise ConfigError(
                f"--quantization-bit {quantization_bit}: `stockade train` loads only 4-bit bases",
                where="--quantization-bit",
                fix="use --quantization-bit 4 (QLoRA), or leave it out",
            )
        if quantization_bit == 4 and method not in (Method.lora, Method.qlora):
            raise ConfigError(
                f"a 4-bit base trains only LoRA adapters, not {method.value}",
                where="--quantization-bit 4",
                fix="use --method lora (or qlora) with --quantization-bit 4",
            )
        if (tokens_per_second is None) != (dataset_tokens is None):
            raise ConfigError(
                "the time estimate needs both --dataset-tokens and --tokens-per-second",
                where="estimate",
                fix="give both, or neither",
            )
        folder = _model_folder(model)
        shape = read_shape(folder)
        if serve:
            from stockade.resources.serving import estimate_serving

            result = estimate_serving(
                shape,
                precision=precision.value,
                quantization_bit=quantization_bit,
                max_batch_size=max_batch_size,
                max_len=max_len,
                device=device.value,
            )
            _show(result, None, None, as_json, f"serving {escape(model)}")
            return
        setup = _training_setup(
            folder, method, batch_size, cutoff, lora_rank, lora_target, gradient_checkpointing,
            quantization_bit, precision, cross_entropy, gpus, _sharding(gpus, fsdp, zero), device,
        )  # fmt: skip
        import dataclasses

        result = estimate_training(shape, setup)
        other = estimate_training(shape, dataclasses.replace(setup, recompute=not setup.recompute))
        epoch = None
        if dataset_tokens is not None and tokens_per_second is not None:
            epoch = dataset_tokens / (tokens_per_second * gpus)
        title = f"training {escape(model)}: {setup.method}, {setup.batch_size} x {setup.cutoff} tokens"
        _show(result, (other, not setup.recompute), epoch, as_json, title)


TRAINING_ONLY = (
    "method", "batch_size", "cutoff", "lora_rank", "lora_target", "gradient_checkpointing", "cross_entropy",
    "gpus", "fsdp", "zero", "optimizer", "dataset_tokens", "tokens_per_second",
)  # fmt: skip
SERVING_ONLY = ("max_batch_size", "max_len")


def _refuse_options_of_the_other_mode(ctx: typer.Context, serve: bool) -> None:
    """Training options with --serve (or serving options without it) would do nothing: refused."""
    names = TRAINING_ONLY if serve else SERVING_ONLY
    # by name: typer may bring its own copy of click's ParameterSource
    given = [n for n in names if getattr(ctx.get_parameter_source(n), "name", "DEFAULT") != "DEFAULT"]
    if given:
        flags = ", ".join("--" + n.replace("_", "-") for n in given)
        raise ConfigError(
            f"{flags} {'do not apply to serving' if serve else 'apply only with --serve'}",
            where="estimate",
            fix="leave them out" if serve else "add --serve, or leave them out",
        )


def _training_setup(
    folder: Path, method: Method, batch_size: int, cutoff: int, lora_rank: int, lora_target: str,
    recompute: bool, quantization_bit: int | None, precision: Precision, cross_entropy: Loss, gpus: int,
    sharding: str, device: Device,
):  # fmt: skip
    """The flags as a TrainSpec, read by the loop's recipe (cross-entropy by model type, FSDP)."""
    from pydantic import ValidationError

    from stockade.core.specs import TrainSpec
    from stockade.resources.plan import setup_for_spec
    from stockade.training.recipe import DeviceFacts

    try:
        spec = TrainSpec(
            finetuning_type=method.value,
            per_device_train_batch_size=batch_size,
            cutoff_len=cutoff,
            lora_rank=lora_rank,
            lora_target=lora_target,
            gradient_checkpointing=recompute,
            quantization_bit=quantization_bit,
            precision=precision.value if device == Device.cuda else "fp32",
            cross_entropy=cross_entropy.value,
        )
    except ValidationError as error:
        raise ConfigError(f"invalid options: {error}", where="estimate") from error
    facts = DeviceFacts(device.value, device.value, None, bf16=precision != Precision.fp16)
    return setup_for_spec(
        spec, folder, facts, gpus=gpus, fsdp=sharding != "none",
        reshard_after_forward=sharding == "full",
    )  # fmt: skip


def _show(result, other, epoch_seconds, as_json: bool, title: str) -> None:
    from stockade.resources.estimate import GIB

    if as_json:
        data = result.as_dict()
        if other is not None:
            estimate, recompute = other
            data["peak_allocated_gib_" + ("with" if recompute else "without") + "_recompute"] = round(
                estimate.peak_allocated / GIB, 3
            )
        if epoch_seconds is not None:
            data["epoch_seconds"] = round(epoch_seconds, 1)
        print_json(data)
        return
    table = new_table("component", "GiB", "note", title=title)
    for component in result.components:
        table.add_row(component.label, f"{component.bytes / GIB:.3f}", escape(component.note))
    table.add_row(
        "[bold]peak allocated[/]", f"[bold]{result.peak_allocated / GIB:.3f}[/]", result.peak_moment
    )
    for component in result.extra:
        table.add_row(component.label, f"{component.bytes / GIB:.3f}", escape(component.note))
    table.add_row(
        "[bold]peak on the device[/]", f"[bold]{result.peak_device / GIB:.3f}[/]", "what nvidia-smi shows"
    )
    if other is not None:
        estimate, recompute = other
        label = "with recompute" if recompute else "without recompute"
        table.add_row(
            f"(peak allocated {label})", f"{estimate.peak_allocated / GIB:.3f}", estimate.peak_moment
        )
    if epoch_seconds is not None:
        table.add_row(
            "time per epoch", f"{epoch_seconds / 3600:.2f} h", "dataset tokens / (throughput x GPUs)"
        )
    console.print(table)
