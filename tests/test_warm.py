"""`tabrl warm`'s refusals. That a trial after `tabrl warm` compiles nothing:
tests/test_compile_reuse.py; that the server warms a model at start: tests/test_serve.py."""

from __future__ import annotations

import os
import subprocess
import sys


def test_warm_refuses_nonsense_clearly(tmp_path):
    env = {**os.environ, "TABRL_DATA_DIR": str(tmp_path)}
    for args, says in ((["--model", "NoSuchRobot"], "NoSuchRobot"),
                       (["--model", "CartpoleBalance", "--steps", "5"], "at least")):
        result = subprocess.run([sys.executable, "-m", "tabrl_cli", "warm", *args], capture_output=True,
                                text=True, timeout=300, env=env)
        assert result.returncode == 2 and says in result.stderr and "Traceback" not in result.stderr
