"""Requantisation arithmetic: numba kernels vs their .py_func vs exact-rational references."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from intersim.nn import quant as Q
from intersim.errors import ModelError

i32 = st.integers(-(2**31), 2**31 - 1)
f32_scale = st.floats(1e-6, 50.0, allow_nan=False).map(lambda v: float(np.float32(v)))
zp = st.integers(-128, 127)


@given(i32, f32_scale, zp)
def test_requant_onnx_matches_exact_reference(acc, scale, z):
    s = np.float32(scale)
    ref = Q.requant_onnx_ref(acc, scale, z)
    assert Q.requant_onnx(acc, s, z, -128, 127) == ref
    assert Q.requant_onnx.py_func(acc, s, z, -128, 127) == ref


def test_requant_onnx_rounds_half_to_even_in_float32():
    # 5 * 0.5 = 2.5 -> 2 ; 7 * 0.5 = 3.5 -> 4 (ties to even)
    assert Q.requant_onnx(5, np.float32(0.5), 0, -128, 127) == 2
    assert Q.requant_onnx(7, np.float32(0.5), 0, -128, 127) == 4
    assert Q.requant_onnx(-5, np.float32(0.5), 0, -128, 127) == -2
    # float32, not float64: 16777217 is not a float32, so float32(acc) rounds to 16777216 first
    s = np.float32(2.0 ** -24)
    assert Q.requant_onnx(16777217, s, 0, -128, 127) == 1
    # accumulators wrap modulo 2**32 as int32 arithmetic does
    assert Q.requant_onnx(2**32 + 7, np.float32(1.0), 0, -128, 127) == 7
    # saturation and fused clamp
    assert Q.requant_onnx(10**6, np.float32(1.0), 0, -128, 127) == 127
    assert Q.requant_onnx(-50, np.float32(1.0), -10, -10, 127) == -10


@given(st.integers(-128, 127), st.floats(0.0, 10.0).map(np.float32), st.floats(-300, 300).map(np.float32))
def test_fma32_single_rounding(a, b, c):
    assert float(Q.fma32(np.float32(a), b, c)) == Q.fma32_ref(a, b, c)


def test_onnx_multiplier_is_float32_left_to_right():
    xs, ws, ys = 0.0123, np.array([0.0071, 0.3], np.float32), 0.77
    got = Q.onnx_multiplier(xs, ws, ys)
    want = (np.float32(xs) * ws).astype(np.float32) / np.float32(ys)
    assert got.dtype == np.float32 and np.array_equal(got, want.astype(np.float32))


@given(i32, i32)
def test_srdhm(a, b):
    assert Q.srdhm(a, b) == Q.srdhm_ref(a, b)
    assert Q.srdhm.py_func(a, b) == Q.srdhm_ref(a, b)


def test_srdhm_overflow_case():
    assert Q.srdhm(-(2**31), -(2**31)) == 2**31 - 1


@given(i32, st.integers(0, 31))
def test_rdbpot(x, e):
    assert Q.rdbpot(x, e) == Q.rdbpot_ref(x, e)
    assert Q.rdbpot.py_func(x, e) == Q.rdbpot_ref(x, e)


def test_rdbpot_ties_away_from_zero():
    assert Q.rdbpot(5, 1) == 3 and Q.rdbpot(-5, 1) == -3 and Q.rdbpot(6, 2) == 2 and Q.rdbpot(-6, 2) == -2


@given(st.integers(-(2**24), 2**24), st.floats(1e-6, 0.999, allow_nan=False), zp)
def test_requant_tflite(acc, real, z):
    m, s = Q.quantize_multiplier(real)
    ref = Q.requant_tflite_ref(acc, m, s, z)
    assert Q.requant_tflite(acc, m, s, z, -128, 127) == ref
    assert Q.requant_tflite.py_func(acc, m, s, z, -128, 127) == ref
    # and it is the real product rounded (to within the doubled rounding of TFLM)
    assert abs(ref - min(max(round(acc * real) + z, -128), 127)) <= 1


@given(st.floats(1e-9, 1e3, allow_nan=False))
def test_quantize_multiplier_represents_real(real):
    m, s = Q.quantize_multiplier(real)
    if m == 0:
        assert real < 2.0 ** -31
        return
    assert 2**30 <= m < 2**31
    assert math.isclose(m * 2.0 ** (s - 31), real, rel_tol=2 ** -30)


def test_quantize_multiplier_rejects_bad_values():
    with pytest.raises(ModelError, match="finite"):
        Q.quantize_multiplier(float("nan"))
    with pytest.raises(ModelError, match="too large"):
        Q.quantize_multiplier(2.0 ** 40)


@given(st.integers(-128, 127), st.integers(-128, 127), f32_scale, zp, f32_scale, zp, f32_scale, zp)
def test_add_elements_numba_vs_reference(a, b, sa, za, sb, zb, sc, zc):
    p = Q.onnx_add_params(sa, za, sb, zb, sc, zc)
    assert Q.add_onnx(a, b, *p, -128, 127) == Q.add_onnx_ref(a, b, *p)
    t = Q.tflite_add_params(sa, za, sb, zb, sc, zc)
    assert Q.add_tflite(a, b, t.as_array(), -128, 127) == Q.add_tflite_ref(a, b, t)


def test_requant_record_validates():
    with pytest.raises(ModelError, match="valid: onnx, tflite"):
        Q.Requant("float", 0)
    with pytest.raises(ModelError, match="zero point"):
        Q.Requant("onnx", 200)
    rq = Q.Requant.from_scales("tflite", 0.1, [0.01, 0.02], 0.5, 3, act_min=3)
    assert rq.channels() == 2 and rq.multiplier.dtype == np.int32
    with pytest.raises(ModelError, match="channels"):
        rq.expand(3)


def test_quantize_dequantize_round_trip():
    q = Q.quantize([0.0, 0.5, 1.0, 100.0], 1 / 240, -128)
    assert q.tolist() == [-128, -8, 112, 127]
    assert np.allclose(Q.dequantize(q[:3], 1 / 240, -128), [0.0, 0.5, 1.0])
