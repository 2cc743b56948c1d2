"""Ray Tune adapter: a batch of reward approaches trained as parallel Tune trials.

Thin on purpose: the training itself is `tabrl.training.train_approach`.
"""

from tune_jobs.batch import BatchResult, TrialOutcome, run_batch

__all__ = ["BatchResult", "TrialOutcome", "run_batch"]
