"""Requantisation arithmetic of int8 inference, in two semantics chosen per model.

``"onnx"``
    ONNX ``QLinearConv`` / ``QLinearMatMul`` as onnxruntime's CPU provider computes them:
    ``y = saturate(rint(float32(acc) * M) + y_zp)`` with ``M = float32(float32(x_scale * w_scale[c]) / y_scale)``
    evaluated in float32 (not float64), ``rint`` rounding half to even. ``QLinearAdd`` and
    ``QLinearAveragePool`` follow onnxruntime's own float32 arithmetic (see :func:`onnx_add_params`
    and ``kernels.avgpool2d``): onnxruntime does not implement those two as the ONNX text reads.

``"tflite"``
    TensorFlow Lite Micro fixed point: an int32 multiplier ``m`` in Q0.31 and a power-of-two
    ``shift``; ``y = clamp(MultiplyByQuantizedMultiplier(acc, m, shift) + y_zp)`` with gemmlowp's
    ``SaturatingRoundingDoublingHighMul`` and ``RoundingDivideByPOT`` (TFLM
    ``tensorflow/lite/kernels/internal/common.h``, the default double-rounding variant).

Everything here is scalar integer/float32 code compiled by numba (``cache=True``); the plain
Python ``*_ref`` functions beside them are the independent references tests compare against.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ..errors import ModelError

SEMANTICS = ("onnx", "tflite")
INT8_MIN, INT8_MAX = -128, 127
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def check_semantics(semantics: str) -> str:
    """Return ``semantics`` if valid, else raise :class:`ModelError` listing the valid names."""
    if semantics not in SEMANTICS:
        raise ModelError(f"unknown requantisation semantics {semantics!r}; valid: {', '.join(SEMANTICS)}")
    return semantics


# ---------------------------------------------------------------------------------------------
# float32 helpers (ONNX semantics)
# ---------------------------------------------------------------------------------------------
@intrinsic
def _fma_f32_intrinsic(typingctx, a, b, c):
    """llvm.fma.f32: a*b + c with a single rounding, as the AVX2 ``vfmadd`` onnxruntime uses."""
    sig = types.float32(types.float32, types.float32, types.float32)

    def codegen(context, builder, signature, args):
        f32 = ir.FloatType()
        fnty = ir.FunctionType(f32, [f32, f32, f32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.fma.f32")
        return builder.call(fn, args)

    return sig, codegen


@njit(cache=True)
def fma32(a, b, c):
    """float32 fused multiply-add ``a*b + c`` rounded once (round half to even)."""
    return _fma_f32_intrinsic(np.float32(a), np.float32(b), np.float32(c))


def round_f32_ref(q: Fraction) -> float:
    """Exact rational -> nearest float32 (ties to even), without double rounding."""
    if q == 0:
        return 0.0
    sign = -1 if q < 0 else 1
    a = abs(q)
    e = math.floor(math.log2(a.numerator) - math.log2(a.denominator))
    # fix e so that 2**e <= a < 2**(e+1)
    while Fraction(2) ** e > a:
        e -= 1
    while Fraction(2) ** (e + 1) <= a:
        e += 1
    e = max(e, -126)  # subnormals share the exponent of the smallest normal
    ulp = Fraction(2) ** (e - 23)
    n = a / ulp
    fl = n.numerator // n.denominator
    rem = n - fl
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and fl % 2 == 1):
        fl += 1
    return float(np.float32(sign * float(fl * ulp)))


def fma32_ref(a, b, c) -> float:
    """Reference float32 FMA in exact rational arithmetic."""
    return round_f32_ref(Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c)))


def onnx_multiplier(x_scale, w_scale, y_scale) -> np.ndarray:
    """Per-channel requantisation multipliers [1] as onnxruntime forms them.

    ``float32(float32(x_scale * w_scale[c]) / y_scale)``, every step in float32
    (``qlinearconv.cc``: ``X_scale_value * W_scale_data[i] / Y_scale_value``).
    """
    xs = np.float32(x_scale)
    ys = np.float32(y_scale)
    ws = np.atleast_1d(np.asarray(w_scale, dtype=np.float32))
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        return ((xs * ws).astype(np.float32) / ys).astype(np.float32)


@njit(cache=True)
def requant_onnx(acc, scale, zp, lo, hi):
    """int32 accumulator -> int8 value, ONNX/onnxruntime float32 semantics.

    acc: int (taken modulo 2**32 as int32), scale: float32, zp/lo/hi: int. Returns int in [lo, hi].
    Clamping before the rounding (as MlasRequantizeOutput does) equals clamping after, the bounds
    being integers.
    """
    f = np.float32(np.int32(acc)) * scale
    fmin = np.float32(lo - zp)
    fmax = np.float32(hi - zp)
    if f < fmin:
        f = fmin
    if f > fmax:
        f = fmax
    return np.int64(np.rint(f)) + zp


def requant_onnx_ref(acc: int, scale: float, zp: int, lo: int = INT8_MIN, hi: int = INT8_MAX) -> int:
    """Reference of :func:`requant_onnx` with exact rationals: round-half-even of float32 product."""
    acc32 = ((int(acc) + 2**31) % 2**32) - 2**31
    a = round_f32_ref(Fraction(acc32))  # float32(acc)
    prod = round_f32_ref(Fraction(a) * Fraction(float(np.float32(scale))))
    q = Fraction(prod)
    fl = q.numerator // q.denominator
    rem = q - fl
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and fl % 2 == 1):
        fl += 1
    return int(min(max(fl + zp, lo), hi))


# ---------------------------------------------------------------------------------------------
# QLinearAdd (onnxruntime MLAS, x86-64 AVX2 kernel ``MlasQLinearAddKernelAvx2Helper``)
# ---------------------------------------------------------------------------------------------
def onnx_add_params(a_scale, a_zp, b_scale, b_zp, c_scale, c_zp) -> tuple:
    """float32 constants of onnxruntime's QLinearAdd: ``(ratio_a, ratio_b, fixed)``.

    ``ratio_a = float32(a_scale / c_scale)``, ``ratio_b = float32(b_scale / c_scale)``,
    ``fixed = float32(c_zp) - (ratio_a*a_zp + ratio_b*b_zp)`` in float32 where GCC contracts the
    inner expression to ``fma(ratio_a, a_zp, ratio_b*b_zp)`` (-ffp-contract=fast, -mfma); the
    element is then ``rint(fma(a, ratio_a, fma(b, ratio_b, fixed)))`` saturated to int8.
    """
    ra = np.float32(np.float32(a_scale) / np.float32(c_scale))
    rb = np.float32(np.float32(b_scale) / np.float32(c_scale))
    inner = np.float32(fma32_ref(ra, np.float32(a_zp), np.float32(rb * np.float32(b_zp))))
    fixed = np.float32(np.float32(c_zp) - inner)
    return ra, rb, fixed


@njit(cache=True)
def add_onnx(a, b, ra, rb, fixed, lo, hi):
    """One QLinearAdd element (onnxruntime AVX2 arithmetic). a, b: int8 values; returns int."""
    t = fma32(np.float32(b), rb, fixed)
    v = fma32(np.float32(a), ra, t)
    # cvtps_epi32 rounds half to even (out of int32 range it gives INT32_MIN); packs saturate
    if not (v >= np.float32(-2147483648.0) and v < np.float32(2147483648.0)):
        return -128
    if v < np.float32(lo):
        return lo
    if v > np.float32(hi):
        return hi
    return np.int64(np.rint(v))


def add_onnx_ref(a, b, ra, rb, fixed, lo=INT8_MIN, hi=INT8_MAX) -> int:
    t = fma32_ref(float(b), rb, fixed)
    vf = fma32_ref(float(a), ra, t)
    if not (-2.0**31 <= vf < 2.0**31):
        return INT8_MIN  # cvtps_epi32 gives INT32_MIN ("integer indefinite"), packs saturate it
    v = Fraction(vf)
    fl = v.numerator // v.denominator
    rem = v - fl
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and fl % 2 == 1):
        fl += 1
    return int(min(max(fl, lo), hi))


# ---------------------------------------------------------------------------------------------
# TFLite Micro fixed point
# ---------------------------------------------------------------------------------------------
def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """TFLite ``QuantizeMultiplier``: real > 0 -> (int32 multiplier in [2**30, 2**31), shift).

    ``real ~= multiplier * 2**(shift - 31)``; TfLiteRound rounds half away from zero.
    """
    d = float(real_multiplier)
    if d == 0.0:
        return 0, 0
    if not np.isfinite(d) or d < 0:
        raise ModelError(f"requantisation multiplier must be finite and >= 0, got {d!r}")
    q, shift = math.frexp(d)
    q_fixed = int(math.floor(abs(q) * (1 << 31) + 0.5))  # std::round, q > 0
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    if shift > 30:
        raise ModelError(f"requantisation multiplier {d!r} too large for int32 fixed point (shift {shift} > 30)")
    return int(q_fixed), int(shift)


def tflite_multipliers(x_scale, w_scale, y_scale) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (multiplier int32, shift int32) as TFLM ``PopulateConvolutionQuantizationParams``:
    ``double(x_scale) * double(w_scale[c]) / double(y_scale)`` with float32 inputs."""
    ws = np.atleast_1d(np.asarray(w_scale, dtype=np.float32))
    m = np.empty(ws.shape, np.int32)
    s = np.empty(ws.shape, np.int32)
    for i, w in enumerate(ws):
        eff = float(np.float32(x_scale)) * float(w) / float(np.float32(y_scale))
        m[i], s[i] = quantize_multiplier(eff)
    return m, s


@njit(cache=True)
def _trunc_div(a, b):
    """C++ integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    if (a < 0) != (b < 0):
        return -q
    return q


@njit(cache=True)
def srdhm(a, b):
    """gemmlowp SaturatingRoundingDoublingHighMul(int32 a, int32 b) -> int32."""
    a = np.int64(np.int32(a))
    b = np.int64(np.int32(b))
    if a == b and a == -2147483648:
        return np.int64(2147483647)
    ab = a * b
    nudge = np.int64(1 << 30) if ab >= 0 else np.int64(1 - (1 << 30))
    return np.int64(np.int32(_trunc_div(ab + nudge, np.int64(1) << 31)))


@njit(cache=True)
def rdbpot(x, exponent):
    """gemmlowp RoundingDivideByPOT(int32 x, int exponent >= 0) -> int32 (round half away from 0)."""
    x = np.int64(np.int32(x))
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


@njit(cache=True)
def mbqm(x, multiplier, shift):
    """TFLM MultiplyByQuantizedMultiplier(int32 x, int32 multiplier, int shift) -> int32."""
    left = shift if shift > 0 else 0
    right = -shift if shift < 0 else 0
    return rdbpot(srdhm(np.int32(np.int64(x) * (np.int64(1) << left)), multiplier), right)


@njit(cache=True)
def requant_tflite(acc, multiplier, shift, zp, lo, hi):
    """int32 accumulator -> int8 value, TFLM fixed point; returns int in [lo, hi]."""
    v = mbqm(acc, multiplier, shift) + zp
    if v < lo:
        return lo
    if v > hi:
        return hi
    return v


def _wrap32(v: int) -> int:
    return ((int(v) + 2**31) % 2**32) - 2**31


def srdhm_ref(a: int, b: int) -> int:
    a, b = _wrap32(a), _wrap32(b)
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else (1 - (1 << 30))
    num = ab + nudge
    q = abs(num) // (1 << 31)
    return _wrap32(-q if num < 0 else q)


def rdbpot_ref(x: int, exponent: int) -> int:
    """Round x / 2**exponent to nearest, ties away from zero (what the masks implement)."""
    x = _wrap32(x)
    if exponent == 0:
        return x
    q = Fraction(x, 2**exponent)
    fl = q.numerator // q.denominator
    rem = q - fl
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and x > 0):
        fl += 1
    return fl


def mbqm_ref(x: int, multiplier: int, shift: int) -> int:
    left = max(shift, 0)
    right = max(-shift, 0)
    return rdbpot_ref(srdhm_ref(_wrap32(x * (1 << left)), multiplier), right)


def requant_tflite_ref(acc, multiplier, shift, zp, lo=INT8_MIN, hi=INT8_MAX) -> int:
    return int(min(max(mbqm_ref(acc, multiplier, shift) + zp, lo), hi))


@dataclass(frozen=True)
class TfliteAddParams:
    """TFLM int8 ADD parameters (``tensorflow/lite/micro/kernels/add_common.cc``), left_shift 20."""

    left_shift: int
    a_offset: int
    a_multiplier: int
    a_shift: int
    b_offset: int
    b_multiplier: int
    b_shift: int
    out_offset: int
    out_multiplier: int
    out_shift: int

    def as_array(self) -> np.ndarray:
        return np.array([self.left_shift, self.a_offset, self.a_multiplier, self.a_shift, self.b_offset,
                         self.b_multiplier, self.b_shift, self.out_offset, self.out_multiplier, self.out_shift],
                        dtype=np.int64)


def tflite_add_params(a_scale, a_zp, b_scale, b_zp, c_scale, c_zp) -> TfliteAddParams:
    a_s, b_s, c_s = (float(np.float32(v)) for v in (a_scale, b_scale, c_scale))
    left_shift = 20
    twice_max = 2.0 * max(a_s, b_s)
    ra = a_s / twice_max
    rb = b_s / twice_max
    rout = twice_max / ((1 << left_shift) * c_s)
    am, ash = quantize_multiplier(ra)
    bm, bsh = quantize_multiplier(rb)
    om, osh = quantize_multiplier(rout)
    return TfliteAddParams(left_shift, -int(a_zp), am, ash, -int(b_zp), bm, bsh, int(c_zp), om, osh)


@njit(cache=True)
def add_tflite(a, b, p, lo, hi):
    """One TFLM int8 ADD element; ``p`` is :meth:`TfliteAddParams.as_array`."""
    av = (np.int64(a) + p[1]) * (np.int64(1) << p[0])
    bv = (np.int64(b) + p[4]) * (np.int64(1) << p[0])
    sa = mbqm(av, p[2], p[3])
    sb = mbqm(bv, p[5], p[6])
    raw = mbqm(sa + sb, p[8], p[9]) + p[7]
    if raw < lo:
        return lo
    if raw > hi:
        return hi
    return raw


def add_tflite_ref(a, b, p: TfliteAddParams, lo=INT8_MIN, hi=INT8_MAX) -> int:
    av = (int(a) + p.a_offset) * (1 << p.left_shift)
    bv = (int(b) + p.b_offset) * (1 << p.left_shift)
    raw = mbqm_ref(mbqm_ref(av, p.a_multiplier, p.a_shift) + mbqm_ref(bv, p.b_multiplier, p.b_shift),
                   p.out_multiplier, p.out_shift) + p.out_offset
    return int(min(max(raw, lo), hi))


# ---------------------------------------------------------------------------------------------
# Per-layer requantisation record
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Requant:
    """How a conv/dense layer turns its int32 accumulators into int8.

    semantics : "onnx" or "tflite"
    zero_point : int  output zero point
    scale : float32[C]  ONNX multiplier per output channel (``x_scale*w_scale/y_scale``, float32)
    multiplier, shift : int32[C]  TFLM fixed-point multiplier and shift per output channel
    act_min, act_max : int  fused activation bounds (ReLU: act_min = zero_point; ReLU6: act_max too);
        ONNX QLinear models express ReLU by these bounds or by zero point -128 alone.
    """

    semantics: str
    zero_point: int
    scale: np.ndarray = field(default_factory=lambda: np.ones(1, np.float32))
    multiplier: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int32))
    shift: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int32))
    act_min: int = INT8_MIN
    act_max: int = INT8_MAX

    def __post_init__(self):
        check_semantics(self.semantics)
        object.__setattr__(self, "scale", np.ascontiguousarray(np.atleast_1d(self.scale), dtype=np.float32))
        object.__setattr__(self, "multiplier", np.ascontiguousarray(np.atleast_1d(self.multiplier), dtype=np.int32))
        object.__setattr__(self, "shift", np.ascontiguousarray(np.atleast_1d(self.shift), dtype=np.int32))
        if not (INT8_MIN <= self.zero_point <= INT8_MAX):
            raise ModelError(f"output zero point {self.zero_point} outside int8 [-128, 127]")
        if not (INT8_MIN <= self.act_min <= self.act_max <= INT8_MAX):
            raise ModelError(f"activation bounds [{self.act_min}, {self.act_max}] not within int8 and ordered")

    @property
    def mode(self) -> int:
        """0 for onnx, 1 for tflite (the integer the numba kernels switch on)."""
        return SEMANTICS.index(self.semantics)

    @classmethod
    def from_scales(cls, semantics: str, x_scale, w_scale, y_scale, y_zero_point: int,
                    act_min: int = INT8_MIN, act_max: int = INT8_MAX) -> "Requant":
        """Build from real scales [1/LSB]: per-channel ``w_scale`` (array) or per-tensor (scalar)."""
        check_semantics(semantics)
        ws = np.atleast_1d(np.asarray(w_scale, dtype=np.float32))
        if semantics == "onnx":
            return cls("onnx", int(y_zero_point), scale=onnx_multiplier(x_scale, ws, y_scale),
                       act_min=int(act_min), act_max=int(act_max))
        m, s = tflite_multipliers(x_scale, ws, y_scale)
        return cls("tflite", int(y_zero_point), multiplier=m, shift=s, act_min=int(act_min), act_max=int(act_max))

    def channels(self) -> int:
        return len(self.scale) if self.semantics == "onnx" else len(self.multiplier)

    def expand(self, n: int) -> "Requant":
        """Broadcast a per-tensor record to ``n`` channels."""
        if self.channels() == n:
            return self
        if self.channels() != 1:
            raise ModelError(f"requantisation has {self.channels()} channels, layer has {n}")
        return Requant(self.semantics, self.zero_point, np.repeat(self.scale, n) if len(self.scale) == 1 else self.scale,
                       np.repeat(self.multiplier, n), np.repeat(self.shift, n), self.act_min, self.act_max)

    def value(self, acc: int, c: int) -> int:
        """Reference (pure Python) requantisation of one accumulator of channel ``c``."""
        if self.semantics == "onnx":
            return requant_onnx_ref(acc, float(self.scale[c]), self.zero_point, self.act_min, self.act_max)
        return requant_tflite_ref(acc, int(self.multiplier[c]), int(self.shift[c]), self.zero_point,
                                  self.act_min, self.act_max)


def quantize(x_real, scale: float, zero_point: int) -> np.ndarray:
    """float -> int8 as ONNX QuantizeLinear: ``saturate(rint(x / scale) + zp)`` in float32."""
    x = np.asarray(x_real, dtype=np.float32)
    q = np.rint(x / np.float32(scale)) + np.float32(zero_point)
    return np.clip(q, INT8_MIN, INT8_MAX).astype(np.int8)


def dequantize(q, scale: float, zero_point: int) -> np.ndarray:
    """int8 -> float32: ``(q - zp) * scale``."""
    return ((np.asarray(q, dtype=np.int32) - int(zero_point)).astype(np.float32) * np.float32(scale))


def quantize_weights_per_channel(w) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-output-channel int8 weights (axis 0): ``scale[c] = max|w[c]| / 127``.

    Returns (int8 array of w's shape, float32 scales [real per LSB])."""
    w = np.asarray(w, dtype=np.float64)
    flat = w.reshape(len(w), -1)
    scale = (np.maximum(np.abs(flat).max(1), 1e-12) / 127.0).astype(np.float32)
    q = np.clip(np.rint(flat / scale.astype(np.float64)[:, None]), -127, 127).astype(np.int8).reshape(w.shape)
    return q, scale
