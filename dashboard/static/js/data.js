// Client-side model of one session's data, filled by websocket frames (live) or REST (replay).

const WAVE_KEEP_S = 20;
const BEATS_KEEP_S = 60;
const LOOKBACK_S = 15;
// the dyad's event kinds (models/provisional_events.py DYAD_EVENT_KINDS): settled on the dyad's rows,
// even the therapist's spell, which names its participant
export const DYAD_EVENT_KINDS = new Set(["rupture_candidate", "repair_candidate", "co_regulation", "therapist_dysregulated"]);

function latest(m, t) {
  for (let s = Math.floor(t); s >= Math.max(0, Math.floor(t) - LOOKBACK_S); s--) if (m.has(s)) return m.get(s);
  return null;
}

export class SessionData {
  constructor() {
    this.features = new Map(); // participant -> Map(t_s -> row)
    this.dyad = new Map(); // t_s -> row
    this.events = new Map(); // key -> event
    this.annotations = new Map(); // id -> annotation
    this.waves = new Map(); // stream key -> {t: [], v: []}
    this.sensors = null;
    this.tMax = 0;
    this.tLast = new Map(); // participant -> newest final second
    this.dyadLast = undefined; // newest final dyad second
    this.participants = [];
    // live only (issue #15): the newest provisional value per person and family (heart, voice,
    // eda), until the final row of its second arrives, and the beat-by-beat HR of the last minute
    this.provisional = new Map(); // participant -> Map(family -> value {t, hr_bpm, arousal, ...})
    this.beats = new Map(); // participant -> {t: [], hr: []}
    // live only (issue #15, item 3): zone changes pushed on provisional evidence, by their number
    this.provEvents = new Map(); // pid -> {state, event, final_id, tolerance_s}
  }
  setParticipants(list) {
    const order = (p) => (p === "client" ? 0 : p === "therapist" ? 1 : 2);
    this.participants = [...new Set(list)].sort((a, b) => order(a) - order(b) || a.localeCompare(b));
    for (const p of this.participants) if (!this.features.has(p)) this.features.set(p, new Map());
  }
  addFeatures(rows) {
    for (const r of rows) {
      if (!this.features.has(r.participant)) this.setParticipants([...this.participants, r.participant]);
      this.features.get(r.participant).set(r.t_s, r);
      if (r.t_s > this.tMax) this.tMax = r.t_s;
      if (!(r.t_s <= this.tLast.get(r.participant))) this.tLast.set(r.participant, r.t_s);
    }
  }
  addProvisional(values) {
    for (const v of values) {
      let fams = this.provisional.get(v.participant);
      if (!fams) { fams = new Map(); this.provisional.set(v.participant, fams); }
      const family = v.family || "heart";
      const old = fams.get(family);
      if (!old || v.t >= old.t) fams.set(family, v);
      const times = v.beat_times || [];
      if (!times.length) continue;
      let b = this.beats.get(v.participant);
      if (!b) { b = { t: [], hr: [] }; this.beats.set(v.participant, b); }
      const hrs = v.beat_hr_bpm || [];
      times.forEach((t, i) => { if (!b.t.length || t > b.t[b.t.length - 1]) { b.t.push(t); b.hr.push(hrs[i] ?? null); } });
      const cut = b.t[b.t.length - 1] - BEATS_KEEP_S;
      let i = 0; while (i < b.t.length && b.t[i] < cut) i++;
      if (i) { b.t.splice(0, i); b.hr.splice(0, i); }
    }
  }
  /** The person's newest provisional values of every family whose final row is not in yet (a
   *  value describes the moment t; the row t_s closes the second (t_s - 1, t_s]), merged oldest
   *  first: t, arousal and zone_provisional are the newest data's. Null when none is left. */
  provisionalOf(participant) {
    const fams = this.provisional.get(participant);
    if (!fams) return null;
    const last = this.tLast.get(participant);
    const open = [...fams.values()].filter((v) => !(Math.ceil(v.t) <= last)).sort((a, b) => a.t - b.t);
    return open.length ? Object.assign({}, ...open) : null;
  }
  /** Provisional events as pushed, confirmed or withdrawn (`provisional_event` frames). */
  addEventUpdates(updates) {
    for (const u of updates) {
      const old = this.provEvents.get(u.pid);
      if (!old || old.state === "provisional") this.provEvents.set(u.pid, u);
    }
  }
  /** Provisional events still to show: pending ones (lighter) and withdrawn ones (struck out); a
   *  confirmed one is its final event now. The frames are lossy: one still pending when the final
   *  rows passed its deadline (`due_s`: the person's rows for a zone change, the dyad's for a
   *  dyad event, which stays pending while the newest dyad row shows that candidate open)
   *  lost its update, and counts as withdrawn, which is what the server decided too unless a final
   *  event of the same kind arrived. */
  shownProvisionalEvents() {
    const out = [];
    const openNow = ((this.dyad.get(this.dyadLast) || {}).dyad_event || "").split(",");
    for (const u of this.provEvents.values()) {
      if (u.state === "confirmed") continue;
      const e = u.event;
      const dyadic = e.participant == null || DYAD_EVENT_KINDS.has(e.kind);
      const upto = dyadic ? this.dyadLast : this.tLast.get(e.participant);
      const held = dyadic && openNow.includes(e.kind);
      if (u.state === "provisional" && !held && upto >= (u.due_s ?? e.t_start + u.tolerance_s)) {
        const final = [...this.events.values()].some((f) => f.kind === e.kind && (f.participant ?? null) === (e.participant ?? null)
          && f.label === e.label && Math.abs(f.t_start - e.t_start) <= u.tolerance_s);
        u.state = final ? "confirmed" : "withdrawn";
        if (final) continue;
      }
      out.push(u);
    }
    return out;
  }
  addDyad(rows) {
    for (const r of rows) {
      this.dyad.set(r.t_s, r);
      if (!(r.t_s <= this.dyadLast)) this.dyadLast = r.t_s;
    }
  }
  addEvents(evs) { for (const e of evs) this.events.set(e.id ?? `${e.kind}@${e.t_start}/${e.participant}`, e); }
  annotation(op, a) {
    if (op === "delete") this.annotations.delete(a.id);
    else this.annotations.set(a.id, { ...(this.annotations.get(a.id) || {}), ...a });
  }
  addWave(d) {
    let w = this.waves.get(d.stream);
    if (!w) { w = { t: [], v: [] }; this.waves.set(d.stream, w); }
    if (d.gap && w.t.length) { w.t.push(d.t[0]); w.v.push(null); } // visible break at a dropout
    w.t.push(...d.t); w.v.push(...d.v);
    const cut = w.t[w.t.length - 1] - WAVE_KEEP_S;
    let i = 0; while (i < w.t.length && w.t[i] < cut) i++;
    if (i) { w.t.splice(0, i); w.v.splice(0, i); }
  }
  setWave(stream, t, v) { this.waves.set(stream, { t: t.slice(), v: v.slice() }); }
  /** Columns of one participant over [t0, t1] as uPlot data: [xs, col1s, col2s, ...]. */
  series(participant, cols, t0, t1) {
    const m = this.features.get(participant) || new Map();
    return this._series(m, cols, t0, t1);
  }
  dyadSeries(cols, t0, t1) { return this._series(this.dyad, cols, t0, t1); }
  /** [[t, value], ...] of one column (text or number) over [t0, t1], in time order; `null`
   *  participant = the dyad rows. */
  points(participant, col, t0 = -Infinity, t1 = Infinity) {
    const m = participant == null ? this.dyad : this.features.get(participant) || new Map();
    return [...m.keys()].filter((t) => t >= t0 && t <= t1).sort((a, b) => a - b).map((t) => [t, m.get(t)[col]]);
  }
  _series(m, cols, t0, t1) {
    const ts = [...m.keys()].filter((t) => t >= t0 && t <= t1).sort((a, b) => a - b);
    const out = [ts];
    for (const c of cols) out.push(ts.map((t) => { const v = m.get(t)[c]; return typeof v === "number" ? v : (typeof v === "boolean" ? +v : null); }));
    return out;
  }
  /** The latest row at or before t (the numbers shown next to the charts); people's rows may
   *  close a few seconds apart, but nothing older than LOOKBACK_S is shown as current. */
  rowAt(participant, t) {
    const m = this.features.get(participant);
    return m ? latest(m, t) : null;
  }
  dyadAt(t) { return latest(this.dyad, t); }
  sortedEvents() { return [...this.events.values()].sort((a, b) => a.t_start - b.t_start); }
  sortedAnnotations() { return [...this.annotations.values()].sort((a, b) => a.t_s - b.t_s || a.id - b.id); }
}
