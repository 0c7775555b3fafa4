"""A server for the web case: ``python -m benchmarks._webserver MODE PORT DIR``."""

from __future__ import annotations

import sys

import uvicorn

from ._common import six_column_interface

if __name__ == "__main__":
    mode, port, directory = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    iface = six_column_interface(directory, mode=mode)  # type: ignore[arg-type]
    uvicorn.run(iface.app(), host="127.0.0.1", port=port, log_level="warning", access_log=False)
