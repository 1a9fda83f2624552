"""Datasheets of dataset versions: what a version contains, where it came from, where it is
skewed; computed from the stored columns and the lineage, kept next to the version.

``build_datasheet(store, dataset, version)`` gives the datasheet as JSON data;
``pipelines.datasheet.card`` renders it as a Hugging Face dataset card (README.md) and an HTML
page and stores the three under ``storage.layout.datasheet_prefix``. Sections come from a
registry (``register_section(modality, fn)``), so each modality adds its own. No Beam here.
"""

from pipelines.datasheet.bounds import DatasheetBounds
from pipelines.datasheet.build import DATASHEET_FORMAT, build_datasheet
from pipelines.datasheet.registry import ALL, SheetContext, register_section

__all__ = ["ALL", "DATASHEET_FORMAT", "DatasheetBounds", "SheetContext", "build_datasheet", "register_section"]
