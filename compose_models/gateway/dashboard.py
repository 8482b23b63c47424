"""The dashboard at ``/ui``: one self-contained page (no external assets) that polls ``/engines/ps`` and
``/ui/activity``. The page itself is open; its data needs a key, which the page takes from ``#key=...``."""

from starlette.responses import HTMLResponse

PAGE_PATH = "/ui"
ACTIVITY_PATH = "/ui/activity"


def page() -> HTMLResponse:
    return HTMLResponse(_PAGE, headers={"cache-control": "no-store", "content-security-policy": _POLICY})


# Scripts and styles inline only; nothing may be fetched from another origin.
_POLICY = "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>compose-models</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:20px;margin:0 0 .5em}h2{font-size:16px;margin:1.2em 0 .4em}
table{border-collapse:collapse;width:100%;background:#fff}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left}
th{background:#f0f0f0}tr.pick{cursor:pointer}tr.pick:hover{background:#eef5ff}
pre{background:#fff;border:1px solid #ddd;padding:8px;white-space:pre-wrap;max-height:20em;overflow:auto}
#error{color:#b00}.num{text-align:right}svg{background:#fff;border:1px solid #ddd}
</style></head><body>
<h1>compose-models</h1><div id="error"></div>
<h2>Loaded models</h2>
<table id="models"><thead><tr><th>Model</th><th>Backend</th><th>Mode</th><th>Memory (weights)</th><th>Unloads in</th></tr></thead><tbody></tbody></table>
<h2>Requests in flight: <span id="inflight">0</span></h2><div id="inflight-callers"></div>
<h2>Tokens per caller per minute</h2><svg id="chart" width="760" height="220" role="img"></svg>
<h2>Usage per key (UTC)</h2>
<table id="usage"><thead><tr><th>Key</th><th>Requests today</th><th>Tokens today in/out</th><th>Budget per day</th>
<th>Requests this month</th><th>Tokens this month in/out</th><th>Budget per month</th><th>Models</th></tr></thead><tbody></tbody></table>
<h2>Recent requests</h2>
<table id="recent"><thead><tr><th>Time</th><th>Caller</th><th>Model</th><th>Route</th><th>Status</th>
<th>Tokens in/out</th><th>TTFT s</th><th>Duration s</th></tr></thead><tbody></tbody></table>
<h2>Request <span id="picked"></span></h2><pre id="request"></pre><h2>Response</h2><pre id="response"></pre>
<script>
"use strict";
const hashKey = new URLSearchParams(location.hash.slice(1)).get("key");
if (hashKey) { sessionStorage.setItem("key", hashKey); history.replaceState(null, "", location.pathname); }
const key = sessionStorage.getItem("key");
const headers = key ? {"Authorization": "Bearer " + key} : {};
const colors = ["#1f77b4","#ff7f0e","#2ca02c","#d62728","#9467bd","#8c564b","#e377c2","#17becf"];
const cell = (row, text, cls) => { const td = row.insertCell(); td.textContent = text ?? ""; if (cls) td.className = cls; };
const bytes = n => n == null ? "" : (n / 1048576).toFixed(1) + " MiB";
let recent = [], picked = null;
async function getJson(path) {
  const response = await fetch(path, {headers});
  if (!response.ok) throw new Error(path + ": HTTP " + response.status + (response.status == 401 ? " (open /ui#key=YOUR_KEY)" : ""));
  return response.json();
}
function showModels(models) {
  const body = document.querySelector("#models tbody"); body.replaceChildren();
  for (const m of models) {
    const row = body.insertRow();
    cell(row, m.model_name); cell(row, m.backend_name); cell(row, m.mode); cell(row, bytes(m.memory), "num");
    cell(row, m.in_use ? "in use" : m.loading ? "loading" : m.pinned_by ? "pinned by project " + m.pinned_by.join(", ") : m.unloads_in == null ? (m.keep_alive || "") : Math.round(m.unloads_in) + " s", "num");
  }
}
function showChart(series) {
  const svg = document.getElementById("chart"), W = 760, H = 220, L = 50, B = 30;
  const ns = "http://www.w3.org/2000/svg", callers = Object.keys(series.callers);
  svg.replaceChildren();
  const add = (tag, attrs, text) => { const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v); if (text != null) e.textContent = text; svg.appendChild(e); return e; };
  const max = Math.max(1, ...callers.flatMap(c => series.callers[c]));
  const n = series.minutes.length, x = i => L + i * (W - L - 10) / Math.max(1, n - 1), y = v => H - B - v * (H - B - 10) / max;
  add("line", {x1: L, y1: H - B, x2: W - 10, y2: H - B, stroke: "#999"});
  add("line", {x1: L, y1: 10, x2: L, y2: H - B, stroke: "#999"});
  add("text", {x: 4, y: 18, "font-size": 11}, String(max));
  add("text", {x: L, y: H - 10, "font-size": 11}, "-60 min");
  add("text", {x: W - 40, y: H - 10, "font-size": 11}, "now");
  callers.forEach((c, i) => {
    const points = series.callers[c].map((v, j) => x(j) + "," + y(v)).join(" ");
    add("polyline", {points, fill: "none", stroke: colors[i % colors.length], "stroke-width": 2, "data-caller": c});
    add("text", {x: L + 10 + 150 * i, y: 24, fill: colors[i % colors.length], "font-size": 12}, c);
  });
}
function pick(i) {
  const r = recent[i]; picked = r.request_id; document.getElementById("picked").textContent = r.request_id;
  document.getElementById("request").textContent = r.request; document.getElementById("response").textContent = r.response;
}
function showUsage(rows) {
  const body = document.querySelector("#usage tbody"); body.replaceChildren();
  for (const u of rows) {
    const row = body.insertRow();
    cell(row, u.key); cell(row, u.today.requests, "num");
    cell(row, u.today.prompt_tokens + " / " + u.today.completion_tokens, "num"); cell(row, u.tokens_per_day ?? "none", "num");
    cell(row, u.month.requests, "num"); cell(row, u.month.prompt_tokens + " / " + u.month.completion_tokens, "num");
    cell(row, u.tokens_per_month ?? "none", "num"); cell(row, u.models ? u.models.join(", ") : "any");
  }
}
function showActivity(a) {
  showUsage(a.key_usage ?? []);
  const flights = Object.entries(a.in_flight);
  document.getElementById("inflight").textContent = flights.reduce((s, [, n]) => s + n, 0);
  document.getElementById("inflight-callers").textContent = flights.map(([c, n]) => c + ": " + n).join(", ");
  showChart(a.tokens_per_minute);
  recent = a.recent;
  const body = document.querySelector("#recent tbody"); body.replaceChildren();
  recent.forEach((r, i) => {
    const row = body.insertRow(); row.className = "pick"; row.onclick = () => pick(i);
    cell(row, r.time.slice(11, 19)); cell(row, r.caller); cell(row, r.model); cell(row, r.route); cell(row, r.status, "num");
    cell(row, (r.prompt_tokens ?? "?") + " / " + r.completion_tokens, "num"); cell(row, r.time_to_first_token, "num"); cell(row, r.duration, "num");
  });
  const shown = recent.findIndex(r => r.request_id === picked);
  if (recent.length) pick(shown < 0 ? 0 : shown);
}
async function refresh() {
  try {
    const activity = await getJson("ACTIVITY_PATH");
    showModels(activity.models ?? await getJson("/engines/ps"));
    showActivity(activity);
    document.getElementById("error").textContent = "";
    document.body.dataset.loaded = "yes";
  } catch (error) { document.getElementById("error").textContent = error.message; }
}
refresh(); setInterval(refresh, 2000);
</script></body></html>
""".replace("ACTIVITY_PATH", ACTIVITY_PATH)
