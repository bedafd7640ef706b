"""``hub import``: contacts and events from CSV or Parquet files (see ``run.py``)."""

from hub.importing.mapping import ImportOptions, MappingError, load_mapping_file, parse_map
from hub.importing.reading import chunks, header
from hub.importing.report import ImportSummary, RowProblem
from hub.importing.run import import_contacts, import_events

__all__ = [
    "ImportOptions",
    "ImportSummary",
    "MappingError",
    "RowProblem",
    "chunks",
    "header",
    "import_contacts",
    "import_events",
    "load_mapping_file",
    "parse_map",
]
