"use strict";
// The alliance console. Every value from the hub is written with textContent or as an
// SVG attribute: never parsed as HTML. The token stays in this tab (sessionStorage).

const KINDS = ["report", "decision", "escalation", "revocation", "expiry", "consultation-opened",
  "consultation-updated", "consultation-closed", "dispute", "application", "accession", "vote", "suspension",
  "invocation", "policy", "amendment"];
const SVG = "http://www.w3.org/2000/svg";
let token = sessionStorage.getItem("shieldwall-token") || "";
let role = "";
let activity = [];
let streaming = false;

// -- credentials -------------------------------------------------------------------------

(function tokenFromFragment() {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (match) {
    token = decodeURIComponent(match[1]);
    sessionStorage.setItem("shieldwall-token", token);
    history.replaceState(null, "", location.pathname + location.search);
  }
})();

class Refused extends Error {}

function headers() {
  const h = { "Accept": "application/json" };
  if (token) h["Authorization"] = "Bearer " + token;
  return h;
}

async function get(path) {
  const response = await fetch(path, { headers: headers(), cache: "no-store" });
  if (response.status === 401 || response.status === 403) {
    const body = await response.json().catch(() => ({}));
    throw new Refused((body.error && body.error.message) || "HTTP " + response.status);
  }
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error((body.error && body.error.message) || path + ": HTTP " + response.status);
  }
  return response.json();
}

function askForToken(why) {
  document.getElementById("login-why").textContent = why;
  document.getElementById("login").className = "open";
  document.getElementById("login-token").focus();
}

document.getElementById("login-form").addEventListener("submit", event => {
  event.preventDefault();
  token = document.getElementById("login-token").value.trim();
  sessionStorage.setItem("shieldwall-token", token);
  document.getElementById("login").className = "";
  refresh();
  follow();
});

document.getElementById("logout").addEventListener("click", () => {
  sessionStorage.removeItem("shieldwall-token");
  token = "";
  askForToken("Token forgotten. Paste a read token or the admin token to read again.");
});

// -- writing values ----------------------------------------------------------------------

function text(tag, value, cls) {
  const el = document.createElement(tag);
  el.textContent = value === null || value === undefined ? "" : String(value);
  if (cls) el.className = cls;
  return el;
}

function link(value, onClick) {
  const a = text("a", value, "ref");
  a.href = "#";
  a.addEventListener("click", event => { event.preventDefault(); onClick(); });
  return a;
}

function memberLinks(names) {
  const span = document.createElement("span");
  names.forEach((name, i) => {
    if (i) span.appendChild(document.createTextNode(", "));
    span.appendChild(link(name, () => showMember(name)));
  });
  return span;
}

// columns: functions of an item returning [value or Node, class]
function fill(id, items, columns) {
  const body = document.querySelector("#" + id + " tbody");
  body.replaceChildren();
  if (!items.length) {
    const row = body.insertRow();
    const td = text("td", "none", "empty");
    td.colSpan = columns.length;
    row.appendChild(td);
    return;
  }
  for (const item of items) {
    const row = body.insertRow();
    for (const column of columns) {
      const [value, cls] = column(item);
      const td = value instanceof Node ? document.createElement("td") : text("td", value, cls);
      if (value instanceof Node) { td.appendChild(value); if (cls) td.className = cls; }
      row.appendChild(td);
    }
  }
}

function when(at) {
  if (at === null || at === undefined) return "";
  return new Date(at * 1000).toISOString().replace("T", " ").slice(0, 19);
}

function plural(n, word) {
  return n + " " + word + (n === 1 ? "" : "s");
}

function duration(seconds) {
  if (seconds <= 0) return "ended";
  const units = [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]];
  const parts = [];
  for (const [unit, size] of units) {
    if (seconds >= size && parts.length < 2) { parts.push(Math.floor(seconds / size) + unit); seconds %= size; }
  }
  return parts.join(" ") || "0s";
}

// -- charts (SVG drawn here: no library, nothing fetched from elsewhere) -------------------

function svg(tag, attrs, parent) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (parent) parent.appendChild(el);
  return el;
}

function legend(box, series) {
  const div = document.createElement("div");
  div.className = "legend";
  for (const [name, colour] of series) {
    const item = document.createElement("span");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = colour;
    item.appendChild(swatch);
    item.appendChild(document.createTextNode(name));
    div.appendChild(item);
  }
  box.appendChild(div);
}

function colour(name) {
  return getComputedStyle(document.documentElement).getPropertyValue("--" + name).trim();
}

// Grouped bars: labels along x, one bar per series in each group.
function bars(id, labels, series, title) {
  const box = document.getElementById(id);
  box.replaceChildren();
  const W = 480, H = 200, left = 34, bottom = 34, top = 8;
  const max = niceMax(Math.max(1, ...series.flatMap(s => s[2])));
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title }, box);
  const plotW = W - left - 4, plotH = H - bottom - top;
  for (const f of [0, 0.5, 1]) {
    const y = top + plotH * (1 - f);
    svg("line", { x1: left, x2: W - 4, y1: y, y2: y, stroke: "#e4e7ec" }, root);
    svg("text", { x: left - 4, y: y + 4, "text-anchor": "end", "font-size": 10, fill: "#667085" }, root)
      .textContent = String(Math.round(max * f * 10) / 10);
  }
  const group = plotW / Math.max(1, labels.length);
  const barW = Math.min(36, Math.max(1, (group * 0.8) / series.length));
  const pad = (group - barW * series.length) / 2;
  labels.forEach((label, i) => {
    series.forEach(([name, fillColour, values], j) => {
      const h = (values[i] / max) * plotH;
      const bar = svg("rect", {
        x: left + i * group + pad + j * barW, y: top + plotH - h, width: barW, height: h,
        fill: fillColour, "data-series": name,
      }, root);
      svg("title", {}, bar).textContent = `${label}: ${name} ${values[i]}`;
    });
    const every = Math.ceil(labels.length / 8);
    if ((labels.length - 1 - i) % every === 0) {  // the last group (now) always labelled
      const t = svg("text", { x: left + i * group + group / 2, y: H - bottom + 14, "text-anchor": "middle",
        "font-size": 10, fill: "#667085" }, root);
      t.textContent = label.length > 14 ? label.slice(0, 13) + "…" : label;
      svg("title", {}, t).textContent = label;
    }
  });
  legend(box, series.map(([name, c]) => [name, c]));
}

// The smallest of 1, 2, 5 × 10^n at or above ``n``, so the axis reads in round numbers.
function niceMax(n) {
  const step = Math.pow(10, Math.floor(Math.log10(n)));
  for (const m of [1, 2, 5, 10]) if (m * step >= n) return m * step;
  return 10 * step;
}

function drawCharts(c) {
  const hours = c.signals.map((_, i) => when(c.start + i * c.bucket_s).slice(11, 16));
  bars("chart-time", hours, [["decisions", colour("decisions"), c.decisions],
    ["signals", colour("signals"), c.signals]], "decisions and signals per hour");
  bars("chart-scenarios", c.scenarios.map(s => s.scenario),
    [["signals", colour("signals"), c.scenarios.map(s => s.signals)]], "top scenarios");
  bars("chart-burden", c.burden.map(b => b.member),
    [["contribution", colour("contribution"), c.burden.map(b => b.contribution)],
      ["consumption", colour("consumption"), c.burden.map(b => b.consumption)]],
    "contribution against consumption");
}

// -- activity ------------------------------------------------------------------------------

const kindSelect = document.getElementById("activity-kind");
for (const kind of KINDS) kindSelect.appendChild(text("option", kind));
kindSelect.addEventListener("change", drawActivity);
document.getElementById("activity-text").addEventListener("input", drawActivity);

function drawActivity() {
  const kind = kindSelect.value;
  const words = document.getElementById("activity-text").value.trim().toLowerCase();
  const shown = activity.filter(e => (!kind || e.kind === kind) &&
    (!words || (e.summary + " " + e.kind).toLowerCase().includes(words))).slice().reverse();
  fill("activity", shown, [
    e => [when(e.at), "time"],
    e => [e.kind, e.kind === "revocation" || e.kind === "dispute" ? "bad" : ""],
    e => [e.decision_id ? withLink(e.summary, () => showDecision(e.decision_id)) : e.summary, "long"],
  ]);
}

function withLink(summary, onClick) {
  const span = document.createElement("span");
  span.appendChild(link("open", onClick));
  span.appendChild(document.createTextNode(" " + summary));
  return span;
}

// -- detail views ----------------------------------------------------------------------------

function openDetail(title) {
  document.getElementById("detail-title").textContent = title;
  const body = document.getElementById("detail-body");
  body.replaceChildren();
  document.getElementById("detail").className = "wide open";
  document.getElementById("detail").scrollIntoView({ block: "start" });
  return body;
}

document.getElementById("detail-close").addEventListener("click", () => {
  document.getElementById("detail").className = "wide";
});

function facts(parent, pairs) {
  const dl = document.createElement("dl");
  for (const [k, v] of pairs) {
    dl.appendChild(text("dt", k));
    const dd = document.createElement("dd");
    if (v instanceof Node) dd.appendChild(v); else dd.textContent = v === null || v === undefined ? "" : String(v);
    dl.appendChild(dd);
  }
  parent.appendChild(dl);
}

function table(parent, id, header) {
  const t = document.createElement("table");
  t.id = id;
  const row = t.createTHead().insertRow();
  for (const h of header) row.appendChild(text("th", h));
  t.createTBody();
  parent.appendChild(t);
}

async function showDecision(id) {
  const d = await get("/v1/decisions/" + id + "/detail");
  const body = openDetail("Decision " + d.id);
  const rev = d.revocation;
  facts(body, [
    ["target", d.target], ["action", d.action + (d.recommended ? " (recommended)" : "")],
    ["state", d.state], ["scenario", d.scenario], ["clause", d.clause], ["treaty", d.treaty],
    ["ladder step", `${d.ladder.step} of ${d.ladder.steps} (offence ${d.offence})`],
    ["issued", when(d.issued_at)], ["expires", when(d.expires_at)],
    ["remaining", d.state === "in force" ? duration(d.remaining_s) : "–"],
    ["reported by", memberLinks(d.members)],
    ["applies to", d.applies_to.length ? d.applies_to.join(", ") : "every member"],
    ["revocation", rev ? `${when(rev.at)} by ${rev.by} (${rev.clause}): ${rev.reason}` : "none"],
    ["appeal", rev ? (d.appeal ? "upheld: its reporters lost reputation" : "no") : "–"],
  ]);
  body.appendChild(text("h3", "Reports that caused it"));
  table(body, "detail-reports", ["time", "member", "scenario", "events"]);
  fill("detail-reports", d.reports, [r => [when(r.at), "time"], r => [r.member], r => [r.scenario], r => [r.events, "num"]]);
  if (role === "admin" && d.state === "in force") {
    const form = document.createElement("form");
    form.id = "revoke-form";
    const reason = document.createElement("input");
    reason.type = "text"; reason.placeholder = "reason"; reason.size = 40; reason.required = true;
    const appeal = document.createElement("input");
    appeal.type = "checkbox"; appeal.id = "revoke-appeal";
    const label = text("label", " upheld appeal (its reporters lose reputation)");
    label.prepend(appeal);
    const button = text("button", "revoke", "danger");
    button.type = "submit";
    form.append(reason, label, button);
    form.addEventListener("submit", async event => {
      event.preventDefault();
      const response = await fetch("/v1/decisions/" + d.id + "/revoke", {
        method: "POST", headers: { ...headers(), "Content-Type": "application/json" },
        body: JSON.stringify({ reason: reason.value, appeal: appeal.checked }),
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) { alert((answer.error && answer.error.message) || "refused"); return; }
      await refresh();
      showDecision(d.id);
    });
    body.appendChild(form);
  }
}

async function showMember(name) {
  const d = await get("/v1/members/" + encodeURIComponent(name) + "/detail");
  const m = d.member, l = d.ledger || {};
  const body = openDetail("Member " + m.name);
  facts(body, [
    ["status", m.status], ["standing", m.standing],
    ["reputation", typeof m.reputation === "number" ? m.reputation.toFixed(2) : ""],
    ["probation", m.probation ? "yes" : "no"],
    ["addresses", (m.addresses || []).join(", ")],
    ["contribution", l.contribution], ["consumption", l.consumption],
    ["share", l.share === null || l.share === undefined ? "–" : l.share.toFixed(3)],
    ["public key", m.public_key || ""],
  ]);
  body.appendChild(text("h3", "Local policy"));
  body.appendChild(text("pre", m.policy ? JSON.stringify(m.policy, null, 2) : "none reported"));
  body.appendChild(text("h3", "Contribution over time (decisions it helped cause, cumulative)"));
  const chart = document.createElement("div");
  chart.id = "member-chart";
  body.appendChild(chart);
  const decided = d.decisions.slice().reverse();
  bars("member-chart", decided.map(x => when(x.issued_at).slice(5, 16)),
    [["contribution", colour("contribution"), decided.map((_, i) => i + 1)]], "contribution over time");
  body.appendChild(text("h3", "Its reports"));
  table(body, "detail-reports", ["time", "target", "scenario", "events"]);
  fill("detail-reports", d.reports.slice(0, 100), [r => [when(r.at), "time"], r => [r.target], r => [r.scenario], r => [r.events, "num"]]);
}

// -- look-up ---------------------------------------------------------------------------------

document.getElementById("lookup-form").addEventListener("submit", async event => {
  event.preventDefault();
  const answer = document.getElementById("lookup-answer");
  const target = document.getElementById("lookup-target").value.trim();
  if (!target) return;
  try {
    const r = await get("/v1/lookup?target=" + encodeURIComponent(target));
    answer.replaceChildren();
    const verdict = text("b", r.blocked ? "blocked" : "not blocked", r.blocked ? "bad" : "ok");
    answer.append(r.target + " is ", verdict);
    if (r.blocked) {
      answer.append(` by decision ${r.by.join(", ")} since ${when(r.since)} until ${when(r.until)} UTC`);
    }
    answer.append(` · ${plural(r.decisions.length, "decision")} in its history, ${plural(r.reports.length, "report")}`);
    fill("lookup-history", r.decisions.slice().reverse(), [
      x => [link(String(x.id), () => showDecision(x.id))], x => [x.target], x => [x.action],
      x => [x.state, x.state === "in force" ? "bad" : ""], x => [when(x.issued_at), "time"],
      x => [when(x.expires_at), "time"],
      x => [x.revocation ? `${when(x.revocation.at)} by ${x.revocation.by}: ${x.revocation.reason}` : "", "long"],
    ]);
  } catch (error) {
    answer.replaceChildren(text("span", error.message, "bad"));
  }
});

// -- the live picture ----------------------------------------------------------------------------

let refreshing = false;

async function refresh() {
  if (refreshing) return;
  refreshing = true;
  try {
    const [health, who] = await Promise.all([get("/healthz"), get("/v1/viewer")]);
    role = who.role;
    document.getElementById("role").textContent = "reading as " + who.who;
    const [decisions, consultations, members, ledger, disputes, recent, charts] = await Promise.all([
      get("/v1/decisions"), get("/v1/consultations"), get("/v1/members"), get("/v1/ledger"),
      get("/v1/disputes"), get("/v1/activity?limit=500"), get("/v1/charts"),
    ]);
    document.getElementById("treaty").textContent = "treaty " + health.treaty + " · " + health.treaty_digest.slice(0, 12);
    const status = document.getElementById("status");
    status.textContent = (streaming ? "live" : "polling") + " · event " + health.last_event_id;
    status.className = "";
    document.getElementById("n-members").textContent = members.members.length;
    document.getElementById("n-decisions").textContent = decisions.decisions.length;
    document.getElementById("n-consultations").textContent = consultations.consultations.length;
    document.getElementById("n-disputes").textContent = disputes.disputes.length;
    document.getElementById("n-activity").textContent =
      recent.activity.filter(e => e.at > recent.now - 86400).length;
    const now = decisions.now;
    fill("decisions", decisions.decisions.slice(0, 200), [
      d => [link(String(d.id), () => showDecision(d.id))], d => [d.target],
      d => [d.action + (d.recommended ? " (recommended)" : ""), "bad"],
      d => [d.scenario], d => [d.clause], d => [d.treaty], d => [memberLinks(d.members), "long"],
      d => [when(d.issued_at), "time"], d => [duration(d.remaining_s), "time"],
    ]);
    fill("consultations", consultations.consultations.slice(0, 200), [
      c => [c.id], c => [c.target], c => [c.scenario], c => [memberLinks(c.members)],
      c => [duration(c.closes_at - now), "time"],
    ]);
    fill("members", members.members, [
      m => [link(m.name, () => showMember(m.name))], m => [m.status, m.status === "active" ? "ok" : "bad"],
      m => [typeof m.reputation === "number" ? m.reputation.toFixed(2) : "", "num"], m => [m.standing],
      m => [(m.addresses || []).join(", "), "long"],
    ]);
    fill("ledger", ledger.ledger, [
      l => [link(l.member, () => showMember(l.member))], l => [l.contribution, "num"],
      l => [l.consumption, "num"], l => [l.standing],
    ]);
    fill("disputes", disputes.disputes.slice(0, 50), [
      d => [when(d.at), "time"], d => [d.member], d => [d.target, "long"], d => [d.protected, "long"],
      d => [d.reason, "long"],
    ]);
    activity = recent.activity;
    drawActivity();
    drawCharts(charts);
  } catch (error) {
    if (error instanceof Refused) { askForToken(error.message); return; }
    const status = document.getElementById("status");
    status.textContent = "hub unreachable: " + error.message;
    status.className = "down";
  } finally {
    refreshing = false;
  }
}

// Follows the decision stream (fetch, so the token travels in a header); every event
// redraws the picture. Falls back to polling while the stream is down.
async function follow() {
  if (streaming || !token) return;
  streaming = true;
  try {
    const response = await fetch("/v1/stream", { headers: headers(), cache: "no-store" });
    if (!response.ok || !response.body) throw new Error("stream: HTTP " + response.status);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let pending = "", timer = null;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += decoder.decode(value, { stream: true });
      const blocks = pending.split("\n\n");
      pending = blocks.pop();
      if (blocks.some(b => /^id: /m.test(b)) && timer === null) {
        // At most one redraw a second, however fast events come (an attack storm).
        timer = setTimeout(() => { timer = null; refresh(); }, 1000);
      }
    }
  } catch (error) {
    // polling below keeps the page current
  } finally {
    streaming = false;
    setTimeout(follow, 3000);
  }
}

refresh();
follow();
setInterval(() => { if (!streaming) refresh(); }, 5000);
