// The admin console: scopes by how close they are to their hard limit, a form for a scope's limits, the
// system settings and read-only state, the audit log and webhook deliveries, all read and changed through
// the admin API with the token the reader gives (the URL fragment, #token=..., never sent, or the form).
// The page holds no logic the API does not: every check is the API's, and its error is shown in place.
//
// Where things plug in: a panel is an entry of PANELS (its load() fills it; the log panels are in
// console-logs.js, and optional() in console-api.js turns an endpoint this proxy does not serve, a 404,
// into "not available"); a field of the limits form is an entry of LIMIT_FIELDS (sent in the
// PUT /api/v1/limits body, or by its own save() when another endpoint owns it, as a group share would).
//
// For the browser tests: <body data-state> ends "rendered" or "error"; #scopes carries data-rendered (the
// order drawn), each form data-state (idle, saving, saved, error), each optional panel data-state.
import { $, api, element, exactDuration, exactSize, humanBytes, limitText, message, percent } from '/console/console-api.js';
import { AUDIT_PAGE, auditPanel, deliveriesPanel } from '/console/console-logs.js';
import { loadGroups, saveShares, sharesText } from '/console/console-shares.js';

const SCOPE_PAGE = 1000; // the API's largest page
const MAX_SCOPE_PAGES = 20;

// ---- scopes ----------------------------------------------------------------------------------

// A figure over its hard limit (-1 or absent: none), or null.
function share(taken, hard) {
  if (hard == null || hard < 0) return null;
  if (hard === 0) return taken > 0 ? Number.MAX_VALUE : 1;
  return taken / hard;
}

// How close a scope is to a hard limit: the closest of its storage (used and reserved bytes) and its counts
// (repositories, manifests) to theirs; null without any hard limit. A scope at its repository limit is as full
// as one at its storage limit: the next new repository is refused.
function closeness(scope) {
  const shares = [share(scope.used + scope.reserved, scope.limits.storage_hard),
    share(scope.repositories, scope.limits.repositories_hard), share(scope.manifests, scope.limits.manifests_hard)]
    .filter((s) => s != null);
  return shares.length === 0 ? null : Math.max(...shares);
}

// "3 of 10 repositories (soft 8)" for each count with a limit.
function countFigures(scope) {
  const figures = [];
  for (const [count, noun] of [['repositories', 'repositories'], ['manifests', 'manifests']]) {
    const hard = scope.limits[count + '_hard'];
    const soft = scope.limits[count + '_soft'];
    if (hard >= 0) figures.push(scope[count] + ' of ' + hard + ' ' + noun + (soft >= 0 ? ' (soft ' + soft + ')' : ''));
    else if (soft >= 0) figures.push(scope[count] + ' ' + noun + ' (soft ' + soft + ')');
  }
  return figures;
}

// Whether a count is at its hard limit, or at or over its soft one.
function countsAt(scope, kind) {
  return ['repositories', 'manifests'].some((count) => {
    const limit = scope.limits[count + '_' + kind];
    return limit != null && limit >= 0 && scope[count] >= limit;
  });
}

// Closest first; scopes without a hard limit last, the largest of them first; ties by name.
function byCloseness(a, b) {
  const ca = closeness(a);
  const cb = closeness(b);
  if (ca !== cb) {
    if (ca == null) return 1;
    if (cb == null) return -1;
    return cb - ca;
  }
  const taken = b.used + b.reserved - (a.used + a.reserved);
  return ca == null && taken !== 0 ? taken : a.scope < b.scope ? -1 : a.scope > b.scope ? 1 : 0;
}

async function allScopes() {
  const scopes = [];
  let total = 0;
  for (let page = 0; page < MAX_SCOPE_PAGES; page++) {
    const answer = await api('GET', '/scopes?sort=name&order=asc&limit=' + SCOPE_PAGE + '&offset=' + page * SCOPE_PAGE);
    scopes.push(...answer.scopes);
    total = answer.total;
    if (scopes.length >= total || answer.scopes.length === 0) break;
  }
  return { scopes, total };
}

function scopeRow(scope, unlimitedScale) {
  const hard = scope.limits.storage_hard;
  const soft = scope.limits.storage_soft;
  const taken = scope.used + scope.reserved;
  const limited = hard >= 0;
  // Room past the hard mark, so a scope at or over its limit shows it (the bar's end is no mark).
  const scale = limited ? Math.max(hard, taken, soft, 1) * 1.05 : unlimitedScale;
  const at = (bytes) => Math.min(100, (bytes / scale) * 100) + '%';
  const close = closeness(scope);

  const row = element('div', 'scope');
  row.dataset.scope = scope.scope;
  if (close != null) row.dataset.closeness = String(close);
  if (close == null) row.classList.add('unlimited');
  if ((limited && taken >= hard) || countsAt(scope, 'hard')) row.classList.add('full');
  else if ((soft >= 0 && taken >= soft) || countsAt(scope, 'soft')) row.classList.add('over-soft');

  const bar = element('div', 'bar');
  const used = element('span', 'used');
  used.style.width = at(scope.used);
  const reserved = element('span', 'reserved');
  reserved.style.left = at(scope.used);
  reserved.style.width = at(scope.reserved);
  bar.append(used, reserved);
  if (limited && soft >= 0) bar.append(mark('soft', at(soft), 'soft limit ' + humanBytes(soft)));
  if (limited) bar.append(mark('hard', at(hard), 'hard limit ' + humanBytes(hard)));

  let figures = humanBytes(scope.used) + (scope.reserved > 0 ? ' + ' + humanBytes(scope.reserved) + ' reserved' : '');
  const storageShare = share(taken, hard);
  figures = limited
    ? percent(Math.min(storageShare, 99.99)) + ' · ' + figures + ' of ' + humanBytes(hard) + (soft >= 0 ? ' (soft ' + humanBytes(soft) + ')' : '')
    : figures + ', no hard storage limit';
  figures = [figures, ...countFigures(scope)].join(' · ');
  row.append(element('span', 'name', scope.scope), bar, element('span', 'figures', figures));
  row.title = scope.scope + ': ' + figures;
  row.addEventListener('click', () => editScope(scope));
  return row;
}

function mark(kind, left, title) {
  const made = element('span', 'mark ' + kind);
  made.style.left = left;
  made.title = title;
  return made;
}

const scopesPanel = {
  id: 'scopes-panel',
  async load() {
    const [{ scopes, total }] = await Promise.all([allScopes(), loadGroups()]);
    scopes.sort(byCloseness);
    const unlimitedScale = Math.max(1, ...scopes.filter((s) => closeness(s) == null).map((s) => s.used + s.reserved));
    $('scopes').replaceChildren(...scopes.map((scope) => scopeRow(scope, unlimitedScale)));
    if (scopes.length === 0) $('scopes').append(element('p', 'hint', 'No scope has a limit or usage yet.'));
    $('scopes').dataset.rendered = JSON.stringify({ count: scopes.length, total, order: scopes.map((s) => s.scope) });
    return scopes.length + (scopes.length < total ? ' of ' + total : '') + ' scopes';
  },
};

// ---- the limits form -------------------------------------------------------------------------

// One entry per field; value(limits, scope) fills it from a scope's limits. An entry with save(scope, text)
// is not part of the limits body: it is sent by itself once the limits are set.
const LIMIT_FIELDS = [
  { name: 'storage_hard', label: 'Hard storage', placeholder: '10GiB', value: (l) => exactSize(l.storage_hard) },
  { name: 'storage_soft', label: 'Soft storage', placeholder: '80% or 8GiB', value: (l) => exactSize(l.storage_soft) },
  { name: 'egress', label: 'Egress per window', placeholder: '50GiB', value: (l) => exactSize(l.egress) },
  { name: 'egress_window', label: 'Egress window', placeholder: '1d (default 1h)', value: (l) => (l.egress >= 0 ? exactDuration(l.egress_window_seconds) : '') },
  { name: 'repositories_hard', label: 'Hard repositories', placeholder: '10', value: (l) => countText(l.repositories_hard) },
  { name: 'repositories_soft', label: 'Soft repositories', placeholder: '8', value: (l) => countText(l.repositories_soft) },
  { name: 'manifests_hard', label: 'Hard manifests', placeholder: '500', value: (l) => countText(l.manifests_hard) },
  { name: 'manifests_soft', label: 'Soft manifests', placeholder: '400', value: (l) => countText(l.manifests_soft) },
  { name: 'shares', label: 'Shares in groups', placeholder: 'uni: 60%, corp: 40%', value: (l, scope) => sharesText(scope), save: saveShares },
];

function buildLimitFields() {
  $('limit-fields').replaceChildren(...LIMIT_FIELDS.map((field) => {
    const label = element('label', null, field.label + ' ');
    const input = element('input');
    input.id = 'limit-' + field.name;
    input.name = field.name;
    input.placeholder = field.placeholder;
    label.append(input);
    return label;
  }));
}

function editScope(scope) {
  $('limit-scope').value = scope.scope;
  for (const field of LIMIT_FIELDS) $('limit-' + field.name).value = field.value(scope.limits, scope.scope);
  document.querySelectorAll('.scope.selected').forEach((row) => row.classList.remove('selected'));
  document.querySelectorAll('.scope').forEach((row) => row.classList.toggle('selected', row.dataset.scope === scope.scope));
  message('limits-message', '');
}

// A count limit as the form shows it: empty for none (-1, or absent from an older API).
const countText = (count) => (count != null && count >= 0 ? String(count) : '');

// Digits are bytes or counts (or -1); anything else is text the API parses (500M, 80%, 1d).
const sizeValue = (text) => (/^-?\d+$/.test(text) ? Number(text) : text);

// The API names the field it refuses first in its message ("storage_soft must not exceed ...").
function markInvalid(text) {
  for (const field of LIMIT_FIELDS) {
    $('limit-' + field.name).classList.toggle('invalid', text != null && text.startsWith(field.name + ' '));
  }
}

async function changeLimits(remove) {
  const form = $('limits-form');
  const scope = $('limit-scope').value.trim();
  if (!scope) {
    message('limits-message', 'Name a scope first.', 'error');
    return;
  }
  form.dataset.state = 'saving';
  markInvalid(null);
  message('limits-message', remove ? 'Removing...' : 'Saving...');
  try {
    let text;
    if (remove) {
      await api('DELETE', '/limits?scope=' + encodeURIComponent(scope));
      text = scope + ' has no limits now.';
    } else {
      const body = {};
      for (const field of LIMIT_FIELDS.filter((f) => !f.save)) {
        const value = $('limit-' + field.name).value.trim();
        if (value) body[field.name] = field.name === 'egress_window' ? value : sizeValue(value);
      }
      const set = await api('PUT', '/limits?scope=' + encodeURIComponent(scope), body);
      for (const field of LIMIT_FIELDS.filter((f) => f.save)) await field.save(scope, $('limit-' + field.name).value.trim());
      text = scope + ': hard ' + limitText(set.storage_hard) + ', soft ' + limitText(set.storage_soft) + ', egress '
        + limitText(set.egress) + (set.egress >= 0 ? ' per ' + exactDuration(set.egress_window_seconds) : '')
        + (set.repositories_hard >= 0 ? ', repositories ' + set.repositories_hard : '')
        + (set.manifests_hard >= 0 ? ', manifests ' + set.manifests_hard : '')
        + (set.in_force ? ', in force.' : '. ' + (set.message || ''));
    }
    form.dataset.state = 'saved';
    message('limits-message', text, 'ok');
    await refresh(['scopes-panel', 'audit-panel']);
  } catch (error) {
    form.dataset.state = 'error';
    markInvalid(error.message);
    message('limits-message', error.message, 'error');
  }
}

// ---- system settings -------------------------------------------------------------------------

let system = null;

function fact(term, value, on) {
  const dd = element('dd', on ? 'on' : null, value);
  return [element('dt', null, term), dd];
}

const systemPanel = {
  id: 'system-panel',
  async load() {
    system = await api('GET', '/system');
    const usage = system.usage;
    const readOnly = system.read_only;
    const yesNo = (value) => (value == null ? 'unknown' : value ? 'yes' : 'no');
    $('system-state').replaceChildren(
      ...fact('Read-only', readOnly.in_force ? 'yes: pushes are refused' : readOnly.in_force == null ? 'unknown' : 'no', readOnly.in_force),
      ...fact('Read-only computed, forced', yesNo(readOnly.computed) + ', ' + yesNo(readOnly.forced)),
      ...fact('Usage', usage == null ? 'unknown (the quota store cannot be reached)'
        : humanBytes(usage.used) + (usage.reserved ? ' + ' + humanBytes(usage.reserved) + ' reserved' : '') + ' of '
          + limitText(system.hard_storage) + (usage.ratio == null ? '' : ' (' + percent(usage.ratio) + ')')),
      ...fact('Write ratio', system.write_ratio),
      ...fact('Changed', (system.updated_by || '') + ' ' + (system.updated_at || '')));
    $('system-hard_storage').value = system.hard_storage < 0 ? '-1' : exactSize(system.hard_storage);
    $('system-write_ratio').value = system.write_ratio;
    $('system-retention_days').value = system.retention_days;
    $('system-allow_overcommit').checked = system.allow_overcommit;
    $('system-read_only').checked = readOnly.forced;
    return null;
  },
};

// Only the fields changed are sent: a PUT leaves the others as they are.
async function saveSystem() {
  const form = $('system-form');
  const shown = {
    hard_storage: system.hard_storage < 0 ? '-1' : exactSize(system.hard_storage),
    write_ratio: system.write_ratio,
    retention_days: String(system.retention_days),
  };
  const body = {};
  for (const name of Object.keys(shown)) {
    const value = $('system-' + name).value.trim();
    if (value !== shown[name]) body[name] = name === 'write_ratio' ? value : sizeValue(value);
  }
  if ($('system-allow_overcommit').checked !== system.allow_overcommit) body.allow_overcommit = $('system-allow_overcommit').checked;
  if ($('system-read_only').checked !== system.read_only.forced) body.read_only = $('system-read_only').checked;
  if (Object.keys(body).length === 0) {
    message('system-message', 'Nothing changed.');
    return;
  }
  form.dataset.state = 'saving';
  try {
    await api('PUT', '/system', body);
    form.dataset.state = 'saved';
    message('system-message', 'Saved: ' + Object.keys(body).join(', ') + '.', 'ok');
    await refresh(['system-panel', 'audit-panel']);
  } catch (error) {
    form.dataset.state = 'error';
    message('system-message', error.message, 'error');
  }
}

const PANELS = [scopesPanel, systemPanel, auditPanel, deliveriesPanel];

// ---- loading ---------------------------------------------------------------------------------

function status(text, error) {
  $('status').textContent = text;
  $('status').className = error ? 'error' : '';
}

// Loads the panels named (all by default) side by side; one failing says so in the status line, and the
// others still show. A 401 (a wrong token) fails them all with the same message.
async function refresh(ids) {
  const panels = PANELS.filter((panel) => !ids || ids.includes(panel.id));
  document.body.dataset.state = 'loading';
  const results = await Promise.allSettled(panels.map((panel) => panel.load()));
  const failures = new Map(); // message -> the panels that failed with it (a wrong token fails them all alike)
  results.forEach((result, i) => {
    $(panels[i].id).classList.toggle('failed', result.status === 'rejected');
    if (result.status !== 'rejected') return;
    const why = result.reason.message;
    failures.set(why, (failures.get(why) || []).concat(panels[i].id.replace('-panel', '')));
  });
  const summary = results.map((r) => r.value).filter(Boolean).join(', ');
  document.body.dataset.state = failures.size ? 'error' : 'rendered';
  status(failures.size
    ? [...failures].map(([why, names]) => 'Could not load ' + names.join(', ') + ': ' + why).join('; ')
    : 'Loaded ' + summary + ' at ' + new Date().toISOString(), failures.size > 0);
}

function start() {
  buildLimitFields();
  const settings = new URLSearchParams(location.hash.replace(/^#/, ''));
  if (settings.get('token')) $('token').value = settings.get('token');
  $('controls').addEventListener('submit', (event) => {
    event.preventDefault();
    refresh();
  });
  $('limits-form').addEventListener('submit', (event) => {
    event.preventDefault();
    changeLimits(false);
  });
  $('limit-remove').addEventListener('click', () => changeLimits(true));
  $('system-form').addEventListener('submit', (event) => {
    event.preventDefault();
    saveSystem();
  });
  $('audit-newer').addEventListener('click', () => {
    auditPanel.offset = Math.max(0, auditPanel.offset - AUDIT_PAGE);
    refresh(['audit-panel']);
  });
  $('audit-older').addEventListener('click', () => {
    auditPanel.offset += AUDIT_PAGE;
    refresh(['audit-panel']);
  });
  if ($('token').value) refresh();
}

start();
