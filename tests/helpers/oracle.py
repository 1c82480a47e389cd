"""Run cases through the Node reference packages (the oracle) in one process.

Each oracle script under tests/oracle/ reads a JSON array of cases on stdin and
writes a JSON array of results, one per case, on stdout.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

ORACLE_DIR = Path(__file__).resolve().parent.parent / "oracle"


def run_oracle(script: str, cases: list[Any], timeout: float = 600) -> list[Any]:
    proc = subprocess.run(
        ["node", str(ORACLE_DIR / script)],
        input=json.dumps(cases).encode(),
        capture_output=True,
        timeout=timeout,
        cwd=ORACLE_DIR,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"oracle {script} failed: {proc.stderr.decode()[-2000:]}")
    results = json.loads(proc.stdout)
    assert len(results) == len(cases), "oracle returned a different number of results"
    return results
