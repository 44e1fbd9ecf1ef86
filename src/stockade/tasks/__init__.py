"""Business task presets as data: compliance review, risk reports, customer service.

Each preset is a YAML file in ``presets/`` (schema: :class:`stockade.tasks.presets.TaskPreset`): the
output format and its parser, the system prompt and chat template, recommended training settings, the
metrics, and a synthetic Chinese sample set (``samples/``, written by ``samples/generate.py``).
"""
