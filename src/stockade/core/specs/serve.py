"""``ServeSpec`` (serve) and ``ExportSpec`` (merge/export), with LLaMA-Factory aliases.

The serving and model issues give these fields their engines.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, field_validator

from stockade.core.specs.base import Spec


class ServeSpec(Spec):
    model: str | None = Field(
        None,
        validation_alias=AliasChoices("model", "model_name_or_path"),
        description="Approved model version NAME@vN; a local folder in dev mode.",
    )
    adapter: str | None = Field(
        None, validation_alias=AliasChoices("adapter", "adapter_name_or_path"), description="LoRA adapter."
    )
    template: str | None = Field(None, description="Chat template name; default: the model's own.")
    infer_backend: Literal["hf", "vllm"] = Field("hf", description="hf (transformers) or vllm (GPU only).")
    trust_remote_code: bool = Field(False, description="Allow allowlisted model code.")
    host: str = Field("127.0.0.1", description="Bind address; loopback unless set.")
    port: int = Field(5000, ge=1, le=65535, description="TCP port.")
    load_in_4bit: bool = Field(False, description="Load weights in 4-bit (bitsandbytes, GPU).")
    max_batch_size: int = Field(8, ge=1, description="Most concurrent requests decoded together.")
    dev: bool = Field(False, description="Serve unapproved versions; announced on every response.")

    @field_validator("infer_backend", mode="before")
    @classmethod
    def _backend(cls, value: object) -> object:
        # LLaMA-Factory calls the transformers backend "huggingface".
        return "hf" if value == "huggingface" else value


class ExportSpec(Spec):
    model: str | None = Field(
        None, validation_alias=AliasChoices("model", "model_name_or_path"), description="Base model."
    )
    adapter: str | None = Field(
        None,
        validation_alias=AliasChoices("adapter", "adapter_name_or_path"),
        description="Adapter to merge.",
    )
    template: str | None = Field(None, description="Chat template recorded with the merged version.")
    trust_remote_code: bool = Field(False, description="Allow allowlisted model code.")
    export_dir: str | None = Field(None, description="Where merged weights go; default the model store.")
    export_size: int = Field(5, ge=1, description="Shard size in GB.")
    export_device: Literal["cpu", "auto"] = Field("cpu", description="Device used for merging.")
    export_legacy_format: Literal[False] = Field(
        False, description="Must stay false: merged weights are written as safetensors, never pickle."
    )
