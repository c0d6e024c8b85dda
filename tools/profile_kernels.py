#!/usr/bin/env python3
"""Launches the norm kernel of one benchmark case twice (a warm-up, then the
launch to profile), for ncu. Cases and T as in op_tests/bench_rmsnorm.py:

  ncu --kernel-name regex:norm_rows --launch-skip 1 --launch-count 1 \\
      --section SpeedOfLight --section Occupancy --section WarpStateStats \\
      python3 tools/profile_kernels.py qk_q_strided 32768
"""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "op_tests"))
import bench_rmsnorm as bench  # noqa: E402


def main() -> None:
    name, T = sys.argv[1], int(sys.argv[2])
    case = next(c for c in bench.CASES if c.name == name)
    d = bench.make_data(case, T, torch.bfloat16, "cuda", 1e-6)
    run = bench.build_ours(d)
    for _ in range(2):
        run()
    torch.cuda.synchronize()


if __name__ == "__main__":
    main()
