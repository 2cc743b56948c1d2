"""`python -m tune_jobs`: one batch (propose, train as Tune trials, render), for Ray jobs.

    ray job submit --working-dir . -- python -m tune_jobs --model Go1JoystickFlatTerrain \\
        --prompt "Keep shaking your hips aloha dude!" --steps 5000000 --json

The same code path as `tabrl train` (it is `tabrl train`); inside a Ray job,
`ray.init()` joins the cluster the job runs on.
"""

from __future__ import annotations

import sys

from tabrl.cli import main as tabrl_main


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["train"]:
        args = args[1:]
    return tabrl_main(["train", *args])


if __name__ == "__main__":
    sys.exit(main())
