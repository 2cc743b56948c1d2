"""The `tabrl` command: a thin adapter that wires the core (`tabrl`) to its adapters.

It lives outside the core so that nothing under `tabrl/` imports Ray, Tune, Serve
or Streamlit (the import-linter contracts in `pyproject.toml` hold the layering):
`tabrl train` reaches Tune through `tune_jobs`, `tabrl serve` the Serve app
through `serve_app`. Run it as `tabrl ...` or `python -m tabrl_cli ...`.
"""
