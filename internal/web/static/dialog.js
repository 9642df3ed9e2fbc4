// The confirmation dialog: a question, Yes / No, then the service's answer
// exactly as it gave it.

const dlg = document.getElementById('confirm');
const title = document.getElementById('confirm-title');
const text = document.getElementById('confirm-text');
const result = document.getElementById('confirm-result');
const yes = document.getElementById('confirm-yes');
const no = document.getElementById('confirm-no');
const close = document.getElementById('confirm-close');

let opener = null;
let onYes = null;

// confirm opens the dialog. run is called on Yes and returns the answer to
// show: { rows: [[label, value], ...], link?: {href, text} } or throws.
export function confirm({ question, detail, run }) {
  opener = document.activeElement;
  title.textContent = question;
  text.textContent = detail;
  result.replaceChildren();
  yes.hidden = false; no.hidden = false; close.hidden = true;
  yes.disabled = false; no.disabled = false;
  onYes = run;
  dlg.showModal();
  no.focus(); // the safe default: Enter alone changes nothing
}

yes.addEventListener('click', async () => {
  yes.disabled = true; no.disabled = true;
  result.textContent = 'Waiting for the answer…';
  let shown;
  try {
    shown = await onYes();
  } catch (e) {
    shown = { rows: [['Error', e.message]] };
  }
  show(shown);
  yes.hidden = true; no.hidden = true; close.hidden = false;
  close.focus();
});

function show({ rows, link }) {
  const dl = document.createElement('dl');
  for (const [k, v] of rows) {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    dd.dataset.field = k;
    dl.append(dt, dd);
  }
  result.replaceChildren(dl);
  if (link) {
    const p = document.createElement('p');
    const a = document.createElement('a');
    a.href = link.href;
    a.textContent = link.text;
    a.addEventListener('click', () => dlg.close());
    p.append(a);
    result.append(p);
  }
}

no.addEventListener('click', () => dlg.close());
close.addEventListener('click', () => dlg.close());
dlg.addEventListener('close', () => {
  if (opener && opener.isConnected) opener.focus();
  opener = null;
  document.dispatchEvent(new CustomEvent('console:refresh'));
});

// statusRows turns an API answer into the rows shown: the Status JSON
// members verbatim, the HTTP code when it is not 200.
export function statusRows(a) {
  const rows = [];
  if (a.status !== 200) rows.push(['HTTP', String(a.status)]);
  if (a.json && typeof a.json === 'object' && 'Status' in a.json) {
    rows.push(['Status', a.json.Status], ['Message', a.json.Message]);
    if (a.json.Id) rows.push(['Id', a.json.Id]);
  } else {
    rows.push(['Answer', a.text]);
  }
  return rows;
}
