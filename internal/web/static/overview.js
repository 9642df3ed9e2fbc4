// The overview: free space, schedule, retention, last success, stale alarm.
import { get, post } from './api.js';
import { confirm, statusRows } from './dialog.js';
import { $, el, setText } from './dom.js';
import * as fmt from './format.js';

let schema = '';

function space(o) {
  const min = o.min_free_mb * 1024 * 1024;
  const rows = o.dirs.map((d) => {
    const label = el('span', {}, el('code', { text: d.key }), ' ', el('span', { class: 'muted mono', text: d.path }));
    let meter = el('span');
    let text;
    if (d.free_bytes == null) {
      text = el('span', { class: 'low', text: `cannot be read: ${d.error}` });
    } else {
      const scale = Math.max(min * 4, d.free_bytes, 1);
      meter = el('meter', { min: 0, max: scale, low: min, optimum: scale, value: d.free_bytes,
        'aria-label': `Free space of ${d.key}`, 'aria-valuetext': `${fmt.bytes(d.free_bytes)} free` });
      text = el('span', { class: d.below_min ? 'low' : '',
        text: `${fmt.bytes(d.free_bytes)} free${d.below_min ? ': below the minimum, a backup would be refused' : ''}` });
    }
    return [label, meter, text];
  });
  const div = el('div', { class: 'space' });
  for (const r of rows) div.append(...r);
  return div;
}

export function renderOverview(o) {
  schema = o.schema;
  setText($('version'), `version ${o.version}`);
  let who = 'No users or tokens configured: this console answers on this machine only.';
  if (o.auth_configured) who = o.user ? `Signed in as ${o.user}` : '';
  setText($('who'), who + (o.tls ? '' : (o.auth_configured ? ' · not encrypted (no tls)' : '')));
  setText($('f-last'), o.last_success ? `${fmt.time(o.last_success)} (${fmt.age(o.last_success, o.now)})` : 'never');
  setText($('f-next'), o.next_run ? `${fmt.time(o.next_run)} (${fmt.until(o.next_run, o.now)})` : 'none: no schedule');
  setText($('f-schedule'), o.schedule.length ? o.schedule.map((s) => `${s.cron} (${s.timezone || 'UTC'})`).join('; ') : 'none');
  const r = o.retention;
  const rules = [];
  if (r.keep_last > 0) rules.push(`keep the last ${r.keep_last}`);
  if (r.keep_days > 0) rules.push(`keep ${r.keep_days} days`);
  setText($('f-retention'), rules.length ? rules.join(', ') : 'keep every archive');
  let stale = 'off (notify.stale_after not set)';
  if (o.stale_after) stale = o.stale ? `RAISED: no success for over ${o.stale_after}` : `not raised (after ${o.stale_after})`;
  setText($('f-stale'), stale);
  const banner = $('stale');
  banner.hidden = !o.stale;
  setText(banner, o.stale ? `Stale alarm: no backup has succeeded for more than ${o.stale_after} (last success: ${o.last_success ? fmt.time(o.last_success) : 'never'}).` : '');
  setText($('f-jobs'), `${o.executing} executing, ${o.queued} queued (at most ${o.max_concurrent_jobs} + ${o.max_queued_jobs})`);
  setText($('f-min'), `${o.min_free_mb} MB`);
  const sp = $('f-space');
  const fresh = space(o);
  if (sp.textContent !== fresh.textContent) sp.replaceChildren(fresh);
}

export async function refreshOverview() {
  renderOverview(await get('/console/api/overview'));
}

export function askBackup() {
  confirm({
    question: 'Start a backup now?',
    detail: `A new backup job of schema '${schema || '…'}' is queued; it runs at once when no other backup is running.`,
    run: async () => {
      const a = await post('/api/Backup/Execute');
      const id = a.json && a.json.Id;
      return { rows: statusRows(a), link: id ? { href: `#/jobs/${id}`, text: 'Show this job' } : undefined };
    },
  });
}
