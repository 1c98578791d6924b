// The live store dashboard. Everything it shows comes from the API: /api/dashboard says which
// collections to read and how to lay them out, /api/pipelines says which pipeline holds each
// collection, and each collection is kept current from its Server-Sent Events (a snapshot of
// its rows, then the changes of every closed time).
'use strict';

const state = {
  config: null,
  pipelines: [],
  owner: {},        // collection -> pipeline
  collections: {},  // collection -> {key: [...], rows: Map}
  selected: null,   // selected category
  store: null,      // the store shown, when the config names a store column
  timer: null,
};

async function getJSON(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'text') node.textContent = v; else node.setAttribute(k, v);
  }
  for (const child of children) node.appendChild(child);
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

// The rows of a collection, of the store shown only (rows without the store column are the
// chain's and always shown).
function rowsOf(name) {
  const c = state.collections[name];
  if (!c) return [];
  const rows = Array.from(c.rows.values());
  const column = state.config && state.config.store;
  if (!column || state.store === null) return rows;
  return rows.filter(row => !(column in row) || row[column] === state.store);
}

// The store picker: the stores the map's shelves come from; hidden for a single store.
function renderStorePicker() {
  const column = state.config.store;
  const shelves = state.config.map && state.config.map.shelves;
  const c = column && shelves && state.collections[shelves.collection];
  if (!c) return;
  const stores = Array.from(new Set(Array.from(c.rows.values()).map(row => row[column])))
    .filter(s => s !== undefined).sort((a, b) => a - b);
  if (stores.length === 0) return;
  if (state.store === null || !stores.includes(state.store)) state.store = stores[0];
  const select = document.getElementById('store');
  if (select.options.length !== stores.length) {
    select.replaceChildren(...stores.map(s => el('option', { value: String(s), text: String(s) })));
  }
  select.value = String(state.store);
  document.getElementById('store-picker').hidden = stores.length < 2;
}

function keyOf(c, row) {
  return c.key.map(k => JSON.stringify(row[k])).join('|');
}

// One event stream per pipeline for all the collections the page reads from it: a browser
// keeps at most six connections per host, so one stream per collection would starve the rest.
function subscribe(pipeline, names) {
  for (const name of names) state.collections[name] = { key: [], rows: new Map() };
  const url = `/api/pipelines/${encodeURIComponent(pipeline)}/changes?collections=${names.map(encodeURIComponent).join(',')}`;
  const source = new EventSource(url);
  source.addEventListener('snapshot', event => {
    const message = JSON.parse(event.data);
    const c = state.collections[message.collection];
    c.key = message.key;
    c.rows = new Map(message.rows.map(row => [keyOf(c, row), row]));
    schedule();
  });
  source.addEventListener('changes', event => {
    const message = JSON.parse(event.data);
    const c = state.collections[message.collection];
    for (const change of message.changes) {
      const key = keyOf(c, change.row);
      if (change.op === 'upsert') c.rows.set(key, change.row); else c.rows.delete(key);
    }
    schedule();
  });
  // EventSource reconnects by itself; the next snapshots restore the rows.
}

function schedule() {
  if (state.timer) return;
  state.timer = setTimeout(() => { state.timer = null; render(); }, 250);
}

function format(value) {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' && !Number.isInteger(value)) return value.toFixed(2);
  return String(value);
}

function table(node, columns, rows) {
  node.replaceChildren();
  node.appendChild(el('tr', {}, columns.map(c => el('th', { text: c }))));
  if (rows.length === 0) {
    node.appendChild(el('tr', {}, [el('td', { class: 'empty', colspan: columns.length, text: 'none' })]));
    return;
  }
  for (const row of rows) {
    const cells = columns.map(c => el('td', { class: typeof row[c] === 'number' ? 'num' : '', text: format(row[c]) }));
    node.appendChild(el('tr', { class: 'row' }, cells));
  }
}

function sortRows(rows, sort) {
  if (!sort) return rows;
  const [field, direction] = sort.split(/\s+/);
  const sign = direction === 'desc' ? -1 : 1;
  return rows.slice().sort((a, b) => (a[field] > b[field] ? 1 : a[field] < b[field] ? -1 : 0) * sign);
}

// --- the store map ------------------------------------------------------------------------
function shelfCategories() {
  const spec = state.config.map.shelves;
  const categories = new Map();
  for (const row of rowsOf(spec.collection)) categories.set(row[spec.shelf || 'shelf_id'], row[spec.category]);
  return categories;
}

function openAlertsByCategory() {
  const categories = shelfCategories();
  const open = new Map();
  for (const spec of state.config.map.alerts || []) {
    for (const row of rowsOf(spec.collection)) {
      const shelf = row[spec.shelf || 'shelf_id'];
      const category = spec.category ? row[spec.category] : categories.get(shelf);
      if (!category) continue;
      if (!open.has(category)) open.set(category, []);
      open.get(category).push({ shelf, alert: row.alert || spec.collection, row });
    }
  }
  return open;
}

function renderMap() {
  const map = document.getElementById('store-map');
  const zones = (state.config.layout && state.config.layout.zones) || {};
  const open = openAlertsByCategory();
  if (map.childElementCount === 0) {
    for (const [category, zone] of Object.entries(zones)) {
      const g = svg('g', { class: 'zone', 'data-category': category });
      g.appendChild(svg('rect', {
        x: zone.x0 * 1000, y: zone.y0 * 600,
        width: (zone.x1 - zone.x0) * 1000, height: (zone.y1 - zone.y0) * 600, rx: 3,
      }));
      const label = svg('text', { x: zone.x0 * 1000 + 4, y: zone.y0 * 600 + 13 });
      label.textContent = zone.label || category.toLowerCase();
      g.appendChild(label);
      g.addEventListener('click', () => { state.selected = category; render(); });
      map.appendChild(g);
    }
  }
  for (const g of map.querySelectorAll('g.zone')) {
    const category = g.dataset.category;
    const alerts = open.get(category) || [];
    g.classList.toggle('alert', alerts.length > 0);
    g.classList.toggle('selected', category === state.selected);
    g.dataset.alerts = String(alerts.length);
    g.querySelector('rect').setAttribute('aria-label', `${category}: ${alerts.length} open alerts`);
  }
  renderZoneDetails(open);
}

function renderZoneDetails(open) {
  const box = document.getElementById('zone-details');
  if (!state.selected) { box.hidden = true; return; }
  box.hidden = false;
  const spec = state.config.map.shelves;
  const plans = state.config.map.plans;
  const alerts = open.get(state.selected) || [];
  document.getElementById('zone-title').textContent = `${state.selected}: ${alerts.length} open alerts`;
  const shelves = rowsOf(spec.collection).filter(row => row[spec.category] === state.selected);
  const openPlans = new Map();
  if (plans) {
    for (const row of rowsOf(plans.collection)) {
      if ((plans.closed || []).includes(row.status)) continue;
      const shelf = row[plans.shelf || 'shelf_id'];
      openPlans.set(shelf, (openPlans.get(shelf) || 0) + 1);
    }
  }
  const rows = shelves.map(row => {
    const shelf = row[spec.shelf || 'shelf_id'];
    const kinds = alerts.filter(a => a.shelf === shelf).map(a => a.alert);
    return Object.assign({}, row, { open_alerts: kinds.join(', '), open_plans: openPlans.get(shelf) || 0 });
  });
  rows.sort((a, b) => (b.open_alerts.length - a.open_alerts.length) || String(a.shelf_id).localeCompare(String(b.shelf_id)));
  table(document.getElementById('zone-shelves'), [...spec.columns, 'open_alerts', 'open_plans'], rows);
}

// --- panels -------------------------------------------------------------------------------
function renderPanels() {
  const container = document.getElementById('panels');
  for (const [i, panel] of (state.config.panels || []).entries()) {
    const id = `panel-${panel.id || i}`;
    let box = document.getElementById(id);
    if (!box) {
      box = el('div', { class: 'panel', id }, [el('h3', { text: panel.title })]);
      if (panel.filter) {
        const select = el('select', { class: 'controls', 'aria-label': `filter by ${panel.filter}` });
        select.addEventListener('change', () => render());
        box.insertBefore(select, box.firstChild);
      }
      box.appendChild(el('table'));
      container.appendChild(box);
    }
    let rows = (panel.collections || []).flatMap(name => rowsOf(name));
    if (panel.on_day) {
      // Only the simulated day's rows, merged into one row per day.
      const today = (document.body.dataset.simTime || '').slice(0, 10);
      const merged = {};
      for (const row of rows) if (String(row[panel.on_day]).slice(0, 10) === today) Object.assign(merged, row);
      rows = Object.keys(merged).length ? [merged] : [];
    }
    const select = box.querySelector('select');
    if (select) {
      const values = Array.from(new Set(rows.map(r => r[panel.filter]))).sort();
      const chosen = select.value;
      select.replaceChildren(el('option', { value: '', text: `all ${panel.filter}` }), ...values.map(v => el('option', { value: v, text: v })));
      select.value = values.includes(chosen) ? chosen : '';
      if (select.value) rows = rows.filter(r => String(r[panel.filter]) === select.value);
    }
    const total = rows.length;
    rows = sortRows(rows, panel.sort).slice(0, panel.limit || 20);
    const columns = panel.columns || (rows[0] ? Object.keys(rows[0]) : []);
    let title = `${panel.title} (${total})`;
    if (panel.next) {
      // The earliest value of the `next` column after the simulated time.
      const now = document.body.dataset.simTime || '';
      const upcoming = (panel.collections || []).flatMap(name => rowsOf(name))
        .map(r => r[panel.next]).filter(v => v && v > now).sort();
      title += ` · next ${panel.next}: ${upcoming.length ? upcoming[0].replace('T', ' ') : 'none'}`;
    }
    box.querySelector('h3').textContent = title;
    table(box.querySelector('table'), columns, rows);
  }
}

function renderHealth() {
  const rows = state.pipelines.map(p => {
    const committed = p.sinks.map(s => s.committed_until).filter(t => t && t !== 'finished').sort();
    const behind = p.sources.map(s => s.behind_seconds).filter(b => b !== null && b !== undefined);
    return {
      pipeline: p.name,
      status: p.status,
      'events/s': Math.round(p.events_per_second),
      'lag (s)': behind.length ? Math.round(Math.max(...behind)) : '',
      'dead letters': p.dead_letters,
      'last commit': committed.length ? committed[committed.length - 1] : '',
      error: p.error || '',
    };
  });
  table(document.getElementById('health-table'), ['pipeline', 'status', 'events/s', 'lag (s)', 'dead letters', 'last commit', 'error'], rows);
  for (const tr of document.querySelectorAll('#health-table tr.row')) {
    const status = tr.children[1];
    status.className = `status-${status.textContent}`;
  }
  // The furthest event time of any pipeline (the simulated time, for the simulated store), or
  // once they have all finished, the last commit.
  const committed = state.pipelines.flatMap(p => p.sinks.map(s => s.committed_until));
  const times = state.pipelines.map(p => p.event_time).concat(committed);
  const watermarks = times.filter(w => w && w !== 'finished').sort();
  if (watermarks.length) {
    const now = watermarks[watermarks.length - 1];
    document.getElementById('sim-time').textContent = now.replace('T', ' ').replace('Z', ' UTC');
    document.body.dataset.simTime = now;
  }
}

function render() {
  if (!state.config) return;
  renderStorePicker();
  renderMap();
  renderPanels();
  renderHealth();
}

async function refreshPipelines() {
  try {
    const list = await getJSON('/api/pipelines');
    state.pipelines = list.pipelines;
    for (const p of state.pipelines) for (const c of p.collections) if (!state.owner[c]) state.owner[c] = p.name;
    const unsubscribed = {};
    for (const name of state.needed) {
      const pipeline = state.owner[name];
      if (pipeline && !state.collections[name]) (unsubscribed[pipeline] = unsubscribed[pipeline] || []).push(name);
    }
    for (const [pipeline, names] of Object.entries(unsubscribed)) subscribe(pipeline, names);
    const connection = document.getElementById('connection');
    connection.textContent = 'live';
    connection.className = 'connection live';
  } catch (e) {
    document.getElementById('connection').textContent = `API unreachable (${e.message})`;
  }
  render();
}

async function start() {
  state.config = await getJSON('/api/dashboard');
  state.needed = state.config.collections; // every collection it reads, listed by the server
  if (state.config.title) {
    document.getElementById('title').textContent = state.config.title;
    document.title = state.config.title;
  }
  document.getElementById('store').addEventListener('change', event => {
    const value = event.target.value;
    state.store = Number.isNaN(Number(value)) ? value : Number(value);
    render();
  });
  await refreshPipelines();
  setInterval(refreshPipelines, 1000);
}

start();
