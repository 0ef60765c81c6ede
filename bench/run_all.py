"""Run every benchmark in bench/ (``--quick`` is passed on); print their RESULT lines last."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main() -> int:
    here = Path(__file__).resolve().parent
    extra = sys.argv[1:]
    results, failed = [], []
    for script in sorted(here.glob("*.py")):
        if script.name == "run_all.py":
            continue
        print(f"== {script.name} {' '.join(extra)}", flush=True)
        proc = subprocess.run([sys.executable, str(script), *extra], capture_output=True, text=True)
        print(proc.stdout, end="")
        if proc.returncode:
            print(proc.stderr, end="")
            failed.append(script.name)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")]
        results.append(f"{script.stem}: {lines[-1] if lines else 'no RESULT line'}")
    print("\n".join(["", "== results", *results]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
