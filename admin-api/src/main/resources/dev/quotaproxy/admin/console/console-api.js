// What the console's panels share: sizes written as the report page and the proxy's refusals write them,
// and calls to the admin API with the token in the page's token field, its JSON errors thrown as ApiError. An ES module,
// as console.js is: browsers load both as they are, no build step.
const UNITS = [['TiB', 2 ** 40], ['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]];
export const $ = (id) => document.getElementById(id);

// ---- formatting ------------------------------------------------------------------------------

// As the report page and the proxy's refusals write sizes: 300.0 KiB.
export function humanBytes(bytes) {
  if (bytes < 1024) return bytes + ' B';
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = -1;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return value.toFixed(1) + ' ' + units[unit];
}

// A size the form can send back unchanged: 300KiB when exact, else bytes; empty for unlimited.
export function exactSize(bytes) {
  if (bytes == null || bytes < 0) return '';
  for (const [name, unit] of UNITS) {
    if (bytes >= unit && bytes % unit === 0) return bytes / unit + name;
  }
  return String(bytes);
}

export function exactDuration(seconds) {
  for (const [name, unit] of [['d', 86400], ['h', 3600], ['m', 60]]) {
    if (seconds >= unit && seconds % unit === 0) return seconds / unit + name;
  }
  return seconds + 's';
}

export const limitText = (bytes) => (bytes == null || bytes < 0 ? 'unlimited' : humanBytes(bytes));
export const percent = (ratio) => (ratio == null ? '' : Math.round(ratio * 100) + '%');

export function element(tag, className, text) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text != null) made.textContent = text;
  return made;
}

// ---- the API ---------------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api(method, path, body) {
  const headers = { Authorization: 'Bearer ' + $('token').value.trim() };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch('/api/v1' + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!response.ok) {
    let error = { code: 'HTTP_' + response.status, message: response.status + ' ' + response.statusText };
    try {
      error = (await response.json()).error;
    } catch (ignored) {
      // not the API's JSON error: the status says enough
    }
    throw new ApiError(response.status, error.code, error.message);
  }
  return response.status === 204 ? null : response.json();
}

// An endpoint this proxy may not serve (a feature another version adds): null when it answers 404 or 501.
export async function optional(path) {
  try {
    return await api('GET', path);
  } catch (error) {
    if (error.status === 404 || error.status === 501) return null;
    throw error;
  }
}

export function message(id, text, kind) {
  $(id).textContent = text;
  $(id).className = 'message' + (kind ? ' ' + kind : '');
}
