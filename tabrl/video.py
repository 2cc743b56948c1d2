"""H.264 MP4 files: writing, probing, and the side-by-side composite.

ffmpeg comes from `imageio-ffmpeg` (a static build with libx264), so no system
ffmpeg is needed.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from pydantic import BaseModel


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


MP4_ARGS = ["-movflags", "+faststart", "-x264-params", "no-mbtree=1"]


@contextlib.contextmanager
def mp4_writer(path: Path, shape: tuple[int, int], fps: int) -> Iterator:
    """A writer whose `add_image(frame)` encodes each frame as it comes (ffmpeg in its own
    process, so encoding overlaps drawing); the file appears at `path` when the block ends
    without an error. Same format as `write_mp4`."""
    import mediapy

    mediapy.set_ffmpeg(ffmpeg_exe())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".part.mp4")
    with mediapy.VideoWriter(tmp, shape, fps=fps, codec="h264", encoded_format="yuv420p",
                             ffmpeg_args=MP4_ARGS) as writer:
        yield writer
    tmp.replace(path)


def write_mp4(path: Path, frames: np.ndarray, fps: int) -> Path:
    """H.264, yuv420p (plays everywhere), moov atom first (a browser can start at once).

    x264's macroblock tree (mbtree) sets the first frame's quality from the
    frames that follow it, so two videos from one initial state would decode to
    slightly different first frames; without it, equal frames encode to equal
    frames (about 40% larger files), which is what "synchronized" promises.
    """
    with mp4_writer(path, frames.shape[1:3], fps) as writer:
        for frame in frames:
            writer.add_image(frame)
    return Path(path)


class VideoInfo(BaseModel):
    codec: str
    pixel_format: str
    width: int
    height: int
    fps: float
    frames: int
    seconds: float


def probe(path: Path) -> VideoInfo:
    """What ffmpeg says of a video, frames counted by decoding it."""
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-i", str(path), "-map", "0:v:0", "-f", "null", "-"],
        capture_output=True, text=True, timeout=120,
    )
    log = result.stderr
    stream = re.search(r"Stream #0:\d+.*?Video: (\w+).*?, (\w+)(?:\(.*?\))?, (\d+)x(\d+).*?([\d.]+) fps", log)
    frames = re.findall(r"frame=\s*(\d+)", log)
    if result.returncode != 0 or not stream or not frames:
        raise ValueError(f"{path} is not a readable video: {log.strip().splitlines()[-1:]}")
    codec, pix_fmt, width, height, fps = stream.groups()
    n = int(frames[-1])
    return VideoInfo(codec=codec, pixel_format=pix_fmt, width=int(width), height=int(height),
                     fps=float(fps), frames=n, seconds=n / float(fps))


def read_frames(path: Path) -> np.ndarray:
    """Decoded RGB frames (n, height, width, 3). (mediapy's reader passes `-vsync`,
    which the ffmpeg 9 in imageio-ffmpeg no longer accepts.)"""
    info = probe(path)
    result = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, timeout=300, check=True,
    )
    return np.frombuffer(result.stdout, np.uint8).reshape(-1, info.height, info.width, 3)


def label_bar(text: str, width: int, height: int = 28) -> np.ndarray:
    """A dark bar with white text: the approach name above each composite panel."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (width, height), (24, 24, 32))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=int(height * 0.6))
    while draw.textlength(text, font=font) > width - 12 and len(text) > 4:
        text = text[:-2].rstrip() + "…"
    draw.text((6, height * 0.18), text, fill=(255, 255, 255), font=font)
    return np.asarray(image)


def write_composite(path: Path, videos: list[np.ndarray], labels: list[str], fps: int) -> Path:
    """Panels side by side, each under its label, cut to the shortest video."""
    n = min(len(v) for v in videos)
    panels = []
    for frames, label in zip(videos, labels):
        bar = label_bar(label, frames.shape[2])
        panels.append(np.concatenate([np.broadcast_to(bar, (n, *bar.shape)), frames[:n]], axis=1))
    composite = np.concatenate(panels, axis=2)
    # H.264 with yuv420p needs even dimensions.
    h, w = composite.shape[1] // 2 * 2, composite.shape[2] // 2 * 2
    return write_mp4(path, composite[:, :h, :w], fps)
