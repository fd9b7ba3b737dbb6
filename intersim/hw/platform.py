"""MCU platform presets: clock, power states, memories and per-operation costs.

Every constant cites where it was measured or published; ``docs/platforms.md`` holds the table
(constant, value, unit, source, where measured). Powers and energies are at the MCU pin (after
the output regulator) unless a ``*_measured_at`` field says otherwise.

Source keys used in the comments below:

``[DS-FR5994]``  TI SLASE54, MSP430FR599x/MSP430FR596x datasheet (16 MHz, 118 uA/MHz, LPM3,
                 8 KB SRAM / 4 KB shared with LEA, 256 KB FRAM, NWAITS=1 above 8 MHz).
``[UG-FR5]``     TI SLAU367, MSP430FR58xx/59xx/6xx family user's guide (DMA: 2 MCLK cycles per
                 block-transfer word; FRAM written by 16-bit words).
``[iNAS]``       Mendis et al., TECS 2021; repository EMCLab-Sinica/Intermittent-aware-NAS @ f5ea377,
                 ``iNAS/CostModel/microbench_measurements.py`` and ``plat_energy_costs.py``:
                 MSP430FR5994 @16 MHz + CY15B104Q SPI FRAM, linear fits over n 16-bit elements.
``[TiNAS]``      EMCLab-Sinica/TiNAS @ 16e5c14 re-profile of the same board ("2024/01/27").
``[SCNN]``       EMCLab-Sinica/Stateful-CNN @ 37708ef (clocks, SPI divider, LEA buffer size).
``[CY15B104Q]``  Cypress CY15B104Q 4-Mbit SPI F-RAM datasheet: writes complete per byte as it is
                 clocked in (no page buffer, no erase).
``[DS-P401R]``   TI SLAS826, MSP432P401R datasheet (48 MHz max, 80 uA/MHz active, LPM3 660 nA,
                 64 KB SRAM, 256 KB flash).
``[MAX-HAL]``    MAX78000 flash controller, as summarised by the max7800x-hal crate docs from the
                 MAX78000 user guide UG7456: 512 KiB, 64 pages of 8 KiB, 128-bit write granularity.
``[MAX-DS]``     MAX78000 datasheet / board pages: Cortex-M4F up to 100 MHz, 512 KB flash,
                 128 KB SRAM, 442k 8-bit CNN weights, CNN clock = APB 50 MHz.
``[ai8x-136]``   analogdevicesinc/ai8x-synthesis issue #136: a 5 M-MAC network measured in < 1 ms
                 at 50 MHz CNN clock, i.e. ~100 MAC per CNN clock (maintainer: up to 4 output
                 channels written per clock).
``[EST]``        Engineering estimate from instruction timing; see the note in docs/platforms.md.
                 These are the constants to replace first when a measurement becomes available.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from ..errors import PlatformError

#: Kernel kinds the cost model knows (a preset supports a subset, the keys of ``mac_cycles``).
KERNEL_KINDS = ("cpu", "vector", "accelerator")
#: Non-volatile memory kinds.
NVM_KINDS = ("fram-internal", "fram-spi", "flash")
#: Where a power or energy constant was measured.
MEASURED_AT = ("mcu-pin", "capacitor", "board-supply")


@dataclass(frozen=True)
class Platform:
    """One MCU as the cost model sees it.

    Attributes (units in brackets)
    ------------------------------
    name : str
    clock_hz : float [Hz] CPU clock
    supply_v : float [V] MCU supply (regulated) the currents were measured at
    active_power_w : float [W] CPU active at ``clock_hz``, at the MCU pin
    sleep_power_w : float [W] low-power mode with SRAM retained (LPM3-like), at the MCU pin
    boot_time_s : float [s] from turn-on to the first instruction of the application
    boot_energy_j : float [J] energy of that boot (where: ``boot_measured_at``)
    sram_bytes, nvm_bytes : int [B]
    nvm_kind : str  "fram-internal", "fram-spi" or "flash"
    nvm_word_bytes : int [B] atomic write unit of the non-volatile memory (a torn write keeps
        exactly the units finished before the cut)
    mac_cycles : dict[str, float] [cycles/MAC] per kernel kind ("cpu", "vector", "accelerator")
    mac_call_cycles : dict[str, float] [cycles] fixed overhead per kernel invocation
    requant_cycles : float [cycles/output] fixed-point (multiplier + shift, TFLM) requantisation,
        saturation and store of one output
    nvm_read_cycles_per_byte, nvm_write_cycles_per_byte : float [cycles/B]
    nvm_transfer_cycles : float [cycles] fixed overhead per NVM read transfer (DMA set-up, SPI
        command and address)
    nvm_read_energy_per_byte_j, nvm_write_energy_per_byte_j : float [J/B] beyond active power
    sram_cycles_per_byte : float [cycles/B] SRAM-to-SRAM copy cost
    sram_transfer_cycles : float [cycles] fixed set-up of one SRAM-to-SRAM copy
    default_kernel : str  kernel kind used when a task names none the preset has
    sources : tuple[str]  documents the constants come from

    nvm_write_transfer_cycles : float [cycles] fixed overhead per NVM write transfer
        (``None``: same as ``nvm_transfer_cycles``)
    nvm_read_transfer_energy_j, nvm_write_transfer_energy_j : float [J] fixed energy per
        transfer beyond active power
    nvm_page_bytes : int [B] erase unit (0: no erase needed, FRAM)
    nvm_erase_time_s : float [s] one page erase
    nvm_erase_energy_j : float [J] one page erase, beyond active power over ``nvm_erase_time_s``
    weight_memory : str  where weights are read from during inference ("nvm", "fram-internal",
        "flash", "cnn-sram")
    weight_read_cycles_per_byte : float [cycles/B] (``None``: the NVM read rate)
    weight_transfer_cycles : float [cycles] fixed per weight transfer (``None``: NVM's)
    weight_read_energy_per_byte_j : float [J/B] beyond active power (``None``: NVM's)
    volatile_weight_bytes : int [B] capacity of a volatile weight memory that every boot must
        reload (0: none; weights are read in place)
    weight_reload_fixed_cycles : float [cycles] per reload (driver set-up)
    weight_reload_cycles_per_byte : float [cycles/B]
    weight_reload_energy_per_byte_j : float [J/B] beyond active power
    vector_max_len : int [elements] longest operand vector one vector-unit call takes (0: no limit)
    vector_element_bytes : int [B] bytes one int8 operand occupies in the vector unit (2: each
        int8 is widened to one 16-bit element)
    lea_shared_sram_bytes : int [B] part of ``sram_bytes`` the vector unit can address
    loop_cycles : float [cycles] per loop iteration (index update, compare, branch)
    has_fpu : bool  hardware single-precision float
    requant_float_cycles : float [cycles/output] float32 requantisation (ONNX QLinear*): convert,
        multiply, round half to even, saturate, store -- soft-float when ``has_fpu`` is False
    accelerator_power_w : float [W] extra power while the accelerator runs, beyond active
    adc_time_s : float [s] one supply-voltage read by the ADC (reference settling, sample, convert)
    adc_power_w : float [W] at the MCU pin during that read (CPU waiting, ADC and reference on)
    power_measured_at, boot_measured_at : str  "mcu-pin", "capacitor" or "board-supply"
    ulp_power_w : float [W] ultra-low-power mode that keeps the volatile state (SRAM, registers)
        and, where ``ulp_retains_accelerator``, the accelerator's weight memory, at the MCU pin
        (``UlpSleep``; 0: the same as ``sleep_power_w``)
    ulp_retains_accelerator : bool  the ULP mode keeps a volatile weight memory powered (else
        the weights are reloaded at wake-up: ``weight_reload_cost``)
    input_power_read_time_s : float [s] one measurement of the harvested input power (a current
        sense amplifier read through the ADC)
    input_power_read_power_w : float [W] at the MCU pin during that measurement
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
    nvm_write_transfer_cycles: float | None = None
    nvm_read_transfer_energy_j: float = 0.0
    nvm_write_transfer_energy_j: float = 0.0
    nvm_page_bytes: int = 0
    nvm_erase_time_s: float = 0.0
    nvm_erase_energy_j: float = 0.0
    weight_memory: str = "nvm"
    weight_read_cycles_per_byte: float | None = None
    weight_transfer_cycles: float | None = None
    weight_read_energy_per_byte_j: float | None = None
    volatile_weight_bytes: int = 0
    weight_reload_fixed_cycles: float = 0.0
    weight_reload_cycles_per_byte: float = 0.0
    weight_reload_energy_per_byte_j: float = 0.0
    vector_max_len: int = 0
    vector_element_bytes: int = 1
    lea_shared_sram_bytes: int = 0
    loop_cycles: float = 0.0
    has_fpu: bool = False
    requant_float_cycles: float = 0.0
    accelerator_power_w: float = 0.0
    adc_time_s: float = 0.0
    adc_power_w: float = 0.0
    power_measured_at: str = "mcu-pin"
    boot_measured_at: str = "mcu-pin"
    sram_transfer_cycles: float = 0.0
    ulp_power_w: float = 0.0
    ulp_retains_accelerator: bool = True
    input_power_read_time_s: float = 0.0
    input_power_read_power_w: float = 0.0

    def __post_init__(self):
        # Resolve "same as the NVM" defaults so the cost kernels see plain numbers.
        if self.nvm_write_transfer_cycles is None:
            object.__setattr__(self, "nvm_write_transfer_cycles", self.nvm_transfer_cycles)
        if self.weight_read_cycles_per_byte is None:
            object.__setattr__(self, "weight_read_cycles_per_byte", self.nvm_read_cycles_per_byte)
        if self.weight_transfer_cycles is None:
            object.__setattr__(self, "weight_transfer_cycles", self.nvm_transfer_cycles)
        if self.weight_read_energy_per_byte_j is None:
            object.__setattr__(self, "weight_read_energy_per_byte_j", self.nvm_read_energy_per_byte_j)
        # Private copies: a preset's tables must not change under a caller's feet.
        object.__setattr__(self, "mac_cycles", dict(self.mac_cycles))
        object.__setattr__(self, "mac_call_cycles", dict(self.mac_call_cycles))
        validate(self)

    __hash__ = None  # dict fields: equality by value, not hashable

    @property
    def kernel_kinds(self) -> tuple:
        """Kernel kinds this preset supports (keys of ``mac_cycles``), sorted."""
        return tuple(sorted(self.mac_cycles))

    @property
    def ulp_sleep_power_w(self) -> float:
        """Pin power of the ULP mode [W] (``ulp_power_w``, or ``sleep_power_w`` where unset)."""
        return self.ulp_power_w if self.ulp_power_w > 0 else self.sleep_power_w

    @property
    def energy_per_cycle_j(self) -> float:
        """Active energy of one CPU cycle at the MCU pin [J/cycle]."""
        return self.active_power_w / self.clock_hz

    def with_(self, **changes) -> "Platform":
        """A copy with some constants changed (for studies); validated like a preset."""
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise PlatformError(f"unknown Platform field(s) {unknown}; valid: "
                                f"{', '.join(f.name for f in fields(self))}")
        return replace(self, **changes)


def _finite_nonneg(name, value, positive=False):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise PlatformError(f"platform constant {name} = {value!r} is not a number") from None
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        need = "a positive finite number" if positive else "a finite number >= 0"
        raise PlatformError(f"platform constant {name} = {value!r}; it must be {need}")


def _int_field(name, value, positive=True):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or (positive and value == 0):
        need = "a positive integer" if positive else "an integer >= 0"
        raise PlatformError(f"platform constant {name} = {value!r}; it must be {need}")


def validate(p: Platform) -> None:
    """Raise :class:`PlatformError` naming the first invalid constant of ``p``."""
    for name in ("clock_hz", "supply_v", "active_power_w"):
        _finite_nonneg(name, getattr(p, name), positive=True)
    for name in ("sleep_power_w", "boot_time_s", "boot_energy_j", "requant_cycles",
                 "nvm_read_cycles_per_byte", "nvm_write_cycles_per_byte", "nvm_transfer_cycles",
                 "nvm_write_transfer_cycles", "nvm_read_energy_per_byte_j",
                 "nvm_write_energy_per_byte_j", "nvm_read_transfer_energy_j",
                 "nvm_write_transfer_energy_j", "sram_cycles_per_byte", "nvm_erase_time_s",
                 "nvm_erase_energy_j", "weight_read_cycles_per_byte", "weight_transfer_cycles",
                 "weight_read_energy_per_byte_j", "weight_reload_fixed_cycles",
                 "weight_reload_cycles_per_byte", "weight_reload_energy_per_byte_j",
                 "loop_cycles", "requant_float_cycles", "accelerator_power_w", "sram_transfer_cycles",
                 "adc_time_s", "adc_power_w", "ulp_power_w", "input_power_read_time_s",
                 "input_power_read_power_w"):
        _finite_nonneg(name, getattr(p, name))
    for name in ("sram_bytes", "nvm_bytes", "nvm_word_bytes", "vector_element_bytes"):
        _int_field(name, getattr(p, name))
    for name in ("nvm_page_bytes", "volatile_weight_bytes", "vector_max_len", "lea_shared_sram_bytes"):
        _int_field(name, getattr(p, name), positive=False)
    if p.nvm_kind not in NVM_KINDS:
        raise PlatformError(f"{p.name}: nvm_kind = {p.nvm_kind!r}; valid: {', '.join(NVM_KINDS)}")
    if p.nvm_kind == "flash" and (p.nvm_page_bytes <= 0 or p.nvm_erase_time_s <= 0):
        raise PlatformError(f"{p.name}: flash needs nvm_page_bytes > 0 and nvm_erase_time_s > 0 "
                            f"(got {p.nvm_page_bytes!r}, {p.nvm_erase_time_s!r})")
    if p.nvm_page_bytes and p.nvm_page_bytes % p.nvm_word_bytes:
        raise PlatformError(f"{p.name}: nvm_page_bytes = {p.nvm_page_bytes} is not a multiple of "
                            f"nvm_word_bytes = {p.nvm_word_bytes}")
    if p.lea_shared_sram_bytes > p.sram_bytes:
        raise PlatformError(f"{p.name}: lea_shared_sram_bytes = {p.lea_shared_sram_bytes} exceeds "
                            f"sram_bytes = {p.sram_bytes}")
    if not p.mac_cycles:
        raise PlatformError(f"{p.name}: mac_cycles is empty; give at least one of {KERNEL_KINDS}")
    for kind, table in (("mac_cycles", p.mac_cycles), ("mac_call_cycles", p.mac_call_cycles)):
        for k, v in table.items():
            if k not in KERNEL_KINDS:
                raise PlatformError(f"{p.name}: {kind} has unknown kernel kind {k!r}; "
                                    f"valid: {', '.join(KERNEL_KINDS)}")
            _finite_nonneg(f"{kind}[{k!r}]", v)
    missing = sorted(set(p.mac_cycles) - set(p.mac_call_cycles))
    if missing:
        raise PlatformError(f"{p.name}: mac_call_cycles lacks kernel kind(s) {missing}")
    if p.default_kernel not in p.mac_cycles:
        raise PlatformError(f"{p.name}: default_kernel = {p.default_kernel!r}; valid for this preset: "
                            f"{', '.join(sorted(p.mac_cycles))}")
    for name in ("power_measured_at", "boot_measured_at"):
        if getattr(p, name) not in MEASURED_AT:
            raise PlatformError(f"{p.name}: {name} = {getattr(p, name)!r}; valid: {', '.join(MEASURED_AT)}")


# --------------------------------------------------------------------------------------------
# TI MSP430FR5994, internal FRAM, CPU loop kernels and the LEA vector unit, 16 MHz.
# --------------------------------------------------------------------------------------------
_FR5994_V = 3.0                              # [DS-FR5994] conditions of the 118 uA/MHz figure
_FR5994_F = 16e6                             # [DS-FR5994] max MCLK (NWAITS=1 above 8 MHz)
_FR5994_P = 118e-6 * 16 * _FR5994_V          # [DS-FR5994] 118 uA/MHz x 16 MHz x 3 V = 5.664 mW
_FR5994_E_CYCLE = _FR5994_P / _FR5994_F      # [J/cycle] 354 pJ

# iNAS CPU micro-benchmarks [cycles], measured C statements on the MSP430FR5994 @16 MHz.
_INAS_ADD, _INAS_MUL, _INAS_MAX = 12.0, 44.0, 14.0
# Fixed cost of one on-chip DMA copy [cycles]: iNAS's measured fixed cost of an SPI-FRAM DMA
# read (424 cycles) less its 4 command/address bytes at 4 MHz SPI (4 x 32 = 128 cycles): what
# is left is the DMA programming and the C wrapper, the same work an on-chip copy does.
_DMA_SETUP = 424.0 - 4 * 32.0

MSP430FR5994 = Platform(
    name="msp430fr5994",
    clock_hz=_FR5994_F,
    supply_v=_FR5994_V,
    active_power_w=_FR5994_P,
    sleep_power_w=0.5e-6 * _FR5994_V,        # [DS-FR5994] LPM3 with VLO 0.5 uA typ, SRAM retained
    boot_time_s=1e-3,                        # [EST] BOR release + DCO start + C runtime init, no firmware delay
    boot_energy_j=1e-3 * _FR5994_P,          # [EST] active power over the boot time
    sram_bytes=8 * 1024,                     # [DS-FR5994]
    nvm_bytes=256 * 1024,                    # [DS-FR5994]
    nvm_kind="fram-internal",                # [DS-FR5994]
    nvm_word_bytes=2,                        # [UG-FR5] FRAM written by 16-bit words
    # cpu: one MAC in C = a multiply + an accumulate as measured by iNAS (MPY32 via the RTS call).
    # vector: LEA vector MAC 1.5 n + 616 cycles over n 16-bit elements [iNAS].
    mac_cycles={"cpu": _INAS_MUL + _INAS_ADD, "vector": 1.5},
    mac_call_cycles={"cpu": 4 * _INAS_ADD, "vector": 616.0},  # cpu: call + loop set-up ~ 4 ADD-statements [EST]
    # TFLM fixed point on a 16-bit CPU: 32x32->64 product (2 MUL), rounding shift (5 ADD),
    # add zero point and clamp (2 MAX), store (1 ADD), from the iNAS statement costs.
    requant_cycles=2 * _INAS_MUL + 6 * _INAS_ADD + 2 * _INAS_MAX,
    nvm_read_cycles_per_byte=1.5,            # [UG-FR5]+[DS-FR5994] DMA 2 cycles/word + 1 FRAM wait state
    nvm_write_cycles_per_byte=1.5,           # [UG-FR5]+[DS-FR5994] same path for writes
    nvm_transfer_cycles=_DMA_SETUP,          # [iNAS]-derived: DMA set-up without the SPI command, see below
    nvm_read_energy_per_byte_j=0.0,          # [DS-FR5994] FRAM access is inside the active current
    nvm_write_energy_per_byte_j=0.0,         # [DS-FR5994] idem
    sram_cycles_per_byte=1.0,                # [UG-FR5] DMA block transfer, 2 cycles per 16-bit word
    sram_transfer_cycles=_DMA_SETUP,         # the same DMA set-up as an FRAM copy
    default_kernel="cpu",
    sources=("TI SLASE54 MSP430FR599x datasheet", "TI SLAU367 MSP430FR5xx user's guide",
             "iNAS (Mendis et al., TECS 2021), EMCLab-Sinica/Intermittent-aware-NAS@f5ea377"),
    weight_memory="fram-internal",
    # supply read: AVCC/2 on the internal channel against REF_A, which settles in tens of us,
    # then sample and a 14-cycle 12-bit conversion at MODOSC ~4.8 MHz; ADC12_B + REF_A ~0.2 mA
    adc_time_s=40e-6,                        # [EST] REF_A settling ~30 us + sample + conversion
    adc_power_w=_FR5994_P + 0.2e-3 * _FR5994_V,  # [EST] CPU active waiting + ADC12_B and REF_A
    vector_max_len=942,                      # [SCNN] LEA buffer 1884 Q15 words = two operands of 942
    vector_element_bytes=2,                  # LEA works on 16-bit elements: int8 widened to one element
    lea_shared_sram_bytes=4 * 1024,          # [DS-FR5994]
    loop_cycles=2 * _INAS_ADD,               # [iNAS] increment + compare/branch ~ 2 ADD statements
    has_fpu=False,                           # [DS-FR5994] no FPU: float32 is soft-float
    # Soft-float requant [EST]: int32->float (~120), float multiply (~200), float->int with
    # round-half-even (~200), zero point + clamp + store (~40), TI MSP430 RTS order of magnitude.
    requant_float_cycles=560.0,
    # input power: a current-sense amplifier on the harvester output, two ADC reads (current and
    # voltage) at the ADC's cost plus the amplifier's ~50 uA
    input_power_read_time_s=2 * 40e-6,       # [EST] two ADC12_B reads (adc_time_s each)
    input_power_read_power_w=_FR5994_P + 0.2e-3 * _FR5994_V + 50e-6 * _FR5994_V,  # [EST]
)

# The boot iNAS measured: 77.88 uJ / 70 ms at the capacitor (0.5 C (V1^2 - V2^2), C = 330 uF,
# 2.99 V -> 2.91 V), including a firmware start-up delay. Use it to reproduce iNAS's setting.
MSP430FR5994_INAS_BOOT = MSP430FR5994.with_(
    name="msp430fr5994-inas-boot",
    boot_time_s=0.07,                        # [iNAS] plat_energy_costs.py L_RB, oscilloscope
    boot_energy_j=77.88e-6,                  # [iNAS] plat_energy_costs.py E_RB, at the capacitor
    boot_measured_at="capacitor",
)

# --------------------------------------------------------------------------------------------
# MSP430FR5994 + external CY15B104Q SPI FRAM (512 KB): the iNAS / Stateful-CNN bench.
# SPI at 4 MHz from SMCLK = 16 MHz / SPIBRW 4 [SCNN]: one 16-bit element = 16 SPI clocks =
# 64 CPU cycles, exactly the slope iNAS measured. The iNAS fits are per 16-bit element n; per
# byte the slope halves. iNAS energies are whole-operation totals at the board supply, which
# include the MCU's active power; the part beyond active power is what is left after
# subtracting cycles x active energy per cycle (the LEA fit leaves ~0, a consistency check).
# --------------------------------------------------------------------------------------------
_INAS_RD_CYC = (64.00000000000001, 423.99999999999994)   # [iNAS] FRAM_TO_SRAM: m n + b cycles
_INAS_WR_CYC = (64.00082974729904, 422.22773129921234)   # [iNAS] SRAM_TO_FRAM
_INAS_RD_J = (2.7e-08, 2.0e-07)                          # [iNAS] FRAM_TO_SRAM: m n + b J
_INAS_WR_J = (2.6815e-08, 1.9336e-07)                    # [iNAS] SRAM_TO_FRAM
_INAS_LEA_CYC = (1.4999999999999978, 616.0000000000002)  # [iNAS] LEAVECMAC


def _extfram_preset(name, rd_cyc, wr_cyc, rd_j, wr_j, lea_cyc, sources):
    """The external-FRAM bench from a set of published linear fits (per 16-bit element)."""
    e = _FR5994_E_CYCLE
    return MSP430FR5994.with_(
        name=name,
        nvm_bytes=512 * 1024,                # [CY15B104Q] 4 Mbit
        nvm_kind="fram-spi",
        nvm_word_bytes=1,                    # [CY15B104Q] each byte is written as it is clocked in
        mac_cycles={"cpu": _INAS_MUL + _INAS_ADD, "vector": lea_cyc[0]},
        mac_call_cycles={"cpu": 4 * _INAS_ADD, "vector": lea_cyc[1]},
        nvm_read_cycles_per_byte=rd_cyc[0] / 2,
        nvm_write_cycles_per_byte=wr_cyc[0] / 2,
        nvm_transfer_cycles=rd_cyc[1],
        nvm_write_transfer_cycles=wr_cyc[1],
        nvm_read_energy_per_byte_j=max(0.0, rd_j[0] - rd_cyc[0] * e) / 2,
        nvm_write_energy_per_byte_j=max(0.0, wr_j[0] - wr_cyc[0] * e) / 2,
        nvm_read_transfer_energy_j=max(0.0, rd_j[1] - rd_cyc[1] * e),
        nvm_write_transfer_energy_j=max(0.0, wr_j[1] - wr_cyc[1] * e),
        weight_memory="fram-internal",       # [SCNN] model constants stay in on-chip FRAM (DMA)
        weight_read_cycles_per_byte=1.5,     # as the internal-FRAM preset
        weight_transfer_cycles=_DMA_SETUP,   # as the internal-FRAM preset
        weight_read_energy_per_byte_j=0.0,
        sources=sources,
    )


MSP430FR5994_EXTFRAM = _extfram_preset(
    "msp430fr5994-extfram", _INAS_RD_CYC, _INAS_WR_CYC, _INAS_RD_J, _INAS_WR_J, _INAS_LEA_CYC,
    ("iNAS micro-benchmarks, EMCLab-Sinica/Intermittent-aware-NAS@f5ea377",
     "Stateful-CNN @37708ef (SPI divider, LEA buffer)", "Cypress CY15B104Q datasheet",
     "TI SLASE54 MSP430FR599x datasheet"))

# Same bench, the TiNAS 2024 re-profile (LEA energy not re-profiled there: iNAS's kept).
MSP430FR5994_EXTFRAM_TINAS = _extfram_preset(
    "msp430fr5994-extfram-tinas", (64.0, 430.0), (64.0, 421.0),
    (2.4096781407047943e-08, 1.9269110618985066e-07),
    (2.3866387540946922e-08, 1.9880671888670114e-07), (1.5, 622.0),
    ("TiNAS re-profile, EMCLab-Sinica/TiNAS@16e5c14", "Cypress CY15B104Q datasheet"))

# --------------------------------------------------------------------------------------------
# TI MSP432P401R (Cortex-M4F) + external CY15B104Q SPI FRAM, CMSIS-style kernels, at the
# 24 MHz Stateful-CNN measured at [SCNN] (48 MHz is the datasheet maximum). SPI clock: SMCLK
# 12 MHz / SPIBRW 4 = 3 MHz ([SCNN] comment; unverified), so one byte = 8 SPI clocks = 64 CPU
# cycles at 24 MHz.
# --------------------------------------------------------------------------------------------
_P401R_V = 3.0
_P401R_F = 24e6                              # [SCNN] FreqLevel 10 -> DCO 24 MHz
_P401R_P = 80e-6 * 24 * _P401R_V             # [DS-P401R] 80 uA/MHz (DC-DC) x 24 MHz x 3 V = 5.76 mW
_SPI_BYTE_4MHZ_J = (_INAS_RD_J[0] - _INAS_RD_CYC[0] * _FR5994_E_CYCLE) / 2  # FRAM chip share per byte
_DRIVERLIB_CALL = 40.0                       # [EST] one MSP432 driverlib (ROM) call: call, a few
                                             # peripheral register read-modify-writes, return
_IRQ_AND_WRAPPER = 50.0                      # [EST] Cortex-M4 IRQ entry/exit (2 x 12) + C wrapper

MSP432P401R = Platform(
    name="msp432p401r",
    clock_hz=_P401R_F,
    supply_v=_P401R_V,
    active_power_w=_P401R_P,
    sleep_power_w=0.66e-6 * _P401R_V,        # [DS-P401R] LPM3 with RTC, SRAM retained, 660 nA
    boot_time_s=1e-3,                        # [EST] reset + clock system + C runtime init
    boot_energy_j=1e-3 * _P401R_P,           # [EST]
    sram_bytes=64 * 1024,                    # [DS-P401R]
    nvm_bytes=512 * 1024,                    # [CY15B104Q]
    nvm_kind="fram-spi",
    nvm_word_bytes=1,                        # [CY15B104Q]
    # cpu: plain C int8 loop (2 LDRSB, MLA, pointer/loop) ~ 4 cycles/MAC [EST].
    # vector: CMSIS q15 SIMD (SMLAD = 2 MACs, operands loaded as 32-bit pairs) ~ 1 cycle/MAC [EST].
    mac_cycles={"cpu": 4.0, "vector": 1.0},
    mac_call_cycles={"cpu": 20.0, "vector": 200.0},   # [EST] call, argument checks, loop set-up
    requant_cycles=12.0,                     # [EST] SMULL + rounding + shift + SSAT + store
    nvm_read_cycles_per_byte=64.0,           # 8 SPI clocks at 3 MHz = 64 cycles at 24 MHz
    nvm_write_cycles_per_byte=64.0,          # idem (F-RAM writes at bus speed)
    # SPI_READ [SCNN tools/ext_fram]: 4 command/address bytes polled (4 x 64) + 17 driverlib
    # calls to program two uDMA channels + the completion IRQ (5 calls) + CS and wrapper.
    nvm_transfer_cycles=4 * 64 + 22 * _DRIVERLIB_CALL + _IRQ_AND_WRAPPER,
    # SPI_WRITE: WREN + 4 command/address bytes (5 x 64) + 9 calls + the IRQ (4 calls).
    nvm_write_transfer_cycles=5 * 64 + 13 * _DRIVERLIB_CALL + _IRQ_AND_WRAPPER,
    nvm_read_energy_per_byte_j=_SPI_BYTE_4MHZ_J * 4 / 3,   # [iNAS]-derived chip share, 4/3 longer at 3 MHz
    nvm_write_energy_per_byte_j=_SPI_BYTE_4MHZ_J * 4 / 3,
    nvm_read_transfer_energy_j=_INAS_RD_J[1] - _INAS_RD_CYC[1] * _FR5994_E_CYCLE,  # same chip [iNAS]
    nvm_write_transfer_energy_j=_INAS_WR_J[1] - _INAS_WR_CYC[1] * _FR5994_E_CYCLE,
    sram_cycles_per_byte=0.75,               # [EST] LDR/STR pairs, 32-bit
    sram_transfer_cycles=20.0,               # [EST] memcpy call and alignment checks
    adc_time_s=20e-6,                        # [EST] REF_A settling + ADC14 sample and conversion
    adc_power_w=_P401R_P + 0.2e-3 * _P401R_V,  # [EST] CPU active waiting + ADC14 and reference
    default_kernel="vector",
    sources=("TI SLAS826 MSP432P401R datasheet", "Stateful-CNN @37708ef (clock, SPI, buffers)",
             "Cypress CY15B104Q datasheet"),
    weight_memory="flash",                   # [SCNN] model constants in on-chip flash (uDMA copies)
    weight_read_cycles_per_byte=1.5,         # [EST] uDMA 16-bit items with 1 flash wait state
    # my_memcpy [SCNN plat-msp430.cpp, MSP432 branch]: 9 driverlib calls + the IRQ (4 calls).
    weight_transfer_cycles=13 * _DRIVERLIB_CALL + _IRQ_AND_WRAPPER,
    weight_read_energy_per_byte_j=0.0,
    vector_max_len=0,                        # CMSIS kernels are limited by SRAM only
    vector_element_bytes=2,                  # CMSIS q15 / CMSIS-NN s8->s16 widening
    loop_cycles=3.0,                         # [EST] ADD, CMP, branch (taken: 1+P)
    has_fpu=True,                            # [DS-P401R] Cortex-M4F
    requant_float_cycles=20.0,               # [EST] VCVT, VMUL, VCVTR, add zero point, SSAT, store
)

# --------------------------------------------------------------------------------------------
# Analog Devices MAX78000: Cortex-M4F + CNN accelerator that runs a layer atomically; weights
# live in a volatile CNN SRAM reloaded from flash at every boot; flash is the only NVM.
# --------------------------------------------------------------------------------------------
_MAX_V = 3.0
_MAX_F = 100e6                               # [MAX-DS]
_MAX_P = 22.2e-6 * 100 * _MAX_V              # [MAX-DS, UNVERIFIED] 22.2 uA/MHz from cache x 100 MHz x 3 V

MAX78000 = Platform(
    name="max78000",
    clock_hz=_MAX_F,
    supply_v=_MAX_V,
    active_power_w=_MAX_P,
    sleep_power_w=30e-6 * _MAX_V,            # [EST] low-power mode with full SRAM retention ~ tens of uA
    boot_time_s=2e-3,                        # [EST] POR + ROM bootloader jump + SystemInit + C runtime
    boot_energy_j=2e-3 * _MAX_P,             # [EST]
    sram_bytes=128 * 1024,                   # [MAX-DS]
    nvm_bytes=512 * 1024,                    # [MAX-HAL]
    nvm_kind="flash",
    nvm_word_bytes=16,                       # [MAX-HAL] 128-bit write granularity
    # accelerator: ~100 MAC per 50 MHz CNN clock [ai8x-136] = 0.02 CPU cycles per MAC at 100 MHz.
    mac_cycles={"cpu": 4.0, "vector": 1.0, "accelerator": 2.0 / 100.0},
    # accelerator call: configure one layer's registers, start, wait for the interrupt [EST].
    mac_call_cycles={"cpu": 20.0, "vector": 200.0, "accelerator": 2000.0},
    requant_cycles=12.0,                     # [EST] as the Cortex-M4F above
    nvm_read_cycles_per_byte=0.5,            # [EST] flash through the instruction cache, 32-bit reads
    # Flash programming: one 128-bit word ~ 40 us [EST, UNVERIFIED, typical of this flash
    # family] = 4000 cycles at 100 MHz per 16 B.
    nvm_write_cycles_per_byte=40e-6 * _MAX_F / 16,
    nvm_transfer_cycles=50.0,                # [EST] loop set-up of a flash read
    nvm_read_energy_per_byte_j=0.0,
    nvm_write_energy_per_byte_j=0.0,
    sram_cycles_per_byte=0.5,                # [EST] 32-bit copies
    sram_transfer_cycles=20.0,               # [EST] memcpy call and alignment checks
    adc_time_s=20e-6,                        # [EST] reference settling + sample and conversion
    adc_power_w=_MAX_P + 0.3e-3 * _MAX_V,    # [EST, UNVERIFIED] CPU active waiting + ADC and reference
    default_kernel="accelerator",
    sources=("MAX78000 datasheet and UG7456 user guide (via the max7800x-hal docs)",
             "analogdevicesinc/ai8x-synthesis issue #136 (MAC rate)"),
    nvm_page_bytes=8192,                     # [MAX-HAL] 64 pages of 8 KiB
    nvm_erase_time_s=30e-3,                  # [EST, UNVERIFIED] page erase, typical of this flash family
    nvm_erase_energy_j=30e-3 * 1e-3 * _MAX_V,  # [EST] ~1 mA extra during the erase
    weight_memory="cnn-sram",
    weight_read_cycles_per_byte=0.0,         # the accelerator reads its own weight SRAM
    weight_transfer_cycles=0.0,
    weight_read_energy_per_byte_j=0.0,
    volatile_weight_bytes=442_000,           # [MAX-DS] 442k 8-bit weights
    weight_reload_fixed_cycles=20_000.0,     # [EST] cnn_init + cnn_load_bias + cnn_configure
    weight_reload_cycles_per_byte=2.0,       # [EST] CPU word copy flash -> CNN SRAM over the bus
    weight_reload_energy_per_byte_j=0.0,
    vector_max_len=0,
    vector_element_bytes=2,
    loop_cycles=3.0,                         # [EST]
    has_fpu=True,                            # [MAX-DS] Cortex-M4 with FPU
    requant_float_cycles=20.0,               # [EST]
    accelerator_power_w=15e-3,               # [EST, UNVERIFIED] CNN engine at 50 MHz
    # The TECS 2023 toolchain's ULP mode: CPU halted, SRAM and the CNN memories kept powered.
    ulp_power_w=30e-6 * _MAX_V,              # [EST] as sleep_power_w: LPM with full retention ~ tens of uA
    ulp_retains_accelerator=True,            # [EST, UNVERIFIED] CNN weight/data SRAM kept in that mode
    # input power: a current-sense amplifier on the harvester output read by the ADC (two
    # conversions: current and voltage) at the ADC's cost
    input_power_read_time_s=2 * 20e-6,       # [EST] two ADC conversions (adc_time_s each)
    input_power_read_power_w=_MAX_P + 0.3e-3 * _MAX_V + 50e-6 * _MAX_V,  # [EST] ADC read + ~50 uA sense amplifier
)

# iNAS's bench as the simulator runs it (issue 13 item 5): external FRAM and iNAS's measured boot
MSP430FR5994_EXTFRAM_INAS_BOOT = MSP430FR5994_EXTFRAM.with_(
    name="msp430fr5994-extfram-inas-boot",
    boot_time_s=0.07,                        # [iNAS] plat_energy_costs.py L_RB, oscilloscope
    boot_energy_j=77.88e-6,                  # [iNAS] plat_energy_costs.py E_RB, at the capacitor
    boot_measured_at="capacitor",
)

PRESETS = {p.name: p for p in (MSP430FR5994, MSP430FR5994_INAS_BOOT, MSP430FR5994_EXTFRAM,
                               MSP430FR5994_EXTFRAM_TINAS, MSP430FR5994_EXTFRAM_INAS_BOOT, MSP432P401R, MAX78000)}


def get_platform(name: str) -> Platform:
    """Look up a preset by name; unknown names list the valid ones."""
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise PlatformError(f"unknown platform preset {name!r}; valid: {', '.join(sorted(PRESETS))}") from None
