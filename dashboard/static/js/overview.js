// Whole-session overview: a zone band per person, labelled event and annotation marks, the detail
// window and the cursor. In replay, click or drag anywhere on it to seek; live, it shows the session
// so far (no seeking: live is always now).
import { C, mmss } from "./charts.js";
import { zoneRuns } from "./dyadview.js";
import { eventShort, eventTitle } from "./words.js";

const ROW = 14; // px per person's zone band
const AXIS = 16; // px for the time labels
const LABELS = 30; // px for two staggered rows of event labels (above the bands)
const NOTES = 14; // px for the annotation labels (under the bands)
const LEFT = 70; // px for the row names

export class Overview {
  /** @param el container; data SessionData; duration session length (s); onSeek(t) or null (live) */
  constructor(el, data, duration, onSeek = null) {
    Object.assign(this, { data, duration, onSeek });
    this.canvas = document.createElement("canvas");
    this.canvas.className = "overview";
    this.canvas.setAttribute("role", "img");
    this.canvas.setAttribute("aria-label", "Whole-session overview: zones per person, events and annotations; click or drag to move the replay cursor");
    this.tip = document.createElement("div");
    this.tip.className = "overview-tip";
    this.tip.hidden = true;
    const wrap = document.createElement("div");
    wrap.className = "overview-wrap";
    wrap.append(this.canvas, this.tip);
    el.append(wrap);
    this.zones = null; // computed once per data change (whole session)
    this.view = [0, 0, 0];
    let dragging = false;
    const at = (ev) => this.timeAt(ev.clientX);
    if (onSeek) {
      this.canvas.classList.add("seekable");
      this.canvas.addEventListener("pointerdown", (ev) => {
        dragging = true; this.canvas.setPointerCapture(ev.pointerId); this.onSeek(at(ev));
      });
    }
    this.canvas.addEventListener("pointermove", (ev) => {
      if (dragging) this.onSeek(at(ev));
      this.hover(ev);
    });
    const end = () => { dragging = false; };
    this.canvas.addEventListener("pointerup", end);
    this.canvas.addEventListener("pointercancel", end);
    this.canvas.addEventListener("pointerleave", () => { this.tip.hidden = true; });
    this._ro = new ResizeObserver(() => this.draw());
    this._ro.observe(wrap);
  }
  invalidate() { this.zones = null; }
  /** Session time under a client x coordinate (clamped to the session). */
  timeAt(clientX) {
    const r = this.canvas.getBoundingClientRect();
    const f = (clientX - r.left - LEFT) / Math.max(1, r.width - LEFT - 8);
    return Math.max(0, Math.min(this.duration, f * this.duration));
  }
  xOf(t, width) { return LEFT + (t / this.duration) * (width - LEFT - 8); }
  hover(ev) {
    const t = this.timeAt(ev.clientX);
    const near = [
      ...this.data.sortedEvents().map((e) => [e.t_start, eventTitle(e)]),
      ...this.data.sortedAnnotations().map((a) => [a.t_s, `✎ ${a.text}`]),
    ].filter(([te]) => Math.abs(te - t) <= this.duration / 200).sort((a, b) => a[0] - b[0]);
    this.tip.textContent = near.length ? `${mmss(near[0][0])} ${near[0][1]}${near.length > 1 ? ` (+${near.length - 1} more)` : ""}` : mmss(t);
    this.tip.style.left = `${ev.clientX - this.canvas.getBoundingClientRect().left + 8}px`;
    this.tip.hidden = false;
  }
  /** Redraw with the detail window [t0, t1] and the cursor (and, live, the span so far). */
  render(t0, t1, cursor, duration = this.duration) {
    if (duration !== this.duration) { this.duration = duration; }
    this.view = [t0, t1, cursor]; this.draw();
  }
  draw() {
    const people = this.data.participants;
    const cssW = Math.max(300, this.canvas.parentElement.clientWidth);
    const cssH = AXIS + LABELS + people.length * ROW + NOTES + 4;
    const dpr = window.devicePixelRatio || 1;
    if (this.canvas.width !== Math.round(cssW * dpr) || this.canvas.height !== Math.round(cssH * dpr)) {
      this.canvas.width = Math.round(cssW * dpr); this.canvas.height = Math.round(cssH * dpr);
      this.canvas.style.width = `${cssW}px`; this.canvas.style.height = `${cssH}px`;
    }
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssW, cssH);
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    if (!this.zones) this.zones = new Map(people.map((p) => [p, zoneRuns(this.data, p, 0, this.duration)]));
    const x = (t) => this.xOf(t, cssW);
    const bandTop = LABELS;
    // zone band per person (grey = calibrating / unknown)
    people.forEach((p, i) => {
      const y = bandTop + i * ROW;
      ctx.fillStyle = "#e4e4de"; ctx.fillRect(LEFT, y + 1, cssW - LEFT - 8, ROW - 2);
      for (const r of this.zones.get(p) || []) {
        ctx.fillStyle = r.color; ctx.fillRect(x(r.t0), y + 1, Math.max(1, x(r.t1) - x(r.t0)), ROW - 2);
      }
      ctx.fillStyle = "#333"; ctx.textAlign = "left"; ctx.fillText(p, 2, y + ROW / 2);
    });
    const bandBottom = bandTop + people.length * ROW;
    const bottom = bandBottom + NOTES;
    // time axis
    ctx.fillStyle = "#555"; ctx.textAlign = "center";
    const steps = [60, 120, 300, 600, 900, 1800, 3600];
    const step = steps.find((s) => (this.duration / s) * 60 <= cssW - LEFT) || 7200;
    for (let t = 0; t <= this.duration; t += step) {
      ctx.fillRect(x(t), bottom, 1, 4);
      ctx.fillText(mmss(t), Math.min(cssW - 20, Math.max(LEFT + 12, x(t))), bottom + 10);
    }
    // detail window and cursor
    const [t0, t1, cur] = this.view;
    ctx.fillStyle = "rgba(0,114,178,0.15)"; ctx.strokeStyle = C.blue; ctx.lineWidth = 1;
    ctx.fillRect(x(t0), bandTop - 2, Math.max(2, x(t1) - x(t0)), bandBottom - bandTop + 4);
    ctx.strokeRect(x(t0) + 0.5, bandTop - 2.5, Math.max(2, x(t1) - x(t0)), bandBottom - bandTop + 5);
    // event marks with short labels in two staggered rows above the bands, annotations in their
    // own row under them (a label that would overlap the previous one is left out; hover names it)
    ctx.textAlign = "left";
    const lastEnd = [-Infinity, -Infinity];
    for (const e of this.data.sortedEvents()) {
      const mx = x(e.t_start), text = eventShort(e);
      ctx.fillStyle = e.participant ? C.orange : C.black;
      ctx.fillRect(mx - 1, 2, 2, bandTop - 2);
      const w = ctx.measureText(text).width + 6;
      const lx = mx + w > cssW ? mx - w : mx; // near the right edge the label goes left of its mark
      const row = lastEnd[0] <= lx ? 0 : lastEnd[1] <= lx ? 1 : -1;
      if (row < 0) continue;
      lastEnd[row] = lx + w;
      ctx.fillStyle = "#222";
      ctx.fillText(text, lx + 3, 7 + row * 13);
    }
    let noteEnd = -Infinity;
    for (const a of this.data.sortedAnnotations()) {
      const mx = x(a.t_s), text = `✎ ${a.text.length > 18 ? `${a.text.slice(0, 17)}…` : a.text}`;
      ctx.fillStyle = C.purple;
      ctx.fillRect(mx - 1, bandTop, 2, bandBottom - bandTop + NOTES - 2);
      const w = ctx.measureText(text).width + 6;
      const lx = mx + w > cssW ? mx - w : mx;
      if (noteEnd > lx) continue;
      noteEnd = lx + w;
      ctx.fillText(text, lx + 3, bandBottom + NOTES / 2);
    }
    ctx.fillStyle = C.black;
    ctx.fillRect(x(cur) - 1, 0, 2, bottom + 2);
    // what is drawn, for the browser tests and assistive summaries
    this.canvas.dataset.events = this.data.events.size;
    this.canvas.dataset.annotations = this.data.annotations.size;
  }
  destroy() { this._ro.disconnect(); }
}
