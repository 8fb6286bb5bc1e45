// Events in plain words: what a supervisor reads in the event list and on the overview.

const ZONE_WORDS = {
  hyper: "hyperarousal", hypo: "hypoarousal", hypo_candidate: "possible hypoarousal", window: "the window", unknown: "unknown",
};

const cap = (s) => (s ? s[0].toUpperCase() + s.slice(1) : s);

/** The zone change of an event label such as "window -> hyper" as [from, to], or []. */
export function zoneMove(ev) {
  const m = /^\s*(\w+)\s*->\s*(\w+)\s*$/.exec(ev.label || "");
  return m ? [m[1], m[2]] : [];
}

/** One line a supervisor understands, e.g. "Client left the window (hyperarousal)". */
export function eventTitle(ev) {
  const who = cap(ev.participant || "");
  const [from, to] = zoneMove(ev);
  switch (ev.kind) {
    case "leave_window":
      return to === "unknown" ? `${who}: zone unknown (data missing or poor quality)` : `${who} left the window (${ZONE_WORDS[to] || to})`;
    case "return_window":
      return `${who} back in the window${from ? ` (after ${ZONE_WORDS[from] || from})` : ""}`;
    case "zone_change":
      if (from === "unknown" && to === "window") return `${who}: baseline complete, in the window`;
      if (to === "unknown") return `${who}: zone unknown (data missing or poor quality)`;
      if (from === "unknown") return `${who}: zone known again: ${ZONE_WORDS[to] || to}`;
      return `${who}: ${ZONE_WORDS[from] || from} → ${ZONE_WORDS[to] || to}`;
    case "gap": return `${who}: signal gap${ev.t_end != null ? ` (${Math.round(ev.t_end - ev.t_start)} s)` : ""}`;
    case "artefact_burst": return `${who}: burst of artefacts`;
    case "rupture_candidate": return "Possible rupture (candidate for review)";
    case "repair_candidate": return "Possible repair (candidate for review)";
    case "co_regulation": return "Co-regulation: therapist leads the client back (candidate)";
    case "therapist_dysregulated": return "Therapist out of their window too (candidate)";
    case "leader_change": return "Leader of the synchrony changed";
    case "baseline": case "warning": case "exertion": return `${who ? `${who}: ` : ""}${ev.label || ev.kind}`;  // the estimator's own verdict
    default: return `${who ? `${who}: ` : ""}${(ev.kind || "event").replaceAll("_", " ")}`;
  }
}

/** A few characters for a mark on the overview strip. */
export function eventShort(ev) {
  const p = ev.participant ? ev.participant[0].toUpperCase() : "";
  const [, to] = zoneMove(ev);
  switch (ev.kind) {
    case "leave_window": return `${p} ${to === "hyper" ? "↑hyper" : to === "unknown" ? "?" : "↓hypo"}`;
    case "return_window": return `${p} back`;
    case "zone_change": return to === "window" ? `${p} ok` : `${p} ${to === "unknown" ? "?" : to === "hyper" ? "↑" : "↓"}`;
    case "rupture_candidate": return "rupture?";
    case "repair_candidate": return "repair?";
    case "co_regulation": return "co-reg";
    case "therapist_dysregulated": return "T dysreg";
    case "gap": return `${p} gap`;
    default: return (ev.kind || "").slice(0, 8);
  }
}
