// Hubble Backup console: routes between the views and keeps them fresh.
import { HTTPError } from './api.js';
import { $, setText } from './dom.js';
import { refreshJobs, refreshJob } from './jobs.js';
import { refreshOverview, askBackup } from './overview.js';
import { refreshArchives } from './archives.js';

const views = ['overview', 'job', 'archives'];
let route = { view: 'overview', id: '' };
let timer = 0;

function parse() {
  const h = location.hash.replace(/^#/, '');
  const m = h.match(/^\/jobs\/([0-9a-fA-F]{32})$/);
  if (m) return { view: 'job', id: m[1].toLowerCase() };
  if (h === '/archives') return { view: 'archives', id: '' };
  return { view: 'overview', id: '' };
}

function show(focus) {
  route = parse();
  for (const v of views) $(`view-${v}`).hidden = v !== route.view;
  for (const [v, a] of [['overview', $('nav-overview')], ['archives', $('nav-archives')]]) {
    if (v === route.view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const titles = { overview: 'Overview', job: 'Job', archives: 'Archives' };
  document.title = `${titles[route.view]} · Hubble Backup console`;
  if (focus) $(`${route.view === 'job' ? 'job' : route.view}-title`).focus();
  refresh();
}

// refresh fetches what the current view shows; failures show in one banner.
async function refresh() {
  clearTimeout(timer);
  const conn = $('conn');
  try {
    if (route.view === 'overview') await Promise.all([refreshOverview(), refreshJobs()]);
    if (route.view === 'job') await refreshJob(route.id);
    if (route.view === 'archives') await refreshArchives();
    conn.hidden = true;
  } catch (e) {
    let msg = e.message;
    if (e instanceof HTTPError && e.status === 401) msg = 'Authentication is required: reload the page to sign in.';
    setText(conn, msg);
    conn.hidden = false;
  }
  const every = route.view === 'archives' ? 10000 : 2000;
  if (!document.hidden) timer = setTimeout(refresh, every);
}

$('backup-now').addEventListener('click', askBackup);
window.addEventListener('hashchange', () => show(true));
document.addEventListener('visibilitychange', () => { if (!document.hidden) refresh(); });
document.addEventListener('console:refresh', () => refresh());
show(false);
