"""Your own model in a scenario: [model] file/inputs, request samples, accuracy beside correctness."""
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from intersim.cli import main
from intersim.errors import ModelError, ScenarioError
from intersim.nn import zoo
from intersim.nn.samples import load_request_samples, quantize_linear
from intersim.report.results import accuracy
from intersim.scenario import load_scenario

REPO = Path(__file__).resolve().parent.parent
OWN = REPO / "scenarios" / "own_model.toml"


def test_quantize_linear_equals_onnxruntime_including_ties():
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper as nh

    from intersim.nn.onnx_export import ort_session
    rng = np.random.default_rng(0)
    for _ in range(5):
        scale, zp = np.float32(np.exp(rng.uniform(-7, 0))), np.int8(rng.integers(-128, 128))
        x = np.concatenate([rng.normal(0, 200 * scale, 20000),  # saturating tails too
                            (rng.integers(-300, 300, 20000) + 0.5) * scale]).astype(np.float32)  # halfway
        g = helper.make_graph([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])], "q",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [x.size])],
                              [helper.make_tensor_value_info("y", TensorProto.INT8, [x.size])],
                              [nh.from_array(scale, "s"), nh.from_array(zp, "z")])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        m.ir_version = 8
        assert np.array_equal(quantize_linear(x, scale, int(zp)), ort_session(m).run(None, {"x": x})[0])


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("arrays, needle", [
    ({"x": np.zeros((3, 1, 8, 7), np.int8)}, "x has shape [3, 1, 8, 7]; allowed: [N, 1, 8, 8]"),
    ({"x": np.zeros((3, 1, 8, 8), np.int16)}, "x has dtype int16; allowed: int8"),
    ({"x": np.full((2, 1, 8, 8), np.nan)}, "x[0, 0, 0, 0] = nan; allowed: finite"),
    ({"x": np.zeros((2, 1, 8, 8), np.int8), "y": np.array([3, 10])}, "y[1] = 10; allowed: class indices 0..9"),
    ({"x": np.zeros((2, 1, 8, 8), np.int8), "y": np.array([3])}, "y has shape [1]"),
    ({"x": np.zeros((2, 1, 8, 8), np.int8), "labels": np.array([3, 1])}, "unknown array 'labels'"),
    ({"y": np.array([3, 1])}, "no array 'x'"),
])
def test_bad_samples_one_line_naming_file_array_value(tmp_path, arrays, needle):
    path = _npz(tmp_path / "s.npz", **arrays)
    with pytest.raises(ModelError) as e:
        load_request_samples(path, zoo.load("digits_cnn"))
    assert needle in str(e.value) and str(path) in str(e.value) and "\n" not in str(e.value)


def test_float_samples_are_quantised_as_the_model_says(tmp_path):
    net = zoo.load("digits_cnn")  # input scale 1/240, zero point -128: q = 15 * pixel - 128 for pixel/16
    x_int8, labels = zoo.samples("digits_cnn")
    pixels = (x_int8.astype(np.int32) + 128) / 15
    x, y = load_request_samples(_npz(tmp_path / "s.npz", x=(pixels / 16).astype(np.float32), y=labels), net)
    assert x.dtype == np.int8 and np.array_equal(x, x_int8) and np.array_equal(y, labels)


@pytest.mark.parametrize("model, needle", [
    ('name = "digits_cnn"\nfile = "own_model/net.onnx"\ninputs = "own_model/samples.npz"',
     "[model] needs exactly one of 'name' (a zoo model) or 'file'"),
    ('file = "own_model/net.onnx"', "missing key model.inputs (required with model.file"),
    ('granularity = "layer"', "[model] needs exactly one of 'name'"),
])
def test_model_keys_validated(tmp_path, model, needle):
    head, rest = OWN.read_text().split("\n[model]\n")
    text = head + "\n[model]\n" + model + "\n\n[workload]" + rest.split("\n[workload]")[1]
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    with pytest.raises(ScenarioError) as e:
        load_scenario(bad)
    assert needle in str(e.value) and str(bad) in str(e.value)


def test_own_model_scenario_runs_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(OWN), "--out", str(out), "--scheduler", "continuous", "--scheduler", "jit",
                 "--no-plot"]) == 0
    printed = capsys.readouterr().out
    assert "model own_model/net.onnx" in printed and "acc/all" in printed
    req = pd.read_csv(out / "requests.csv")
    samples = np.load(REPO / "scenarios" / "own_model" / "samples.npz")
    assert list(req["label"][:60]) == list(samples["y"][:60])
    done = req["status"] == "done"
    assert req.loc[done, "label_ok"].tolist() == (req.loc[done, "predicted"] == req.loc[done, "label"]).tolist()
    summary = pd.read_csv(out / "summary.csv").set_index("scheduler")
    for s in ("continuous", "jit"):
        rows = req[req["scheduler"] == s]
        assert summary.loc[s, "accuracy"] == rows.loc[rows["status"] == "done", "label_ok"].mean()
        assert 0.8 <= summary.loc[s, "accuracy"] < 1.0  # the example model is ~91 % accurate
        assert summary.loc[s, "correct"] == summary.loc[s, "completed"]  # correct != accurate


def test_bad_model_file_is_one_line_exit_2_nothing_written(tmp_path, capsys):
    (tmp_path / "net.onnx").write_bytes(b"not a model")
    np.savez(tmp_path / "s.npz", x=np.zeros((2, 1, 8, 8), np.int8))
    text = OWN.read_text().replace("own_model/net.onnx", "net.onnx").replace("own_model/samples.npz", "s.npz")
    text = text.replace('file = "../traces/', f'file = "{REPO}/traces/')
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    out = tmp_path / "out"
    assert main(["run", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {bad}: model.file = 'net.onnx': ") and "not a readable ONNX model" in err
    assert len(err.splitlines()) == 1 and not out.exists()


def test_accuracy_counts_dropped_and_unfinished_as_wrong():
    status = ["done", "done", "dropped", "unfinished", "done"]
    got = accuracy(status, [1, 2, 3, 4, -1], [1, 0, -1, -1, 7])
    assert got == {"accuracy": 0.5, "accuracy_all": 0.25}  # request 4 has no label
    nan = accuracy(status, [-1] * 5, [1, 0, -1, -1, 7])
    assert math.isnan(nan["accuracy"]) and math.isnan(nan["accuracy_all"])


def test_simulate_with_a_network_object_and_inputs():
    import intersim
    from intersim.nn.onnx_import import load_onnx
    pytest.importorskip("onnx")
    sc = intersim.load_scenario(REPO / "scenarios" / "default.toml")
    net = load_onnx(REPO / "scenarios" / "own_model" / "net.onnx")
    s = np.load(REPO / "scenarios" / "own_model" / "samples.npz")
    res = intersim.simulate(sc, ["continuous"], network=net, inputs=(s["x"][:5], s["y"][:5]), record_timeline=False)
    assert res.provenance["model"] == net.name
    assert list(res.requests["label"][:10]) == list(s["y"][:5]) * 2  # requests cycle over the samples
    res2 = intersim.simulate(sc, ["continuous"], network=net, record_timeline=False)  # seeded random inputs
    assert (res2.requests["label"] == -1).all() and math.isnan(res2.summary["accuracy"][0])
    assert res2.requests["label_ok"].isna().all()
