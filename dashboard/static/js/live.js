// Live view: frames from the session's websocket, history over REST after a resync.
import { LiveSocket, api } from "./api.js";
import { bandOf, mmss } from "./charts.js";
import { SessionData } from "./data.js";
import { DyadView, h } from "./dyadview.js";
import { Overview } from "./overview.js";

const WINDOW_S = 300;
const STALE_S = 5;

export async function liveView(main, sessionId, ctx) {
  const info = await api(`/api/sessions/${encodeURIComponent(sessionId)}`);
  const data = new SessionData();
  data.setParticipants(info.participants);
  data.band = bandOf(info.tolerance);
  data.baseline = info.baseline || null;
  data.pacing = info.pacing || null;
  // the demo plays its simulated baseline faster, then in real time: say so on screen
  const pace = data.pacing;
  const fastUntil = pace && pace.baseline_speed != null ? pace.fast_until_s : null;
  const paceWords = (v) => (v === "max" ? "as fast as possible" : `at ×${v}`);
  const paceNote = h("p", { className: "pace-note", role: "status", hidden: fastUntil == null });
  const clock = h("span", { className: "clock", "aria-label": "session time" }, "0:00");
  const status = h("span", { className: "badge", role: "status" }, info.status);
  const alarm = h("div", { className: "alarm", role: "alert", hidden: true }, "");
  const annText = h("input", { type: "text", placeholder: "Annotation at the current time…", "aria-label": "Annotation text", maxLength: 2000, size: 40 });
  const annBtn = h("button", { type: "button", className: "primary" }, "Annotate now");
  const annMsg = h("span", { className: "muted", role: "status" });
  const stopBtn = h("button", { type: "button" }, "Stop session");
  const replayLink = h("a", { href: `#/replay/${encodeURIComponent(sessionId)}`, hidden: true }, "Open replay");
  const bar = h("div", { className: "bar" }, h("strong", {}, info.label || sessionId), clock, status, replayLink);
  if (ctx.role === "supervisor") bar.append(annText, annBtn, annMsg, stopBtn);
  const overviewBox = h("section", { className: "strip overview-box", "aria-label": "Session so far" },
    h("h3", {}, "Session so far ", h("span", { className: "muted" }, "(zones per person, events above, annotations below; box: the charts' window)")));
  const annList = h("ol", { className: "events", "aria-label": "Annotations of this session" });
  const annPanel = h("section", { className: "strip", "aria-label": "Annotations" }, h("h3", {}, "Annotations"), annList);
  main.replaceChildren(bar, paceNote, alarm, overviewBox);
  // a simulated session's length is known in advance: the overview shows how far it has come
  const planned = info.source?.kind === "simulator" ? info.source.duration_s : 0;
  const overview = new Overview(overviewBox, data, Math.max(planned || 0, 60));
  let zonesUpTo = -1;
  const view = new DyadView(main, data);
  main.append(annPanel);
  let annKey = "";
  function drawExtras(tNow) {
    // zones are recomputed over the whole session at most every 2 s of new rows
    if (data.tMax - zonesUpTo >= 2) { zonesUpTo = data.tMax; overview.invalidate(); }
    overview.render(Math.max(0, tNow - WINDOW_S), Math.max(tNow, 30), tNow, Math.max(planned || 0, tNow, 60));
    const anns = data.sortedAnnotations();
    const key = anns.map((a) => `${a.id}:${a.t_s}:${a.text}`).join("|");
    if (key !== annKey) {
      annKey = key;
      annList.replaceChildren(...(anns.length ? anns.slice().reverse().map((a) => h("li", { "data-ann": a.id },
        h("span", { className: "evkind" }, mmss(a.t_s)), ` ${a.text} `, h("span", { className: "muted" }, a.author || "")))
        : [h("li", { className: "muted" }, "None yet.")]));
    }
  }

  let lastData = performance.now();
  let ended = false;
  let dirty = true;
  const setEnded = (st) => {
    ended = true;
    status.textContent = st?.status || "ended";
    replayLink.hidden = false;
    stopBtn.disabled = true;
    alarm.hidden = true;
  };

  const refetch = async () => {
    const q = `/api/sessions/${encodeURIComponent(sessionId)}`;
    const t0 = Math.max(0, data.tMax - WINDOW_S);
    try {
      const [f, d, e, a] = await Promise.all([api(`${q}/features?t_from=${t0}`), api(`${q}/dyad?t_from=${t0}`),
        api(`${q}/events`), api(`${q}/annotations`)]);
      data.addFeatures(f.rows); data.addDyad(d.rows); data.addEvents(e.events);
      for (const x of a) data.annotation("add", x);
      dirty = true;
    } catch (err) { annMsg.textContent = `history unavailable: ${err.message}`; }
  };

  const sock = new LiveSocket(sessionId, {
    onState: (text, kind) => ctx.setConn(text, kind),
    onResync: () => refetch(),
    onEnd: (d) => setEnded(d),
    onFrame: (f) => {
      switch (f.type) {
        case "features": data.addFeatures(f.data); lastData = performance.now(); break;
        case "dyad": data.addDyad(f.data); break;
        case "events": data.addEvents(f.data); break;
        case "annotation": data.annotation(f.data.op || "add", f.data); annMsg.textContent = `annotation: ${f.data.text ?? "deleted"}`; break;
        case "wave": case "level": data.addWave(f.data); lastData = performance.now(); break;
        case "provisional": data.addProvisional(f.data); break;
        case "provisional_event": data.addEventUpdates(f.data); break;
        case "sensors": data.sensors = f.data; break;
        case "status": status.textContent = f.data.status; break;
        case "hello": if (f.data.ended) setEnded({ status: "ended" }); break;
        default: return;
      }
      dirty = true;
    },
  });
  sock.start();

  annBtn.onclick = async () => {
    const text = annText.value.trim();
    if (!text) { annText.focus(); return; }
    try {
      const a = await api(`/api/sessions/${encodeURIComponent(sessionId)}/annotations`, { method: "POST", body: { t_s: data.tMax, text } });
      annText.value = ""; annMsg.textContent = `saved at ${mmss(a.t_s)}`;
    } catch (err) { annMsg.textContent = `not saved: ${err.message}`; }
  };
  annText.onkeydown = (e) => { if (e.key === "Enter") annBtn.click(); };
  stopBtn.onclick = async () => {
    if (!confirm("Stop this session? The recording so far is kept.")) return;
    try { await api(`/api/sessions/${encodeURIComponent(sessionId)}/stop`, { method: "POST" }); } catch (err) { annMsg.textContent = err.message; }
  };

  const timer = setInterval(() => {
    const idle = (performance.now() - lastData) / 1000;
    if (!ended && idle > STALE_S) {
      alarm.hidden = false;
      alarm.textContent = `⚠ No data for ${Math.floor(idle)} s — check the sensors and the connection.`;
    } else alarm.hidden = true;
    const stale = new Map();
    if (data.sensors && !ended) {
      const now = data.sensors.t;
      for (const [key, s] of Object.entries(data.sensors.streams)) {
        if (now - s.last_t > STALE_S || s.contact === false) {
          const [p, kind] = key.split("/");
          stale.set(p, [...(stale.get(p) || []), s.contact === false ? `${kind} (no contact)` : kind]);
        }
      }
    }
    view.markStale(stale);
    if (!dirty) return;
    dirty = false;
    // the clock follows the raw data; the numbers are the newest finished second (estimators
    // need some signal after a second before they can close it)
    const tNow = Math.max(data.tMax, data.sensors?.t ?? 0);
    clock.textContent = mmss(tNow);
    if (fastUntil != null) {
      paceNote.textContent = tNow < fastUntil
        ? `Fast-forward: the simulated baseline (to ${mmss(fastUntil)}) plays ${paceWords(pace.baseline_speed)}; `
          + `then the session runs ${paceWords(pace.speed)}. Only the pacing changes, not the data.`
        : `Running ${paceWords(pace.speed)} since ${mmss(fastUntil)} (the baseline was played ${paceWords(pace.baseline_speed)}).`;
      paceNote.classList.toggle("fast", tNow < fastUntil);
    }
    view.render(Math.max(0, tNow - WINDOW_S), Math.max(tNow, 30), data.tMax, tNow);
    drawExtras(tNow);
  }, 250);

  return () => { clearInterval(timer); sock.stop(); overview.destroy(); };
}
