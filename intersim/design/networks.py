"""int8 networks of iNAS's template architectures (anchor §5) with seeded random weights.

The latency of a design does not depend on weight values, so every published solution's network
is built from its layer shapes: stride-1 unpadded convolutions with ReLU ("conv"), dense layers
("fc", the first KWS layer taking the flattened 250-value input), global average pooling
("gavgpool"), and the final classifier ``FC_END`` without ReLU. Weights are random He-normal,
quantised per channel, activation scales calibrated on random inputs
(:class:`intersim.nn.zoo.literature._Calibrated`): the networks compute real int8 arithmetic
but classify nothing.
"""
from __future__ import annotations

from ..errors import ModelError
from ..nn.network import Network
from ..nn.zoo.literature import _Calibrated, _meta
from .designs import NetworkDesign


def template_network(design: NetworkDesign, seed: int = 0) -> Network:
    """The int8 network whose design-layer shapes are ``design``'s, in order.

    Layer names are the design's (``CONV_0``, ``GAVGPOOL_0``, ``FC_END``...); a flatten is
    inserted before a dense layer that follows a (C, 1, 1) map. Raises
    :class:`~intersim.errors.ModelError` for a shape the template cannot build.
    """
    first = design.layers[0].shape
    if first.kind == "fc":
        input_shape = (first.N * first.H * first.W,)
    else:
        input_shape = (first.N, first.H, first.W)
    c = _Calibrated(design.name, input_shape, seed)
    last = len(design.layers) - 1
    for i, plan in enumerate(design.layers):
        s = plan.shape
        here = c.b.tensors[c.b.last]
        if s.kind == "conv":
            if here != (s.N, s.H, s.W):
                raise ModelError(f"design {design.name!r} layer {plan.name!r}: input {here} != N,H,W "
                                 f"= {(s.N, s.H, s.W)}")
            c.conv(s.M, (s.Kh, s.Kw), relu=i != last, name=plan.name)
        elif s.kind == "gavgpool":
            c.gavgpool(name=plan.name)
        elif s.kind == "fc":
            if len(here) == 3:
                c.flatten(name=f"{plan.name}_flatten")
            if c.b.tensors[c.b.last][0] != s.N * s.H * s.W:
                raise ModelError(f"design {design.name!r} layer {plan.name!r}: {c.b.tensors[c.b.last][0]} "
                                 f"inputs != N*H*W = {s.N * s.H * s.W}")
            c.dense(s.M, relu=i != last, name=plan.name)
        else:  # pragma: no cover - LayerShape validates kinds
            raise ModelError(f"layer {plan.name!r}: kind {s.kind!r}")
    return c.build(_meta(f"iNAS template (anchor §5), design {design.name}", None, seed))
