"""An early-exit network as one :class:`~intersim.nn.network.Network` the engine can run: the
backbone with, after each exit point, the layers of FreeML's shared exit branch.

:mod:`intersim.train.early_exit` ships one Network per exit point (backbone prefix, then
``exit_gap``, ``exit_flatten``, ``exit_fc``) beside the full backbone (``final``).
:func:`compose` joins them: the final network's layers in order, and right after the layer an
exit point reads, that exit's branch layers renamed ``exit{k}_gap``, ``exit{k}_flatten``,
``exit{k}_fc`` (writing ``exit{k}_...`` tensors). The network's output stays the final head's;
``meta["early_exit"]`` lists the exit points. Lowered into tasks, each branch is a contiguous run
of tasks between two backbone runs, so a scheduler may run it (answer from exit ``k``) or skip
it (go on with the backbone).

Answers are numbered by *code*: 0 is the network's own output (the final head), ``k >= 1`` the
exit point after conv block ``k`` (the numbering of ``digits_ee.json``'s ``exit_points``). A
network without exit points has the one answer 0.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from .network import Network

#: the branch's layer names in an exit network of :mod:`intersim.train.early_exit`
BRANCH_LAYERS = ("exit_gap", "exit_flatten", "exit_fc")


@dataclass(frozen=True)
class ExitPoint:
    """One exit point of a composed network.

    code : int  exit point (conv block index, >= 1)
    after : str  the backbone tensor the branch reads
    layers : tuple of str  the branch's layer names, in order
    output : str  the tensor holding this exit's answer (int8 logits)
    """

    code: int
    after: str
    layers: tuple
    output: str


def _renamed(layer, name, inputs, output):
    out = copy.copy(layer)  # weights shared (read-only), the names its own
    out.name, out.inputs, out.output = name, list(inputs), output
    return out


def compose(final: Network, exits: dict, name: str) -> Network:
    """One network of ``final`` (the full backbone) and the exit networks ``exits`` (``{code:
    Network}``), each the backbone prefix up to its exit point followed by :data:`BRANCH_LAYERS`.

    Raises :class:`ModelError` (one line) when an exit network's prefix is not the backbone's
    own layers, its branch is not :data:`BRANCH_LAYERS`, or its answer's shape differs from
    the final output's (a result buffer holds either).
    """
    by_name = {layer.name: layer for layer in final.layers}
    branches = {}  # backbone tensor read -> (code, renamed layers)
    points = []
    for code in sorted(exits):
        net = exits[code]
        names = [layer.name for layer in net.layers]
        if tuple(names[-3:]) != BRANCH_LAYERS or not isinstance(code, int) or code < 1:
            raise ModelError(f"exit network {net.name!r} (exit {code!r}) must end in {', '.join(BRANCH_LAYERS)} "
                             f"and have a code >= 1; it has layers {names}")
        for layer in net.layers[:-3]:
            mine = by_name.get(layer.name)
            if mine is None or mine.output != layer.output or mine.inputs != layer.inputs or not _same_weights(mine, layer):
                raise ModelError(f"exit network {net.name!r}: layer {layer.name!r} is not the backbone "
                                 f"{final.name!r}'s own (an exit's prefix must compute the backbone's tensors)")
        if net.tensors[net.output_name] != final.tensors[final.output_name]:
            raise ModelError(f"exit network {net.name!r}: answer shape {net.tensors[net.output_name]} differs from "
                             f"the final output's {final.tensors[final.output_name]}")
        reads = net.layers[-3].inputs[0]
        prev, layers, tensors = reads, [], {}
        for layer in net.layers[-3:]:
            new = f"exit{code}_{layer.name[len('exit_'):]}"
            layers.append(_renamed(layer, new, [prev], new))
            tensors[new] = net.tensors[layer.output]
            prev = new
        if reads in branches:
            raise ModelError(f"exit networks {exits[branches[reads][0]].name!r} and {net.name!r} exit at the same tensor {reads!r}")
        branches[reads] = (code, layers, tensors)
        points.append(ExitPoint(code, reads, tuple(layer.name for layer in layers), prev))
    layers, tensors, qparams = [], dict(final.tensors), dict(final.qparams)
    for layer in final.layers:
        layers.append(layer)
        if layer.output in branches:
            code, extra, shapes = branches.pop(layer.output)
            layers.extend(extra)
            tensors.update(shapes)
            src = exits[code]
            qparams.update({new: src.qparams[old.output] for new, old in zip(shapes, src.layers[-3:])})
    if branches:
        raise ModelError(f"exit networks read tensors the backbone {final.name!r} never writes: {sorted(branches)}")
    meta = dict(final.meta)
    meta.pop("exit_point", None)
    meta["early_exit"] = [{"code": p.code, "after": p.after, "layers": list(p.layers), "output": p.output}
                          for p in points]
    return Network(name, final.input_name, final.output_name, tensors, layers, qparams, final.semantics, meta)


def _same_weights(a, b) -> bool:
    for attr in ("weight", "bias"):
        wa, wb = getattr(a, attr, None), getattr(b, attr, None)
        if (wa is None) != (wb is None) or (wa is not None and not np.array_equal(wa, wb)):
            return False
    return type(a) is type(b)


def exit_points(network) -> tuple:
    """The :class:`ExitPoint` s of ``network`` in backbone order (empty without any)."""
    return tuple(ExitPoint(int(p["code"]), p["after"], tuple(p["layers"]), p["output"])
                 for p in network.meta.get("early_exit", ()))


def answer_layers(network) -> dict:
    """``{code: name of the layer whose output is that answer}``: 0 the final head's, ``k`` exit
    ``k``'s ``exit{k}_fc`` (the value of ``requests.csv``'s ``exit_layer``)."""
    final = next(layer.name for layer in network.layers if layer.output == network.output_name)
    out = {0: final}
    out.update({p.code: p.layers[-1] for p in exit_points(network)})
    return out


def answer_tensors(network) -> dict:
    """``{code: tensor holding that answer}`` (0: the network's output)."""
    out = {0: network.output_name}
    out.update({p.code: p.output for p in exit_points(network)})
    return out


def answer_macs(network) -> dict:
    """``{code: MACs [MAC] of one inference answered there}``: the backbone up to the exit point
    and the branch once (0: the backbone's MACs, no branch)."""
    path = backbone(network) if exit_points(network) else network
    out = {0: path.total_macs()}
    branch_names = {name for p in exit_points(network) for name in p.layers}
    for p in exit_points(network):
        n = 0
        for layer in network.layers:
            if layer.name not in branch_names and layer.reduces:
                n += layer.macs(0, layer.out_channels)
            if layer.output == p.after:
                break
        branch = [network.layer(name) for name in p.layers]
        out[p.code] = n + sum(layer.macs(0, layer.out_channels) for layer in branch if layer.reduces)
    return out


def backbone(network) -> Network:
    """``network`` without its exit branches (itself when it has none): what a scheduler that
    does not exit early runs -- exactly the final network :func:`compose` was given."""
    points = exit_points(network)
    if not points:
        return network
    drop = {name for p in points for name in p.layers}
    layers = [layer for layer in network.layers if layer.name not in drop]
    keep = {network.input_name} | {layer.output for layer in layers}
    meta = {k: v for k, v in network.meta.items() if k != "early_exit"}
    return Network(f"{network.name}_backbone", network.input_name, network.output_name,
                   {k: v for k, v in network.tensors.items() if k in keep}, layers,
                   {k: v for k, v in network.qparams.items() if k in keep}, network.semantics, meta)


def answers(network, x) -> dict:
    """``{code: int8 answer}`` of one continuous inference on ``x``: every exit's and the final."""
    bufs = network.run_all(x)
    return {code: bufs[t] for code, t in answer_tensors(network).items()}


__all__ = ["BRANCH_LAYERS", "ExitPoint", "compose", "exit_points", "answer_layers", "answer_tensors",
           "answer_macs", "backbone", "answers"]
