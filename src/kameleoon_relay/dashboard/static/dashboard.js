"use strict";
// The dashboard's little JavaScript: refreshing the overview, replay progress,
// live checks of mapping edits, the event tester. No framework, no build step.

const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

async function api(path, body) {
  const options = body === undefined ? {cache: "no-store"} : {
    method: "POST", cache: "no-store",
    // X-Requested-With: what the relay's Origin check takes when a browser sends no Origin.
    headers: {"content-type": "application/json", "x-csrf-token": csrf(),
              "x-requested-with": "kameleoon-relay-dashboard"},
    body: JSON.stringify(body),
  };
  const response = await fetch("/dashboard/api/" + path, options);
  let data = {};
  try { data = await response.json(); } catch (e) { /* not JSON */ }
  return {status: response.status, ok: response.ok, data};
}

function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

// -- overview ---------------------------------------------------------------------------

const COLUMNS = ["received", "filtered", "delivered", "retrying", "failed", "dead", "waiting"];

// A count links to the deliveries it counts (waiting: the pending ones).
const CELL_STATES = {filtered: "filtered", delivered: "delivered", retrying: "retrying", failed: "failed",
  dead: "dead", waiting: "pending", received: ""};

function countCell(window, dest, action, column, value) {
  const td = el("td", null, "num");
  td.dataset.cell = `${window}/${dest}/${action || "*"}/${column}`;
  const query = new URLSearchParams({destination: dest, since: window === "hour" ? "1h" : "1d"});
  if (action) query.set("action", action);
  if (CELL_STATES[column]) query.set("state", CELL_STATES[column]);
  const link = el("a", value);
  link.href = "/deliveries?" + query.toString();
  td.append(link);
  return td;
}

function showReasons(reasons) {
  const tbody = document.querySelector("#reasons tbody");
  if (!reasons.length) { tbody.replaceChildren(el("tr")); tbody.firstChild.append(el("td", "No failure in the last hour.", "muted")); return; }
  tbody.replaceChildren(...reasons.map(r => {
    const tr = el("tr");
    const count = el("td", null, "num"), link = el("a", r.n);
    link.href = "/deliveries?" + new URLSearchParams({destination: r.destination, since: "1h"}).toString();
    count.append(link);
    tr.append(el("td", r.destination), el("td", r.reason, "reason"), count);
    return tr;
  }));
}

function activityRows(window, data) {
  const rows = [];
  for (const [dest, entry] of Object.entries(data)) {
    const tr = el("tr", null, "destination");
    tr.appendChild(el("td", dest));
    for (const c of COLUMNS) tr.appendChild(countCell(window, dest, null, c, entry.total[c]));
    rows.push(tr);
    for (const [action, counts] of Object.entries(entry.actions)) {
      const sub = el("tr", null, "action");
      sub.appendChild(el("td", action));
      for (const c of COLUMNS) sub.appendChild(countCell(window, dest, action, c, counts[c]));
      rows.push(sub);
    }
  }
  return rows;
}

function ms(seconds) { return seconds === null || seconds === undefined ? "—" : Math.round(seconds * 1000) + " ms"; }
function age(seconds) {
  if (!seconds) return "—";
  return seconds < 120 ? Math.round(seconds) + " s" : Math.round(seconds / 60) + " min";
}


async function refreshOverview() {
  const {ok, data} = await api("overview");
  const updated = document.getElementById("updated");
  if (!ok) { updated.textContent = "Refresh failed (" + (data.error || "error") + ")."; return; }
  for (const window of ["hour", "day"]) {
    document.querySelector(`#activity-${window} tbody`).replaceChildren(...activityRows(window, data.windows[window]));
  }
  const names = new Set([...Object.keys(data.windows.hour), ...Object.keys(data.latency), ...Object.keys(data.queue)]);
  document.querySelector("#latency tbody").replaceChildren(...[...names].map(name => {
    const tr = el("tr"), lat = data.latency[name] || {}, queue = data.queue[name] || {};
    tr.append(el("td", name), el("td", ms(lat.p50), "num"), el("td", ms(lat.p95), "num"),
      el("td", queue.depth || 0, "num"), el("td", age(queue.oldest_age), "num"));
    tr.children[1].dataset.cell = `latency/${name}/p50`;
    tr.children[3].dataset.cell = `queue/${name}/depth`;
    return tr;
  }));
  document.getElementById("chart").replaceChildren(timeChart(data.throughput, [["received"], ["delivered", "failed"]]));
  showReasons(data.reasons || []);
  showDelivery(data.delivery || {});
  updated.textContent = "Updated " + new Date().toLocaleTimeString() + ".";
}

function showDelivery(delivery) {
  const now = Date.now() / 1000;
  document.querySelector("#delivery tbody").replaceChildren(...Object.entries(delivery).map(([name, d]) => {
    const tr = el("tr");
    const paused = d.paused_until > now ? new Date(d.paused_until * 1000).toLocaleTimeString() : "—";
    tr.append(el("td", name), el("td", Math.round(d.limit), "num"), el("td", Math.round(d.in_flight || 0), "num"),
      el("td", d.rtt_seconds ? ms(d.rtt_seconds) : "—", "num"), el("td", d.rtt_ewma_seconds ? ms(d.rtt_ewma_seconds) : "—", "num"),
      el("td", d.rate_per_second ? Math.round(d.rate_per_second) + "/s" : "—", "num"), el("td", paused, "num"));
    tr.children[1].dataset.cell = `delivery/${name}/limit`;
    return tr;
  }));
  document.getElementById("delivery-charts").replaceChildren(...Object.entries(delivery).map(([name, d]) => {
    const box = el("div", null, "delivery-chart");
    box.append(el("h3", name), lineChart(d.history || [], [["limit", "limit"], ["delivered_per_s", "delivered"]]));
    return box;
  }));
}

// Lines over time, each scaled to its own peak (the limit and a rate differ in units).
function lineChart(series, lines, height = 90) {
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  const width = 600;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  if (series.length < 2) return svg;
  const t0 = series[0].at, span = Math.max(1, series[series.length - 1].at - t0);
  for (const [key, kind] of lines) {
    const peak = Math.max(1, ...series.map(p => p[key] || 0));
    const points = series.map(p => `${((p.at - t0) / span * width).toFixed(1)},${(height - 2 - (p[key] || 0) / peak * (height - 6)).toFixed(1)}`);
    const line = document.createElementNS(NS, "polyline");
    line.setAttribute("points", points.join(" "));
    line.setAttribute("class", "line " + kind);
    const title = document.createElementNS(NS, "title");
    title.textContent = `${kind}: up to ${Math.round(peak)}`;
    line.appendChild(title);
    svg.appendChild(line);
  }
  return svg;
}

// -- charts ------------------------------------------------------------------------------

function niceTop(value) {
  if (value <= 5) return 5;
  const step = Math.pow(10, Math.floor(Math.log10(value)));
  return [1, 2, 5, 10].map(m => m * step).find(m => m >= value);
}

// Per-minute bars stacked by kind, with a count axis and local time labels. A bar that is
// not zero is at least 2 px tall: after a burst, the quieter minutes stay visible.
function timeChart(series, kinds, height = 170) {
  const NS = "http://www.w3.org/2000/svg";
  const make = (tag, attrs, text) => {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const width = 640, left = 40, bottom = 18, top = 6, plot = height - bottom - top;
  const svg = make("svg", {viewBox: `0 0 ${width} ${height}`, role: "img"});
  const groups = Array.isArray(kinds[0]) ? kinds : [kinds];  // side by side; kinds stacked within
  const n = Math.max(series.length, 1), bw = (width - left) / n, gw = bw / groups.length;
  const peak = niceTop(Math.max(1, ...series.flatMap(b => groups.map(g => g.reduce((t, k) => t + (b[k] || 0), 0)))));
  const y = v => top + plot - v / peak * plot;
  const axis = make("g", {class: "axis"});
  for (const tick of [0, peak / 2, peak]) {
    axis.append(make("line", {x1: left, x2: width, y1: y(tick), y2: y(tick)}));
    axis.append(make("text", {x: left - 4, y: y(tick) + 3, "text-anchor": "end"}, String(tick)));
  }
  series.forEach((b, i) => {
    if (Math.round(b.at) % 600 !== 0) return;  // a label every 10 minutes
    const label = new Date(b.at * 1000).toLocaleTimeString([], {hour: "numeric", minute: "2-digit"});
    axis.append(make("text", {x: left + i * bw, y: height - 4, "text-anchor": "middle", class: "time-label"}, label));
  });
  svg.append(axis);
  series.forEach((b, i) => groups.forEach((group, g) => {
    let bottomY = y(0);
    for (const kind of group) {
      const value = b[kind] || 0;
      if (!value) continue;
      const h = Math.max(2, value / peak * plot);
      const rect = make("rect", {x: left + i * bw + g * gw + 0.25, width: Math.max(gw - 0.5, 0.5),
        y: bottomY - h, height: h, class: "bar " + kind, "data-at": b.at, "data-kind": kind});
      rect.append(make("title", {}, `${new Date(b.at * 1000).toLocaleTimeString()}: ${value} ${kind}`));
      svg.append(rect);
      bottomY -= h;
    }
  }));
  return svg;
}

// -- sources ----------------------------------------------------------------------------

const TESTER_HANDOFF = "kameleoon-relay:tester-event";

function setupSources() {
  const cursor = {after: 0, refused_after: 0, log_after: 0};
  const tbody = document.querySelector("#stream tbody");
  const mode = document.getElementById("stream-mode");
  const detail = document.getElementById("event-detail");
  let live = true, chosen = null;

  const row = e => {
    const tr = el("tr", null, e.kind);
    tr.dataset.kind = e.kind;
    tr.dataset.messageId = e.message_id || "";
    const when = el("time", new Date(e.received_at * 1000).toLocaleTimeString());
    when.title = new Date(e.received_at * 1000).toISOString() + " (UTC)";
    const cells = [["Received", when], ["Source", e.source], ["Outcome", e.kind], ["Type", e.type || ""],
      ["Name", e.name || ""], ["messageId", e.message_id || ""], ["userId", e.user_id || ""],
      ["Why refused", (e.problems || []).join("; ")]];
    for (const [label, value] of cells) {
      const td = el("td", typeof value === "string" ? value : null);
      if (typeof value !== "string") td.append(value);
      td.dataset.label = label;
      tr.append(td);
    }
    tr.children[7].className = "reason";
    tr.addEventListener("click", () => show(e, tr));
    return tr;
  };
  const show = (e, tr) => {
    chosen = e;
    tbody.querySelectorAll("tr.chosen").forEach(r => r.classList.remove("chosen"));
    tr.classList.add("chosen");
    detail.hidden = false;
    document.getElementById("event-detail-label").textContent = `${e.kind} · ${e.source} · ${e.message_id || ""}`;
    document.getElementById("event-detail-problems").textContent = (e.problems || []).join("; ");
    document.getElementById("event-detail-json").textContent = JSON.stringify(e.event, null, 2);
  };
  const fill = (events, prepend) => {
    tbody.querySelector("tr.empty")?.remove();
    const rows = events.map(row);
    if (prepend) tbody.prepend(...rows); else tbody.replaceChildren(...rows);
    while (tbody.children.length > 200) tbody.lastElementChild.remove();
    if (!tbody.children.length) tbody.append(el("tr", null, "empty")).append(el("td", "No event matches.", "muted"));
  };
  const filterSource = () => document.getElementById("stream-source").value;

  const refresh = async () => {
    const {ok, data} = await api(`sources?after=${cursor.after}&refused_after=${cursor.refused_after}&log_after=${cursor.log_after}`);
    const updated = document.getElementById("sources-updated");
    if (!ok) { updated.textContent = "Refresh failed (" + (data.error || "error") + ")."; return; }
    for (const [name, entry] of Object.entries(data.volume)) {
      const card = document.querySelector(`.source-card[data-source="${CSS.escape(name)}"]`);
      if (!card) continue;
      for (const kind of ["accepted", "refused", "duplicates"]) card.querySelector(`[data-cell="${CSS.escape(name)}/${kind}"]`).textContent = entry.hour[kind];
      card.querySelector(".chart").replaceChildren(timeChart(entry.series, ["accepted", "refused", "duplicates"], 150));
    }
    Object.assign(cursor, data.cursor);
    const source = filterSource();
    const fresh = data.events.filter(e => !source || e.source === source);
    if (live && fresh.length) fill(fresh, true);
    updated.textContent = "Updated " + new Date().toLocaleTimeString() + ".";
  };

  document.getElementById("stream-search").addEventListener("submit", async event => {
    event.preventDefault();
    const q = document.getElementById("stream-q").value.trim();
    if (!q) return;
    const source = filterSource();
    const {ok, data} = await api(`sources/search?q=${encodeURIComponent(q)}` + (source ? `&source=${encodeURIComponent(source)}` : ""));
    if (!ok) { mode.textContent = "Search failed: " + (data.error || "error"); return; }
    live = false;
    fill(data.events, false);
    mode.textContent = `${data.events.length} event(s) whose messageId, userId or name is “${q}” (last 7 days); live paused.`;
  });
  document.getElementById("stream-live").addEventListener("click", () => {
    live = true;
    cursor.after = cursor.refused_after = cursor.log_after = 0;
    tbody.replaceChildren();
    mode.textContent = "Live: newest first.";
    refresh();
  });
  document.getElementById("send-to-tester").addEventListener("click", () => {
    if (!chosen) return;
    sessionStorage.setItem(TESTER_HANDOFF, JSON.stringify({event: chosen.event, source: chosen.source}));
    location.href = "/tester";
  });
  refresh();
  setInterval(() => { if (!document.hidden) refresh(); }, 2000);
}

// -- dead letters -----------------------------------------------------------------------

function dropDeadRow(row) {
  row.remove();
  const total = document.getElementById("dead-total");
  if (total) total.textContent = String(Math.max(0, Number(total.textContent) - 1));
  const all = document.getElementById("select-all");
  if (all) all.checked = false;
}

function setupDead() {
  const button = document.getElementById("replay-selected");
  const picks = () => [...document.querySelectorAll("input.pick")];
  const chosen = () => picks().filter(p => p.checked).map(p => Number(p.value));
  const sync = () => { button.disabled = chosen().length === 0; };
  document.getElementById("select-all").addEventListener("change", e => {
    picks().forEach(p => { p.checked = e.target.checked; }); sync();
  });
  picks().forEach(p => p.addEventListener("change", sync));
  button.addEventListener("click", async () => {
    const ids = chosen(), progress = document.getElementById("replay-progress");
    const status = document.getElementById("replay-status");
    button.disabled = true;
    progress.hidden = false; progress.max = ids.length; progress.value = 0;
    let requeued = 0;
    for (let i = 0; i < ids.length; i += 50) {
      const {ok, data} = await api("replay", {ids: ids.slice(i, i + 50)});
      if (!ok) { status.textContent = "Replay failed: " + (data.error || "error"); return; }
      requeued += data.requeued;
      progress.value = Math.min(ids.length, i + 50);
      status.textContent = `Requeued ${requeued} of ${ids.length}…`;
    }
    // Then follow them until none is waiting any more.
    for (let round = 0; round < 120; round++) {
      const {ok, data} = await api("states?ids=" + ids.join(","));
      if (!ok) break;
      const states = Object.values(data.states);
      const done = states.filter(s => s === "delivered").length;
      const waiting = states.filter(s => ["pending", "retrying", "in_flight"].includes(s)).length;
      progress.value = done;
      for (const [id, state] of Object.entries(data.states)) {
        const row = document.querySelector(`tr[data-id="${id}"]`);
        if (row) row.dataset.state = state || "gone";
        // No longer a dead letter once it ended otherwise: off the list, as a reload would.
        if (row && state !== "dead" && !["pending", "retrying", "in_flight"].includes(state)) dropDeadRow(row);
      }
      status.textContent = `Requeued ${requeued} of ${ids.length}; delivered ${done} of ${ids.length}` +
        (waiting ? ` (${waiting} waiting)` : "") + ".";
      if (!waiting) break;
      await new Promise(r => setTimeout(r, 500));
    }
    sync();
  });
}

// -- deliveries list ---------------------------------------------------------------------

// Times are shown in UTC, labelled; local time is offered on hover.
function localTitles(root) {
  root.querySelectorAll("time[datetime]").forEach(t => {
    t.title = "local: " + new Date(t.getAttribute("datetime")).toLocaleString();
  });
}

function setupDeliveries() {
  localTitles(document);
  const tbody = document.querySelector("#deliveries tbody");
  const auto = document.getElementById("auto-refresh");
  setInterval(async () => {
    if (!auto.checked || document.hidden) return;
    const response = await fetch(location.href, {cache: "no-store"});
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    const rows = fresh.querySelector("#deliveries tbody");
    if (rows) { tbody.replaceChildren(...rows.children); localTitles(tbody); }
  }, 5000);

  const bar = document.getElementById("replay-matching");
  const filters = JSON.parse(bar.dataset.filters);
  const count = document.getElementById("replay-count"), confirm = document.getElementById("replay-confirm");
  const status = document.getElementById("replay-matching-status");
  count.addEventListener("click", async () => {
    status.textContent = "Counting…";
    confirm.hidden = true;
    const {ok, data} = await api("replay-matching", {filters, dry_run: true});
    if (!ok) { status.textContent = "Cannot replay: " + (data.error || "error"); return; }
    if (!data.matched) { status.textContent = "Dry run: no finished delivery matches these filters."; return; }
    status.textContent = `Dry run: ${data.matched} finished deliveries match (${data.state}); replaying plans them again with the configuration in force.`;
    confirm.textContent = `Replay ${data.matched}`;
    confirm.hidden = false;
  });
  confirm.addEventListener("click", async () => {
    confirm.hidden = true;
    status.textContent = "Replaying…";
    const {ok, data} = await api("replay-matching", {filters, dry_run: false});
    status.textContent = ok ? `Requeued ${data.requeued} of ${data.matched}.` : "Replay failed: " + (data.error || "error");
  });
}

// -- mappings ---------------------------------------------------------------------------

function readEdit(form) {
  const text = form.elements.mapping.value.trim();
  let mapping = null;
  if (text) mapping = JSON.parse(text);  // SyntaxError: reported by the caller
  return {
    name: form.elements.name.value, trigger: form.elements.trigger.value,
    action: form.elements.action.value, enabled: form.elements.enabled.checked, mapping,
  };
}

function showProblems(form, problems) {
  form.querySelector(".problems").replaceChildren(...problems.map(p => el("li", p)));
  form.querySelector(".save").disabled = problems.length > 0;
}

function setupMappings() {
  document.querySelectorAll("form.sub-edit").forEach(form => {
    const destination = form.dataset.destination;
    const index = form.dataset.index === "" ? null : Number(form.dataset.index);
    const note = form.querySelector(".check");
    const validate = debounce(async () => {
      let subscription;
      try { subscription = readEdit(form); } catch (e) { showProblems(form, ["mapping: not valid JSON (" + e.message + ")"]); return; }
      const {data} = await api("check", {destination, subscription});
      if (form.dataset.saving) return;  // a late check (the blur's change) must not hide the save's note
      showProblems(form, data.problems || [data.error || "check failed"]);
      const warnings = data.warnings || [];  // accepted, as Segment does, but surely not meant
      note.textContent = data.ok ? "Trigger and mapping compile." + (warnings.length ? " Warning: " + warnings.join(" · ") : "") : "";
    }, 250);
    const defaults = JSON.parse(form.closest("section.destination").dataset.defaultMappings || "{}");
    form.querySelector("button.start-default").addEventListener("click", () => {
      // The chosen action's default mapping, to edit rather than retype.
      form.elements.mapping.value = JSON.stringify(defaults[form.elements.action.value] || {}, null, 2);
      validate();
    });
    form.addEventListener("input", validate);
    form.addEventListener("change", validate);
    form.addEventListener("submit", async event => {
      event.preventDefault();
      let subscription;
      try { subscription = readEdit(form); } catch (e) { showProblems(form, ["mapping: not valid JSON"]); return; }
      form.dataset.saving = "1";
      const {ok, data} = await api("save", {destination, index, subscription});
      if (!ok) {
        delete form.dataset.saving;
        showProblems(form, data.problems || [data.error || "not saved"]);
        note.textContent = "Not saved.";
        return;
      }
      note.textContent = "Saved and reloaded.";
      note.className = "check ok saved";
      setTimeout(() => location.reload(), 600);
    });
  });
  document.querySelectorAll("button.test-auth").forEach(button => {
    button.addEventListener("click", async () => {
      const out = button.parentElement.querySelector(".auth-result");
      out.textContent = "Testing…";
      const {data} = await api("test-auth", {destination: button.dataset.destination});
      out.textContent = (data.message || data.error || "") + (data.status ? ` (HTTP ${data.status})` : "");
      out.className = "auth-result " + (data.ok ? "ok" : "error");
    });
  });
}

// -- event tester -----------------------------------------------------------------------

function pre(value) { return el("pre", typeof value === "string" ? value : JSON.stringify(value, null, 2)); }

function renderTester(result) {
  const root = document.getElementById("tester-result");
  const parts = [];
  for (const dest of result.destinations) {
    const box = el("section", null, "card result-dest");
    box.dataset.destination = dest.name;
    box.appendChild(el("h2", dest.name));
    const table = el("table", null, "matches");
    table.appendChild(el("thead")).appendChild(el("tr")).append(el("th", "Subscription"), el("th", "Action"), el("th", "Matches"));
    const tbody = table.appendChild(el("tbody"));
    for (const sub of dest.subscriptions) {
      const tr = tbody.appendChild(el("tr"));
      tr.append(el("td", sub.name), el("td", sub.action), el("td", sub.matched === true ? "yes" : sub.matched === false ? "no" : sub.matched));
      tr.dataset.matched = String(sub.matched === true);
    }
    box.appendChild(table);
    for (const d of dest.deliveries) {
      const item = el("div", null, "delivery");
      if (d.subscription) item.appendChild(el("h3", d.subscription + (d.action ? " → " + d.action : "")));
      if (d.filtered) item.appendChild(el("p", `Filtered by ${d.filtered.filter}: ${d.filtered.reason}`, "warning filtered"));
      for (const w of d.warnings || []) item.appendChild(el("p", "Warning: " + w, "warning tester-warning"));
      if (d.error) item.appendChild(el("p", `${d.error.type}: ${d.error.message}`, "error validation-error"));
      if (d.request && d.request.lines) {  // the Data API: one event per line
        item.appendChild(el("h4", "Lines"));
        item.appendChild(pre(d.request.lines.join("\n"))).className = "payload lines";
        item.appendChild(el("h4", "Request (token added when sent)"));
        item.appendChild(pre(d.request)).className = "request";
      } else if (d.request) {
        item.appendChild(el("h4", "Mapped payload"));
        item.appendChild(pre(d.request.json)).className = "payload";
        item.appendChild(el("h4", "Request (API key masked)"));
        item.appendChild(pre(d.request)).className = "request";
      }
      if (d.response) {
        item.appendChild(el("h4", "Response"));
        item.appendChild(pre(d.response.error ? d.response.error : `HTTP ${d.response.status}\n${d.response.body}`)).className = "response";
      }
      box.appendChild(item);
    }
    if (!dest.deliveries.length) box.appendChild(el("p", "No subscription matched: nothing would be sent.", "muted"));
    parts.push(box);
  }
  root.replaceChildren(...parts);
}

function setupTester() {
  const recent = JSON.parse(document.getElementById("recent-events").textContent);
  const textarea = document.getElementById("event");
  document.getElementById("recent").addEventListener("change", e => {
    if (e.target.value === "") return;
    const chosen = recent[Number(e.target.value)];
    textarea.value = JSON.stringify(chosen.event, null, 2);
    if (chosen.source) document.getElementById("source").value = chosen.source;
  });
  const handed = sessionStorage.getItem(TESTER_HANDOFF);  // "Send to the tester" on /sources
  if (handed) {
    sessionStorage.removeItem(TESTER_HANDOFF);
    const {event, source} = JSON.parse(handed);
    textarea.value = JSON.stringify(event, null, 2);
    if (source) document.getElementById("source").value = source;
  }
  const problems = document.getElementById("tester-problems");
  const run = async send => {
    problems.replaceChildren();
    let event;
    try { event = JSON.parse(textarea.value); } catch (e) { problems.append(el("li", "not valid JSON: " + e.message)); return; }
    const source = document.getElementById("source").value;
    const {ok, data} = await api("tester", {event, source: source || null, send});
    if (!ok) { problems.replaceChildren(...[data.error, ...(data.problems || [])].filter(Boolean).map(p => el("li", p))); return; }
    renderTester(data);
  };
  document.getElementById("tester").addEventListener("submit", e => { e.preventDefault(); run(false); });
  document.getElementById("run-send").addEventListener("click", () => run(true));
}

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (page === "overview") { refreshOverview(); setInterval(refreshOverview, 2000); }
  if (page === "dead") setupDead();
  if (page === "deliveries") setupDeliveries();
  if (page === "sources") setupSources();
  if (page === "mappings") setupMappings();
  if (page === "tester") setupTester();
});
