// Formatting helpers of the console: sizes, durations, times.

const units = ['bytes', 'KB', 'MB', 'GB', 'TB', 'PB'];

// bytes formats a size in binary units, as min_free_mb counts megabytes.
export function bytes(n) {
  if (n == null) return '—';
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  if (i === 0) return `${v} ${v === 1 ? 'byte' : 'bytes'}`;
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

// duration formats seconds as "1 h 2 min", "3 min 4 s", "5.2 s".
export function duration(s) {
  if (s == null) return '—';
  if (s < 10) return `${s.toFixed(1)} s`;
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (h > 0) return `${h} h ${m} min`;
  if (m > 0) return `${m} min ${sec} s`;
  return `${sec} s`;
}

// time formats an RFC 3339 time in the browser's zone.
export function time(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

// clock formats the time of day only.
export function clock(iso) {
  if (!iso) return '—';
  return new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

// age says how long ago iso was, against the server's now.
export function age(iso, now) {
  if (!iso) return '—';
  const s = Math.max(0, (new Date(now) - new Date(iso)) / 1000);
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

// until says how far in the future iso is, against the server's now.
export function until(iso, now) {
  if (!iso) return '';
  const s = Math.max(0, (new Date(iso) - new Date(now)) / 1000);
  if (s < 90) return `in ${Math.round(s)} s`;
  if (s < 90 * 60) return `in ${Math.round(s / 60)} min`;
  if (s < 36 * 3600) return `in ${Math.round(s / 3600)} h`;
  return `in ${Math.round(s / 86400)} days`;
}

export function shortID(id) {
  return id ? id.slice(0, 8) : '';
}
