"""Cross-entropy without the full logits (:mod:`.recipe` decides when).

:func:`chunked_cross_entropy` is the model's own causal-LM loss (mean over the shifted labels that are
not -100, in fp32) computed ``chunk`` tokens at a time, so the ``tokens x vocabulary`` logits never
exist whole; each chunk's gradient is taken in the forward pass, so the backward pass recomputes nothing.

:class:`LogitFreeHead` makes ``model(**batch).logits`` return the last hidden states (lm_head's forward is
the identity on the instance; its weight and the state dict are untouched), so the forward still runs
through the DDP wrapper and the loss is taken from the hidden states and lm_head's weight.
"""

from __future__ import annotations

from typing import Any

from stockade.data.tokenization import IGNORE_INDEX

CE_CHUNK = 1024


def chunked_cross_entropy(hidden: Any, weight: Any, labels: Any, chunk: int = CE_CHUNK) -> Any:
    """Mean shifted cross-entropy of ``hidden @ weight.T`` against ``labels``, ``chunk`` tokens at a time.

    The gradients are computed in the forward pass, chunk by chunk (as liger-kernel's fused kernel
    does): each piece's fp32 logits live only while they are turned into its loss and its gradient, and
    the backward pass only scales the stored gradients. The same two matmuls as the full-logit loss
    (three when ``weight`` is trained), no recompute. With no label to learn, 0 (not NaN).
    """
    hidden = hidden[:, :-1].reshape(-1, hidden.shape[-1])
    targets = labels[:, 1:].reshape(-1)
    keep = targets != IGNORE_INDEX
    hidden, targets = hidden[keep], targets[keep]
    if targets.numel() == 0:
        return hidden.sum().float() * 0.0
    return _ChunkedCrossEntropy.apply(hidden, weight, targets, chunk)


def _chunked_ce_class() -> Any:
    import torch

    class ChunkedCrossEntropy(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, hidden: Any, weight: Any, targets: Any, chunk: int) -> Any:
            device = hidden.device.type
            if torch.is_autocast_enabled(device):  # as the model's lm_head would run under autocast
                dtype = torch.get_autocast_dtype(device)
            else:
                dtype = torch.promote_types(hidden.dtype, weight.dtype)
            w = weight.detach().to(dtype)
            acc = torch.promote_types(dtype, torch.float32)  # logits, loss and gradients: fp32 at least
            count = targets.numel()
            total = torch.zeros((), dtype=acc, device=hidden.device)
            want_h, want_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
            # fp32: an fp16 gradient this small would underflow before the GradScaler's factor reaches it
            grad_h = torch.empty(hidden.shape, dtype=acc, device=hidden.device) if want_h else None
            grad_w = torch.zeros(weight.shape, dtype=acc, device=weight.device) if want_w else None
            for start in range(0, count, chunk):
                h = hidden[start : start + chunk].detach().to(dtype)
                t = targets[start : start + chunk]
                logits = (h @ w.T).to(acc)
                total += torch.nn.functional.cross_entropy(logits, t, reduction="sum")
                if want_h or want_w:
                    # d(sum CE)/d logits = softmax - onehot; the mean divides by count
                    dlogits = torch.softmax(logits, dim=-1)
                    dlogits[torch.arange(t.numel(), device=t.device), t] -= 1.0
                    dlogits /= count
                    if want_h:
                        grad_h[start : start + chunk] = (dlogits.to(dtype) @ w).to(acc)
                    if want_w:
                        grad_w += dlogits.T @ h.to(acc)
            ctx.save_for_backward(grad_h, grad_w)
            ctx.hidden_dtype, ctx.weight_dtype = hidden.dtype, weight.dtype
            return total / count

        @staticmethod
        def backward(ctx: Any, grad_output: Any) -> Any:
            grad_h, grad_w = ctx.saved_tensors
            out_h = (grad_h * grad_output).to(ctx.hidden_dtype) if grad_h is not None else None
            out_w = (grad_w * grad_output).to(ctx.weight_dtype) if grad_w is not None else None
            return out_h, out_w, None, None

    return ChunkedCrossEntropy


class _Lazy:
    """The autograd Function, built on first use (torch is imported only then)."""

    def __init__(self) -> None:
        self._cls: Any = None

    def apply(self, *args: Any) -> Any:
        if self._cls is None:
            self._cls = _chunked_ce_class()
        return self._cls.apply(*args)


_ChunkedCrossEntropy = _Lazy()


def liger_cross_entropy() -> Any:
    """liger-kernel's fused linear cross-entropy (mean over non-ignored tokens), or None if not installed."""
    try:
        from liger_kernel.transformers import LigerFusedLinearCrossEntropyLoss
    except ImportError:
        return None
    fused = LigerFusedLinearCrossEntropyLoss(ignore_index=IGNORE_INDEX)

    def loss(hidden: Any, weight: Any, labels: Any) -> Any:
        h = hidden[:, :-1].reshape(-1, hidden.shape[-1])
        return fused(weight, h, labels[:, 1:].reshape(-1)).float()

    return loss


class LogitFreeHead:
    """While installed, the model's output layer returns its input: ``.logits`` are the hidden states."""

    def __init__(self, model: Any) -> None:
        self.head = model.get_output_embeddings()
        if self.head is None or not hasattr(self.head, "weight"):
            raise ValueError("the model has no output layer with a weight")
        self.head.forward = _identity

    @property
    def weight(self) -> Any:
        return self.head.weight


def _identity(hidden: Any) -> Any:
    return hidden
