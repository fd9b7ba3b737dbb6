"""Layout shared by the designs that keep every tensor in non-volatile memory with fine-grained
progress words: ``hawaii`` (:mod:`intersim.sched.hawaii`) and ``sonic`` (:mod:`intersim.sched.sonic`)."""
from __future__ import annotations

from .contract import allocate_tensors, allocate_psums, tensor_buffer


def nvm_tensors(memory, setup, words):
    """Every tensor and the double-buffered partial sums in NVM, plus the control ``words``;
    returns the result buffer (the output tensor, in NVM)."""
    net = setup.network
    allocate_tensors(memory, setup, "nvm")
    allocate_psums(memory, setup, "nvm", double_buffer=True)
    for w in words:
        memory.allocate(w, "nvm", (1,), "uint16")
    return tensor_buffer(net.output_name)
