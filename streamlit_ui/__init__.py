"""TabRL's Streamlit front end: a thin adapter over the Serve HTTP API (see app.py)."""
