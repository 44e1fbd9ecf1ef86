"""Dataset readers: local JSON/JSONL/CSV/Parquet files in alpaca, sharegpt or OpenAI-messages format,
and LLaMA-Factory ``dataset_info.json`` entries, streamed into `Conversation`s or `RecordProblem`s.

Nothing here downloads: entries that point to a hub, a URL, a script or cloud storage are refused.
"""

from __future__ import annotations

from stockade.data.readers.dataset_info import resolve_dataset_info
from stockade.data.readers.errors import DatasetError, TooManyProblems
from stockade.data.readers.formats import FORMATS, RecordFormat
from stockade.data.readers.sources import DatasetSource, source_for_file
from stockade.data.readers.stream import convert_record, detect_format, read_records

__all__ = [
    "FORMATS",
    "DatasetError",
    "DatasetSource",
    "RecordFormat",
    "TooManyProblems",
    "convert_record",
    "detect_format",
    "read_records",
    "resolve_dataset_info",
    "source_for_file",
]
