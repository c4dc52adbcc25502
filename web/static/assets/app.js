// FrameForge staging page: wires the photo list, prompt, model picker, keys,
// the edit request, the comparison and the session history together.

import { applyServerLimits, createPhotoList } from './photos.js';
import { ROOMS, STYLES, DEFAULT_PROMPT, composePrompt, promptLabel } from './prompt.js';
import { OFFLINE, createProviderPicker, fetchProviders, normalize } from './providers.js';
import { createKeys } from './keys.js';
import { EditError, postEdit } from './edit.js';
import { createCompare } from './compare.js';
import { createHistory } from './history.js';
import { formatBytes, formatElapsed, formatSeconds, resultFileName } from './format.js';

const $ = (id) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  return el;
};

const ui = {
  form: $('edit-form'),
  controls: $('controls'),
  prompt: $('prompt'),
  preserve: $('keep-architecture'),
  composed: $('composed-prompt'),
  submit: $('submit'),
  submitLabel: $('submit-label'),
  cancel: $('cancel'),
  status: $('status'),
  error: $('error'),
  pill: $('server-pill'),
  keysDetails: $('keys'),
  resultCard: document.querySelector('.result-card'),
  resultHeading: $('result-heading'),
  resultMeta: $('result-meta'),
  empty: $('empty-state'),
  progress: $('progress'),
  progressImg: $('progress-img'),
  progressTitle: $('progress-title'),
  progressElapsed: $('progress-elapsed'),
  notice: $('notice'),
  resultActions: $('result-actions'),
  download: $('download'),
  refine: $('refine'),
};

const reducedMotion = window.matchMedia('(prefers-reduced-motion: reduce)');
const narrow = window.matchMedia('(max-width: 959px)');

// ---- Room and style chips -------------------------------------------------

function renderChips(container, name, options, noneLabel) {
  const make = (value, label) => {
    const wrap = document.createElement('label');
    wrap.className = 'chip';
    const input = document.createElement('input');
    input.type = 'radio';
    input.name = name;
    input.value = value;
    input.className = 'chip-input';
    const span = document.createElement('span');
    span.className = 'chip-label';
    span.textContent = label;
    wrap.append(input, span);
    return wrap;
  };
  container.replaceChildren(make('', noneLabel), ...options.map((o) => make(o.id, o.label)));
  container.querySelector('input').checked = true;
}

renderChips($('room-chips'), 'room', ROOMS, 'Any room');
renderChips($('style-chips'), 'style', STYLES, 'No preset');

function choice() {
  const room = ROOMS.find((r) => r.id === ui.form.elements.room.value) || null;
  const style = STYLES.find((s) => s.id === ui.form.elements.style.value) || null;
  return { room, style, text: ui.prompt.value, preserve: ui.preserve.checked };
}

function updatePrompt() {
  const prompt = composePrompt(choice());
  ui.composed.classList.toggle('composed-default', !prompt);
  ui.composed.textContent = prompt || `Server default: ${DEFAULT_PROMPT}`;
}

ui.form.addEventListener('change', (e) => {
  if (e.target.name === 'room' || e.target.name === 'style' || e.target === ui.preserve) updatePrompt();
});
ui.prompt.addEventListener('input', updatePrompt);
ui.prompt.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    ui.form.requestSubmit();
  }
});
updatePrompt();

// ---- Photos, keys and model -----------------------------------------------

const photos = createPhotoList({
  input: $('photo-input'),
  dropzone: $('dropzone'),
  list: $('photo-list'),
  messages: $('photo-messages'),
  summary: $('photo-summary'),
  onChange: () => clearError(),
});

let picker;
const keys = createKeys({
  container: $('key-fields'),
  remember: $('remember-keys'),
  details: ui.keysDetails,
  onChange: () => picker?.refresh(),
});

picker = createProviderPicker({
  select: $('provider'),
  customField: $('custom-model-field'),
  customLabel: $('custom-model-label'),
  customPrefix: $('custom-model-prefix'),
  customInput: $('custom-model'),
  customHint: $('custom-model-hint'),
  datalist: $('custom-models'),
  status: $('provider-status'),
  keyFor: (id) => keys.get(id) !== '',
  onTable: (providers) => keys.render(providers),
  onChange: () => {},
});
// The key fields of the shipped table until the server answers.
keys.render(normalize(OFFLINE).providers);

async function loadProviders() {
  try {
    const data = await fetchProviders();
    picker.fill(data, true);
    applyServerLimits(data.limits);
    if (data.limits?.max_image_bytes > 0) {
      $('photo-hint').textContent = `JPEG, PNG or WebP, phone photos welcome (up to ${formatBytes(data.limits.max_image_bytes)} each). You can also paste an image.`;
    }
    const anyKey = data.providers.some((p) => p.configured);
    ui.pill.dataset.state = anyKey ? 'ok' : 'demo';
    ui.pill.textContent = anyKey ? 'Server online' : 'Server online · demo mode (no API keys)';
  } catch {
    picker.fillOffline();
    ui.pill.dataset.state = 'error';
    ui.pill.textContent = 'Server not reachable';
  }
}
loadProviders();

// ---- Messages ---------------------------------------------------------------

function say(text) {
  ui.status.textContent = text;
}

function clearError() {
  ui.error.hidden = true;
  ui.error.replaceChildren();
}

function showError(err) {
  const p = (cls, text) => {
    const el = document.createElement('p');
    el.className = cls;
    el.textContent = text;
    return el;
  };
  const parts = [p('error-title', err.title || 'Something went wrong')];
  if (err.detail) parts.push(p('error-detail', err.detail));
  if (err.hint) parts.push(p('error-hint', err.hint));
  if (err.code || err.requestId || err.status) {
    const meta = document.createElement('p');
    meta.className = 'error-meta';
    const bits = [];
    if (err.status) bits.push(['HTTP', String(err.status)]);
    if (err.code) bits.push(['code', err.code]);
    if (err.requestId) bits.push(['request id', err.requestId]);
    bits.forEach(([label, value], i) => {
      if (i) meta.append(' · ');
      const code = document.createElement('code');
      code.textContent = value;
      meta.append(`${label} `, code);
    });
    parts.push(meta);
  }
  ui.error.replaceChildren(...parts);
  ui.error.hidden = false;
  say('');
  if (narrow.matches) ui.error.scrollIntoView({ block: 'nearest', behavior: reducedMotion.matches ? 'auto' : 'smooth' });
}

// ---- Results ----------------------------------------------------------------

const compare = createCompare({
  figure: $('compare'),
  stage: $('compare-stage'),
  before: $('before-img'),
  after: $('after-img'),
  range: $('compare-range'),
  caption: $('compare-caption'),
});

let shown = null; // the history entry in the comparison

/** providerName names the provider (and model path) that served name, as the table labels it. */
function providerName(name) {
  const found = picker.describe(name);
  if (!found) return name;
  return found.path ? `${found.provider.label} · ${found.path}` : found.provider.label;
}

function showEntry(entry) {
  shown = entry;
  ui.empty.hidden = true;
  compare.show({
    beforeUrl: entry.beforeUrl,
    afterUrl: entry.resultUrl,
    beforeAlt: `Original photo “${entry.beforeName}”`,
    afterAlt: `Staged result ${entry.n}: ${entry.label}`,
    text: entry.prompt ? `“${entry.prompt}”` : `Server default prompt: “${DEFAULT_PROMPT}”`,
  });
  ui.resultMeta.textContent = `${entry.n}. ${entry.label} · ${providerName(entry.provider)} · ${formatSeconds(entry.durationMs)}`;
  ui.download.href = entry.resultUrl;
  ui.download.download = entry.fileName;
  ui.download.textContent = `Download ${entry.fileName.split('.').pop().toUpperCase()} (${formatBytes(entry.blob.size)})`;
  ui.download.setAttribute('aria-label', `Download ${entry.fileName}, ${formatBytes(entry.blob.size)}`);
  ui.resultActions.hidden = false;
  showNotice(entry);
}

function showNotice(entry) {
  ui.notice.replaceChildren();
  ui.notice.hidden = !entry.fallback;
  if (!entry.fallback) return;
  const p = picker.describe(entry.provider)?.provider;
  const who = p ? p.label : 'this model';
  const env = p?.key_env[0];
  const title = document.createElement('p');
  title.className = 'notice-title';
  title.textContent = 'This is your original photo, unchanged';
  const text = document.createElement('p');
  text.textContent = `The server has no ${who} API key and none was entered, so it answered in development fallback mode instead of staging the room. `
    + (env ? `Enter your own ${who} key, or ask the operator to set ${env} on the server.` : `Enter your own ${who} key.`);
  ui.notice.append(title, text);
  if (p && document.getElementById(`key-${p.id}`)) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'btn-link';
    button.textContent = `Enter a ${who} key`;
    button.addEventListener('click', () => keys.focus(p.id));
    ui.notice.append(button);
  }
}

function showIdle() {
  ui.progress.hidden = true;
  ui.progressImg.removeAttribute('src');
  if (shown) {
    showEntry(shown);
  } else {
    ui.empty.hidden = false;
  }
}

const history = createHistory({
  section: $('history'),
  list: $('history-list'),
  clear: $('history-clear'),
  onSelect: (entry) => {
    showEntry(entry);
    say(`Showing result ${entry.n}: ${entry.label}.`);
    if (narrow.matches) ui.resultHeading.scrollIntoView({ behavior: reducedMotion.matches ? 'auto' : 'smooth' });
  },
  onClear: (old) => {
    for (const e of old) {
      URL.revokeObjectURL(e.resultUrl);
      URL.revokeObjectURL(e.beforeUrl);
    }
    shown = null;
    compare.hide();
    ui.notice.hidden = true;
    ui.resultActions.hidden = true;
    ui.resultMeta.textContent = '';
    if (!busy) ui.empty.hidden = false;
    say('History cleared.');
    ui.submit.focus();
  },
});

ui.refine.addEventListener('click', () => {
  if (!shown || busy) return;
  const file = new File([shown.blob], shown.fileName, { type: shown.contentType });
  photos.replaceWith(file);
  say('The staged result is now the photo to edit. Add instructions and stage again.');
  ui.prompt.focus();
  if (narrow.matches) ui.prompt.scrollIntoView({ block: 'center', behavior: reducedMotion.matches ? 'auto' : 'smooth' });
});

// ---- Running an edit ----------------------------------------------------------

let busy = null; // { controller, started, timer }
let counter = 0;

function setBusy(on, { previewUrl, label } = {}) {
  ui.controls.disabled = on;
  ui.submit.disabled = on;
  ui.refine.disabled = on;
  photos.setDisabled(on);
  ui.cancel.hidden = !on;
  ui.resultCard.setAttribute('aria-busy', String(on));
  ui.form.classList.toggle('is-busy', on);
  if (on) {
    ui.empty.hidden = true;
    $('compare').hidden = true;
    ui.notice.hidden = true;
    ui.resultActions.hidden = true;
    ui.progressTitle.textContent = `Staging with ${label}…`;
    ui.progressImg.src = previewUrl;
    ui.progressImg.alt = 'The photo being staged';
    ui.progressElapsed.textContent = formatElapsed(0);
    ui.progress.hidden = false;
    ui.submitLabel.textContent = 'Staging… 0 s';
    ui.cancel.focus();
  } else {
    ui.submitLabel.textContent = 'Stage room';
    const hadFocus = document.activeElement === ui.cancel || document.activeElement === document.body;
    showIdle();
    if (hadFocus) ui.submit.focus();
  }
}

function tick() {
  if (!busy) return;
  const text = formatElapsed(performance.now() - busy.started);
  ui.progressElapsed.textContent = text;
  ui.submitLabel.textContent = `Staging… ${text}`;
}

ui.cancel.addEventListener('click', () => busy?.controller.abort());
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && busy) {
    e.preventDefault();
    busy.controller.abort();
  }
});

ui.form.addEventListener('submit', async (e) => {
  e.preventDefault();
  if (busy) return;
  clearError();
  photos.clearMessage();
  const items = photos.items();
  if (items.length === 0) {
    showError(new EditError('invalid', {
      title: 'Add a room photo first',
      detail: 'Drop a photo of the room on the box above, or choose one from your device.',
    }));
    $('photo-input').focus();
    return;
  }
  const sel = picker.selection();
  if (sel.problem) {
    showError(new EditError('invalid', { title: `Check the ${sel.provider?.label ?? ''} model path`, detail: sel.problem }));
    picker.focusCustom();
    return;
  }
  const c = choice();
  const prompt = composePrompt(c);
  const first = items[0].file;
  const total = items.reduce((n, it) => n + it.file.size, 0);
  const controller = new AbortController();
  const started = performance.now();
  busy = { controller, started, timer: window.setInterval(tick, 250) };
  setBusy(true, { previewUrl: items[0].url, label: sel.short });
  say(`Uploading ${items.length === 1 ? 'the photo' : `${items.length} photos`} (${formatBytes(total)}) and staging the room. You can cancel at any time.`);

  try {
    const out = await postEdit({
      files: items.map((it) => it.file),
      prompt,
      provider: sel.name,
      headers: keys.headers(sel.family),
      signal: controller.signal,
    });
    const durationMs = performance.now() - started;
    const date = new Date();
    const entry = {
      id: ++counter,
      n: counter,
      blob: out.blob,
      contentType: out.contentType,
      resultUrl: URL.createObjectURL(out.blob),
      beforeUrl: URL.createObjectURL(first),
      beforeName: first.name,
      prompt,
      label: promptLabel(c),
      provider: out.provider,
      providerName: providerName(out.provider),
      fallback: out.fallback,
      durationMs,
      date,
      fileName: resultFileName({ room: c.room?.label, style: c.style?.label, date, contentType: out.contentType }),
    };
    window.clearInterval(busy.timer);
    busy = null;
    shown = entry;
    setBusy(false);
    history.add(entry);
    say(out.fallback
      ? `Done in ${formatSeconds(durationMs)}, but without an API key the photo came back unchanged.`
      : `Your room is staged (${formatSeconds(durationMs)}). Slide across the image to compare it with the original.`);
    ui.resultHeading.focus({ preventScroll: !narrow.matches });
  } catch (err) {
    const elapsed = performance.now() - started;
    window.clearInterval(busy.timer);
    busy = null;
    setBusy(false);
    if (err instanceof EditError && err.kind === 'cancelled') {
      say(`Edit cancelled after ${formatSeconds(elapsed)}. Your photos and settings are still here.`);
    } else if (err instanceof EditError) {
      showError(err);
    } else {
      showError(new EditError('invalid', { title: 'Something went wrong in the page', detail: String(err?.message || err), hint: 'Reload the page and try again.' }));
    }
  }
});
