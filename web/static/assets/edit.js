// POST /api/edit and what its answers mean for a person.

/** EditError is a failed edit: kind is "server", "network", "cancelled" or "invalid". */
export class EditError extends Error {
  constructor(kind, { title, detail = '', hint = '', status = 0, code = '', requestId = '', retryAfter = 0 } = {}) {
    super(detail || title);
    this.name = 'EditError';
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

/** Headlines and next steps for the server's stable error codes. */
const CODES = {
  invalid_request: ['The request could not be read', 'Reload the page and try again.'],
  missing_image: ['Add a room photo first', ''],
  invalid_image: ['A file is not a photo the server can read', 'Remove it, or export it again as JPEG or PNG.'],
  unsupported_image_type: ['This photo format is not supported', 'Use JPEG, PNG or WebP. On iPhone: Settings → Camera → Formats → “Most Compatible”.'],
  image_too_large: ['A photo is too large', 'Use a smaller export of the photo.'],
  request_too_large: ['The photos are too large together', 'Send fewer photos, or smaller ones.'],
  too_many_images: ['Too many photos for one edit', 'Remove a few and try again.'],
  image_too_many_pixels: ['A photo has too many pixels', 'Use a smaller export of the photo.'],
  unknown_provider: ['That model is not available', 'Choose a model from the list, or check the model path.'],
  provider_rejected_input: ['The AI model refused the input', 'Try another photo or prompt.'],
  invalid_api_key: ['Your API key was rejected', 'Check the key under “Use your own API key”, or clear it to use the server’s.'],
  content_blocked: ['The AI model’s safety filter blocked this edit', 'Rephrase the instructions and try again.'],
  upstream_rate_limited: ['The AI model’s quota is used up for now', ''],
  rate_limited: ['Too many edits from this device', ''],
  request_timeout: ['The upload took too long', 'Check your connection, or send smaller photos.'],
  not_implemented: ['That model is not available on this server', 'Choose another model.'],
  upstream_error: ['The AI model had a problem', 'Try again in a moment.'],
  no_image_returned: ['The AI model answered without an image', 'Try again, or make the instructions more specific.'],
  provider_auth_failed: ['The server’s own API key was rejected', 'The operator has to fix it. Meanwhile you can enter your own key.'],
  upstream_unavailable: ['The AI model is overloaded right now', 'Try again in a minute.'],
  overloaded: ['The server is busy with other edits', ''],
  upstream_timeout: ['The AI model took too long', 'Try again; a simpler prompt can be faster.'],
  internal_error: ['Something went wrong on the server', 'Try again. If it keeps happening, send the request id to support.'],
};

function explain(status, code) {
  const known = CODES[code];
  if (known) return known;
  if (status >= 500) return ['Something went wrong on the server', 'Try again later.'];
  return ['The edit could not be done', ''];
}

/**
 * postEdit sends the photos like the shipped client does (one file under
 * "image", several under "images"; prompt and provider only when set) and
 * returns the edited image. It throws an EditError for every failure.
 */
export async function postEdit({ files, prompt, provider, headers, signal }) {
  const form = new FormData();
  const field = files.length === 1 ? 'image' : 'images';
  for (const f of files) form.append(field, f, f.name || 'photo');
  if (prompt) form.append('prompt', prompt);
  if (provider) form.append('provider', provider);

  let res;
  try {
    res = await fetch('/api/edit', { method: 'POST', body: form, headers, signal, cache: 'no-store' });
  } catch (err) {
    throw failure(err, signal);
  }
  const requestId = res.headers.get('X-Request-ID') || '';
  if (!res.ok) {
    let body = null;
    try {
      body = await res.json();
    } catch (err) {
      if (signal.aborted) throw failure(err, signal);
    }
    const code = typeof body?.code === 'string' ? body.code : '';
    const [title, hint] = explain(res.status, code);
    const retryAfter = Number.parseInt(res.headers.get('Retry-After') || '', 10) || 0;
    const wait = retryAfter > 0 ? `Try again in ${retryAfter < 120 ? `${retryAfter} seconds` : `${Math.ceil(retryAfter / 60)} minutes`}.` : '';
    throw new EditError('server', {
      title,
      detail: typeof body?.detail === 'string' && body.detail
        ? body.detail
        : `The server answered “${res.status} ${res.statusText}” without an explanation.`,
      hint: [hint, wait].filter(Boolean).join(' '),
      status: res.status,
      code,
      requestId: (typeof body?.request_id === 'string' && body.request_id) || requestId,
      retryAfter,
    });
  }
  let blob;
  try {
    blob = await res.blob();
  } catch (err) {
    throw failure(err, signal);
  }
  const contentType = (res.headers.get('Content-Type') || blob.type || '').split(';')[0].trim();
  if (!contentType.startsWith('image/') || blob.size === 0) {
    throw new EditError('server', {
      title: 'The server answered without an image',
      detail: `It sent “${contentType || 'nothing'}” instead of a picture.`,
      hint: 'Try again; if it keeps happening, send the request id to support.',
      status: res.status,
      requestId,
    });
  }
  return {
    blob,
    contentType,
    fallback: res.headers.get('X-FrameForge-Fallback') || '',
    provider: res.headers.get('X-FrameForge-Provider') || provider || 'google',
    requestId,
  };
}

function failure(err, signal) {
  if (signal.aborted || err?.name === 'AbortError') {
    return new EditError('cancelled', { title: 'Edit cancelled' });
  }
  return new EditError('network', {
    title: 'Could not reach the FrameForge server',
    detail: 'The connection failed before an answer arrived.',
    hint: 'Check that the server is still running and that you are online, then try again.',
  });
}
