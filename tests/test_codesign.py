"""Issue 14 items 4-5: trained artefacts in the zoo with their stored int8 accuracy, and the
co-design search (spec refusals, halving arithmetic, a tiny end-to-end search and its resume)."""
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

from intersim.cli import main
from intersim.nn import zoo

REPO = Path(__file__).resolve().parent.parent
ARTEFACTS = {"digits_cnn_jax": ("digits_cnn_jax.json", None), "mnist1d_cnn": ("mnist1d_cnn.json", None),
             "digits_ee_final": ("digits_ee.json", "final"), "digits_ee_exit1": ("digits_ee.json", "exit1"),
             "digits_ee_exit2": ("digits_ee.json", "exit2")}


@pytest.mark.parametrize("name", sorted(ARTEFACTS))
def test_artefacts_are_zoo_models_with_their_measured_accuracy(name):
    file, key = ARTEFACTS[name]
    meta = json.loads((REPO / "intersim" / "nn" / "zoo" / file).read_text())
    rec = meta["networks"][key] if key else meta
    info = zoo.info(name)
    assert info["int8_correct"] == rec["int8_correct"] and info["int8_accuracy"] == rec["int8_accuracy"]
    net = zoo.load(name)
    x, y = zoo.samples(name)
    # the stored figure is what intersim's kernels give on the held-out samples the zoo serves
    assert sum(int(net.run(xi).argmax() == yi) for xi, yi in zip(x, y)) == rec["int8_correct"]
    assert f"= {rec['int8_correct']}/{len(y)}" in zoo.accuracy_label(name)


def test_accuracy_shown_where_the_model_is_named(tmp_path, capsys):
    text = (REPO / "scenarios" / "default.toml").read_text()
    text = text.replace('name = "digits_cnn" ', 'name = "digits_cnn_jax" ').replace("duration_s = 600.0", "duration_s = 30.0")
    (tmp_path / "s.toml").write_text(text)
    assert main(["run", str(tmp_path / "s.toml"), "--out", str(tmp_path / "o"), "--scheduler", "jit", "--no-plot",
                 "--no-timeline"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert "model digits_cnn_jax (int8 held-out accuracy 0.9833 = 531/540 through intersim's kernels)" in header
    run = json.loads((tmp_path / "o" / "run.json").read_text())
    assert run["model_accuracy"] == zoo.accuracy_label("digits_cnn_jax")
    assert zoo.accuracy_label("mnist_lenet") is None  # random weights: no accuracy claimed


# ------------------------------------------------------------------------------------------------
# the search's arithmetic

def test_pareto_ranks_match_brute_force():
    from intersim.study.codesign.strategy import pareto_ranks
    rng = np.random.default_rng(5)
    acc = rng.integers(0, 5, 30) / 4
    lat = rng.integers(1, 6, 30).astype(float)
    lat[[3, 7]] = math.inf
    ranks = pareto_ranks(acc, lat)
    front = {i for i in range(30) if math.isfinite(lat[i]) and not any(
        acc[j] >= acc[i] and lat[j] <= lat[i] and (acc[j] > acc[i] or lat[j] < lat[i]) for j in range(30))}
    assert {i for i in range(30) if ranks[i] == 0} == front
    assert ranks[3] == ranks[7] == 30
    for i, j in itertools.product(range(30), repeat=2):  # a dominated point ranks after its dominator
        if math.isfinite(lat[i]) and acc[j] >= acc[i] and lat[j] <= lat[i] and (acc[j] > acc[i] or lat[j] < lat[i]):
            assert ranks[j] < ranks[i]


@pytest.mark.parametrize("n, budget, keep, fids", [(432, 120, 0.3, (0.2, 1.0)), (36, 120, 0.3, (0.2, 1.0)),
                                                   (1000, 50, 0.5, (0.1, 0.3, 1.0)), (3, 1, 0.25, (0.5, 1.0))])
def test_rung_sizes_spend_at_most_the_budget(n, budget, keep, fids):
    from intersim.study.codesign.strategy import rung_sizes
    sizes = rung_sizes(n, budget, keep, fids)
    assert sizes[0] <= n and all(a >= b >= 1 for a, b in zip(sizes, sizes[1:]))
    assert sum(s * f for s, f in zip(sizes, fids)) <= budget + 1e-9 or sizes == [1] * len(fids)


# ------------------------------------------------------------------------------------------------
# refusals: one line, exit 2, nothing written

BAD = [({"dataset": "cifar"}, "dataset = 'cifar' is invalid; allowed: one of 'digits', 'mnist1d'"),
       ({"space": {"lightweighting": ["none", "prune:1.5"]}}, "space.lightweighting = ['none', 'prune:1.5'] is invalid"),
       ({"space": {"designs": ["tiles"]}}, "space.designs = ['tiles'] is invalid"),
       ({"space": {"schedulers": ["continuous"]}}, "space.schedulers = ['continuous'] is invalid"),
       ({"search": {"fidelities": [0.5, 0.2]}}, "search.fidelities = [0.5, 0.2] is invalid"),
       ({"search": {"budgett": 3}}, "unknown key search.budgett"),
       ({"set": {"model.granularity": "layer"}}, "set.model.granularity = 'layer' is invalid"),
       ({"set": {"storage.v_off_v": 3.5}}, "storage.v_off_v"),
       ({"scenario": "nope.toml"}, "scenario = 'nope.toml': no such file"),
       ({"space": {"n_layers": 2, "lightweighting": ["none", "exit:1"]}},
        "space.lightweighting = ['none', 'exit:1'] is invalid; allowed: 'exit:E' with a conv block E in 0..0"),
       ({"space": {"designs": ["layer", "explord"]}}, "space.designs = ['layer', 'explord'] is invalid"),
       ({"space": {"explored_schedulers": ["continuous"]}}, "space.explored_schedulers = ['continuous'] is invalid"),
       ({"baselines": {"inas_designs": "tiles"}},
        "baselines.inas_designs = 'tiles' is invalid; allowed: one of 'explored', 'granularities'"),
       ({"baselines": {"hwnas_designs": ["explored"]}}, "baselines.hwnas_designs = ['explored'] is invalid"),
       ({"set": {"model.design": "explored"}}, "set.model.design = 'explored' is invalid"),
       ({"set": {"storage.v_max_v": 3.0}},
        "model.design_supply = 'mean-harvest': an equivalent Thevenin supply needs v_off_v < v_on_v < its source")]


def _toml(d: dict) -> str:
    lines, tables = [], []
    for k, v in d.items():
        (tables if isinstance(v, dict) else lines).append((k, v))
    out = [f"{k} = {json.dumps(v)}" for k, v in lines]
    for k, v in tables:
        out.append(f"[{k}]")
        out += [f"{json.dumps(kk)} = {json.dumps(vv)}" for kk, vv in v.items()]
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("change, message", BAD)
def test_bad_spec_is_one_line_exit_2_nothing_written(tmp_path, capsys, change, message):
    spec = {"dataset": "digits", "scenario": str(REPO / "scenarios" / "default.toml"), **change}
    (tmp_path / "cd.toml").write_text(_toml(spec))
    rc = main(["codesign", str(tmp_path / "cd.toml"), "--out", str(tmp_path / "out"), "--workers", "0"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: cd.toml") and len(err.strip().splitlines()) == 1, err
    assert message in err
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------------
# a tiny search, end to end, and its resume

TINY = {"name": "tiny", "dataset": "digits", "seed": 1, "scenario": str(REPO / "scenarios" / "default.toml"),
        "set": {"workload.duration_s": 40.0},
        "space": {"n_layers": 2, "kernels": [3, 5], "widths": [4], "lightweighting": ["none", "prune:0.5", "exit:0"],
                  "designs": ["layer", "channel", "explored"], "schedulers": ["static", "jit"]},
        "train": {"epochs": 2, "finetune_epochs": 1},
        "requirements": {"n_random": 6},
        "search": {"fidelities": [0.5, 1.0], "keep": 0.5, "budget": 6}}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    pytest.importorskip("jax", reason="training needs JAX (pip install 'intersim[train]')")
    pytest.importorskip("optax", reason="training needs optax (pip install 'intersim[train]')")
    pytest.importorskip("sklearn", reason="the digits dataset needs scikit-learn")
    from intersim.study.codesign import run_codesign
    out = tmp_path_factory.mktemp("cd")
    df = run_codesign(TINY, out=out, workers=0)
    return out, df


def test_tiny_search_outputs(tiny):
    out, df = tiny
    for f in ("codesign.json", "candidates.csv", "chosen.csv", "pareto.png"):
        assert (out / f).is_file()
    assert set(df["stage"]) >= {"random", "rung0", "rung1", "hwnas-continuous", "hwnas-deploy"}
    assert not df["in_inas"][df["lightweighting"] != "none"].any()
    assert (df["scheduler"][df["stage"] == "hwnas-continuous"] == "continuous").all()
    spent = df.attrs["codesign"]["spent"]
    assert spent["codesign"] <= 6 + 1e-9 and spent["inas"] <= 6 + 1e-9


def test_tiny_search_accuracy_is_the_int8_kernels_on_held_out_data(tiny):
    from intersim.nn.onnx_import import load_onnx
    out, df = tiny
    for d in (out / "models").iterdir():
        meta = json.loads((d / "meta.json").read_text())
        net = load_onnx(d / "model.onnx")
        with np.load(d / "samples.npz") as z:
            x, y = z["x"], z["y"]
        assert len(y) == 540  # the held-out split
        correct = sum(int(net.run(xi).argmax() == yi) for xi, yi in zip(x, y))
        assert correct == meta["int8_correct"]
        assert set(df["accuracy"][df["variant"] == meta["variant"]]) == {meta["accuracy"]}


def test_tiny_search_choices_meet_their_requirement_and_are_the_best(tiny):
    out, df = tiny
    full = df[df["fidelity"] == 1.0]
    for r in df.attrs["codesign"]["chosen"]:
        if r["verdict"] != "meets":
            continue
        assert r["latency_p95_s"] <= r["requirement_p95_s"]
        if r["method"] == "codesign":  # nothing evaluated in its space on the full scenario beats it
            ok = full[full["final_codesign"] & (full["latency_p95_s"] <= r["requirement_p95_s"])]
            assert r["accuracy"] == ok["accuracy"].max()


def test_tiny_search_resumes_without_running_anything(tiny):
    from intersim.study.codesign import run_codesign
    out, df = tiny
    again = run_codesign(TINY, out=out, workers=0)
    assert again.attrs["codesign"]["units_run"] == 0 and again.attrs["codesign"]["trained"] == 0
    cols = [c for c in df.columns if c != "verdict_detail"]
    assert again[cols].equals(df[cols])
    changed = {**TINY, "seed": 2}
    with pytest.raises(ValueError, match="holds a different co-design search"):
        run_codesign(changed, out=out, workers=0)


# ------------------------------------------------------------------------------------------------
# explored designs, the iNAS baseline as iNAS does it, early exit searched (issue 14, codesign2)

def test_explorer_source_designs_run_under_inas(tiny):
    out, df = tiny
    ex = df[df["design"] == "explored"]
    assert len(ex) and set(ex["scheduler"]) == {"inas"}
    assert (ex["verdict"] == "ok").all() and (ex["completed"] > 0).all(), ex[["verdict", "error"]]
    assert not ex["error"].notna().any() and np.isfinite(ex["latency_p95_s"]).any()
    assert (out / "evals" / "rung0-explored").is_dir()  # their own resumable sweep


def test_explorer_source_returns_explored_designs_for_a_variant(tiny):
    from intersim.study.codesign.explored import EXPLORED_KEYS, ExplorerDesigns
    from intersim.study.codesign.models import ModelCache
    from intersim.study.codesign.space import Design, variants
    from intersim.study.codesign.spec import load_spec
    out, _ = tiny
    spec = load_spec(TINY)
    cache = ModelCache(spec, out / "models")  # the tiny search's models: nothing is trained here
    v = variants(spec, ["none"])[0]
    src = ExplorerDesigns(spec, cache)
    assert src.designs(v) == [Design("explored", EXPLORED_KEYS, ("inas",))]
    found = src.explore(v)
    assert found["feasible"] and 0 < found["predicted_latency_s"] < math.inf
    assert all(d is not None for _, d in found["layers"]) and cache.trained == 0
    # a capacitor too small for any tile of some layer (constraint C1): no explored design
    small = load_spec({**TINY, "set": {**TINY["set"], "storage.capacitance_f": 1e-9}})
    none = ExplorerDesigns(small, ModelCache(small, out / "models"))
    assert none.designs(v) == [] and not none.explore(v)["feasible"]


def test_inas_baseline_is_explored_designs_under_inas(tiny):
    out, df = tiny
    inas = df[df["in_inas"]]
    assert len(inas) and set(inas["design"]) == {"explored"} and set(inas["scheduler"]) == {"inas"}
    assert set(inas["lightweighting"]) == {"none"}
    for r in df.attrs["codesign"]["chosen"]:
        if r["method"] == "inas" and isinstance(r["candidate"], str):
            assert r["candidate"].endswith("| explored | inas")


def test_early_exit_candidate_accuracy_is_the_exit_networks_int8_accuracy(tiny):
    from intersim.nn.onnx_import import load_onnx
    out, df = tiny
    exits = [d for d in (out / "models").iterdir() if json.loads((d / "meta.json").read_text())["lightweighting"]
             == "exit:0"]
    assert len(exits) == 2
    for d in exits:
        meta = json.loads((d / "meta.json").read_text())
        net = load_onnx(d / "model.onnx")
        assert [layer.name for layer in net.layers][-3:] == ["exit_gap", "exit_flatten", "exit_fc"]
        assert sum(1 for layer in net.layers if layer.op == "conv2d") == 1  # backbone prefix: block 0 only
        with np.load(d / "samples.npz") as z:
            x, y = z["x"], z["y"]
        correct = sum(int(net.run(xi).argmax() == yi) for xi, yi in zip(x, y))
        rows = df[df["variant"] == meta["variant"]]
        assert len(rows) and set(rows["accuracy"]) == {correct / len(y)}
        assert set(rows["macs"]) == {net.total_macs()} and net.total_macs() < meta["backbone_final_macs"]


def test_equivalent_thevenin_refills_the_window_at_the_mean_power():
    from intersim.design.supply import equivalent_thevenin
    from intersim.errors import ScenarioError
    from intersim.scenario import load_scenario
    c, p = 100e-6, 1.3e-4
    s = equivalent_thevenin(p, c, 3.0, 2.2, 3.6)
    window_j = 0.5 * c * (3.0 ** 2 - 2.2 ** 2)
    t_rc = -s.r_ehm_ohm * c * math.log((3.0 - 3.6) / (2.2 - 3.6))
    assert t_rc == pytest.approx(window_j / p, rel=1e-12) and s.v_sup_v == 3.6 and s.margin == 0.55
    with pytest.raises(ScenarioError, match="mean power = 0.0 W"):
        equivalent_thevenin(0.0, c, 3.0, 2.2, 3.6)
    # the scenario's: its trace's mean power after the converter's input efficiency
    sc = load_scenario(REPO / "scenarios" / "default.toml")
    with pytest.raises(ScenarioError, match="design_supply"):
        sc.design_model()
    sc = sc.with_value("model", "design_supply", "mean-harvest")
    _, supply = sc.design_model()
    tr = sc.trace()
    want = equivalent_thevenin(tr.mean_power_w() * 0.80, 100e-6, 3.0, 2.2, 3.6)
    assert supply.r_ehm_ohm == pytest.approx(want.r_ehm_ohm, rel=1e-9) and supply.v_sup_v == 3.6
