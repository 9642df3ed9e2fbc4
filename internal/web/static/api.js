// Talking to the service: the REST API and the console's JSON.

// Answer is any HTTP answer: its code, the JSON (null if the body is not
// JSON) and the raw text.
async function answer(res) {
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON: keep the text */ }
  return { status: res.status, json, text };
}

// unreachable is thrown when no HTTP answer came at all.
export class Unreachable extends Error {}

// HTTPError is a GET answered with an error code.
export class HTTPError extends Error {
  constructor(a) {
    super(a.json && a.json.Message ? a.json.Message : `HTTP ${a.status}: ${a.text.slice(0, 300)}`);
    this.status = a.status;
  }
}

async function send(path, init) {
  try {
    return await fetch(path, { cache: 'no-store', headers: { Accept: 'application/json' }, ...init });
  } catch (e) {
    throw new Unreachable(`The appliance could not be reached: ${e.message}`);
  }
}

// get returns the JSON of a GET, or throws HTTPError / Unreachable.
export async function get(path) {
  const a = await answer(await send(path));
  if (a.status < 200 || a.status > 299 || a.json === null) throw new HTTPError(a);
  return a.json;
}

// post returns whatever the service answered, success or not; it throws
// Unreachable only.
export async function post(path) {
  return answer(await send(path, { method: 'POST' }));
}
