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
  unknown: { text: "Calibrating / unknown", color: C.grey },
};
export const zoneInfo = (z) => ZONES[z] || ZONES.unknown;

/** Window of tolerance on the arousal composite (z against the person's own baseline). The
 *  session description carries the thresholds in force (models/tolerance.py); these are its
 *  defaults, used only when the server does not say. */
export const BAND = { lo: -2, hi: 2, sustain: 30 };
export const bandOf = (tol) => (tol ? { lo: -tol.hypo_enter, hi: tol.hyper_enter, sustain: tol.sustain_s } : BAND);

export function mmss(t) {
  if (t == null || !isFinite(t)) return "–";
  const s = Math.max(0, Math.floor(t));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

function bandHook(band) {
  return (u) => {
    const { ctx, bbox } = u;
    const y = (v) => u.valToPos(v, "y", true);
    const top = bbox.top, bottom = bbox.top + bbox.height;
    const yHi = Math.max(top, Math.min(bottom, y(band.hi))), yLo = Math.max(top, Math.min(bottom, y(band.lo)));
    ctx.save();
    ctx.fillStyle = "rgba(213,94,0,0.08)"; ctx.fillRect(bbox.left, top, bbox.width, yHi - top);
    ctx.fillStyle = "rgba(0,158,115,0.16)"; ctx.fillRect(bbox.left, yHi, bbox.width, yLo - yHi);
    ctx.fillStyle = "rgba(0,114,178,0.08)"; ctx.fillRect(bbox.left, yLo, bbox.width, bottom - yLo);
    ctx.restore();
  };
}

export class TimeChart {
  /** @param el container; opts {title, series:[{label,color,width,dash,step,fill}], y:[min,max], band, height, xfmt} */
  constructor(el, opts) {
    this.el = el; this.opts = opts;
    const wrap = document.createElement("div");
    wrap.className = "chart";
    const title = document.createElement("p");
    title.className = "title"; title.textContent = opts.title;
    wrap.append(title);
    const holder = document.createElement("div");
    holder.setAttribute("role", "img");
    holder.setAttribute("aria-label", opts.title);
    wrap.append(holder);
    el.append(wrap);
    this.holder = holder;
    const series = [{ label: "t", value: (u, v) => mmss(v) }];
    for (const s of opts.series) {
      series.push({
        label: s.label, stroke: s.color, width: s.width ?? 1.5, dash: s.dash, fill: s.fill,
        spanGaps: false, points: { show: false },
        paths: s.step ? uPlot.paths.stepped({ align: 1 }) : undefined,
        value: (u, v) => (v == null ? "–" : (Math.round(v * 100) / 100).toString()),
      });
    }
    const hooks = opts.band ? { drawClear: [bandHook(opts.band)] } : {};
    this.u = new uPlot({
      width: Math.max(200, el.clientWidth - 8), height: opts.height ?? 95,
      scales: { x: { time: false }, y: opts.y ? { range: () => opts.y } : { auto: true } },
      axes: [
        { values: (u, vals) => vals.map(mmss), size: 28, font: "11px system-ui", ticks: { size: 3 },
          incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200] },
        { size: 44, font: "11px system-ui", ticks: { size: 3 } },
      ],
      legend: { show: opts.legend ?? opts.series.length > 1, live: true },
      cursor: { drag: { x: false, y: false } },
      series, hooks,
    }, [[], ...opts.series.map(() => [])], holder);
    this._ro = new ResizeObserver(() => this.u.setSize({ width: Math.max(200, el.clientWidth - 8), height: opts.height ?? 95 }));
    this._ro.observe(el);
  }
  /** data: [xs, ys1, ys2, ...]; window: [x0, x1] */
  set(data, window) {
    // reset scales so that y fits the new data (an empty first frame must not freeze it),
    // then pin x to the requested window
    this.u.setData(data, true);
    if (window) this.u.setScale("x", { min: window[0], max: window[1] });
  }
  destroy() { this._ro.disconnect(); this.u.destroy(); }
}
