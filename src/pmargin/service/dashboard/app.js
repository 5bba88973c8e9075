// The pmargin dashboard: views over the service's REST API and WebSocket stream.
// No maths here: every number shown comes from the API (cells keep it in data-value);
// the page only formats, sorts, filters and draws (Plotly, served by the service itself).

const KEY = "pmargin-key";
const state = {
  me: null, venue: null, sortKey: "mm_utilization", sortDesc: true, account: null,
  model: null, models: null, holdings: null, liquidation: null, socket: null, lastSeq: 0,
  dates: [], pending: 0, page: { offset: 0, limit: 100 }, counts: {},
  // Figures the stream delivered per account ({seq, figures}) and status changes ({seq, old,
  // new}) not yet in a venue read: a read of an older state (its seq) never undoes them.
  live: new Map(), changes: [], filterTimer: null, fundTimer: null,
};
const $ = (id) => document.getElementById(id);
const plot = window.Plotly;

// ---------------------------------------------------------------------------- API

function key() { return sessionStorage.getItem(KEY); }

// The count of requests in flight, on <body data-pending> (0: the page is idle).
function busy(delta) {
  state.pending += delta;
  document.body.dataset.pending = String(state.pending);
}

async function api(path, options = {}) {
  busy(1);
  try { return await request(path, options); } finally { busy(-1); }
}

async function request(path, options) {
  const headers = { Authorization: `Bearer ${key()}` };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method: options.method || "GET",
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = text; }
  if (!response.ok) {
    const reason = body && body.reason ? body.reason : `${response.status}`;
    const error = new Error(`${path}: ${reason}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

function showError(error) {
  const box = $("error");
  if (!error) { box.hidden = true; box.textContent = ""; return; }
  box.hidden = false;
  box.textContent = error.message || String(error);
}

async function guarded(action) {
  try { showError(null); await action(); } catch (error) { showError(error); }
}

// ---------------------------------------------------------------------------- formatting

const usd = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const small = new Intl.NumberFormat("en-US", { maximumSignificantDigits: 6 });

function fmt(x, kind = "usd") {
  if (x === null || x === undefined) return "-";
  if (typeof x !== "number") return String(x);
  if (kind === "pct") return `${(100 * x).toFixed(1)}%`;
  if (kind === "num") return small.format(x);
  return usd.format(x);
}

function cell(tr, value, kind = "usd", cls = "") {
  const td = document.createElement("td");
  td.textContent = fmt(value, kind);
  if (typeof value === "number") { td.dataset.value = String(value); td.className = "num"; }
  if (cls) td.classList.add(cls);
  tr.appendChild(td);
  return td;
}

function textCell(tr, text) {
  const td = document.createElement("td");
  td.textContent = text;
  tr.appendChild(td);
  return td;
}

function statusCell(tr, status) {
  const td = document.createElement("td");
  td.textContent = status;
  td.className = `status ${status}`;
  td.dataset.status = status;
  tr.appendChild(td);
  return td;
}

// ---------------------------------------------------------------------------- views

function show(view) {
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== view;
  for (const b of document.querySelectorAll("#tabs button")) {
    b.classList.toggle("active", b.dataset.view === view);
  }
  location.hash = view === "account" && state.account ? `account/${state.account}` : view;
  if (view === "venue") guarded(loadVenue);
  if (view === "account") guarded(loadAccount);
  if (view === "whatif") fillWhatif();
  if (view === "stress" && state.me.role === "admin") guarded(loadReports);
}

// ---------------------------------------------------------------------------- venue

const STATUSES = ["healthy", "reduce_only", "liquidation", "bankrupt"];

// One page of the venue, paged, sorted and filtered by the server (GET /v1/dashboard/venue).
async function loadVenue() {
  const query = new URLSearchParams({
    offset: state.page.offset, limit: state.page.limit, sort: state.sortKey,
    desc: state.sortDesc, filter: $("venue-filter").value.trim(), status: $("venue-status").value,
  });
  const venue = await api(`/v1/dashboard/venue?${query}`);
  // What the stream delivered after the state this read saw (its seq) stays on the page.
  for (const [id, live] of state.live) if (live.seq <= venue.seq) state.live.delete(id);
  state.changes = state.changes.filter((c) => c.seq > venue.seq);
  for (const row of venue.accounts) {
    const live = state.live.get(row.id);
    if (live) Object.assign(row, live.figures, { stale: true });
  }
  state.counts = { ...venue.counts };
  for (const c of state.changes) count(c.old, c.new);
  state.venue = venue;
  if (!state.lastSeq) state.lastSeq = Math.max(0, venue.seq - 50);
  renderVenue();
  fillAccounts(venue.accounts.map((a) => a.id));
  connect();
  guarded(loadFund);
}

async function loadFund() {
  const fund = await api("/v1/insurance-fund").catch(() => null);
  if (!fund) return;
  const balances = Object.entries(fund.balances || {})
    .map(([a, x]) => `${fmt(Number(x), "num")} ${a}`).join(", ");
  $("fund").textContent = `${balances || "empty"}; value ${fmt(fund.value_usd)} USD`;
  $("fund").dataset.value = fund.value_usd;
}

function count(old, now) {
  if (old) state.counts[old] = (state.counts[old] || 0) - 1;
  if (now) state.counts[now] = (state.counts[now] || 0) + 1;
}

function renderCounts() {
  const counts = $("counts");
  counts.replaceChildren();
  for (const status of STATUSES) {
    const card = document.createElement("div");
    card.className = `card status ${status}`;
    card.dataset.status = status;
    card.innerHTML = `<b data-value="${state.counts[status] || 0}">${state.counts[status] || 0}</b><span>${status}</span>`;
    counts.appendChild(card);
  }
}

function renderVenue() {
  const venue = state.venue;
  renderCounts();
  const select = $("venue-status");
  if (select.options.length === 1) {
    for (const s of STATUSES) select.add(new Option(s, s));
  }
  $("venue-meta").textContent = `${venue.total} accounts, ${venue.model}, market ${
    venue.timestamp || "-"}`;
  const first = venue.accounts.length ? venue.offset + 1 : 0;
  $("venue-range").textContent = `${first}-${venue.offset + venue.accounts.length} of ${venue.matched}`;
  $("venue-prev").disabled = venue.offset === 0;
  $("venue-next").disabled = venue.offset + venue.accounts.length >= venue.matched;
  const body = $("venue-table").tBodies[0];
  body.replaceChildren();
  for (const a of venue.accounts) {
    const tr = document.createElement("tr");
    tr.dataset.account = a.id;
    const link = document.createElement("td");
    const anchor = document.createElement("a");
    anchor.href = `#account/${encodeURIComponent(a.id)}`;
    anchor.textContent = a.id;
    link.appendChild(anchor);
    tr.appendChild(link);
    cell(tr, a.equity); cell(tr, a.initial_margin); cell(tr, a.maintenance_margin);
    cell(tr, a.mm_utilization, "pct", "util"); cell(tr, a.im_utilization, "pct", "util");
    statusCell(tr, a.status); cell(tr, a.distance, "pct", "distance");
    if (a.stale) markStale(tr);
    body.appendChild(tr);
  }
  for (const th of $("venue-table").tHead.rows[0].cells) {
    th.classList.toggle("sorted", th.dataset.key === state.sortKey);
    th.classList.toggle("desc", th.dataset.key === state.sortKey && state.sortDesc);
  }
}

// Utilisation and distance are not in the stream's events: grey until the page is read again.
function markStale(tr) {
  for (const td of tr.querySelectorAll("td.util, td.distance")) {
    td.classList.add("stale");
    td.title = "as of the last read: Refresh to update";
  }
}

// A status or margin event's figures: kept (a read of an older state does not undo them) and
// shown at once when the account is on the page.
function updateRow(id, figures, seq) {
  const known = state.live.get(id);
  state.live.set(id, { seq, figures: { ...(known ? known.figures : {}), ...figures } });
  const row = state.venue && state.venue.accounts.find((a) => a.id === id);
  if (!row) return;
  const changed = figures.status !== undefined && figures.status !== row.status;
  Object.assign(row, figures, { stale: true });
  const tr = document.querySelector(`#venue-table tr[data-account="${CSS.escape(id)}"]`);
  if (!tr) return;
  const status = tr.querySelector("td.status");
  status.textContent = row.status;
  status.className = `status ${row.status}${changed ? " flash" : ""}`;
  status.dataset.status = row.status;
  const cells = tr.querySelectorAll("td.num");
  for (const [i, name] of ["equity", "initial_margin", "maintenance_margin"].entries()) {
    cells[i].textContent = fmt(row[name]);
    cells[i].dataset.value = String(row[name]);
  }
  markStale(tr);
}

function scheduleFund() {
  if (state.fundTimer || $("venue").hidden) return;
  state.fundTimer = setTimeout(() => { state.fundTimer = null; guarded(loadFund); }, 1000);
}

function venuePage(offset) {
  state.page.offset = Math.max(0, offset);
  guarded(loadVenue);
}

// ---------------------------------------------------------------------------- stream

function connect() {
  if (state.socket) return;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const url = `${scheme}://${location.host}/v1/ws?after=${state.lastSeq}`;
  const socket = new WebSocket(url, ["bearer", key()]);
  state.socket = socket;
  socket.onopen = () => {
    $("ws-state").textContent = "live"; $("ws-state").className = "badge live";
    $("ws-state").dataset.seq = state.lastSeq;
  };
  socket.onclose = () => {
    $("ws-state").textContent = "offline";
    $("ws-state").className = "badge";
    state.socket = null;
    if (key()) setTimeout(connect, 2000);
  };
  socket.onmessage = (message) => onEvent(JSON.parse(message.data));
}

function describe(event) {
  const d = event.data || {};
  switch (event.kind) {
    case "status": return `${event.account}: ${d.old} -> ${d.new} (equity ${fmt(d.equity)})`;
    case "breaker": return `${d.event} ${d.underlying || ""} ${d.reason || ""}`;
    case "tick": return `tick x${d.ticks}${d.paused && d.paused.length ? ` paused ${d.paused}` : ""}`;
    case "margin": return `margin update: ${Object.keys(d.accounts || {}).length} accounts`;
    case "fill": case "liquidation": case "adl":
      return `${event.account}: ${d.instrument || ""} ${d.quantity || ""} @ ${d.price || ""}`;
    case "penalty": case "fund_draw": case "bad_debt":
      return `${event.account || ""}: ${JSON.stringify(d.deltas || d.balances || {})}`;
    default: return `${event.account || ""} ${event.kind}`;
  }
}

// Each event in seq order: listed, and its figures put on the venue's rows and counts.
function onEvent(event) {
  state.lastSeq = Math.max(state.lastSeq, event.seq);
  $("ws-state").dataset.seq = state.lastSeq;
  const list = $("events");
  const li = document.createElement("li");
  li.className = `event ${event.kind}`;
  li.dataset.seq = event.seq;
  li.textContent = `#${event.seq} ${event.kind} ${describe(event)}`;
  list.prepend(li);
  while (list.children.length > 200) list.lastChild.remove();
  const d = event.data || {};
  const seen = !state.venue || event.seq <= state.venue.seq;  // already in the venue read
  if (event.kind === "status" && event.account && !seen) {
    state.changes.push({ seq: event.seq, old: d.old, new: d.new });
    count(d.old, d.new);
    if (!$("venue").hidden) renderCounts();
    updateRow(event.account, {
      status: d.new, equity: d.equity, initial_margin: d.initial_margin,
      maintenance_margin: d.maintenance_margin,
    }, event.seq);
  }
  if (event.kind === "margin" && d.accounts && !seen) {
    const fields = d.fields || ["equity", "initial_margin", "maintenance_margin", "status"];
    for (const [id, values] of Object.entries(d.accounts)) {
      updateRow(id, Object.fromEntries(fields.map((f, i) => [f, values[i]])), event.seq);
    }
  }
  if (["penalty", "fund_draw", "bad_debt", "adl"].includes(event.kind)) scheduleFund();
  if (state.account && event.account === state.account && !$("account").hidden) {
    clearTimeout(state.accountTimer);
    state.accountTimer = setTimeout(() => guarded(loadAccount), 1500);
  }
}

// ---------------------------------------------------------------------------- account

function fillAccounts(ids) {
  for (const id of ["account-select", "whatif-account"]) {
    const select = $(id);
    const current = select.value;
    select.replaceChildren(...ids.map((a) => new Option(a, a)));
    if (ids.includes(current)) select.value = current;
  }
  if (!state.account && ids.length) state.account = ids[0];
  for (const id of ["account-select", "whatif-account"]) {
    const select = $(id);
    if (state.account && !ids.includes(state.account)) select.add(new Option(state.account, state.account));
  }
  if (state.account) { $("account-select").value = state.account; $("whatif-account").value = state.account; }
}

async function loadAccount() {
  const id = state.account;
  if (!id) return;
  const base = `/v1/dashboard/accounts/${encodeURIComponent(id)}`;
  const model = $("model-select").value || "";
  const query = model ? `?model=${encodeURIComponent(model)}` : "";
  const [models, holdings, liquidation] = await Promise.all([
    api(`${base}/models`),
    api(`${base}/holdings${query}`),
    api(`/v1/accounts/${encodeURIComponent(id)}/liquidation${query}`),
  ]);
  state.models = models; state.holdings = holdings; state.liquidation = liquidation;
  const select = $("model-select");
  if (!select.options.length) {
    for (const row of models.models) select.add(new Option(row.model, row.model));
    select.value = liquidation.model;
  }
  state.model = select.value;
  renderSummary(); renderModels(); renderHoldings(); renderUnits();
  const unders = Object.keys(holdings.delta);
  const pick = $("profile-underlying");
  const was = pick.value;
  pick.replaceChildren(...unders.map((u) => new Option(u, u)));
  if (unders.includes(was)) pick.value = was;
  await loadProfile();
}

function renderSummary() {
  const a = state.liquidation.accounts[0];
  const box = $("account-summary");
  box.replaceChildren();
  const items = [["equity", a.equity], ["IM", a.initial_margin], ["MM", a.maintenance_margin],
    ["available", a.available], ["MM util.", a.mm_utilization, "pct"]];
  for (const [name, value, kind] of items) {
    const card = document.createElement("div");
    card.className = "card";
    card.innerHTML = `<b data-value="${value}">${fmt(value, kind)}</b><span>${name}</span>`;
    box.appendChild(card);
  }
  const card = document.createElement("div");
  card.className = `card status ${a.status}`;
  card.innerHTML = `<b id="account-status">${a.status}</b><span>status (${state.liquidation.model})</span>`;
  box.appendChild(card);
  const liq = a.liquidation;
  const parts = Object.entries(liq.underlyings).filter(([, u]) => u).map(([u, x]) =>
    `${u} ${fmt(x.index)}: down ${fmt(x.move_down, "pct")} (${fmt(x.price_down)}), up ${
      fmt(x.move_up, "pct")} (${fmt(x.price_up)})`);
  $("liquidation").textContent = `Distance to liquidation (equity = MM): ${parts.join("; ") || "-"}`;
}

function renderModels() {
  const body = $("models-table").tBodies[0];
  body.replaceChildren();
  for (const row of state.models.models) {
    const tr = document.createElement("tr");
    tr.dataset.model = row.model;
    textCell(tr, row.model);
    if (!row.account) {
      const td = document.createElement("td");
      td.colSpan = 6; td.className = "muted"; td.textContent = row.error;
      tr.appendChild(td);
    } else {
      const a = row.account;
      cell(tr, a.initial_margin, "usd", "im"); cell(tr, a.maintenance_margin, "usd", "mm");
      cell(tr, a.available); statusCell(tr, a.status);
      textCell(tr, a.risk_units.map((u) => `${u.underlying}: ${u.worst_scenario ?? "-"}`).join("; "));
      const parts = textCell(tr, "");
      parts.className = "components";
      parts.textContent = a.risk_units.map((u) => `${u.underlying} [${u.currency}] ${
        Object.entries(u.components).map(([k, v]) => `${k} ${fmt(v, "num")}`).join(", ")}`).join("; ");
    }
    if (row.model === state.model) tr.classList.add("chosen");
    body.appendChild(tr);
  }
}

function renderHoldings() {
  const body = $("positions-table").tBodies[0];
  body.replaceChildren();
  for (const p of state.holdings.positions) {
    const tr = document.createElement("tr");
    textCell(tr, p.instrument);
    cell(tr, p.quantity, "num"); cell(tr, p.value); cell(tr, p.delta, "num");
    cell(tr, p.gamma, "num"); cell(tr, p.vega); cell(tr, p.theta); cell(tr, p.im_contribution);
    body.appendChild(tr);
  }
  const balances = $("balances-table").tBodies[0];
  balances.replaceChildren();
  for (const b of state.holdings.balances) {
    const tr = document.createElement("tr");
    textCell(tr, b.asset);
    cell(tr, b.amount, "num"); cell(tr, b.usd_price, "num"); cell(tr, b.value); cell(tr, b.delta, "num");
    balances.appendChild(tr);
  }
  $("delta-total").textContent = `Delta with coin balances: ${Object.entries(state.holdings.delta)
    .map(([u, d]) => `${u} ${fmt(d, "num")}`).join(", ")}`;
  const list = $("instruments");
  list.replaceChildren(...state.holdings.positions.map((p) => new Option(p.instrument)));
}

function chosenAccount() {
  const row = state.models.models.find((m) => m.model === state.model);
  return row ? row.account : null;
}

function renderUnits() {
  const account = chosenAccount();
  const select = $("unit-select");
  const units = account ? account.risk_units : [];
  const was = select.value;
  select.replaceChildren(...units.map((u, i) => new Option(`${u.underlying} (${u.currency})`, i)));
  if (was && Number(was) < units.length) select.value = was;
  renderRiskMatrix();
}

const GRID = /^(\S+) ([+-]\d+(?:\.\d+)?)% vol (\w+)( \(extended\))?$/;

function renderRiskMatrix() {
  const account = chosenAccount();
  const box = $("heatmap"), tail = $("tail");
  const unit = account && account.risk_units[Number($("unit-select").value || 0)];
  if (!unit || !unit.scenarios || !unit.scenarios.length) {
    plot.purge(box); box.textContent = account ? "This model has no scenario grid." : "";
    tail.hidden = true;
    return;
  }
  box.textContent = "";
  const scenarios = unit.scenarios;
  const gridded = scenarios.filter((s) => GRID.test(s.label));
  const big = scenarios.length > 60;
  let trace, marks = [];
  if (!big && gridded.length === scenarios.length) {
    // Rows: the vol shift (extended cells apart); columns: the index move, in order.
    const place = (label) => {
      const [, , m, v, extended] = label.match(GRID);
      return { x: `${m}%`, move: Number(m), y: extended ? `${v} (extended)` : v };
    };
    const cells = gridded.map((s) => ({ ...place(s.label), s }));
    const moves = [...new Map(cells.map((c) => [c.x, c.move])).entries()]
      .sort((a, b) => a[1] - b[1]).map(([x]) => x);
    const vols = [...new Set(cells.map((c) => c.y))];
    const z = vols.map(() => moves.map(() => null));
    const text = vols.map(() => moves.map(() => ""));
    for (const c of cells) {
      z[vols.indexOf(c.y)][moves.indexOf(c.x)] = c.s.pnl;
      text[vols.indexOf(c.y)][moves.indexOf(c.x)] = c.s.label;
      if (c.s.label === unit.worst_scenario) marks.push({ x: c.x, y: c.y });
    }
    trace = { type: "heatmap", x: moves, y: vols, z, text, colorscale: "RdBu", zmid: 0,
      hoverongaps: false, hovertemplate: "%{text}<br>P&L %{z}<extra></extra>" };
  } else if (!big) {
    const labels = scenarios.map((s) => s.label);
    trace = { type: "heatmap", x: labels, y: ["P&L"], z: [scenarios.map((s) => s.pnl)],
      colorscale: "RdBu", zmid: 0 };
    if (unit.worst_scenario) marks.push({ x: unit.worst_scenario, y: "P&L" });
  }
  if (trace) {
    // The binding cell: a marker over the heat map (a second trace on the same categories).
    const binds = { type: "scatter", mode: "markers+text", x: marks.map((m) => m.x),
      y: marks.map((m) => m.y), text: marks.map(() => "binds"), textposition: "top center",
      marker: { symbol: "x-thin-open", size: 16, line: { width: 3, color: "#000" } },
      textfont: { color: "#000" }, hoverinfo: "skip", showlegend: false };
    plot.react(box, [trace, binds], { title: `P&L per scenario (${unit.currency}); worst: ${
      unit.worst_scenario}`, margin: { t: 40, l: 110, r: 10, b: 50 }, height: 320,
      xaxis: { type: "category", title: "index move" }, yaxis: { type: "category" } },
    { displaylogo: false, responsive: true });
    box.dataset.worst = unit.worst_scenario || "";
  } else {
    plot.purge(box);
  }
  const measure = ["var", "es"].find((k) => k in unit.components);
  if (big || measure) {
    tail.hidden = false;
    const shapes = [], annotations = [];
    for (const [k, color] of [["var", "#d32f2f"], ["es", "#6a1b9a"]]) {
      if (!(k in unit.components)) continue;
      const x = -unit.components[k];
      shapes.push({ type: "line", x0: x, x1: x, yref: "paper", y0: 0, y1: 1, line: { color, dash: "dash" } });
      annotations.push({ x, yref: "paper", y: 1, text: k.toUpperCase(), showarrow: false, font: { color } });
    }
    plot.react(tail, [{ type: "histogram", x: scenarios.map((s) => s.pnl), nbinsx: 60,
      marker: { color: "#607d8b" } }], { title: `Scenario P&L (${unit.currency}), ${scenarios.length} scenarios`,
      shapes, annotations, margin: { t: 40, l: 50, r: 10, b: 40 }, height: 300 },
    { displaylogo: false, responsive: true });
  } else {
    plot.purge(tail); tail.hidden = true;
  }
}

async function loadProfile() {
  const underlying = $("profile-underlying").value;
  if (!underlying) { plot.purge($("profile")); return; }
  const dates = state.dates.map((d) => `&dates=${encodeURIComponent(d)}`).join("");
  const profile = await api(`/v1/dashboard/accounts/${encodeURIComponent(state.account)}/profile?underlying=${
    encodeURIComponent(underlying)}${dates}`);
  const traces = profile.dates.map((d, i) => ({
    type: "scatter", mode: "lines", x: profile.levels, y: profile.pnl[i],
    name: i === 0 ? "now" : d.slice(0, 16).replace("T", " "),
  }));
  const shapes = [{ type: "line", x0: profile.index, x1: profile.index, yref: "paper", y0: 0, y1: 1,
    line: { color: "#999", dash: "dot" } }];
  const annotations = [{ x: profile.index, yref: "paper", y: 1, text: "index", showarrow: false }];
  const liq = state.liquidation.accounts[0].liquidation.underlyings[underlying];
  for (const side of ["price_down", "price_up"]) {
    if (liq && liq[side]) {
      shapes.push({ type: "line", x0: liq[side], x1: liq[side], yref: "paper", y0: 0, y1: 1,
        line: { color: "#d32f2f", dash: "dash" } });
      annotations.push({ x: liq[side], yref: "paper", y: 0.95, text: "liquidation", showarrow: false,
        font: { color: "#d32f2f" } });
    }
  }
  plot.react($("profile"), traces, { title: `P&L (USD) against the ${underlying} index`, shapes, annotations,
    xaxis: { title: `${underlying} index (USD)` }, yaxis: { title: "USD" },
    margin: { t: 40, l: 70, r: 10, b: 50 }, height: 360 }, { displaylogo: false, responsive: true });
}

// ---------------------------------------------------------------------------- what-if

function addLeg(instrument = "", quantity = "") {
  const tr = document.createElement("tr");
  tr.innerHTML = `<td><input class="leg-instrument" list="instruments" size="24" value="${instrument}"></td>
    <td><input class="leg-quantity" size="10" value="${quantity}"></td>
    <td><select class="leg-unit"><option>native</option><option>base</option><option>quote</option>
      <option>contracts</option></select></td>
    <td><input class="leg-price" size="8"></td>
    <td><button class="leg-largest">Largest size</button> <button class="leg-remove">x</button></td>
    <td class="leg-answer num"></td>`;
  tr.querySelector(".leg-remove").onclick = () => tr.remove();
  tr.querySelector(".leg-largest").onclick = () => guarded(() => largest(tr));
  $("legs").tBodies[0].appendChild(tr);
}

function legOf(tr) {
  const price = tr.querySelector(".leg-price").value.trim();
  return {
    instrument: tr.querySelector(".leg-instrument").value.trim(),
    quantity: Number(tr.querySelector(".leg-quantity").value),
    unit: tr.querySelector(".leg-unit").value,
    ...(price ? { price: Number(price) } : {}),
  };
}

function modelQuery() {
  const model = state.model || $("model-select").value;
  return model ? `?model=${encodeURIComponent(model)}` : "";
}

async function largest(tr) {
  const id = $("whatif-account").value;
  const found = await api(`/v1/dashboard/accounts/${encodeURIComponent(id)}/largest${modelQuery()}`,
    { method: "POST", body: legOf(tr) });
  const answer = tr.querySelector(".leg-answer");
  answer.textContent = `${fmt(found.quantity, "num")}${found.capped ? " (cap)" : ""}`;
  answer.dataset.value = found.quantity;
}

function fillWhatif() {
  if (state.account) $("whatif-account").value = state.account;
  if (!$("legs").tBodies[0].rows.length) addLeg();
}

async function runWhatif() {
  const id = $("whatif-account").value;
  const legs = [...$("legs").tBodies[0].rows].map(legOf).filter((l) => l.instrument && l.quantity);
  const body = { legs, transfers: {}, moves: {} };
  const asset = $("transfer-asset").value.trim(), amount = $("transfer-amount").value.trim();
  if (asset && amount) body.transfers[asset] = Number(amount);
  const under = $("move-underlying").value.trim(), pct = $("move-pct").value.trim();
  if (under && pct) body.moves[under] = Number(pct) / 100;
  const result = await api(`/v1/dashboard/accounts/${encodeURIComponent(id)}/whatif${modelQuery()}`,
    { method: "POST", body });
  const table = $("whatif-table").tBodies[0];
  table.replaceChildren();
  for (const [name, label] of [["equity", "equity"], ["initial_margin", "IM"],
    ["maintenance_margin", "MM"], ["available", "available"]]) {
    const tr = document.createElement("tr");
    tr.dataset.field = name;
    const th = document.createElement("th");
    th.textContent = label;
    tr.appendChild(th);
    cell(tr, result.before[name]); cell(tr, result.after[name]);
    cell(tr, result.delta[name], "usd", result.delta[name] > 0 ? "up" : result.delta[name] < 0 ? "down" : "");
    table.appendChild(tr);
  }
  const tr = document.createElement("tr");
  tr.dataset.field = "status";
  tr.innerHTML = "<th>status</th>";
  statusCell(tr, result.before.status); statusCell(tr, result.after.status);
  table.appendChild(tr);
  const verdict = $("whatif-verdict");
  verdict.textContent = result.order
    ? `${result.order.accepted ? "Accepted" : "Rejected"}: ${result.order.reason} (${result.model})`
    : `No legs: the account after the transfer and move (${result.model}).`;
  verdict.className = result.order && !result.order.accepted ? "down" : "";
}

// ---------------------------------------------------------------------------- stress, reports

async function runStress() {
  $("stress-meta").textContent = "running...";
  const grid = await api(`/v1/dashboard/stress${modelQuery()}`);
  $("stress-meta").textContent = `${grid.episodes.length} episodes x ${grid.accounts.length} accounts, ${grid.model}; loss over equity`;
  plot.react($("stress-map"), [{
    type: "heatmap", x: grid.accounts, y: grid.episodes, z: grid.loss_over_equity,
    colorscale: [[0, "#e8f5e9"], [0.5, "#ffb74d"], [1, "#b71c1c"]], zmin: 0, zmax: 1,
    hovertemplate: "%{y}<br>%{x}: loss/equity %{z:.2%}<extra></extra>",
  }], { title: "Stress: loss over equity", margin: { t: 40, l: 120, r: 10, b: 120 },
    height: 200 + 22 * grid.episodes.length }, { displaylogo: false, responsive: true });
}

async function loadReports() {
  const found = await api("/v1/dashboard/reports");
  const list = $("reports");
  list.replaceChildren();
  for (const report of found.reports) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = "#stress";
    a.textContent = `${report.name} (${report.modified.slice(0, 16)})`;
    a.onclick = (e) => { e.preventDefault(); guarded(() => openReport(report.name)); };
    li.appendChild(a);
    list.appendChild(li);
  }
  if (!found.reports.length) list.innerHTML = `<li class="muted">none under ${found.root}</li>`;
}

async function openReport(name) {
  const response = await fetch(`/v1/dashboard/reports/${name}/report.html`,
    { headers: { Authorization: `Bearer ${key()}` } });
  if (!response.ok) throw new Error(`report ${name}: ${response.status}`);
  const frame = $("report-frame");
  frame.srcdoc = await response.text();
  frame.hidden = false;
}

// ---------------------------------------------------------------------------- start

async function start() {
  if (!key()) { show("login"); return; }
  state.me = await api("/v1/dashboard/me");
  document.body.classList.toggle("admin", state.me.role === "admin");
  $("who").textContent = state.me.role === "trader" ? `trader: ${state.me.account}` : state.me.role;
  if (state.me.role === "trader") {
    state.account = state.me.account;
    fillAccounts([state.me.account]);
  } else if (state.me.role !== "admin") {
    throw new Error(`a ${state.me.role} key has no dashboard: use an admin or trader key`);
  }
  const [view, account] = location.hash.slice(1).split("/");
  if (account && state.me.role === "admin") state.account = decodeURIComponent(account);
  if (state.me.role === "admin" && !state.venue) {
    await loadVenue().catch(showError);
  } else if (state.me.role === "trader") {
    connect();
  }
  const wanted = view && $(view) && view !== "login" ? view : state.me.role === "admin" ? "venue" : "account";
  show(state.me.role === "trader" && wanted === "venue" ? "account" : wanted);
}

function wire() {
  $("key-form").onsubmit = (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY, $("key").value.trim());
    $("key").value = "";
    location.hash = "";
    location.reload();
  };
  $("forget").onclick = () => { sessionStorage.removeItem(KEY); location.hash = ""; location.reload(); };
  for (const b of document.querySelectorAll("#tabs button")) b.onclick = () => show(b.dataset.view);
  for (const th of $("venue-table").tHead.rows[0].cells) {
    th.onclick = () => {
      state.sortDesc = state.sortKey === th.dataset.key ? !state.sortDesc : true;
      state.sortKey = th.dataset.key;
      venuePage(0);
    };
  }
  $("venue-filter").oninput = () => {
    clearTimeout(state.filterTimer);
    state.filterTimer = setTimeout(() => venuePage(0), 250);
  };
  $("venue-status").onchange = () => venuePage(0);
  $("venue-prev").onclick = () => venuePage(state.page.offset - state.page.limit);
  $("venue-next").onclick = () => venuePage(state.page.offset + state.page.limit);
  $("venue-refresh").onclick = () => guarded(loadVenue);
  $("venue-table").onclick = (e) => {
    const tr = e.target.closest("tr[data-account]");
    if (!tr) return;
    e.preventDefault();
    state.account = tr.dataset.account;
    $("account-select").value = state.account;
    show("account");
  };
  $("account-select").onchange = () => {
    state.account = $("account-select").value;
    $("whatif-account").value = state.account;
    show("account");
  };
  $("whatif-account").onchange = () => { state.account = $("whatif-account").value; };
  $("model-select").onchange = () => guarded(loadAccount);
  $("account-refresh").onclick = () => guarded(loadAccount);
  $("unit-select").onchange = renderRiskMatrix;
  $("profile-underlying").onchange = () => guarded(loadProfile);
  $("profile-date").onchange = () => {
    const d = $("profile-date").value;
    if (d && !state.dates.includes(d)) state.dates.push(`${d}T00:00:00Z`);
    guarded(loadProfile);
  };
  $("add-leg").onclick = () => addLeg();
  $("run-whatif").onclick = () => guarded(runWhatif);
  $("run-stress").onclick = () => guarded(runStress);
}

document.body.dataset.pending = "0";
wire();
guarded(start);
