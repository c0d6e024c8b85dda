"""Builds the wheel offline (no build isolation) and checks what it carries:
version, licence, long description and the compiled backend."""
import glob
import subprocess
import sys
import tempfile
import zipfile


def main():
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-build-isolation", "--no-deps",
                        "--no-index", "-w", out, "."], check=True)
        (wheel,) = glob.glob(f"{out}/*.whl")
        names = zipfile.ZipFile(wheel).namelist()
        meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    fields = dict(line.split(": ", 1) for line in meta.split("\n\n", 1)[0].splitlines() if ": " in line)
    problems = []
    if not fields.get("Version", "").startswith("0.1.0"):
        problems.append("version missing")
    if fields.get("License") != "MIT" or not any(n.endswith("LICENSE") for n in names):
        problems.append("licence missing")
    if "stride" not in meta.split("\n\n", 1)[-1]:
        problems.append("long description missing")
    if not any(n.startswith("aiter/_C") for n in names):
        problems.append("compiled backend missing")
    tables = sorted(f"aiter/tuning/{p.rsplit('/', 1)[-1]}" for p in glob.glob("aiter/tuning/*.json"))
    if any(t not in names for t in tables):
        problems.append("per-GPU launch tables missing")
    print(f"wheel {wheel.rsplit('/', 1)[-1]}: " + ("ok" if not problems else ", ".join(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
