"""Lazy import of JAX and optax (the optional extra ``intersim[train]``).

Nothing in :mod:`intersim.train` imports JAX at module level: reading a shipped artefact,
measuring its accuracy through intersim's kernels and computing its size need only numpy.
"""
from __future__ import annotations

from ._backend import ModelError

INSTALL_HINT = "pip install 'intersim[train]'  (jax>=0.4.30, optax>=0.2)"


def require_jax():
    """Return ``(jax, jax.numpy, optax)``, or raise :class:`ModelError` saying how to install them.

    JAX runs on the CPU in float32 here: the package never enables ``jax_enable_x64`` and casts
    every array it creates to float32, so a user's global x64 setting does not change results.
    """
    try:
        import jax
        import jax.numpy as jnp
        import optax
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ModelError(f"training needs JAX and optax, which are not installed ({exc}); {INSTALL_HINT}") from exc
    return jax, jnp, optax
