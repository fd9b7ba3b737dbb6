"""Cycle-level cost of tasks and transfers on a :class:`~intersim.platform.Platform`."""
from __future__ import annotations

from dataclasses import dataclass

from .platform import Platform


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


def _cost(platform: Platform, cycles: float, extra_energy_j: float) -> Cost:
    c = int(round(cycles))
    t = c / platform.clock_hz
    return Cost(c, t, t * platform.active_power_w + extra_energy_j)


def task_cost(platform: Platform, kernel: str, macs: int, n_outputs: int,
              sram_read_bytes: int = 0, sram_write_bytes: int = 0,
              nvm_read_bytes: int = 0, nvm_write_bytes: int = 0) -> Cost:
    """Cost of one compute task.

    Parameters
    ----------
    kernel : str  kernel kind ("cpu", "vector", "accelerator") present in ``platform.mac_cycles``
    macs : int [MAC] multiply-accumulates
    n_outputs : int [elements] outputs requantised and stored
    *_bytes : int [B] memory traffic by memory and direction
    """
    cycles = (macs * platform.mac_cycles[kernel] + platform.mac_call_cycles[kernel]
              + n_outputs * platform.requant_cycles
              + (sram_read_bytes + sram_write_bytes) * platform.sram_cycles_per_byte
              + nvm_read_bytes * platform.nvm_read_cycles_per_byte
              + nvm_write_bytes * platform.nvm_write_cycles_per_byte)
    extra = (nvm_read_bytes * platform.nvm_read_energy_per_byte_j
             + nvm_write_bytes * platform.nvm_write_energy_per_byte_j)
    return _cost(platform, cycles, extra)


def transfer_cost(platform: Platform, n_bytes: int, direction: str) -> Cost:
    """Cost of copying ``n_bytes`` [B] between memories.

    direction : "sram_to_nvm" (commit/checkpoint), "nvm_to_sram" (restore) or "sram_to_sram".
    """
    if direction == "sram_to_nvm":
        cycles = platform.nvm_transfer_cycles + n_bytes * platform.nvm_write_cycles_per_byte
        extra = n_bytes * platform.nvm_write_energy_per_byte_j
    elif direction == "nvm_to_sram":
        cycles = platform.nvm_transfer_cycles + n_bytes * platform.nvm_read_cycles_per_byte
        extra = n_bytes * platform.nvm_read_energy_per_byte_j
    elif direction == "sram_to_sram":
        cycles = platform.nvm_transfer_cycles + n_bytes * platform.sram_cycles_per_byte
        extra = 0.0
    else:
        raise ValueError(f"unknown transfer direction {direction!r}; valid: sram_to_nvm, nvm_to_sram, sram_to_sram")
    return _cost(platform, cycles, extra)
