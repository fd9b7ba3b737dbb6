"""The one place :mod:`intersim.train` imports the int8 engine from.

intersim is being reorganised (``intersim.network`` -> ``intersim.nn.network`` and so on); when
that lands, only the import lines below change.
"""
from __future__ import annotations

from ..errors import ModelError
from ..network import (
           Conv2D,
           Dense,
           Network,
           NetworkBuilder,
           load_network,
           load_samples,
           save_network,
)
from ..quant import quantize_weights_per_channel

__all__ = [
           "Conv2D",
           "Dense",
           "ModelError",
           "Network",
           "NetworkBuilder",
           "load_network",
           "load_samples",
           "quantize_weights_per_channel",
           "save_network",
]
