"""TabRL core: model catalog, reward specs, training and rendering.

This package imports neither Ray nor Streamlit; the adapters in `serve_app/`,
`tune_jobs/` and `streamlit_ui/` build on it.
"""

import os

# MuJoCo picks its OpenGL backend when it is first imported. Headless EGL works
# on CPU machines (Mesa) and NVIDIA GPUs alike; a user's own setting wins.
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])

__version__ = "0.1.0"
