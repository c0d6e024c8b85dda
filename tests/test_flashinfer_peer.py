"""The benchmark's FlashInfer peer (op_tests/peers/flashinfer_norm.py) on
the CPU: headers taken from a wheel or a packed tarball and nothing else of
it, the reasons it gives when it cannot run, and, where nvcc and the real
headers are here, the calls file compiling for sm_90."""
import shutil
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "op_tests"))
from peers import flashinfer_norm as fi  # noqa: E402


def fake_wheel(path: Path, version="9.9.9") -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("flashinfer/data/include/flashinfer/norm.cuh", "// norm\n")
        zf.writestr("flashinfer/data/include/flashinfer/utils.cuh", "// utils\n")
        zf.writestr("flashinfer/data/csrc/other.cu", "// not a header of include/\n")
        zf.writestr("flashinfer/__init__.py", "")
        zf.writestr(f"flashinfer_python-{version}.dist-info/METADATA", f"Name: flashinfer-python\nVersion: {version}\n")
        zf.writestr(f"flashinfer_python-{version}.dist-info/licenses/LICENSE", "Apache-2.0\n")
    return path


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AITER_PEER_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("AITER_FLASHINFER", raising=False)
    return tmp_path


def test_pack_keeps_only_the_include_directory(cache):
    wheel = fake_wheel(cache / "flashinfer_python-9.9.9-py3-none-any.whl")
    tarball = fi.pack(wheel, cache / "out")
    assert tarball.name == "flashinfer-9.9.9-include.tar.gz"
    with tarfile.open(tarball) as tf:
        names = sorted(tf.getnames())
    assert names == ["LICENSE", "VERSION", "include/flashinfer/norm.cuh", "include/flashinfer/utils.cuh"]


@pytest.mark.parametrize("source", ["wheel", "tarball"])
def test_headers_unpack_from_either_source(cache, monkeypatch, source):
    wheel = fake_wheel(cache / "flashinfer_python-9.9.9-py3-none-any.whl")
    path = wheel if source == "wheel" else fi.pack(wheel, cache / "out")
    monkeypatch.setenv("AITER_FLASHINFER", str(path))
    include, version = fi.unpack_headers(fi.find_source())
    assert version == "9.9.9"
    assert (include / "flashinfer" / "norm.cuh").read_text() == "// norm\n"
    assert not any(include.rglob("*.cu")) and not any(include.rglob("__init__.py"))
    assert fi.unpack_headers(path) == (include, version)  # cached: the same directory


def test_reasons_when_it_cannot_run(cache, monkeypatch):
    monkeypatch.setenv("AITER_FLASHINFER", str(cache / "missing.whl"))
    with pytest.raises(fi.Unavailable, match="does not exist"):
        fi.find_source()
    empty = cache / "empty.whl"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("x.txt", "")
    with pytest.raises(fi.Unavailable, match="no include/flashinfer/norm.cuh"):
        fi.unpack_headers(empty)


def test_bench_column_skips_without_a_gpu():
    import torch
    import bench_rmsnorm as bench
    case = next(c for c in bench.CASES if c.name == "qk_q_strided")
    d = bench.make_data(case, 2, torch.bfloat16, "cpu", 1e-6)
    with pytest.raises(bench.Skip, match="CUDA"):
        bench.build_flashinfer(d)
    fused3d = next(c for c in bench.CASES if c.name == "add_qk_strided")
    assert "flashinfer" in bench.TABLE_PEERS and any(i.name == "flashinfer" for i in bench.PEERS)
    assert fused3d.fused  # FlashInfer has no 3D fused add: that column stays empty on the GPU too


def real_headers():
    try:
        source = fi.find_source()
        fi.find_nvcc()
    except fi.Unavailable as e:
        pytest.skip(str(e))
    return source


def test_calls_file_compiles_for_sm90(tmp_path, monkeypatch):
    real_headers()
    monkeypatch.setenv("AITER_PEER_CACHE", str(tmp_path))
    assert "compiles for sm_90" in fi.compile_check("90")
    shutil.rmtree(tmp_path, ignore_errors=True)
