// The console's log panels: the audit log of admin changes (paged, newest first) and webhook deliveries,
// a panel that says "not available" where this proxy does not serve them (GET /api/v1/webhooks/deliveries
// answers 404).
import { $, api, element, exactDuration, limitText, message, optional } from '/console/console-api.js';

export const AUDIT_PAGE = 15;
const BYTE_FIELDS = new Set(['storage_hard', 'storage_soft', 'egress', 'hard_storage']);

// What changed: the fields of one side that differ from the other, sizes in binary units, windows as
// durations, the write ratio (a fraction in the log) as a percentage.
function describe(side, other) {
  if (side == null) return '(none)';
  return Object.keys(side).filter((key) => other == null || JSON.stringify(side[key]) !== JSON.stringify(other[key]))
    .map((key) => key + ' ' + shown(key, side[key])).join(', ');
}

function shown(key, value) {
  if (typeof value !== 'number') return JSON.stringify(value);
  if (BYTE_FIELDS.has(key)) return limitText(value);
  if (key.endsWith('_seconds')) return exactDuration(value);
  if (key === 'write_ratio') return Math.round(value * 100) + '%';
  return String(value);
}

function tableRow(cells) {
  const row = element('tr');
  for (const [text, className] of cells) row.append(element('td', className, text));
  return row;
}

export const auditPanel = {
  offset: 0, // the page shown, moved by the Newer and Older buttons
  id: 'audit-panel',
  async load() {
    const page = await api('GET', '/audit?limit=' + AUDIT_PAGE + '&offset=' + this.offset);
    $('audit').tBodies[0].replaceChildren(...page.entries.map((e) => tableRow([[e.at], [e.actor], [e.action], [e.subject],
      [describe(e.before, e.after), 'json'], [describe(e.after, e.before), 'json']])));
    $('audit-range').textContent = page.total === 0 ? 'no entries'
      : this.offset + 1 + '-' + (this.offset + page.entries.length) + ' of ' + page.total + ', newest first';
    $('audit-newer').disabled = this.offset === 0;
    $('audit-older').disabled = this.offset + page.entries.length >= page.total;
    $('audit').dataset.rendered = JSON.stringify({ total: page.total, offset: this.offset, shown: page.entries.length });
    return null;
  },
};

// The fields of GET /api/v1/webhooks/deliveries: the state with the receiver's last answer.
function state(delivery) {
  return delivery.state + (delivery.last_status != null ? ' (HTTP ' + delivery.last_status + ')' : '')
    + (delivery.last_error ? ': ' + delivery.last_error : '');
}

export const deliveriesPanel = {
  id: 'deliveries-panel',
  async load() {
    const page = await optional('/webhooks/deliveries?limit=20');
    if (page == null) {
      $('deliveries-panel').dataset.state = 'unavailable';
      message('deliveries-message', 'Not available: this proxy does not serve webhook deliveries.');
      return null;
    }
    $('deliveries').tBodies[0].replaceChildren(...page.deliveries.map((d) => tableRow([[d.occurred_at], [d.type], [d.scope],
      [d.endpoint || d.url], [state(d)], [String(d.attempts)]])));
    message('deliveries-message', page.total === 0 ? 'No deliveries yet.' : page.deliveries.length + ' of ' + page.total + ', newest first');
    $('deliveries-panel').dataset.state = 'rendered';
    return null;
  },
};

