"""``ServeSpec`` (serve) and ``ExportSpec`` (merge/export), with LLaMA-Factory aliases.

The serving and model issues give these fields their engines.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, field_validator, model_validator

from stockade.core.specs.base import Spec, split_list


class ServeSpec(Spec):
    model: str | None = Field(
        None,
        validation_alias=AliasChoices("model", "model_name_or_path"),
        description="Approved model version NAME@vN; a local folder in dev mode.",
    )
    adapter: str | None = Field(
        None, validation_alias=AliasChoices("adapter", "adapter_name_or_path"), description="LoRA adapter."
    )
    adapters: list[str] = Field(
        default_factory=list,
        description="Approved adapter versions NAME@vN (comma-separated) served on the base model unmerged; "
        "each must have been trained on this base (same manifest hash). Requests choose one by model "
        "(OpenAI) or parameters.adapter_id (TGI); none chosen: the base.",
    )
    template: str | None = Field(None, description="Chat template name; default: the model's own.")
    infer_backend: Literal["hf", "vllm"] = Field("hf", description="hf (transformers) or vllm (GPU only).")
    trust_remote_code: bool = Field(False, description="Allow allowlisted model code.")
    host: str = Field("127.0.0.1", description="Bind address; loopback unless set.")
    port: int = Field(5000, ge=1, le=65535, description="TCP port.")
    load_in_4bit: bool = Field(
        False,
        description="Load weights in 4-bit nf4 (bitsandbytes), computing in the training run's dtype "
        "(bf16 on a GPU, fp32 on CPU when no run says).",
    )
    load_in_8bit: bool = Field(False, description="Load weights in 8-bit (bitsandbytes LLM.int8).")
    max_batch_size: int = Field(8, ge=1, description="Most concurrent requests decoded together.")
    dev: bool = Field(False, description="Serve unapproved versions; announced on every response.")
    verify: Literal["fast", "full"] = Field(
        "fast",
        description="Check the version's files against its manifest before loading: fast (sizes and times "
        "recorded at import; changed files re-hashed) or full (re-hash every file).",
    )
    max_queue: int = Field(
        64, ge=0, description="Requests that may wait for a batch slot; more get HTTP 429."
    )
    request_timeout: float = Field(
        300.0, gt=0, description="Seconds a request may take, queue included (the guide's 请求超时)."
    )
    max_model_len: int | None = Field(
        None, ge=16, description="Most prompt + generated tokens per request; default min(model's, 8192)."
    )
    cuda_graphs: bool = Field(
        False, description="Capture decode steps as CUDA graphs (GPU; faster decoding)."
    )
    tls: bool = Field(
        False,
        description="Serve HTTPS with the workspace's server certificate (`stockade pki issue`); "
        "tls_cert / tls_key name another one.",
    )
    tls_cert: str | None = Field(None, description="TLS certificate (PEM) to serve HTTPS.")
    tls_key: str | None = Field(None, description="TLS private key (PEM) of tls_cert.")
    tls_client_ca: str | None = Field(
        None, description="CA (PEM) that client certificates must chain to (mTLS)."
    )

    @field_validator("infer_backend", mode="before")
    @classmethod
    def _backend(cls, value: object) -> object:
        # LLaMA-Factory calls the transformers backend "huggingface".
        return "hf" if value == "huggingface" else value

    _split = field_validator("adapters", mode="before")(classmethod(lambda cls, v: split_list(v)))

    @model_validator(mode="after")
    def _one_way_to_load(self) -> ServeSpec:
        if self.load_in_4bit and self.load_in_8bit:
            raise ValueError("load_in_4bit and load_in_8bit are both true; choose one")
        if self.adapter and self.adapters:
            raise ValueError(
                "adapter (merged at start) and adapters (served unmerged, chosen per request) are both set; "
                "list every adapter in adapters"
            )
        return self


class ExportSpec(Spec):
    model: str | None = Field(
        None,
        validation_alias=AliasChoices("model", "model_name_or_path"),
        description="Base model. With `stockade export RUN` it comes from the run's lineage: leave unset.",
    )
    adapter: str | None = Field(
        None,
        validation_alias=AliasChoices("adapter", "adapter_name_or_path"),
        description="Adapter to merge. With `stockade export RUN` it is the run's adapter: leave unset.",
    )
    template: str | None = Field(None, description="Chat template recorded with the new version.")
    trust_remote_code: bool = Field(False, description="Allow allowlisted model code.")
    export_dir: str | None = Field(
        None, description="Also copy the new version into this new folder; the model store keeps its own."
    )
    export_size: float = Field(5, gt=0, description="Largest safetensors shard in GB (fractions allowed).")
    export_device: Literal["cpu", "auto"] = Field(
        "cpu", description="Device used for merging (auto: a CUDA GPU when there is one)."
    )
    export_tolerance: float | None = Field(
        None,
        gt=0,
        description="Largest logit difference merged vs base+adapter on the probe batch; "
        "default by weight dtype: float32 1e-4, float16 2e-2, bfloat16 1e-1.",
    )
    export_legacy_format: Literal[False] = Field(
        False, description="Must stay false: merged weights are written as safetensors, never pickle."
    )
