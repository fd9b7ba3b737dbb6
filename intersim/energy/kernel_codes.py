"""The codes the capacitor kernels share: why an advance stopped, and the rows of the books array
they accumulate (value, Neumaier compensation) in."""
from __future__ import annotations


# Stop reasons returned by the advance kernels.
STOP_TIME = 0      #: reached ``t_stop``
STOP_LOW = 1       #: energy (terminal voltage) fell to ``e_low`` (``v_low``): brown-out or a falling threshold
STOP_HIGH = 2      #: energy (terminal voltage) rose to ``e_high`` (``v_high``): turn-on or a rising threshold
STOP_FULL = 3      #: the segment record buffer is full; call again to continue
STOP_COLLAPSE = 4  #: the load can no longer be served: the terminal collapsed under a load (ESR),
#:                    or the capacitor emptied with no low threshold set (``e_low < 0``)

# Indices of the books the kernels accumulate (value, Neumaier compensation) in ``books[k, 0:2]``.
BOOK_HARVESTED = 0  #: harvested power at the converter input, plus source energy (current/Thevenin)
BOOK_INPUT_LOSS = 1  #: converter input loss, Thevenin source-resistance loss, quiescent current
BOOK_CLAMPED = 2    #: harvest refused at V_max
BOOK_LEAKAGE = 3    #: resistive and constant-current leakage
BOOK_ESR = 4        #: I^2 R loss in the ESR (general kernel only)
BOOK_LOAD = 5       #: energy delivered at the capacitor terminal to the load (general kernel only)
N_BOOKS = 6
