// The job API (docs/jobs.md): submit, follow the event stream, cancel, list,
// and fetch stored pictures, with what each failure means for a person.
//
// Everything goes through fetch, never EventSource or a bare <img src>: a
// server that requires API tokens wants the Authorization header on every
// call, and only fetch can send it.

/** ApiError is a failed call: kind is "server", "network", "cancelled" or "invalid". */
export class ApiError extends Error {
  constructor(kind, { title, detail = '', hint = '', status = 0, code = '', requestId = '', retryAfter = 0 } = {}) {
    super(detail || title);
    this.name = 'ApiError';
    this.kind = kind;
    this.title = title;
    this.detail = detail;
    this.hint = hint;
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
  }
}

/**
 * Headlines for the server's stable error codes, and a next step only where
 * the server's own `detail` does not already say what to do: one problem gets
 * one piece of advice.
 */
const CODES = {
  invalid_request: ['The request could not be read', 'Reload the page and try again.'],
  missing_image: ['Add a room photo first', ''],
  invalid_image: ['A file is not a photo the server can read', ''],
  unsupported_image_type: ['This photo format is not supported', ''],
  image_too_large: ['A photo is too large', ''],
  request_too_large: ['The photos are too large together', ''],
  too_many_images: ['Too many photos for one edit', ''],
  image_too_many_pixels: ['A photo has too many pixels', ''],
  unknown_provider: ['That model is not available', 'Choose another model.'],
  invalid_preset: ['That room type or style is not available', 'Reload the page to get the current list.'],
  provider_rejected_input: ['The AI model refused the input', 'Try another photo or prompt.'],
  invalid_api_key: ['Your API key was rejected', 'Check the key under “Use your own API key”, or clear it to use the server’s.'],
  content_blocked: ['The AI model’s safety filter blocked this edit', 'Rephrase the instructions and try again.'],
  upstream_rate_limited: ['The AI model is busy for now', ''],
  rate_limited: ['Too many edits from this device', ''],
  quota_exceeded: ['Your access token has no edits left', ''],
  unauthorized: ['This server needs an access token', 'Enter the access token you were given under “Access token”.'],
  token_required: ['This needs an access token', ''],
  request_timeout: ['The upload took too long', 'Check your connection, or send smaller photos.'],
  not_implemented: ['That model is not available on this server', 'Choose another model.'],
  upstream_error: ['The AI model had a problem', 'Try again in a moment.'],
  no_image_returned: ['The AI model answered without an image', 'Try again, or make the instructions more specific.'],
  provider_auth_failed: ['The server’s own API key was rejected', 'Whoever runs this server has to fix it; meanwhile you can enter your own key.'],
  upstream_unavailable: ['The AI model is overloaded right now', 'Try again in a minute.'],
  overloaded: ['The server is busy with other edits', ''],
  upstream_timeout: ['The AI model took too long', 'Try again; a simpler prompt can be faster.'],
  interrupted: ['The server restarted during this edit', 'Try again.'],
  job_not_found: ['This edit is no longer kept on the server', ''],
  internal_error: ['Something went wrong on the server', 'Try again. If it keeps happening, send the request id to support.'],
};

/** explain returns [title, hint] for a code the server answered with. */
export function explain(status, code) {
  const known = CODES[code];
  if (known) return known;
  if (status >= 500) return ['Something went wrong on the server', 'Try again later.'];
  return ['The edit could not be done', ''];
}

/** jobError turns a failed job's `error` into an ApiError. */
export function jobError(job) {
  const code = job.error?.code || '';
  const [title, hint] = explain(500, code);
  return new ApiError('server', { title, detail: job.error?.detail || '', hint, code });
}

function failure(err, signal) {
  if (signal?.aborted || err?.name === 'AbortError') return new ApiError('cancelled', { title: 'Cancelled' });
  return new ApiError('network', {
    title: 'Could not reach the FrameForge server',
    detail: 'The connection failed before an answer arrived.',
    hint: 'Check that you are online, then try again.',
  });
}

async function refusal(res, signal) {
  let body = null;
  try {
    body = await res.json();
  } catch (err) {
    if (signal?.aborted) throw failure(err, signal);
  }
  const code = typeof body?.code === 'string' ? body.code : '';
  const [title, hint] = explain(res.status, code);
  const retryAfter = Number.parseInt(res.headers.get('Retry-After') || '', 10) || 0;
  const wait = retryAfter > 0 ? `Try again in ${retryAfter < 120 ? `${retryAfter} seconds` : `${Math.ceil(retryAfter / 60)} minutes`}.` : '';
  return new ApiError('server', {
    title,
    detail: typeof body?.detail === 'string' && body.detail
      ? body.detail
      : `The server answered “${res.status} ${res.statusText}” without an explanation.`,
    hint: [hint, wait].filter(Boolean).join(' '),
    status: res.status,
    code,
    requestId: (typeof body?.request_id === 'string' && body.request_id) || res.headers.get('X-Request-ID') || '',
    retryAfter,
  });
}

/**
 * createClient returns the job API bound to auth(), which gives the headers
 * every call carries (the access token, when one was entered).
 */
export function createClient({ auth }) {
  async function call(url, { method = 'GET', body, headers = {}, signal } = {}) {
    let res;
    try {
      res = await fetch(url, {
        method, body, signal, cache: 'no-store', headers: { Accept: 'application/json', ...auth(), ...headers },
      });
    } catch (err) {
      throw failure(err, signal);
    }
    if (!res.ok) throw await refusal(res, signal);
    return res;
  }

  const images = new Map(); // URL → Promise<{url, blob}>: stored pictures never change

  return {
    /**
     * submit sends one job: the photos (one under "image", several under
     * "images", as /api/edit takes them) and the job's fields. It returns the
     * job object the server answered with.
     */
    async submit({ files, fields, headers, signal }) {
      const form = new FormData();
      const name = files.length === 1 ? 'image' : 'images';
      for (const f of files) form.append(name, f, f.name || 'photo.jpg');
      for (const [k, v] of Object.entries(fields)) {
        if (v !== undefined && v !== null && v !== '') form.append(k, String(v));
      }
      // A retried upload (a flaky connection) must not make a second job.
      const key = `page-${crypto.randomUUID()}`;
      const res = await call('/api/jobs', { method: 'POST', body: form, headers: { ...headers, 'Idempotency-Key': key }, signal });
      return res.json();
    },
    async get(id) {
      return (await call(`/api/jobs/${encodeURIComponent(id)}`)).json();
    },
    async cancel(id) {
      try {
        return await (await call(`/api/jobs/${encodeURIComponent(id)}`, { method: 'DELETE' })).json();
      } catch (err) {
        if (err.code === 'job_finished') return this.get(id); // it ended first: show how
        throw err;
      }
    },
    /** list returns the caller's jobs, newest first (needs an access token). */
    async list(limit = 20) {
      const data = await (await call(`/api/jobs?limit=${limit}`)).json();
      // {"data": [...], "next": cursor} (docs/jobs.md); the first page is enough for the history.
      const jobs = Array.isArray(data?.data) ? data.data : [];
      return jobs.filter((j) => j && typeof j.id === 'string');
    },
    /**
     * follow reads the job's event stream and calls onJob with every job
     * object, until the job ends or signal aborts. A dropped stream is opened
     * again (after a pause), so a job is followed however long it waits. It
     * resolves with the last job object.
     */
    async follow(job, onJob, signal) {
      let last = job;
      let pause = 500;
      while (!signal.aborted && !terminal(last.status)) {
        try {
          const res = await call(last.links?.events || `/api/jobs/${last.id}/events`, { headers: { Accept: 'text/event-stream' }, signal });
          pause = 500;
          for await (const ev of events(res.body, signal)) {
            if (ev.event !== 'job') continue;
            try {
              last = JSON.parse(ev.data);
            } catch {
              continue;
            }
            onJob(last);
            if (terminal(last.status)) return last;
          }
        } catch (err) {
          if (signal.aborted) break;
          if (err instanceof ApiError && err.kind === 'server' && err.status >= 400 && err.status < 500 && err.status !== 429) throw err;
        }
        await sleep(pause, signal);
        pause = Math.min(pause * 2, 10_000);
      }
      return last;
    },
    /** image fetches a stored picture once and returns {url (blob:), blob}. */
    image(url) {
      let p = images.get(url);
      if (!p) {
        p = call(url, { headers: { Accept: 'image/*' } }).then(async (res) => {
          const blob = await res.blob();
          return { url: URL.createObjectURL(blob), blob };
        });
        p.catch(() => images.delete(url));
        images.set(url, p);
      }
      return p;
    },
  };
}

export const terminal = (status) => status === 'succeeded' || status === 'failed' || status === 'cancelled';

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}

/**
 * events parses a server-sent event stream (the WHATWG format: "field: value"
 * lines, a blank line ends an event, ":" starts a comment). Hand-written
 * because EventSource cannot send an Authorization header.
 */
async function* events(body, signal) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const stop = () => reader.cancel().catch(() => {});
  signal.addEventListener('abort', stop, { once: true });
  let buf = '';
  let ev = { event: 'message', data: [] };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      let nl;
      while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + (buf.startsWith('\r\n', nl) ? 2 : 1));
        if (line === '') {
          if (ev.data.length) yield { event: ev.event, data: ev.data.join('\n') };
          ev = { event: 'message', data: [] };
          continue;
        }
        if (line.startsWith(':')) continue;
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        const val = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
        if (field === 'event') ev.event = val;
        else if (field === 'data') ev.data.push(val);
      }
    }
  } finally {
    signal.removeEventListener('abort', stop);
  }
}
