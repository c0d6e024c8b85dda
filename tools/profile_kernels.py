#!/usr/bin/env python3
"""Launches one implementation of one benchmark case for ncu: two warm-up
calls, then one call between cudaProfilerStart and cudaProfilerStop. Cases
and T as in op_tests/bench_rmsnorm.py; implementations as its table (ours,
compile, guard, liger, eager, flashinfer).

  ncu --profile-from-start off --section SpeedOfLight --section Occupancy \\
      --section WarpStateStats python3 tools/profile_kernels.py qk_q_strided 32768 [compile]
"""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "op_tests"))
import bench_rmsnorm as bench  # noqa: E402


def main() -> None:
    name, T = sys.argv[1], int(sys.argv[2])
    impl = sys.argv[3] if len(sys.argv) > 3 else "ours"
    case = next(c for c in bench.CASES if c.name == name)
    d = bench.make_data(case, T, torch.bfloat16, "cuda", 1e-6)
    build = {i.name: i.build for i in [bench.OURS, *bench.PEERS]}[impl]
    run = build(d)
    for _ in range(2):
        run()
    torch.cuda.synchronize()
    torch.cuda.profiler.start()
    run()
    torch.cuda.synchronize()
    torch.cuda.profiler.stop()


if __name__ == "__main__":
    main()
