// The report page: reads a usage report from the admin API with the token the reader gives and draws
// it with ECharts. The token comes from the URL fragment (#token=..., never sent to the server) or the
// form, and goes only into the Authorization header of this page's own API calls.
//
// Every chart says what it drew in a data-rendered attribute (JSON), and <body data-state> ends as
// "rendered" or "error": a headless browser test reads them from the DOM.
'use strict';

(function () {
  const PERIODS = {
    '48h': { granularity: 'hour', hours: 48 },
    '7d': { granularity: 'hour', hours: 7 * 24 },
    '30d': { granularity: 'day', hours: 30 * 24 },
    '365d': { granularity: 'day', hours: 365 * 24 },
  };
  const MAX_SERIES = 8;
  const TOP = 10;

  const $ = (id) => document.getElementById(id);
  const charts = {};

  function humanBytes(bytes) {
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

  // Settings from the fragment: #token=...&period=7d&scope=acme&group=uni&from=2026-11-01&to=2026-11-24
  function fromFragment() {
    const settings = new URLSearchParams(location.hash.replace(/^#/, ''));
    for (const name of ['token', 'period', 'scope', 'from', 'to']) {
      if (settings.get(name)) $(name).value = settings.get(name);
    }
    return settings;
  }

  function status(text, error) {
    $('status').textContent = text;
    $('status').className = error ? 'error' : '';
  }

  async function api(path) {
    const response = await fetch(path, { headers: { Authorization: 'Bearer ' + $('token').value.trim() } });
    if (!response.ok) {
      let message = response.status + ' ' + response.statusText;
      try {
        message = (await response.json()).error.message;
      } catch (ignored) {
        // not the API's JSON error: the status says enough
      }
      throw new Error(message);
    }
    return response;
  }

  function reportQuery(extra) {
    const params = new URLSearchParams(extra);
    const period = $('period').value;
    if (period === 'custom') {
      params.set('granularity', 'day');
      if ($('from').value) params.set('from', $('from').value);
      if ($('to').value) params.set('to', $('to').value);
    } else {
      const chosen = PERIODS[period];
      params.set('granularity', chosen.granularity);
      params.set('from', new Date(Date.now() - chosen.hours * 3600 * 1000).toISOString().replace(/\.\d+Z$/, 'Z'));
    }
    if ($('scope').value.trim()) params.set('scope', $('scope').value.trim());
    if ($('group').value) params.set('group', $('group').value);
    return params;
  }

  // Scopes nest (acme holds acme/app): the keys not under another key of the report add up to the
  // whole without counting anything twice.
  function outermost(keys) {
    const set = new Set(keys);
    return keys.filter((key) => {
      const parts = key.split('/');
      for (let i = 1; i < parts.length; i++) {
        if (set.has(parts.slice(0, i).join('/'))) return false;
      }
      return true;
    });
  }

  // What the charts show: the outermost scopes, and with a single one, the scopes right under it too.
  function displayKeys(keys) {
    const top = outermost(keys);
    if (top.length !== 1) return top;
    const depth = top[0].split('/').length + 1;
    return top.concat(keys.filter((key) => key.startsWith(top[0] + '/') && key.split('/').length === depth));
  }

  function byKey(rows) {
    const keys = new Map();
    for (const row of rows) {
      if (!keys.has(row.key)) keys.set(row.key, []);
      keys.get(row.key).push(row);
    }
    return keys;
  }

  function peak(rows) {
    return rows.reduce((max, row) => Math.max(max, row.storage_bytes), 0);
  }

  function chart(id) {
    if (!charts[id]) charts[id] = echarts.init($(id));
    return charts[id];
  }

  const bytesAxis = { type: 'value', axisLabel: { formatter: humanBytes } };
  const tooltip = {
    trigger: 'axis',
    valueFormatter: (value) => humanBytes(Array.isArray(value) ? value[1] : value),
  };

  // A key's figure as a step line: each row's high at its bucket, what the bucket left at its end (unless the
  // next row starts there), held to the next point.
  function steps(rows, high, end, bucketMillis) {
    const points = [];
    rows.forEach((row, i) => {
      points.push([Date.parse(row.bucket), row[high]]);
      const ends = Date.parse(row.bucket) + bucketMillis;
      const next = rows[i + 1];
      if (row[end] !== row[high] && (!next || Date.parse(next.bucket) > ends)) points.push([ends, row[end]]);
    });
    return points;
  }

  function bucketMillis(report) {
    return (report.granularity === 'hour' ? 1 : 24) * 3600 * 1000;
  }

  function drawStorage(report, rowsByKey, shown) {
    const series = shown.slice(0, MAX_SERIES).map((key) => {
      const rows = rowsByKey.get(key);
      // A bucket that left less than its high (a delete) steps down at its end.
      const data = steps(rows, 'storage_bytes', 'storage_end_bytes', bucketMillis(report));
      // Storage holds until it changes: the line goes on to the end of the period, at the level last left.
      data.push([Date.parse(report.to), rows[rows.length - 1].storage_end_bytes]);
      // Few points (a scope new in the period) get their markers, or a late change would be a speck.
      return { name: key, type: 'line', step: 'end', showSymbol: rows.length <= 3, lineStyle: { width: 2 }, data };
    });
    chart('storage-chart').setOption(overTime(report, series), true);
    const points = series.reduce((n, s) => n + s.data.length, 0);
    $('storage-chart').dataset.rendered = JSON.stringify({
      series: series.length, points, keys: series.map((s) => s.name),
      peak_bytes: series.reduce((sum, s) => sum + peak(rowsByKey.get(s.name)), 0),
      end_bytes: series.reduce((sum, s) => sum + s.data[s.data.length - 1][1], 0),
    });
  }

  // Both charts over time share their frame: the report's period on the x axis, bytes on the y axis.
  function overTime(report, series) {
    return {
      animation: false,
      tooltip,
      legend: { top: 0 },
      grid: { left: 80, right: 20, top: 40, bottom: 30 },
      xAxis: { type: 'time', min: report.from, max: report.to },
      yAxis: bytesAxis,
      series,
    };
  }

  function drawTop(rowsByKey, shown) {
    const top = shown.map((key) => ({ key, peak: peak(rowsByKey.get(key)) }))
      .sort((a, b) => b.peak - a.peak).slice(0, TOP).reverse();
    chart('top-chart').setOption({
      animation: false,
      tooltip: { trigger: 'axis', valueFormatter: humanBytes },
      grid: { left: 120, right: 30, top: 10, bottom: 30 },
      xAxis: bytesAxis,
      yAxis: { type: 'category', data: top.map((t) => t.key) },
      series: [{ name: 'peak storage', type: 'bar', data: top.map((t) => t.peak), itemStyle: { color: '#3d6fd8' } }],
    }, true);
    $('top-chart').dataset.rendered = JSON.stringify({
      bars: top.length, first: top.length ? top[top.length - 1].key : null,
      values: Object.fromEntries(top.map((t) => [t.key, t.peak])),
    });
  }

  function drawTraffic(report, rowsByKey, counted) {
    const buckets = new Map();
    for (const key of counted) {
      for (const row of rowsByKey.get(key)) {
        const sums = buckets.get(row.bucket) || [0, 0];
        sums[0] += row.ingress_bytes;
        sums[1] += row.egress_bytes;
        buckets.set(row.bucket, sums);
      }
    }
    const times = [...buckets.keys()].sort();
    const ingress = times.map((t) => [t, buckets.get(t)[0]]);
    const egress = times.map((t) => [t, buckets.get(t)[1]]);
    chart('traffic-chart').setOption(overTime(report, [
      { name: 'ingress', type: 'bar', barMaxWidth: 14, data: ingress, itemStyle: { color: '#2e9e6b' } },
      { name: 'egress', type: 'bar', barMaxWidth: 14, data: egress, itemStyle: { color: '#d8843d' } },
    ]), true);
    $('traffic-chart').dataset.rendered = JSON.stringify({
      series: 2, points: times.length,
      ingress_bytes: ingress.reduce((sum, p) => sum + p[1], 0),
      egress_bytes: egress.reduce((sum, p) => sum + p[1], 0),
    });
  }

  // The repositories and manifests of the outermost scopes, added up: every key's steps, summed where any moves.
  function drawCounts(report, rowsByKey, counted) {
    const series = [['repositories', 'repositories_end', '#7a4fd8'], ['manifests', 'manifests_end', '#d84f8a']].map(([high, end, color]) => {
      const perKey = counted.map((key) => steps(rowsByKey.get(key), high, end, bucketMillis(report)));
      const times = [...new Set(perKey.flatMap((points) => points.map((p) => p[0])))].sort((a, b) => a - b);
      const at = (points, t) => {
        let value = 0;
        for (const p of points) {
          if (p[0] > t) break;
          value = p[1];
        }
        return value;
      };
      const data = times.map((t) => [new Date(t).toISOString(), perKey.reduce((sum, points) => sum + at(points, t), 0)]);
      if (data.length) data.push([report.to, data[data.length - 1][1]]);
      return { name: high, type: 'line', step: 'end', showSymbol: data.length <= 3, lineStyle: { width: 2 }, itemStyle: { color }, data };
    });
    const frame = overTime(report, series);
    frame.yAxis = { type: 'value', minInterval: 1 };
    frame.tooltip = { trigger: 'axis' };
    chart('counts-chart').setOption(frame, true);
    const last = (s) => (s.data.length ? s.data[s.data.length - 1][1] : 0);
    const highest = (s) => s.data.reduce((max, p) => Math.max(max, p[1]), 0);
    $('counts-chart').dataset.rendered = JSON.stringify({
      series: 2, repositories_end: last(series[0]), manifests_end: last(series[1]),
      repositories_peak: highest(series[0]), manifests_peak: highest(series[1]),
    });
  }

  function drawSummary(report) {
    const totals = report.totals;
    const cards = [
      ['Storage peak', humanBytes(totals.storage_peak_bytes)],
      ['Ingress', humanBytes(totals.ingress_bytes)],
      ['Egress', humanBytes(totals.egress_bytes)],
      ['Pushes', totals.pushes],
      ['Pulls', totals.pulls],
      ['Scopes', totals.keys],
    ];
    const summary = $('summary');
    summary.replaceChildren(...cards.map(([label, value]) => {
      const card = document.createElement('div');
      card.className = 'card';
      const number = document.createElement('div');
      number.className = 'value';
      number.textContent = value;
      const caption = document.createElement('div');
      caption.className = 'label';
      caption.textContent = label;
      card.append(number, caption);
      return card;
    }));
    summary.dataset.totals = JSON.stringify(totals);
  }

  async function show() {
    document.body.dataset.state = 'loading';
    status('Loading...');
    try {
      const report = await (await api('/api/v1/reports/usage?' + reportQuery({ by: 'scope' }))).json();
      const rowsByKey = byKey(report.rows);
      const keys = [...rowsByKey.keys()];
      const shown = displayKeys(keys);
      drawSummary(report);
      drawStorage(report, rowsByKey, shown);
      drawTop(rowsByKey, shown);
      drawTraffic(report, rowsByKey, outermost(keys));
      drawCounts(report, rowsByKey, outermost(keys));
      document.body.dataset.state = 'rendered';
      status(report.rows.length + ' rows, ' + keys.length + ' scopes, ' + (report.granularity === 'hour' ? 'hourly' : 'daily') + ' from '
        + report.from + ' to ' + report.to + (report.scopes ? ', scopes ' + report.scopes.join(', ') : ''));
    } catch (error) {
      document.body.dataset.state = 'error';
      status('Could not load the report: ' + error.message, true);
    }
  }

  async function loadGroups(selected) {
    try {
      const groups = (await (await api('/api/v1/groups')).json()).groups;
      for (const group of groups) {
        const option = document.createElement('option');
        option.value = group.name;
        option.textContent = group.name + (group.description ? ' (' + group.description + ')' : '');
        $('group').append(option);
      }
      if (selected) $('group').value = selected;
    } catch (ignored) {
      // groups are optional: the report shows without them
    }
  }

  async function download(path, name) {
    try {
      const blob = await (await api(path)).blob();
      const link = document.createElement('a');
      link.href = URL.createObjectURL(blob);
      link.download = name;
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    } catch (error) {
      status('Download failed: ' + error.message, true);
    }
  }

  function start() {
    const settings = fromFragment();
    const toggleCustom = () => document.body.classList.toggle('custom-period', $('period').value === 'custom');
    $('period').addEventListener('change', toggleCustom);
    toggleCustom();
    $('controls').addEventListener('submit', (event) => {
      event.preventDefault();
      show();
    });
    $('csv').addEventListener('click', () => download('/api/v1/reports/usage?' + reportQuery({ by: 'scope', format: 'csv' }), 'usage.csv'));
    $('pdf').addEventListener('click', () => {
      const params = reportQuery({});
      params.delete('granularity');
      download('/api/v1/reports/pdf?' + params, 'usage.pdf');
    });
    window.addEventListener('resize', () => Object.values(charts).forEach((c) => c.resize()));
    if ($('token').value) {
      loadGroups(settings.get('group')).then(show);
    }
  }

  start();
})();
