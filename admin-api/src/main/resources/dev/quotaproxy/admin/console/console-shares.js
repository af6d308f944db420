// A scope's shares in report groups, as the limits form shows and edits them: "uni: 60%, corp: 40%".
// The groups API owns shares, so the field is saved through it, one group at a time, after the limits
// (see changeLimits in console.js). Only the groups the text names change: "corp: -" takes the scope
// out of corp (counting it whole there instead would add 100% to its other shares, which the API
// refuses), and a group the text leaves out keeps what it has, so saving limits of a scope typed by
// hand never drops its shares. Lowered shares are sent first, so moving 20% from one group to
// another is not refused for adding up to 120% on the way; a refusal (400 SHARES_OVER_100 naming the
// scope and the sum) stops there and is shown in place like any other.
import { api } from '/console/console-api.js';

let groups = [];

/** Reads the groups again (what a viewer may see of them; none when the API refuses). */
export async function loadGroups() {
  try {
    groups = (await api('GET', '/groups')).groups;
  } catch (ignored) {
    groups = [];
  }
}

const shareOf = (group, scope) => (group && group.shares && group.shares[scope] != null ? Number(group.shares[scope]) : null);

export function sharesText(scope) {
  return groups.filter((group) => shareOf(group, scope) != null).map((group) => group.name + ': ' + shareOf(group, scope) + '%').join(', ');
}

// "uni: 60%, corp: -" as group -> percent, or null for "out of that group".
export function parseShares(text) {
  const wanted = new Map();
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const match = /^([^:\s]+)\s*:\s*(-|\d+(?:\.\d+)?)\s*%?$/.exec(part);
    if (!match) throw new Error('share "' + part + '": write a group and a percent, as uni: 60%, or uni: - to take the scope out of uni');
    wanted.set(match[1], match[2] === '-' ? null : Number(match[2]));
  }
  return wanted;
}

export async function saveShares(scope, text) {
  const wanted = parseShares(text);
  if (wanted.size === 0) return;
  // Groups as they are now, not as the page last drew them: each PUT replaces a whole group.
  await loadGroups();
  const byName = new Map(groups.map((group) => [group.name, group]));
  const changes = [...wanted].filter(([name, share]) => share !== shareOf(byName.get(name), scope));
  const delta = ([name, share]) => (share ?? 0) - (shareOf(byName.get(name), scope) ?? 0);
  changes.sort((a, b) => delta(a) - delta(b));
  try {
    for (const [name, share] of changes) {
      const group = byName.get(name);
      const body = { scopes: group ? [...group.scopes] : [], shares: { ...((group && group.shares) || {}) } };
      if (group && group.description) body.description = group.description;
      if (share == null) {
        body.scopes = body.scopes.filter((member) => member !== scope);
        delete body.shares[scope];
        if (body.scopes.length === 0) throw new Error(name + ' would have no member left: delete the group instead');
      } else {
        if (!body.scopes.includes(scope)) body.scopes.push(scope);
        body.shares[scope] = share;
      }
      await api('PUT', '/groups/' + encodeURIComponent(name), body);
    }
  } finally {
    await loadGroups();
  }
}
