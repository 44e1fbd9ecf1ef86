"""Tiny random-init models of real architectures (Qwen2/3, Llama 3, GLM-4, Mistral) for tests and demos.

Importing this package needs no torch; :func:`build_tiny_model` imports the training stack lazily.
"""

from __future__ import annotations

from stockade.models.tiny.arch import ARCH_TEMPLATE_NAMES, TINY_ARCHS, TinyArch
from stockade.models.tiny.builder import TinyModelInfo, build_tiny_model

__all__ = ["ARCH_TEMPLATE_NAMES", "TINY_ARCHS", "TinyArch", "TinyModelInfo", "build_tiny_model"]
