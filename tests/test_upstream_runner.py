"""op_tests/run_upstream_norm_tests.py on stand-in files written like
upstream's op_tests: the CPU run rewrites only the device string, and the
table counts checks, failures and errors from each file's own process."""
import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parents[1] / "op_tests" / "run_upstream_norm_tests.py"
spec = importlib.util.spec_from_file_location("run_upstream_norm_tests", RUNNER)
runner = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = runner
spec.loader.exec_module(runner)

HEADER = """
import torch
import aiter
from aiter.test_common import checkAllclose
torch.set_default_device("cuda")
x = torch.randn(4, 8, device="cuda")
"""


def write(folder, name, body):
    (folder / name).write_text(textwrap.dedent(HEADER) + textwrap.dedent(body))


def test_only_the_device_string_is_rewritten():
    source = 'a = f(device="cuda")\ntorch.set_default_device("cuda")\ntorch.cuda.synchronize()  # "cuda"\n'
    cpu, changed = runner.to_device(source, "cpu")
    assert changed == 2
    assert cpu == 'a = f(device="cpu")\ntorch.set_default_device("cpu")\ntorch.cuda.synchronize()  # "cuda"\n'
    assert runner.to_device(source, "cuda") == (source, 0)


@pytest.mark.parametrize("case, body, counts, ok", [
    ("passing", """
        w = torch.ones(8)
        checkAllclose(aiter.rms_norm(x, w, 1e-6), torch.nn.functional.rms_norm(x, (8,), w, 1e-6))
        checkAllclose(x, x)
     """, dict(checks=2, passed=2, failed=0, errors=0), True),
    ("failing", """
        checkAllclose(x, x + 1, msg="off by one ")
        checkAllclose(x, x)
     """, dict(checks=2, passed=1, failed=1, errors=0), False),
    ("crashing", """
        checkAllclose(x, x)
        raise RuntimeError("boom")
     """, dict(checks=1, passed=1, failed=0, errors=1), False),
])
def test_runner_tabulates_each_file(tmp_path, case, body, counts, ok):
    name = f"test_{case}.py"
    write(tmp_path, name, body)
    md = tmp_path / "table.md"
    status = runner.main(["--src", str(tmp_path), "--device", "cpu", "--files", name, "--md", str(md),
                          "--logs", str(tmp_path / "logs")])
    assert (status == 0) == ok
    row = next(line for line in md.read_text().splitlines() if line.startswith(f"| {name} "))
    cells = [c.strip() for c in row.strip("|").split("|")]
    got = dict(zip(["file", "checks", "passed", "warned", "failed", "errors"], cells))
    assert {k: int(got[k]) for k in counts} == counts
    if case == "failing":
        assert "off by one" in (tmp_path / "logs" / f"test_{case}.log").read_text()


def test_missing_upstream_files_are_reported(tmp_path, capsys):
    assert runner.main(["--src", str(tmp_path), "--device", "cpu"]) == 2
    assert "test_fused_qk_norm.py" in capsys.readouterr().err
