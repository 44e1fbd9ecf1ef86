"""`stockade chat MODEL`: try a model in the terminal (streaming, multi-turn), or one-shot with --prompt."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from stockade.cli.output import console, escape, print_json
from stockade.cli.specs import Verify, VerifyMode
from stockade.cli.state import state


def register(app: typer.Typer) -> None:
    @app.command()
    def chat(
        model: Annotated[str, typer.Argument(help="A model version NAME@vN (or a folder, with --dev).")],
        adapter: Annotated[str | None, typer.Option(help="A run id or adapter folder to apply.")] = None,
        prompt: Annotated[
            str | None,
            typer.Option(
                help="One message: print the reply and exit. `-` reads it from stdin. Text given here shows "
                "in the process list (ps) while the command runs: prefer --prompt-file or stdin."
            ),
        ] = None,
        prompt_file: Annotated[
            Path | None,
            typer.Option(help="Read the one message from this file (UTF-8); `-`: from stdin."),
        ] = None,
        json_output: Annotated[
            bool, typer.Option("--json", help="With --prompt / --prompt-file: one JSON object.")
        ] = False,
        template: Annotated[str | None, typer.Option(help="Chat template; default: the version's.")] = None,
        system: Annotated[str | None, typer.Option(help="System prompt.")] = None,
        max_new_tokens: Annotated[int, typer.Option(min=1, help="Most tokens per reply.")] = 256,
        temperature: Annotated[float, typer.Option(min=0, help="0: greedy (default).")] = 0.0,
        seed: Annotated[int | None, typer.Option(help="Sampling seed.")] = None,
        dev: Annotated[bool, typer.Option("--dev", help="Allow an unapproved version or a folder.")] = False,
        verify: Verify = VerifyMode.fast,
    ) -> None:
        """Chat with a model: /reset clears the history, /exit (or Ctrl-D) quits."""
        from stockade.core.specs import ServeSpec
        from stockade.governance.roles import require
        from stockade.serving.chat_session import ChatSession
        from stockade.serving.params import GenerationParams
        from stockade.serving.service import build_engine, chat_template
        from stockade.serving.target import resolve_target
        from stockade.workspace.service import open_workspace

        prompt = _one_message(prompt, prompt_file)
        spec = ServeSpec(
            model=model, adapter=adapter, template=template, dev=dev, max_batch_size=1, verify=verify.value
        )
        with open_workspace(state.workspace) as context:
            require(context, "model.call")
            target = resolve_target(context, spec)
            engine = build_engine(target, spec)
            context.record(
                "chat.start",
                target.label,
                dev_mode=target.dev,
                one_shot=prompt is not None,
                verified=target.verified,
            )
        params = GenerationParams(
            max_new_tokens=max_new_tokens,
            temperature=temperature or None,
            do_sample=temperature > 0,
            seed=seed,
        )
        session = ChatSession(engine, chat_template(target, engine.tokenizer), params, system=system)
        loop = asyncio.new_event_loop()
        engine.start()
        try:
            if prompt is not None:
                _one_shot(session, loop, prompt, target.label, json_output)
            else:
                _interactive(session, loop, target.label)
        finally:
            engine.stop()
            loop.close()


def _one_message(prompt: str | None, prompt_file: Path | None) -> str | None:
    """The one-shot message from --prompt, --prompt-file or stdin (``-``); None: interactive."""
    if prompt is not None and prompt_file is not None:
        raise typer.BadParameter("give --prompt or --prompt-file, not both")
    if prompt == "-" or (prompt_file is not None and str(prompt_file) == "-"):
        return sys.stdin.read()
    if prompt_file is not None:
        try:
            return prompt_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise typer.BadParameter(f"cannot read {prompt_file}: {error}") from None
    return prompt


def _one_shot(session, loop, prompt: str, label: str, json_output: bool) -> None:
    if json_output:
        reply = session.ask(loop, prompt)
        print_json(
            {
                "model": label,
                "text": reply.text,
                "prompt_tokens": reply.prompt_tokens,
                "generated_tokens": reply.generated_tokens,
                "finish_reason": reply.finish,
                "seconds": round(reply.seconds, 3),
            }
        )
        return
    session.ask(loop, prompt, on_text=_write)
    sys.stdout.write("\n")


def _interactive(session, loop, label: str) -> None:
    console.print(f"chatting with {escape(label)}: /reset clears the history, /exit quits")
    while True:
        try:
            text = input("you> ")
        except EOFError:
            break
        if text.strip() in ("/exit", "/quit"):
            break
        if text.strip() == "/reset":
            session.reset()
            console.print("(history cleared)")
            continue
        if not text.strip():
            continue
        sys.stdout.write("model> ")
        session.ask(loop, text, on_text=_write)
        sys.stdout.write("\n")


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
