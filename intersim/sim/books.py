"""The energy books of one run (design.md 3.2), kept with compensated sums.

Loads are booked at the MCU pin. Compute and preservation energy is *pending* until a commit
makes it durable (then it is booked in its category, and its time in the request's
``compute_s``/``preserve_s``) or a brown-out discards it (then it is ``reexecution``).
"""
from __future__ import annotations

from ..compensated import NeumaierSum
from ..energy import capacitor as cap

#: Energy-book categories of loads at the MCU pin (design.md 3.2), in table order.
LOAD_BOOKS = ("boot", "restore", "compute", "checkpoint", "reexecution", "sleep")


class EnergyBooks:
    """The books of one run: the capacitor kernels' array (harvested, input loss, clamped,
    leakage, ESR, load), the pin loads by category, the output regulator's loss, the ideal
    supply, and the pending (not yet committed) work.

    Parameters
    ----------
    eta_out : float [1]  output regulator efficiency
    ideal : bool  an ideal supply (``continuous``): pin loads are booked as ``supply``
    current_load : bool  a constant-current load: its supply loss is booked by the caller
    """

    __slots__ = ("cap", "load", "output_loss", "supply", "pending", "_eta_out", "_ideal", "_current_load")

    def __init__(self, eta_out: float, ideal: bool, current_load: bool):
        self.cap = cap.new_books()
        self.load = {k: NeumaierSum() for k in LOAD_BOOKS}
        self.output_loss = NeumaierSum()
        self.supply = NeumaierSum()
        #: (category, pin energy [J], time [s], request index or None) since the last commit
        self.pending = []
        self._eta_out, self._ideal, self._current_load = eta_out, ideal, current_load

    def book_load(self, category, p_pin_w, dt, head, pending=False):
        """Book ``p_pin_w`` [W] for ``dt`` [s] at the pin (pending: for request ``head``)."""
        e_pin = p_pin_w * dt
        if self._ideal:
            self.supply.add(e_pin)
        elif not self._current_load:  # (a current load's supply loss is booked where it is drawn)
            self.output_loss.add(e_pin / self._eta_out - e_pin)
        if pending:
            self.pending.append((category, e_pin, dt, head))
        else:
            self.load[category].add(e_pin)

    def commit(self, requests):
        """Work since the last commit becomes durable: booked in its category, its time in the
        request's ``compute_s`` / ``preserve_s``."""
        for category, e_pin, dt, r in self.pending:
            self.load[category].add(e_pin)
            if r is not None:
                requests.req["compute_s" if category == "compute" else "preserve_s"][r] += dt
        self.pending.clear()

    def discard(self, requests):
        """A brown-out: work since the last commit is lost (``reexecution``)."""
        for category, e_pin, dt, r in self.pending:
            self.load["reexecution"].add(e_pin)
            if r is not None:
                requests.req["reexecution_s"][r] += dt
        self.pending.clear()

    def totals(self, stored_delta_j: float) -> dict:
        """The books as ``energy_*_j`` floats [J] (pending work must have been settled)."""
        cb = cap.book_totals(self.cap)
        books = {
            "energy_harvested_j": cb["harvested_j"],
            "energy_supply_j": self.supply.value,
            "energy_input_loss_j": cb["input_loss_j"],
            "energy_clamped_j": cb["clamped_j"],
            "energy_stored_delta_j": stored_delta_j,
            "energy_leakage_j": cb["leakage_j"],
            "energy_esr_j": cb.get("esr_j", 0.0),
            "energy_output_loss_j": self.output_loss.value,
        }
        for k in LOAD_BOOKS:
            books[f"energy_{k}_j"] = self.load[k].value
        return books
