"""Price lists of the iNAS performance model (iNAS-PMod): what each primitive costs.

A :class:`PriceList` gives every primitive the model counts (a DMA call moving ``n`` elements,
one vector MAC call of length ``n``, a CPU add, an addressing overhead, a reboot) as an energy
[J] and a latency [s]. Two lists exist:

``inas-compat``
    the constants of the published iNAS code, quirks included, so the model reproduces the
    published predictions (anchor ``../shared/anchors/inas.md`` §2, §9).
``intersim:<preset>``
    the same primitives priced by intersim's own cost model (:mod:`intersim.cost`) on a platform
    preset (:mod:`intersim.platform`): int8 inputs and weights, int32 partial sums, whichever
    non-volatile memory the preset has.

This is the ONLY module of :mod:`intersim.design` that imports :mod:`intersim.platform` and
:mod:`intersim.cost` (they are moving to ``intersim.hw``): the path change is one edit below.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import PlatformError
from ..hw.cost import task_cost, transfer_cost
from ..hw.platform import PRESETS, get_platform

#: Loop orders in the order the price tables index them (anchor §3).
ORDER_NAMES = ("reuse_I", "reuse_W", "reuse_O")


@dataclass(frozen=True)
class Price:
    """One primitive's cost: ``energy_j`` [J] and ``latency_s`` [s]."""

    energy_j: float
    latency_s: float


@dataclass(frozen=True)
class Linear:
    """A primitive whose cost is ``per_call + n x per_element`` (``n`` elements)."""

    per_element: Price
    per_call: Price


@dataclass(frozen=True)
class PriceList:
    """Every primitive iNAS-PMod counts, priced.

    Attributes (units in brackets)
    ------------------------------
    name : str
    rd_input, rd_weight, rd_psum : Linear  DMA NVM -> VM of ``n`` input / weight / partial-sum
        elements (one call)
    wr_psum : Linear  DMA VM -> NVM of ``n`` partial-sum (output) elements
    rd_index, wr_index : Price  fetch / back up the 4-word loop-index record
    mac : Linear  one vector MAC call of length ``n``
    add : Price  the add of a MAC result into its accumulator
    pool_op : Price  one pooled element (iNAS: a q15 MAX)
    fd_input, fd_weight : Price  addressing overhead per input / weight DMA call
    fd_psum, bd_psum : tuple[Price, Price, Price]  addressing overhead per partial-sum fetch /
        backup DMA call, by loop order (reuse_I, reuse_W, reuse_O)
    op_psum, op_acum : Price  addressing overheads per MAC call
    op_pool : Price  addressing overhead per pooled element
    reboot : Price  one boot and progress recovery, charged once per power cycle
    input_bytes, weight_bytes, psum_bytes : int [B]  bytes one element occupies in VM
    vm_capacity_bytes : int [B]  volatile-memory budget of the tile buffers (constraint C0)
    recharge_margin_quirk : bool  the end-of-cycle voltage is computed from the margin-scaled
        energy budget (iNAS code, anchor §4); False: from V_on
    pool_fixed_design_quirk : bool  the continuous model and the fixed-design evaluator size a
        pooling input tile as ``Tr + H - 1`` (iNAS code, anchor §3, §9.7); False: ``Tr``
    sources : tuple[str]
    """

    name: str
    rd_input: Linear
    rd_weight: Linear
    rd_psum: Linear
    wr_psum: Linear
    rd_index: Price
    wr_index: Price
    mac: Linear
    add: Price
    pool_op: Price
    fd_input: Price
    fd_weight: Price
    fd_psum: tuple
    bd_psum: tuple
    op_psum: Price
    op_acum: Price
    op_pool: Price
    reboot: Price
    input_bytes: int
    weight_bytes: int
    psum_bytes: int
    vm_capacity_bytes: int
    recharge_margin_quirk: bool = False
    pool_fixed_design_quirk: bool = False
    sources: tuple = field(default=())


# ---------------------------------------------------------------------------------------------
# inas-compat: anchor §2 (iNAS/CostModel/microbench_measurements.py, plat_energy_costs.py
# @ 18bb84e). Latencies are given in cycles and divided by the 16 MHz clock.
# ---------------------------------------------------------------------------------------------
_CLOCK_HZ = 16000000.0                                  # §2 CPU_CLOCK_MSP430
_RD = ((2.7e-08, 2.0e-07), (64.00000000000001, 423.99999999999994))      # §2 E/L_DMA_NVM_TO_VM
_WR = ((2.6815e-08, 1.9336e-07), (64.00082974729904, 422.22773129921234))  # §2 E/L_DMA_VM_TO_NVM
_MAC = ((5.27308646249e-10, 2.04412689725e-07), (1.4999999999999978, 616.0000000000002))  # §2 LEA
_E_ADD, _L_ADD = 3.935538461538471e-09, 12.0            # §2 CPU ADD [J], [cycles]
_E_MUL, _L_MUL = 1.9253346153846146e-08, 44.0           # §2 CPU MUL
_E_MAX, _L_MAX = 4.228153846153846e-09, 14.0            # §2 CPU MAX (q15 compare)
_E_RB, _L_RB = 7.788e-05, 0.07                          # §2 reboot / progress recovery, [J], [s]
_VM_CAPACITY_B = 2048                                   # §4 VM_CAPACITY (settings.py 4096-2048)
_Q15_B = 2                                              # §4 DATA_SZ


def _inas_linear(coeffs) -> Linear:
    (e_slope, e_icpt), (c_slope, c_icpt) = coeffs
    return Linear(Price(e_slope, c_slope / _CLOCK_HZ), Price(e_icpt, c_icpt / _CLOCK_HZ))


def _ovhd(n_add, n_mul_e, n_mul_l=None, *, latency_is_energy=False) -> Price:
    """Addressing overhead ``n_add`` ADD + ``n_mul`` MUL (§2 table)."""
    energy = n_add * _E_ADD + n_mul_e * _E_MUL
    if latency_is_energy:
        # §2 quirk: L_FD_O_* / L_BD_O_* are written with the energy constants, used as seconds.
        return Price(energy, energy)
    n_mul_l = n_mul_e if n_mul_l is None else n_mul_l
    return Price(energy, (n_add * _L_ADD + n_mul_l * _L_MUL) / _CLOCK_HZ)


def _at(lin: Linear, n: float) -> Price:
    return Price(lin.per_call.energy_j + n * lin.per_element.energy_j,
                 lin.per_call.latency_s + n * lin.per_element.latency_s)


def inas_compat_prices() -> PriceList:
    """The published iNAS price list, quirks included (anchor §2, §9)."""
    rd, wr = _inas_linear(_RD), _inas_linear(_WR)
    return PriceList(
        name="inas-compat",
        rd_input=rd, rd_weight=rd, rd_psum=rd, wr_psum=wr,
        rd_index=_at(rd, 4), wr_index=_at(wr, 4),          # §3 rd(4) / wr(4): 4-word index record
        mac=_inas_linear(_MAC),
        add=Price(_E_ADD, _L_ADD / _CLOCK_HZ),
        pool_op=Price(_E_MAX, _L_MAX / _CLOCK_HZ),
        fd_input=_ovhd(7, 5),                              # §2 FD_I_OVHD
        fd_weight=_ovhd(8, 9, 10),                         # §2 FD_W_OVHD; quirk: L uses 10 MUL
        fd_psum=(_ovhd(7, 5, latency_is_energy=True),      # §2 FD_O_RUI_OVHD (quirk)
                 _ovhd(7, 4, latency_is_energy=True),      # §2 FD_O_RUW_OVHD (quirk)
                 _ovhd(7, 4, latency_is_energy=True)),     # §2 FD_O_RUO_OVHD (quirk)
        bd_psum=(_ovhd(9, 8, latency_is_energy=True),      # §2 BD_O_RUI_OVHD (quirk)
                 _ovhd(11, 9, latency_is_energy=True),     # §2 BD_O_RUW_OVHD (quirk)
                 _ovhd(7, 5, latency_is_energy=True)),     # §2 BD_O_RUO_OVHD (quirk)
        op_psum=_ovhd(7, 5, 10),                           # §2 OP_PSUM_OVHD; quirk: L uses 10 MUL
        op_acum=_ovhd(3, 3),                               # §2 OP_ACUM_OVHD
        op_pool=_ovhd(2, 1),                               # §2 OP_MAX_OVHD
        reboot=Price(_E_RB, _L_RB),                        # §2 E_RB, L_RB
        input_bytes=_Q15_B, weight_bytes=_Q15_B, psum_bytes=_Q15_B,
        vm_capacity_bytes=_VM_CAPACITY_B,
        recharge_margin_quirk=True,                        # §4 margin quirk
        pool_fixed_design_quirk=True,                      # §3, §9.7 GAVGPOOL tile quirk
        sources=("iNAS anchor §2-§4, §9 (EMCLab-Sinica/Intermittent-aware-NAS @ 18bb84e)",),
    )


# ---------------------------------------------------------------------------------------------
# intersim:<preset>: the same primitives priced by intersim.cost on a platform preset.
# ---------------------------------------------------------------------------------------------
_INT8_B = 1          # int8 inputs and weights in NVM
_PSUM_B = 4          # int32 partial sums (TFLM/CMSIS accumulators)
_INDEX_RECORD_B = 8  # 4 loop indices of 16 bits, as iNAS's record (§3 rd(4))
_FIT_N = 512         # [elements] second point of the two-point linear fits below


def _fit(cost_of_n) -> Linear:
    """Linear (per call, per element) from a cost function of an element count."""
    c0, c1 = cost_of_n(0), cost_of_n(_FIT_N)
    return Linear(Price((c1.energy_j - c0.energy_j) / _FIT_N, (c1.time_s - c0.time_s) / _FIT_N),
                  Price(c0.energy_j, c0.time_s))


def _as_price(c) -> Price:
    return Price(c.energy_j, c.time_s)


def intersim_prices(preset: str, *, kernel: str | None = None,
                    vm_capacity_bytes: int | None = None) -> PriceList:
    """iNAS-PMod's primitives priced by intersim's cost model on platform ``preset``.

    Parameters
    ----------
    preset : str  a name in :data:`intersim.platform.PRESETS`
    kernel : str  kernel kind doing the MACs (default: "vector" where the preset has one)
    vm_capacity_bytes : int [B]  tile-buffer budget (default: the vector unit's shared SRAM, or
        the whole SRAM)
    """
    p = get_platform(preset)
    kernel = kernel or ("vector" if "vector" in p.mac_cycles else p.default_kernel)
    if kernel not in p.mac_cycles:
        raise PlatformError(f"kernel {kernel!r} is not available on {p.name}; "
                            f"valid: {', '.join(p.kernel_kinds)}")
    elem_vm = p.vector_element_bytes if kernel == "vector" else _INT8_B
    vm_cap = vm_capacity_bytes or (p.lea_shared_sram_bytes or p.sram_bytes)

    def rd(nb):
        return _fit(lambda n: transfer_cost(p, n * nb, "nvm_to_sram", transfers=1))

    def wr(nb):
        return _fit(lambda n: transfer_cost(p, n * nb, "sram_to_nvm", transfers=1))

    rd_weight = _fit(lambda n: task_cost(p, kernel, 0, 0, weight_read_bytes=n * _INT8_B,
                                         weight_read_transfers=1, calls=0, requant="none"))
    mac = _fit(lambda n: task_cost(p, kernel, n, 0, calls=1, requant="none"))
    # One loop iteration: intersim's price of address/index bookkeeping and of a scalar add.
    loop = _as_price(task_cost(p, "cpu" if "cpu" in p.mac_cycles else kernel, 0, 0, calls=0,
                               loop_iterations=1, requant="none"))
    pool = _fit(lambda n: task_cost(p, "cpu" if "cpu" in p.mac_cycles else kernel, n, 0,
                                    calls=0, requant="none"))
    none = Price(0.0, 0.0)
    return PriceList(
        name=f"intersim:{p.name}",
        rd_input=rd(_INT8_B), rd_weight=rd_weight, rd_psum=rd(_PSUM_B), wr_psum=wr(_PSUM_B),
        rd_index=_as_price(transfer_cost(p, _INDEX_RECORD_B, "nvm_to_sram")),
        wr_index=_as_price(transfer_cost(p, _INDEX_RECORD_B, "sram_to_nvm")),
        mac=mac, add=loop, pool_op=pool.per_element,
        fd_input=loop, fd_weight=loop, fd_psum=(loop,) * 3, bd_psum=(loop,) * 3,
        op_psum=loop, op_acum=none, op_pool=loop,
        reboot=Price(p.boot_energy_j, p.boot_time_s),
        input_bytes=elem_vm, weight_bytes=elem_vm, psum_bytes=_PSUM_B,
        vm_capacity_bytes=int(vm_cap),
        sources=(f"intersim.cost on preset {p.name}",) + tuple(p.sources),
    )


#: Price-list names :func:`get_prices` accepts besides ``intersim:<preset>``.
PRICE_LIST_NAMES = ("inas-compat",) + tuple(f"intersim:{name}" for name in sorted(PRESETS))


def get_prices(name: str) -> PriceList:
    """A price list by name: ``"inas-compat"``, ``"intersim:<preset>"`` or a bare preset name."""
    if name == "inas-compat":
        return inas_compat_prices()
    preset = name.split(":", 1)[1] if isinstance(name, str) and name.startswith("intersim:") else name
    if preset not in PRESETS:
        raise PlatformError(f"unknown price list {name!r}; valid: {', '.join(PRICE_LIST_NAMES)} "
                            f"(or a bare preset name)")
    return intersim_prices(preset)


def preset_names() -> tuple:
    """Names of the platform presets an ``intersim:<preset>`` price list accepts."""
    return tuple(sorted(PRESETS))
