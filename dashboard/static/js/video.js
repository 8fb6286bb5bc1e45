// The session video beside the replay's traces, kept in step with the replay cursor.
//
// A <video> element cannot send the Authorization header, so the page asks the API (with the
// token) for a short-lived signed URL and gives that to the element; when the link expires the
// element errors and a fresh one is fetched. Video time = session time - offset, where the offset
// (the session second of the video's first frame) comes from the analysis and can be nudged here
// by hand or found from sound (the video's soundtrack against the recorded loudness, on the
// server); the chosen value is remembered in this browser per session and video file.
import { api } from "./api.js";
import { h } from "./dyadview.js";

const DRIFT_PLAYING_S = 0.5; // let the video play on by itself unless it drifts this far
const DRIFT_PAUSED_S = 0.04; // about one frame

export function sessionVideo(apiBase, sessionId) {
  const status = h("p", { className: "muted", "data-video-status": "" }, "Looking for the session video…");
  const video = h("video", { muted: true, playsInline: true, preload: "auto", "aria-label": "Session video" });
  video.muted = true;
  video.style.maxWidth = "100%"; video.style.maxHeight = "40vh"; video.style.display = "none"; video.style.background = "#000";
  const offsetIn = h("input", { type: "number", step: 0.1, value: 0, size: 6, "aria-label": "Video offset in seconds" });
  const sound = h("input", { type: "checkbox", "aria-label": "Video sound" });
  const findBtn = h("button", { type: "button", title: "Cross-correlate the video's sound with the recorded loudness" }, "Find from sound");
  const found = h("span", { className: "muted", "data-video-found": "" });
  const controls = h("div", { className: "bar" },
    h("label", {}, "Video offset (s) ", offsetIn), findBtn, found, h("label", {}, sound, " sound"));
  controls.style.display = "none";
  const el = h("section", { className: "strip", "aria-label": "Session video" }, h("h3", {}, "Video"), status, video, controls);

  let offset = 0; let info = null; let last = { cursor: 0, playing: false, speed: 1 };
  const key = () => `coregulate.videoOffset.${sessionId}.${info && info.sha256}`;

  async function load() {
    try {
      info = await api(`${apiBase}/video`);
    } catch (err) {
      status.textContent = `No video: ${err.message}`; return;
    }
    if (!info.available) { status.textContent = `No video: ${info.reason}.`; return; }
    const saved = localStorage.getItem(key());
    offset = saved !== null ? Number(saved) : info.offset_s;
    offsetIn.value = offset;
    status.textContent = `${info.name} (offset ${info.offset_s} s at analysis)`;
    video.src = info.url;
    video.style.display = ""; controls.style.display = "";
    video.addEventListener("loadedmetadata", () => sync(last.cursor, last.playing, last.speed), { once: true });
  }

  // a link that ran out (or a server restart) is an error on the element: ask for a new one
  video.addEventListener("error", async () => {
    if (!info || !info.available) return;
    try {
      const fresh = await api(`${apiBase}/video`);
      if (!fresh.available) { status.textContent = `No video: ${fresh.reason}.`; video.style.display = "none"; return; }
      if (fresh.url !== video.src) { info = fresh; video.src = fresh.url; }
    } catch (_) { status.textContent = "No video: the server did not answer."; }
  });
  offsetIn.onchange = () => {
    offset = Number(offsetIn.value) || 0;
    localStorage.setItem(key(), String(offset));
    sync(last.cursor, last.playing, last.speed);
  };
  sound.onchange = () => { video.muted = !sound.checked; };
  findBtn.onclick = async () => {
    findBtn.disabled = true; found.textContent = "searching…";
    try {
      const r = await api(`${apiBase}/video/offset`);
      if (!r.found) { found.textContent = `not found: ${r.reason}`; return; }
      offsetIn.value = r.offset_s; offsetIn.onchange();
      found.textContent = `found from sound: r = ${r.r} (next best ${r.runner_up_r}) over ${r.overlap_s} s`;
    } catch (err) { found.textContent = `not found: ${err.message}`; } finally { findBtn.disabled = false; }
  };

  /** Put the video at the cursor: playing along at the replay speed, or still on the frame. */
  function sync(cursor, playing, speed) {
    last = { cursor, playing, speed };
    if (!info || !info.available || video.readyState < 1) return;
    const target = cursor - offset;
    const inside = target >= 0 && (!video.duration || target <= video.duration);
    el.dataset.outside = inside ? "" : "true";
    if (!inside) { if (!video.paused) video.pause(); return; }
    if (playing) {
      video.playbackRate = speed;
      if (Math.abs(video.currentTime - target) > DRIFT_PLAYING_S) video.currentTime = target;
      if (video.paused) video.play().catch(() => { /* autoplay refused: it follows the cursor paused */ });
    } else {
      if (!video.paused) video.pause();
      if (Math.abs(video.currentTime - target) > DRIFT_PAUSED_S) video.currentTime = target;
    }
  }

  load();
  // the replay view announces every cursor move (seek, play, keys, overview clicks) as an event
  const onCursor = (ev) => sync(ev.detail.t, ev.detail.playing, ev.detail.speed);
  const destroy = () => { info = null; video.pause(); video.removeAttribute("src"); video.load(); };
  return { el, sync, onCursor, destroy };
}
