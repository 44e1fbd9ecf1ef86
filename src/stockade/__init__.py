"""Stockade: offline, compliance-first fine-tuning and serving of LLMs inside a closed network."""

__version__ = "0.1.0"
