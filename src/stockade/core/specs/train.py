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
    stage: Literal["sft", "pt", "dpo", "kto"] = Field(
        "sft",
        description="sft: supervised fine-tuning on conversations. pt: continued pre-training on plain text "
        "(loss on every token, documents packed without attention across them). dpo: preference "
        "optimisation on chosen/rejected pairs (pref_loss). kto: KTO on answers tagged desirable or not "
        "(kto_tag). The dataset versions must hold records of that kind.",
    )
    pref_beta: float = Field(
        0.1,
        gt=0,
        description="dpo/kto: beta, how far the policy may move from the reference (LLaMA-Factory's).",
    )
    pref_ftx: float = Field(
        0.0, ge=0, description="dpo/kto: weight of an added SFT loss on the chosen (desirable) answers."
    )
    pref_loss: Literal["sigmoid", "ipo", "orpo", "simpo"] = Field(
        "sigmoid",
        description="dpo: sigmoid (DPO), ipo, orpo (no reference model) or simpo (no reference model).",
    )
    simpo_gamma: float = Field(0.5, description="dpo with pref_loss: simpo: the target reward margin gamma.")
    kto_chosen_weight: float = Field(1.0, gt=0, description="kto: weight of the desirable examples' loss.")
    kto_rejected_weight: float = Field(
        1.0, gt=0, description="kto: weight of the undesirable examples' loss."
    )
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
    use_dora: bool = Field(False, description="lora: weight-decomposed LoRA (DoRA, peft's use_dora).")
    use_rslora: bool = Field(
        False,
        description="lora: rank-stabilised scaling alpha/sqrt(r) instead of alpha/r (peft's use_rslora).",
    )
    pissa_init: bool = Field(
        False,
        description="lora: initialise the adapters from the principal singular vectors of the weights "
        "(PiSSA). The saved adapter is converted to a plain LoRA on the original base (LLaMA-Factory's "
        "pissa_convert), so export and serving use it as any adapter.",
    )
    pissa_iter: int = Field(
        16,
        ge=-1,
        description="pissa_init: iterations of the fast SVD; -1 runs the full SVD (slow on large weights).",
    )
    loraplus_lr_ratio: float | None = Field(
        None,
        gt=0,
        description="lora: LoRA+, the B matrices learn at learning_rate x this ratio (A at learning_rate).",
    )
    loraplus_lr_embedding: float = Field(
        1e-6, gt=0, description="loraplus_lr_ratio: the learning rate of LoRA adapters on embedding layers."
    )
    additional_target: list[str] = Field(
        default_factory=list,
        description="lora: modules trained in full besides the adapters and saved with them (peft's "
        "modules_to_save), e.g. embed_tokens,lm_head.",
    )
    freeze_trainable_layers: int = Field(
        2,
        description="freeze: train the last N decoder layers (N > 0) or the first -N (N < 0), as "
        "LLaMA-Factory.",
    )
    freeze_trainable_modules: list[str] = Field(
        default_factory=lambda: ["all"],
        description="freeze: within those layers, train only these sub-modules (e.g. mlp,self_attn); all: "
        "the whole layer.",
    )
    freeze_extra_modules: list[str] = Field(
        default_factory=list,
        description="freeze: modules outside the decoder layers also trained (e.g. embed_tokens,norm).",
    )
    neftune_noise_alpha: float | None = Field(
        None,
        gt=0,
        description="NEFTune: uniform noise of scale alpha/sqrt(length x hidden) added to the input "
        "embeddings in training steps only (never in evaluation or generation).",
    )
    load_in_4bit: bool = Field(False, description="Load the base in 4-bit nf4 (QLoRA).")
    quantization_bit: Literal[4, 8] | None = Field(
        None,
        description="LLaMA-Factory's quantised base for LoRA: 4 = nf4 (QLoRA), 8 = bitsandbytes int8 "
        "(LLM.int8()); both need bitsandbytes and train only adapters.",
    )
    deepspeed: str | None = Field(
        None,
        description="A DeepSpeed ZeRO JSON file (relative: from the current folder), mapped onto the loop's "
        "engines: stage 0/1 DDP, 2 FSDP2 SHARD_GRAD_OP, 3 FSDP2 FULL_SHARD, offload_* CPUOffloadPolicy; "
        '"auto" values from the spec, other keys honoured or refused by name (docs/training.md).',
    )
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
        description="Processes that tokenize the records before the first step (spawned, each with at "
        "least 64 records; fewer when the data is small). Unset or 1: the training process does it. "
        "The examples are the same either way.",
    )
    dataloader_num_workers: int = Field(
        0,
        ge=0,
        description="Threads that collate (pad and move to the device) the micro-batches of a step at once "
        "when gradient_accumulation_steps > 1; 0: the training thread does it. Batches come from "
        "pre-tokenized examples in memory, so no loader process is started; the result is the same.",
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
    report_to: Literal["none", "tensorboard"] = Field(
        "none",
        description="none: metrics.jsonl and loss.png in the run folder only. tensorboard: also TensorBoard "
        "event files in runs/<run id>/tensorboard (local files, no network; needs the tensorboard package). "
        "Hosted trackers (wandb, mlflow, swanlab...) are refused: the network is closed.",
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
    adam_beta1: float = Field(0.9, ge=0, lt=1, description="AdamW beta1 (first-moment decay).")
    adam_beta2: float = Field(0.999, ge=0, lt=1, description="AdamW beta2 (second-moment decay).")
    adam_epsilon: float = Field(1e-8, gt=0, description="AdamW epsilon.")
    max_grad_norm: float = Field(
        1.0, gt=0, description="Clip the gradients' global L2 norm to this before each optimizer step."
    )
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

    _split = field_validator(
        "dataset",
        "eval_dataset",
        "lora_target",
        "additional_target",
        "freeze_trainable_modules",
        "freeze_extra_modules",
        mode="before",
    )(classmethod(lambda cls, v: split_list(v)))

    @field_validator("report_to", mode="before")
    @classmethod
    def _report_to(cls, value: object) -> object:
        names = split_list(value) if isinstance(value, str) else value
        if isinstance(names, list):
            names = [str(n).strip().lower() for n in names if str(n).strip().lower() not in ("none", "")]
            if len(names) > 1:
                raise ValueError(f"one reporter only (got {', '.join(names)}); use report_to: tensorboard")
            value = names[0] if names else "none"
        if isinstance(value, str) and value not in ("none", "tensorboard"):
            raise ValueError(
                f"report_to: {value} sends metrics to a tracking service, which a closed network cannot "
                "reach; use report_to: tensorboard (local event files) or none (metrics.jsonl, loss.png)"
            )
        return value

    @classmethod
    def refused_keys(cls) -> dict[str, str]:
        """LLaMA-Factory keys refused by name, with reason and alternative (llamafactory_keys.yaml)."""
        from stockade.core.specs.llamafactory import refused_keys

        return refused_keys()

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
        self._check_stage_keys()
        self._check_method_keys()
        return self

    def _check_method_keys(self) -> None:
        """LoRA-variant, freeze and quantisation keys only where they act; others are refused by name.

        A key counts as given when its value differs from the default, so a spec written out in full (a
        run's spec.yaml, --save-config) loads again.
        """
        lora_keys = ("use_dora", "use_rslora", "pissa_init", "pissa_iter", "loraplus_lr_ratio")
        lora_keys += ("loraplus_lr_embedding", "additional_target")
        freeze_keys = ("freeze_trainable_layers", "freeze_trainable_modules", "freeze_extra_modules")
        fields = type(self).model_fields
        given = {
            k
            for k in (*lora_keys, *freeze_keys)
            if getattr(self, k) != fields[k].get_default(call_default_factory=True)
        }
        lora = self.finetuning_type in ("lora", "qlora")
        freeze = self.finetuning_type == "freeze"
        problems = [f"{k} needs finetuning_type: lora" for k in lora_keys if k in given and not lora]
        problems += [f"{k} needs finetuning_type: freeze" for k in freeze_keys if k in given and not freeze]
        if "pissa_iter" in given and not self.pissa_init:
            problems.append("pissa_iter needs pissa_init: true")
        if "loraplus_lr_embedding" in given and self.loraplus_lr_ratio is None:
            problems.append("loraplus_lr_embedding needs loraplus_lr_ratio")
        if self.freeze_trainable_layers == 0:
            problems.append(
                "freeze_trainable_layers: 0 trains nothing; use N > 0 (last N) or N < 0 (first N)"
            )
        if self.adapter_name_or_path:
            keep = "the adapter in adapter_name_or_path keeps its own setting; remove it"
            problems += [f"{k}: {keep}" for k in ("use_dora", "use_rslora", "pissa_init") if k in given]
        if self.quantization_bit == 8 and (self.load_in_4bit or self.finetuning_type == "qlora"):
            problems.append(
                "quantization_bit: 8 contradicts 4-bit loading (load_in_4bit / qlora); choose one"
            )
        if self.quantization_bit and self.finetuning_type in ("full", "freeze"):
            problems.append(
                f"quantization_bit: {self.quantization_bit} trains adapters only, not finetuning_type: "
                f"{self.finetuning_type}; use finetuning_type: lora, or drop quantization_bit"
            )
        if self.pissa_init and (self.quantization_bit or self.load_in_4bit):
            problems.append(
                "pissa_init on a quantised base is not supported; drop pissa_init or quantization_bit"
            )
        if problems:
            raise ValueError("; ".join(problems))

    def _check_stage_keys(self) -> None:
        """Preference keys only where they act: a key that would be ignored is refused by name."""
        allowed = {
            "dpo": {"pref_beta", "pref_ftx", "pref_loss", "simpo_gamma"},
            "kto": {"pref_beta", "pref_ftx", "kto_chosen_weight", "kto_rejected_weight"},
        }.get(self.stage, set())
        keys = (
            "pref_beta",
            "pref_ftx",
            "pref_loss",
            "simpo_gamma",
            "kto_chosen_weight",
            "kto_rejected_weight",
        )
        # set to another value than the default (a saved spec.yaml lists every key at its default)
        changed = {key for key in keys if getattr(self, key) != type(self).model_fields[key].default}
        ignored = [key for key in keys if key in changed and key not in allowed]
        if self.stage == "dpo" and self.pref_loss != "simpo" and "simpo_gamma" in changed:
            ignored.append("simpo_gamma (only pref_loss: simpo uses it)")
        if ignored:
            raise ValueError(f"{', '.join(ignored)} has no effect with stage: {self.stage}; remove it")
