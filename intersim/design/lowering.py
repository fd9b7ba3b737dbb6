"""Lowering an execution design to tasks the engine runs: one task = one tile.

A tile of a conv/dense layer is output rows ``Tr`` x columns ``Tc`` x channels ``Tm`` for input
channels ``Tn``; its task carries the tile's fetches (input ``I``, weights ``W``), its MACs, the
re-fetch of its partial sums for ``n > 0`` tiles (``O``) and its backup, in the design's loop
order, with the iNAS-PMod structure of a power cycle (anchor §3) split over its ``S`` tiles:

* ``reuse_I`` loops r, c, n, then m (the cycle's S tiles share one input tile): the first tile
  of a cycle fetches ``I``; each fetches ``W`` (and ``O`` for n > 0); the last backs up
  ``Tr Tc`` DMAs of ``S Tm``;
* ``reuse_W`` loops m, n, then r, c: the first tile fetches ``W``; each fetches ``I`` (and
  ``O``) and backs up ``Tr Tc`` DMAs of ``Tm``;
* ``reuse_O`` loops r, c, m, then n: each fetches ``I`` and ``W``; the first fetches ``O`` (if
  n > 0), the last backs up ``Tr Tc`` DMAs of ``Tm``;
* global average pooling loops m, then input tiles ``Tr x Tc``: each fetches its input tile and
  pools it; the first fetches, the last backs up the ``Tm`` sums.

So the ``S`` tiles of a cycle cost exactly PMod's cycle without the reboot and the index record
(the scheduler's boot and :class:`~intersim.sched.contract.WriteWords`). Costs come from a
:class:`~intersim.design.prices.PriceList` (use ``intersim:<preset>`` for the platform the
engine simulates). The arithmetic is real: int32 partial sums of ``Tn`` input channels
accumulate exactly, the last ``n`` tile requantises, and running every task gives
``Network.run`` bit for bit.

Partial sums live in up to three buffers per layer (``psum:<layer>:0:<b>``, b = 0, 1, 2). No
task writes the buffer it reads, and no tile of a cycle writes the buffer the cycle's first
tile of that output tile read (a cycle touching an output tile once alternates between buffers 0
and 1; a ``reuse_O`` cycle of several input-channel tiles also uses 2). So re-executing a cut
cycle from its start reads what its first attempt read, and a scheduler that groups tiles its
own way (``static``) finds every write-after-read hazard in the buffers' byte ranges.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ModelError
from ..hw.cost import Cost
from ..nn.tasks import Task, psum_name
from .designs import ExecutionDesign, LayerPlan, NetworkDesign
from .prices import PriceList
from .shapes import LayerShape, conv, dense, gavgpool


def design_layers(network):
    """``[(layer index, LayerShape)]`` of the network's layers an execution design tiles: conv
    (stride 1, groups 1), dense and global average pooling (ONNX semantics). Convolutions with
    padding are described by the window their outputs see (``H = R + Kh - 1``)."""
    out = []
    for li, layer in enumerate(network.layers):
        if layer.op == "conv2d" and layer.groups == 1 and layer.stride == (1, 1) and layer.dilation == (1, 1):
            m, r, c = layer.out_shape
            kh, kw = layer.weight.shape[2:]
            out.append((li, conv(layer.in_channels, r + kh - 1, c + kw - 1, m, kh, kw)))
        elif layer.op == "dense":
            out.append((li, dense(layer.in_channels, layer.out_channels)))
        elif layer.op == "avgpool" and getattr(layer, "is_global", False) and layer.semantics == "onnx":
            n, h, w = layer.in_shapes[0]
            out.append((li, gavgpool(n, h, w)))
    return out


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def derived_design(network, rng: np.random.Generator, name: str = "derived") -> NetworkDesign:
    """A random legal-shaped design of every tileable layer (tiles dividing the layer, a random
    order and an S dividing the inner trip count): for property tests and networks without an
    explored design."""
    plans = []
    for li, s in design_layers(network):
        pick = lambda n: int(rng.choice(_divisors(n)))  # noqa: E731
        tr, tc, tm = pick(s.R if not s.is_pool else s.H), pick(s.C if not s.is_pool else s.W), pick(s.M)
        tn = 1 if s.is_pool else pick(s.N)
        order = "reuse_O" if s.is_pool else str(rng.choice(["reuse_I", "reuse_W", "reuse_O"]))
        inner = _inner_trips(s, ExecutionDesign(tr, tc, tm, tn, order, 1))
        plans.append(LayerPlan(network.layers[li].name, s,
                               ExecutionDesign(tr, tc, tm, tn, order, int(rng.choice(_divisors(inner))))))
    return NetworkDesign(name, plans)


def _inner_trips(s: LayerShape, d: ExecutionDesign) -> int:
    rt, ct = math.ceil((s.H if s.is_pool else s.R) / d.Tr), math.ceil((s.W if s.is_pool else s.C) / d.Tc)
    if s.is_pool:
        return rt * ct
    return {"reuse_I": math.ceil(s.M / d.Tm), "reuse_W": rt * ct, "reuse_O": math.ceil(s.N / d.Tn)}[d.order]


def _lin(lin, n):
    return np.array([lin.per_call.energy_j + n * lin.per_element.energy_j,
                     lin.per_call.latency_s + n * lin.per_element.latency_s])


def _p(price):
    return np.array([price.energy_j, price.latency_s])


def _tile_prices(s: LayerShape, d: ExecutionDesign, p: PriceList) -> dict:
    """(energy [J], latency [s]) of the parts of one tile (anchor §3 per-tile DMA counts)."""
    o = d.order_code
    if s.is_pool:
        return {"I": d.Tr * d.Tc * (_lin(p.rd_input, d.Tm) + _p(p.fd_input)),
                "CP": d.Tr * d.Tc * d.Tm * (_p(p.pool_op) + _p(p.op_pool)),
                "O": _lin(p.rd_psum, d.Tm) + _p(p.fd_psum[2]),
                "BD": _lin(p.wr_psum, d.Tm) + _p(p.bd_psum[2])}
    tri, tci = d.Tr + s.Kh - 1, d.Tc + s.Kw - 1
    per_out = _lin(p.mac, d.Tn) + _p(p.add) + _p(p.op_psum) + _p(p.op_acum)
    return {"I": tri * tci * (_lin(p.rd_input, d.Tn) + _p(p.fd_input)),
            "W": s.Kh * s.Kw * d.Tm * (_lin(p.rd_weight, d.Tn) + _p(p.fd_weight)),
            "O": d.Tr * d.Tc * (_lin(p.rd_psum, d.Tm) + _p(p.fd_psum[o])),
            "CP": s.Kh * s.Kw * d.Tr * d.Tc * d.Tm * per_out,
            "BD1": d.Tr * d.Tc * (_lin(p.wr_psum, d.Tm) + _p(p.bd_psum[o])),
            "BDS": lambda k: d.Tr * d.Tc * (_lin(p.wr_psum, k * d.Tm) + _p(p.bd_psum[o]))}


def _tile_cost(parts, s, d, n, first, last, k, clock_hz) -> Cost:
    """The tile's share of its cycle (module docstring); ``k`` tiles in the cycle."""
    if s.is_pool:
        x = parts["I"] + parts["CP"] + (parts["O"] if first else 0) + (parts["BD"] if last else 0)
    else:
        x = parts["CP"].copy()
        o_fetch = parts["O"] if n > 0 else 0
        if d.order == "reuse_I":
            x += parts["W"] + o_fetch + (parts["I"] if first else 0) + (parts["BDS"](k) if last else 0)
        elif d.order == "reuse_W":
            x += parts["I"] + o_fetch + parts["BD1"] + (parts["W"] if first else 0)
        else:
            x += parts["I"] + parts["W"] + (o_fetch if first else 0) + (parts["BD1"] if last else 0)
    cycles = max(int(round(float(x[1]) * clock_hz)), 1)
    return Cost(cycles, cycles / clock_hz, float(x[0]))


def _tiles(s: LayerShape, d: ExecutionDesign):
    """Tiles ``(r, c, m, n)`` (tile indices) in the design's loop order, each with the key of
    its inner loop (a cycle never spans two)."""
    rt, ct = math.ceil((s.H if s.is_pool else s.R) / d.Tr), math.ceil((s.W if s.is_pool else s.C) / d.Tc)
    mt, nt = math.ceil(s.M / d.Tm), (1 if s.is_pool else math.ceil(s.N / d.Tn))
    if s.is_pool:
        return [((m,), (r, c, m, 0)) for m in range(mt) for r in range(rt) for c in range(ct)]
    if d.order == "reuse_I":
        return [((r, c, n), (r, c, m, n)) for r in range(rt) for c in range(ct) for n in range(nt) for m in range(mt)]
    if d.order == "reuse_W":
        return [((m, n), (r, c, m, n)) for m in range(mt) for n in range(nt) for r in range(rt) for c in range(ct)]
    return [((r, c, m), (r, c, m, n)) for r in range(rt) for c in range(ct) for m in range(mt) for n in range(nt)]


def _cycles_of(tiles, S):
    """Group consecutive tiles into power cycles of ``S`` tiles, never across an inner loop."""
    groups, cur, key = [], [], None
    for k, tile in tiles:
        if cur and (len(cur) == S or k != key):
            groups.append(cur)
            cur = []
        cur.append(tile)
        key = k
    if cur:
        groups.append(cur)
    return groups


def _check(plan: LayerPlan, shape: LayerShape, layer):
    s = plan.shape
    keys = ("N", "H", "W", "M", "R", "C", "Kh", "Kw") if s.kind != "fc" else ("M",)
    bad = [k for k in keys if getattr(s, k) != getattr(shape, k)] or (
        ["kind"] if s.is_pool != shape.is_pool else [])
    if s.kind == "fc" and layer.in_channels != s.N * s.H * s.W:
        bad.append("N*H*W")
    if bad:
        raise ModelError(f"design layer {plan.name!r} does not match network layer {layer.name!r}: "
                         f"{', '.join(bad)} differ ({s.as_dict()} vs {shape.as_dict()})")


def lower_design(network, design: NetworkDesign, prices: PriceList, clock_hz: float) -> list:
    """Tasks of ``network`` under ``design`` (module docstring): tile tasks for the layers
    :func:`design_layers` finds (matched in order to ``design.layers``), one whole-layer task
    (priced from the memory layout, its own power cycle) for every other layer.

    Parameters
    ----------
    network : intersim.nn.network.Network
    design : NetworkDesign
    prices : PriceList  prices of the tiles' primitives
    clock_hz : float [Hz]  the simulated platform's clock (task durations are in its cycles)
    """
    tiled = design_layers(network)
    if len(tiled) != len(design.layers):
        raise ModelError(f"design {design.name!r} has {len(design.layers)} layers; network "
                         f"{network.name!r} has {len(tiled)} tileable (conv/dense/global pool) layers")
    plans = {li: (plan, shape) for (li, shape), plan in zip(tiled, design.layers)}
    tasks, cycle = [], 0
    for li, layer in enumerate(network.layers):
        if li not in plans:
            n_out = layer.out_channels
            inner = int(np.prod(network.tensors[layer.output][1:], dtype=np.int64))
            tasks.append(Task(index=len(tasks), layer=li, name=layer.name, op=layer.op, inputs=tuple(layer.inputs),
                              output=layer.output, c_start=0, c_stop=n_out, macs=int(layer.macs(0, n_out)),
                              n_outputs=n_out * inner, out_byte_start=0, out_byte_stop=n_out * inner,
                              weight_bytes=int(layer.weight_bytes(0, n_out)), kernel=layer.kernel,
                              input_bytes=int(layer.input_bytes(0, n_out)), cycle=cycle))
            cycle += 1
            continue
        plan, shape = plans[li]
        _check(plan, shape, layer)
        cycle = _lower_layer(tasks, network, li, layer, plan, prices, clock_hz, cycle)
    return tasks


def _lower_layer(tasks, network, li, layer, plan, prices, clock_hz, cycle) -> int:
    s, d = plan.shape, plan.design
    parts = _tile_prices(s, d, prices)
    out_shape = network.tensors[layer.output]
    h, w = (out_shape[1], out_shape[2]) if len(out_shape) == 3 else (1, 1)
    nt = 1 if s.is_pool else math.ceil(s.N / d.Tn)
    last_n = (math.ceil(s.H / d.Tr) * math.ceil(s.W / d.Tc) - 1) if s.is_pool else nt - 1
    per_n = layer.in_channels // (s.N if s.kind != "fc" else s.N) if not s.is_pool else 1
    where = {}   # output tile -> the partial-sum buffer (0, 1, 2) holding its sums
    common = dict(layer=li, op=layer.op, inputs=tuple(layer.inputs), output=layer.output, kernel=layer.kernel)
    for group in _cycles_of(_tiles(s, d), d.S):
        came_from = {}  # output tile -> the buffer this cycle's first tile of it read (or None)
        for j, (r, c, m, n) in enumerate(group):
            m0, m1 = m * d.Tm, min(s.M, (m + 1) * d.Tm)
            if s.is_pool:
                region, in_region = (0, 1, 0, 1), (r * d.Tr, min(s.H, (r + 1) * d.Tr), c * d.Tc,
                                                   min(s.W, (c + 1) * d.Tc))
                key, step, ic = (m,), r * math.ceil(s.W / d.Tc) + c, (0, 0)
            else:
                region, in_region = (r * d.Tr, min(h, (r + 1) * d.Tr), c * d.Tc, min(w, (c + 1) * d.Tc)), None
                key, step = (r, c, m), n
                ic = (n * d.Tn * per_n, min(s.N, (n + 1) * d.Tn) * per_n)
            first_tile = not tasks or tasks[-1].layer != li
            src_buf = where.get(key) if step > 0 else None
            if key not in came_from:
                came_from[key] = src_buf
            # never write the buffer this cycle's re-execution starts from, nor the one read now
            dst_buf = min(b for b in (0, 1, 2) if b not in (came_from[key], src_buf))
            src = None if src_buf is None else psum_name(layer.name, 0, src_buf)
            final = step == last_n
            r0, r1, q0, q1 = region
            n_out = (m1 - m0) * (r1 - r0) * (q1 - q0)
            tile = "x".join(str(v) for v in (r, c, m, n))
            tasks.append(Task(
                index=len(tasks), name=f"{layer.name}[{tile}]", c_start=m0, c_stop=m1,
                macs=int(s.Kh * s.Kw * n_out * (ic[1] - ic[0]) // max(per_n, 1)) if not s.is_pool else
                int(n_out * (in_region[1] - in_region[0]) * (in_region[3] - in_region[2])),
                n_outputs=n_out, out_byte_start=(m0 * h + r0) * w + q0, out_byte_stop=((m1 - 1) * h + r1 - 1) * w + q1,
                # the layer's weights are counted once (on its first tile): the memory checks and a
                # volatile weight memory's reload sum them over the tasks
                weight_bytes=int(layer.weight_bytes(0, layer.out_channels)) if first_tile else 0,
                kind="final" if final else "accumulate", ic_start=ic[0], ic_stop=ic[1], psum_src=src,
                psum_dst=None if final else psum_name(layer.name, 0, dst_buf),
                input_bytes=0, region=region, in_region=in_region, cycle=cycle,
                cost=_tile_cost(parts, s, d, step, j == 0, j == len(group) - 1, len(group), clock_hz), **common))
            if not final:
                where[key] = dst_buf
        cycle += 1
    return cycle
