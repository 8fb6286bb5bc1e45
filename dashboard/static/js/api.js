// REST and websocket access with the token. The token arrives in the URL fragment
// (#token=..., never sent to the server or written to its logs) and is kept in sessionStorage.

const KEY = "coregulate.token";

// Returns true when the token came from the URL: a fresh arrival from the printed link.
export function takeTokenFromUrl() {
  const m = location.hash.match(/[#&]token=([^&]+)/);
  if (m) {
    sessionStorage.setItem(KEY, decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + "#/sessions");
  }
  return Boolean(m);
}
export const getToken = () => sessionStorage.getItem(KEY);
export const setToken = (t) => sessionStorage.setItem(KEY, t);
export const clearToken = () => sessionStorage.removeItem(KEY);

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

export async function api(path, { method = "GET", body, raw = false } = {}) {
  const headers = { Authorization: `Bearer ${getToken() || ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!r.ok) {
    let msg = r.statusText;
    try { const j = await r.json(); msg = typeof j.detail === "string" ? j.detail : JSON.stringify(j.detail); } catch (_) { /* not JSON */ }
    throw new ApiError(r.status, msg);
  }
  if (raw) return r;
  return r.status === 204 ? null : r.json();
}

export async function download(path, filename) {
  const r = await api(path, { raw: true });
  const url = URL.createObjectURL(await r.blob());
  const a = Object.assign(document.createElement("a"), { href: url, download: filename });
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** A session's live feed: sequenced frames, resume with ?since= after any disconnect, no gaps.
 *  Callbacks: onFrame(frame), onResync(info) (refetch history over REST), onState(text, kind). */
export class LiveSocket {
  constructor(sessionId, { onFrame, onResync, onState, onEnd }) {
    Object.assign(this, { sessionId, onFrame, onResync, onState, onEnd });
    this.seq = 0; this.closed = false; this.retry = 0; this.ws = null; this.ended = false;
  }
  start() { this._open(); }
  stop() { this.closed = true; if (this.ws) this.ws.close(1000); }
  _open() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    // batch=1: the server may group frames into one message (a JSON array), fewer sends under load
    const url = `${proto}://${location.host}/api/sessions/${encodeURIComponent(this.sessionId)}/ws?since=${this.seq}&batch=1`;
    this.onState(this.retry ? "Reconnecting…" : "Connecting…", "warn");
    const ws = new WebSocket(url, ["coregulate", `token.${getToken()}`]);
    this.ws = ws;
    ws.onopen = () => { this.retry = 0; this.onState("Live", "ok"); };
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      if (!Array.isArray(msg)) { this._message(msg); return; }
      // frames in order; none after a gap closed the socket (the resume sends them again)
      for (const f of msg) { if (this.ws !== ws || ws.readyState !== WebSocket.OPEN) break; this._message(f); }
    };
    ws.onclose = (ev) => {
      if (this.closed) return;
      if (ev.code === 1000 && this.ended) { this.onState("Session ended", ""); return; }
      if (ev.code === 4401) { this.onState("Access refused (token)", "bad"); return; }
      if (ev.code === 4404) { this.onState("Not live", ""); this.onEnd && this.onEnd({ status: "not live" }); return; }
      // 4429 (too slow), network loss, server restart: resume from the last sequence number
      this.retry += 1;
      const delay = Math.min(5000, 250 * 2 ** Math.min(this.retry, 5));
      this.onState(`Reconnecting in ${Math.round(delay / 100) / 10} s…`, "warn");
      setTimeout(() => this._open(), delay);
    };
  }
  _message(f) {
    if (f.type === "resync") { this.seq = f.data.seq; this.onResync(f.data); return; }
    if (f.type === "hello") { if (f.data.ended && this.seq >= f.data.seq) this.ended = true; this.onFrame(f); return; }
    if (!f.lossy) {
      if (f.seq <= this.seq) return; // already seen (overlap after resume)
      if (f.seq !== this.seq + 1) { this.ws.close(4000, "gap"); return; } // resume from this.seq
      this.seq = f.seq;
      if (f.type === "end") { this.ended = true; this.onEnd && this.onEnd(f.data); }
    }
    this.onFrame(f);
  }
}
