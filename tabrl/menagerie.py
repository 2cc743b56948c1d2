"""Where each Playground model's robot meshes (MuJoCo Menagerie folders) come from.

Playground reads one Menagerie root (`mjx_env.MENAGERIE_PATH`) and, per model, the
robot folders under it (`unitree_go1/`, `unitree_g1/`, ...). TabRL chooses that root
per model, before loading it, from three places, first match wins:

1. `TABRL_MENAGERIE_DIR`: a person's own Menagerie checkout (or part of one);
2. the folders shipped in this package (`tabrl/assets/menagerie/`: the Go1);
3. the folders downloaded on demand into `DATA_DIR/menagerie/`.

A download is one robot's verified archive from Menagerie's releases (the same
archives and digests as the `mujoco-menagerie` package, whose registry we read).
It is written under a temporary name and renamed into place only when complete,
with short network timeouts, so offline or a stalled server fails in seconds and
never leaves a half-written robot folder. (Not `mujoco_menagerie.Cache` itself: it
waits 60 s per read and retries three times, minutes on a stalled server.)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tarfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from tabrl.settings import data_dir, menagerie_dir_override

BUNDLED_ROOT = Path(__file__).parent / "assets" / "menagerie"
DEFAULT_BASE_URL = "https://github.com/google-deepmind/mujoco_menagerie/releases/download/assets"
READ_TIMEOUT_S = 10.0  # connect, and every read
Progress = Callable[[str, int, int], None]  # (robot, bytes done, bytes total)

# Model id prefix -> the Menagerie folders its Playground environment reads
# (mujoco_playground/_src/*/<robot>/base.py: `mjx_env.MENAGERIE_PATH / "<folder>"`).
# Longest prefix first; dm_control_suite models need none.
ROBOTS_BY_PREFIX: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("BerkeleyHumanoid", ("berkeley_humanoid",)),
    ("PandaRobotiq", ("franka_emika_panda", "robotiq_2f85_v4")),
    ("Panda", ("franka_emika_panda",)),
    ("Apollo", ("apptronik_apollo",)),
    ("Barkour", ("google_barkour_vb",)),
    ("Aloha", ("aloha",)),
    ("Leap", ("leap_hand",)),
    ("Aero", ("tetheria_aero_hand_open",)),
    ("Spot", ("boston_dynamics_spot",)),
    ("Op3", ("robotis_op3",)),
    ("Go1", ("unitree_go1",)),
    ("G1", ("unitree_g1",)),
    ("H1", ("unitree_h1",)),
    ("T1", ("booster_t1",)),
)


class MeshFetchError(RuntimeError):
    """A robot's meshes could not be downloaded; `str()` says why and what to do."""


class RobotArchive(BaseModel):
    """One robot folder as a published archive (a `.tar.xz` holding `<robot>/...`)."""

    robot: str
    asset: str
    sha256: str
    size: int


def robots_for(model_id: str) -> tuple[str, ...] | None:
    """The Menagerie folders a (locomotion or manipulation) model reads; None when unknown."""
    for prefix, robots in ROBOTS_BY_PREFIX:
        if model_id.startswith(prefix):
            return robots
    return None


def downloads_root() -> Path:
    return data_dir() / "menagerie"


def roots() -> list[Path]:
    """Where robot folders are looked for, in order."""
    override = menagerie_dir_override()
    return [p for p in (override, BUNDLED_ROOT, downloads_root()) if p is not None]


def root_for(robots: tuple[str, ...]) -> Path | None:
    """The first root that holds every one of `robots`; None when some are missing."""
    for root in roots():
        if all((root / robot).is_dir() for robot in robots):
            return root
    return None


def missing(robots: tuple[str, ...]) -> list[str]:
    return [r for r in robots if not any((root / r).is_dir() for root in roots())]


def installed_robots() -> dict[str, list[str]]:
    """Every root's robot folders (the catalog's cache key depends on them)."""
    return {str(root): sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
            for root in roots() if root.is_dir()}


def archive(robot: str) -> RobotArchive:
    """The published archive of `robot`, from the `mujoco-menagerie` package's registry."""
    import mujoco_menagerie

    try:
        entry = mujoco_menagerie.get(robot)
    except mujoco_menagerie.MenagerieError as error:
        raise MeshFetchError(f"no published archive for the {robot} meshes: {error}") from None
    if entry.sha256 is None or entry.download_size is None:
        raise MeshFetchError(f"no published archive for the {robot} meshes")
    return RobotArchive(robot=robot, asset=entry.asset, sha256=entry.sha256, size=entry.download_size)


def download_size(robots: tuple[str, ...]) -> int | None:
    try:
        return sum(archive(r).size for r in robots)
    except (MeshFetchError, ImportError):
        return None


def fetch(spec: RobotArchive, *, base_url: str | None = None, progress: Progress | None = None,
          read_timeout: float = READ_TIMEOUT_S) -> Path:
    """Download, verify and unpack one robot into `DATA_DIR/menagerie/<robot>`; return that folder.

    Raises `MeshFetchError` (offline, HTTP error, stalled longer than `read_timeout`,
    digest mismatch, bad archive); nothing is left behind but the temporary folder's
    removal. Concurrent fetches of the same robot wait for each other (a file lock).
    """
    root = downloads_root()
    target = root / spec.robot
    root.mkdir(parents=True, exist_ok=True)
    with _lock(root / f".lock-{spec.robot}"):
        if target.is_dir():
            return target
        _remove_stale_stages(root)
        stage = root / f".partial-{spec.robot}-{uuid.uuid4().hex[:8]}"
        stage.mkdir()
        try:
            url = f"{(base_url or os.environ.get('MENAGERIE_BASE_URL') or DEFAULT_BASE_URL).rstrip('/')}/{spec.asset}"
            packed = stage / spec.asset
            _download(url, packed, spec, progress, read_timeout)
            digest = _sha256(packed)
            if packed.stat().st_size != spec.size or digest != spec.sha256:
                raise MeshFetchError(f"the {spec.robot} archive from {url} is damaged (its checksum does not "
                                     "match the published one); try again later")
            try:
                with tarfile.open(packed) as tar:
                    tar.extractall(stage, filter="data")
            except (tarfile.TarError, OSError, EOFError) as error:
                raise MeshFetchError(f"the {spec.robot} archive could not be unpacked ({error})") from None
            tree = stage / spec.robot
            if not tree.is_dir():
                raise MeshFetchError(f"the {spec.robot} archive has no {spec.robot}/ folder")
            os.replace(tree, target)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    return target


def fetch_robots(robots: tuple[str, ...], progress: Progress | None = None) -> None:
    """Fetch every robot of `robots` that no root holds yet; a failure says what to do."""
    for robot in missing(robots):
        try:
            fetch(archive(robot), progress=progress)
        except MeshFetchError as error:
            raise MeshFetchError(f"{error}. Try again once online, or clone MuJoCo Menagerie elsewhere, copy it "
                                 "here and set TABRL_MENAGERIE_DIR to it.") from None


def _download(url: str, dest: Path, spec: RobotArchive, progress: Progress | None, read_timeout: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "tabrl"})
    try:
        # The timeout bounds the connect and every read: a server that stops sending fails fast.
        with urllib.request.urlopen(request, timeout=read_timeout) as response, open(dest, "wb") as out:
            done = 0
            while chunk := response.read(1 << 16):
                out.write(chunk)
                done += len(chunk)
                if done > spec.size:
                    raise MeshFetchError(f"the {spec.robot} archive from {url} is larger than published")
                if progress:
                    progress(spec.robot, done, spec.size)
    except urllib.error.HTTPError as error:
        raise MeshFetchError(f"downloading the {spec.robot} meshes failed: {url} answered HTTP {error.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        reason = getattr(reason, "strerror", None) or reason  # "Connection refused", not "[Errno 111] ..."
        raise MeshFetchError(f"downloading the {spec.robot} meshes failed ({reason or type(error).__name__}): "
                             "no internet connection, or the server did not answer") from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _remove_stale_stages(root: Path, older_than_s: float = 3600) -> None:
    """Temporary folders that a killed process left behind (an hour old: none is still being written)."""
    for stage in root.glob(".partial-*"):
        with contextlib.suppress(OSError):
            if time.time() - stage.stat().st_mtime > older_than_s:
                shutil.rmtree(stage, ignore_errors=True)


@contextlib.contextmanager
def _lock(path: Path):
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
