"""Training with JAX + optax, deterministic given a seed.

Settings (what makes two runs with the same seed give bit-identical weights):

* CPU only, float32 (``jax_enable_x64`` is not touched; every array is cast to float32).
* Initialisation from ``jax.random.PRNGKey(seed)`` (:func:`intersim.train.arch.init_params`);
  batch order and augmentation from ``numpy.random.default_rng(seed)``; no dropout, so no other
  randomness.
* One jitted step (loss, ``jax.value_and_grad``, optax update); batches of a fixed size (the
  remainder of each shuffled epoch is dropped), so the step compiles once.
* XLA's CPU convolutions and reductions are deterministic for a given jax/jaxlib build and
  machine; bit-identity is checked by ``tests/train`` on this machine, not promised across
  jaxlib versions or CPUs.

Optimiser: ``optax.adamw`` with a cosine-decayed learning rate (``optax.cosine_decay_schedule``
over all steps), cross-entropy on the logits.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ._backend import ModelError
from ._jax import require_jax
from .arch import CNNSpec, forward, init_params, to_numpy


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of :func:`train`.

    epochs : int  passes over the training split
    batch_size : int  examples per step
    learning_rate : float  peak learning rate [1/step], cosine-decayed to 0
    weight_decay : float  decoupled weight decay of adamw [1/step, relative to the learning rate]
    shift : int  random translation augmentation [pixels] along H and W (0: none); zero fill
    seed : int  drives initialisation, shuffling and augmentation
    """

    epochs: int = 60
    batch_size: int = 32
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    shift: int = 0
    seed: int = 0

    def __post_init__(self):
        if (int(self.epochs) < 1 or int(self.batch_size) < 1 or not self.learning_rate > 0 or int(self.shift) < 0
                or self.weight_decay < 0):
            raise ModelError(f"TrainConfig needs epochs, batch_size >= 1, learning_rate > 0, shift and weight_decay >= 0; "
                             f"got {asdict(self)}")


def cross_entropy(logits, labels):
    """Mean softmax cross-entropy [nats] of integer ``labels``."""
    _, _, optax = require_jax()
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def _shift_batch(x: np.ndarray, rng: np.random.Generator, max_shift: int) -> np.ndarray:
    """Translate each example by a random (dy, dx) in [-max_shift, max_shift], zero fill."""
    n, _, h, w = x.shape
    out = np.zeros_like(x)
    dys = rng.integers(-max_shift, max_shift + 1, n) if h > 1 else np.zeros(n, np.int64)
    dxs = rng.integers(-max_shift, max_shift + 1, n) if w > 1 else np.zeros(n, np.int64)
    for i, (dy, dx) in enumerate(zip(dys, dxs)):
        ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
        xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
        out[i, :, yd, xd] = x[i, :, ys, xs]
    return out


def train(loss_fn, params, x, y, config: TrainConfig):
    """Minimise ``loss_fn(params, x_batch, y_batch)`` over (x, y) with adamw; returns the new params.

    ``params`` is any pytree of float32 arrays (a CNN's dict, a codebook, ...). Deterministic
    given ``config.seed`` (see the module docstring).
    """
    jax, jnp, optax = require_jax()
    x = np.asarray(x, np.float32)
    y = np.asarray(y, np.int32)
    bs = min(int(config.batch_size), len(y))
    steps_per_epoch = len(y) // bs
    schedule = optax.cosine_decay_schedule(float(config.learning_rate), config.epochs * steps_per_epoch)
    opt = optax.adamw(schedule, weight_decay=float(config.weight_decay))
    params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float32), params)
    state = opt.init(params)

    @jax.jit
    def step(params, state, xb, yb):
        loss, grads = jax.value_and_grad(loss_fn)(params, xb, yb)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    rng = np.random.default_rng(int(config.seed))
    for _ in range(int(config.epochs)):
        order = rng.permutation(len(y))
        for s in range(steps_per_epoch):
            idx = order[s * bs:(s + 1) * bs]
            xb = _shift_batch(x[idx], rng, config.shift) if config.shift else x[idx]
            params, state, _ = step(params, state, xb, y[idx])
    return params


def fit(spec: CNNSpec, x, y, config: TrainConfig, params=None) -> dict:
    """Train the CNN ``spec`` on (x, y) from ``init_params(spec, config.seed)`` (or ``params``);
    returns float32 numpy params."""
    require_jax()
    start = init_params(spec, config.seed) if params is None else params

    def loss_fn(p, xb, yb):
        return cross_entropy(forward(p, spec, xb), yb)

    return to_numpy(train(loss_fn, start, x, y, config))


def float_accuracy(params, spec: CNNSpec, x, y, batch: int = 1024) -> float:
    """Accuracy of the float model (for diagnostics only; reported figures are int8, see
    :func:`intersim.train.evaluate.measure_accuracy`)."""
    preds = np.concatenate([np.asarray(forward(params, spec, x[s:s + batch])).argmax(1)
                            for s in range(0, len(y), batch)])
    return float((preds == np.asarray(y)).mean())
