"""Downloading one robot's meshes on demand (`tabrl.menagerie.fetch`), against a real local
HTTP server standing in for Menagerie's release downloads (the only part faked: the internet)."""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tabrl.menagerie import MeshFetchError, RobotArchive, downloads_root, fetch

ROBOT = "toy_robot"
FILES = {"toy.xml": b"<mujoco/>", "assets/body.stl": b"solid toy\nendsolid toy\n" * 200}


def _archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:xz") as tar:
        for name, data in FILES.items():
            info = tarfile.TarInfo(f"{ROBOT}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


GOOD = _archive()
# Same size, one byte flipped in the middle: the digest no longer matches.
CORRUPT = GOOD[: len(GOOD) // 2] + bytes([GOOD[len(GOOD) // 2] ^ 0xFF]) + GOOD[len(GOOD) // 2 + 1:]


class Handler(BaseHTTPRequestHandler):
    extra: dict[str, bytes] = {}  # more paths a test serves

    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.path in self.extra:
            body = self.extra[self.path]
        elif self.path.endswith("/good.tar.xz"):
            body = GOOD
        elif self.path.endswith("/corrupt.tar.xz"):
            body = CORRUPT
        elif self.path.endswith("/hang.tar.xz"):
            # Headers and half the archive, then silence: a stalled download.
            self.send_response(200)
            self.send_header("Content-Length", str(len(GOOD)))
            self.end_headers()
            self.wfile.write(GOOD[: len(GOOD) // 2])
            self.wfile.flush()
            time.sleep(30)
            return
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/assets"
    httpd.shutdown()


@pytest.fixture
def data(tmp_path, monkeypatch):
    monkeypatch.setenv("TABRL_DATA_DIR", str(tmp_path))
    return tmp_path


def spec(asset: str) -> RobotArchive:
    return RobotArchive(robot=ROBOT, asset=asset, sha256=hashlib.sha256(GOOD).hexdigest(), size=len(GOOD))


def left_behind() -> list[str]:
    root = downloads_root()
    return sorted(p.name for p in root.iterdir() if not p.name.startswith(".lock-")) if root.is_dir() else []


def test_a_verified_archive_lands_in_the_data_folder_with_progress(server, data):
    seen = []
    folder = fetch(spec("good.tar.xz"), base_url=server, progress=lambda robot, done, total: seen.append(done))
    assert folder == data / "menagerie" / ROBOT
    assert {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()} == FILES
    assert seen and seen[-1] == len(GOOD)
    assert left_behind() == [ROBOT]  # the robot, no temporary folder
    assert fetch(spec("good.tar.xz"), base_url="http://127.0.0.1:9/never-asked") == folder  # already there


@pytest.mark.parametrize("asset, says", [
    ("corrupt.tar.xz", "damaged"),
    ("missing.tar.xz", "HTTP 404"),
    ("hang.tar.xz", "did not answer"),
])
def test_a_failed_download_says_why_quickly_and_leaves_nothing(server, data, asset, says):
    start = time.monotonic()
    with pytest.raises(MeshFetchError, match=says) as error:
        fetch(spec(asset), base_url=server, read_timeout=2)
    assert time.monotonic() - start < 10
    assert ROBOT in str(error.value)
    assert left_behind() == []


def test_a_bad_archive_with_the_right_digest_is_not_unpacked_half(server, data):
    """The digest matches what was served, but it is not a tar: an error, no folder."""
    bad = RobotArchive(robot=ROBOT, asset="corrupt.tar.xz", sha256=hashlib.sha256(CORRUPT).hexdigest(),
                       size=len(CORRUPT))
    with pytest.raises(MeshFetchError, match="could not be unpacked"):
        fetch(bad, base_url=server)
    assert left_behind() == []


def test_offline_fails_at_once(data):
    start = time.monotonic()
    with pytest.raises(MeshFetchError, match="no internet connection"):
        fetch(spec("good.tar.xz"), base_url="http://127.0.0.1:9/assets")  # nothing listens on port 9
    assert time.monotonic() - start < 5
    assert left_behind() == []


def test_a_downloaded_robot_becomes_available_in_the_catalog(server, data, monkeypatch, tmp_path):
    """The whole path with a real robot: the Go1's folder, served as an archive, stands in for a
    robot that is not shipped; after `fetch_meshes` the model loads and is listed as ready."""
    from tabrl import catalog, menagerie

    packed = tmp_path / "unitree_go1.tar.xz"
    with tarfile.open(packed, "w:xz") as tar:
        tar.add(menagerie.BUNDLED_ROOT / "unitree_go1", arcname="unitree_go1")
    body = packed.read_bytes()
    Handler.extra = {"/assets/unitree_go1.tar.xz": body}
    go1 = RobotArchive(robot="unitree_go1", asset="unitree_go1.tar.xz", sha256=hashlib.sha256(body).hexdigest(),
                       size=len(body))
    monkeypatch.setattr(menagerie, "BUNDLED_ROOT", tmp_path / "nothing-shipped")
    monkeypatch.delenv("TABRL_MENAGERIE_DIR", raising=False)
    monkeypatch.setenv("MENAGERIE_BASE_URL", server)
    monkeypatch.setattr(menagerie, "archive", lambda robot: go1)

    before = next(e for e in catalog.load_catalog() if e.id == "Go1Handstand")
    assert not before.available and before.meshes_missing
    seen = []
    entry = catalog.fetch_meshes("Go1Handstand", lambda robot, done, total: seen.append((robot, done, total)))
    assert entry.available and entry.action_size == 12, entry.unavailable_reason
    assert seen[-1] == ("unitree_go1", len(body), len(body))
    assert (data / "menagerie" / "unitree_go1" / "assets" / "trunk.stl").is_file()
    # the other Go1 models use the same robot folder: ready too, and the cache says so
    assert next(e for e in catalog.load_catalog() if e.id == "Go1Getup").available
