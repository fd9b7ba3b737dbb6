"""Models trained and lightened with JAX + optax, measured through intersim's own int8 kernels.

Optional extra: ``pip install 'intersim[train]'`` (jax, optax; the datasets need scikit-learn
and mnist1d). JAX is imported only inside the functions that train, so this package, the shipped
artefacts (:func:`load_artefact`), :func:`measure_accuracy` and :func:`model_stats` work without it.

Modules, one concept each:

=====================  =======================================================================
``datasets``           digits (8x8) and MNIST-1D with fixed train / validation / test splits
``arch``               the iNAS-style CNN template (:class:`CNNSpec`) and its JAX forward pass
``fit``                deterministic training with optax (:class:`TrainConfig`, :func:`fit`)
``quantize``           post-training int8 quantisation to an intersim ``Network``
``evaluate``           :func:`measure_accuracy` through ``Network.run``
``stats``              :func:`model_stats`: MACs, weight / indexed / activation bytes
``prune``              structured L1 channel pruning with fine-tuning
``weight_sharing``     per-layer k-means codebooks, fine-tuned
``early_exit``         FreeML's single shared exit branch, one ``Network`` per exit point
``artefacts``          the shipped trained networks (read without JAX)
``build_artefacts``    ``python -m intersim.train.build_artefacts`` rebuilds them
``variants``           the lightweighting study table
=====================  =======================================================================
"""
from .arch import CNNSpec, ConvSpec, forward, inas_template_space, init_params
from .artefacts import ARTEFACTS, artefact_info, artefact_samples, load_artefact
from .datasets import DATASETS, Dataset, load_dataset
from .early_exit import cascade_predict, to_early_exit_networks, train_early_exit
from .evaluate import measure_accuracy, predict
from .fit import TrainConfig, fit, float_accuracy, train
from .prune import prune_and_finetune, prune_channels
from .quantize import to_network
from .stats import activation_peak_bytes, indexed_weight_bytes, model_stats
from .weight_sharing import kmeans_1d, share_weights

__all__ = [
    "ARTEFACTS",
    "DATASETS",
    "CNNSpec",
    "ConvSpec",
    "Dataset",
    "TrainConfig",
    "activation_peak_bytes",
    "artefact_info",
    "artefact_samples",
    "cascade_predict",
    "fit",
    "float_accuracy",
    "forward",
    "inas_template_space",
    "indexed_weight_bytes",
    "init_params",
    "kmeans_1d",
    "load_artefact",
    "load_dataset",
    "measure_accuracy",
    "model_stats",
    "predict",
    "prune_and_finetune",
    "prune_channels",
    "share_weights",
    "to_early_exit_networks",
    "to_network",
    "train",
    "train_early_exit",
]
