"""Lowering a network into an ordered list of atomic tasks, and pricing them.

A task produces a tile of one layer's output (a range of output channels, axis 0 of the
tensor). Running every task in order gives exactly the network's output.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..hw.cost import Cost, task_cost
from ..errors import ScenarioError

#: Granularities understood by :func:`lower`.
GRANULARITY_HELP = ("'layer', 'channel', 'channels:N' (N output channels per task), optionally followed "
                    "by ',ic:K' (conv/dense split over K input channels per task, int32 partial sums "
                    "kept in a buffer between tasks), e.g. 'channels:4,ic:2' or 'layer,ic:8'; or "
                    "'rows:R' (R output rows of one channel per task) or 'element' (one output value "
                    "per task)")

PSUM_DTYPE = "int32"


@dataclass(frozen=True)
class Task:
    """One atomic unit of work on output channels ``[c_start, c_stop)`` of layer ``layer``.

    ``kind`` is "compute" (the tile's whole output), "accumulate" (add the contribution of input
    channels ``[ic_start, ic_stop)`` to int32 partial sums: read ``psum_src`` -- none for the
    first tile, which starts from the bias -- and write ``psum_dst``) or "finalize" (requantise
    the partial sums in ``psum_src`` into the output tile). Partial-sum buffers alternate between
    two names per layer and output tile (``psum:<layer>:<c_start>:0`` / ``...:1``), so an execution
    design may double-buffer them (idempotent re-execution) or alias both to one region.
    """

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
    kind: str = "compute"
    ic_start: int = 0
    ic_stop: int = 0
    psum_src: str | None = None
    psum_dst: str | None = None
    input_bytes: int = 0
    #: spatial output tile ``(r0, r1, w0, w1)`` (rows, columns) of an execution-design tile task
    #: (:mod:`intersim.design.lowering`); None: whole rows. The tile writes the bytes of channels
    #: ``[c_start, c_stop)`` x rows x columns in ascending address order
    region: tuple | None = None
    #: input tile ``(r0, r1, w0, w1)`` a pooling tile sums (its output region is ``(0, 1, 0, 1)``)
    in_region: tuple | None = None
    #: power cycle of the execution design this tile belongs to (consecutive tasks share it);
    #: None: not lowered from a design
    cycle: int | None = None
    #: the task's cost fixed by its lowering (an execution design priced by its price list);
    #: None: priced by :func:`price` from the memory layout
    cost: object = None


def parse_granularity(granularity: str) -> tuple[int, int, int, int]:
    """(output channels, input channels, output rows, output columns) per task; 0 means whole."""
    text = str(granularity).replace(" ", "")
    if text == "element":
        return 1, 0, 1, 1
    if text.startswith("rows:") and text[5:].isdigit() and int(text[5:]) >= 1:
        return 1, 0, int(text[5:]), 0
    parts = text.split(",")
    per_out, per_in = None, 0
    try:
        for part in parts:
            if part == "layer" and per_out is None:
                per_out = 0
            elif part == "channel" and per_out is None:
                per_out = 1
            elif part.startswith("channels:") and per_out is None and int(part[9:]) >= 1:
                per_out = int(part[9:])
            elif part.startswith("ic:") and per_in == 0 and int(part[3:]) >= 1:
                per_in = int(part[3:])
            else:
                raise ValueError(part)
    except ValueError:
        per_out = None
    if per_out is None:
        raise ScenarioError(f"model.granularity = {granularity!r} is invalid; allowed: {GRANULARITY_HELP}")
    return per_out, per_in, 0, 0


def _tensor_bytes(shape) -> int:
    return int(np.prod(shape, dtype=np.int64))


def psum_name(layer_name: str, c_start: int, parity: int) -> str:
    """Name of a partial-sum buffer (see :class:`Task`)."""
    return f"psum:{layer_name}:{c_start}:{parity}"


def lower(network, granularity: str = "layer") -> list[Task]:
    """Split ``network`` into tasks of the given granularity (see :data:`GRANULARITY_HELP`)."""
    per_out, per_in, per_rows, per_cols = parse_granularity(granularity)
    tasks: list[Task] = []
    for li, layer in enumerate(network.layers):
        shape = network.tensors[layer.output]
        inner = _tensor_bytes(shape[1:]) if len(shape) > 1 else 1
        n_out = layer.out_channels
        if per_rows and len(shape) == 3:
            _lower_spatial(tasks, network, li, layer, shape, per_rows, per_cols)
            continue
        step = n_out if per_out == 0 else per_out
        split_in = per_in > 0 and getattr(layer, "reduces", False) and layer.in_channels > per_in
        in_bytes = _tensor_bytes(network.tensors[layer.inputs[0]]) if layer.inputs else 0
        for c0 in range(0, n_out, step):
            c1 = min(n_out, c0 + step)
            name = f"{layer.name}[{c0}:{c1}]" if (c0, c1) != (0, n_out) else layer.name
            common = dict(layer=li, op=layer.op, inputs=tuple(layer.inputs), output=layer.output,
                          c_start=c0, c_stop=c1, out_byte_start=c0 * inner, out_byte_stop=c1 * inner,
                          kernel=getattr(layer, "kernel", "cpu"))
            wbytes = int(layer.weight_bytes(c0, c1))
            if not split_in:
                ib = int(layer.input_bytes(c0, c1)) if hasattr(layer, "input_bytes") else sum(
                    _tensor_bytes(network.tensors[n]) for n in layer.inputs)
                tasks.append(Task(index=len(tasks), name=name, macs=int(layer.macs(c0, c1)),
                                  n_outputs=(c1 - c0) * inner, weight_bytes=wbytes, input_bytes=ib, **common))
                continue
            n_in = layer.in_channels
            for j, ic0 in enumerate(range(0, n_in, per_in)):
                ic1 = min(n_in, ic0 + per_in)
                tasks.append(Task(
                    index=len(tasks), name=f"{name}<ic {ic0}:{ic1}>", kind="accumulate",
                    ic_start=ic0, ic_stop=ic1, macs=int(layer.macs_partial(ic0, ic1, c0, c1)),
                    n_outputs=0, weight_bytes=int(round(wbytes * (ic1 - ic0) / n_in)),
                    input_bytes=int(round(in_bytes * (ic1 - ic0) / n_in)),
                    psum_src=psum_name(layer.name, c0, (j - 1) % 2) if j > 0 else None,
                    psum_dst=psum_name(layer.name, c0, j % 2), **common))
            tasks.append(Task(index=len(tasks), name=f"{name}<finalize>", kind="finalize", macs=0,
                              n_outputs=(c1 - c0) * inner, weight_bytes=0, input_bytes=0,
                              psum_src=tasks[-1].psum_dst, **common))
    return tasks


def _lower_spatial(tasks, network, li, layer, shape, per_rows, per_cols):
    """Tasks of ``per_rows`` output rows (and ``per_cols`` columns; 0: whole rows) of one channel.

    Each tile is a contiguous byte range of the (C, H, W) output. Its MACs are the channel's
    MACs pro rata; it reads the channel's weights and the input the channel depends on (not
    just its receptive field: a conservative cost). The simulator evaluates the channel's kernel
    and keeps the tile's values, so the bytes written are exactly the tile's.
    """
    _, h, w = shape
    step_w = w if per_cols == 0 else per_cols
    for c in range(layer.out_channels):
        macs_c = int(layer.macs(c, c + 1))
        wbytes = int(layer.weight_bytes(c, c + 1))
        ib = int(layer.input_bytes(c, c + 1)) if hasattr(layer, "input_bytes") else sum(
            _tensor_bytes(network.tensors[n]) for n in layer.inputs)
        for r0 in range(0, h, per_rows):
            r1 = min(h, r0 + per_rows)
            for w0 in range(0, w, step_w):
                w1 = min(w, w0 + step_w)
                n = (r1 - r0) * (w1 - w0)
                start = c * h * w + r0 * w + w0
                stop = start + n if step_w < w else c * h * w + r1 * w
                where = f"{r0}:{r1}" if step_w == w else f"{r0},{w0}"
                tasks.append(Task(index=len(tasks), layer=li, name=f"{layer.name}[{c}][{where}]", op=layer.op,
                                  inputs=tuple(layer.inputs), output=layer.output, c_start=c, c_stop=c + 1,
                                  macs=macs_c * n // (h * w), n_outputs=n, out_byte_start=start,
                                  out_byte_stop=stop, weight_bytes=wbytes, kernel=getattr(layer, "kernel", "cpu"),
                                  input_bytes=ib))


def psum_buffers(tasks, network) -> dict:
    """Shape of every partial-sum buffer the tasks use: ``{name: shape}`` (dtype int32)."""
    out = {}
    for t in tasks:
        for name in (t.psum_src, t.psum_dst):
            if name is not None:
                out[name] = network.tensors[t.output]
    return out


def price(tasks, network, platform, tensor_memory: dict, buffer_memory=None) -> list[Cost]:
    """Cost of each task given where each tensor lives (``tensor_memory[name]`` = "sram"/"nvm")
    and where each partial-sum buffer lives (``buffer_memory[name]``).

    Weights are firmware constants in ``platform.weight_memory``; a task reads the input bytes its
    output tile depends on, reads/writes its partial-sum tile (int32), writes its output tile.
    """
    costs = []
    for t in tasks:
        if t.cost is not None:  # an execution design's tile, priced by its lowering
            costs.append(t.cost)
            continue
        reads = {"sram": 0, "nvm": 0}
        writes = {"sram": 0, "nvm": 0}
        if t.kind != "finalize":
            reads[tensor_memory[t.inputs[0]]] += t.input_bytes
            for name in t.inputs[1:]:
                reads[tensor_memory[name]] += _tensor_bytes(network.tensors[name])
        psum_tile = (t.out_byte_stop - t.out_byte_start) * 4
        if t.psum_src is not None:
            reads[buffer_memory[t.psum_src]] += psum_tile
        if t.psum_dst is not None:
            writes[buffer_memory[t.psum_dst]] += psum_tile
        if t.kind != "accumulate":
            writes[tensor_memory[t.output]] += t.out_byte_stop - t.out_byte_start
        kernel = t.kernel if t.kernel in platform.mac_cycles else platform.default_kernel
        # weights are firmware constants read from the platform's weight memory (FRAM, flash or
        # an accelerator's weight SRAM), priced by the cost model per platform
        costs.append(task_cost(platform, kernel, t.macs, t.n_outputs,
                               sram_read_bytes=reads["sram"], sram_write_bytes=writes["sram"],
                               nvm_read_bytes=reads["nvm"], nvm_write_bytes=writes["nvm"],
                               weight_read_bytes=t.weight_bytes))
    return costs
