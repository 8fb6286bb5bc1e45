// Client and therapist side by side, a synchrony strip and the event timeline. Used by the live
// view (window = last minutes) and the replay view (window ending at the replay cursor).
import { BAND, C, TimeChart, mmss, zoneInfo } from "./charts.js";

const fmt = (v, d = 1) => (v == null || !isFinite(v) ? "–" : Number(v).toFixed(d));
const h = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null) (k in e && k !== "role") ? (e[k] = v) : e.setAttribute(k, v);
  e.append(...kids);
  return e;
};
export { h, fmt };

const EVENT_WORDS = {
  zone_change: "zone change", gap: "signal gap", co_regulation: "co-regulation", rupture_candidate: "rupture (candidate)",
  repair_candidate: "repair (candidate)", artefact_burst: "artefact burst", leader_change: "leader change",
};

class PersonPanel {
  constructor(el, who, replay = false, band = BAND) {
    this.who = who;
    this.zone = h("span", { className: "zone zone-unknown", role: "status", "aria-live": "polite" }, "Calibrating / unknown");
    this.quality = h("span", { className: "badge", title: "Signal quality of this person's sensors" }, "quality –");
    this.vagal = h("span", { className: "badge", title: "Whether the vagal (HF/RMSSD) index is trustworthy now" }, "vagal –");
    this.stale = h("span", { className: "badge bad", hidden: true }, "sensor stale");
    const head = h("div", { className: "head" }, h("h2", {}, who), this.zone, this.quality, this.vagal, this.stale);
    this.nums = {};
    const numsEl = h("div", { className: "nums" });
    for (const [k, label] of [["hr_bpm", "HR (bpm)"], ["ln_rmssd", "lnRMSSD"], ["pns_index", "PNS index"], ["sns_index", "SNS index"],
      ["arousal", "Arousal (z)"], ["vocal_arousal", "Vocal arousal"], ["speaking", "Speaking"], ["breathing_rpm", "Breathing (/min)"]]) {
      const b = h("b", {}, "–");
      this.nums[k] = b;
      numsEl.append(h("div", { className: "num" }, label, b));
    }
    const panel = h("section", { className: "person", "aria-label": `${who} signals`, "data-person": who }, head, numsEl);
    el.append(panel);
    this.charts = {
      hr: new TimeChart(panel, { title: "Heart rate (bpm)", series: [{ label: "HR", color: C.vermillion }] }),
      hrv: new TimeChart(panel, { title: "lnRMSSD (vagal activity)", series: [{ label: "lnRMSSD", color: C.blue }] }),
      ans: new TimeChart(panel, { title: "PNS / SNS indices", series: [{ label: "PNS", color: C.blue }, { label: "SNS", color: C.orange, dash: [6, 3] }] }),
      arousal: new TimeChart(panel, { title: `Arousal composite (baseline z) — shaded: window of tolerance (${band.lo} to +${band.hi}; zone called after ${band.sustain} s beyond)`,
        y: [-4, 4], band, height: 130,
        series: [{ label: "arousal", color: C.black, width: 2 }] }),
      voice: new TimeChart(panel, { title: "Vocal arousal and speaking", series: [{ label: "vocal", color: C.purple }, { label: "speaking", color: C.sky, step: true, fill: "rgba(86,180,233,0.25)" }] }),
      ecg: new TimeChart(panel, { title: "Signal alive: ECG (last 10 s)", height: 70, legend: false, series: [{ label: "ECG", color: C.black, width: 1 }] }),
      level: new TimeChart(panel, { title: replay ? "Microphone level: not in recordings (raw audio is kept only if opted in)" : "Microphone level (dBFS, last 10 s)", height: 60, legend: false, y: [-80, 0], series: [{ label: "level", color: C.green, width: 1 }] }),
    };
  }
  render(data, t0, t1, tNow, tStrip = tNow) {
    const w = [t0, t1];
    const s = (cols) => data.series(this.who, cols, t0, t1);
    this.charts.hr.set(s(["hr_bpm"]), w);
    this.charts.hrv.set(s(["ln_rmssd"]), w);
    this.charts.ans.set(s(["pns_index", "sns_index"]), w);
    this.charts.arousal.set(s(["arousal"]), w);
    this.charts.voice.set(s(["vocal_arousal", "speaking"]), w);
    for (const [kind, chart] of [["ecg", this.charts.ecg], ["audio", this.charts.level]]) {
      const wv = data.waves.get(`${this.who}/${kind}`);
      // live: follow the newest samples; replay: the 10 s before the cursor
      const hi = !data.stripAtCursor && wv && wv.t.length ? Math.min(wv.t[wv.t.length - 1], tStrip) : tStrip;
      if (wv) {
        const xs = [], ys = [];
        for (let i = 0; i < wv.t.length; i++) if (wv.t[i] >= hi - 10 && wv.t[i] <= hi) { xs.push(wv.t[i]); ys.push(wv.v[i]); }
        chart.set([xs, ys], [hi - 10, hi]);
      } else chart.set([[], []], [hi - 10, hi]);
    }
    const r = data.rowAt(this.who, tNow) || {};
    const z = zoneInfo(r.zone);
    this.zone.textContent = z.text;
    this.zone.className = `zone zone-${r.zone in { window: 1, hyper: 1, hypo: 1, hypo_candidate: 1 } ? r.zone : "unknown"}`;
    for (const [k, b] of Object.entries(this.nums)) {
      const v = r[k];
      b.textContent = k === "speaking" ? (v == null ? "–" : v ? "yes" : "no") : fmt(v, k === "hr_bpm" || k === "breathing_rpm" ? 0 : 2);
    }
    const q = r.quality;
    this.quality.textContent = `quality ${q ?? "–"}`;
    this.quality.className = `badge ${q === "good" ? "ok" : q === "fair" ? "warn" : q ? "bad" : ""}`;
    const vr = r.vagal_reliable;
    this.vagal.textContent = `vagal ${vr == null ? "–" : vr ? "reliable" : "unreliable"}`;
    this.vagal.className = `badge ${vr ? "ok" : vr == null ? "" : "warn"}`;
  }
  setStale(streams) {
    this.stale.hidden = !streams.length;
    this.stale.textContent = `sensor stale: ${streams.join(", ")}`;
  }
}

export class DyadView {
  constructor(el, data, { onJump } = {}) {
    this.data = data; this.onJump = onJump;
    this.grid = h("div", { className: "dyad" });
    el.append(this.grid);
    this.persons = new Map();
    const sync = h("section", { className: "strip", "aria-label": "Synchrony" });
    this.leader = h("span", { className: "badge", role: "status" }, "leader –");
    this.sig = h("span", { className: "badge" }, "–");
    sync.append(h("h3", {}, "Synchrony (z vs surrogates) ", this.leader, " ", this.sig));
    this.syncChart = new TimeChart(sync, { title: "Cross-lagged synchrony, z-scores (|z| > 2 ≈ beyond chance)", y: [-4, 6],
      series: [{ label: "HR", color: C.vermillion }, { label: "arousal", color: C.black }, { label: "vocal", color: C.purple, dash: [4, 3] }] });
    const evs = h("section", { className: "strip", "aria-label": "Events" });
    this.evList = h("ol", { className: "events", "aria-live": "polite" });
    evs.append(h("h3", {}, "Events (candidates for review)"), this.evList);
    el.append(sync, evs);
    this._evCount = -1;
  }
  ensurePersons() {
    for (const p of this.data.participants) if (!this.persons.has(p)) this.persons.set(p, new PersonPanel(this.grid, p, !!this.data.stripAtCursor, this.data.band || BAND));
  }
  render(t0, t1, tNow, tStrip = tNow) {
    this.ensurePersons();
    for (const p of this.persons.values()) p.render(this.data, t0, t1, tNow, tStrip);
    this.syncChart.set(this.data.dyadSeries(["sync_hr_z", "sync_arousal_z", "sync_vocal_z"], t0, t1), [t0, t1]);
    const d = this.data.dyadAt(tNow) || {};
    this.leader.textContent = `leader: ${d.leader ?? "–"}`;
    this.sig.textContent = d.sync_significant == null ? "significance –" : d.sync_significant ? "significant coupling" : "not significant";
    this.sig.className = `badge ${d.sync_significant ? "ok" : ""}`;
    this.renderEvents(tNow);
  }
  renderEvents(tNow) {
    const evs = this.data.sortedEvents().filter((e) => e.t_start <= tNow + 0.5);
    const key = `${evs.length}:${this.onJump ? Math.floor(tNow) : ""}`;
    if (key === this._evCount) return;
    this._evCount = key;
    this.evList.replaceChildren(...evs.slice(-200).reverse().map((e) => {
      const li = h("li", { "data-kind": e.kind },
        h("span", { className: "evkind" }, `${mmss(e.t_start)} · ${EVENT_WORDS[e.kind] || e.kind.replaceAll("_", " ")}`),
        ` ${e.participant ? `(${e.participant})` : "(dyad)"} ${e.label || ""}`);
      if (this.onJump) li.prepend(h("button", { type: "button", onclick: () => this.onJump(e.t_start), title: "Jump to this event" }, "▶ go"), " ");
      return li;
    }));
  }
  markStale(byPerson) {
    for (const [p, panel] of this.persons) panel.setStale(byPerson.get(p) || []);
  }
}
