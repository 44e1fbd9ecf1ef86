"""Many LoRA adapters on one base, chosen per request and batched together.

The adapters are loaded unmerged into one peft model (``load_adapters``); the base weights are shared.
Each forward pass names, per row, the adapter it runs with (``None``: the base alone): peft's LoRA
layers take ``adapter_names`` and add each adapter's low-rank update to its own rows only (a loop over
the adapters present in the batch inside each layer — peft's mixed-adapter batch inference), so rows
for different adapters share one forward pass of the base.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BASE = "__base__"  # peft's name for "no adapter" in ``adapter_names``


def internal_name(index: int) -> str:
    """peft's module key for the ``index``-th adapter (labels such as ``risk@v2`` are not used as keys)."""
    return f"adapter_{index}"


def load_adapters(model: Any, adapters: Sequence[tuple[str, Path]]) -> Any:
    """``model`` with every adapter loaded (unmerged) as a :class:`peft.PeftModel`; ``adapters``:
    (label, folder) pairs. The model's ``stockade_adapters`` maps each label to its peft name."""
    try:
        from peft import PeftModel
    except ModuleNotFoundError:
        from stockade.core.errors import DependencyMissing

        raise DependencyMissing(
            "peft is not installed (--adapters needs it)", fix="pip install 'stockade[train]'"
        ) from None

    names: dict[str, str] = {}
    peft_model = None
    for index, (label, folder) in enumerate(adapters):
        name = internal_name(index)
        if peft_model is None:
            peft_model = PeftModel.from_pretrained(model, folder, adapter_name=name)
        else:
            peft_model.load_adapter(folder, adapter_name=name)
        names[label] = name
    assert peft_model is not None
    peft_model.stockade_adapters = names
    return peft_model.eval()


class AdapterRows:
    """Sets, for each forward pass, which adapter each row of the batch uses (one pre-hook per LoRA
    layer, registered once, reads the current pass's list)."""

    def __init__(self, model: Any) -> None:
        self.names: dict[str, str] = dict(getattr(model, "stockade_adapters", {}))
        self._current: list[str] | None = None
        if not self.names:
            return
        from peft.tuners.lora import LoraLayer

        for module in model.modules():
            if isinstance(module, LoraLayer):
                module.register_forward_pre_hook(self._inject, with_kwargs=True)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.names)

    def _inject(self, module: Any, args: Any, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        if self._current is None:
            return args, kwargs
        return args, {**kwargs, "adapter_names": self._current}

    @contextmanager
    def rows(self, labels: Sequence[str | None] | None) -> Iterator[None]:
        """Within this block each LoRA layer applies ``labels[i]``'s adapter to row ``i`` only (``None``:
        the base alone, no adapter). Without adapters loaded this does nothing."""
        if not self.names or labels is None:
            yield
            return
        self._current = [BASE if label is None else self.names[label] for label in labels]
        try:
            yield
        finally:
            self._current = None
