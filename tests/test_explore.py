"""`intersim explore`: iNAS's explorer on a scenario's model, platform and Thevenin supply."""
from pathlib import Path

import pytest

from intersim.cli import main
from intersim.design import load_design
from intersim.scenario import load_scenario
from intersim.study.explore import explore_scenario

REPO = Path(__file__).resolve().parent.parent
HAR = REPO / "scenarios" / "inas_har.toml"


def test_inas_compat_rederives_the_published_har_solution():
    # anchor §6.1: HAR, 5 mF, ts2, published predicted L_e2e 27.7723 s
    table, chosen, pred = explore_scenario(load_scenario(HAR), "inas-compat")
    assert pred is not None and pred.feasible
    assert pred.latency_s == pytest.approx(27.7723, abs=5e-5)
    assert list(table["layer"]) == [p.name for p in chosen.design.layers]
    assert (table["continuous_latency_s"] <= table["le2e_s"]).all()


def test_explore_writes_a_design_file_the_scenario_can_name(tmp_path, capsys):
    assert main(["explore", str(HAR), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "iNAS-PMod predicted end-to-end latency" in out
    design = load_design(tmp_path / "design.json")
    assert [p.name for p in design.layers] == ["CONV_0", "CONV_1", "CONV_2", "GAVGPOOL_0", "FC_END"]
    assert (tmp_path / "layers.csv").read_text().startswith("layer,design,")


def test_a_scenario_without_the_thevenin_supply_is_one_line(tmp_path, capsys):
    rc = main(["explore", str(REPO / "scenarios" / "default.toml"), "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "thevenin" in err[0] and "default.toml" in err[0]
    assert not (tmp_path / "x").exists()


def test_a_sweep_can_vary_the_design(tmp_path):
    from intersim.study.sweep import load_sweep
    assert main(["explore", str(HAR), "--out", str(tmp_path / "d")]) == 0
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(f'scenario = "{HAR}"\n[vary]\n"model.design" = ["explored", "d/design.json"]\n')
    sw = load_sweep(sweep)
    designs = [p.values["model.design"] for p in sw.points]
    assert designs == ["explored", "d/design.json"]
    # the design file is relative to the sweep file, resolved for the scenario's directory
    resolved = Path(sw.scenario_dir) / sw.points[1].scenario["model"]["design"]
    assert resolved.resolve() == (tmp_path / "d" / "design.json").resolve()
    sweep.write_text(f'scenario = "{HAR}"\n[vary]\n"model.design" = ["nope.json"]\n')
    with pytest.raises(ValueError, match="model.design=.nope.json.*no such file"):
        load_sweep(sweep)
