"""Progress of a long run on stderr: one bar per scheduler, in simulated time.

The engine calls the bar with its simulated time (``Setup.progress``, at most about a thousand
times a run); the bar decides whether and when to show anything:

- on a terminal, nothing for the first ``delay_s`` of wall time (a short run stays silent), then
  a bar (tqdm's when tqdm is installed -- it comes with the ``sweep`` extra -- else one line
  rewritten in place) refreshed at most every ``refresh_s``;
- elsewhere (a log file, CI), one plain line every ``plain_every_s`` of wall time once the
  scheduler has run that long, so a long run is never silent and a short one adds nothing.
"""
from __future__ import annotations

import sys
import time


class ProgressBar:
    """Progress of one scheduler's run; call it with the simulated time [s], then :meth:`close`.

    Parameters
    ----------
    name : str
        The scheduler.
    t0_s, horizon_s : float [s]
        Start and end of the run in simulated time.
    stream : file, optional
        Where to write (default: ``sys.stderr``).
    tty : bool, optional
        Whether ``stream`` is a terminal (default: ``stream.isatty()``).
    delay_s, refresh_s, plain_every_s : float [s]
        Wall-time settings described in the module docstring.
    """

    def __init__(self, name, t0_s, horizon_s, stream=None, tty=None, delay_s=2.0, refresh_s=0.2,
                 plain_every_s=10.0):
        self.name = name
        self.t0_s, self.horizon_s = float(t0_s), float(horizon_s)
        self.stream = stream if stream is not None else sys.stderr
        if tty is None:
            isatty = getattr(self.stream, "isatty", None)
            tty = bool(isatty()) if isatty else False
        self.tty = tty
        self.delay_s, self.refresh_s, self.plain_every_s = delay_s, refresh_s, plain_every_s
        self.wall0 = time.monotonic()
        self.next_show = self.wall0 + (delay_s if tty else plain_every_s)
        self.t_s = self.t0_s
        self.shown = False
        self._tqdm = None

    def _fraction(self):
        span = self.horizon_s - self.t0_s
        return min(max((self.t_s - self.t0_s) / span, 0.0), 1.0) if span > 0 else 1.0

    def __call__(self, t_s: float):
        self.t_s = float(t_s)
        now = time.monotonic()
        if now < self.next_show:
            return
        self.next_show = now + (self.refresh_s if self.tty else self.plain_every_s)
        self._show(now)

    def _show(self, now):
        self.shown = True
        span = self.horizon_s - self.t0_s
        done_s = self._fraction() * span
        if self.tty and self._tqdm is None:
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._tqdm = tqdm(total=round(span, 3), desc=self.name, unit=" s simulated", file=self.stream,
                                  leave=True, dynamic_ncols=True, bar_format=(
                                      "{desc}: {percentage:3.0f}%|{bar}| {n:.4g}/{total:.4g} s simulated "
                                      "[{elapsed}<{remaining}]"))
        if self._tqdm is not None:
            self._tqdm.update(round(done_s, 3) - self._tqdm.n)
            return
        line = (f"{self.name}: {100 * self._fraction():3.0f} % ({done_s:.4g} of {span:.4g} s simulated, "
                f"{now - self.wall0:.0f} s)")
        if self.tty:
            self.stream.write("\r" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self):
        """End the bar: a shown bar is completed to the horizon (the run ended there)."""
        if not self.shown:
            return
        self.t_s = self.horizon_s
        self._show(time.monotonic())
        if self._tqdm is not None:
            self._tqdm.close()
        elif self.tty:
            self.stream.write("\n")
            self.stream.flush()


def progress_bars(stream=None, tty=None, **kwargs):
    """A factory for :func:`intersim.simulate`'s ``progress``: ``(name, t0_s, horizon_s) -> bar``."""
    def make(name, t0_s, horizon_s):
        return ProgressBar(name, t0_s, horizon_s, stream=stream, tty=tty, **kwargs)
    return make


__all__ = ["ProgressBar", "progress_bars"]
