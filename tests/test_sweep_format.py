"""Sweep files: value generators, validation up front (one clear line), resume bookkeeping.
No simulation runs here."""
import argparse
import json
import math
from pathlib import Path

import pytest

from intersim.errors import ScenarioError
from intersim.study.sweep import (add_plot_arguments, add_sweep_arguments, diff_definitions, load_sweep,
                            run_plot_command, run_sweep_command)

REPO = Path(__file__).resolve().parent.parent
DEFAULT = str(REPO / "scenarios" / "rf_reader.toml")  # a scenario with a trace file: sweeps set trace.file


def sweep(vary, mode="grid", **extra):
    return {"scenario": DEFAULT, "mode": mode, "vary": vary, **extra}


def values(spec, key="storage.capacitance_f"):
    return list(load_sweep(sweep({key: spec})).axes[0].values)


def test_generators():
    v = values({"logspace": [1e-6, 1e-3, 200]})
    assert len(v) == 200 and v[0] == 1e-6 and v[-1] == 1e-3
    assert all(b > a for a, b in zip(v, v[1:]))
    ratios = [b / a for a, b in zip(v, v[1:])]
    assert max(ratios) - min(ratios) < 1e-9
    assert values({"linspace": [1e-5, 2e-5, 3]}) == [1e-5, 1.5e-5, 2e-5]
    assert values({"range": [1, 7, 2]}, "seed") == [1, 3, 5]
    assert values({"range": [0.1, 0.4, 0.1]}, "workload.period_s")[1:] == [0.2, 0.3]  # stop excluded
    assert values({"values": [1e-5, 2e-5]}) == values([1e-5, 2e-5]) == [1e-5, 2e-5]


def test_grid_zip_and_forms():
    grid = load_sweep(sweep({"storage.capacitance_f": [1e-5, 2e-5, 3e-5], "seed": [1, 2]}))
    assert [p.values for p in grid.points][:3] == [
        {"storage.capacitance_f": 1e-5, "seed": 1}, {"storage.capacitance_f": 1e-5, "seed": 2},
        {"storage.capacitance_f": 2e-5, "seed": 1}]
    assert len(grid.points) == 6 and len({p.id for p in grid.points}) == 6
    zipped = load_sweep(sweep({"storage.capacitance_f": [1e-5, 2e-5], "seed": [1, 2]}, mode="zip"))
    assert [p.values["seed"] for p in zipped.points] == [1, 2]
    nested = load_sweep(sweep({"storage": {"capacitance_f": [1e-5, 2e-5]}, "seed": [1, 2]}, mode="zip"))
    assert [p.id for p in nested.points] == [p.id for p in zipped.points]
    assert zipped.points[1].scenario["storage"]["capacitance_f"] == 2e-5
    assert zipped.points[1].scenario["seed"] == 2


def test_set_and_identity():
    a = load_sweep(sweep({"seed": [1]}, set={"workload.duration_s": 30.0}))
    b = load_sweep(sweep({"seed": [1]}, set={"workload": {"duration_s": 30.0}}))
    c = load_sweep(sweep({"seed": [1]}, set={"workload.duration_s": 31.0}))
    assert a.points[0].scenario["workload"]["duration_s"] == 30.0
    assert a.points[0].id == b.points[0].id != c.points[0].id
    assert a.digest() == b.digest()


def test_identity_includes_version(monkeypatch):
    before = load_sweep(sweep({"seed": [1, 2]}))
    import intersim._version
    monkeypatch.setattr(intersim._version, "__version__", "99.0")  # where the sweep reads it
    after = load_sweep(sweep({"seed": [1, 2]}))
    assert [p.id for p in before.points] != [p.id for p in after.points]
    assert [p.scenario_sha256 for p in before.points] == [p.scenario_sha256 for p in after.points]
    assert "intersim_version '" in diff_definitions(before.definition(), after.definition())


def test_trace_file_relative_to_sweep_file(tmp_path):
    (tmp_path / "sub").mkdir()
    src = REPO / "traces" / "rf_reader_10min.csv"
    (tmp_path / "sub" / "t.csv").write_bytes(src.read_bytes())
    text = (REPO / "scenarios" / "rf_reader.toml").read_text().replace(
        "../traces/rf_reader_duty_10min.csv", str(REPO / "traces" / "rf_reader_duty_10min.csv"))
    (tmp_path / "scen").mkdir()
    (tmp_path / "scen" / "s.toml").write_text(text)
    f = tmp_path / "sw.toml"
    f.write_text('scenario = "scen/s.toml"\n[vary]\n"trace.file" = ["sub/t.csv"]\n')
    s = load_sweep(f)
    assert s.points[0].scenario["trace"]["file"] == "../sub/t.csv"  # as the scenario file sees it
    assert s.points[0].values["trace.file"] == "sub/t.csv"          # as the user wrote it


BAD = [
    (sweep({"storage.capacitence_f": [1e-5]}), ["storage.capacitence_f", "did you mean 'storage.capacitance_f'"]),
    (sweep({"storag.capacitance_f": [1e-5]}), ["storag", "did you mean 'storage'"]),
    (sweep({"storage": {"capacitance_f": 1e-5}}), ["storage.capacitance_f = 1e-05", "allowed", "logspace"]),
    (sweep({"storage.capacitance_f": {"logspace": [0.0, 1e-3, 5]}}), ["logspace", "0.0", "> 0"]),
    (sweep({"storage.capacitance_f": {"linspace": [1e-6, 1e-3, 2.5]}}), ["linspace", "2.5", "integer >= 1"]),
    (sweep({"storage.capacitance_f": {"range": [5, 1]}}), ["range", "empty", "start < stop"]),
    (sweep({"storage.capacitance_f": {"geomspace": [1e-6, 1e-3, 5]}}), ["geomspace", "allowed", "logspace"]),
    (sweep({"storage.capacitance_f": []}), ["storage.capacitance_f = []", "non-empty list"]),
    (sweep({"storage.capacitance_f": [1e-5, 2e-5], "seed": [1, 2, 3]}, mode="zip"),
     ["zip", "storage.capacitance_f (2 values)", "seed (3 values)"]),
    (sweep({"seed": [1]}, mode="cartesian"), ["mode = 'cartesian'", "'grid', 'zip'"]),
    ({"scenario": DEFAULT, "vari": {}}, ["unknown sweep key 'vari'", "did you mean 'vary'"]),
    ({"vary": {}}, ["missing key scenario"]),
    ({"scenario": "nope.toml", "vary": {}}, ["scenario = 'nope.toml'", "no such file"]),
    (sweep({"storage.capacitance_f": [1e-5, -1e-6]}),
     ["point 1", "storage.capacitance_f = -1e-06 is invalid", "allowed: a number > 0"]),
    (sweep({"storage.v_off_v": [2.2, 3.2]}), ["point 1", "storage.v_on_v", "must be above"]),
    (sweep({"trace.file": ["no_such_trace.csv"]}), ["trace.file='no_such_trace.csv'", "no such file", "no_such_trace.csv"]),
    (sweep({"model.name": ["digits_cnn", "resnet"]}), ["model.name = 'resnet'", "allowed", "digits_cnn"]),
    (sweep({"model.granularity": ["channel", "chanel"]}), ["model.granularity = 'chanel'", "allowed"]),
    (sweep({"schedulers.names": [["jit"], ["jjt"]]}), ["schedulers.names = ['jjt']", "allowed"]),
    (sweep({"seed": [1]}, set={"seed": 2}), ["'seed' is both in [set] and in [vary]"]),
    (sweep({"storage.capacitance_f": [1e-5, 1e-5]}), ["points 0 and 1", "same scenario"]),
    (sweep({"storage.capacitance_f.x": [1]}), ["goes below", "trace.params"]),
    (sweep({"workload": [1]}), ["whole table", "workload.period_s"]),
]


@pytest.mark.parametrize("raw,parts", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_sweeps_one_clear_line(raw, parts):
    with pytest.raises(ScenarioError) as info:
        load_sweep(raw)
    msg = str(info.value)
    assert "\n" not in msg
    for p in parts:
        assert p in msg, msg
    assert isinstance(info.value, ValueError)


def test_bad_toml_file_names_the_file(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text(f'scenario = "{DEFAULT}"\n[vary]\n"storage.capacitance_f" = {{ logspace = [1e-6, 1e-3] }}\n')
    with pytest.raises(ScenarioError, match=r"s\.toml: vary\.storage\.capacitance_f = .*logspace = \[start, stop, n\]"):
        load_sweep(f)


def _sweep_args(argv):
    p = argparse.ArgumentParser()
    add_sweep_arguments(p)
    return p.parse_args(argv)


@pytest.mark.parametrize("argv,needle", [
    (["nope.toml", "--out", "X"], "nope.toml: no such sweep file"),
    (["S", "--workers", "-1"], "--workers -1 is invalid"),
    (["S", "--workers", "2", "--dask", "tcp://x:1"], "give one of them"),
])
def test_cli_bad_input(tmp_path, capsys, argv, needle):
    f = tmp_path / "s.toml"
    f.write_text(f'scenario = "{DEFAULT}"\n[vary]\nseed = [1]\n')
    argv = [str(f) if a == "S" else str(tmp_path / a) if a == "X" else a for a in argv]
    assert run_sweep_command(_sweep_args(argv)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0], err


def test_cli_refuses_foreign_directory(tmp_path, capsys):
    f = tmp_path / "s.toml"
    f.write_text(f'scenario = "{DEFAULT}"\n[vary]\nseed = [1]\n')
    out = tmp_path / "home"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    assert run_sweep_command(_sweep_args([str(f), "--out", str(out), "--workers", "0"])) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds no sweep.json" in err[0]
    assert (out / "thesis.tex").read_text() == "precious"


def test_plot_command_bad_dir(tmp_path, capsys):
    p = argparse.ArgumentParser()
    add_plot_arguments(p)
    assert run_plot_command(p.parse_args([str(tmp_path)])) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a sweep directory" in err[0]


def test_diff_says_what_changed():
    a = load_sweep(sweep({"storage.capacitance_f": [1e-5, 2e-5, 3e-5]})).definition()
    b = load_sweep(sweep({"storage.capacitance_f": [1e-5, 2.2e-5, 3e-5]})).definition()
    c = load_sweep(sweep({"storage.capacitance_f": [1e-5, 2e-5, 3e-5]}, set={"workload.duration_s": 60.0})).definition()
    d = load_sweep(sweep({"storage.capacitance_f": [1e-5, 2e-5, 3e-5], "seed": [1]})).definition()
    assert diff_definitions(a, a) == ""
    assert diff_definitions(a, b) == "vary.storage.capacitance_f values changed (value 1: 2e-05 -> 2.2e-05)"
    assert diff_definitions(a, c) == "set workload.duration_s: '<absent>' -> 60.0"
    assert "vary.seed added" in diff_definitions(a, d)
    e = json.loads(json.dumps(a))
    (name, sha), = e["trace_files"].items()
    e["trace_files"][name] = "0" * 64
    assert diff_definitions(a, e) == f"trace file {name} content changed (sha256 {sha[:12]} -> 000000000000)"
    assert json.loads(json.dumps(a)) == a  # stored as JSON, compared after a round trip


def test_definition_does_not_depend_on_where_it_runs(tmp_path, monkeypatch):
    a = load_sweep(sweep({"storage.capacitance_f": [1e-5, 2e-5]}))
    monkeypatch.chdir(tmp_path)
    b = load_sweep(sweep({"storage.capacitance_f": [1e-5, 2e-5]}))
    assert a.digest() == b.digest()
    assert not any(str(tmp_path) in json.dumps(p.scenario) for p in b.points)
    assert math.isclose(a.points[1].values["storage.capacitance_f"], 2e-5)


def test_summary_columns_have_declared_dtypes():
    """A new summary column must get a dtype here (else it would be stored as float64)."""
    from intersim.report.results import SUMMARY_COLUMNS
    from intersim.study.sweep import FRACTION_COLUMNS, INT_COLUMNS, STRING_COLUMNS
    floats = {c for c in SUMMARY_COLUMNS if c not in INT_COLUMNS + STRING_COLUMNS + FRACTION_COLUMNS}
    assert all(c.endswith(("_s", "_j", "_rate", "_per_h")) for c in floats), floats


def test_shipped_sweeps_validate():
    cap = load_sweep(REPO / "scenarios" / "sweep_capacitor.toml")
    bench = load_sweep(REPO / "scenarios" / "sweep_bench.toml")
    assert 5 <= len(cap.points) <= 40
    assert len(bench.points) == 200
    for s in (cap, bench):
        p = s.points[0].scenario
        assert p["trace"]["file"].endswith("solar_cloudy_1h.csv")
        assert p["model"]["name"] == "digits_cnn" and p["workload"]["period_s"] == 10.0
    assert bench.points[0].scenario["schedulers"]["names"] == ["continuous", "restart", "static", "jit", "jit-task"]
    assert cap.points[0].scenario["schedulers"]["names"] == ["restart", "static", "jit", "jit-task"]


def test_one_sweep_per_directory(tmp_path):
    from intersim.study.sweep import _lock, _unlock, run_sweep
    raw = sweep({"seed": [1]})
    out = tmp_path / "out"
    out.mkdir()
    fd = _lock(out)  # as if another sweep were running there
    try:
        with pytest.raises(ScenarioError, match="another sweep is running on this directory"):
            run_sweep(raw, out=out, workers=0)
    finally:
        _unlock(fd)
