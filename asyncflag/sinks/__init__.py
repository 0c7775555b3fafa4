"""Sinks: where flagged rows go.

- :mod:`.base`: the flagging callback interface (Gradio's, plus ``flag_batch``);
- :mod:`.csvfile`: the CSV loggers and the formatting of their rows;
- :mod:`.datasets`: dataset file naming, schema records, rotation and the lock order;
- :mod:`.appendfile`: the append-only file (flock, catch-up, torn-tail repair);
- :mod:`.records`: where CSV records end, by a byte scan;
- :mod:`.storage`: content-addressed file saves; :mod:`.disk`: the I/O seam under all;
- :mod:`.sql`: what the SQL sinks share (tables, versions, event ids, retries);
  :mod:`.sqlread`: reading their tables back;
  :mod:`.sqlite`: :class:`SQLiteLogger`; :mod:`.postgres`: :class:`PostgresLogger`;
  :mod:`.targets`: the databases named by ``postgresql://`` and ``sqlite:///`` URLs.
"""

from __future__ import annotations

from .base import FlaggingCallback, RowResult, flag_rows
from .csvfile import CSVLogger, Durability, SimpleCSVLogger
from .disk import Disk
from .postgres import PostgresLogger
from .sql import SQLLogger
from .sqlite import SQLiteLogger

__all__ = [
    "CSVLogger",
    "Disk",
    "Durability",
    "FlaggingCallback",
    "PostgresLogger",
    "RowResult",
    "SQLLogger",
    "SQLiteLogger",
    "SimpleCSVLogger",
    "flag_rows",
]
