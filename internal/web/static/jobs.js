// The job list and the job view.
import { get, post } from './api.js';
import { confirm, statusRows } from './dialog.js';
import { $, el, setText, cells, announce, keyedRows } from './dom.js';
import * as fmt from './format.js';

const active = (s) => s === 'Queued' || s === 'Executing';
const columns = ['Status', 'Job', 'Trigger', 'Started by', 'Started', 'Duration', 'Phase and progress', 'Archive size', 'Message', 'Actions'];
const seen = new Map(); // id -> last status, to announce changes

function badge(td, status) {
  let b = td.querySelector('.badge');
  if (!b) { b = el('span'); td.replaceChildren(b); }
  b.className = `badge ${status}`;
  setText(b, status);
}

function progressText(j) {
  const p = j.progress || {};
  const parts = [];
  if (j.phase) parts.push(j.phase);
  if (p.tables_total > 0) parts.push(`${p.tables_done}/${p.tables_total} tables`);
  if (p.bytes > 0) parts.push(fmt.bytes(p.bytes));
  return parts.join(' · ') || '—';
}

function progress(td, j) {
  let span = td.querySelector('span');
  let bar = td.querySelector('progress');
  if (!span) {
    span = el('span');
    bar = el('progress', { 'aria-label': `Tables done of job ${fmt.shortID(j.id)}` });
    td.replaceChildren(span, ' ', bar);
  }
  setText(span, progressText(j));
  const p = j.progress || {};
  bar.hidden = !(active(j.status) && p.tables_total > 0);
  bar.max = Math.max(p.tables_total, 1);
  bar.value = p.tables_done || 0;
}

// cancelButton keeps a Cancel button in td while the job can be canceled.
function cancelButton(td, j) {
  const btn = td.querySelector('button');
  if (active(j.status) && !btn) {
    const b = el('button', { type: 'button', class: 'danger small', text: 'Cancel', 'aria-label': `Cancel job ${fmt.shortID(j.id)}` });
    b.addEventListener('click', () => askCancel(j.id));
    td.replaceChildren(b);
  } else if (!active(j.status) && btn) {
    const focused = btn === document.activeElement;
    td.replaceChildren();
    if (focused) td.parentElement.querySelector('a')?.focus();
  }
}

export function askCancel(id) {
  confirm({
    question: `Cancel job ${fmt.shortID(id)}?`,
    detail: 'A queued job leaves the queue; an executing job is stopped and its temporary files and partial archive are removed.',
    run: async () => {
      const a = await post(`/api/Backup/Cancel?id=${encodeURIComponent(id)}`);
      return { rows: statusRows(a) };
    },
  });
}

// renderJobs updates the job table in place.
export function renderJobs(list) {
  const tbody = $('jobs').tBodies[0];
  const jobs = list.jobs || [];
  $('jobs-empty').hidden = jobs.length > 0;
  $('jobs').parentElement.hidden = jobs.length === 0;
  const rows = keyedRows(tbody, jobs.map((j) => j.id));
  jobs.forEach((j, i) => {
    const c = cells(rows[i], columns);
    badge(c[0], j.status);
    c[1].className = 'nowrap';
    if (!c[1].firstChild) {
      c[1].append(el('a', { href: `#/jobs/${j.id}`, class: 'mono', text: fmt.shortID(j.id), title: j.id, 'aria-label': `Job ${j.id}` }));
    }
    setText(c[2], j.trigger);
    setText(c[3], j.started_by || '—');
    c[4].className = 'nowrap';
    setText(c[4], fmt.time(j.started_at || j.created_at));
    setText(c[5], fmt.duration(j.duration_seconds));
    progress(c[6], j);
    c[7].className = 'num';
    setText(c[7], j.bytes > 0 ? fmt.bytes(j.bytes) : '—');
    c[8].className = 'msg';
    setText(c[8], j.message);
    cancelButton(c[9], j);
    const before = seen.get(j.id);
    if (before !== undefined && before !== j.status) announce(`Job ${fmt.shortID(j.id)} is now ${j.status}. ${j.message}`);
    seen.set(j.id, j.status);
  });
  setText($('jobs-updated'), `Last update ${fmt.clock(new Date().toISOString())}.`);
}

export async function refreshJobs() {
  renderJobs(await get('/api/Backup/Jobs?limit=50'));
}

// The job view.
let shownJob = '';

function fact(dl, label, value, mono = false) {
  dl.append(el('div', {}, el('dt', { text: label }), el('dd', { text: value, class: mono ? 'mono' : '' })));
}

export async function refreshJob(id) {
  const [j, log] = await Promise.all([get(`/api/Backup/Jobs/${id}`), get(`/console/api/jobs/${id}/log`)]);
  setText($('job-title'), `Job ${j.id}`);
  const dl = $('job-facts');
  const facts = el('dl');
  fact(facts, 'Status', j.status);
  fact(facts, 'Message', j.message);
  fact(facts, 'Trigger', j.trigger);
  fact(facts, 'Started by', j.started_by || '—');
  if (j.canceled_by) fact(facts, 'Canceled by', j.canceled_by);
  fact(facts, 'Created', fmt.time(j.created_at));
  fact(facts, 'Started', fmt.time(j.started_at));
  fact(facts, 'Finished', fmt.time(j.finished_at));
  fact(facts, 'Duration', fmt.duration(j.duration_seconds));
  fact(facts, 'Phase and progress', progressText(j));
  fact(facts, 'Archive', j.archive || '—', true);
  fact(facts, 'Archive size', j.bytes > 0 ? fmt.bytes(j.bytes) : '—');
  if (j.sha256) fact(facts, 'SHA-256', j.sha256, true);
  if (dl.textContent !== facts.textContent || shownJob !== id) dl.replaceChildren(...facts.children);
  const cancel = $('job-cancel');
  cancel.hidden = !active(j.status);
  cancel.onclick = () => askCancel(j.id);
  renderLog(id, log);
  shownJob = id;
}

function renderLog(id, log) {
  const tbody = $('job-log').tBodies[0];
  const key = `${id}/${log.dropped}/${log.lines.length}`;
  if (tbody.dataset.key === key) return;
  tbody.dataset.key = key;
  tbody.replaceChildren(...log.lines.map((l) => el('tr', { role: 'row' },
    el('td', { role: 'cell', text: fmt.time(l.time) }),
    el('td', { role: 'cell', text: l.level }),
    el('td', { role: 'cell', text: l.attrs ? `${l.message} ${l.attrs}` : l.message }))));
  let note = '';
  if (!log.kept) note = 'This service run kept no log lines of this job (it ran before the last start, or long ago): the log file has them.';
  else if (log.dropped > 0) note = `${log.dropped} earlier lines are only in the log file.`;
  setText($('log-note'), note);
}
