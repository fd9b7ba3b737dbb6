"""The one place :mod:`intersim.train` imports the int8 network representation from
(:mod:`intersim.nn.network`, :mod:`intersim.nn.quant`): training sees the engine through this list."""
from __future__ import annotations

from ..errors import ModelError
from ..nn.network import Conv2D, Dense, Network, NetworkBuilder
from ..nn.network_io import load_network, load_samples, save_network
from ..nn.quant import quantize_weights_per_channel

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
