"""``TrainSpec``: what `stockade train` runs. LLaMA-Factory key names are accepted as aliases.

This is the schema; the fine-tuning issue gives every field its engine.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, field_validator, model_validator

from stockade.core.specs.base import Spec, split_list


def _alias(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class TrainSpec(Spec):
    # model
    model: str | None = Field(
        None,
        validation_alias=_alias("model", "model_name_or_path"),
        description="Registered model NAME@vN (or NAME for its latest version); a local folder in dev mode.",
    )
    adapter_name_or_path: str | None = Field(
        None,
        description="An adapter to start from: a run id, or a folder (relative: from the current folder).",
    )
    trust_remote_code: bool = Field(
        False, description="Allow model code shipped with the weights (only if its hashes are allowlisted)."
    )
    template: str | None = Field(None, description="Chat template name; default: the model's own.")
    # method
    stage: Literal["sft"] = Field("sft", description="Training stage. Supervised fine-tuning only, for now.")
    do_train: bool = Field(True, description="LLaMA-Factory compatibility; must stay true for `train`.")
    finetuning_type: Literal["lora", "qlora", "full", "freeze"] = Field(
        "lora", description="lora | qlora (4-bit base, needs bitsandbytes) | full | freeze."
    )
    lora_rank: int = Field(8, ge=1, le=1024, description="LoRA rank r.")
    lora_alpha: int | None = Field(None, ge=1, description="LoRA alpha; default 2 x lora_rank.")
    lora_dropout: float = Field(0.0, ge=0, lt=1, description="LoRA dropout.")
    lora_target: list[str] = Field(
        default_factory=lambda: ["all"],
        description="Modules that get adapters: `all` (every linear layer) or names such as q_proj,v_proj.",
    )
    load_in_4bit: bool = Field(False, description="Load the base in 4-bit nf4 (QLoRA).")
    quantization_bit: Literal[4, 8] | None = Field(
        None, description="LLaMA-Factory's name for 4/8-bit loading."
    )
    deepspeed: str | None = Field(None, description="A DeepSpeed JSON config file (multi-GPU).")
    # dataset
    dataset: list[str] = Field(
        default_factory=list, description="Dataset versions NAME@vN (comma-separated in LLaMA-Factory style)."
    )
    dataset_dir: str | None = Field(None, description="A LLaMA-Factory data folder with dataset_info.json.")
    eval_dataset: list[str] = Field(
        default_factory=list, description="Held-out dataset versions (instead of a val_size split)."
    )
    cutoff_len: int = Field(2048, ge=8, description="Maximum tokens per example after templating.")
    max_samples: int | None = Field(None, ge=1, description="Use at most this many records per dataset.")
    val_size: float = Field(0.0, ge=0, lt=1, description="Fraction held out for validation.")
    packing: bool | None = Field(
        None,
        description="Pack examples into rows of cutoff_len tokens with a block-causal mask (each attends "
        "only to itself): the same per-example loss as unpacked, without padding. Unset: on a GPU, off on "
        "CPU (where a packed row's dense attention costs more than padding saves). false: one example per "
        "row, LLaMA-Factory's default.",
    )
    preprocessing_num_workers: int | None = Field(
        None,
        ge=1,
        description="Accepted for LLaMA-Factory configs; no effect: examples are tokenized once, in the "
        "training process, before the first step.",
    )
    dataloader_num_workers: int = Field(
        0,
        ge=0,
        description="Accepted for LLaMA-Factory configs; no effect: batches are built in memory from "
        "pre-tokenized examples, with no loader process to parallelize.",
    )
    # output
    output_dir: str | None = Field(
        None,
        description="Also copy the final adapter (or model) here (relative: from the current folder); the "
        "run itself always lives in runs/<run id>.",
    )
    logging_steps: int = Field(10, ge=1, description="Log metrics every N optimizer steps.")
    save_steps: int = Field(500, ge=1, description="Save a checkpoint every N optimizer steps.")
    plot_loss: bool = Field(True, description="Write a loss-curve PNG beside the run.")
    overwrite_output_dir: bool = Field(
        False, description="Replace a non-empty output_dir (else training refuses to start)."
    )
    save_only_model: bool = Field(False, description="Checkpoints without optimizer state (not resumable).")
    report_to: Literal["none"] = Field(
        "none", description="Only `none`: metrics stay in the run folder (no wandb/mlflow: offline)."
    )
    # train
    per_device_train_batch_size: int = Field(
        4,
        ge=1,
        validation_alias=_alias("per_device_train_batch_size", "batch_size"),
        description="Micro-batch size per device.",
    )
    per_device_eval_batch_size: int = Field(1, ge=1, description="Evaluation batch size per device.")
    gradient_accumulation_steps: int = Field(1, ge=1, description="Micro-batches per optimizer step.")
    learning_rate: float = Field(1e-4, gt=0, description="Peak learning rate.")
    num_train_epochs: float = Field(
        3.0, gt=0, validation_alias=_alias("num_train_epochs", "epochs"), description="Epochs over the data."
    )
    max_steps: int | None = Field(None, ge=1, description="Stop after this many optimizer steps.")
    lr_scheduler_type: Literal["cosine", "linear", "constant", "constant_with_warmup"] = Field(
        "cosine", description="Learning-rate schedule."
    )
    warmup_ratio: float = Field(0.0, ge=0, lt=1, description="Fraction of steps spent warming up.")
    warmup_steps: int = Field(0, ge=0, description="Warm-up steps (overrides warmup_ratio when > 0).")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    precision: Literal["auto", "bf16", "fp16", "fp32"] = Field(
        "auto", description="auto picks bf16 on GPUs that have it, fp16 on older GPUs, fp32 on CPU."
    )
    bf16: bool | None = Field(None, description="LLaMA-Factory switch; true means precision: bf16.")
    fp16: bool | None = Field(None, description="LLaMA-Factory switch; true means precision: fp16.")
    gradient_checkpointing: bool | None = Field(
        None,
        description="Recompute activations in the backward pass (less memory, ~30 % more compute). Unset: "
        "on only when a memory estimate says the run would not fit without it (never on CPU); true is "
        "LLaMA-Factory's default. `stockade train --dry-run` prints the decision and why.",
    )
    cross_entropy: Literal["chunked", "full"] = Field(
        "chunked",
        description="chunked: the loss is computed in pieces of 1024 tokens and never holds the full "
        "logits (liger-kernel's fused kernel on CUDA when installed); same value as full. full: the "
        "model's own loss over the full logits (LLaMA-Factory's).",
    )
    seed: int = Field(42, description="Random seed (data order, init of adapters).")
    ddp_timeout: int | None = Field(
        None, ge=1, description="Seconds a rank waits for the others in a collective (torchrun runs)."
    )
    resume_from_checkpoint: str | None = Field(
        None, description="Refused with advice: resume a run with `stockade train --resume RUN_ID`."
    )
    # eval
    eval_strategy: Literal["no", "steps", "epoch"] = Field(
        "no",
        description="When to evaluate the held-out split (val_size) besides the last step: every eval_steps "
        "(steps), at each epoch's end (epoch), or only at the end (no).",
    )
    eval_steps: int | None = Field(
        None,
        ge=1,
        description="Evaluate every N steps (eval_strategy: steps; default logging_steps). Setting it "
        "with eval_strategy: no means steps.",
    )

    _split = field_validator("dataset", "eval_dataset", "lora_target", mode="before")(
        classmethod(lambda cls, v: split_list(v))
    )

    @field_validator("report_to", mode="before")
    @classmethod
    def _report_to(cls, value: object) -> object:
        if isinstance(value, list) and value in (["none"], []):
            return "none"
        return value

    @model_validator(mode="after")
    def _resolve(self) -> TrainSpec:
        if self.bf16 and self.fp16:
            raise ValueError("bf16 and fp16 are both true; choose one (or set precision)")
        switch = "bf16" if self.bf16 else "fp16" if self.fp16 else None
        if switch and self.precision not in ("auto", switch):
            raise ValueError(f"{switch}: true contradicts precision: {self.precision}")
        if switch:
            self.precision = switch
        if self.quantization_bit == 4 or self.load_in_4bit:
            self.load_in_4bit = True
            if self.finetuning_type == "lora":
                self.finetuning_type = "qlora"
        if self.lora_alpha is None:
            self.lora_alpha = 2 * self.lora_rank
        if self.eval_steps and self.eval_strategy == "no":
            self.eval_strategy = "steps"
        return self
