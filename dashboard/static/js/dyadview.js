// Client and therapist side by side, a synchrony strip and the event list. Used by the live
// view (window = last minutes) and the replay view (window ending at the replay cursor).
import { BAND, C, CALIBRATING, TimeChart, extent, fitRange, mmss, runs, zoneInfo } from "./charts.js";
import { DYAD_EVENT_KINDS } from "./data.js";
import { eventTitle } from "./words.js";

const fmt = (v, d = 1) => (v == null || !isFinite(v) ? "–" : Number(v).toFixed(d));
const h = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null) (k in e && k !== "role") ? (e[k] = v) : e.setAttribute(k, v);
  e.append(...kids);
  return e;
};
export { h, fmt };

const KNOWN_ZONES = new Set(["window", "hyper", "hypo", "hypo_candidate"]);
const HR_MIN_SPAN = 10; // bpm: a 1-bpm wobble must not fill the panel
// columns whose provisional value is a whole second's final value, early (voice, skin conductance,
// movement and breathing from a belt: the movement family)
const PER_SECOND_PROVISIONAL = ["vocal_arousal", "speaking", "eda_scl_us", "breathing_rpm", "movement"];
// what `movement` measures depends on its source (models/movement.py): no unit in the label
const MOVEMENT_HINT = "accelerometer: milli-g, the SD of the acceleration magnitude within the second; "
  + "video: the share of pixels that changed (no absolute unit)";
const SHARED_HR_KEY = "coregulate.sharedHr";

/** Zone of each second as coloured runs (the strip under the arousal trace, the overview). */
export function zoneRuns(data, who, t0, t1) {
  return runs(data.points(who, "zone", t0, t1)).filter((r) => KNOWN_ZONES.has(r.value))
    .map((r) => ({ ...r, color: zoneInfo(r.value).color }));
}

/** "2:10 of 5:00" style progress of the person's baseline, or null once it is complete. */
export function baselineProgress(data, who, tNow) {
  const seg = data.baseline;
  if (!seg) return null;
  const [b0, b1] = seg;
  const done = Math.min(tNow, data.tLast.get(who) ?? 0);
  if (done >= b1) return null;
  return { done: Math.max(0, done - b0), total: b1 - b0, left: b1 - Math.max(done, b0) };
}

function paceWords(p) {
  return p === "max" ? "as fast as possible" : `×${p}`;
}

class PersonPanel {
  constructor(el, who, data) {
    this.who = who;
    this.data = data;
    const band = data.band || BAND;
    this.band = band;
    this.zone = h("span", { className: "zone zone-unknown", role: "status", "aria-live": "polite" }, CALIBRATING);
    this.quality = h("span", { className: "badge", title: "Signal quality of this person's sensors" }, "quality –");
    this.vagal = h("span", { className: "badge", title: "Whether the vagal (HF/RMSSD) index is trustworthy now" }, "vagal –");
    this.stale = h("span", { className: "badge bad", hidden: true }, "sensor stale");
    // live: what the newest provisional data suggest, until the final rows confirm or withdraw it
    this.zoneProv = h("span", { className: "zonep provisional", hidden: true, "data-zone-provisional": who,
      title: "Provisional: the zone the newest beats point to; confirmed or withdrawn when the final rows arrive" });
    this.age = h("span", { className: "muted age", "data-age": who, title: "Age of the newest value shown" }, "");
    const head = h("div", { className: "head" }, h("h2", {}, who), this.zone, this.zoneProv, this.quality, this.vagal, this.stale, this.age);
    // calibration: the zone needs the person's own baseline first; say how far it is
    this.calibBar = h("progress", { max: 1, value: 0, "aria-label": `${who}: baseline progress` });
    this.calibText = h("span", {}, "");
    this.calib = h("div", { className: "calib", role: "status", "data-calibration": who }, this.calibBar, this.calibText);
    this.nums = {};
    const numsEl = h("div", { className: "nums" });
    for (const [k, label] of [["hr_bpm", "HR (bpm)"], ["ln_rmssd", "lnRMSSD"], ["pns_index", "PNS index"], ["sns_index", "SNS index"],
      ["arousal", "Arousal (z)"], ["vocal_arousal", "Vocal arousal"], ["speaking", "Speaking"], ["breathing_rpm", "Breathing (/min)"],
      ["eda_scl_us", "SCL (µS)"], ["movement", "Movement"]]) {
      const b = h("b", {}, "–");
      this.nums[k] = b;
      numsEl.append(h("div", { className: "num", "data-num": k, title: k === "movement" ? MOVEMENT_HINT : null }, label, b));
    }
    const panel = h("section", { className: "person", "aria-label": `${who} signals`, "data-person": who }, head, this.calib, numsEl);
    el.append(panel);
    const exitWords = band.exitSustain != null ? ` for ${band.exitSustain} s` : "";
    const replay = !!data.stripAtCursor;
    this.charts = {
      hr: new TimeChart(panel, { key: "hr", title: "Heart rate (bpm)", minSpan: HR_MIN_SPAN, series: [{ label: "HR", color: C.vermillion }] }),
      hrv: new TimeChart(panel, { key: "hrv", title: "lnRMSSD (vagal activity)", minSpan: 0.5, series: [{ label: "lnRMSSD", color: C.blue }] }),
      ans: new TimeChart(panel, { key: "ans", title: "PNS / SNS indices (z against published norms)", minSpan: 2, series: [{ label: "PNS", color: C.blue }, { label: "SNS", color: C.orange, dash: [6, 3] }] }),
      arousal: new TimeChart(panel, { key: "arousal", title: `Arousal (baseline z). Green: window of tolerance (${band.lo} to +${band.hi}${band.assumed ? ", default" : ""}); `
          + `a zone is called after ${band.sustain} s beyond a solid line and left after the trace is back inside the dashed lines`
          + ` (${band.exitLo} to +${band.exitHi}${exitWords}). Bottom strip: zone over time.`,
        band, height: 150, series: [{ label: "arousal", color: C.black, width: 2 }] }),
      voice: new TimeChart(panel, { key: "voice", title: "Vocal arousal (baseline z) and speaking (0/1)", minSpan: 2, series: [{ label: "vocal", color: C.purple }, { label: "speaking", color: C.sky, step: true, fill: "rgba(86,180,233,0.25)" }] }),
      ecg: new TimeChart(panel, { key: "ecg", title: "Signal alive: ECG (µV, last 10 s)", height: 100, legend: false, series: [{ label: "ECG", color: C.black, width: 1 }] }),
      // live: every beat as it is confirmed (provisional, not artefact-corrected), on the ECG's time axis
      beats: replay ? null : new TimeChart(panel, { key: "beats", title: "Beat-by-beat HR (bpm, last 10 s, provisional: not yet artefact-corrected)", height: 80, legend: false, minSpan: HR_MIN_SPAN, series: [{ label: "beat HR", color: C.vermillion, width: 1, points: true }] }),
      // replay: recordings keep no raw audio unless opted in, so there is no level to show
      level: replay ? null : new TimeChart(panel, { key: "level", title: "Microphone level (dBFS, last 10 s)", height: 90, legend: false, y: [-80, 0], series: [{ label: "level", color: C.green, width: 1 }] }),
    };
    if (replay) panel.append(h("p", { className: "muted" }, "Microphone level: not in recordings (raw audio is kept only if opted in)."));
  }
  /** Heart rate over [t0, t1]: the caller may pin a y range shared by both people. */
  hrExtent(t0, t1) { return extent(this.data.series(this.who, ["hr_bpm"], t0, t1).slice(1)); }
  render(t0, t1, tNow, tStrip = tNow, hrRange = null) {
    const data = this.data;
    const w = [t0, t1];
    const s = (cols) => data.series(this.who, cols, t0, t1);
    this.charts.hr.range = hrRange;
    this.charts.hr.set(s(["hr_bpm"]), w);
    this.charts.hrv.set(s(["ln_rmssd"]), w);
    this.charts.ans.set(s(["pns_index", "sns_index"]), w);
    // the arousal chart always holds the whole trace and both bounds (issue #14: a fixed ±4
    // lost the trace exactly during the episodes it exists to show)
    const ar = s(["arousal"]);
    const b = this.band;
    this.charts.arousal.range = fitRange(extent(ar.slice(1)), { must: [b.lo - 0.5, b.hi + 0.5], minSpan: 1 });
    this.charts.arousal.set(ar, w, { strip: zoneRuns(data, this.who, t0, t1) });
    this.charts.voice.set(s(["vocal_arousal", "speaking"]), w);
    for (const [kind, chart] of [["ecg", this.charts.ecg], ["audio", this.charts.level]]) {
      if (!chart) continue;
      const wv = data.waves.get(`${this.who}/${kind}`);
      // live: follow the newest samples; replay: the 10 s before the cursor
      const hi = !data.stripAtCursor && wv && wv.t.length ? Math.min(wv.t[wv.t.length - 1], tStrip) : tStrip;
      if (wv) {
        const xs = [], ys = [];
        for (let i = 0; i < wv.t.length; i++) if (wv.t[i] >= hi - 10 && wv.t[i] <= hi) { xs.push(wv.t[i]); ys.push(wv.v[i]); }
        chart.set([xs, ys], [hi - 10, hi]);
      } else chart.set([[], []], [hi - 10, hi]);
      if (kind === "ecg" && this.charts.beats) {
        const b = data.beats.get(this.who);
        const xs = [], ys = [];
        if (b) for (let i = 0; i < b.t.length; i++) if (b.t[i] >= hi - 10 && b.t[i] <= hi) { xs.push(b.t[i]); ys.push(b.hr[i]); }
        this.charts.beats.set([xs, ys], [hi - 10, hi]);
      }
    }
    const r = data.rowAt(this.who, tNow) || {};
    // a provisional value newer than the final row is shown lighter until its second is final
    const p = data.provisionalOf ? data.provisionalOf(this.who) : null;
    const shown = { ...r };
    const provisional = new Set();
    if (p) {
      for (const k of ["hr_bpm", "arousal"]) if (p[k] != null) { shown[k] = p[k]; provisional.add(k); }
      // voice, skin conductance, movement, belt breathing: the newest second's own value, even "none" (not speaking)
      for (const k of PER_SECOND_PROVISIONAL) if (k in p) { shown[k] = p[k]; provisional.add(k); }
    }
    const tNewest = Math.max(r.t_s ?? -Infinity, provisional.size ? p.t : -Infinity);
    this.age.textContent = isFinite(tNewest) ? `${Math.max(0, Math.round(tNow - tNewest))} s ago` : "";
    this.age.dataset.provisional = provisional.size ? "1" : "0";
    const zp = p && p.zone_provisional;
    this.zoneProv.hidden = !(zp && KNOWN_ZONES.has(zp) && zp !== r.zone);
    if (!this.zoneProv.hidden) {
      this.zoneProv.textContent = `${zoneInfo(zp).text}?`;
      this.zoneProv.className = `zonep provisional zone-${zp}`;
    }
    const calib = baselineProgress(data, this.who, tNow);
    this.renderCalibration(calib, tNow);
    const known = KNOWN_ZONES.has(r.zone);
    this.zone.textContent = known ? zoneInfo(r.zone).text : calib ? CALIBRATING : zoneInfo("unknown").text;
    this.zone.className = `zone zone-${known ? r.zone : "unknown"}`;
    for (const [k, el] of Object.entries(this.nums)) {
      const v = shown[k];
      el.textContent = k === "speaking" ? (v == null ? "–" : v ? "yes" : "no") : fmt(v, k === "hr_bpm" || k === "breathing_rpm" ? 0 : 2);
      el.classList.toggle("provisional", provisional.has(k));
      el.title = !provisional.has(k) ? "" : PER_SECOND_PROVISIONAL.includes(k)
        ? "provisional: this second's value, shown before the person's row is final"
        : "provisional: from the newest data, replaced when its second is final";
    }
    const q = r.quality;
    this.quality.textContent = `quality ${q ?? "–"}`;
    this.quality.className = `badge ${q === "good" ? "ok" : q === "fair" ? "warn" : q ? "bad" : ""}`;
    const vr = r.vagal_reliable;
    this.vagal.textContent = `vagal ${vr == null ? "–" : vr ? "reliable" : "unreliable"}`;
    this.vagal.className = `badge ${vr ? "ok" : vr == null ? "" : "warn"}`;
  }
  renderCalibration(c, tNow) {
    this.calib.hidden = !c;
    if (!c) return;
    this.calibBar.value = c.total > 0 ? c.done / c.total : 0;
    const p = this.data.pacing;
    // live sessions whose baseline is still being played faster (the demo): the time left in
    // wall-clock seconds too (once the data have passed the fast part, only session time is said)
    const fast = !this.data.stripAtCursor && p && p.baseline_speed != null && p.fast_until_s != null && tNow < p.fast_until_s;
    const wall = fast && p.baseline_speed !== "max" ? ` ≈ ${Math.ceil(c.left / p.baseline_speed)} s at ${paceWords(p.baseline_speed)}` : "";
    this.calibText.textContent = `Baseline ${mmss(c.done)} of ${mmss(c.total)}: ${mmss(c.left)} left${wall}. `
      + "The zone is called against this person's own baseline once it is complete.";
  }
  setStale(streams) {
    this.stale.hidden = !streams.length;
    this.stale.textContent = `sensor stale: ${streams.join(", ")}`;
  }
}

export class DyadView {
  /** @param opts {onJump(t): jump to a time (replay), allEvents: list the whole session, current highlighted} */
  constructor(el, data, { onJump, allEvents = false } = {}) {
    this.data = data; this.onJump = onJump; this.allEvents = allEvents;
    this.sharedHr = sessionStorage.getItem(SHARED_HR_KEY) !== "0";
    const hrToggle = h("input", { type: "checkbox", id: "shared-hr", checked: this.sharedHr });
    hrToggle.onchange = () => { this.sharedHr = hrToggle.checked; sessionStorage.setItem(SHARED_HR_KEY, this.sharedHr ? "1" : "0"); this.rerender(); };
    el.append(h("div", { className: "bar options" }, h("label", { htmlFor: "shared-hr" }, hrToggle, " Same heart-rate scale for both people")));
    this.grid = h("div", { className: "dyad" });
    el.append(this.grid);
    this.persons = new Map();
    const sync = h("section", { className: "strip", "aria-label": "Synchrony" });
    this.leader = h("span", { className: "badge", role: "status" }, "leader –");
    this.sig = h("span", { className: "badge" }, "–");
    sync.append(h("h3", {}, "Synchrony beyond chance ", this.leader, " ", this.sig));
    // dyad rows carry the surrogate-based effect (sync_effect) and its significance; the per-signal
    // columns are the raw peak correlations (Fisher z), untested: each chart says which it shows
    this.syncChart = new TimeChart(sync, {
      key: "sync", title: "Synchrony effect vs pseudo-pairs: (peak − pseudo mean) / pseudo SD, mean over signals; 0 = chance. Shaded: significant seconds.",
      minSpan: 3, height: 120, series: [{ label: "effect", color: C.black, width: 2 }] });
    this.peakChart = new TimeChart(sync, {
      key: "peak", title: "Peak cross-correlation per signal (Fisher z of r over lags ±5 s; not tested against chance)", minSpan: 1,
      series: [{ label: "HR", color: C.vermillion }, { label: "arousal", color: C.black }, { label: "vocal", color: C.purple, dash: [4, 3] }] });
    const evs = h("section", { className: "strip", "aria-label": "Events" });
    this.evList = h("ol", { className: "events", "aria-live": "polite" });
    evs.append(h("h3", {}, allEvents ? "Events of the whole session (candidates for review; current one highlighted)" : "Events (candidates for review)"), this.evList);
    el.append(sync, evs);
    this._evKey = "";
    this._last = null;
  }
  ensurePersons() {
    for (const p of this.data.participants) if (!this.persons.has(p)) this.persons.set(p, new PersonPanel(this.grid, p, this.data));
  }
  rerender() { if (this._last) this.render(...this._last); }
  render(t0, t1, tNow, tStrip = tNow) {
    this._last = [t0, t1, tNow, tStrip];
    this.ensurePersons();
    let hrRange = null;
    if (this.sharedHr && this.persons.size > 1) {
      const exts = [...this.persons.values()].map((p) => p.hrExtent(t0, t1)).filter(Boolean);
      if (exts.length) hrRange = fitRange([Math.min(...exts.map((e) => e[0])), Math.max(...exts.map((e) => e[1]))], { minSpan: HR_MIN_SPAN });
    }
    for (const p of this.persons.values()) p.render(t0, t1, tNow, tStrip, hrRange);
    const sig = runs(this.data.points(null, "sync_significant", t0, t1)).filter((r) => r.value === true)
      .map((r) => ({ ...r, color: "rgba(0,158,115,0.18)" }));
    this.syncChart.set(this.data.dyadSeries(["sync_effect"], t0, t1), [t0, t1], { spans: sig });
    this.peakChart.set(this.data.dyadSeries(["sync_hr_z", "sync_arousal_z", "sync_vocal_z"], t0, t1), [t0, t1]);
    const d = this.data.dyadAt(tNow) || {};
    this.leader.textContent = `leader: ${d.leader ?? "–"}`;
    this.sig.textContent = d.sync_significant == null ? "significance –" : d.sync_significant ? "significant coupling" : "not significant";
    this.sig.className = `badge ${d.sync_significant ? "ok" : ""}`;
    this.renderEvents(tNow);
  }
  renderEvents(tNow) {
    const all = this.data.sortedEvents();
    if (!this.allEvents) {
      // live: what happened so far, newest first, with the zone changes and dyad events the
      // provisional data point to (lighter until the final data confirm them; struck out when withdrawn)
      const evs = all.filter((e) => e.t_start <= tNow + 0.5);
      const prov = this.data.shownProvisionalEvents ? this.data.shownProvisionalEvents() : [];
      const key = `${evs.length}|${prov.map((u) => `${u.pid}:${u.state}`).join(",")}`;
      if (key === this._evKey) return;
      this._evKey = key;
      const items = [...evs.slice(-200).map((e) => [e.t_start, this._item(e)]),
        ...prov.map((u) => [u.event.t_start, this._provisionalItem(u)])].sort((a, b) => a[0] - b[0]);
      this.evList.replaceChildren(...items.reverse().map((x) => x[1]));
      return;
    }
    // replay: the whole session in time order, the latest event at or before the cursor marked
    let current = -1;
    all.forEach((e, i) => { if (e.t_start <= tNow + 0.5) current = i; });
    const key = `${all.length}:${current}`;
    if (key === this._evKey) return;
    const rebuild = !this._evKey.startsWith(`${all.length}:`);
    this._evKey = key;
    if (rebuild) this.evList.replaceChildren(...all.map((e) => this._item(e)));
    [...this.evList.children].forEach((li, i) => {
      li.classList.toggle("current", i === current);
      li.classList.toggle("ahead", i > current);
      if (i === current) li.setAttribute("aria-current", "true"); else li.removeAttribute("aria-current");
    });
    const li = this.evList.children[current];
    if (li) this.evList.scrollTop = Math.max(0, li.offsetTop - this.evList.offsetTop - this.evList.clientHeight / 3);
  }
  _item(e) {
    const li = h("li", { "data-kind": e.kind, "data-t": e.t_start },
      h("span", { className: "evtime" }, mmss(e.t_start)), " ",
      h("span", { className: "evkind" }, eventTitle(e)),
      e.t_end != null && e.kind !== "gap" ? h("span", { className: "muted" }, ` until ${mmss(e.t_end)}`) : "",
      e.rule ? h("span", { className: "muted rule" }, ` — ${e.rule}`) : "");
    if (this.onJump) li.prepend(h("button", { type: "button", onclick: () => this.onJump(e.t_start), title: "Jump to this event" }, "go"), " ");
    return li;
  }
  _provisionalItem(u) {
    const li = this._item(u.event);
    const withdrawn = u.state === "withdrawn";
    li.classList.add(withdrawn ? "withdrawn" : "provisional");
    li.dataset.state = u.state;
    li.dataset.pid = u.pid;
    const what = u.event.participant == null || DYAD_EVENT_KINDS.has(u.event.kind) ? "dyad event" : "zone change";
    li.title = withdrawn ? `withdrawn: the final data did not confirm this ${what}`
      : `provisional ${what}: from the newest data, confirmed or withdrawn once the data are final`;
    li.querySelector(".evkind").append(withdrawn ? " (withdrawn)" : " (provisional)");
    return li;
  }
  markStale(byPerson) {
    for (const [p, panel] of this.persons) panel.setStale(byPerson.get(p) || []);
  }
}
