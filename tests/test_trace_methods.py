"""Trace.slice / resample / concat / cumulative_energy_j, and CSV round trips, as properties."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from intersim.errors import TraceError
from intersim.energy.trace import Trace
from intersim.energy.trace_io import load_trace, save_trace

finite_power = st.floats(0.0, 5.0, allow_nan=False, allow_infinity=False)


@st.composite
def traces(draw, min_size=1, max_size=30):
    steps = draw(st.lists(st.floats(1e-3, 100.0), min_size=min_size, max_size=max_size))
    start = draw(st.floats(-100.0, 100.0))
    edges = start + np.cumsum([0.0] + steps)
    # cumulative sums can collide after rounding: keep strictly increasing edges only
    edges = edges[np.concatenate(([True], np.diff(edges) > 0))]
    if edges.size < 2:
        edges = np.array([start, start + 1.0])
    power = draw(st.lists(finite_power, min_size=edges.size - 1, max_size=edges.size - 1))
    return Trace(edges[:-1], power, float(edges[-1]), loop=draw(st.booleans()))


@given(traces(), st.floats(1e-2, 500.0))
def test_resample_preserves_energy(tr, period_s):
    r = tr.resample(period_s)
    assert r.end_s == tr.end_s and r.start_s == tr.start_s and r.loop == tr.loop
    assert r.energy_j() == pytest.approx(tr.energy_j(), rel=1e-9, abs=1e-12)
    assert r.max_power_w() <= tr.max_power_w() * (1 + 1e-9) + 1e-15


@given(traces(), st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_slice_then_concat_is_identity(tr, a, b, c):
    t0, m, t1 = sorted(tr.start_s + np.array([a, b, c]) * tr.duration_s)
    if not (t0 < m < t1):
        return
    whole = tr.slice(t0, t1)
    joined = tr.slice(t0, m).concat(tr.slice(m, t1))
    assert joined.start_s == whole.start_s and joined.end_s == whole.end_s
    probe = np.concatenate((whole.time_s, np.linspace(t0, t1, 50, endpoint=False)))
    assert np.array_equal(joined.power_at(probe), whole.power_at(probe))
    assert joined.energy_j() == pytest.approx(whole.energy_j(), rel=1e-12, abs=1e-15)


@given(traces(min_size=2))
def test_slice_energy_matches_cumulative_energy(tr):
    t0, t1 = tr.start_s + 0.25 * tr.duration_s, tr.start_s + 0.75 * tr.duration_s
    expected = tr.cumulative_energy_j(t1) - tr.cumulative_energy_j(t0)
    assert tr.slice(t0, t1).energy_j() == pytest.approx(expected, rel=1e-9, abs=1e-12)


@given(traces())
def test_csv_round_trip_property(tmp_path_factory, tr):
    path = save_trace(tr, tmp_path_factory.mktemp("rt") / "t.csv")
    back = load_trace(path)
    assert back.time_s.tobytes() == tr.time_s.tobytes()
    assert back.power_w.tobytes() == tr.power_w.tobytes()
    assert back.end_s == tr.end_s and back.loop == tr.loop


def test_concat_shifts_the_second_trace():
    a = Trace([0.0, 1.0], [1.0, 2.0], 2.0)
    b = Trace([10.0, 12.0], [3.0, 0.0], 13.0)
    c = a.concat(b)
    assert c.time_s.tolist() == [0.0, 1.0, 2.0, 4.0] and c.end_s == 5.0
    assert c.energy_j() == pytest.approx(a.energy_j() + b.energy_j())


def test_slice_and_resample_refusals():
    t = Trace([0.0, 1.0], [1.0, 2.0], 2.0, name="tt")
    with pytest.raises(TraceError, match=r"tt: slice \[1.5, 3.0\)"):
        t.slice(1.5, 3.0)
    with pytest.raises(TraceError, match="period_s 0.0"):
        t.resample(0.0)
    r = t.resample(0.75)
    assert r.time_s.tolist() == [0.0, 0.75, 1.5] and r.power_w.tolist() == pytest.approx([1.0, 5 / 3, 2.0])
