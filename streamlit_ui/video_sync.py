"""Three videos side by side, played in sync by one control (an HTML + JavaScript component).

Where the browser gets the video bytes from (decision)
------------------------------------------------------
By default the bytes are **proxied through Streamlit**: the UI process fetches
each MP4 from the API (`GET /api/training/jobs/{id}/videos/{i}`, cached) and
embeds it in the component as a `data:video/mp4;base64,...` URL. The browser
then needs to reach only the Streamlit server, which is the one host a person
can always reach (on a cluster the API usually listens on a head node the
browser cannot see). The cost is size: base64 adds a third, and the component
is re-sent on each full rerun of the page. TabRL's videos are 10 s of simple
scenes, 0.1-1.5 MB each at 640x480, so three of them are a few MB on a
page that reruns only when a person clicks; `MAX_INLINE_BYTES` caps the total.

When the browser *can* reach the API (set `TABRL_PUBLIC_API_URL`, the API root
as the browser sees it, e.g. `http://localhost:8000` on one machine), the
component uses plain URLs instead: no size limit, and the API's Range support
lets the browser seek without downloading the whole file. Above
`MAX_INLINE_BYTES` without a public URL, the UI falls back to the API URL
(`TABRL_API_URL`) and says so.

Synchronization: the first video is the clock. One play/pause button, one seek
bar and one speed selector drive all three; every animation frame the other
two are nudged back when they drift more than 1.5 frames from the clock, and the
three start together once all of them can play.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass

MAX_INLINE_BYTES = 24 * 1024 * 1024
"""Above this total, videos are not embedded (see the module docstring)."""


@dataclass(frozen=True)
class VideoTile:
    src: str
    """A data: URL or an http(s) URL the browser can load."""
    name: str
    description: str
    favourite: bool = False


def data_url(video: bytes, mime: str = "video/mp4") -> str:
    return f"data:{mime};base64,{base64.b64encode(video).decode('ascii')}"


def component_height(count: int, aspect: float = 4 / 3) -> int:
    """The iframe's height: videos at about a third of a wide page each (the player letterboxes
    them into whatever width the page really has), plus captions and the control bar."""
    video_width = 1000 / max(count, 1) if count > 1 else 640
    return int(min(video_width / aspect, 420)) + 110


def sync_player_html(tiles: list[VideoTile], *, aspect: float = 4 / 3, fps: float = 30.0) -> str:
    """The component's whole document. Tiles without a source are shown as a placeholder."""
    cards = []
    for i, tile in enumerate(tiles):
        star = '<span class="fav" title="your favourite">⭐</span>' if tile.favourite else ""
        if tile.src:
            media = (f'<video id="v{i}" data-index="{i}" muted loop playsinline preload="auto" '
                     f'src="{html.escape(tile.src, quote=True)}"></video>')
        else:
            media = '<div class="missing">no video</div>'
        cards.append(
            f'<figure class="tile">{media}<figcaption><div class="name">{star}'
            f'{html.escape(tile.name)}</div><div class="desc">{html.escape(tile.description)}</div>'
            f'</figcaption></figure>'
        )
    drift = 1.5 / max(fps, 1.0)
    return _TEMPLATE.replace("%%CARDS%%", "\n".join(cards)).replace(
        "%%COLUMNS%%", str(max(len(tiles), 1))).replace(
        "%%ASPECT%%", f"{aspect:.4f}").replace("%%DRIFT%%", json.dumps(drift))


_TEMPLATE = """<!doctype html>
<html><head><meta charset="utf-8"><style>
  :root { color-scheme: light dark; }
  html, body { height: 100%; }
  body { margin: 0; font-family: "Source Sans Pro", "Source Sans 3", system-ui, sans-serif;
         display: flex; flex-direction: column; }
  /* The videos take whatever height the frame leaves after captions and controls, letterboxed. */
  .grid { flex: 1 1 auto; min-height: 0; display: grid; gap: 12px;
          grid-template-columns: repeat(%%COLUMNS%%, minmax(0, 1fr)); }
  .tile { margin: 0; border-radius: 12px; overflow: hidden; background: rgba(127,127,127,.08);
          border: 1px solid rgba(127,127,127,.25); display: flex; flex-direction: column; min-height: 0; }
  video, .missing { display: block; flex: 1 1 auto; min-height: 0; width: 100%; height: 100%;
                    background: #111; object-fit: contain; }
  .missing { color: #aaa; display: flex; align-items: center; justify-content: center; }
  figcaption { padding: 6px 10px 8px; }
  .name { font-weight: 700; font-size: 15px; }
  .desc { font-size: 13px; opacity: .75; line-height: 1.25; height: 2.5em; overflow: hidden; }
  .fav { margin-right: 4px; }
  .bar { flex: 0 0 auto; display: flex; gap: 10px; align-items: center; margin-top: 10px; font-size: 14px; }
  .bar button, .bar select { font: inherit; border-radius: 8px; border: 1px solid rgba(127,127,127,.4);
                             background: rgba(127,127,127,.1); padding: 4px 12px; cursor: pointer; color: inherit; }
  .bar input[type=range] { flex: 1; accent-color: #ff4b4b; }
  #time { font-variant-numeric: tabular-nums; min-width: 92px; text-align: right; }
</style></head><body>
<div class="grid">%%CARDS%%</div>
<div class="bar">
  <button id="play" title="play / pause all three (space)">⏸ Pause</button>
  <button id="restart" title="back to the start">⏮</button>
  <input id="seek" type="range" min="0" max="1000" value="0" step="1" aria-label="seek all three">
  <span id="time">0.0 / 0.0 s</span>
  <select id="rate" aria-label="speed"><option value="0.25">0.25×</option><option value="0.5">0.5×</option>
    <option value="1" selected>1×</option><option value="2">2×</option></select>
</div>
<script>
(function () {
  const vids = Array.from(document.querySelectorAll("video"));
  const play = document.getElementById("play"), seek = document.getElementById("seek");
  const time = document.getElementById("time"), rate = document.getElementById("rate");
  const DRIFT = %%DRIFT%%;
  if (!vids.length) { play.disabled = seek.disabled = true; return; }
  const clock = vids[0];
  let wantPlay = true, dragging = false, started = false;

  const duration = () => {
    const ds = vids.map(v => v.duration).filter(d => isFinite(d) && d > 0);
    return ds.length ? Math.min.apply(null, ds) : 0;
  };
  const setAll = t => vids.forEach(v => { try { v.currentTime = t; } catch (e) {} });
  const playAll = () => Promise.all(vids.map(v => v.play().catch(() => null)));
  const pauseAll = () => vids.forEach(v => v.pause());
  const show = () => {
    const d = duration(), t = Math.min(clock.currentTime, d || clock.currentTime);
    time.textContent = t.toFixed(1) + " / " + d.toFixed(1) + " s";
    if (!dragging && d) seek.value = Math.round(1000 * t / d);
    play.textContent = wantPlay ? "⏸ Pause" : "▶ Play";
  };
  const startTogether = () => {
    if (started || !vids.every(v => v.readyState >= 3)) return;
    started = true;
    document.body.dataset.ready = "1";
    setAll(0);
    if (wantPlay) playAll();
  };
  vids.forEach(v => {
    v.addEventListener("canplay", startTogether);
    v.addEventListener("loadeddata", startTogether);
    v.addEventListener("error", () => { v.dataset.error = "1"; });
  });
  startTogether();

  play.addEventListener("click", () => {
    wantPlay = !wantPlay;
    if (wantPlay) { setAll(clock.currentTime); playAll(); } else { pauseAll(); }
    show();
  });
  document.getElementById("restart").addEventListener("click", () => { setAll(0); if (wantPlay) playAll(); show(); });
  seek.addEventListener("input", () => { dragging = true; setAll(seek.value / 1000 * duration()); show(); });
  seek.addEventListener("change", () => { dragging = false; if (wantPlay) playAll(); });
  rate.addEventListener("change", () => vids.forEach(v => { v.playbackRate = parseFloat(rate.value); }));
  document.addEventListener("keydown", e => { if (e.code === "Space") { e.preventDefault(); play.click(); } });

  // The clock is the first video; the others follow it, and all loop together.
  const tick = () => {
    if (wantPlay && started && !dragging) {
      const t = clock.currentTime;
      vids.slice(1).forEach(v => {
        if (Math.abs(v.currentTime - t) > DRIFT) { try { v.currentTime = t; } catch (e) {} }
        if (v.paused && !clock.paused) v.play().catch(() => null);
      });
    }
    show();
    window.requestAnimationFrame(tick);
  };
  window.requestAnimationFrame(tick);
})();
</script></body></html>
"""
