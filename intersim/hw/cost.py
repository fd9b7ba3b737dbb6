"""Cycle-level cost of tasks and transfers on a :class:`~intersim.hw.platform.Platform`.

A task's cost is the sum of

* compute: ``macs x mac_cycles[kernel] + calls x mac_call_cycles[kernel]``; a vector-unit call
  takes at most ``platform.vector_max_len`` elements, so long vectors are split into more calls;
  the accelerator also draws ``accelerator_power_w`` while it runs;
* requantisation of each output: float32 (ONNX ``QLinear*``, soft-float without an FPU) or
  fixed-point multiplier + shift (TFLite Micro);
* loop overhead: ``loop_iterations x loop_cycles``;
* memory traffic per memory and direction, each transfer paying a fixed set-up (DMA
  programming, SPI command and address) plus a per-byte rate, and energy beyond active power;
  weights are read from ``platform.weight_memory``; flash page erases where asked.

Energy = cycles x active energy per cycle + the per-byte / per-transfer extras, at the MCU pin.
The arithmetic lives in numba-compiled private kernels (``cache=True``); the public functions
validate their arguments and raise :class:`~intersim.errors.PlatformError` naming the bad value.
"""
from __future__ import annotations

from typing import NamedTuple

from dataclasses import dataclass

import numpy as np
from numba import njit

from ..errors import PlatformError
from .platform import KERNEL_KINDS, Platform

#: Requantisation modes: ONNX float32 scale, TFLM fixed-point multiplier + shift, none.
REQUANT_MODES = ("onnx", "tflm", "none")
#: Transfer directions understood by :func:`transfer_cost`.
DIRECTIONS = ("sram_to_nvm", "nvm_to_sram", "sram_to_sram")

_KERNEL_CODE = {k: i for i, k in enumerate(KERNEL_KINDS)}
_REQUANT_CODE = {k: i for i, k in enumerate(REQUANT_MODES)}
_DIR_CODE = {k: i for i, k in enumerate(DIRECTIONS)}


@dataclass(frozen=True)
class Cost:
    """Cost of one operation: ``cycles`` [cycles], ``time_s`` [s], ``energy_j`` [J] at the MCU pin."""

    cycles: int
    time_s: float
    energy_j: float

    @property
    def power_w(self) -> float:
        """Mean power at the MCU pin while it runs [W]."""
        return self.energy_j / self.time_s if self.time_s > 0 else 0.0

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.cycles + other.cycles, self.time_s + other.time_s, self.energy_j + other.energy_j)


# ---- platform constants packed for the kernels ---------------------------------------------
(P_CLOCK, P_EPC, P_MAC0, P_MAC1, P_MAC2, P_CALL0, P_CALL1, P_CALL2, P_VEC_MAX, P_REQ_FIX,
 P_REQ_FLT, P_LOOP, P_SRAM_CPB, P_SRAM_FIX, P_RD_CPB, P_WR_CPB, P_RD_FIX, P_WR_FIX, P_RD_EPB,
 P_WR_EPB, P_RD_EFIX, P_WR_EFIX, P_W_CPB, P_W_FIX, P_W_EPB, P_ACC_W, P_ERASE_S, P_ERASE_J,
 N_PARAMS) = range(29)


def platform_params(platform: Platform) -> np.ndarray:
    """The constants of ``platform`` the kernels read, as a float64 vector (index ``P_*``)."""
    p = np.zeros(N_PARAMS)
    p[P_CLOCK] = platform.clock_hz
    p[P_EPC] = platform.active_power_w / platform.clock_hz
    for i, k in enumerate(KERNEL_KINDS):
        p[P_MAC0 + i] = platform.mac_cycles.get(k, 0.0)
        p[P_CALL0 + i] = platform.mac_call_cycles.get(k, 0.0)
    p[P_VEC_MAX] = platform.vector_max_len
    p[P_REQ_FIX] = platform.requant_cycles
    p[P_REQ_FLT] = platform.requant_float_cycles
    p[P_LOOP] = platform.loop_cycles
    p[P_SRAM_CPB] = platform.sram_cycles_per_byte
    p[P_SRAM_FIX] = platform.sram_transfer_cycles
    p[P_RD_CPB] = platform.nvm_read_cycles_per_byte
    p[P_WR_CPB] = platform.nvm_write_cycles_per_byte
    p[P_RD_FIX] = platform.nvm_transfer_cycles
    p[P_WR_FIX] = platform.nvm_write_transfer_cycles
    p[P_RD_EPB] = platform.nvm_read_energy_per_byte_j
    p[P_WR_EPB] = platform.nvm_write_energy_per_byte_j
    p[P_RD_EFIX] = platform.nvm_read_transfer_energy_j
    p[P_WR_EFIX] = platform.nvm_write_transfer_energy_j
    p[P_W_CPB] = platform.weight_read_cycles_per_byte
    p[P_W_FIX] = platform.weight_transfer_cycles
    p[P_W_EPB] = platform.weight_read_energy_per_byte_j
    p[P_ACC_W] = platform.accelerator_power_w
    p[P_ERASE_S] = platform.nvm_erase_time_s
    p[P_ERASE_J] = platform.nvm_erase_energy_j
    return p


# ---- numba kernels ----------------------------------------------------------------------------
@njit(cache=True)
def _task_kernel(p, kernel, macs, n_outputs, sram_rd, sram_wr, nvm_rd, nvm_wr, nvm_rd_n, nvm_wr_n,
                 w_rd, w_rd_n, calls, loops, requant, erase_pages):
    """One task -> (cycles [int], time [s], energy [J]); ``kernel``/``requant`` are codes."""
    mac = p[P_MAC0 + kernel]
    call = p[P_CALL0 + kernel]
    n_calls = calls
    if kernel == 1 and p[P_VEC_MAX] > 0.0 and macs > 0.0:
        # A vector call takes at most vector_max_len elements: split longer vectors.
        need = np.ceil(macs / p[P_VEC_MAX])
        if need > n_calls:
            n_calls = need
    compute = macs * mac + n_calls * call
    if requant == 0:
        rq = n_outputs * p[P_REQ_FLT]
    elif requant == 1:
        rq = n_outputs * p[P_REQ_FIX]
    else:
        rq = 0.0
    mem = ((sram_rd + sram_wr) * p[P_SRAM_CPB]
           + nvm_rd * p[P_RD_CPB] + nvm_rd_n * p[P_RD_FIX]
           + nvm_wr * p[P_WR_CPB] + nvm_wr_n * p[P_WR_FIX]
           + w_rd * p[P_W_CPB] + w_rd_n * p[P_W_FIX])
    erase = erase_pages * p[P_ERASE_S] * p[P_CLOCK]
    cycles = np.rint(compute + rq + loops * p[P_LOOP] + mem + erase)
    time_s = cycles / p[P_CLOCK]
    energy = (cycles * p[P_EPC]
              + nvm_rd * p[P_RD_EPB] + nvm_rd_n * p[P_RD_EFIX]
              + nvm_wr * p[P_WR_EPB] + nvm_wr_n * p[P_WR_EFIX]
              + w_rd * p[P_W_EPB] + erase_pages * p[P_ERASE_J])
    if kernel == 2:
        energy += compute / p[P_CLOCK] * p[P_ACC_W]
    return cycles, time_s, energy


@njit(cache=True)
def _task_costs_kernel(p, kernel, macs, n_outputs, sram_rd, sram_wr, nvm_rd, nvm_wr, nvm_rd_n,
                       nvm_wr_n, w_rd, w_rd_n, calls, loops, requant, erase_pages):
    """Many tasks at once (arrays of equal length) -> (cycles int64[], time[], energy[])."""
    n = kernel.shape[0]
    cyc = np.empty(n, np.int64)
    t = np.empty(n)
    e = np.empty(n)
    for i in range(n):
        c, ti, ei = _task_kernel(p, kernel[i], macs[i], n_outputs[i], sram_rd[i], sram_wr[i],
                                 nvm_rd[i], nvm_wr[i], nvm_rd_n[i], nvm_wr_n[i], w_rd[i], w_rd_n[i],
                                 calls[i], loops[i], requant[i], erase_pages[i])
        cyc[i] = np.int64(c)
        t[i] = ti
        e[i] = ei
    return cyc, t, e


@njit(cache=True)
def _transfer_kernel(p, n_bytes, direction, transfers, erase_pages):
    """A copy of ``n_bytes`` in ``transfers`` transfers -> (cycles, time [s], energy [J])."""
    if direction == 0:    # sram_to_nvm
        cycles = n_bytes * p[P_WR_CPB] + transfers * p[P_WR_FIX] + erase_pages * p[P_ERASE_S] * p[P_CLOCK]
        extra = n_bytes * p[P_WR_EPB] + transfers * p[P_WR_EFIX] + erase_pages * p[P_ERASE_J]
    elif direction == 1:  # nvm_to_sram
        cycles = n_bytes * p[P_RD_CPB] + transfers * p[P_RD_FIX]
        extra = n_bytes * p[P_RD_EPB] + transfers * p[P_RD_EFIX]
    else:                 # sram_to_sram
        cycles = n_bytes * p[P_SRAM_CPB] + transfers * p[P_SRAM_FIX]
        extra = 0.0
    cycles = np.rint(cycles)
    return cycles, cycles / p[P_CLOCK], cycles * p[P_EPC] + extra


# ---- validation helpers ---------------------------------------------------------------------
def _kernel_code(platform: Platform, kernel: str) -> int:
    if kernel not in platform.mac_cycles:
        raise PlatformError(f"kernel kind {kernel!r} is not available on {platform.name}; "
                            f"valid: {', '.join(platform.kernel_kinds)}")
    return _KERNEL_CODE[kernel]


def _requant_code(requant: str) -> int:
    try:
        return _REQUANT_CODE[requant]
    except (KeyError, TypeError):
        raise PlatformError(f"requant mode {requant!r} is unknown; valid: {', '.join(REQUANT_MODES)}") from None


def _count(name, value) -> float:
    v = float(value)
    if not np.isfinite(v) or v < 0:
        raise PlatformError(f"{name} = {value!r}; it must be a finite number >= 0")
    return v


def _n_transfers(name, given, n_bytes) -> float:
    # Default: one transfer when there is something to move, none otherwise.
    if given is None:
        return 1.0 if n_bytes > 0 else 0.0
    return _count(name, given)


# ---- public API -----------------------------------------------------------------------------
def task_cost(platform: Platform, kernel: str, macs: int, n_outputs: int,
              sram_read_bytes: int = 0, sram_write_bytes: int = 0,
              nvm_read_bytes: int = 0, nvm_write_bytes: int = 0, *,
              nvm_read_transfers: int | None = None, nvm_write_transfers: int | None = None,
              weight_read_bytes: int = 0, weight_read_transfers: int | None = None,
              calls: int = 1, loop_iterations: int = 0, requant: str = "onnx",
              nvm_erase_pages: int = 0) -> Cost:
    """Cost of one compute task.

    Parameters
    ----------
    platform : Platform
    kernel : str  kernel kind ("cpu", "vector", "accelerator") present in ``platform.mac_cycles``
    macs : int [MAC] multiply-accumulates
    n_outputs : int [elements] outputs requantised and stored
    sram_read_bytes, sram_write_bytes : int [B] SRAM traffic
    nvm_read_bytes, nvm_write_bytes : int [B] non-volatile memory traffic
    nvm_read_transfers, nvm_write_transfers : int [transfers] each pays the fixed set-up
        (default: 1 when the byte count is > 0, else 0)
    weight_read_bytes : int [B] weights read from ``platform.weight_memory``
    weight_read_transfers : int [transfers] (default as above)
    calls : int [calls] kernel invocations (a vector call also splits at ``vector_max_len``)
    loop_iterations : int [iterations] loop bookkeeping outside the kernel calls
    requant : str  "onnx" (float32 scale; soft-float without FPU), "tflm" (fixed point) or "none"
    nvm_erase_pages : int [pages] flash pages erased before the writes

    Returns
    -------
    Cost  cycles [cycles], time_s [s], energy_j [J] at the MCU pin
    """
    k = _kernel_code(platform, kernel)
    rq = _requant_code(requant)
    nr, nw, wr = (_count("nvm_read_bytes", nvm_read_bytes), _count("nvm_write_bytes", nvm_write_bytes),
                  _count("weight_read_bytes", weight_read_bytes))
    c, t, e = _task_kernel(
        platform_params(platform), k, _count("macs", macs), _count("n_outputs", n_outputs),
        _count("sram_read_bytes", sram_read_bytes), _count("sram_write_bytes", sram_write_bytes),
        nr, nw, _n_transfers("nvm_read_transfers", nvm_read_transfers, nr),
        _n_transfers("nvm_write_transfers", nvm_write_transfers, nw),
        wr, _n_transfers("weight_read_transfers", weight_read_transfers, wr),
        _count("calls", calls), _count("loop_iterations", loop_iterations), rq,
        _count("nvm_erase_pages", nvm_erase_pages))
    return Cost(int(c), float(t), float(e))


def task_costs(platform: Platform, kernel, macs, n_outputs, sram_read_bytes=0, sram_write_bytes=0,
               nvm_read_bytes=0, nvm_write_bytes=0, *, nvm_read_transfers=None,
               nvm_write_transfers=None, weight_read_bytes=0, weight_read_transfers=None,
               calls=1, loop_iterations=0, requant="onnx", nvm_erase_pages=0):
    """Vectorised :func:`task_cost`: every argument a scalar or an array (broadcast together).

    ``kernel`` and ``requant`` may be a string or an array of strings. Transfer counts left at
    ``None`` default per task to 1 where the matching byte count is > 0.

    Returns
    -------
    (cycles : int64[] [cycles], time_s : float64[] [s], energy_j : float64[] [J])
    """
    kern = np.asarray(kernel)
    if kern.dtype.kind in "US":
        kcodes = np.empty(kern.shape, np.int64)
        for k in np.unique(kern):
            kcodes[kern == k] = _kernel_code(platform, str(k))
    else:
        kcodes = kern.astype(np.int64)
        for code in np.unique(kcodes):
            if not 0 <= code < len(KERNEL_KINDS) or KERNEL_KINDS[code] not in platform.mac_cycles:
                raise PlatformError(f"kernel code {code!r} is not available on {platform.name}; "
                                    f"valid kinds: {', '.join(platform.kernel_kinds)}")
    rqa = np.asarray(requant)
    if rqa.dtype.kind in "US":
        rcodes = np.empty(rqa.shape, np.int64)
        for r in np.unique(rqa):
            rcodes[rqa == r] = _requant_code(str(r))
    else:
        rcodes = rqa.astype(np.int64)
        if rcodes.size and (rcodes.min() < 0 or rcodes.max() >= len(REQUANT_MODES)):
            raise PlatformError(f"requant codes must be in 0..{len(REQUANT_MODES) - 1} "
                                f"({', '.join(REQUANT_MODES)}); got {rcodes.min()}..{rcodes.max()}")

    def arr(name, v):
        a = np.asarray(v, dtype=np.float64)
        if a.size and (not np.all(np.isfinite(a)) or np.any(a < 0)):
            bad = a[~np.isfinite(a) | (a < 0)].ravel()[0]
            raise PlatformError(f"{name} contains {bad!r}; every value must be a finite number >= 0")
        return a

    nr, nw, wr = arr("nvm_read_bytes", nvm_read_bytes), arr("nvm_write_bytes", nvm_write_bytes), \
        arr("weight_read_bytes", weight_read_bytes)
    nrn = (nr > 0).astype(np.float64) if nvm_read_transfers is None else arr("nvm_read_transfers", nvm_read_transfers)
    nwn = (nw > 0).astype(np.float64) if nvm_write_transfers is None else arr("nvm_write_transfers", nvm_write_transfers)
    wrn = (wr > 0).astype(np.float64) if weight_read_transfers is None else arr("weight_read_transfers", weight_read_transfers)
    parts = np.broadcast_arrays(
        kcodes, arr("macs", macs), arr("n_outputs", n_outputs), arr("sram_read_bytes", sram_read_bytes),
        arr("sram_write_bytes", sram_write_bytes), nr, nw, nrn, nwn, wr, wrn, arr("calls", calls),
        arr("loop_iterations", loop_iterations), rcodes, arr("nvm_erase_pages", nvm_erase_pages))
    # Kernel and requant codes (positions 0 and 13) are integers; every count is float64.
    int_pos = (0, 13)
    # np.array copies: broadcast views are read-only aliases numba would warn about
    flat = [np.array(np.ravel(x), dtype=np.int64 if i in int_pos else np.float64)
            for i, x in enumerate(parts)]
    return _task_costs_kernel(platform_params(platform), *flat)


def transfer_cost(platform: Platform, n_bytes: int, direction: str, *, transfers: int | None = None,
                  erase_pages: int = 0) -> Cost:
    """Cost of copying ``n_bytes`` [B] between memories.

    direction : "sram_to_nvm" (commit/checkpoint), "nvm_to_sram" (restore) or "sram_to_sram"
    transfers : int [transfers] each pays the fixed set-up (default 1 if ``n_bytes`` > 0, else 0)
    erase_pages : int [pages] flash pages erased first (``sram_to_nvm`` only)
    """
    try:
        d = _DIR_CODE[direction]
    except (KeyError, TypeError):
        raise PlatformError(f"unknown transfer direction {direction!r}; valid: {', '.join(DIRECTIONS)}") from None
    nb = _count("n_bytes", n_bytes)
    ep = _count("erase_pages", erase_pages)
    if ep and d != 0:
        raise PlatformError(f"erase_pages = {erase_pages!r} only applies to 'sram_to_nvm', not {direction!r}")
    c, t, e = _transfer_kernel(platform_params(platform), nb, d,
                               _n_transfers("transfers", transfers, nb), ep)
    return Cost(int(c), float(t), float(e))


def erase_pages_for(platform: Platform, byte_start: int, byte_stop: int) -> int:
    """Flash pages [pages] touched by a write of ``[byte_start, byte_stop)`` [B] (0 on FRAM)."""
    if platform.nvm_page_bytes <= 0 or byte_stop <= byte_start:
        return 0
    pb = platform.nvm_page_bytes
    return (int(byte_stop) - 1) // pb - int(byte_start) // pb + 1


def weight_reload_cost(platform: Platform, weight_bytes: int) -> Cost:
    """Cost [cycles, s, J] of reloading ``weight_bytes`` [B] into a volatile weight memory at boot.

    Zero on platforms whose weights are read in place (``volatile_weight_bytes == 0``).
    """
    wb = _count("weight_bytes", weight_bytes)
    if platform.volatile_weight_bytes == 0 or wb == 0:
        return Cost(0, 0.0, 0.0)
    if wb > platform.volatile_weight_bytes:
        raise PlatformError(f"weight_bytes = {weight_bytes!r} exceed {platform.name}'s volatile weight "
                            f"memory of {platform.volatile_weight_bytes} B")
    cycles = int(round(platform.weight_reload_fixed_cycles + wb * platform.weight_reload_cycles_per_byte))
    t = cycles / platform.clock_hz
    return Cost(cycles, t, t * platform.active_power_w + wb * platform.weight_reload_energy_per_byte_j)


class BootCost(NamedTuple):
    """The cost of one boot (see :func:`boot_cost`)."""

    time_s: float         #: boot duration [s]
    energy_j: float       #: boot energy at the MCU pin [J]
    weights_fit: bool     #: the weights fit the volatile weight memory (else no boot can run them)

    @property
    def power_w(self) -> float:
        """Mean pin power of the boot [W] (0 for an instantaneous boot)."""
        return self.energy_j / self.time_s if self.time_s > 0 else 0.0


def boot_cost(platform: Platform, weight_bytes: int = 0) -> BootCost:
    """The cost of every boot: the platform's boot, plus reloading ``weight_bytes`` [B] into a
    volatile weight memory (MAX78000's CNN weights) where the platform has one.

    The one place this rule lives: the engine executes it, ``static`` and ``optimal`` plan with it.
    """
    t, e = platform.boot_time_s, platform.boot_energy_j
    if not platform.volatile_weight_bytes:
        return BootCost(t, e, True)
    if weight_bytes > platform.volatile_weight_bytes:
        return BootCost(t, e, False)
    reload = weight_reload_cost(platform, weight_bytes)
    return BootCost(t + reload.time_s, e + reload.energy_j, True)


def warmup() -> None:
    """Compile (or load from the numba cache) the cost kernels."""
    from .platform import MSP430FR5994
    task_costs(MSP430FR5994, "cpu", np.ones(1), np.ones(1))
    transfer_cost(MSP430FR5994, 2, "sram_to_nvm")
