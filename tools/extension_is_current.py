"""Exit 0 when `import aiter`, from outside the checkout, loads this
checkout's package with a compiled backend (aiter._C) newer than every file
it is built from; else 1. bootstrap.sh skips the rebuild (minutes on two
cores) when it is, so the README's two commands can each start with it."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    probe = "import aiter; print(aiter.__file__); print(aiter._C.__file__)"
    found = subprocess.run([sys.executable, "-c", probe], cwd="/", capture_output=True, text=True)
    if found.returncode != 0:
        return 1
    package, backend = (Path(p) for p in found.stdout.split())
    if package.parent != REPO / "aiter":
        return 1  # another aiter (or another checkout) is installed
    sources = [REPO / "setup.py"] + [p for p in (REPO / "csrc").rglob("*") if p.is_file()]
    return 0 if backend.stat().st_mtime > max(p.stat().st_mtime for p in sources) else 1


if __name__ == "__main__":
    sys.exit(main())
