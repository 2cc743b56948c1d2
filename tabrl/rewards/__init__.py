"""Reward design: a prompt becomes three validated reward approaches.

    from tabrl.rewards import propose
    proposal = propose("Go1JoystickFlatTerrain", "Keep shaking your hips aloha dude!")

Modules: `spec` (the pydantic models), `features` (what a reward can see, per
robot family), `compile` (spec -> JAX function), `wrapper` (a Playground
environment with the spec's reward), `sandbox` (free-form formulas, checked),
`library` (the offline behaviours and the fallbacks), `proposers` (offline,
LLM, fallback), `variants` (Regenerate: other approaches for the same
prompt), `validate`, `prompt`, `samples` (sample states for validation),
`families` (which feature set a model uses), `cache` (files derived from
Playground once, some bundled), `summary` (terminal text).

Names are imported lazily so that `import tabrl.rewards` stays cheap.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "propose": "tabrl.rewards.proposers",
    "propose_offline": "tabrl.rewards.proposers",
    "propose_llm": "tabrl.rewards.proposers",
    "PromptError": "tabrl.rewards.prompt",
    "VariantError": "tabrl.rewards.variants",
    "MAX_VARIANT": "tabrl.rewards.variants",
    "clean_prompt": "tabrl.rewards.prompt",
    "RewardSpec": "tabrl.rewards.spec",
    "Term": "tabrl.rewards.spec",
    "Approach": "tabrl.rewards.spec",
    "Proposal": "tabrl.rewards.spec",
    "FeatureInfo": "tabrl.rewards.features",
    "feature_catalog": "tabrl.rewards.features",
    "compile_spec": "tabrl.rewards.compile",
    "CompiledReward": "tabrl.rewards.compile",
    "SpecError": "tabrl.rewards.validate",
    "validate_spec": "tabrl.rewards.validate",
    "SpecRewardEnv": "tabrl.rewards.wrapper",
    "with_spec_reward": "tabrl.rewards.wrapper",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tabrl.rewards' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
