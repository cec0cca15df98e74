// Sesame dashboard: one page, plain DOM and hand-drawn SVG (no framework, no
// chart library). Everything it shows comes from /admin/* with the session
// cookie; state changes carry the session's CSRF token. Data is only ever
// inserted as text (textContent), never as HTML.

const SVG = 'http://www.w3.org/2000/svg';
const state = { csrf: '', page: '', timer: 0, suppressionNext: '', allowed: {} };

// What each page reads, by IAM action; the user's policies decide which
// pages and buttons are shown (GET /admin/permissions). The server checks
// every request regardless.
const PAGE_NEEDS = {
  overview: ['ses:GetSendStatistics'],
  reputation: ['ses:GetAccount', 'cloudwatch:DescribeAlarms', 'cloudwatch:DescribeAlarmHistory'],
  queues: ['sesame:GetQueues', 'sesame:ListDeadLetters', 'sesame:ListEventDeadLetters',
    'sesame:GetEventSubscriptions'],
  suppression: ['ses:ListSuppressedDestinations'],
  identities: ['ses:ListEmailIdentities'],
  configsets: ['ses:ListConfigurationSets', 'ses:GetConfigurationSet'],
  keys: ['iam:ListAccessKeys'],
  templates: ['ses:ListEmailTemplates', 'ses:GetEmailTemplate'],
  messages: ['sesame:SearchMessages'],
  mail: [],
};
const can = (action) => state.allowed[action] === true;
const pageAllowed = (page) => (page !== 'mail' || state.localMailbox) && (PAGE_NEEDS[page] || []).every(can);

// --- helpers ---------------------------------------------------------------
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const $ = (id) => document.getElementById(id);

class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, { method = 'GET', body } = {}) {
  const headers = {};
  if (method !== 'GET') headers['X-Sesame-Csrf'] = state.csrf;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  // 401, or a 403 that is no policy's denial: the session is gone.
  const denied = data && data.__type === 'AccessDeniedException';
  if ((res.status === 401 || (res.status === 403 && !denied)) && path !== '/ui/login') showLogin();
  if (!res.ok) {
    const msg = (data && (data.message || data.Message)) || res.statusText;
    throw new HttpError(res.status, msg);
  }
  return data;
}

function toast(message, isError = false) {
  const m = h('div', { class: 'msg' + (isError ? ' error' : '') }, message);
  $('toast').append(m);
  setTimeout(() => m.remove(), isError ? 8000 : 4000);
}

function fail(e) { toast(e.message || String(e), true); }

function fmtNum(n) { return Number(n || 0).toLocaleString('en-US'); }
function fmtPct(x) { return (100 * (x || 0)).toFixed(x < 0.01 ? 3 : 2) + '%'; }
function fmtTime(iso) {
  if (iso === null || iso === undefined || iso === '') return '—';
  const d = typeof iso === 'number' ? new Date(iso * 1000) : new Date(iso);
  return isNaN(d) ? String(iso) : d.toISOString().replace('T', ' ').slice(0, 19);
}
function fmtAge(sec) {
  if (sec < 120) return sec + ' s';
  if (sec < 7200) return Math.round(sec / 60) + ' min';
  if (sec < 172800) return (sec / 3600).toFixed(1) + ' h';
  return (sec / 86400).toFixed(1) + ' d';
}
function badge(text) {
  const t = String(text || '');
  const cls = /^(SUCCESS|OK|HEALTHY|ok|delivered|ENABLED)$/.test(t) ? 'ok'
    : /^(PENDING|PROBATION|INSUFFICIENT_DATA|TEMPORARY_FAILURE|RETRYING|deferred|mismatch|unchecked)$/.test(t) ? 'warn'
    : /^(FAILED|SHUTDOWN|ALARM|missing|failed|bounced|expired|suppressed|complaint)/.test(t) ? 'bad' : '';
  return h('span', { class: 'badge ' + cls }, t || '—');
}

// A table from column specs: [{title, cell(row) -> Node|string, class}].
function table(el, columns, rows, empty = 'Nothing here.') {
  el.replaceChildren(
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', {}, c.title)))),
    h('tbody', {}, rows.length === 0
      ? h('tr', {}, h('td', { class: 'empty', colspan: columns.length }, empty))
      : rows.map((r) => {
        const tr = h('tr', {}, columns.map((c) => h('td', { class: c.class }, c.cell(r))));
        return tr;
      })));
  return el;
}

function card(label, value, id) {
  return h('div', { class: 'card', 'data-metric': id },
    h('div', { class: 'label' }, label), h('div', { class: 'value' }, value));
}

// --- charts ----------------------------------------------------------------
function niceMax(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  // Four grid steps: prefer maxima whose quarters are round numbers.
  for (const m of [1, 2, 4, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

// A line chart of `series` ([{key, name, values}]) over `times` (ms). The
// SVG carries each series' total in data-total-<key> so tests (and curious
// operators) can compare the drawing with the statistics it came from.
function lineChart(el, times, series) {
  const W = 960, H = 260, L = 56, R = 12, T = 12, B = 28;
  const pw = W - L - R, ph = H - T - B;
  const max = niceMax(Math.max(0, ...series.flatMap((x) => x.values)));
  const n = times.length;
  const x = (i) => L + (n <= 1 ? pw / 2 : (i * pw) / (n - 1));
  const y = (v) => T + ph - (v / max) * ph;
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img' });
  for (let k = 0; k <= 4; k++) {
    const v = (max * k) / 4;
    svg.append(s('line', { class: 'grid', x1: L, x2: W - R, y1: y(v), y2: y(v) }),
      s('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' },
        v >= 1000 ? (v / 1000).toFixed(v % 1000 ? 1 : 0) + 'k' : +v.toFixed(2)));
  }
  svg.append(s('line', { class: 'axis', x1: L, x2: W - R, y1: T + ph, y2: T + ph }));
  const labels = Math.min(6, n);
  for (let k = 0; k < labels; k++) {
    const i = Math.round((k * (n - 1)) / Math.max(1, labels - 1));
    const d = new Date(times[i]);
    const span = times[n - 1] - times[0];
    const text = span > 2 * 86400e3
      ? d.toISOString().slice(5, 10) + ' ' + d.toISOString().slice(11, 16)
      : d.toISOString().slice(11, 16);
    const anchor = k === 0 ? 'start' : k === labels - 1 ? 'end' : 'middle';
    svg.append(s('text', { x: x(i), y: H - 8, 'text-anchor': anchor }, text));
  }
  for (const ser of series) {
    const pts = ser.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`);
    svg.append(s('polyline', { class: 'line ' + ser.key, points: pts.join(' '),
      'data-series': ser.key }));
    svg.setAttribute('data-total-' + ser.key,
      String(ser.values.reduce((a, b) => a + b, 0)));
  }
  // Hover columns: the values of every series at that time.
  const colW = n <= 1 ? pw : pw / (n - 1);
  for (let i = 0; i < n; i++) {
    const tip = fmtTime(new Date(times[i]).toISOString()) + '\n' +
      series.map((ser) => `${ser.name}: ${fmtNum(ser.values[i])}`).join('\n');
    svg.append(s('rect', { class: 'hover', x: x(i) - colW / 2, y: T, width: colW, height: ph },
      s('title', {}, tip)));
  }
  const legend = h('div', { class: 'legend' },
    series.map((ser) => h('span', { class: ser.key }, ser.name)));
  el.replaceChildren(svg, legend);
}

// A half-circle gauge of `value` on [0, max] with tick marks at thresholds.
function gauge(title, value, max, probation, shutdown, note) {
  const cx = 130, cy = 120, r = 95;
  const pt = (f) => {
    const a = Math.PI * (1 - Math.min(1, Math.max(0, f)));
    return [cx + r * Math.cos(a), cy - r * Math.sin(a)];
  };
  const arc = (f) => {
    const [x1, y1] = pt(0), [x2, y2] = pt(f);
    return `M ${x1} ${y1} A ${r} ${r} 0 0 1 ${x2.toFixed(2)} ${y2.toFixed(2)}`;
  };
  const level = value >= shutdown ? 'bad' : value >= probation ? 'warn' : 'ok';
  const svg = s('svg', { viewBox: '0 0 260 150', 'data-value': value });
  svg.append(s('path', { class: 'track', d: arc(1) }));
  if (value > 0) svg.append(s('path', { class: 'fill ' + level, d: arc(value / max) }));
  for (const t of [probation, shutdown]) {
    const a = Math.PI * (1 - t / max);
    svg.append(s('line', { class: 'tick',
      x1: cx + (r - 14) * Math.cos(a), y1: cy - (r - 14) * Math.sin(a),
      x2: cx + (r + 14) * Math.cos(a), y2: cy - (r + 14) * Math.sin(a) },
    s('title', {}, fmtPct(t))));
  }
  svg.append(s('text', { class: 'reading', x: cx, y: cy - 10, 'text-anchor': 'middle' }, fmtPct(value)),
    s('text', { class: 'caption', x: cx, y: cy + 22, 'text-anchor': 'middle' }, note));
  return h('div', { class: 'card gauge' }, h('h3', {}, title), svg);
}

// --- pages -----------------------------------------------------------------
const SERIES = [
  ['sends', 'Sent'], ['deliveries', 'Delivered'], ['bounces', 'Bounced'],
  ['complaints', 'Complained'], ['deferrals', 'Deferred'], ['rejects', 'Rejected'],
];

async function loadOverview() {
  const range = $('range').value;
  const scope = $('scope').value;
  const resolution = range === '14d' ? 'hour' : 'minute';
  const data = await api(`/admin/stats?resolution=${resolution}&scope=${encodeURIComponent(scope)}`);
  const scopes = $('scope');
  const known = new Set([...scopes.options].map((o) => o.value));
  for (const sc of data.scopes || []) {
    if (!known.has(sc)) scopes.append(h('option', { value: sc }, sc));
  }
  // The statistics list only minutes (or hours) that saw traffic: lay them
  // on a full grid so quiet periods are drawn as zeros.
  const bucketMs = { '1h': 60e3, '24h': 600e3, '14d': 3600e3 }[range];
  const count = { '1h': 60, '24h': 144, '14d': 336 }[range];
  const end = Math.floor(Date.now() / bucketMs) * bucketMs;
  const start = end - (count - 1) * bucketMs;
  const times = [], sums = Object.fromEntries(SERIES.map(([k]) => [k, new Array(count).fill(0)]));
  for (let i = 0; i < count; i++) times.push(start + i * bucketMs);
  for (const p of data.points || []) {
    const i = Math.floor((Date.parse(p.timestamp) - start) / bucketMs);
    if (i < 0 || i >= count) continue;
    for (const [k] of SERIES) sums[k][i] += k === 'bounces' ? p.bounces + p.softBounces : p[k];
  }
  const total = (k) => sums[k].reduce((a, b) => a + b, 0);
  $('totals').replaceChildren(...SERIES.map(([k, name]) => card(name, fmtNum(total(k)), k)));
  lineChart($('chart-volume'), times,
    [['sends', 'Sent'], ['deliveries', 'Delivered']].map(([key, name]) => ({ key, name, values: sums[key] })));
  lineChart($('chart-feedback'), times,
    [['bounces', 'Bounced'], ['complaints', 'Complained'], ['deferrals', 'Deferred'], ['rejects', 'Rejected']]
      .map(([key, name]) => ({ key, name, values: sums[key] })));
}

async function loadReputation() {
  const [rep, alarms, history] = await Promise.all([
    api('/admin/reputation'), api('/admin/alarms'), api('/admin/alarms/history')]);
  const t = rep.thresholds;
  const account = rep.scopes.find((x) => x.scope === '') || { bounceRate: 0, complaintRate: 0, sends: 0, status: 'HEALTHY' };
  $('reputation-window').textContent =
    `Rates over the last ${rep.windowHours} h of sends (${fmtNum(account.sends)} sends; ` +
    `below ${fmtNum(rep.minSends)} the sample is not representative and the status stays HEALTHY).`;
  $('gauges').replaceChildren(
    gauge('Bounce rate', account.bounceRate, Math.max(0.2, t.shutdownBounce * 2),
      t.probationBounce, t.shutdownBounce, `${fmtNum(account.bounces)} of ${fmtNum(account.sends)}`),
    gauge('Complaint rate', account.complaintRate, Math.max(0.01, t.shutdownComplaint * 2),
      t.probationComplaint, t.shutdownComplaint, `${fmtNum(account.complaints)} of ${fmtNum(account.sends)}`),
    h('div', { class: 'card gauge', id: 'enforcement' }, h('h3', {}, 'Enforcement status'),
      h('p', {}, badge(account.status))));
  table($('reputation-scopes'), [
    { title: 'Scope', cell: (r) => r.scope || 'account' },
    { title: 'Sends', cell: (r) => fmtNum(r.sends) },
    { title: 'Bounce rate', cell: (r) => fmtPct(r.bounceRate) },
    { title: 'Complaint rate', cell: (r) => fmtPct(r.complaintRate) },
    { title: 'Status', cell: (r) => badge(r.status) },
  ], rep.scopes);
  table($('alarms'), [
    { title: 'Alarm', cell: (a) => a.AlarmName },
    { title: 'Metric', cell: (a) => `${a.Statistic} of ${a.MetricName} over ${a.Period} s` },
    { title: 'Threshold', cell: (a) => `${a.ComparisonOperator} ${a.Threshold}` },
    { title: 'Last value', cell: (a) => a.LastValue },
    { title: 'State', cell: (a) => badge(a.StateValue) },
    { title: 'Reason', cell: (a) => a.StateReason || '' },
    { title: 'Since', cell: (a) => fmtTime(a.StateUpdatedTimestamp) },
  ], alarms, 'No alarms are configured.');
  table($('alarm-history'), [
    { title: 'Time', cell: (x) => fmtTime(x.timestamp) },
    { title: 'Kind', cell: (x) => x.kind },
    { title: 'Name', cell: (x) => x.name || 'account' },
    { title: 'Change', cell: (x) => h('span', {}, badge(x.oldState), ' → ', badge(x.newState)) },
    { title: 'Reason', cell: (x) => x.reason || '' },
  ], history.slice().reverse().slice(0, 100), 'No transitions yet.');
}

async function loadQueues() {
  const [q, dlq, edlq, subsState] = await Promise.all([
    api('/admin/queues'), api('/admin/dlq'), api('/admin/events/dlq'),
    api('/admin/events/subscriptions')]);
  $('queue-summary').replaceChildren(
    card('Messages held', fmtNum(q.messages), 'messages'),
    card('Ready jobs', fmtNum(q.sites.reduce((a, x) => a + x.ready, 0)), 'ready'),
    card('Scheduled jobs', fmtNum(q.scheduled.reduce((a, x) => a + x.jobs, 0)), 'scheduled'),
    card('Dead letters', fmtNum(q.deadLetters), 'dead'),
    card('Oldest message', q.oldest ? fmtAge(q.oldest.ageSeconds) : '—', 'oldest'));
  table($('sites'), [
    { title: 'Site', cell: (x) => x.site, class: 'mono' },
    { title: 'Ready', cell: (x) => fmtNum(x.ready) },
    { title: 'Connections', cell: (x) => x.connections },
    { title: 'Delivered', cell: (x) => fmtNum(x.delivered) },
    { title: 'Oldest waiting', cell: (x) => fmtTime(x.oldestCreatedAt) },
    { title: 'State', cell: (x) => x.suspended ? badge('suspended') : badge('OK') },
  ], q.sites, 'No sites yet.');
  table($('scheduled'), [
    { title: 'Queue (configuration set | domain)', cell: (x) => x.queue, class: 'mono' },
    { title: 'Jobs', cell: (x) => fmtNum(x.jobs) },
    { title: 'Next due', cell: (x) => fmtTime(x.nextDue) },
    { title: 'Oldest message', cell: (x) => fmtTime(x.oldestCreatedAt) },
  ], q.scheduled, 'Nothing is waiting for a retry.');
  $('dlq-redrive-all').disabled = dlq.length === 0;
  $('dlq-purge-all').disabled = dlq.length === 0;
  $('dlq-redrive-all').hidden = !can('sesame:RedriveDeadLetters');
  $('dlq-purge-all').hidden = !can('sesame:PurgeDeadLetters');
  table($('dlq'), [
    { title: 'Message', cell: (x) => x.MessageId, class: 'mono' },
    { title: 'Recipient', cell: (x) => x.Recipient },
    { title: 'Reason', cell: (x) => x.Reason },
    { title: 'Attempts', cell: (x) => x.Attempts },
    { title: 'Created', cell: (x) => fmtTime(x.CreatedAt) },
    can('sesame:RedriveDeadLetters') && { title: '', cell: (x) => h('button', { class: 'small',
      'data-redrive': x.MessageId, onclick: () => redrive(x.MessageId) }, 'Redrive') },
  ].filter(Boolean), dlq, 'The dead-letter queue is empty.');
  table($('event-subscriptions'), [
    { title: 'Topic', cell: (x) => x.topic },
    { title: 'Endpoint', cell: (x) => x.endpoint, class: 'mono' },
    { title: 'Shape', cell: (x) => x.protocol === 'file' ? 'file' : x.raw ? 'raw' : 'SNS envelope' },
    { title: 'State', cell: (x) => badge(!x.confirmed ? 'PENDING' : x.retryingUntil ? 'RETRYING' : 'OK') },
    { title: 'Backlog', cell: (x) => fmtNum(x.backlog + x.inflight) },
    { title: 'Delivered', cell: (x) => fmtNum(x.delivered) },
    { title: 'Failed attempts', cell: (x) => fmtNum(x.failedAttempts) },
    { title: 'Dead letters', cell: (x) => fmtNum(x.deadLetters) },
    { title: 'Next try', cell: (x) => fmtTime(x.retryingUntil) },
  ], subsState, 'No topic has subscribers.');
  // The event dead letters, one row per subscription.
  const bySub = new Map();
  for (const e of edlq) {
    const row = bySub.get(e.subscription) || { id: e.subscription, arn: e.subscriptionArn, count: 0, topic: e.topic };
    row.count++;
    bySub.set(e.subscription, row);
  }
  const subs = [...bySub.values()];
  table($('events-dlq'), [
    { title: 'Subscription', cell: (x) => x.arn || x.id, class: 'mono' },
    { title: 'Topic', cell: (x) => x.topic, class: 'mono' },
    { title: 'Events', cell: (x) => fmtNum(x.count) },
    can('sesame:RedriveEventDeadLetters') && { title: '', cell: (x) => h('button', { class: 'small',
      onclick: () => redriveEvents(x.id) }, 'Redrive') },
  ].filter(Boolean), subs, 'No event has been dead-lettered.');
}

async function redrive(id) {
  try {
    const r = await api('/admin/dlq/redrive' + (id ? '?id=' + encodeURIComponent(id) : ''), { method: 'POST' });
    toast(`Redriven: ${r.Redriven} recipient(s) queued again.`);
    await loadQueues();
  } catch (e) { fail(e); }
}

async function redriveEvents(sub) {
  try {
    const r = await api('/admin/events/dlq/redrive?subscription=' + encodeURIComponent(sub), { method: 'POST' });
    toast(`Redriven: ${r.Redriven} event(s).`);
    await loadQueues();
  } catch (e) { fail(e); }
}

async function loadSuppression(append = false) {
  const q = $('suppression-q').value.trim();
  const after = append ? state.suppressionNext : '';
  const r = await api(`/admin/suppression?q=${encodeURIComponent(q)}&after=${encodeURIComponent(after)}`);
  state.suppressionRows = (append ? state.suppressionRows : []).concat(r.SuppressedDestinations);
  state.suppressionNext = r.Next;
  $('suppression-more').hidden = !r.Next;
  table($('suppression-table'), [
    { title: 'Address', cell: (x) => h('span', { 'data-address': x.EmailAddress }, x.EmailAddress) },
    { title: 'Reason', cell: (x) => badge(x.Reason) },
    { title: 'Last update', cell: (x) => fmtTime(x.LastUpdateTime) },
    { title: 'Message', cell: (x) => x.MessageId || '', class: 'mono' },
    can('ses:DeleteSuppressedDestination') && { title: '', cell: (x) => h('button', {
      class: 'small danger', 'data-remove': x.EmailAddress, onclick: () => removeSuppression(x.EmailAddress) },
    'Remove') },
  ].filter(Boolean), state.suppressionRows, q ? 'No suppressed address matches.' : 'The suppression list is empty.');
}

async function removeSuppression(address) {
  try {
    await api('/admin/v2/email/suppression/addresses/' + encodeURIComponent(address), { method: 'DELETE' });
    toast(`${address} removed from the suppression list.`);
    await loadSuppression();
  } catch (e) { fail(e); }
}

async function addSuppression(ev) {
  ev.preventDefault();
  const address = $('suppression-address').value.trim();
  try {
    await api('/admin/v2/email/suppression/addresses', { method: 'PUT',
      body: { EmailAddress: address, Reason: $('suppression-reason').value } });
    toast(`${address} added to the suppression list.`);
    $('suppression-address').value = '';
    await loadSuppression();
  } catch (e) { fail(e); }
}

async function loadIdentities() {
  const r = await api('/admin/identities');
  const list = r.Identities;
  table($('identities'), [
    { title: 'Identity', cell: (x) => x.IdentityName },
    { title: 'Type', cell: (x) => x.Attributes.IdentityType || '' },
    { title: 'Verification', cell: (x) => badge(x.Attributes.VerificationStatus) },
    { title: 'DKIM', cell: (x) => badge((x.Attributes.DkimAttributes || {}).Status) },
    { title: 'MAIL FROM', cell: (x) => {
      const m = x.Attributes.MailFromAttributes || {};
      return m.MailFromDomain ? h('span', {}, m.MailFromDomain + ' ', badge(m.MailFromDomainStatus)) : '—';
    } },
    { title: 'Last checked', cell: (x) => fmtTime((x.Attributes.VerificationInfo || {}).LastCheckedTimestamp) },
    { title: 'Sending', cell: (x) => badge(x.Attributes.VerifiedForSendingStatus ? 'ENABLED' : 'not verified') },
    can('ses:DeleteEmailIdentity') && { title: '', cell: (x) => h('button', { class: 'small danger',
      'data-delete-identity': x.IdentityName, onclick: () => deleteIdentity(x.IdentityName) }, 'Delete') },
  ].filter(Boolean), list, 'No identities yet.');
  // Each domain's records, looked up live.
  const box = $('identity-records');
  box.replaceChildren();
  for (const x of list.filter((i) => !i.IdentityName.includes('@')).slice(0, 25)) {
    const t = h('table', { 'data-domain': x.IdentityName });
    box.append(h('h3', {}, `DNS records for ${x.IdentityName}`), t);
    table(t, [{ title: 'Looking up…', cell: () => '' }], []);
    api('/admin/identities/records?domain=' + encodeURIComponent(x.IdentityName)).then((rec) => {
      table(t, [
        { title: 'Purpose', cell: (y) => y.Purpose },
        { title: 'Name', cell: (y) => y.Name, class: 'mono' },
        { title: 'Type', cell: (y) => y.Type },
        { title: 'Value', cell: (y) => h('span', {}, y.Value, ' ', h('button', { class: 'small secondary',
          title: 'Copy the value', onclick: () => copyText(y.Value) }, 'Copy')), class: 'mono' },
        { title: 'Status', cell: (y) => badge(y.Status) },
      ], rec.Records);
    }).catch(fail);
  }
}

async function copyText(text) {
  try { await navigator.clipboard.writeText(text); toast('Copied.'); } catch (e) { fail(e); }
}

async function addIdentity(ev) {
  ev.preventDefault();
  const name = $('identity-name').value.trim();
  try {
    await api('/admin/v2/email/identities', { method: 'POST', body: { EmailIdentity: name } });
    toast(`${name} created: publish its DNS records below.`);
    $('identity-name').value = '';
    await loadIdentities();
  } catch (e) { fail(e); }
}

async function deleteIdentity(name) {
  if (!confirm(`Delete the identity ${name}? Mail from it will be refused.`)) return;
  try {
    await api('/admin/v2/email/identities/' + encodeURIComponent(name), { method: 'DELETE' });
    toast(`${name} deleted.`);
    await loadIdentities();
  } catch (e) { fail(e); }
}

// Configuration sets with their sending switch (SES's
// PutConfigurationSetSendingOptions: pause and resume).
async function loadConfigSets() {
  const names = [];
  let token = '';
  do {
    const r = await api('/admin/v2/email/configuration-sets?PageSize=100' +
      (token ? '&NextToken=' + encodeURIComponent(token) : ''));
    names.push(...(r.ConfigurationSets || []));
    token = r.NextToken || '';
  } while (token && names.length < 1000);
  const sets = await Promise.all(names.map((n) => api('/admin/v2/email/configuration-sets/' + encodeURIComponent(n))));
  const enabled = (x) => !x.SendingOptions || x.SendingOptions.SendingEnabled !== false;
  table($('configsets'), [
    { title: 'Name', cell: (x) => h('span', { 'data-configset': x.ConfigurationSetName }, x.ConfigurationSetName) },
    { title: 'Sending', cell: (x) => badge(enabled(x) ? 'ENABLED' : 'PAUSED') },
    { title: 'TLS', cell: (x) => (x.DeliveryOptions || {}).TlsPolicy || 'OPTIONAL' },
    { title: 'Tags', cell: (x) => (x.Tags || []).map((t) => `${t.Key}=${t.Value}`).join(', ') },
    can('ses:PutConfigurationSetSendingOptions') && { title: '', cell: (x) => h('button', {
      class: enabled(x) ? 'small danger' : 'small', 'data-toggle-sending': x.ConfigurationSetName,
      onclick: () => setSending(x.ConfigurationSetName, !enabled(x)) }, enabled(x) ? 'Pause' : 'Resume') },
    can('ses:DeleteConfigurationSet') && { title: '', cell: (x) => h('button', { class: 'small danger',
      'data-delete-configset': x.ConfigurationSetName, onclick: () => deleteConfigSet(x.ConfigurationSetName) },
    'Delete') },
  ].filter(Boolean), sets, 'No configuration sets yet.');
}

async function addConfigSet(ev) {
  ev.preventDefault();
  const name = $('configset-name').value.trim();
  try {
    await api('/admin/v2/email/configuration-sets', { method: 'POST', body: { ConfigurationSetName: name } });
    toast(`${name} created.`);
    $('configset-name').value = '';
    await loadConfigSets();
  } catch (e) { fail(e); }
}

async function deleteConfigSet(name) {
  if (!confirm(`Delete the configuration set ${name}?`)) return;
  try {
    await api('/admin/v2/email/configuration-sets/' + encodeURIComponent(name), { method: 'DELETE' });
    toast(`${name} deleted.`);
    await loadConfigSets();
  } catch (e) { fail(e); }
}

// Templates: SES's own operations; the preview is TestRenderEmailTemplate
// of the saved template with the sample data, its HTML in a sandboxed frame
// (no script, no same-origin access).
async function loadTemplates() {
  const list = [];
  let token = '';
  do {  // SES lists at most 10 templates a page
    const r = await api('/admin/v2/email/templates?PageSize=10' +
      (token ? '&NextToken=' + encodeURIComponent(token) : ''));
    list.push(...(r.TemplatesMetadata || []));
    token = r.NextToken || '';
  } while (token && list.length < 1000);
  table($('templates'), [
    { title: 'Template', cell: (t) => h('span', { 'data-template': t.TemplateName }, t.TemplateName) },
    { title: 'Created', cell: (t) => fmtTime(t.CreatedTimestamp) },
    { title: '', cell: (t) => h('button', { class: 'small', onclick: () => editTemplate(t.TemplateName) }, 'Edit') },
  ], list, 'No templates yet.');
  $('template-edit').hidden = !can('ses:CreateEmailTemplate') && !can('ses:UpdateEmailTemplate');
}

async function editTemplate(name) {
  try {
    const t = await api('/admin/v2/email/templates/' + encodeURIComponent(name));
    const c = t.TemplateContent || {};
    $('template-name').value = t.TemplateName;
    $('template-subject').value = c.Subject || '';
    $('template-text').value = c.Text || '';
    $('template-html').value = c.Html || '';
    await previewTemplate(name);
  } catch (e) { fail(e); }
}

async function saveTemplate(ev) {
  ev.preventDefault();
  const name = $('template-name').value.trim();
  const content = { Subject: $('template-subject').value, Text: $('template-text').value,
    Html: $('template-html').value };
  for (const k of Object.keys(content)) if (!content[k]) delete content[k];
  const path = '/admin/v2/email/templates/' + encodeURIComponent(name);
  try {
    const exists = await api(path).then(() => true, () => false);
    if (exists) await api(path, { method: 'PUT', body: { TemplateContent: content } });
    else await api('/admin/v2/email/templates', { method: 'POST', body: { TemplateName: name, TemplateContent: content } });
    toast(`${name} saved.`);
    await loadTemplates();
    await previewTemplate(name);
  } catch (e) { fail(e); }
}

async function previewTemplate(name) {
  const box = $('template-preview');
  try {
    const r = await api('/admin/v2/email/templates/' + encodeURIComponent(name) + '/render',
      { method: 'POST', body: { TemplateData: $('template-data').value } });
    const parsed = parseMime(r.RenderedTemplate);
    const frame = h('iframe', { sandbox: '', title: 'HTML preview', class: 'preview' });
    frame.srcdoc = parsed.html || '';
    box.replaceChildren(h('h3', { 'data-preview-subject': '' }, parsed.subject),
      h('pre', { class: 'body', 'data-preview-text': '' }, parsed.text), parsed.html ? frame : '');
  } catch (e) {
    box.replaceChildren(h('p', { class: 'bad', 'data-preview-error': '' }, e.message));
  }
}

// Enough MIME for the preview: the Subject and the first text/plain and
// text/html parts (quoted-printable or base64, UTF-8).
function parseMime(raw) {
  const out = { subject: '', text: '', html: '' };
  const split = (m) => { const i = m.indexOf('\r\n\r\n'); return i < 0 ? [m, ''] : [m.slice(0, i), m.slice(i + 4)]; };
  const header = (head, name) => {
    const m = head.replace(/\r\n[ \t]+/g, ' ').match(new RegExp('^' + name + ':\\s*(.*)$', 'im'));
    return m ? m[1] : '';
  };
  const decodeWords = (v) => v.replace(/=\?utf-8\?([bq])\?([^?]*)\?=/gi, (_, enc, text) => {
    const bytes = enc.toLowerCase() === 'b' ? Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0))
      : qpBytes(text.replace(/_/g, ' '));
    return new TextDecoder().decode(bytes);
  });
  const qpBytes = (t) => {
    const soft = t.replace(/=\r\n/g, '');
    const bytes = [];
    for (let i = 0; i < soft.length; i++) {
      if (soft[i] === '=' && /^[0-9A-F]{2}$/i.test(soft.slice(i + 1, i + 3))) {
        bytes.push(parseInt(soft.slice(i + 1, i + 3), 16)); i += 2;
      } else bytes.push(soft.charCodeAt(i));
    }
    return Uint8Array.from(bytes);
  };
  const body = (head, text) => {
    const cte = header(head, 'Content-Transfer-Encoding').toLowerCase();
    if (cte === 'base64') return new TextDecoder().decode(Uint8Array.from(atob(text.replace(/\s+/g, '')), (ch) => ch.charCodeAt(0)));
    if (cte === 'quoted-printable') return new TextDecoder().decode(qpBytes(text));
    return text;
  };
  const walk = (m) => {
    const [head, rest] = split(m);
    const type = header(head, 'Content-Type').toLowerCase();
    const boundary = (header(head, 'Content-Type').match(/boundary="?([^";]+)"?/i) || [])[1];
    if (type.startsWith('multipart/') && boundary) {
      for (const part of rest.split('--' + boundary).slice(1)) {
        if (part.startsWith('--')) break;
        walk(part.replace(/^\r\n/, ''));
      }
    } else if (type.startsWith('text/html')) {
      out.html = out.html || body(head, rest);
    } else if (!out.text) {
      out.text = body(head, rest);
    }
  };
  const [head] = split(raw);
  out.subject = decodeWords(header(head, 'Subject'));
  walk(raw);
  return out;
}

async function setSending(name, on) {
  try {
    await api(`/admin/v2/email/configuration-sets/${encodeURIComponent(name)}/sending`,
      { method: 'PUT', body: { SendingEnabled: on } });
    toast(`${name}: sending ${on ? 'resumed' : 'paused'}.`);
    await loadConfigSets();
  } catch (e) { fail(e); }
}

// IAM's own operations (POST /admin/iam, IAM's XML answers), so the keys
// page is authorized exactly as `aws iam` would be.
async function iam(action, params = {}) {
  const res = await fetch('/admin/iam', {
    method: 'POST', credentials: 'same-origin',
    headers: { 'X-Sesame-Csrf': state.csrf, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ Action: action, ...params }).toString(),
  });
  const doc = new DOMParser().parseFromString(await res.text(), 'application/xml');
  if (!res.ok) {
    const msg = doc.querySelector('Message');
    throw new HttpError(res.status, msg ? msg.textContent : res.statusText);
  }
  return doc;
}
const xmlText = (node, tag) => { const n = node.getElementsByTagName(tag)[0]; return n ? n.textContent : ''; };

async function loadKeys() {
  const user = $('key-user').value.trim();
  const doc = await iam('ListAccessKeys', user ? { UserName: user } : {});
  const rows = [...doc.getElementsByTagName('member')].map((m) => ({
    id: xmlText(m, 'AccessKeyId'), status: xmlText(m, 'Status'), created: xmlText(m, 'CreateDate'),
    user: xmlText(m, 'UserName') }));
  table($('keys'), [
    { title: 'Access key', cell: (k) => h('span', { 'data-key': k.id }, k.id), class: 'mono' },
    { title: 'User', cell: (k) => k.user || (user || 'you') },
    { title: 'Status', cell: (k) => badge(k.status === 'Active' ? 'ENABLED' : 'INACTIVE') },
    { title: 'Created', cell: (k) => fmtTime(k.created) },
    can('iam:UpdateAccessKey') && { title: '', cell: (k) => h('button', { class: 'small',
      'data-key-toggle': k.id, onclick: () => keyAction('UpdateAccessKey', k.id,
        { Status: k.status === 'Active' ? 'Inactive' : 'Active' }) },
    k.status === 'Active' ? 'Deactivate' : 'Activate') },
    can('iam:DeleteAccessKey') && { title: '', cell: (k) => h('button', { class: 'small danger',
      'data-key-delete': k.id, onclick: () => keyAction('DeleteAccessKey', k.id) }, 'Delete') },
  ].filter(Boolean), rows, 'No access keys.');
}

async function keyAction(action, id, extra = {}) {
  if (action === 'DeleteAccessKey' && !confirm(`Delete ${id}? Clients using it stop working.`)) return;
  const user = $('key-user').value.trim();
  try {
    await iam(action, { AccessKeyId: id, ...(user ? { UserName: user } : {}), ...extra });
    toast(`${id}: ${action === 'DeleteAccessKey' ? 'deleted' : 'updated'}.`);
    await loadKeys();
  } catch (e) { fail(e); }
}

async function createKey(ev) {
  ev.preventDefault();
  const user = $('key-user').value.trim();
  try {
    const doc = await iam('CreateAccessKey', user ? { UserName: user } : {});
    const id = xmlText(doc, 'AccessKeyId'), secret = xmlText(doc, 'SecretAccessKey');
    const smtp = xmlText(doc, 'SmtpPassword');
    const line = (label, value, attr) => h('p', {}, h('strong', {}, label + ' '),
      h('span', { class: 'mono', [attr]: '' }, value), ' ',
      h('button', { class: 'small secondary', onclick: () => copyText(value) }, 'Copy'));
    const box = $('key-created');
    box.replaceChildren(h('p', {}, 'Shown once: store the secret now.'),
      line('Access key ID', id, 'data-new-key-id'), line('Secret access key', secret, 'data-new-key-secret'),
      line('SMTP user', id, 'data-new-smtp-user'), line('SMTP password', smtp, 'data-new-smtp-password'));
    box.hidden = false;
    await loadKeys();
  } catch (e) { fail(e); }
}

const OUTCOME_CLASS = { delivered: 'ok', deferred: 'warn', suppressed: 'bad', failed: 'bad', expired: 'bad' };

async function searchMessages(ev) {
  if (ev) ev.preventDefault();
  const q = $('message-q').value.trim();
  if (!q) return;
  const byRecipient = q.includes('@') && !/^[0-9a-f]{16}-/.test(q);
  const r = await api('/admin/messages?' + (byRecipient ? 'recipient=' : 'id=') + encodeURIComponent(q));
  const box = $('message-result');
  const items = r.records.map((x) => {
    const what = x.outcome || x.kind || x.type || x.event || 'event';
    return h('li', { class: OUTCOME_CLASS[what] || (x.bounceType || what === 'complaint' ? 'bad' : '') },
      h('div', {}, h('strong', {}, what), ' ', h('span', { class: 'muted' }, fmtTime(x.timestamp))),
      h('div', {}, x.recipient || x.to || '', x.messageId && byRecipient ? h('span', { class: 'mono' }, '  ' + x.messageId) : ''),
      h('div', { class: 'muted' }, [x.smtpResponse, x.diagnosticCode, x.bounceType && `${x.bounceType}/${x.bounceSubType || ''}`,
        x.attempt && `attempt ${x.attempt}`, x.remoteHost && `via ${x.remoteHost}`].filter(Boolean).join(' · ')));
  });
  box.replaceChildren(
    r.queued !== undefined ? h('p', {}, r.queued ? 'Still queued (recipients waiting for delivery).' : 'No longer queued.') : '',
    items.length ? h('ol', { class: 'timeline' }, items) : h('p', { class: 'muted' }, 'No records for this search.'));
}

// Sent messages by sender, recipient, subject and time, 50 a page; a row
// opens its headers and its timeline.
async function findMessages(append = false) {
  const q = new URLSearchParams();
  for (const k of ['from', 'to', 'subject']) {
    const v = $('filter-' + k).value.trim();
    if (v) q.set(k, v);
  }
  for (const k of ['since', 'until']) {
    const v = $('filter-' + k).value;
    if (v) q.set(k, String(Date.parse(v)));
  }
  if (append && state.messageNext) q.set('cursor', state.messageNext);
  const r = await api('/admin/messages/search?' + q.toString());
  state.messageRows = (append ? state.messageRows : []).concat(r.Messages);
  state.messageNext = r.Next;
  $('message-more').hidden = !r.Next;
  const t = table($('message-list'), [
    { title: 'Sent', cell: (m) => fmtTime(m.CreatedAt) },
    { title: 'From', cell: (m) => m.From || m.MailFrom },
    { title: 'To', cell: (m) => m.Recipients.join(', ') },
    { title: 'Subject', cell: (m) => h('span', { 'data-message': m.MessageId }, m.Subject) },
    { title: 'Configuration set', cell: (m) => m.ConfigurationSet },
  ], state.messageRows, 'No sent message matches.');
  [...t.tBodies[0].rows].forEach((tr, i) => {
    const m = state.messageRows[i];
    if (!m) return;
    tr.classList.add('clickable');
    tr.addEventListener('click', async () => {
      $('message-headers').replaceChildren(h('h3', {}, m.Subject || '(no subject)'),
        h('p', { class: 'mono' }, m.MessageId),
        h('table', { class: 'headers' }, h('tbody', {}, m.Headers.map(([k, v]) =>
          h('tr', {}, h('th', {}, k), h('td', { class: 'mono' }, v))))));
      $('message-q').value = m.MessageId;
      await searchMessages().catch(fail);
    });
  });
}

async function loadMail() {
  const r = await api('/_aws/ses');
  const list = r.messages.slice().reverse();
  const t = table($('mail-list'), [
    { title: 'Time', cell: (m) => fmtTime(m.Timestamp) },
    { title: 'From', cell: (m) => m.Source },
    { title: 'To', cell: (m) => (m.Destination.ToAddresses || []).join(', ') },
    { title: 'Subject', cell: (m) => m.Subject },
  ], list, 'No mail captured yet.');
  [...t.tBodies[0].rows].forEach((tr, i) => {
    if (!list[i]) return;
    tr.classList.add('clickable');
    tr.addEventListener('click', () => {
      [...t.tBodies[0].rows].forEach((x) => x.classList.remove('selected'));
      tr.classList.add('selected');
      const m = list[i];
      $('mail-view').replaceChildren(
        h('h3', {}, m.Subject || '(no subject)'),
        h('p', { class: 'mono' }, m.Id),
        h('pre', { class: 'body' }, m.Body.text_part ?? m.Body.html_part ?? ''),
        h('details', {}, h('summary', {}, 'Raw message'), h('pre', { class: 'body' }, m.RawData)));
    });
  });
}

const PAGES = {
  overview: loadOverview, reputation: loadReputation, queues: loadQueues,
  suppression: () => loadSuppression(), identities: loadIdentities, configsets: loadConfigSets,
  keys: loadKeys, templates: loadTemplates,
  messages: async () => {}, mail: loadMail,
};
// Pages that follow live state refresh themselves while shown.
const LIVE = new Set(['overview', 'reputation', 'queues']);

async function show(page) {
  if (!PAGES[page] || !pageAllowed(page)) page = Object.keys(PAGES).find(pageAllowed);
  state.page = page;
  for (const sec of document.querySelectorAll('.page')) sec.hidden = sec.id !== 'page-' + page;
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === page);
  clearInterval(state.timer);
  $('page-none').hidden = page !== undefined;
  if (page === undefined) { document.body.dataset.loaded = 'none'; return; }
  try { await PAGES[page](); } catch (e) { if (e.status !== 401) fail(e); }
  document.body.dataset.loaded = page;
  if (LIVE.has(page)) {
    state.timer = setInterval(() => PAGES[page]().catch(() => {}), 10000);
  }
}

// --- session ---------------------------------------------------------------
function showLogin() {
  clearInterval(state.timer);
  $('app').hidden = true;
  $('login').hidden = false;
  $('login-user').focus();
}

async function enter(session) {
  state.csrf = session.csrf;
  $('user').textContent = session.user;
  $('host').textContent = session.hostname || '';
  const perms = await api('/admin/permissions');
  state.allowed = perms.Allowed || {};
  state.localMailbox = session.localMailbox;
  for (const a of document.querySelectorAll('#nav a')) a.hidden = !pageAllowed(a.dataset.page);
  $('suppression-add').hidden = !can('ses:PutSuppressedDestination');
  $('identity-add').hidden = !can('ses:CreateEmailIdentity');
  $('key-create').hidden = !can('iam:CreateAccessKey');
  $('configset-add').hidden = !can('ses:CreateConfigurationSet');
  $('login').hidden = true;
  $('app').hidden = false;
  show(location.hash.slice(1) || 'overview');
}

async function login(ev) {
  ev.preventDefault();
  $('login-error').textContent = '';
  try {
    await api('/ui/login', { method: 'POST',
      body: { user: $('login-user').value.trim(), password: $('login-password').value } });
    $('login-password').value = '';
    await enter(await api('/ui/session'));
  } catch (e) {
    $('login-error').textContent = e.message;
  }
}

async function logout() {
  try { await api('/ui/logout', { method: 'POST' }); } catch { /* gone already */ }
  state.csrf = '';
  showLogin();
}

function init() {
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  window.addEventListener('hashchange', () => show(location.hash.slice(1)));
  $('range').addEventListener('change', () => loadOverview().catch(fail));
  $('scope').addEventListener('change', () => loadOverview().catch(fail));
  $('dlq-redrive-all').addEventListener('click', () => redrive(''));
  $('dlq-purge-all').addEventListener('click', async () => {
    if (!confirm('Drop every dead-lettered recipient for good?')) return;
    try {
      const r = await api('/admin/dlq/purge', { method: 'POST' });
      toast(`Purged ${r.Purged} recipient(s).`);
      await loadQueues();
    } catch (e) { fail(e); }
  });
  $('suppression-search').addEventListener('submit', (ev) => { ev.preventDefault(); loadSuppression().catch(fail); });
  $('suppression-more').addEventListener('click', () => loadSuppression(true).catch(fail));
  $('suppression-add').addEventListener('submit', addSuppression);
  $('identity-add').addEventListener('submit', addIdentity);
  $('key-create').addEventListener('submit', createKey);
  $('configset-add').addEventListener('submit', addConfigSet);
  $('template-edit').addEventListener('submit', saveTemplate);
  $('key-user').addEventListener('change', () => loadKeys().catch(fail));
  $('message-search').addEventListener('submit', (ev) => searchMessages(ev).catch(fail));
  $('message-filter').addEventListener('submit', (ev) => { ev.preventDefault(); findMessages().catch(fail); });
  $('message-more').addEventListener('click', () => findMessages(true).catch(fail));
  $('mail-clear').addEventListener('click', async () => {
    if (!confirm('Delete every captured message?')) return;
    try { await api('/_aws/ses', { method: 'DELETE' }); await loadMail(); } catch (e) { fail(e); }
  });
  api('/ui/session').then(enter).catch(showLogin);
}

init();
