// Replay view: a recorded (or still running) session from REST, with a scrubbable timeline,
// play/pause at x1/x4/x16, jumps to events, editable annotations and export downloads.
import { api, download } from "./api.js";
import { bandOf, mmss } from "./charts.js";
import { SessionData } from "./data.js";
import { DyadView, h } from "./dyadview.js";

const WINDOW_S = 300;

export async function replayView(main, sessionId, ctx) {
  const sid = encodeURIComponent(sessionId);
  const q = `/api/sessions/${sid}`;
  const info = await api(q);
  const data = new SessionData();
  data.stripAtCursor = true;
  data.setParticipants(info.participants);
  data.band = bandOf(info.tolerance);
  const [f, d, e, a] = await Promise.all([api(`${q}/features`), api(`${q}/dyad`), api(`${q}/events`), api(`${q}/annotations`)]);
  data.addFeatures(f.rows); data.addDyad(d.rows); data.addEvents(e.events);
  for (const x of a) data.annotation("add", x);
  const duration = Math.max(info.duration_s || 0, data.tMax, 1);
  let cursor = Math.min(duration, WINDOW_S);
  let playing = false;
  let speed = 1;

  const clock = h("span", { className: "clock", "aria-live": "off" }, "0:00");
  const playBtn = h("button", { type: "button", className: "primary", "aria-pressed": "false" }, "▶ Play");
  const speedSel = h("select", { "aria-label": "Replay speed" }, ...[1, 4, 16].map((s) => h("option", { value: s }, `×${s}`)));
  const slider = h("input", { type: "range", min: 0, max: Math.ceil(duration), step: 1, value: cursor, "aria-label": "Session time (scrub)" });
  const timeline = h("div", { className: "timeline", "aria-hidden": "true" });
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
  main.replaceChildren(bar, slider, timeline, annPanel);
  const view = new DyadView(main, data, { onJump: (t) => seek(t) });

  function drawTimeline() {
    timeline.replaceChildren();
    for (const ev of data.sortedEvents()) {
      const m = h("span", { className: "mark", title: `${mmss(ev.t_start)} ${ev.kind}` });
      m.style.left = `${(100 * ev.t_start) / duration}%`;
      timeline.append(m);
    }
    for (const an of data.sortedAnnotations()) {
      const m = h("span", { className: "mark ann", title: `${mmss(an.t_s)} ${an.text}` });
      m.style.left = `${(100 * an.t_s) / duration}%`;
      timeline.append(m);
    }
    const c = h("span", { className: "cursor" });
    c.style.left = `${(100 * cursor) / duration}%`;
    timeline.append(c);
  }

  function drawAnnotations() {
    annList.replaceChildren(...data.sortedAnnotations().map((an) => {
      const go = h("button", { type: "button", onclick: () => seek(an.t_s), title: "Jump to this annotation" }, mmss(an.t_s));
      const li = h("li", { "data-ann": an.id }, go);
      if (ctx.role === "supervisor") {
        const input = h("input", { type: "text", value: an.text, "aria-label": `Annotation at ${mmss(an.t_s)}` });
        const save = h("button", { type: "button", onclick: async () => {
          try { const r = await api(`${q}/annotations/${an.id}`, { method: "PATCH", body: { text: input.value } }); data.annotation("edit", r); drawAnnotations(); } catch (err) { alert(err.message); }
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
    view.render(Math.max(0, cursor - WINDOW_S), Math.max(cursor, 60), cursor);
    drawTimeline();
    if (waves) fetchWaves();
  }
  function seek(t) { cursor = Math.max(0, Math.min(duration, t)); render(); }

  slider.oninput = () => seek(Number(slider.value));
  speedSel.onchange = () => { speed = Number(speedSel.value); };
  const setPlaying = (p) => {
    playing = p; playBtn.textContent = p ? "⏸ Pause" : "▶ Play"; playBtn.setAttribute("aria-pressed", String(p));
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
  const onKey = (ev) => {
    if (ev.target instanceof HTMLInputElement && ev.target.type === "text") return;
    if (ev.key === " " && ev.target === document.body) { ev.preventDefault(); playBtn.click(); }
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
  return () => { clearInterval(timer); clearTimeout(waveTimer); document.removeEventListener("keydown", onKey); };
}
