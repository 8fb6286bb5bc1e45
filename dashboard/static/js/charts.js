// Thin wrappers around uPlot (vendored from npm, no CDN) for session-time charts.
import uPlot from "../vendor/uplot/uPlot.esm.js";

export const C = {
  black: "#000000", orange: "#E69F00", sky: "#56B4E9", green: "#009E73",
  yellow: "#F0E442", blue: "#0072B2", vermillion: "#D55E00", purple: "#CC79A7", grey: "#6b6b6b",
};

/** Zone labels in words (the colour is a second cue, never the only one). */
export const ZONES = {
  window: { text: "In window", color: C.green },
  hyper: { text: "↑ Hyperarousal", color: C.vermillion },
  hypo: { text: "↓ Hypoarousal", color: C.blue },
  hypo_candidate: { text: "↓? Possible hypoarousal", color: C.sky },
  unknown: { text: "Unknown (no usable data)", color: C.grey },
};
export const CALIBRATING = "Calibrating (baseline)";
export const zoneInfo = (z) => ZONES[z] || ZONES.unknown;

/** Window of tolerance on the arousal composite. The session description carries the thresholds
 *  in force (server: tolerance_bounds, from models/tolerance.py); these stand in only when the
 *  server does not say (an old session file), and are marked as such. */
export const BAND = { lo: -2, hi: 2, exitLo: -1, exitHi: 1, sustain: 30, exitSustain: null, assumed: true };
export const bandOf = (tol) => (tol ? {
  lo: -tol.hypo_enter, hi: tol.hyper_enter, exitLo: -(tol.hypo_exit ?? tol.hypo_enter), exitHi: tol.hyper_exit ?? tol.hyper_enter,
  sustain: tol.sustain_s, exitSustain: tol.exit_sustain_s ?? null, assumed: false,
} : BAND);

export function mmss(t) {
  if (t == null || !isFinite(t)) return "–";
  const s = Math.max(0, Math.floor(t));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

const tickText = (v) => (v == null ? "" : Math.abs(v) >= 1000 ? v.toLocaleString("en") : String(Math.round(v * 1000) / 1000));

/** [lo, hi] that holds every finite value of `cols` (uPlot data arrays), or null. */
export function extent(cols) {
  let lo = Infinity, hi = -Infinity;
  for (const ys of cols) for (const v of ys) if (v != null && isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
  return lo <= hi ? [lo, hi] : null;
}

/** A y range that holds [lo, hi] (and `must`, e.g. the tolerance bounds), at least `minSpan` wide,
 *  with a margin so that the trace never touches the plot's edge. */
export function fitRange(ext, { minSpan = 1, must = [], pad = 0.08 } = {}) {
  let lo = Math.min(...must, ext ? ext[0] : Infinity), hi = Math.max(...must, ext ? ext[1] : -Infinity);
  if (!(lo <= hi)) return [0, minSpan];
  if (hi - lo < minSpan) { const mid = (lo + hi) / 2; lo = mid - minSpan / 2; hi = mid + minSpan / 2; }
  const m = (hi - lo) * pad;
  return [lo - m, hi + m];
}

// Horizontal shading: above the hyper bound, the window, below the hypo bound; dashed lines at the
// return thresholds (hysteresis: a zone is left only once arousal is back inside these).
function bandHook(band) {
  return (u) => {
    const { ctx, bbox } = u;
    const y = (v) => Math.max(bbox.top, Math.min(bbox.top + bbox.height, u.valToPos(v, "y", true)));
    const top = bbox.top, bottom = bbox.top + bbox.height;
    const yHi = y(band.hi), yLo = y(band.lo);
    ctx.save();
    ctx.fillStyle = "rgba(213,94,0,0.08)"; ctx.fillRect(bbox.left, top, bbox.width, yHi - top);
    ctx.fillStyle = "rgba(0,158,115,0.14)"; ctx.fillRect(bbox.left, yHi, bbox.width, yLo - yHi);
    ctx.fillStyle = "rgba(0,114,178,0.08)"; ctx.fillRect(bbox.left, yLo, bbox.width, bottom - yLo);
    ctx.lineWidth = devicePixelRatio;
    for (const [v, dash, color] of [[band.hi, [], C.vermillion], [band.lo, [], C.blue],
      [band.exitHi, [5, 4], C.vermillion], [band.exitLo, [5, 4], C.blue]]) {
      if (v == null) continue;
      ctx.strokeStyle = color; ctx.setLineDash(dash.map((d) => d * devicePixelRatio));
      ctx.beginPath(); ctx.moveTo(bbox.left, y(v)); ctx.lineTo(bbox.left + bbox.width, y(v)); ctx.stroke();
    }
    ctx.restore();
  };
}

// Vertical spans over time: full-height tints (e.g. significant synchrony) and a strip along the
// bottom of the plot (e.g. the zone of each second), from `chart.extras`.
function spansHook(chart) {
  return (u) => {
    const { ctx, bbox } = u;
    const x = (t) => Math.max(bbox.left, Math.min(bbox.left + bbox.width, u.valToPos(t, "x", true)));
    ctx.save();
    for (const s of chart.extras.spans || []) {
      ctx.fillStyle = s.color; ctx.fillRect(x(s.t0), bbox.top, Math.max(1, x(s.t1) - x(s.t0)), bbox.height);
    }
    const sh = 7 * devicePixelRatio;
    for (const s of chart.extras.strip || []) {
      ctx.fillStyle = s.color; ctx.fillRect(x(s.t0), bbox.top + bbox.height - sh, Math.max(1, x(s.t1) - x(s.t0)), sh);
    }
    ctx.restore();
  };
}

/** Runs of equal values in a per-second map: [{t0, t1, value}] (a missing second ends a run). */
export function runs(points) {
  const out = [];
  for (const [t, v] of points) {
    const last = out[out.length - 1];
    if (last && last.value === v && t - last.t1 <= 1.01) last.t1 = t;
    else out.push({ t0: t - 1, t1: t, value: v });
  }
  return out;
}

export class TimeChart {
  /** @param el container
   *  @param opts {title, series:[{label,color,width,dash,step,fill,points}], y:[min,max] (fixed),
   *    minSpan (autoscale: smallest y span), band (tolerance shading), height, legend} */
  constructor(el, opts) {
    this.el = el; this.opts = opts;
    this.extras = {};
    this.range = null; // [lo, hi] set by the caller (shared scale, autoscale with bounds)
    const wrap = document.createElement("div");
    wrap.className = "chart";
    if (opts.key) wrap.dataset.chart = opts.key;
    const title = document.createElement("p");
    title.className = "title"; title.textContent = opts.title;
    this.titleEl = title;
    wrap.append(title);
    const holder = document.createElement("div");
    holder.setAttribute("role", "img");
    holder.setAttribute("aria-label", opts.title);
    wrap.append(holder);
    el.append(wrap);
    this.wrap = wrap;
    this.holder = holder;
    const series = [{ label: "t", value: (u, v) => mmss(v) }];
    for (const s of opts.series) {
      series.push({
        label: s.label, stroke: s.color, width: s.width ?? 1.5, dash: s.dash, fill: s.fill,
        spanGaps: false, points: { show: !!s.points, size: 5, fill: s.color },
        paths: s.step ? uPlot.paths.stepped({ align: 1 }) : undefined,
        value: (u, v) => (v == null ? "–" : (Math.round(v * 100) / 100).toString()),
      });
    }
    // the y range and tick count drawn are published on the element (read by the browser tests)
    const hooks = { drawClear: [spansHook(this)], draw: [(u) => {
      holder.dataset.ymin = u.scales.y.min; holder.dataset.ymax = u.scales.y.max;
    }] };
    if (opts.band) hooks.drawClear.unshift(bandHook(opts.band));
    const height = opts.height ?? 110;
    this.u = new uPlot({
      width: Math.max(200, el.clientWidth - 8), height,
      scales: {
        x: { time: false },
        y: { range: (u, dmin, dmax) => opts.y || this.range || fitRange(dmin == null ? null : [dmin, dmax], { minSpan: opts.minSpan ?? 1 }) },
      },
      axes: [
        { values: (u, vals) => vals.map(mmss), size: 28, font: "11px system-ui", ticks: { size: 3 },
          incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200] },
        // small charts: ticks every 14 px at least, so that every chart has several labelled values
        { size: 46, font: "11px system-ui", ticks: { size: 3 }, space: 14, grid: { stroke: "rgba(0,0,0,0.07)" },
          values: (u, splits) => { holder.dataset.yticks = splits.length; return splits.map(tickText); } },
      ],
      legend: { show: opts.legend ?? opts.series.length > 1, live: true },
      cursor: { drag: { x: false, y: false } },
      series, hooks,
    }, [[], ...opts.series.map(() => [])], holder);
    this._ro = new ResizeObserver(() => this.u.setSize({ width: Math.max(200, el.clientWidth - 8), height }));
    this._ro.observe(el);
  }
  setTitle(text) { this.titleEl.textContent = text; this.holder.setAttribute("aria-label", text); }
  /** data: [xs, ys1, ys2, ...]; window: [x0, x1]; extras: {spans, strip} drawn under the traces */
  set(data, window, extras = {}) {
    this.extras = extras;
    // reset scales so that y fits the new data (an empty first frame must not freeze it),
    // then pin x to the requested window
    this.u.setData(data, true);
    if (window) this.u.setScale("x", { min: window[0], max: window[1] });
  }
  destroy() { this._ro.disconnect(); this.u.destroy(); }
}
