"""FreeML's early exit at run time (issue 15, item 2): the composed ``digits_ee`` network,
``freeml-fixed:K`` and ``freeml-adaptive``, ``exit_layer`` and ``[workload] deadline_s``."""
import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from intersim.energy.capacitor import Storage
from intersim.energy.trace import Trace
from intersim.errors import ScenarioError, SchedulerError
from intersim.nn import early_exit, zoo
from intersim.scenario import load_scenario
from intersim.sched.registry import get_scheduler
from intersim.simulate import simulate
from intersim.testing import failure_places, failure_schedules, run_case, violations

from conftest import REPO

NET = zoo.load("digits_ee")
EXITS = {1: zoo.load("digits_ee_exit1"), 2: zoo.load("digits_ee_exit2"), 0: zoo.load("digits_ee_final")}
LAYER = {0: "fc0", 1: "exit1_fc", 2: "exit2_fc"}
STORAGE = Storage(capacitance_f=22e-6, v_on_v=3.0, v_off_v=1.8, v_max_v=3.6, v_initial_v=0.0,
                  leakage_ohm=math.inf, input_efficiency=0.8, output_efficiency=0.9)


def _constant(power_w, duration_s=400.0):
    return Trace(np.array([0.0]), np.array([power_w]), end_s=duration_s)


def _inputs(n, seed=0):
    return np.random.default_rng(seed).integers(-128, 128, (n,) + NET.input_shape).astype(np.int8)


def test_composed_network_answers_equal_each_exit_network():
    x, _ = zoo.samples("digits_ee")
    for xi in x[:40]:
        got = early_exit.answers(NET, xi)
        for code, net in EXITS.items():
            assert np.array_equal(got[code], net.run(xi)), code
    assert early_exit.answer_layers(NET) == LAYER
    # the MACs of each answer are those digits_ee.json records for its exit network
    assert early_exit.answer_macs(NET) == {0: 42112, 1: 13904, 2: 23120}
    plain = early_exit.backbone(NET)
    assert [l.name for l in plain.layers] == [l.name for l in EXITS[0].layers]


@pytest.mark.parametrize("k", [1, 2])
def test_fixed_exit_answers_bit_equal_to_the_exit_network(k):
    """Under injected failures the answer is exit K's, and its top-1 is the exit-K network's own."""
    run, req = run_case(get_scheduler(f"freeml-fixed:{k}"), NET, "channels:4", _constant(2e-3), STORAGE,
                        brownout_at=[("words", 7), ("cycles", 25_000), None, ("cycles", 9_000)], n_requests=3)
    assert run.counts["power_failures"] >= 2
    assert list(req["status"]) == ["done"] * 3
    assert req["correct"].all() and set(req["exit_layer"]) == {LAYER[k]}
    # predicted comes from the result buffer's bytes: compare with the stand-alone exit network
    rng_inputs = np.random.default_rng(4).integers(-128, 128, size=(3,) + NET.input_shape, dtype=np.int64).astype(np.int8)
    assert list(req["predicted"]) == [int(EXITS[k].run(x).argmax()) for x in rng_inputs]


def test_adaptive_huge_deadline_is_the_final_head_tiny_deadline_exits_first():
    big = run_case(get_scheduler("freeml-adaptive"), NET, "layer", _constant(2e-3), STORAGE, n_requests=2,
                   deadline_s=1e6)[1]
    assert set(big["exit_layer"]) == {"fc0"} and big["correct"].all()
    tiny = run_case(get_scheduler("freeml-adaptive"), NET, "layer", _constant(2e-3), STORAGE, n_requests=2,
                    deadline_s=1e-6)[1]
    assert set(tiny["exit_layer"]) == {"exit1_fc"} and tiny["correct"].all()
    # without a deadline it never exits early
    none = run_case(get_scheduler("freeml-adaptive"), NET, "layer", _constant(2e-3), STORAGE, n_requests=2)[1]
    assert set(none["exit_layer"]) == {"fc0"}


def test_adaptive_exits_where_the_energy_until_the_deadline_runs_short():
    """With 1 s to the deadline, a bright harvest pays for the whole network, a dim one does not."""
    bright = run_case(get_scheduler("freeml-adaptive"), NET, "layer", _constant(20e-3), STORAGE, n_requests=2,
                      deadline_s=1.0)[1]
    dim = run_case(get_scheduler("freeml-adaptive"), NET, "layer", _constant(0.05e-3), STORAGE, n_requests=2,
                   deadline_s=1.0, drain_s=400.0)[1]
    assert set(bright["exit_layer"]) == {"fc0"}
    assert dim["status"].eq("done").all() and "fc0" not in set(dim["exit_layer"])


@pytest.mark.parametrize("deadline_s, layer", [(0.1, "exit1_fc"), (0.15, "exit2_fc"), (0.3, "fc0")])
def test_adaptive_with_plenty_of_energy_answers_from_the_deepest_head_in_time(deadline_s, layer):
    """1 mF charged and 0.5 W harvested: only time limits. On the MSP430 an answer from exit 1
    takes ~0.08 s, from exit 2 ~0.12 s, from the final head ~0.2 s (measured by this test)."""
    full = Storage(capacitance_f=1e-3, v_on_v=3.0, v_off_v=1.8, v_max_v=3.6, v_initial_v=3.5,
                   leakage_ohm=math.inf, input_efficiency=0.8, output_efficiency=0.9)
    run, req = run_case(get_scheduler("freeml-adaptive"), NET, "layer", _constant(0.5), full, deadline_s=deadline_s)
    assert run.counts["power_failures"] == 0
    assert set(req["exit_layer"]) == {layer} and (req["latency_s"] <= deadline_s).all()


def _scenario(tmp_path, deadline="", names='["jit", "freeml-fixed:1", "freeml-fixed:2", "freeml-adaptive"]',
              model="digits_ee"):
    text = f"""name = "ee"
[trace]
generator = "constant"
power_w = 2e-3
duration_s = 40.0
[storage]
capacitance_f = 47e-6
v_on_v = 3.0
v_off_v = 2.0
v_max_v = 3.6
[platform]
preset = "msp430fr5994"
[model]
name = "{model}"
[workload]
period_s = 4.0
duration_s = 16.0
drain_s = 20.0
{deadline}
[schedulers]
names = {names}
"""
    path = tmp_path / "ee.toml"
    path.write_text(text)
    return path


def test_simulate_records_exit_layer_and_the_summary_exit_statistics(tmp_path):
    res = simulate(_scenario(tmp_path, "deadline_s = 0.3"), record_timeline=False)
    s = res.summary.set_index("scheduler")
    assert list(s["verdict"]) == ["ok"] * 4
    req = res.requests
    assert req["correct"].all()
    by = req.groupby("scheduler")["exit_layer"].agg(lambda v: sorted(set(v)))
    assert by["jit"] == ["fc0"] and by["freeml-fixed:1"] == ["exit1_fc"] and by["freeml-fixed:2"] == ["exit2_fc"]
    assert s.loc["jit", "exit_final_rate"] == 1.0 and s.loc["freeml-fixed:1", "exit_final_rate"] == 0.0
    assert s.loc["freeml-fixed:2", "exits"] == "exit2_fc:4"
    # jit runs the backbone only: exactly the final network's tasks
    assert res.runs[0].requests["exit_layer"].tolist() == ["fc0"] * 4
    for name, g in req.groupby("scheduler"):
        met = (g["latency_s"] <= 0.3).mean()
        assert list(g["deadline_met"]) == list(g["latency_s"] <= 0.3)
        assert s.loc[name, "deadline_met_rate"] == met
    assert 0 < s["deadline_met_rate"].max() and s["deadline_met_rate"].min() < 1  # (both outcomes occur)
    plain = simulate(_scenario(tmp_path, names='["jit"]'), record_timeline=False)
    assert math.isnan(plain.summary["deadline_met_rate"][0]) and plain.requests["deadline_met"].isna().all()


@pytest.mark.parametrize("value", ["0.0", "-1.0", '"soon"', "true", "inf"])
def test_bad_deadline_is_refused_in_one_line(tmp_path, value):
    with pytest.raises(ScenarioError) as exc:
        load_scenario(_scenario(tmp_path, f"deadline_s = {value}"))
    msg = str(exc.value)
    assert "\n" not in msg and "workload.deadline_s" in msg and "> 0" in msg


@pytest.mark.parametrize("name, words", [("freeml-fixed:0", "freeml-fixed:1, freeml-fixed:2"),
                                         ("freeml-fixed:x", "freeml-fixed:1, freeml-fixed:2"),
                                         ("freeml-fixed:01", "K an exit point"),
                                         ("freeml-fixed:3", "valid: freeml-fixed:1, freeml-fixed:2")])
def test_bad_exit_names_are_refused_in_one_line(tmp_path, name, words):
    with pytest.raises(SchedulerError) as exc:
        simulate(_scenario(tmp_path, names=f'["{name}"]'), record_timeline=False)
    msg = str(exc.value)
    assert "\n" not in msg and name in msg and words in msg


def test_fixed_exit_on_a_network_without_exits_is_refused(tmp_path):
    with pytest.raises(SchedulerError, match="has no exit point 1; valid: none"):
        simulate(_scenario(tmp_path, names='["freeml-fixed:1"]', model="digits_cnn"), record_timeline=False)
    # the adaptive policy runs it whole, as jit does
    res = simulate(_scenario(tmp_path, "deadline_s = 0.05", names='["freeml-adaptive"]', model="digits_cnn"),
                   record_timeline=False)
    assert res.requests["correct"].all() and set(res.requests["exit_layer"]) == {"fc"}  # digits_cnn's head


def test_early_exit_scenario_validates():
    sc = load_scenario(REPO / "scenarios" / "early_exit.toml")
    assert sc.data["model"]["name"] == "digits_ee" and sc.data["workload"]["deadline_s"] > 0
    names = sc.scheduler_names()
    assert {"jit", "freeml-fixed:1", "freeml-fixed:2", "freeml-adaptive"} <= set(names)


def test_freeml_answers_equal_the_exit_taken_under_failures():
    """The shipped property: every completed request is bit-equal to the continuous output of the
    exit it took, and the books balance, under generated failures (inside tasks and checkpoints)."""
    tally = Counter()

    @settings()
    @given(name=st.sampled_from(["freeml-fixed:1", "freeml-fixed:2", "freeml-adaptive"]),
           granularity=st.sampled_from(["layer", "channels:4", "channel", "layer,ic:4"]),
           capacitance_f=st.sampled_from([10e-6, 22e-6, 47e-6]),
           power_w=st.sampled_from([0.2e-3, 1e-3, 5e-3]),
           deadline_s=st.sampled_from([None, 1e-3, 0.05, 0.5, 5.0]),
           brownout_at=failure_schedules(max_failures=8, max_cycles=120_000, max_words=300))
    def prop(name, granularity, capacitance_f, power_w, deadline_s, brownout_at):
        storage = Storage(capacitance_f=capacitance_f, v_on_v=3.0, v_off_v=1.8, v_max_v=3.6, v_initial_v=0.0,
                          leakage_ohm=math.inf, input_efficiency=0.8, output_efficiency=0.9)
        run, req = run_case(get_scheduler(name), NET, granularity, _constant(power_w), storage, brownout_at,
                            n_requests=2, deadline_s=deadline_s)
        places = failure_places(run)
        for where in places:
            event(f"brown-out inside {where}")
        tally["examples"] += 1
        tally["task"] += "task" in places
        tally["preservation"] += "preservation" in places
        tally.update(x for x in req["exit_layer"] if x)
        problems = violations(run, req)
        assert not problems, f"{name}: " + "; ".join(problems)
        assert req["status"].eq("done").any()

    prop()
    n = tally["examples"]
    assert tally["task"] >= 0.3 * n and tally["preservation"] >= 0.05 * n, tally
    assert all(tally[layer] for layer in LAYER.values()), tally  # every answer was exercised
