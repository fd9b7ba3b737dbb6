"""The legal design space (anchor §3) and the VM footprint (C0)."""
import numpy as np
import pytest

from intersim.design import (DesignArrays, ExecutionDesign, LayerShape, check_design, conv, dense,
                             enumerate_space, gavgpool, vm_bytes)
from intersim.design.published import contpow_solutions, intpow_solutions, layer_plan
from intersim.design.space import legal_tiles, one_or_even_divisors
from intersim.errors import ModelError


def test_one_or_even_divisors():
    assert one_or_even_divisors(24) == [1, 2, 4, 6, 8, 12, 24]
    assert one_or_even_divisors(9) == [1]
    assert one_or_even_divisors(118) == [1, 2, 118]


def test_legal_tiles_conv_and_pool():
    t = legal_tiles(conv(24, 32, 32, 16, 3, 3))
    assert t["Tr"] == [1, 2, 3, 5, 6, 10, 15, 30] and t["Tn"] == [1, 2, 4, 6, 8, 12, 24]
    p = legal_tiles(gavgpool(24, 12, 12))
    assert p["Tr"] == [1, 2, 4, 6, 12] and p["Tn"] == [1] and p["order"] == ["reuse_O"]


def test_every_published_design_is_legal():
    for sol in intpow_solutions() + contpow_solutions():
        for layer in sol["layers"]:
            plan = layer_plan(layer)
            check_design(plan.shape, plan.design, plan.name)


def test_every_enumerated_design_is_legal_and_unique():
    shape = conv(8, 12, 12, 6, 3, 3)
    space = enumerate_space(shape)
    rows = {tuple(int(getattr(space, k)[i]) for k in ("Tr", "Tc", "Tm", "Tn", "order", "S"))
            for i in range(len(space))}
    assert len(rows) == len(space) > 100
    for i in range(0, len(space), 7):
        check_design(shape, space.design(i))
    one = enumerate_space(shape, batch_one=True)
    assert np.all(one.S == 1) and len(one) < len(space)


def test_illegal_designs_are_refused_with_the_valid_values():
    shape = conv(8, 12, 12, 6, 3, 3)
    with pytest.raises(ModelError, match=r"Tr = 4 .*valid: \[1, 2, 5, 10\]"):
        check_design(shape, ExecutionDesign(4, 1, 1, 1, "reuse_I", 1))
    with pytest.raises(ModelError, match=r"Tn = 3 .*valid: \[1, 2, 4, 8\]"):
        check_design(shape, ExecutionDesign(1, 1, 1, 3, "reuse_I", 1))
    with pytest.raises(ModelError, match=r"S = 3 .*valid: \[1, 2, 6\]"):
        check_design(shape, ExecutionDesign(1, 1, 1, 1, "reuse_I", 3))
    with pytest.raises(ValueError, match="order"):
        ExecutionDesign(1, 1, 1, 1, "reuse_X", 1)


def test_shapes_are_checked():
    with pytest.raises(ModelError, match="R = 5"):
        LayerShape("conv", 3, 8, 8, 4, 5, 6, 3, 3)
    with pytest.raises(ModelError, match="kind"):
        LayerShape("pool", 3, 8, 8, 3, 1, 1, 8, 8)
    assert dense(48, 96) == LayerShape("fc", 48, 1, 1, 96, 1, 1, 1, 1)


def test_vm_footprint_examples_from_the_anchor():
    # anchor §6.3 CIFAR 0.001F ts1: CONV_0 1,16,24,1 reuse_O -> 848 B; GAVGPOOL 1,8,16,1 S16 -> 768 B
    d = DesignArrays.of(ExecutionDesign(1, 16, 24, 1, "reuse_O", 1))
    assert vm_bytes(conv(3, 32, 32, 24, 1, 1), d, 2, 2, 2)[0] == 848
    d = DesignArrays.of(ExecutionDesign(1, 8, 16, 1, "reuse_O", 16))
    assert vm_bytes(gavgpool(16, 16, 16), d, 2, 2, 2)[0] == 768
