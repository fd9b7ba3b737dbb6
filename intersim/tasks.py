"""Lowering a network into an ordered list of atomic tasks, and pricing them.

A task produces a tile of one layer's output (a range of output channels, axis 0 of the
tensor). Running every task in order gives exactly the network's output.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .cost import Cost, task_cost
from .errors import ScenarioError

#: Granularities understood by :func:`lower`.
GRANULARITY_HELP = "'layer', 'channel' or 'channels:N' (N >= 1 output channels per task)"


@dataclass(frozen=True)
class Task:
    """One atomic unit of work: output channels ``[c_start, c_stop)`` of layer ``layer``."""

    index: int
    layer: int
    name: str
    op: str
    inputs: tuple
    output: str
    c_start: int
    c_stop: int
    macs: int
    n_outputs: int
    out_byte_start: int
    out_byte_stop: int
    weight_bytes: int
    kernel: str


def parse_granularity(granularity: str) -> int:
    """Output channels per task; 0 means a whole layer."""
    g = str(granularity).strip()
    if g == "layer":
        return 0
    if g == "channel":
        return 1
    m = re.fullmatch(r"channels:(\d+)", g)
    if m and int(m.group(1)) >= 1:
        return int(m.group(1))
    raise ScenarioError(f"model.granularity = {granularity!r} is invalid; allowed: {GRANULARITY_HELP}")


def _tensor_bytes(shape) -> int:
    return int(np.prod(shape, dtype=np.int64))


def lower(network, granularity: str = "layer") -> list[Task]:
    """Split ``network`` into tasks of the given granularity (see :data:`GRANULARITY_HELP`)."""
    per = parse_granularity(granularity)
    tasks: list[Task] = []
    for li, layer in enumerate(network.layers):
        shape = network.tensors[layer.output]
        inner = _tensor_bytes(shape[1:]) if len(shape) > 1 else 1
        n_out = layer.out_channels
        step = n_out if per == 0 else per
        for c0 in range(0, n_out, step):
            c1 = min(n_out, c0 + step)
            tasks.append(Task(
                index=len(tasks), layer=li,
                name=f"{layer.name}[{c0}:{c1}]" if (c0, c1) != (0, n_out) else layer.name,
                op=layer.op, inputs=tuple(layer.inputs), output=layer.output,
                c_start=c0, c_stop=c1, macs=int(layer.macs(c0, c1)),
                n_outputs=(c1 - c0) * inner,
                out_byte_start=c0 * inner, out_byte_stop=c1 * inner,
                weight_bytes=int(layer.weight_bytes(c0, c1)),
                kernel=getattr(layer, "kernel", "cpu"),
            ))
    return tasks


def price(tasks, network, platform, tensor_memory: dict) -> list[Cost]:
    """Cost of each task given where each tensor lives (``tensor_memory[name]`` = "sram"/"nvm").

    Weights are firmware constants in the non-volatile memory; inputs are read whole (a tile of
    output channels needs every input channel), outputs are written for the tile only.
    """
    costs = []
    for t in tasks:
        reads = {"sram": 0, "nvm": t.weight_bytes}
        for name in t.inputs:
            reads[tensor_memory[name]] += _tensor_bytes(network.tensors[name])
        writes = {"sram": 0, "nvm": 0}
        writes[tensor_memory[t.output]] += t.out_byte_stop - t.out_byte_start
        kernel = t.kernel if t.kernel in platform.mac_cycles else platform.default_kernel
        costs.append(task_cost(platform, kernel, t.macs, t.n_outputs,
                               sram_read_bytes=reads["sram"], sram_write_bytes=writes["sram"],
                               nvm_read_bytes=reads["nvm"], nvm_write_bytes=writes["nvm"]))
    return costs
