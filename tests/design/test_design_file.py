"""Design files: exact round trip and errors that name file, key, value and what is allowed."""
import json

import pytest

from intersim.design import dumps_design, load_design, loads_design, save_design
from intersim.design.published import contpow_solutions, intpow_solutions, network_design
from intersim.errors import ModelError


def _nets():
    return ([network_design(s, "intpow") for s in intpow_solutions()]
            + [network_design(s, "contpow") for s in contpow_solutions()])


def test_round_trip_is_exact_for_all_36_solutions(tmp_path):
    for net in _nets():
        path = save_design(net, tmp_path / f"{net.name}.json")
        back = load_design(path)
        assert back == net
        assert dumps_design(back) == path.read_text(encoding="utf-8")


def _doc():
    return json.loads(dumps_design(_nets()[0]))


@pytest.mark.parametrize("edit,pattern", [
    (lambda d: d["layers"][1]["design"].__setitem__("order", "reuse_X"),
     r"mine\.json: layers\[1\] \(CONV_1\)\.design\.order = 'reuse_X'; valid: reuse_I, reuse_W, reuse_O"),
    (lambda d: d["layers"][0]["design"].__setitem__("Tr", 0),
     r"mine\.json: layers\[0\] \(CONV_0\)\.design\.Tr = 0; it must be an integer >= 1"),
    (lambda d: d["layers"][0]["design"].__setitem__("Tr", 5),
     r"mine\.json: layers\[0\] \(CONV_0\): design Tr = 5 is not legal.*valid: \[1, 2, 4, 8, 16, 32\]"),
    (lambda d: d["layers"][0]["shape"].pop("Kh"),
     r"mine\.json: layers\[0\] \(CONV_0\)\.shape has missing key\(s\) \['Kh'\]; valid keys"),
    (lambda d: d["layers"][0].__setitem__("kind", "lstm"),
     r"mine\.json: layers\[0\] \(CONV_0\)\.kind = 'lstm'; valid: conv, fc, gavgpool"),
    (lambda d: d.__setitem__("version", 2), r"mine\.json: version = 2; valid: 1"),
    (lambda d: d.__setitem__("extra", 1), r"mine\.json: the top level has unknown key\(s\) \['extra'\]"),
])
def test_errors_name_file_key_value_and_allowed(tmp_path, edit, pattern):
    doc = _doc()
    edit(doc)
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=pattern) as info:
        load_design(path)
    assert isinstance(info.value, ModelError)


def test_illegal_design_can_be_loaded_on_request():
    doc = _doc()
    doc["layers"][0]["design"]["Tr"] = 5
    net = loads_design(json.dumps(doc), check_legal=False)
    assert net.layers[0].design.Tr == 5


def test_not_json_and_missing_file(tmp_path):
    with pytest.raises(ModelError, match="x.json: not valid JSON"):
        loads_design("{", "x.json")
    with pytest.raises(ModelError, match="cannot read"):
        load_design(tmp_path / "absent.json")
