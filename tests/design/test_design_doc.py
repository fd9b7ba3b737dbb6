"""The Python example of docs/design.md runs."""
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "design.md"


def test_docs_design_example_runs(tmp_path, monkeypatch, capsys):
    code = re.search(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(DOC), "exec"), {})
    assert (tmp_path / "demo.json").is_file()
    assert "3_15_8_1_reuse_O_S1" in capsys.readouterr().out
