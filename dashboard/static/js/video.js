// The session videos beside the replay's traces, kept in step with the replay cursor: one camera
// for both people, or one file per person (each panel says whose it is).
//
// A <video> element cannot send the Authorization header, so the page asks the API (with the
// token) for short-lived signed URLs and gives them to the elements; when a link expires the
// element errors and a fresh one is fetched. Video time = session time - offset, where the offset
// (the session second of the video's first frame) comes from the analysis and can be nudged here
// by hand or found from sound (the video's soundtrack against the recorded loudness, on the
// server); the chosen value is remembered in this browser per session and video file.
//
// What the offset here applies to: the picture only. Motion energy (movement, motion synchrony)
// was computed at analysis with the offset given there; each panel says so, and when the two
// differ it names the analysis to run again to move the movement too.
import { api } from "./api.js";
import { h } from "./dyadview.js";

const DRIFT_PLAYING_S = 0.5; // let the video play on by itself unless it drifts this far
const DRIFT_PAUSED_S = 0.04; // about one frame

export function sessionVideo(apiBase, sessionId) {
  const waiting = h("p", { className: "muted", "data-video-status": "" }, "Looking for the session video…");
  const title = h("h3", {}, "Video");
  const el = h("section", { className: "strip", "aria-label": "Session video" }, title, waiting);
  let panels = []; let last = { cursor: 0, playing: false, speed: 1 };

  async function load() {
    let info;
    try {
      info = await api(`${apiBase}/video`);
    } catch (err) {
      waiting.textContent = `No video: ${err.message}`; return;
    }
    if (!info.videos) { waiting.textContent = `No video: ${info.reason}.`; return; }
    const several = info.videos.length > 1;
    panels = info.videos.map((entry) => videoPanel(apiBase, sessionId, entry, several, () => last));
    el.replaceChildren(title, ...panels.map((p) => p.el));
  }

  function sync(cursor, playing, speed) {
    last = { cursor, playing, speed };
    for (const p of panels) p.sync(cursor, playing, speed);
  }

  load();
  // the replay view announces every cursor move (seek, play, keys, overview clicks) as an event
  const onCursor = (ev) => sync(ev.detail.t, ev.detail.playing, ev.detail.speed);
  const destroy = () => { for (const p of panels) p.destroy(); panels = []; };
  return { el, sync, onCursor, destroy };
}

/** The SPEC that analyses this video again at another offset (its regions as analysed). */
function specWith(info, offset) {
  const roles = info.roles || []; const regions = info.regions || {};
  if (roles.length === 1) {
    const roi = regions[roles[0]] && regions[roles[0]] !== "0,0,1,1" ? `roi=${regions[roles[0]]}&` : "";
    return `${roles[0]}=video:${info.name}?${roi}offset=${offset}`;
  }
  return `video:${info.name}?${roles.map((r) => `${r}=${regions[r]}&`).join("")}offset=${offset}`;
}

/** One video of the session: its element, offset control, Find from sound, and what it shows. */
function videoPanel(apiBase, sessionId, entry, several, lastCursor) {
  const whose = several ? ` (${entry.roles.join(", ")})` : "";
  const status = h("p", { className: "muted", "data-video-status": "" });
  const video = h("video", { muted: true, playsInline: true, preload: "auto", "aria-label": `Session video${whose}` });
  video.muted = true;
  video.style.maxWidth = several ? "49%" : "100%"; video.style.maxHeight = "40vh"; video.style.display = "none";
  video.style.background = "#000";
  const offsetIn = h("input", { type: "number", step: 0.1, value: 0, size: 6, "aria-label": `Video offset in seconds${whose}` });
  const sound = h("input", { type: "checkbox", "aria-label": `Video sound${whose}` });
  const findBtn = h("button", { type: "button", title: "Cross-correlate the video's sound with the recorded loudness" }, "Find from sound");
  const found = h("span", { className: "muted", "data-video-found": "" });
  const note = h("p", { className: "muted", "data-video-offset-note": "" });
  const controls = h("div", { className: "bar" },
    h("label", {}, "Video offset (s) ", offsetIn), findBtn, found, h("label", {}, sound, " sound"));
  controls.style.display = "none"; note.style.display = "none";
  const el = h("div", { "data-video-index": String(entry.index) }, status, video, controls, note);

  let info = entry; let offset = Number(entry.offset_s) || 0;
  const key = () => `coregulate.videoOffset.${sessionId}.${info && info.sha256}`;

  function explainOffset() {
    // the picture follows this control; the motion energy was aligned once, at analysis
    const atAnalysis = Number(info.offset_s) || 0;
    let text = `Movement and motion synchrony were computed with this video at offset ${atAnalysis} s; ` +
      "this control moves the picture only.";
    if (Math.abs(offset - atAnalysis) > 1e-6) text += ` To align the movement too, analyze again with ${specWith(info, offset)}.`;
    note.textContent = text;
  }

  if (!entry.available) {
    status.textContent = `No video${whose}: ${entry.reason}.`;
  } else {
    const saved = localStorage.getItem(key());
    offset = saved !== null ? Number(saved) : info.offset_s;
    offsetIn.value = offset;
    status.textContent = `${info.name}${whose} (offset ${info.offset_s} s at analysis)`;
    video.src = info.url;
    video.style.display = ""; controls.style.display = ""; note.style.display = "";
    explainOffset();
    video.addEventListener("loadedmetadata", () => { const l = lastCursor(); sync(l.cursor, l.playing, l.speed); }, { once: true });
  }

  // a link that ran out (or a server restart) is an error on the element: ask for a new one
  video.addEventListener("error", async () => {
    if (!info || !info.available) return;
    try {
      const all = await api(`${apiBase}/video`);
      const fresh = (all.videos || [all])[entry.index] || all;
      if (!fresh.available) { status.textContent = `No video${whose}: ${fresh.reason}.`; video.style.display = "none"; return; }
      if (fresh.url !== video.src) { info = fresh; video.src = fresh.url; }
    } catch (_) { status.textContent = "No video: the server did not answer."; }
  });
  offsetIn.onchange = () => {
    offset = Number(offsetIn.value) || 0;
    localStorage.setItem(key(), String(offset));
    explainOffset();
    const l = lastCursor(); sync(l.cursor, l.playing, l.speed);
  };
  sound.onchange = () => { video.muted = !sound.checked; };
  findBtn.onclick = async () => {
    findBtn.disabled = true; found.textContent = "searching…";
    try {
      const r = await api(`${apiBase}/video/offset?i=${entry.index}`);
      if (!r.found) { found.textContent = `not found: ${r.reason}`; return; }
      offsetIn.value = r.offset_s; offsetIn.onchange();
      found.textContent = `found from sound: r = ${r.r} (next best ${r.runner_up_r}) over ${r.overlap_s} s`;
    } catch (err) { found.textContent = `not found: ${err.message}`; } finally { findBtn.disabled = false; }
  };

  /** Put the video at the cursor: playing along at the replay speed, or still on the frame. */
  function sync(cursor, playing, speed) {
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

  const destroy = () => { info = null; video.pause(); video.removeAttribute("src"); video.load(); };
  return { el, sync, destroy };
}
