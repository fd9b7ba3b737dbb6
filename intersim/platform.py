"""MCU platform presets: clock, power states, memories and per-operation costs.

Every constant cites where it was measured or published; docs/platforms.md holds the table.
Powers are at the MCU pin (after the output regulator) unless a field says otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from .errors import PlatformError


@dataclass(frozen=True)
class Platform:
    """One MCU as the cost model sees it.

    Attributes (units in brackets)
    ------------------------------
    name : str
    clock_hz : float [Hz]
    supply_v : float [V] MCU supply (regulated) the currents were measured at
    active_power_w : float [W] CPU active at ``clock_hz``, at the MCU pin
    sleep_power_w : float [W] low-power mode with SRAM retained (LPM3-like), at the MCU pin
    boot_time_s : float [s] from turn-on to the first instruction of the application
    boot_energy_j : float [J] energy of that boot, at the MCU pin
    sram_bytes, nvm_bytes : int [B]
    nvm_kind : str  "fram-internal", "fram-spi" or "flash"
    nvm_word_bytes : int [B] atomic write unit of the non-volatile memory
    mac_cycles : dict[str, float] [cycles/MAC] per kernel kind ("cpu", "vector", "accelerator")
    mac_call_cycles : dict[str, float] [cycles] fixed overhead per kernel invocation
    requant_cycles : float [cycles] per output element (requantisation, saturation, store)
    nvm_read_cycles_per_byte, nvm_write_cycles_per_byte : float [cycles/B]
    nvm_transfer_cycles : float [cycles] fixed overhead per NVM transfer (DMA set-up, SPI command)
    nvm_read_energy_per_byte_j, nvm_write_energy_per_byte_j : float [J/B] beyond active power
    sram_cycles_per_byte : float [cycles/B] SRAM copy cost
    """

    name: str
    clock_hz: float
    supply_v: float
    active_power_w: float
    sleep_power_w: float
    boot_time_s: float
    boot_energy_j: float
    sram_bytes: int
    nvm_bytes: int
    nvm_kind: str
    nvm_word_bytes: int
    mac_cycles: dict
    mac_call_cycles: dict
    requant_cycles: float
    nvm_read_cycles_per_byte: float
    nvm_write_cycles_per_byte: float
    nvm_transfer_cycles: float
    nvm_read_energy_per_byte_j: float
    nvm_write_energy_per_byte_j: float
    sram_cycles_per_byte: float
    default_kernel: str = "cpu"
    sources: tuple = ()

    def with_(self, **changes) -> "Platform":
        """A copy with some constants changed (for studies)."""
        return replace(self, **changes)


# TI MSP430FR5994, internal FRAM, CPU loop kernels at 16 MHz.
# Sources:
#  [DS]   TI SLASE54D, MSP430FR599x datasheet: 16 MHz max; active 118 uA/MHz typ (FRAM, 3 V);
#         LPM3 (RTC, SRAM retained) ~0.5 uA typ; 8 KB SRAM (4 KB shared with LEA); 256 KB FRAM;
#         FRAM needs 1 wait state above 8 MHz (NWAITS=1 at 16 MHz).
#  [iNAS] Mendis et al., TECS 2021 / iNAS repo micro-benchmarks: boot 77.88 uJ / 70 ms measured at
#         the capacitor including a firmware delay; the hardware wake-up alone is far smaller.
#  [EST]  Estimated from the instruction timing of the MSP430X CPU (MPY32 peripheral multiply:
#         load two operands, read result ~ 8-10 cycles, plus loads with FRAM wait state) -- a
#         first-order figure, calibrated in docs/platforms.md.
MSP430FR5994 = Platform(
    name="msp430fr5994",
    clock_hz=16e6,                      # [DS]
    supply_v=3.0,                       # [DS] operating conditions of the 118 uA/MHz figure
    active_power_w=118e-6 * 16 * 3.0,   # [DS] 118 uA/MHz x 16 MHz x 3.0 V = 5.664 mW
    sleep_power_w=0.5e-6 * 3.0,         # [DS] LPM3 ~0.5 uA x 3.0 V
    boot_time_s=1e-3,                   # [EST] reset + clock start-up + C runtime init, no firmware delay
    boot_energy_j=1e-3 * 118e-6 * 16 * 3.0,  # [EST] active power over the boot time
    sram_bytes=8 * 1024,                # [DS]
    nvm_bytes=256 * 1024,               # [DS]
    nvm_kind="fram-internal",           # [DS]
    nvm_word_bytes=2,                   # [DS] FRAM is written in 16-bit words by the MSP430 CPU
    mac_cycles={"cpu": 12.0},           # [EST] int8 MAC with MPY32 + operand loads (1 FRAM wait state)
    mac_call_cycles={"cpu": 60.0},      # [EST] function call + loop set-up per output element group
    requant_cycles=45.0,                # [EST] multiply + shift/round + saturate + store per output
    nvm_read_cycles_per_byte=1.0,       # [DS] internal FRAM, 1 wait state, byte access via CPU
    nvm_write_cycles_per_byte=1.5,      # [EST] FRAM write through the CPU (word writes, 1 wait state)
    nvm_transfer_cycles=20.0,           # [EST] loop/pointer set-up of a copy
    nvm_read_energy_per_byte_j=0.0,     # [DS] included in the active current (FRAM execution)
    nvm_write_energy_per_byte_j=0.0,    # [DS] included in the active current
    sram_cycles_per_byte=1.0,           # [EST] byte copy in SRAM
    sources=("TI SLASE54D datasheet", "iNAS (Mendis et al., TECS 2021)"),
)

PRESETS = {p.name: p for p in (MSP430FR5994,)}


def get_platform(name: str) -> Platform:
    """Look up a preset by name; unknown names list the valid ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise PlatformError(f"unknown platform preset {name!r}; valid: {', '.join(sorted(PRESETS))}") from None
