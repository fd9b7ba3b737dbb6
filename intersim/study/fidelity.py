"""Reproduce published continuous-power inference latencies from the cost model.

The figures are the Stateful-CNN repository's "Baseline" (no intermittency support, plotted as
"Ideal") rows of ``data/data.csv`` @ 1d4eabc (stable power; see ``../shared/anchors``):
MSP430FR5994 + external SPI FRAM + LEA, and MSP432P401R + external SPI FRAM + CMSIS, Q15 data.

Each network (the ``*-opt.onnx`` graphs the engine ran) is described layer by layer with the
tile sizes of that engine version, and walked through the engine's loop nest:

* Conv: for each input-channel tile, output-channel tile, output column and row tile: DMA the
  input rows from the SPI FRAM, fill the LEA buffer, then per output pixel one LEA matrix
  multiply (1 x K by K x n_filters) and a DMA of the n_filters results back to the SPI FRAM;
  filters are DMA'd from on-chip memory once per (input tile, output tile).
* ConvMerge (after every Conv): chunks of 2 x C_out values: read each input tile's partial
  result, LEA scale, LEA add, write back.
* Relu, MaxPool, GlobalAveragePool: DMA in, CPU loop, DMA out (element by element where the
  engine calls ``get_q15_param``/``put_q15_param``).
* Gemm: per K tile, DMA the input slice; per column tile, DMA each weight row, one LEA matrix
  multiply, DMA the results out; GemmMerge sums the K tiles.

Every job is priced by :func:`intersim.hw.cost.task_costs` on the platform preset (DMA 64 n + 424,
LEA 1.5 n + 616, ...: published micro-benchmarks). One shared constant is calibrated:
``JOB_STATEMENTS``, the C bookkeeping (index arithmetic, argument set-up, loop control) per
issued call -- every DMA transfer, every LEA/CMSIS call, every job -- in units of the
platform's ``loop_cycles``; it was fitted once, on the MSP430 MNIST figure alone (see
:func:`calibrate_job_statements`), and is used unchanged for every other row and platform.

Q15 on an int8 simulator: every int8 value maps to one 16-bit element (``ELEMENT_BYTES`` = 2),
which is exactly the data the published engine moved.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..hw.cost import task_costs
from ..hw.platform import Platform, get_platform

#: Bytes per element: int8 values widened to one Q15 element, as the LEA and the engine use them.
ELEMENT_BYTES = 2
#: Engine constant DEFAULT_TILE_H (output rows per input-tile load), Stateful-CNN cnn_common.h.
TILE_H = 4
#: Shared calibrated constant: bookkeeping per issued call [loop_cycles units]; fitted once on
#: MSP430 / MNIST (calibrate_job_statements() recomputes it; a test checks they agree).
JOB_STATEMENTS = 4.80
#: The one figure JOB_STATEMENTS was fitted on (its match is by construction).
CALIBRATION_FIGURE = ("msp430fr5994-extfram", "mnist")


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

#: Published Baseline ("Ideal") stable-power latencies [s], data/data.csv @ 1d4eabc.
PUBLISHED_S = {
    ("msp430fr5994-extfram", "mnist"): 2.382,
    ("msp430fr5994-extfram", "cifar10"): 7.286,
    ("msp430fr5994-extfram", "kws"): 0.655,
    ("msp432p401r", "mnist"): 4.122,
    ("msp432p401r", "cifar10"): 11.528,
    ("msp432p401r", "kws"): 0.956,
    # The same MSP430 figures priced with the TiNAS 2024 re-profile of the bench (sensitivity).
    ("msp430fr5994-extfram-tinas", "mnist"): 2.382,
    ("msp430fr5994-extfram-tinas", "cifar10"): 7.286,
    ("msp430fr5994-extfram-tinas", "kws"): 0.655,
}

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


def job_table(network) -> pd.DataFrame:
    """The loop nest of ``network`` as distinct job shapes with their counts.

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


def simulate_latency_s(platform: Platform, network, job_statements: float = JOB_STATEMENTS) -> float:
    """Continuous-power latency [s] of one inference of ``network`` on ``platform``."""
    jt = job_table(network)
    kernel = np.where(jt["kernel"].to_numpy() == "vector",
                      "vector" if "vector" in platform.mac_cycles else platform.default_kernel, "cpu")
    loops = jt["loop_iterations"].to_numpy(float) + job_statements * bookkeeping_units(jt)
    _, t, _ = task_costs(
        platform, kernel, jt["macs"].to_numpy(float), 0,
        nvm_read_bytes=jt["nvm_read_bytes"].to_numpy(float),
        nvm_write_bytes=jt["nvm_write_bytes"].to_numpy(float),
        nvm_read_transfers=jt["nvm_read_transfers"].to_numpy(float),
        nvm_write_transfers=jt["nvm_write_transfers"].to_numpy(float),
        weight_read_bytes=jt["weight_read_bytes"].to_numpy(float),
        weight_read_transfers=jt["weight_read_transfers"].to_numpy(float),
        calls=jt["calls"].to_numpy(float), loop_iterations=loops, requant="none")
    return float(np.dot(t, jt["count"].to_numpy(float)))


def calibrate_job_statements(platform_name: str = CALIBRATION_FIGURE[0],
                             model: str = CALIBRATION_FIGURE[1]) -> float:
    """Fit ``JOB_STATEMENTS`` on one published figure (latency is linear in it) [loop units]."""
    p = get_platform(platform_name)
    t0 = simulate_latency_s(p, NETWORKS[model], 0.0)
    t1 = simulate_latency_s(p, NETWORKS[model], 1.0)
    return (PUBLISHED_S[(platform_name, model)] - t0) / (t1 - t0)


def fidelity_table(job_statements: float = JOB_STATEMENTS) -> pd.DataFrame:
    """Simulated vs published continuous-power latency for every figure tried.

    Columns: platform, model, published_s [s], simulated_s [s], error_pct [%], within_20pct,
    calibration (True on the one row ``JOB_STATEMENTS`` was fitted on).
    """
    out = []
    for (pname, model), pub in PUBLISHED_S.items():
        sim = simulate_latency_s(get_platform(pname), NETWORKS[model], job_statements)
        err = 100.0 * (sim - pub) / pub
        out.append((pname, model, pub, sim, err, abs(err) <= 20.0, (pname, model) == CALIBRATION_FIGURE))
    return pd.DataFrame(out, columns=["platform", "model", "published_s", "simulated_s",
                                      "error_pct", "within_20pct", "calibration"])
