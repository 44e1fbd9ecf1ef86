"""Datasets: readers, LLaMA-Factory compatibility, chat templates, tokenization, packing, versions."""
