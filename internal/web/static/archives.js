// The archives of backup_dir: size, age, download, verification on demand.
import { get, post } from './api.js';
import { $, el, setText, cells, keyedRows } from './dom.js';
import * as fmt from './format.js';

const columns = ['Archive', 'Created', 'Age', 'Size', 'Download', 'Verification'];
const results = new Map(); // name -> {text, ok} of the last verification

function showResult(td, name) {
  const r = results.get(name);
  let out = td.querySelector('output');
  if (!out) {
    const b = el('button', { type: 'button', class: 'small', text: 'Verify', 'aria-label': `Verify ${name}` });
    b.addEventListener('click', () => verify(name, b));
    out = el('output', { 'aria-live': 'polite' });
    td.replaceChildren(b, ' ', out);
  }
  out.className = r ? (r.ok ? 'verify-ok' : 'verify-bad') : '';
  setText(out, r ? r.text : '');
}

async function verify(name, button) {
  button.disabled = true;
  setText(button, 'Verifying…');
  results.set(name, { text: 'verifying…', ok: true });
  showResult(button.parentElement, name);
  try {
    const r = await post(`/console/api/archives/${encodeURIComponent(name)}/verify`);
    if (r.json && r.json.encrypted) {
      results.set(name, { text: r.json.message, ok: false });
    } else if (r.json && 'intact' in r.json) {
      const problems = r.json.problems.length ? ` Problems: ${r.json.problems.join('; ')}` : '';
      results.set(name, { text: r.json.intact ? `Intact: ${r.json.message.replace(/^intact \((.*)\)$/, '$1')}` : `Damaged: ${r.json.message}${problems}`, ok: r.json.intact });
    } else {
      results.set(name, { text: `Not verified: ${r.json ? r.json.Message : r.text}`, ok: false });
    }
  } catch (e) {
    results.set(name, { text: e.message, ok: false });
  }
  button.disabled = false;
  setText(button, 'Verify');
  showResult(button.parentElement, name);
}

export function renderArchives(list) {
  const arcs = list.archives;
  const total = arcs.reduce((n, a) => n + a.bytes, 0);
  setText($('archives-summary'), arcs.length
    ? `${arcs.length} archive${arcs.length === 1 ? '' : 's'} in the backup directory, ${fmt.bytes(total)} in all, newest first.`
    : 'No archive in the backup directory yet.');
  const rows = keyedRows($('archives').tBodies[0], arcs.map((a) => a.name));
  arcs.forEach((a, i) => {
    const c = cells(rows[i], columns);
    c[0].className = 'mono nowrap';
    setText(c[0], a.name);
    c[1].className = 'nowrap';
    setText(c[1], fmt.time(a.created));
    c[2].className = 'nowrap';
    setText(c[2], fmt.age(a.created, list.now));
    c[3].className = 'num';
    setText(c[3], fmt.bytes(a.bytes));
    if (!c[4].firstChild) {
      c[4].append(el('a', { href: `/console/archives/${encodeURIComponent(a.name)}`, download: a.name, text: 'Download', 'aria-label': `Download ${a.name}` }));
    }
    showResult(c[5], a.name);
  });
}

export async function refreshArchives() {
  renderArchives(await get('/console/api/archives'));
}
