"""The Stateful-CNN engine's loop nest (EMCLab-Sinica/Stateful-CNN), priced by the cost model.

The networks it ran (``../shared/anchors/stateful_cnn.md`` §2.3, the ``*-opt.onnx`` graphs) as layer
descriptions with the engine's MSP430 tile sizes, walked through the engine's loops
(``common/conv.cpp``, ``gemm.cpp``, ``pooling.cpp``, ``op_handlers.cpp``): :func:`job_table`
gives each distinct job shape with its count; :func:`job_costs` prices the rows with
:func:`intersim.hw.cost.task_costs`. ``JOB_STATEMENTS`` is the one calibrated constant (C
bookkeeping per issued call, fitted once on the MSP430 MNIST Baseline figure:
``intersim.study.fidelity``, ``docs/fidelity.md``).

HAWAII (``transform.py --hawaii``, batch ``B``): every output value a node writes is a *job*;
``hawaii_preserve_vector`` (``common/op_utils.cpp`` @1d4eabc) writes the outputs in pieces of
``B`` values and after each piece commits the layer's footprint (``write_hawaii_layer_footprint``
-> ``commit_versioned_data``: ``get_newer_copy_id`` reads both copies' one-byte versions from
NVM, then the 4-byte {value, version} record is written to the older copy, ``common/platform.cpp``). :func:`hawaii_rows` adds exactly those writes and calls.
:func:`layer_costs` and :func:`task_prices` spread a layer's cost over the engine tasks of a
lowered zoo network (``mnist_lenet``, ``cifar10_squeezenet``, ``kws_dnn_s``).

Q15 on an int8 simulator: every int8 value maps to one 16-bit element (``ELEMENT_BYTES`` = 2),
which is exactly the data the published engine moved.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .cost import Cost, task_costs
from .platform import Platform

#: Bytes per element: int8 values widened to one Q15 element, as the LEA and the engine use them.
ELEMENT_BYTES = 2
#: Engine constant DEFAULT_TILE_H (output rows per input-tile load), Stateful-CNN cnn_common.h.
TILE_H = 4
#: Shared calibrated constant: bookkeeping per issued call [loop_cycles units]; fitted once on
#: MSP430 / MNIST (calibrate_job_statements() recomputes it; a test checks they agree).
JOB_STATEMENTS = 4.80


@dataclass(frozen=True)
class Conv:
    """Conv layer (NCHW) with the engine's tile sizes. Units: channels, pixels, elements."""

    name: str
    c_in: int
    h: int
    w: int
    c_out: int
    k: int
    stride: int = 1
    valid: bool = False
    tile_in: int = 1
    tile_out: int = 1
    relu: bool = True
    from_input: bool = False   # reads the test sample from on-chip memory, not the SPI FRAM


@dataclass(frozen=True)
class Pool:
    """MaxPool (``kind="max"``) or GlobalAveragePool (``kind="gap"``)."""

    name: str
    c: int
    h: int
    w: int
    k: int = 2
    stride: int = 2
    kind: str = "max"
    to_nchw: bool = False      # the engine's NHWC->NCHW path before a Reshape: element by element


@dataclass(frozen=True)
class Gemm:
    """Fully connected layer K -> N with the engine's (tile_channel, tile_width)."""

    name: str
    k: int
    n: int
    tile_channel: int
    tile_width: int = 4
    relu: bool = True


# ---- the networks of ../shared/anchors/stateful_cnn.md §2.3, tiles of the MSP430 column ------
MNIST = (
    Conv("conv1", 1, 28, 28, 8, 5, tile_in=1, tile_out=8, from_input=True),
    Pool("pool1", 8, 28, 28, 2, 2),
    Conv("conv2", 8, 14, 14, 16, 5, tile_in=2, tile_out=4),
    Pool("pool2", 16, 14, 14, 3, 3, to_nchw=True),
    Gemm("fc", 256, 10, 196, relu=False),        # old Gemm rule @1d4eabc: (196, 4)
)


def _fire(i, c_in, sq, ex, sq_tile, e1_tile, e3_tile):
    return (Conv(f"fire{i}_sq", c_in, 7, 7, sq, 1, tile_in=sq_tile[0], tile_out=sq_tile[1]),
            Conv(f"fire{i}_e1", sq, 7, 7, ex, 1, tile_in=e1_tile[0], tile_out=e1_tile[1]),
            Conv(f"fire{i}_e3", sq, 7, 7, ex, 3, tile_in=e3_tile[0], tile_out=e3_tile[1]))


CIFAR10 = (
    Conv("conv1", 3, 32, 32, 64, 3, stride=2, valid=True, tile_in=3, tile_out=8, from_input=True),
    Pool("pool1", 64, 15, 15, 3, 2),
    *_fire(2, 64, 16, 64, (64, 4), (16, 16), (8, 4)),
    *_fire(3, 128, 16, 64, (64, 4), (16, 16), (8, 4)),
    *_fire(4, 128, 32, 128, (64, 4), (32, 8), (8, 4)),
    Conv("conv10", 256, 7, 7, 10, 1, tile_in=32, tile_out=10),
    Pool("gap", 10, 7, 7, 7, 7, kind="gap"),
)

KWS = (
    Gemm("fc1", 250, 144, 128),                  # old Gemm rule @1d4eabc, B1: (128, 4)
    Gemm("fc2", 144, 144, 144),
    Gemm("fc3", 144, 144, 144),
    Gemm("fc4", 144, 12, 144, relu=False),
)

NETWORKS = {"mnist": MNIST, "cifar10": CIFAR10, "kws": KWS}

# Job-shape key: (kernel, macs, calls, nvm_rd_B, nvm_rd_n, nvm_wr_B, nvm_wr_n, w_rd_B, w_rd_n,
#                 loop_iterations, jobs)  -- "jobs" counts the bookkeeping units of the row.
_E = ELEMENT_BYTES


def _vec(n):
    """One LEA/CMSIS call over n elements (fill, scale, add, interleave, matrix multiply)."""
    return ("vector", float(n), 1.0, 0, 0, 0, 0, 0, 0, 0, 0)


def _spi_rd(n, transfers=1):
    return ("cpu", 0.0, 0.0, n * _E, transfers, 0, 0, 0, 0, 0, 0)


def _spi_wr(n, transfers=1):
    return ("cpu", 0.0, 0.0, 0, 0, n * _E, transfers, 0, 0, 0, 0)


def _onchip_rd(n, transfers=1):
    return ("cpu", 0.0, 0.0, 0, 0, 0, 0, n * _E, transfers, 0, 0)


def _loops(n):
    return ("cpu", 0.0, 0.0, 0, 0, 0, 0, 0, 0, n, 0)


_JOB = ("cpu", 0.0, 0.0, 0, 0, 0, 0, 0, 0, 0, 1)


def _conv_jobs(L: Conv, rows: Counter):
    field = (L.k - 1) // 2
    off = L.k // 2 if L.valid else 0
    n_tiles_c = math.ceil(L.c_in / L.tile_in)
    tile_h = min(L.h, TILE_H * L.stride)
    rd = _onchip_rd if L.from_input else _spi_rd
    oh = (L.h - L.k) // L.stride + 1 if L.valid else math.ceil(L.h / L.stride)
    ow = (L.w - L.k) // L.stride + 1 if L.valid else math.ceil(L.w / L.stride)
    for ic in range(n_tiles_c):
        tc = min(L.tile_in, L.c_in - ic * L.tile_in)
        dest = L.k * tc + 1                      # +1: bias multiplier column
        dest += dest % 2                          # LEA wants even lengths
        fo = L.k * dest                           # filter_offset
        for f0 in range(0, L.c_out, L.tile_out):
            nf = min(L.tile_out, L.c_out - f0)
            # filter tile: two LEA fills, k*k DMAs of tc per filter, bias, interleave
            rows[_vec(fo * nf)] += 1
            rows[_vec(fo)] += 1
            rows[_onchip_rd(tc)] += nf * L.k * L.k
            rows[_onchip_rd(1)] += nf
            rows[_vec(fo)] += nf
            rows[_JOB] += nf
            for iw in range(off, L.w - off, L.stride):
                w_start, w_end = max(-field, -iw), min(field, L.w - 1 - iw)
                ncols = w_end - w_start + 1
                for ih in range(off, L.h - off, tile_h):
                    h_start, h_end = max(-field, -ih), min(tile_h - L.stride + field, L.h - 1 - ih)
                    nrows = h_end - h_start + 1
                    if tc == L.c_in:
                        rows[rd(ncols * tc)] += nrows
                    else:
                        rows[rd(tc)] += nrows * ncols
                    rows[_vec((tile_h + 2 * field) * dest)] += 1      # zero the input buffer
                    rows[_JOB] += 1
                    cur_h = min(L.h - off - ih, tile_h)
                    jobs = math.ceil(cur_h / L.stride)
                    rows[_vec(fo * nf)] += jobs                       # LEA matrix multiply
                    rows[_spi_wr(nf)] += jobs                         # results to the SPI FRAM
                    rows[_JOB] += jobs
    # ConvMerge: chunks of 2 x C_out values over the n_tiles_c partial results
    total = L.c_out * oh * ow
    chunk = 2 * L.c_out
    for c0 in range(0, total, chunk):
        n = min(chunk, total - c0)
        rows[_spi_rd(n)] += n_tiles_c
        rows[_vec(n)] += n_tiles_c + (n_tiles_c - 1)                 # scale each, add
        rows[_spi_wr(n)] += 1
        rows[_JOB] += 1
    if L.relu:                                    # separate Relu node, NHWC: one pixel at a time
        rows[_spi_rd(L.c_out)] += oh * ow
        rows[_loops(2 * L.c_out)] += oh * ow
        rows[_spi_wr(L.c_out)] += oh * ow
        rows[_JOB] += oh * ow


def _pool_jobs(L: Pool, rows: Counter):
    if L.kind == "gap":                          # get_q15_param per element, put per channel
        rows[_spi_rd(1)] += L.c * L.h * L.w
        rows[_loops(1)] += L.c * L.h * L.w
        rows[_spi_wr(1)] += L.c
        rows[_JOB] += L.c
        return
    nh, nw = L.h // L.stride, L.w // L.stride
    if L.to_nchw:                                # one channel at a time
        per = nh * nw * L.c
        rows[_vec(1)] += per                      # fill the output with INT16_MIN
        rows[_spi_rd(1)] += per * L.k * L.k
        rows[_loops(1)] += per * L.k * L.k
        rows[_spi_wr(1)] += per
        rows[_JOB] += per
    else:
        per = nh * nw
        rows[_vec(L.c)] += per
        rows[_spi_rd(L.c)] += per * L.k * L.k
        rows[_loops(L.c)] += per * L.k * L.k
        rows[_spi_wr(L.c)] += per
        rows[_JOB] += per


def _gemm_jobs(L: Gemm, rows: Counter):
    n_k_tiles = math.ceil(L.k / L.tile_channel)
    for i in range(0, L.k, L.tile_channel):
        tch = min(L.tile_channel, L.k - i)
        rows[_spi_rd(tch)] += 1
        for j in range(0, L.n, L.tile_width):
            tw = min(L.tile_width, L.n - j)
            rows[_vec(tch * tw)] += 1             # zero the weight tile
            rows[_onchip_rd(tw)] += tch           # one DMA per weight row
            rows[_vec(tch * tw)] += 1             # LEA matrix multiply
            rows[_spi_wr(tw)] += 1
            rows[_JOB] += 1
    # GemmMerge: sum the K tiles, add the bias, rescale, write
    rows[_spi_rd(L.n)] += n_k_tiles
    rows[_vec(L.n)] += n_k_tiles + 4
    rows[_onchip_rd(L.n)] += 1
    rows[_spi_wr(L.n)] += 1
    rows[_JOB] += 1
    if L.relu:                                    # non-transposed Relu: element by element
        rows[_spi_rd(1)] += L.n
        rows[_loops(2)] += L.n
        rows[_spi_wr(1)] += L.n
        rows[_JOB] += L.n


#: HAWAII's footprint record {value, version} written by ``commit_versioned_data`` [B]
#: (``Node::Footprint``, ``common/platform.cpp`` @1d4eabc: an int16 value and a version, padded).
FOOTPRINT_BYTES = 4
#: Bookkeeping units per committed footprint beyond its NVM transfers [EST]: the call chain
#: ``hawaii_preserve_unit`` -> ``write_hawaii_layer_footprint`` -> ``commit_versioned_data``
#: (with ``get_newer_copy_id``'s version comparison and ``bump_version``), counted as three
#: issued calls (``common/op_utils.cpp``, ``common/platform.cpp`` @1d4eabc).
FOOTPRINT_CALLS = 3


def hawaii_jobs(layer) -> list[tuple[int, int]]:
    """HAWAII jobs of one layer: ``[(jobs, vectors), ...]``, one pair per node that preserves.

    A job is one output value a node writes (``hawaii_preserve_vector`` or ``put_q15_param``
    followed by a footprint); ``vectors`` is how many NVM writes the Baseline engine issues for
    them (one per output vector), so HAWAII's extra data writes are ``batches - vectors``.
    Nodes: Conv (every input-channel tile's partial outputs), ConvMerge and Relu after a Conv;
    MaxPool; Gemm (every K tile) and its element-wise Relu. GlobalAveragePool and GemmMerge write
    without a footprint (``pooling.cpp``, ``gemm.cpp`` @1d4eabc).
    """
    if isinstance(layer, Conv):
        oh = (layer.h - layer.k) // layer.stride + 1 if layer.valid else math.ceil(layer.h / layer.stride)
        ow = (layer.w - layer.k) // layer.stride + 1 if layer.valid else math.ceil(layer.w / layer.stride)
        n_tiles_c = math.ceil(layer.c_in / layer.tile_in)
        pixels, total = oh * ow, layer.c_out * oh * ow
        out = [(n_tiles_c * total, n_tiles_c * math.ceil(layer.c_out / layer.tile_out) * pixels),
               (total, math.ceil(total / (2 * layer.c_out)))]
        if layer.relu:
            out.append((total, pixels))
        return out
    if isinstance(layer, Pool):
        if layer.kind == "gap":
            return []
        nh, nw = layer.h // layer.stride, layer.w // layer.stride
        jobs = layer.c * nh * nw
        return [(jobs, jobs if layer.to_nchw else nh * nw)]
    n_k_tiles = math.ceil(layer.k / layer.tile_channel)
    out = [(n_k_tiles * layer.n, n_k_tiles * math.ceil(layer.n / layer.tile_width))]
    if layer.relu:
        out.append((layer.n, layer.n))
    return out


def _hawaii_rows(layer, batch: int, rows: Counter):
    """HAWAII's preservation at ``batch`` jobs per footprint: per batch the footprint commit (two
    one-byte version reads, the record's write, its calls), and the extra data write per batch beyond the Baseline's one per vector."""
    for jobs, vectors in hawaii_jobs(layer):
        batches = jobs // batch
        rows[("cpu", 0.0, 0.0, 1, 1, 0, 0, 0, 0, 0, 0)] += 2 * batches   # the two version bytes
        rows[_spi_wr(FOOTPRINT_BYTES // _E)] += batches                   # the record
        rows[_JOB] += FOOTPRINT_CALLS * batches
        if batches > vectors:                     # data written in pieces of `batch` values
            rows[("cpu", 0.0, 0.0, 0, 0, 0, 1, 0, 0, 0, 0)] += batches - vectors


def job_table(network, hawaii_batch: int | None = None) -> pd.DataFrame:
    """The loop nest of ``network`` as distinct job shapes with their counts.

    ``hawaii_batch``: None for the Baseline engine; ``B`` adds HAWAII's footprint after every
    ``B`` jobs (:func:`hawaii_jobs`).

    Columns: kernel, macs [MAC], calls, nvm_read_bytes [B], nvm_read_transfers,
    nvm_write_bytes [B], nvm_write_transfers, weight_read_bytes [B], weight_read_transfers,
    loop_iterations, jobs (bookkeeping units), count.
    """
    rows: Counter = Counter()
    for layer in network:
        rows[_JOB] += 1                           # node dispatch
        if isinstance(layer, Conv):
            _conv_jobs(layer, rows)
        elif isinstance(layer, Pool):
            _pool_jobs(layer, rows)
        else:
            _gemm_jobs(layer, rows)
        if hawaii_batch is not None:
            _hawaii_rows(layer, int(hawaii_batch), rows)
    cols = ["kernel", "macs", "calls", "nvm_read_bytes", "nvm_read_transfers", "nvm_write_bytes",
            "nvm_write_transfers", "weight_read_bytes", "weight_read_transfers", "loop_iterations", "jobs"]
    df = pd.DataFrame([list(k) for k in rows], columns=cols)
    df["count"] = list(rows.values())
    return df


def bookkeeping_units(jt: pd.DataFrame) -> np.ndarray:
    """Bookkeeping units per row of :func:`job_table`: every issued call (DMA transfer,
    vector-unit call) and every job / node dispatch carries one unit of C bookkeeping."""
    return (jt["nvm_read_transfers"] + jt["nvm_write_transfers"] + jt["weight_read_transfers"]
            + jt["calls"] + jt["jobs"]).to_numpy(float)




def job_costs(platform: Platform, jt: pd.DataFrame, job_statements: float = JOB_STATEMENTS):
    """Price every row of :func:`job_table` once: ``(cycles [cycles], time_s [s], energy_j [J])``
    arrays per row (multiply by ``jt["count"]`` for the total)."""
    kernel = np.where(jt["kernel"].to_numpy() == "vector",
                      "vector" if "vector" in platform.mac_cycles else platform.default_kernel, "cpu")
    loops = jt["loop_iterations"].to_numpy(float) + job_statements * bookkeeping_units(jt)
    return task_costs(
        platform, kernel, jt["macs"].to_numpy(float), 0,
        nvm_read_bytes=jt["nvm_read_bytes"].to_numpy(float),
        nvm_write_bytes=jt["nvm_write_bytes"].to_numpy(float),
        nvm_read_transfers=jt["nvm_read_transfers"].to_numpy(float),
        nvm_write_transfers=jt["nvm_write_transfers"].to_numpy(float),
        weight_read_bytes=jt["weight_read_bytes"].to_numpy(float),
        weight_read_transfers=jt["weight_read_transfers"].to_numpy(float),
        calls=jt["calls"].to_numpy(float), loop_iterations=loops, requant="none")


def layer_cost(platform: Platform, layer, hawaii_batch: int | None = None,
               job_statements: float = JOB_STATEMENTS) -> Cost:
    """One layer's cost in the engine (its node dispatch, Conv + ConvMerge + Relu, ...)."""
    jt = job_table((layer,), hawaii_batch)
    cyc, t, e = job_costs(platform, jt, job_statements)
    n = jt["count"].to_numpy(float)
    return Cost(int(round(float(cyc @ n))), float(t @ n), float(e @ n))


#: The zoo networks (``intersim.nn.zoo.literature``) whose layers are the engine's networks above:
#: zoo layer name -> layer description. Zoo layers not named (Flatten, Concat) are free in the
#: engine (a Reshape is folded; a Concat is two tensors side by side, docs/fidelity.md).
ZOO_NETWORKS = {
    "mnist_lenet": ("mnist", {L.name: L for L in MNIST}),
    "cifar10_squeezenet": ("cifar10", {
        **{L.name: L for L in CIFAR10 if not L.name.startswith("fire")},
        **{f"fire{i}_{zoo}": L for L in CIFAR10 for i in (2, 3, 4) for zoo, ours in
           (("squeeze", "sq"), ("expand1x1", "e1"), ("expand3x3", "e3")) if L.name == f"fire{i}_{ours}"}}),
    "kws_dnn_s": ("kws", {L.name: L for L in KWS}),
}


def task_prices(tasks, network, platform: Platform, hawaii_batch: int | None = None,
                job_statements: float = JOB_STATEMENTS) -> list[Cost]:
    """Each task's cost as its share of its layer's cost in the engine's loop nest.

    ``network`` is a zoo network of :data:`ZOO_NETWORKS`, lowered into ``tasks`` at any
    granularity; a task's share is its share of the layer's output bytes. A layer the engine
    does not run (Flatten, Concat) costs nothing. Raises ``KeyError`` for another network.
    """
    _, layers = ZOO_NETWORKS[network.name]
    per_layer = {}
    out_bytes = Counter()
    for t in tasks:
        out_bytes[t.layer] += t.out_byte_stop - t.out_byte_start
    prices = []
    for t in tasks:
        name = network.layers[t.layer].name
        if name not in layers:
            prices.append(Cost(0, 0.0, 0.0))
            continue
        if name not in per_layer:
            per_layer[name] = layer_cost(platform, layers[name], hawaii_batch, job_statements)
        c, share = per_layer[name], (t.out_byte_stop - t.out_byte_start) / out_bytes[t.layer]
        prices.append(Cost(int(round(c.cycles * share)), c.time_s * share, c.energy_j * share))
    return prices
