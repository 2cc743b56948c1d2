"""The job folder's layout and job ids (`tabrl.job_layout`): fast, no Ray."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from serve_app.schemas import JOB_ID_PATTERN
from tabrl.job_layout import JobLayout, new_job_id


def test_the_layout_is_the_one_the_api_the_cli_and_the_demos_use(tmp_path):
    layout = JobLayout(tmp_path / "20261124-101010-abcdef")
    root = layout.root
    assert layout.job_id == "20261124-101010-abcdef"
    assert layout.record == root / "job.json" and layout.composite == root / "composite.mp4"
    assert layout.checkpoint(2) == root / "approach-2" / "checkpoint"
    assert layout.video(0) == root / "approach-0" / "video.mp4"
    assert layout.rendering(1, "render-2s.mp4") == root / "approach-1" / "render-2s.mp4"
    assert layout.tune == root / "tune"
    assert JobLayout(str(root)) == layout  # a str or a Path


@pytest.mark.parametrize("name", ["../job.json", "a/b.mp4", "..", ""])
def test_a_rendering_name_never_leaves_its_folder(tmp_path, name):
    with pytest.raises(ValueError):
        JobLayout(tmp_path).rendering(0, name)


def test_job_ids_are_what_the_api_accepts():
    ids = {new_job_id() for _ in range(20)}
    assert len(ids) == 20 and all(re.match(JOB_ID_PATTERN, i) for i in ids)
    assert not any(Path(i).name != i for i in ids)
