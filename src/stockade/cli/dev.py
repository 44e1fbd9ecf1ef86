"""`stockade dev`: tools for tests, the demo and smoke checks (tiny local models)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stockade.cli.output import console, escape
from stockade.cli.state import state
from stockade.governance.roles import require

app = typer.Typer(
    help="Developer tools: tiny local models, generation smoke test, config reference.", no_args_is_help=True
)


@app.command("tiny-model")
def tiny_model(
    arch: Annotated[str, typer.Option(help="Architecture: qwen2, qwen3, llama, glm4, mistral.")],
    out: Annotated[Path, typer.Option(help="New or empty folder for the model.")],
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives identical weights.")] = 0,
) -> None:
    """Build a tiny random-weight model of a real architecture, with a locally trained tokenizer."""
    from stockade.models.tiny_service import build_tiny_model_recorded
    from stockade.workspace.service import open_workspace_if_present

    context = open_workspace_if_present(state.workspace)
    try:
        if context is not None:
            require(context, "dev.tools")
        info = build_tiny_model_recorded(context, arch, out, seed=seed)
    finally:
        if context is not None:
            context.close()
    console.print(
        f"Built tiny {info.arch} model ({info.num_parameters:,} parameters, vocabulary "
        f"{info.vocab_size}, template {info.template}) in {escape(str(info.path))}"
    )
    if context is None:
        console.print("[yellow]note:[/] no workspace found, so no audit record was written")


@app.command()
def generate(
    model: Annotated[Path, typer.Option(help="A local model folder (e.g. from `dev tiny-model`).")],
    prompt: Annotated[str, typer.Option(help="The user message.")] = "解释债券违约风险",
    max_new_tokens: Annotated[int, typer.Option(min=1, max=512, help="Tokens to generate.")] = 8,
    adapter: Annotated[
        Path | None, typer.Option(help="A LoRA adapter folder, e.g. runs/RUN/adapter.")
    ] = None,
    template: Annotated[
        str | None, typer.Option(help="Built-in chat template; default: the model's.")
    ] = None,
) -> None:
    """Load a local model offline and generate (greedy) with its chat template, optionally an adapter."""
    from stockade.models.generation import generate_once

    result = generate_once(model, prompt, max_new_tokens=max_new_tokens, adapter=adapter, template=template)
    console.print(
        f"prompt tokens: {result.prompt_tokens}, new tokens: {result.new_tokens}, {result.seconds:.2f} s"
    )
    console.print(f"output: {escape(result.text)!r}")


@app.command("config-reference")
def config_reference() -> None:
    """Print docs/configuration.md (generated from the specs, so the docs match the code)."""
    from stockade.core.specs.reference import configuration_reference

    print(configuration_reference(), end="")


@app.command("sample-dataset")
def sample_dataset(
    out: Annotated[Path, typer.Option(help="Where to write the JSON file (alpaca records).")],
) -> None:
    """Write the shipped 40-record Chinese finance Q&A dataset (for the demo and the CPU proof)."""
    from importlib import resources

    if out.exists():
        raise typer.BadParameter(f"{out} exists; choose a new path", param_hint="--out")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(resources.files("stockade.data.samples").joinpath("finance_qa_zh.json").read_bytes())
    console.print(f"wrote 40 records to {escape(str(out))}")
