"""Load and validate the task presets shipped in ``stockade/tasks/presets/*.yaml``."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from stockade.core.errors import ConfigError
from stockade.core.specs import TrainSpec, load_spec
from stockade.core.suggestions import closest

PRESETS_PACKAGE = "stockade.tasks"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VerdictParser(_Strict):
    """``结论：LABEL`` on its own line; ``依据：R01、R02`` lists the rules; one label of ``labels``."""

    kind: Literal["verdict"]
    verdict_prefix: str
    labels: list[str] = Field(min_length=2)
    rules_prefix: str
    rule_pattern: str


class ReportParser(_Strict):
    """``【SECTION】text`` blocks; the grade is the first grade word of ``grade_section``."""

    kind: Literal["report"]
    sections: list[str] = Field(min_length=1)
    grade_section: str
    grades: list[str] = Field(min_length=2)

    @model_validator(mode="after")
    def _grade_section_is_a_section(self) -> ReportParser:
        if self.grade_section not in self.sections:
            raise ValueError(f"grade_section {self.grade_section!r} is not one of sections")
        return self


class ServiceParser(_Strict):
    """An answer is a tool call (a JSON object with name and arguments), a hand-off (starts with the
    marker) or a plain reply."""

    kind: Literal["service"]
    handoff_marker: str


Parser = Annotated[VerdictParser | ReportParser | ServiceParser, Field(discriminator="kind")]

METRICS_OF_PARSER: dict[str, tuple[str, ...]] = {
    "verdict": ("label_accuracy", "macro_f1", "rule_recall"),
    "report": ("section_completeness", "grade_accuracy"),
    "service": ("tool_call_accuracy", "handoff_precision", "handoff_recall"),
}


class EvalDefaults(_Strict):
    max_new_tokens: int = Field(128, ge=1)


class TaskPreset(_Strict):
    name: str
    title: str
    description: str
    format: Literal["alpaca", "sharegpt"]
    template: str
    system: str
    parser: Parser
    rules: dict[str, str] = Field(default_factory=dict)
    tools: list[dict[str, Any]] = Field(default_factory=list)
    metrics: list[str] = Field(min_length=1)
    train: dict[str, Any]
    eval: EvalDefaults = EvalDefaults()
    sample: str

    @model_validator(mode="after")
    def _consistent(self) -> TaskPreset:
        allowed = METRICS_OF_PARSER[self.parser.kind]
        unknown = [name for name in self.metrics if name not in allowed]
        if unknown:
            raise ValueError(f"metrics {unknown} do not apply to a {self.parser.kind} parser ({allowed})")
        if self.parser.kind == "service" and not self.tools:
            raise ValueError("a service preset needs its tools")
        return self

    @property
    def tools_json(self) -> str | None:
        return json.dumps(self.tools, ensure_ascii=False) if self.tools else None

    @property
    def tool_names(self) -> list[str]:
        return [str(tool.get("name")) for tool in self.tools]

    def sample_records(self) -> list[dict[str, Any]]:
        """The shipped synthetic sample set, in the preset's ``format``."""
        text = resources.files(PRESETS_PACKAGE).joinpath("samples", self.sample).read_text(encoding="utf-8")
        return json.loads(text)


def _preset_files() -> dict[str, Any]:
    folder = resources.files(PRESETS_PACKAGE).joinpath("presets")
    return {
        entry.name.removesuffix(".yaml"): entry for entry in folder.iterdir() if entry.name.endswith(".yaml")
    }


def preset_names() -> list[str]:
    return sorted(_preset_files())


@cache
def load_preset(name: str) -> TaskPreset:
    """The preset ``name``; an unknown name is refused with the known ones."""
    files = _preset_files()
    if name not in files:
        close = closest(name, files)
        hint = f"did you mean {close!r}? " if close else ""
        raise ConfigError(
            f"unknown task {name!r}",
            fix=f"{hint}choose one of: {', '.join(sorted(files))} (stockade task list)",
        )
    where = f"task preset {name} (stockade/tasks/presets/{name}.yaml)"
    try:
        data = yaml.safe_load(files[name].read_text(encoding="utf-8"))
        preset = TaskPreset.model_validate(data)
    except (yaml.YAMLError, ValidationError) as error:
        raise ConfigError(f"invalid task preset: {error}", where=where) from None
    if preset.name != name:
        raise ConfigError(f"the file says name {preset.name!r}", where=where, fix="keep name = file name")
    load_spec(TrainSpec, data={**preset.train, "template": preset.template})  # refuses unknown keys
    return preset
