"""Load and save traces: the historical import path of :mod:`intersim.energy.iotools`.

``from intersim.energy.trace_io import load_trace`` keeps working; the loaders live in
``intersim/energy/iotools/`` (one module per source family). See docs/traces.md.
"""
from .iotools import (  # noqa: F401  (re-exported)
    CSV_HEADER, DEFAULT_GAP_FACTOR, FORMATS, GAP_POLICIES, SAVE_FORMATS, guess_format, load_trace,
    load_trace_pieces, save_trace,
)
from .iotools.common import NEGATIVE_IRRADIANCE_CLIP_W_M2, PARQUET_META_KEY  # noqa: F401

__all__ = ["FORMATS", "SAVE_FORMATS", "DEFAULT_GAP_FACTOR", "GAP_POLICIES", "load_trace",
           "load_trace_pieces", "save_trace", "guess_format"]
