"""Which feature family a model uses, and a model-id check that stays fast.

Importing Playground takes about 5 s on a laptop-class CPU, half of the 10 s
`tabrl propose` may take, so the list of registry ids is cached, keyed by the
Playground version.
"""

from __future__ import annotations

import json

from tabrl.rewards.cache import find, versioned_name, write


def feature_family(model_id: str) -> str:
    """'go1' for the Unitree Go1 models (rich quadruped features), else 'generic'."""
    return "go1" if model_id.startswith("Go1") else "generic"


def model_ids_name() -> str:
    return versioned_name("model-ids", None, ".json")


def known_model_ids() -> list[str]:
    """Every Playground registry id (cached; see `tabrl.rewards.cache`)."""
    path = find(model_ids_name())
    if path is not None:
        try:
            ids = json.loads(path.read_text())
            if isinstance(ids, list) and all(isinstance(i, str) for i in ids):
                return ids
        except ValueError:
            pass  # a damaged cache is rebuilt below
    from tabrl.playground import model_ids

    ids = model_ids()
    write(model_ids_name(), lambda tmp: tmp.write_text(json.dumps(ids)))
    return ids


def check_model(model_id: str) -> str:
    """Return `model_id` if Playground knows it; else raise `UnknownModelError` with hints."""
    if model_id in known_model_ids():
        return model_id
    from tabrl.playground import check_model_id

    return check_model_id(model_id)  # raises with the closest names
