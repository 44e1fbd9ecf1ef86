"""A real multi-process DDP step on CPU (gloo over loopback): proof that distributed LoRA training syncs.

:func:`run_ddp_check` spawns ``world_size`` processes. Each one switches the offline guard on, loads the
model from ``model_dir``, adds LoRA adapters to every linear layer (initialised with a *different* seed
on each rank, so that DDP's initial broadcast is exercised too), wraps it in DistributedDataParallel and
runs one forward/backward/optimizer step on its own shard of a small batch. The result holds per-rank
checksums of the LoRA weights before wrapping, after wrapping, after the step, and of the gradients:
after the step every rank must hold the same weights (bit for bit), different from before the step,
although each rank saw different data.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from stockade.core import offline


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_ddp_check(model_dir: Path, world_size: int = 2, *, seq_len: int = 16, timeout_s: int = 120) -> dict:
    """Run one DDP training step on ``world_size`` CPU processes; return per-rank checksums and verdicts."""
    import torch.multiprocessing as mp

    offline.activate()
    if world_size < 1:
        raise ValueError("world_size must be at least 1")
    port = free_port()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="stockade-ddp-") as scratch:
        context = mp.spawn(
            _worker,
            args=(world_size, port, str(model_dir), scratch, seq_len, timeout_s),
            nprocs=world_size,
            join=False,
            start_method="spawn",
        )
        results = [Path(scratch) / f"rank{r}.json" for r in range(world_size)]
        _wait(context, results, timeout_s)
        ranks = [json.loads(path.read_text()) for path in results]
    after = {r["lora_sha256_after"] for r in ranks}
    return {
        "world_size": world_size,
        "backend": "gloo",
        "master": f"127.0.0.1:{port}",
        "seconds": round(time.perf_counter() - started, 2),
        "ranks": ranks,
        "identical_after_step": len(after) == 1,
        "identical_gradients": len({r["grad_sha256"] for r in ranks}) == 1,
        "broadcast_synced": len({r["lora_sha256_wrapped"] for r in ranks}) == 1,
        "changed_by_step": all(r["lora_sha256_wrapped"] != r["lora_sha256_after"] for r in ranks),
        "different_data": len({r["loss"] for r in ranks}) == world_size,
    }


#: Seconds the ranks get to leave after every one has written its result. gloo's teardown
#: (``destroy_process_group`` on the rank that hosts the TCP store) now and then never returns once the
#: other ranks have exited; the result is complete by then, so such a rank is stopped rather than waited
#: for (a CI run hung on it for ten minutes).
TEARDOWN_GRACE_S = 20.0


def _wait(context: Any, results: list[Path], timeout_s: int) -> None:
    """Wait for the spawned ranks: until they all exit, or until every result is written and the grace
    period for teardown is over (the ranks still running are then stopped). A rank that fails raises
    (``ProcessContext.join``); no result within ``timeout_s`` plus a minute stops every rank and raises."""
    deadline = time.monotonic() + timeout_s + 60
    written_at: float | None = None
    while not context.join(timeout=1):
        now = time.monotonic()
        if written_at is None and all(path.exists() for path in results):
            written_at = now
        if written_at is not None and now - written_at > TEARDOWN_GRACE_S:
            _stop(context)
            return
        if now > deadline:
            _stop(context)
            raise TimeoutError(f"the DDP check's ranks wrote no result within {timeout_s + 60} s")


def _stop(context: Any) -> None:
    for process in context.processes:
        if process.is_alive():
            process.kill()
        process.join()


def _worker(
    rank: int, world_size: int, port: int, model_dir: str, scratch: str, seq_len: int, timeout_s: int
):
    offline.activate()  # a spawned process starts from scratch: the guard must be on here too
    if sys.platform.startswith("linux"):
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    import datetime

    import torch
    import torch.distributed as dist
    from peft import LoraConfig, get_peft_model
    from torch.nn.parallel import DistributedDataParallel
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world_size,
        timeout=datetime.timedelta(seconds=timeout_s),
    )
    try:
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        model.config.use_cache = False
        torch.manual_seed(1000 + rank)  # different adapters on each rank: DDP must broadcast rank 0's
        lora = LoraConfig(
            r=8, lora_alpha=16, target_modules="all-linear", lora_dropout=0.0, init_lora_weights=False
        )
        model = get_peft_model(model, lora)
        local = _lora_params(model)
        before_wrap = _digest(local)
        ddp = DistributedDataParallel(model)
        wrapped = _digest(local)

        # The same global batch on every rank (same seed); each rank trains on its own rows.
        generator = torch.Generator().manual_seed(7)
        vocab = model.config.vocab_size
        batch = torch.randint(0, vocab, (2 * world_size, seq_len), generator=generator)
        shard = batch[rank::world_size]
        optimizer = torch.optim.SGD([p for _, p in local], lr=0.1)
        ddp.train()
        out = ddp(input_ids=shard, labels=shard)
        out.loss.backward()
        grads = [(name, p.grad) for name, p in local]
        grad_digest = _digest(grads)
        optimizer.step()
        after = _digest(local)
        result = {
            "rank": rank,
            "loss": float(out.loss.detach()),
            "rows": shard.shape[0],
            "lora_tensors": len(local),
            "lora_sum_before_wrap": before_wrap[0],
            "lora_sha256_before_wrap": before_wrap[1],
            "lora_sum_wrapped": wrapped[0],
            "lora_sha256_wrapped": wrapped[1],
            "grad_sum": grad_digest[0],
            "grad_sha256": grad_digest[1],
            "lora_sum_after": after[0],
            "lora_sha256_after": after[1],
            "offline_guard": offline.status().active,
        }
        # written whole, then renamed: the parent takes a file that exists as complete
        partial = Path(scratch) / f".rank{rank}.json.partial"
        partial.write_text(json.dumps(result))
        partial.replace(Path(scratch) / f"rank{rank}.json")
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _lora_params(model: Any) -> list[tuple[str, Any]]:
    params = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    if not params or not all("lora_" in name for name, _ in params):
        raise RuntimeError("expected only LoRA parameters to be trainable")
    return params


def _digest(tensors: list[tuple[str, Any]]) -> tuple[float, str]:
    """(sum in float64, sha256 of the raw bytes in name order): equal hashes mean bit-identical tensors."""
    import torch

    total = 0.0
    digest = hashlib.sha256()
    for name, tensor in sorted(tensors, key=lambda item: item[0]):
        if tensor is None:
            raise RuntimeError(f"{name} has no gradient")
        data = tensor.detach().to(torch.float32).contiguous()
        total += float(data.double().sum())
        digest.update(name.encode())
        digest.update(data.numpy().tobytes())
    return total, digest.hexdigest()
