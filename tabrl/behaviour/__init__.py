"""What a trained behaviour actually did: measured from a rollout, judged against the
reward's intents, and compared across approaches.

    report = describe(model, rollout_states(...), fps, family)   # numbers
    results = judge(spec, report)                                  # met / partly / not met
    summarize(spec, results).sentence, plain_words(report)         # for people
    distinctness([report_a, report_b, report_c])                   # are the three different?

numpy + MuJoCo only: no JAX, Ray or Streamlit.
"""

from tabrl.behaviour.compare import Distinctness, PairDistance, descriptor_vector, distinctness, plain_words
from tabrl.behaviour.describe import describe
from tabrl.behaviour.intents import IntentResult, IntentSummary, judge, summarize
from tabrl.behaviour.report import BehaviourReport, FootMotion, JointMotion, Traces
from tabrl.behaviour.signals import Oscillation, dominant_oscillation

__all__ = [
    "BehaviourReport", "Distinctness", "FootMotion", "IntentResult", "IntentSummary", "JointMotion",
    "Oscillation", "PairDistance", "Traces", "describe", "descriptor_vector", "distinctness",
    "dominant_oscillation", "judge", "plain_words", "summarize",
]  # fmt: skip
