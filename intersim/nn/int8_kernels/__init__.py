"""int8 kernels: numba-compiled loops that write into preallocated ``out`` arrays.

Layout: feature maps are int8 ``(C, H, W)`` (no batch axis), vectors int8 ``(N,)``; weights of a
convolution int8 ``(C_out, C_in / groups, kh, kw)``, of a dense layer int8 ``(N_out, K)``; biases
int32; accumulators int32 (wrapping modulo 2**32 as the C kernels do). Padding is
``(top, left, bottom, right)`` in elements, as ONNX ``pads`` for 2-D.

Every kernel computes only output channels ``[c_lo, c_hi)`` (axis 0) and reads the whole input,
so a layer can be split into tasks along its output channels. Convolution and dense also have an
``accumulate`` form that adds the contribution of input channels ``[ic_lo, ic_hi)`` to an int32
partial-sum buffer, and a ``requant`` that turns the buffer into int8: any split of the reduction
gives the same int32 sums (integer addition is associative modulo 2**32), hence the same bytes.

Public functions (no leading underscore) validate their arguments, allocate ``out`` when it is not
given and call the private ``@njit(cache=True)`` kernel. ``*_ref`` functions are plain-Python /
numpy-int64 references, written independently of the numba loops, for the tests.
"""
from .loops import (  # noqa: F401
    MODE_ONNX, MODE_TFLITE, _NO_PSUM, _NO_OUT, _F32_1, _I32_1, _NO_VEC32, _NO_VEC8, _requant_one,
    _requant_rows, _conv_channel_acc, _conv2d_accumulate, _conv2d, _im2col_rows, _dot_rows, _conv2d_gemm,
    _dense_i16, _maxpool2d, _avgpool2d_onnx, _gavgpool_onnx, _avgpool2d_tflite, _add_onnx, _add_tflite, _clip,
)
from .api import (  # noqa: F401
    pack_conv_weights, use_gemm, pack_dense_weights, _pair, _pads4, _int8, _range, conv_out_hw, _out, _wzp,
    _check_conv, conv2d, conv2d_accumulate, requantize, _check_dense, dense, dense_accumulate, _check_pool,
    maxpool2d, onnx_gavg_scale, avgpool2d, add, clip,
)
from .reference import (  # noqa: F401
    conv2d_acc_ref, requant_ref, conv2d_ref, dense_ref, maxpool2d_ref, avgpool2d_tflite_ref, add_ref, warmup,
)
