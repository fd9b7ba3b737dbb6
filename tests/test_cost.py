"""Cost model: monotone, numba == python, vectorised == scalar, errors name the bad value."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from intersim.hw import cost
from intersim.hw.cost import (Cost, erase_pages_for, task_cost, task_costs, transfer_cost,
                           weight_reload_cost)
from intersim.errors import PlatformError
from intersim.hw.platform import PRESETS, get_platform
from intersim.testing import budget

NAMES = sorted(PRESETS)


def test_cost_contract_and_power():
    c = task_cost(get_platform("msp430fr5994"), "cpu", 100, 10)
    assert isinstance(c, Cost) and isinstance(c.cycles, int)
    assert c.time_s == pytest.approx(c.cycles / 16e6)
    assert c.power_w == pytest.approx(get_platform("msp430fr5994").active_power_w)
    assert Cost(0, 0.0, 0.0).power_w == 0.0


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("field", ["macs", "n_outputs", "sram_read_bytes", "sram_write_bytes",
                                   "nvm_read_bytes", "nvm_write_bytes"])
def test_monotone_in_work(name, field):
    p = get_platform(name)
    base = dict(macs=1000, n_outputs=10, sram_read_bytes=64, sram_write_bytes=64,
                nvm_read_bytes=64, nvm_write_bytes=64)
    prev = None
    for v in (0, 1, 100, 10_000, 1_000_000):
        kw = dict(base, **{field: v})
        c = task_cost(p, p.default_kernel, **kw)
        if prev is not None:
            assert c.cycles >= prev.cycles and c.energy_j >= prev.energy_j
        prev = c
    assert prev.cycles > task_cost(p, p.default_kernel, **dict(base, **{field: 0})).cycles or \
        field in ("sram_read_bytes", "sram_write_bytes") and p.sram_cycles_per_byte == 0


@pytest.mark.parametrize("name", NAMES)
def test_transfer_monotone_and_directions(name):
    p = get_platform(name)
    for d in cost.DIRECTIONS:
        a, b = transfer_cost(p, 10, d), transfer_cost(p, 1000, d)
        assert b.cycles > a.cycles and b.energy_j > a.energy_j
        assert transfer_cost(p, 0, d).cycles == 0


def test_vector_length_limit_splits_calls():
    p = get_platform("msp430fr5994")
    one = task_cost(p, "vector", p.vector_max_len, 0, requant="none")
    two = task_cost(p, "vector", p.vector_max_len + 1, 0, requant="none")
    assert two.cycles - one.cycles == pytest.approx(1.5 + 616, abs=1)


def test_requant_modes_soft_float_dearer_without_fpu():
    p = get_platform("msp430fr5994")
    onnx, tflm, none = (task_cost(p, "cpu", 0, 100, requant=m).cycles for m in ("onnx", "tflm", "none"))
    assert onnx > tflm > none
    m4 = get_platform("msp432p401r")
    assert task_cost(m4, "cpu", 0, 100).cycles < onnx / 10


def test_transfer_overheads_charged_per_transfer():
    p = get_platform("msp430fr5994-extfram")
    one = task_cost(p, "vector", 0, 0, nvm_read_bytes=200, requant="none", calls=0)
    ten = task_cost(p, "vector", 0, 0, nvm_read_bytes=200, nvm_read_transfers=10, requant="none", calls=0)
    assert ten.cycles - one.cycles == 9 * 424
    # 100 16-bit elements: 64 n + 424 cycles
    assert transfer_cost(p, 200, "nvm_to_sram").cycles == 64 * 100 + 424


def test_accelerator_and_flash():
    mx = get_platform("max78000")
    acc = task_cost(mx, "accelerator", 5_000_000, 0, requant="none")
    cpu = task_cost(mx, "cpu", 5_000_000, 0, requant="none")
    assert acc.cycles < cpu.cycles / 100
    assert acc.power_w > mx.active_power_w                       # the CNN engine's extra power
    erased = transfer_cost(mx, 16, "sram_to_nvm", erase_pages=1)
    plain = transfer_cost(mx, 16, "sram_to_nvm")
    assert erased.time_s - plain.time_s == pytest.approx(mx.nvm_erase_time_s, rel=1e-6)
    assert erase_pages_for(mx, 0, 1) == 1 and erase_pages_for(mx, 8191, 8193) == 2
    assert erase_pages_for(get_platform("msp430fr5994"), 0, 10_000) == 0
    r1, r2 = weight_reload_cost(mx, 1000), weight_reload_cost(mx, 100_000)
    assert 0 < r1.cycles < r2.cycles
    assert weight_reload_cost(get_platform("msp430fr5994"), 1000).cycles == 0
    with pytest.raises(PlatformError, match="exceed"):
        weight_reload_cost(mx, 10**7)


def test_errors_name_bad_values_and_choices():
    p = get_platform("msp430fr5994")
    with pytest.raises(PlatformError, match="'accelerator'.*valid: cpu, vector"):
        task_cost(p, "accelerator", 1, 1)
    with pytest.raises(PlatformError, match="'gpu'"):
        task_costs(p, np.array(["cpu", "gpu"]), [1, 1], [1, 1])
    with pytest.raises(PlatformError, match="'double'.*onnx"):
        task_cost(p, "cpu", 1, 1, requant="double")
    with pytest.raises(PlatformError, match="'up'.*sram_to_nvm"):
        transfer_cost(p, 1, "up")
    with pytest.raises(PlatformError, match="macs = -1"):
        task_cost(p, "cpu", -1, 1)
    with pytest.raises(ValueError):
        task_costs(p, "cpu", [1, np.nan], 1)


ARGS = ("macs", "n_outputs", "sram_rd", "sram_wr", "nvm_rd", "nvm_wr", "nvm_rd_n", "nvm_wr_n",
        "w_rd", "w_rd_n", "calls", "loops")


@settings(max_examples=budget(1.5))
@given(st.sampled_from(NAMES), st.integers(0, 2),
       st.lists(st.floats(0, 1e6, allow_nan=False), min_size=len(ARGS), max_size=len(ARGS)),
       st.integers(0, 2), st.integers(0, 3))
def test_numba_kernel_equals_py_func(name, kernel, vals, requant, pages):
    pp = cost.platform_params(get_platform(name))
    vals = [float(np.floor(v)) for v in vals]
    got = cost._task_kernel(pp, kernel, *vals, requant, float(pages))
    ref = cost._task_kernel.py_func(pp, kernel, *vals, requant, float(pages))
    assert got[0] == ref[0]
    assert got[1] == pytest.approx(ref[1], rel=1e-12) and got[2] == pytest.approx(ref[2], rel=1e-12)
    for d in range(3):
        a = cost._transfer_kernel(pp, vals[4], d, vals[6], float(pages if d == 0 else 0))
        b = cost._transfer_kernel.py_func(pp, vals[4], d, vals[6], float(pages if d == 0 else 0))
        assert a[0] == b[0] and a[2] == pytest.approx(b[2], rel=1e-12)


def test_vectorised_kernel_equals_py_func():
    pp = cost.platform_params(get_platform("msp430fr5994-extfram"))
    rng = np.random.default_rng(1)
    n = 50
    arrays = [rng.integers(0, 2, n).astype(np.int64)] + [rng.integers(0, 5000, n).astype(float) for _ in ARGS] \
        + [rng.integers(0, 3, n).astype(np.int64), np.zeros(n)]
    got = cost._task_costs_kernel(pp, *arrays)
    ref = cost._task_costs_kernel.py_func(pp, *arrays)
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_allclose(got[2], ref[2], rtol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_vectorised_entry_equals_scalar_calls(name):
    p = get_platform(name)
    rng = np.random.default_rng(7)
    n = 40
    kinds = np.array(p.kernel_kinds)[rng.integers(0, len(p.kernel_kinds), n)]
    modes = np.array(cost.REQUANT_MODES)[rng.integers(0, 3, n)]
    cols = {k: rng.integers(0, 3000, n) for k in ("macs", "n_outputs", "sram_read_bytes", "sram_write_bytes",
                                                    "nvm_read_bytes", "nvm_write_bytes", "weight_read_bytes")}
    calls = rng.integers(1, 4, n)
    loops = rng.integers(0, 100, n)
    cyc, t, e = task_costs(p, kinds, cols["macs"], cols["n_outputs"], cols["sram_read_bytes"],
                           cols["sram_write_bytes"], cols["nvm_read_bytes"], cols["nvm_write_bytes"],
                           weight_read_bytes=cols["weight_read_bytes"], calls=calls,
                           loop_iterations=loops, requant=modes)
    assert cyc.dtype == np.int64 and len(cyc) == n
    for i in range(n):
        c = task_cost(p, str(kinds[i]), cols["macs"][i], cols["n_outputs"][i], cols["sram_read_bytes"][i],
                      cols["sram_write_bytes"][i], cols["nvm_read_bytes"][i], cols["nvm_write_bytes"][i],
                      weight_read_bytes=cols["weight_read_bytes"][i], calls=calls[i],
                      loop_iterations=loops[i], requant=str(modes[i]))
        assert c.cycles == cyc[i]
        assert c.time_s == pytest.approx(t[i], rel=1e-12) and c.energy_j == pytest.approx(e[i], rel=1e-12)


def test_existing_positional_call_still_works():
    # tasks.price() calls task_cost(platform, kernel, macs, n_outputs, sram_read_bytes=..., ...).
    c = task_cost(get_platform("msp430fr5994"), "cpu", 10, 2, sram_read_bytes=4, sram_write_bytes=4,
                  nvm_read_bytes=8, nvm_write_bytes=2)
    assert c.cycles > 0
