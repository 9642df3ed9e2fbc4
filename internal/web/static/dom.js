// Small DOM helpers: every text goes through textContent, never HTML.

export const $ = (id) => document.getElementById(id);

export function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('data-') || k.startsWith('aria-') || k === 'role') e.setAttribute(k, v);
    else e[k] = v;
  }
  e.append(...children);
  return e;
}

// setText changes a node's text only when it differs, so screen readers and
// selections are not disturbed by a refresh that changes nothing.
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

// cell returns the td of row for a column, creating the row's cells with
// their data-label (the column name, shown on phones) on first use.
export function cells(tr, labels) {
  if (tr.cells.length === 0) {
    for (const l of labels) tr.append(el('td', { 'data-label': l, role: 'cell' }));
  }
  return tr.cells;
}

// announce tells screen-reader users about a change they did not cause.
export function announce(msg) {
  const a = $('announce');
  a.textContent = '';
  setTimeout(() => { a.textContent = msg; }, 50);
}

// keyedRows keeps a tbody's rows in the given order, one per key, reusing
// existing rows (focus inside them survives a refresh).
export function keyedRows(tbody, keys) {
  const old = new Map([...tbody.rows].map((r) => [r.dataset.key, r]));
  const rows = keys.map((k) => {
    let r = old.get(k);
    if (!r) r = el('tr', { 'data-key': k, role: 'row' });
    old.delete(k);
    return r;
  });
  rows.forEach((r, i) => {
    if (tbody.rows[i] !== r) tbody.insertBefore(r, tbody.rows[i] || null);
  });
  for (const r of old.values()) r.remove();
  return rows;
}
