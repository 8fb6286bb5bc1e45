// Replay view: a recorded (or still running) session from REST: a whole-session overview (click or
// drag to seek), a scrubbable timeline, play/pause at x1/x4/x16, the session's events with the
// current one highlighted, editable annotations and export downloads.
//
// Other modules (e.g. a video panel) follow the cursor without knowing this file: the view's root
// element dispatches CURSOR_EVENT ({t, t0, t1, playing, speed}) whenever the cursor moves, and seeks
// when it receives SEEK_EVENT ({t}).
import { api, download } from "./api.js";
import { bandOf, mmss } from "./charts.js";
import { SessionData } from "./data.js";
import { DyadView, h } from "./dyadview.js";
import { Overview } from "./overview.js";
import { sessionVideo } from "./video.js";
import { eventTitle } from "./words.js";

const WINDOW_S = 300;
export const CURSOR_EVENT = "coregulate:cursor";
export const SEEK_EVENT = "coregulate:seek";

const SVG = "http://www.w3.org/2000/svg";
/** Play / pause icons as SVG: the text glyph "⏸" is missing from common system fonts. */
function icon(kind) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 10 10"); svg.setAttribute("width", "11"); svg.setAttribute("height", "11");
  svg.setAttribute("aria-hidden", "true"); svg.classList.add("icon");
  const shapes = kind === "pause" ? [["rect", { x: 1, y: 1, width: 3, height: 8 }], ["rect", { x: 6, y: 1, width: 3, height: 8 }]]
    : [["path", { d: "M2 1 L9 5 L2 9 Z" }]];
  for (const [tag, attrs] of shapes) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    e.setAttribute("fill", "currentColor");
    svg.append(e);
  }
  return svg;
}

const SHORTCUTS = [["Space", "play / pause"], ["← →", "5 s back / on (Shift: 1 min)"], ["P / N", "previous / next event"],
  ["Home / End", "start / end"]];

export async function replayView(main, sessionId, ctx) {
  const sid = encodeURIComponent(sessionId);
  const q = `/api/sessions/${sid}`;
  const info = await api(q);
  const data = new SessionData();
  data.stripAtCursor = true;
  data.setParticipants(info.participants);
  data.band = bandOf(info.tolerance);
  data.baseline = info.baseline || null;
  const [f, d, e, a] = await Promise.all([api(`${q}/features`), api(`${q}/dyad`), api(`${q}/events`), api(`${q}/annotations`)]);
  data.addFeatures(f.rows); data.addDyad(d.rows); data.addEvents(e.events);
  for (const x of a) data.annotation("add", x);
  const duration = Math.max(info.duration_s || 0, data.tMax, 1);
  let cursor = Math.min(duration, WINDOW_S);
  let playing = false;
  let speed = 1;

  const clock = h("span", { className: "clock", "aria-live": "off" }, "0:00");
  const playBtn = h("button", { type: "button", className: "primary", "aria-pressed": "false" }, icon("play"), " Play");
  const speedSel = h("select", { "aria-label": "Replay speed" }, ...[1, 4, 16].map((s) => h("option", { value: s }, `×${s}`)));
  const slider = h("input", { type: "range", min: 0, max: Math.ceil(duration), step: 1, value: cursor, "aria-label": "Session time (scrub)" });
  const exports = h("span", {}, "Export: ", ...["csv", "edf", "rr"].map((fmt) => h("button", {
    type: "button", onclick: async (ev) => {
      ev.target.disabled = true;
      try { await download(`${q}/export?fmt=${fmt}`, `${sessionId}-${fmt}.zip`); } catch (err) { alert(`Export failed: ${err.message}`); }
      ev.target.disabled = false;
    },
  }, fmt.toUpperCase())));
  const bar = h("div", { className: "bar" }, h("strong", {}, `Replay: ${info.label || sessionId}`), h("span", { className: "badge" }, info.status),
    playBtn, speedSel, clock, h("span", { className: "muted" }, `/ ${mmss(duration)}`), exports);
  // Annotations panel
  const annList = h("ul", { className: "events ann-list", "aria-label": "Annotations" });
  const annText = h("input", { type: "text", placeholder: "New annotation at the cursor…", "aria-label": "New annotation text", size: 40, maxLength: 2000 });
  const annAdd = h("button", { type: "button" }, "Add at cursor");
  const annPanel = h("section", { className: "strip", "aria-label": "Annotations" }, h("h3", {}, "Annotations"), annList);
  if (ctx.role === "supervisor") annPanel.append(h("div", { className: "bar" }, annText, annAdd));
  const keys = h("p", { className: "muted shortcuts", "aria-label": "Keyboard shortcuts" }, "Keys: ",
    ...SHORTCUTS.flatMap(([k, what], i) => [i ? " · " : "", h("kbd", {}, k), ` ${what}`]), " · click or drag the overview to go there");
  const overviewBox = h("section", { className: "strip overview-box", "aria-label": "Session overview" },
    h("h3", {}, "Whole session ", h("span", { className: "muted" }, "(zones: green window, red hyper, blue hypo, light blue possible hypo, grey calibrating or unknown; box: the charts' window)")));
  const video = sessionVideo(q, sessionId); // beside the traces; says so when there is none, or it moved
  // provisional events a live session withdrew (issue #15): an audit record, struck out, never events
  const withdrawn = await api(`${q}/withdrawn-events`).then((r) => r.withdrawn_events, () => []);
  const withdrawnPanel = h("section", { className: "strip", "aria-label": "Withdrawn provisional events", hidden: !withdrawn.length },
    h("h3", {}, "Withdrawn provisional events ", h("span", { className: "muted" },
      "(live only: pushed on provisional data, not confirmed by the final data; not events)")),
    h("ul", { className: "events" }, ...withdrawn.map((w) => h("li", { className: "withdrawn", "data-state": "withdrawn", "data-pid": w.pid },
      h("button", { type: "button", onclick: () => seek(w.t_start), title: "Jump there" }, "go"), " ",
      h("span", { className: "evtime" }, mmss(w.t_start)), " ", h("span", { className: "evkind" }, eventTitle(w)),
      h("span", { className: "muted rule" }, ` — ${w.rule}`)))));
  main.replaceChildren(bar, keys, overviewBox, slider, video.el, annPanel, withdrawnPanel);
  main.addEventListener(CURSOR_EVENT, video.onCursor);
  const overview = new Overview(overviewBox, data, duration, (t) => seek(t));
  const view = new DyadView(main, data, { onJump: (t) => seek(t), allEvents: true });
  const drawTimeline = () => overview.draw(); // annotations changed (zones did not)

  function drawAnnotations() {
    annList.replaceChildren(...data.sortedAnnotations().map((an) => {
      const go = h("button", { type: "button", onclick: () => seek(an.t_s), title: "Jump to this annotation" }, mmss(an.t_s));
      const li = h("li", { "data-ann": an.id }, go);
      if (ctx.role === "supervisor") {
        const input = h("input", { type: "text", value: an.text, "aria-label": `Annotation at ${mmss(an.t_s)}` });
        const save = h("button", { type: "button", onclick: async () => {
          try { const r = await api(`${q}/annotations/${an.id}`, { method: "PATCH", body: { text: input.value } }); data.annotation("edit", r); drawAnnotations(); drawTimeline(); } catch (err) { alert(err.message); }
        } }, "Save");
        const del = h("button", { type: "button", onclick: async () => {
          if (!confirm("Delete this annotation?")) return;
          try { await api(`${q}/annotations/${an.id}`, { method: "DELETE" }); data.annotation("delete", an); drawAnnotations(); drawTimeline(); } catch (err) { alert(err.message); }
        } }, "Delete");
        li.append(input, save, del, h("span", { className: "muted" }, an.author || ""));
      } else li.append(` ${an.text} `, h("span", { className: "muted" }, an.author || ""));
      return li;
    }));
  }

  let waveTimer = null;
  let waveReq = 0;
  function fetchWaves() {
    clearTimeout(waveTimer);
    waveTimer = setTimeout(async () => {
      const mine = ++waveReq;
      for (const p of data.participants) {
        for (const kind of ["ecg"]) {
          const key = `${p}/${kind}`;
          if (!info.streams.some((s) => s.key === key)) continue;
          try {
            // while playing, fetch ahead: the cursor moves on while the request is under way
            const ahead = playing ? 1.5 * speed : 0;
            const w = await api(`${q}/waveform?stream=${encodeURIComponent(key)}&t_from=${Math.max(0, cursor - 10)}&t_to=${Math.max(cursor + ahead, 0.1)}&max_points=${playing ? 800 : 500}`);
            if (mine !== waveReq) return; // the cursor moved on: a newer request is coming
            data.setWave(key, w.t, w.v);
          } catch (_) { /* the strip stays empty */ }
        }
      }
      render(false);
    }, playing ? 1000 : 150);
  }

  function render(waves = true) {
    clock.textContent = mmss(cursor);
    slider.value = cursor;
    slider.setAttribute("aria-valuetext", mmss(cursor));
    const t0 = Math.max(0, cursor - WINDOW_S), t1 = Math.max(cursor, 60);
    view.render(t0, t1, cursor);
    overview.render(t0, t1, cursor);
    main.dispatchEvent(new CustomEvent(CURSOR_EVENT, { detail: { t: cursor, t0, t1, playing, speed } }));
    if (waves) fetchWaves();
  }
  function seek(t) { cursor = Math.max(0, Math.min(duration, t)); render(); }
  const onSeekRequest = (ev) => seek(Number(ev.detail?.t));
  main.addEventListener(SEEK_EVENT, onSeekRequest);

  slider.oninput = () => seek(Number(slider.value));
  speedSel.onchange = () => { speed = Number(speedSel.value); };
  const setPlaying = (p) => {
    playing = p; playBtn.replaceChildren(icon(p ? "pause" : "play"), p ? " Pause" : " Play"); playBtn.setAttribute("aria-pressed", String(p));
    if (!p) fetchWaves(); // the strip catches up with where the cursor stopped
  };
  playBtn.onclick = () => { if (cursor >= duration) cursor = 0; setPlaying(!playing); };
  annAdd.onclick = async () => {
    const text = annText.value.trim();
    if (!text) { annText.focus(); return; }
    try {
      const r = await api(`${q}/annotations`, { method: "POST", body: { t_s: Math.round(cursor * 10) / 10, text } });
      data.annotation("add", r); annText.value = ""; drawAnnotations(); drawTimeline();
    } catch (err) { alert(`Not saved: ${err.message}`); }
  };
  annText.onkeydown = (ev) => { if (ev.key === "Enter") annAdd.click(); };
  const jumpEvent = (dir) => {
    const evs = data.sortedEvents();
    const e = dir > 0 ? evs.find((x) => x.t_start > cursor + 0.5) : [...evs].reverse().find((x) => x.t_start < cursor - 0.5);
    if (e) seek(e.t_start);
  };
  const onKey = (ev) => {
    const tgt = ev.target;
    if (tgt instanceof HTMLInputElement && tgt.type === "text") return;
    if (tgt instanceof HTMLSelectElement || tgt instanceof HTMLTextAreaElement || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const onSlider = tgt === slider; // the slider moves itself with arrows and Home/End
    if (ev.key === " " && (tgt === document.body || onSlider)) { ev.preventDefault(); playBtn.click(); }
    else if (!onSlider && (ev.key === "ArrowLeft" || ev.key === "ArrowRight")) {
      ev.preventDefault(); seek(cursor + (ev.key === "ArrowRight" ? 1 : -1) * (ev.shiftKey ? 60 : 5));
    } else if (!onSlider && ev.key === "Home") { ev.preventDefault(); seek(0); }
    else if (!onSlider && ev.key === "End") { ev.preventDefault(); seek(duration); }
    else if (ev.key === "n" || ev.key === "N") jumpEvent(+1);
    else if (ev.key === "p" || ev.key === "P") jumpEvent(-1);
  };
  document.addEventListener("keydown", onKey);

  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    if (playing) {
      cursor = Math.min(duration, cursor + ((now - last) / 1000) * speed);
      if (cursor >= duration) setPlaying(false);
      render();
    }
    last = now;
  }, 250);
  drawAnnotations();
  render();
  return () => {
    clearInterval(timer); clearTimeout(waveTimer); document.removeEventListener("keydown", onKey);
    main.removeEventListener(SEEK_EVENT, onSeekRequest); overview.destroy();
    main.removeEventListener(CURSOR_EVENT, video.onCursor); video.destroy();
  };
}
