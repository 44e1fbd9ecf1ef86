"""A model's shape from its ``config.json`` alone: the sizes the memory estimate needs, no weights read.

Dense decoder-only models of the llama family (llama, mistral, qwen2, qwen3, phi3-style configs with
``hidden_size``, ``intermediate_size``, ``num_hidden_layers``, ``num_attention_heads``): attention with
q/k/v/o projections (grouped-query when ``num_key_value_heads`` is smaller), a gated MLP (gate, up,
down), RMSNorms. Mixture-of-experts configs are refused: their memory depends on the routing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stockade.core.errors import ConfigError

# model types whose q/k/v projections carry a bias by default (others read ``attention_bias``)
QKV_BIAS_TYPES = frozenset({"qwen2", "qwen2_moe"})
MOE_KEYS = ("num_experts", "num_local_experts", "n_routed_experts", "moe_intermediate_size")


@dataclass(frozen=True)
class Linear:
    name: str  # q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj
    fan_in: int
    fan_out: int
    bias: bool

    @property
    def parameters(self) -> int:
        return self.fan_in * self.fan_out + (self.fan_out if self.bias else 0)


@dataclass(frozen=True)
class ModelShape:
    model_type: str
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied_embeddings: bool
    linears: tuple[Linear, ...]  # one decoder layer's linear layers

    @property
    def q_width(self) -> int:
        return self.heads * self.head_dim

    @property
    def kv_width(self) -> int:
        return self.kv_heads * self.head_dim

    @property
    def layer_norm_parameters(self) -> int:
        return 2 * self.hidden

    @property
    def layer_parameters(self) -> int:
        return sum(linear.parameters for linear in self.linears) + self.layer_norm_parameters

    @property
    def embedding_parameters(self) -> int:
        return self.vocab * self.hidden

    @property
    def head_parameters(self) -> int:
        """lm_head's own weight (0 when it is the embedding's, tied)."""
        return 0 if self.tied_embeddings else self.vocab * self.hidden

    @property
    def parameters(self) -> int:
        return (
            self.layers * self.layer_parameters
            + self.embedding_parameters
            + self.head_parameters
            + self.hidden  # final norm
        )


def shape_from_config(config: Any, where: str = "config.json") -> ModelShape:
    """The shape of a ``transformers`` config object (or a plain dict of config.json)."""
    if isinstance(config, dict):
        values = config.get("text_config") if isinstance(config.get("text_config"), dict) else config
    else:
        text = config.get_text_config() if hasattr(config, "get_text_config") else config
        values = text.to_dict()
    model_type = str(values.get("model_type") or "unknown")
    experts = [key for key in MOE_KEYS if values.get(key)]
    if experts:
        raise ConfigError(
            f"{model_type} is a mixture-of-experts model ({experts[0]}); the estimator covers dense models",
            where=where,
            fix="estimate a dense model (llama, mistral, qwen2 ...), or measure a short run instead",
        )
    missing = [
        key
        for key in (
            "hidden_size",
            "intermediate_size",
            "num_hidden_layers",
            "num_attention_heads",
            "vocab_size",
        )
        if not values.get(key)
    ]
    if missing:
        raise ConfigError(
            f"config.json of model type {model_type!r} lacks {', '.join(missing)}",
            where=where,
            fix="the estimator reads llama-style decoder configs: is this a causal LM's config.json?",
        )
    hidden = int(values["hidden_size"])
    heads = int(values["num_attention_heads"])
    kv_heads = int(values.get("num_key_value_heads") or heads)
    head_dim = int(values.get("head_dim") or hidden // heads)
    inter = int(values["intermediate_size"])
    qkv_bias = bool(values.get("attention_bias", model_type in QKV_BIAS_TYPES))
    o_bias = bool(values.get("attention_bias", False))
    mlp_bias = bool(values.get("mlp_bias", False))
    linears = (
        Linear("q_proj", hidden, heads * head_dim, qkv_bias),
        Linear("k_proj", hidden, kv_heads * head_dim, qkv_bias),
        Linear("v_proj", hidden, kv_heads * head_dim, qkv_bias),
        Linear("o_proj", heads * head_dim, hidden, o_bias),
        Linear("gate_proj", hidden, inter, mlp_bias),
        Linear("up_proj", hidden, inter, mlp_bias),
        Linear("down_proj", inter, hidden, mlp_bias),
    )
    return ModelShape(
        model_type=model_type,
        hidden=hidden,
        intermediate=inter,
        layers=int(values["num_hidden_layers"]),
        heads=heads,
        kv_heads=kv_heads,
        head_dim=head_dim,
        vocab=int(values["vocab_size"]),
        tied_embeddings=bool(values.get("tie_word_embeddings", False)),
        linears=linears,
    )


def read_shape(model_dir: Path) -> ModelShape:
    """The shape from ``model_dir/config.json`` through ``transformers.AutoConfig`` (offline)."""
    path = Path(model_dir) / "config.json"
    if not path.is_file():
        raise ConfigError(
            "there is no config.json in this folder",
            where=str(model_dir),
            fix="give --model a registered model (NAME or NAME@vN) or a folder that holds the model's "
            "config.json (weights are not needed)",
        )
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(str(model_dir), local_files_only=True, trust_remote_code=False)
    except (ValueError, OSError, KeyError) as error:
        raise ConfigError(
            f"config.json cannot be read: {error}",
            where=str(path),
            fix="the estimator needs a transformers config (model_type, hidden_size, ...)",
        ) from error
    return shape_from_config(config, where=str(path))
