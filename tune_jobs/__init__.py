"""Ray Tune adapter: a job's reward approaches trained as parallel Tune trials.

Thin on purpose: the training itself is `tabrl.training.train_approach`; `pipeline`
runs a whole job (propose, train, render), `demos` makes the ready-made demo jobs.
"""

from tune_jobs.batch import run_batch

__all__ = ["run_batch"]
