// Entry point: token, role, hash routes (#/sessions, #/live/<id>, #/replay/<id>), session list.
import { ApiError, api, clearToken, getToken, setToken, takeTokenFromUrl } from "./api.js";
import { mmss } from "./charts.js";
import { h } from "./dyadview.js";
import { liveView } from "./live.js";
import { replayView } from "./replay.js";

const main = document.getElementById("main");
const conn = document.getElementById("conn-badge");
const roleBadge = document.getElementById("role-badge");
const ctx = {
  role: null,
  setConn(text, kind) { conn.textContent = text; conn.className = `badge ${kind || ""}`; },
};
let cleanup = null;

async function sessionsView() {
  const list = await api("/api/sessions");
  const rows = list.map((s) => {
    const actions = h("td");
    if (s.live) actions.append(h("a", { href: `#/live/${encodeURIComponent(s.id)}` }, "Watch live"), " ");
    if (s.status !== "created") actions.append(h("a", { href: `#/replay/${encodeURIComponent(s.id)}` }, "Replay"));
    return h("tr", { "data-session": s.id }, h("td", {}, s.id), h("td", {}, s.label || ""), h("td", {}, s.status),
      h("td", {}, mmss(s.duration_s)), h("td", {}, (s.participants || []).join(", ")), actions);
  });
  const table = h("table", {}, h("caption", { className: "muted" }, "Sessions on this server, newest first"),
    h("thead", {}, h("tr", {}, ...["Session", "Label", "Status", "Duration", "Participants", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, ...rows));
  const parts = [h("h2", {}, "Sessions"), list.length ? table : h("p", {}, "No sessions yet.")];
  if (ctx.role === "supervisor") {
    const dur = h("input", { type: "number", min: 301, max: 21600, value: 1200, id: "new-dur" });
    const spd = h("select", { id: "new-speed" }, ...["1", "4", "16", "max"].map((v) => h("option", { value: v }, v === "max" ? "as fast as possible" : `×${v}`)));
    const seed = h("input", { type: "number", min: 0, value: 0, id: "new-seed" });
    const msg = h("span", { role: "status", className: "muted" });
    const go = h("button", { type: "submit", className: "primary" }, "Start simulated session");
    const form = h("form", { className: "bar", "aria-label": "New simulated session" },
      h("label", { htmlFor: "new-dur" }, "Duration (s) "), dur, h("label", { htmlFor: "new-speed" }, "Speed "), spd,
      h("label", { htmlFor: "new-seed" }, "Seed "), seed, go, msg);
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      go.disabled = true;
      try {
        const s = await api("/api/sessions", { method: "POST", body: {
          source: { kind: "simulator", duration_s: Number(dur.value), seed: Number(seed.value) },
          speed: spd.value === "max" ? "max" : Number(spd.value), label: "simulated dyad" } });
        location.hash = `#/live/${encodeURIComponent(s.id)}`;
      } catch (err) { msg.textContent = `Could not start: ${err.message}`; go.disabled = false; }
    };
    parts.push(h("h3", {}, "New session"), form,
      h("p", { className: "muted" }, "Recorded files are replayed with `coregulate replay` or the API (POST /api/sessions with source.kind = files)."));
  }
  main.replaceChildren(...parts);
  ctx.setConn("Online", "ok");
}

async function route() {
  if (cleanup) { cleanup(); cleanup = null; }
  const [, view, id] = (location.hash || "#/sessions").match(/^#\/(\w+)\/?([^/]*)/) || [];
  try {
    if (view === "live" && id) cleanup = await liveView(main, decodeURIComponent(id), ctx);
    else if (view === "replay" && id) cleanup = await replayView(main, decodeURIComponent(id), ctx);
    else await sessionsView();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) { clearToken(); return gate("The token was refused."); }
    main.replaceChildren(h("p", { className: "error", role: "alert" }, `Could not load: ${err.message}`));
  }
}

function gate(message = "") {
  const g = document.getElementById("token-gate");
  g.hidden = false;
  main.replaceChildren();
  document.getElementById("token-error").textContent = message;
  document.getElementById("token-input").focus();
  document.getElementById("token-form").onsubmit = (ev) => {
    ev.preventDefault();
    setToken(document.getElementById("token-input").value.trim());
    g.hidden = true;
    start();
  };
}

async function start() {
  const fromLink = takeTokenFromUrl();
  if (!getToken()) return gate();
  try {
    ctx.role = (await api("/api/whoami")).role;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) { clearToken(); return gate("The token was refused."); }
    ctx.setConn("Server unreachable", "bad");
    return;
  }
  roleBadge.textContent = ctx.role === "supervisor" ? "Supervisor (control, annotate)" : "Viewer (read only)";
  window.addEventListener("hashchange", route);
  if (fromLink) {
    // Arriving from the link the server printed (demo, replay, record): if exactly one session
    // is live, that is what the user came to watch.
    try {
      const live = (await api("/api/sessions")).filter((s) => s.live && s.status === "running");
      if (live.length === 1) { location.hash = `#/live/${encodeURIComponent(live[0].id)}`; return; }
    } catch (_) { /* the session list shows the error */ }
  }
  route();
}

start();
