"""The console's forms read as the CLI reads its arguments: known fields only (an unknown one is refused by
name), upload names that are never paths, the Train form as a TrainSpec (the CLI's errors and
did-you-mean), and the export and evaluation forms as `stockade export` / `stockade eval` arguments."""

from __future__ import annotations

import re
from typing import Any

import yaml
from starlette.datastructures import FormData

from stockade.core.errors import ConfigError

UPLOAD_SUFFIXES = (".json", ".jsonl", ".csv", ".parquet")
_UNSAFE = re.compile(r"[^\w.\-]+")
PRIVACY_MODES = ("", "desensitize", "block")
# the deployment guide's fields first (model and data path, epochs, batch size, learning rate, LoRA, 4-bit)
GUIDE_FIELDS = (
    "model_name_or_path",
    "dataset",
    "template",
    "finetuning_type",
    "num_train_epochs",
    "per_device_train_batch_size",
    "learning_rate",
    "lora_rank",
    "quantization_bit",
)
TRAIN_FORM = set(GUIDE_FIELDS) | {"extra"}
SAVE_FIELDS = {"config_name", "overwrite"}  # the Train form's "save as configs/NAME" (start or save)
_REFERENCE = re.compile(r"[A-Za-z0-9][\w.\-]{0,199}(@v[0-9]+)?")
EXPORT_MODES = ("merge", "adapter-only")


class UploadTooLarge(ConfigError):
    exit_code = 2


def safe_upload_name(raw: str) -> str:
    """The last path part of a browser-given file name, with anything but letters, digits, '.', '_'
    and '-' replaced; no leading dot. Never a path: '../../etc/passwd' becomes 'passwd' (and is refused
    for its suffix)."""
    base = raw.replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).lstrip(".")
    if not base or not base.lower().endswith(UPLOAD_SUFFIXES):
        raise ConfigError(
            f"cannot import an upload named {raw!r}",
            where="file",
            fix=f"upload a {', '.join(UPLOAD_SUFFIXES)} file",
        )
    return base


def _reference(form: FormData, field: str, *, required: bool = True) -> str:
    """A run id or NAME[@vN] typed in a form: never empty when required, never an option ('-...')."""
    value = str(form.get(field, "") or "").strip()
    if not value and not required:
        return ""
    if not _REFERENCE.fullmatch(value):
        raise ConfigError(
            f"{value!r} is not a {field.replace('_', ' ')}" if value else f"no {field.replace('_', ' ')}",
            where=field,
            fix="choose one listed (a run id, or NAME@vN)",
        )
    return value


def _whole(form: FormData, field: str) -> list[str]:
    """``--field=N`` for a positive whole number, nothing when empty."""
    value = str(form.get(field, "") or "").strip()
    if not value:
        return []
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{field} must be a whole number from 1", where=field, fix="e.g. 100")
    return [f"--{field.replace('_', '-')}={int(value)}"]


def export_args(form: FormData) -> list[str]:
    """`stockade export RUN --merge|--adapter-only [--name N]` from the export form."""
    mode = str(form.get("mode", "") or "")
    if mode not in EXPORT_MODES:
        raise ConfigError(f"unknown export mode {mode!r}", where="mode", fix=" or ".join(EXPORT_MODES))
    name = _reference(form, "name", required=False)
    if "@" in name:
        raise ConfigError("a new version's name has no @vN", where="name", fix="e.g. fin-merged")
    return [_reference(form, "run"), f"--{mode}"] + ([f"--name={name}"] if name else [])


def eval_args(form: FormData) -> list[str]:
    """`stockade eval MODEL@V --dataset NAME@V [--baseline MODEL@V] [--task T] [--limit N]
    [--max-new-tokens N]` from the evaluation form."""
    args = [_reference(form, "model"), f"--dataset={_reference(form, 'dataset')}"]
    for option in ("baseline", "task"):
        value = _reference(form, option, required=False)
        args += [f"--{option}={value}"] if value else []
    return args + _whole(form, "limit") + _whole(form, "max_new_tokens")


def check_fields(form: FormData, allowed: set[str]) -> None:
    """Refuse a form field the page does not know, by name (nothing is silently ignored)."""
    unknown = sorted(set(form.keys()) - allowed - {"csrf"})
    if unknown:
        raise ConfigError(
            f"unknown form field(s): {', '.join(unknown)}",
            where="form",
            fix=f"send only {', '.join(sorted(allowed))}",
        )


def train_field_rows(values: dict[str, Any]) -> list[dict[str, Any]]:
    """The Train form's inputs, from TrainSpec's fields (type, default, description)."""
    from stockade.core.specs import TrainSpec

    keys = TrainSpec.accepted_keys()
    rows = []
    for key in GUIDE_FIELDS:
        field_name = keys.get(key, key)
        info = TrainSpec.model_fields[field_name]
        default = info.get_default(call_default_factory=True)
        shown = values.get(key, default)
        if isinstance(shown, list):
            shown = ",".join(str(item) for item in shown)
        rows.append(
            {
                "key": key,
                "value": "" if shown is None else shown,
                "help": info.description or "",
                "default": default,
            }
        )
    return rows


def form_values(spec_keys: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A saved spec (TrainSpec field names, as ``jobs.configs.load_config`` returns it) as the Train
    form's values: the guide's fields, and every other key as the "other keys" YAML."""
    from stockade.core.specs import TrainSpec

    keys, rest = TrainSpec.accepted_keys(), dict(spec_keys)
    values = {key: rest.pop(keys.get(key, key)) for key in GUIDE_FIELDS if keys.get(key, key) in rest}
    extra = yaml.safe_dump(rest, allow_unicode=True, sort_keys=False) if rest else ""
    return values, extra


def spec_from_form(form: FormData) -> tuple[Any, str]:
    """A TrainSpec from the form (empty fields keep their default) plus the extra-keys YAML; the
    errors are the CLI's (all problems at once, with did-you-mean)."""
    from stockade.core.specs import TrainSpec, load_spec

    check_fields(form, TRAIN_FORM)
    data: dict[str, Any] = {}
    extra_text = str(form.get("extra", "") or "")
    if extra_text.strip():
        try:
            extra = yaml.safe_load(extra_text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"the other keys are not valid YAML: {exc}", where="other keys") from None
        if not isinstance(extra, dict):
            raise ConfigError("the other keys must be a YAML mapping (key: value)", where="other keys")
        data.update(extra)
    for key in GUIDE_FIELDS:
        value = str(form.get(key, "") or "").strip()
        if value:
            data[key] = (
                [part.strip() for part in value.split(",") if part.strip()] if key == "dataset" else value
            )
    spec = load_spec(TrainSpec, data=data)
    return spec, yaml.safe_dump(
        spec.model_dump(mode="json", exclude_unset=True), allow_unicode=True, sort_keys=False
    )


def without(form: FormData, names: set[str]) -> FormData:
    return FormData([(key, value) for key, value in form.multi_items() if key not in names])
