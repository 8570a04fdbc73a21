"""Import and export of customer data (CSV and JSON Lines).

``import_file`` / ``import_rows`` validate everything first and upsert on the
user's ids; ``export_table`` writes exactly the import columns back out. The
row models in :mod:`kizuna.dataio.schemas` (``ROW_MODELS[table]``) define what a
valid row is for every interface.
"""

from kizuna.dataio.exporter import export_table
from kizuna.dataio.importer import ImportReport, ProgressCallback, import_file, import_rows
from kizuna.dataio.readers import FORMATS
from kizuna.dataio.schemas import ROW_MODELS, TABLES

__all__ = [
    "FORMATS",
    "ROW_MODELS",
    "TABLES",
    "ImportReport",
    "ProgressCallback",
    "export_table",
    "import_file",
    "import_rows",
]
