"""Write the package's bundle of reward-package files (`tabrl/rewards/bundled/`).

    python -m tabrl.rewards.bundle [MODEL...]

Run after a Playground upgrade (`tests/test_reward_compile.py` says when). A
script above the modules whose files it writes (`tabrl.rewards.cache` is below them).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from tabrl.rewards.cache import write
from tabrl.rewards.families import feature_family, known_model_ids, model_ids_name
from tabrl.rewards.features import catalog_name, feature_catalog
from tabrl.rewards.samples import sample_features, samples_name

BUNDLED_MODELS = ("Go1JoystickFlatTerrain", "CartpoleBalance")


def bundle(model_ids: list[str]) -> list[Path]:
    """Derive the model-id list and each model's feature list and sample states into
    the package's bundle folder."""
    ids = known_model_ids()
    written = [write(model_ids_name(), lambda p: p.write_text(json.dumps(ids)), bundle=True)]
    for model_id in model_ids:
        if feature_family(model_id) != "go1":  # Go1's list is fixed in code
            catalog = [info.model_dump() for info in feature_catalog(model_id)]
            written.append(write(catalog_name(model_id), lambda p: p.write_text(json.dumps(catalog)), bundle=True))
        samples = sample_features(model_id)
        written.append(write(samples_name(model_id), lambda p: np.savez_compressed(p, **samples), bundle=True))
    return written


if __name__ == "__main__":
    for path in bundle(sys.argv[1:] or list(BUNDLED_MODELS)):
        print(path)
