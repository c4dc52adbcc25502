// FrameForge staging page: wires the photo list, prompt, model picker, keys
// and access token to the job API (jobs.js), and shows each run: progress
// from the event stream, variations side by side, the comparison, history.

import { LIMITS, applyServerLimits, createPhotoList } from './photos.js';
import { ROOMS, STYLES, DEFAULT_PROMPT, composePrompt, promptLabel } from './prompt.js';
import { OFFLINE, createProviderPicker, fetchProviders, modelName, normalize } from './providers.js';
import { createKeys } from './keys.js';
import { ApiError, createClient, jobError, terminal } from './jobs.js';
import { createCompare } from './compare.js';
import { createHistory, store } from './history.js';
import { formatBytes, formatElapsed, formatSeconds, resultFileName, slug } from './format.js';

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
  mode: $('mode'),
  modeHint: $('mode-hint'),
  declutter: $('declutter-group'),
  disclosureField: $('disclosure-field'),
  disclosure: $('disclosure'),
  disclosureText: $('disclosure-text'),
  disclosureAlways: $('disclosure-always'),
  tokenField: $('token-field'),
  tokenLabel: $('token-label'),
  token: $('access-token'),
  submit: $('submit'),
  submitLabel: $('submit-label'),
  cancel: $('cancel'),
  status: $('status'),
  error: $('error'),
  errorBody: $('error-body'),
  errorClose: $('error-close'),
  pill: $('server-pill'),
  keysDetails: $('keys'),
  resultCard: $('result-card'),
  resultHeading: $('result-heading'),
  resultMeta: $('result-meta'),
  empty: $('empty-state'),
  preview: $('preview'),
  previewImg: $('preview-img'),
  previewVeil: $('preview-veil'),
  previewCaption: $('preview-caption'),
  progressTitle: $('progress-title'),
  progressTime: $('progress-time'),
  rooms: $('rooms'),
  notice: $('notice'),
  variations: $('variations'),
  variationList: $('variation-list'),
  resultActions: $('result-actions'),
  download: $('download'),
  downloadAll: $('download-all'),
  refine: $('refine'),
  restyle: $('restyle'),
  restyleList: $('restyle-list'),
};

const reducedMotion = window.matchMedia('(prefers-reduced-motion: reduce)');
const behavior = () => (reducedMotion.matches ? 'auto' : 'smooth');
const MAX_ROOMS = 20;

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

const field = (name) => ui.form.elements[name];

function choice() {
  const room = ROOMS.find((r) => r.id === field('room').value) || null;
  const style = STYLES.find((s) => s.id === field('style').value) || null;
  return { room, style, text: ui.prompt.value, preserve: ui.preserve.checked };
}

/** declutterMode is the "Furniture already in the photo" choice: "", "only" or "stage". */
function declutterMode() {
  return ui.declutter.hidden ? '' : field('declutter').value;
}

function updatePrompt() {
  if (declutterMode() === 'only' && declutterPreset) {
    // Emptying alone sends no prompt: the server uses its declutter preset's.
    ui.composed.classList.remove('composed-default');
    ui.composed.textContent = declutterPreset.prompt;
    return;
  }
  const prompt = composePrompt(choice());
  ui.composed.classList.toggle('composed-default', !prompt);
  ui.composed.textContent = prompt || `Server default: ${DEFAULT_PROMPT}`;
}

ui.form.addEventListener('change', (e) => {
  if (e.target.name === 'room' || e.target.name === 'style' || e.target.name === 'declutter' || e.target === ui.preserve) updatePrompt();
  if (e.target.name === 'mode') updateMode();
});
ui.prompt.addEventListener('input', updatePrompt);
ui.prompt.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    ui.form.requestSubmit();
  }
});
updatePrompt();

// ---- Photos, keys, token and model ------------------------------------------

let picker;
const keys = createKeys({
  container: $('key-fields'),
  remember: $('remember-keys'),
  details: ui.keysDetails,
  token: ui.token,
  onChange: () => picker?.refresh(),
});
const client = createClient({ auth: () => keys.auth() });

/**
 * preview asks the server for a JPEG of a photo the browser cannot show
 * (HEIC): a Blob, false when the server does not read the format, null when
 * it could not be asked.
 */
async function preview(file) {
  const form = new FormData();
  form.append('image', file, file.name || 'photo');
  try {
    const res = await fetch('/api/preview', { method: 'POST', body: form, headers: keys.auth() });
    if (res.ok) return await res.blob();
    return res.status === 404 || res.status === 405 || res.status === 415 ? false : null;
  } catch {
    return null;
  }
}

const photos = createPhotoList({
  input: $('photo-input'),
  dropzone: $('dropzone'),
  list: $('photo-list'),
  messages: $('photo-messages'),
  summary: $('photo-summary'),
  preview,
  onChange: () => {
    clearError();
    updateMode();
    if (!busy()) {
      run = null;
      render();
    }
  },
});

function mode() {
  const n = photos.items().length;
  if (n < 2) return 'single';
  return field('mode').value || '';
}

function updateMode() {
  const n = photos.items().length;
  ui.mode.hidden = n < 2;
  const m = mode();
  $('photo-list').dataset.mode = m;
  ui.modeHint.textContent = m === 'rooms'
    ? `${n} rooms will be staged, each on its own with the settings below.`
    : m === 'views'
      ? 'Only the main photo is staged. “Make main” chooses which one.'
      : 'Choose one, so the photos are used the way you mean.';
  ui.submitLabel.textContent = busy() ? ui.submitLabel.textContent : (m === 'rooms' ? `Stage ${n} rooms` : 'Stage room');
}

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
keys.render(normalize(OFFLINE).providers);

let server = { auth: '', disclosure: { mode: 'off', text: '' } };
// The server's declutter preset ({id, label, prompt} from GET /api/presets), or null when it has none.
let declutterPreset = null;

function applyServer(data) {
  server.auth = data.auth === 'required' || data.auth === 'off' ? data.auth : '';
  ui.tokenField.hidden = !server.auth;
  ui.tokenLabel.textContent = server.auth === 'required' ? 'Access token (required)' : 'Access token (optional)';
  ui.token.required = server.auth === 'required';
  if (server.auth === 'required') ui.token.setAttribute('aria-required', 'true');
  const d = data.disclosure && typeof data.disclosure === 'object' ? data.disclosure : {};
  const text = typeof d.text === 'string' && d.text ? d.text : 'Virtually staged';
  server.disclosure = { mode: ['optional', 'always'].includes(d.mode) ? d.mode : 'off', text };
  ui.disclosureField.hidden = server.disclosure.mode !== 'optional';
  ui.disclosureText.textContent = text;
  ui.disclosureAlways.hidden = server.disclosure.mode !== 'always';
  ui.disclosureAlways.textContent = `Every result is marked “${text}”, as listing rules ask.`;
}

async function loadPresets() {
  try {
    const res = await fetch('/api/presets', { headers: { Accept: 'application/json' } });
    if (!res.ok) return;
    const data = await res.json();
    // Decluttering is offered only when the server has the preset: a
    // top-level "declutter": {id, label, prompt} (docs/jobs.md).
    const d = data?.declutter;
    declutterPreset = d && typeof d === 'object' && d.id && typeof d.prompt === 'string' ? d : null;
    ui.declutter.hidden = !declutterPreset;
    updatePrompt();
  } catch {
    // The page's own room types and styles still work.
  }
}

async function loadProviders() {
  try {
    const data = await fetchProviders();
    picker.fill(data, true);
    applyServerLimits(data.limits);
    applyServer(data);
    if (data.limits?.max_image_bytes > 0) {
      $('photo-hint').textContent = `JPEG, PNG, WebP or iPhone photos, up to ${formatBytes(data.limits.max_image_bytes)} each. You can also paste an image.`;
    }
    const anyKey = data.providers.some((p) => p.configured);
    ui.pill.dataset.state = anyKey ? 'ok' : 'demo';
    ui.pill.textContent = anyKey ? 'Server online' : 'Server online · demo mode';
    return true;
  } catch {
    picker.fillOffline();
    ui.pill.dataset.state = 'error';
    ui.pill.textContent = 'Server not reachable';
    return false;
  }
}

// ---- Messages ---------------------------------------------------------------

function say(text) {
  ui.status.textContent = text;
}

function clearError() {
  ui.error.hidden = true;
  ui.errorBody.replaceChildren();
}

ui.errorClose.addEventListener('click', () => {
  clearError();
  ui.submit.focus();
});

/** showError shows one problem, in the flow of the form (never over it), and brings it into view. */
function showError(err, { focus } = {}) {
  const p = (cls, text) => {
    const el = document.createElement('p');
    el.className = cls;
    el.textContent = text;
    return el;
  };
  const parts = [p('error-title', err.title || 'Something went wrong')];
  if (err.detail) parts.push(p('error-detail', err.detail));
  if (err.hint && !err.detail.includes(err.hint)) parts.push(p('error-hint', err.hint));
  if (err.code || err.requestId) {
    const meta = document.createElement('p');
    meta.className = 'error-meta';
    const bits = [];
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
  ui.errorBody.replaceChildren(...parts);
  ui.error.hidden = false;
  say('');
  if (focus) {
    focus.scrollIntoView({ block: 'center', behavior: behavior() });
    focus.focus({ preventScroll: true });
  } else {
    ui.error.scrollIntoView({ block: 'nearest', behavior: behavior() });
  }
}

// ---- Runs: the jobs on screen ---------------------------------------------------

const compare = createCompare({
  figure: $('compare'),
  stage: $('compare-stage'),
  before: $('before-img'),
  after: $('after-img'),
  range: $('compare-range'),
  regions: $('compare-regions'),
  caption: $('compare-caption'),
  warning: $('structure-warning'),
});

/** known holds every job object the page has seen, by id. */
const known = new Map();
/** following holds an AbortController per job whose event stream is read. */
const following = new Map();
/** run is what the result panel shows: {ids, batch, selected: {id, n}, fresh, uploading}. */
let run = null;
let ticker = 0;

const busy = () => !!run && (run.uploading || run.ids.some((id) => !terminal(known.get(id)?.status)));

const meta = (job) => (job?.metadata && typeof job.metadata === 'object' ? job.metadata : {});

function providerName(name) {
  const found = picker.describe(name || '');
  if (!found) return name || 'unknown model';
  return found.path ? `${found.provider.label} · ${modelName(name, found.path)}` : found.provider.label;
}

function labelOf(job) {
  const m = meta(job);
  const c = {
    room: ROOMS.find((r) => r.id === m.room) || null,
    style: STYLES.find((s) => s.id === m.style) || null,
    text: typeof m.text === 'string' ? m.text : (m.room || m.style ? '' : job.prompt || ''),
  };
  if (m.declutter === 'only') return 'Room emptied';
  let label = promptLabel(c);
  if (m.declutter) label = `${label}, decluttered`;
  return label;
}

function describe(job) {
  const m = meta(job);
  const label = labelOf(job);
  return {
    title: m.photo && m.mode === 'rooms' ? `${label} · ${m.photo}` : label,
    provider: providerName(m.provider || job.provider),
  };
}

function ordinal(n) {
  const s = ['th', 'st', 'nd', 'rd'];
  const v = n % 100;
  return `${n}${s[(v - 20) % 10] || s[v] || s[0]}`;
}

/** progressText says where a job stands: "Waiting · 2nd in line", "Staging · 12 s". */
function progressText(job) {
  if (!job) return 'Uploading…';
  switch (job.status) {
    case 'queued':
      return job.queue_position ? `Waiting · ${ordinal(job.queue_position)} in line` : (job.attempts > 0 ? 'Waiting to try again' : 'Waiting to start');
    case 'running': {
      const since = Date.parse(job.started_at || '') || Date.now();
      const again = job.attempts > 1 ? ` · attempt ${job.attempts}` : '';
      return `Staging · ${formatElapsed(Math.max(0, Date.now() - since))}${again}`;
    }
    case 'succeeded': {
      const took = Date.parse(job.finished_at || '') - Date.parse(job.created_at || '');
      return Number.isFinite(took) && took >= 0 ? `Done in ${formatSeconds(took)}` : 'Done';
    }
    case 'failed':
      return `Failed: ${jobError(job).title}`;
    case 'cancelled':
      return 'Cancelled';
    default:
      return job.status;
  }
}

async function showImage(img, url) {
  try {
    const p = await client.image(url);
    img.src = p.url;
  } catch {
    img.removeAttribute('src');
  }
}

/** follow reads job's event stream until it ends. */
function follow(job) {
  if (terminal(job.status) || following.has(job.id)) return;
  const ctl = new AbortController();
  following.set(job.id, ctl);
  client.follow(job, (j) => update(j), ctl.signal)
    .catch((err) => {
      if (err instanceof ApiError && err.code === 'job_not_found') store.forget([job.id]);
    })
    .finally(() => {
      following.delete(job.id);
    });
}

/** update takes a new job object: a changed status re-renders the panel and the history. */
function update(job) {
  const old = known.get(job.id);
  known.set(job.id, job);
  if (!run?.ids.includes(job.id)) {
    if (!old || old.status !== job.status) renderHistory();
    return;
  }
  const wasBusy = run.wasBusy;
  // A job that succeeded while on screen shows its first (or favourite) variation.
  if (!run.selected && job.status === 'succeeded') run.selected = { id: job.id, n: preferred(job) };
  render();
  if (!old || old.status !== job.status || old.queue_position !== job.queue_position) renderHistory();
  if (wasBusy && !busy()) finished();
}

function finished() {
  const jobs = run.ids.map((id) => known.get(id));
  const ok = jobs.filter((j) => j.status === 'succeeded');
  const failed = jobs.filter((j) => j.status === 'failed');
  const n = jobs.length;
  if (n === 1 && failed.length) {
    showError(jobError(failed[0]));
  } else if (ok.length === 0 && jobs.every((j) => j.status === 'cancelled')) {
    say('Cancelled. Your photos and settings are still here.');
  } else if (ok.length) {
    const fallback = ok.some((j) => j.fallback);
    say(fallback
      ? 'Done, but without an API key the photo came back unchanged.'
      : n > 1
        ? `${ok.length} of ${n} rooms staged${failed.length ? `; ${failed.length} failed` : ''}. Choose a room to compare it.`
        : 'Your room is staged. Slide across the image to compare it with the original.');
  }
  if (run.fresh) revealResult(true);
}

/** revealResult brings the result heading into view, and focuses it when asked. */
function revealResult(focus) {
  const top = ui.resultHeading.getBoundingClientRect().top;
  if (top < 0 || top > window.innerHeight * 0.6) ui.resultHeading.scrollIntoView({ block: 'start', behavior: focus ? 'auto' : behavior() });
  if (focus) ui.resultHeading.focus({ preventScroll: true });
}

function tick() {
  if (!run || !busy()) {
    window.clearInterval(ticker);
    ticker = 0;
    return;
  }
  renderProgress();
}

function renderProgress() {
  const jobs = run.ids.map((id) => known.get(id));
  if (!run.batch) {
    ui.progressTime.textContent = progressText(jobs[0]);
  } else {
    for (const li of ui.rooms.children) {
      const j = known.get(li.dataset.id);
      const st = li.querySelector('.room-status');
      if (j && st) st.textContent = progressText(j);
    }
  }
  const active = jobs.filter((j) => !j || !terminal(j.status)).length;
  ui.submitLabel.textContent = run.batch ? `Staging… ${jobs.length - active} of ${jobs.length} done` : `Staging… ${progressText(jobs[0]).replace(/^Staging · /, '')}`;
}

function setControls() {
  const on = busy();
  ui.controls.disabled = on;
  ui.submit.disabled = on;
  ui.refine.disabled = on;
  photos.setDisabled(on);
  ui.cancel.hidden = !on;
  ui.resultCard.setAttribute('aria-busy', String(on));
  ui.form.classList.toggle('is-busy', on);
  for (const b of ui.restyleList.querySelectorAll('button')) b.disabled = on;
  if (on && !ticker) ticker = window.setInterval(tick, 1000);
  if (!on) updateMode();
  if (run) run.wasBusy = on;
}

/** render draws the result panel for the run on screen (or the chosen photo when there is none). */
function render() {
  setControls();
  const items = photos.items();
  ui.notice.hidden = true;
  if (!run) {
    ui.rooms.hidden = true;
    ui.variations.hidden = true;
    ui.resultActions.hidden = true;
    ui.restyle.hidden = true;
    ui.resultMeta.textContent = '';
    compare.hide();
    ui.previewVeil.hidden = true;
    if (items.length) {
      ui.previewImg.src = items[0].url;
      ui.previewImg.alt = `The photo to stage: “${items[0].file.name}”`;
      ui.previewCaption.textContent = items.length > 1 && mode() === 'rooms'
        ? `Room 1 of ${items.length}: ${items[0].file.name}`
        : `Ready to stage: ${items[0].file.name}`;
    }
    ui.preview.hidden = items.length === 0;
    ui.empty.hidden = items.length > 0;
    return;
  }
  ui.empty.hidden = true;
  const jobs = run.ids.map((id) => known.get(id));
  if (run.batch) renderRooms(jobs);
  else ui.rooms.hidden = true;

  const first = jobs[0];
  const sel = run.selected && known.get(run.selected.id)?.status === 'succeeded' ? known.get(run.selected.id) : null;
  if (!run.batch && !sel) {
    // One room still going (or ended without a result): the photo, large, with where it stands.
    ui.preview.hidden = false;
    ui.previewVeil.hidden = !!first && terminal(first.status);
    if (first?.inputs?.[0]) showImage(ui.previewImg, first.inputs[0].url);
    else if (items[0]) ui.previewImg.src = items[0].url;
    ui.previewImg.alt = 'The photo being staged';
    ui.previewCaption.textContent = first && terminal(first.status) ? progressText(first) : '';
    ui.progressTitle.textContent = first?.status === 'running' ? `Staging with ${providerName(meta(first).provider || first.provider)}…` : 'Your edit is in line';
    ui.progressTime.textContent = progressText(first);
  } else {
    ui.preview.hidden = true;
  }
  if (sel) renderSelected(sel);
  else {
    ui.variations.hidden = true;
    ui.resultActions.hidden = true;
    ui.restyle.hidden = true;
    compare.hide();
    ui.resultMeta.textContent = run.batch ? `${jobs.length} rooms` : '';
  }
  if (busy()) renderProgress();
}

function renderRooms(jobs) {
  ui.rooms.hidden = false;
  const rows = jobs.map((job, i) => {
    const id = run.ids[i];
    let li = ui.rooms.querySelector(`li[data-id="${CSS.escape(id)}"]`);
    if (!li) {
      li = document.createElement('li');
      li.className = 'room';
      li.dataset.id = id;
      const img = document.createElement('img');
      img.className = 'room-thumb';
      img.alt = '';
      const text = document.createElement('div');
      text.className = 'room-text';
      const name = document.createElement('p');
      name.className = 'room-name';
      const st = document.createElement('p');
      st.className = 'room-status';
      text.append(name, st);
      const act = document.createElement('div');
      act.className = 'room-actions';
      li.append(img, text, act);
    }
    const [img, text, act] = li.children;
    const m = meta(job);
    text.firstChild.textContent = `Room ${i + 1}: ${m.photo || 'photo'}`;
    text.lastChild.textContent = progressText(job);
    li.dataset.status = job?.status || 'uploading';
    const pic = job?.status === 'succeeded' ? job.results[preferred(job)] : job?.inputs?.[0];
    if (pic && img.dataset.url !== pic.url) {
      img.dataset.url = pic.url;
      showImage(img, pic.url);
    }
    const buttons = [];
    if (job && !terminal(job.status)) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'btn-link';
      b.textContent = `Cancel room ${i + 1}`;
      b.addEventListener('click', () => cancelJobs([id]));
      buttons.push(b);
    } else if (job?.status === 'succeeded') {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'btn-link';
      b.textContent = `Compare room ${i + 1}`;
      if (run.selected?.id === id) b.setAttribute('aria-pressed', 'true');
      else b.setAttribute('aria-pressed', 'false');
      b.addEventListener('click', () => select(id, Math.max(0, store.favourite(id)), true));
      buttons.push(b);
    } else if (job?.status === 'failed') {
      const p = document.createElement('span');
      p.className = 'room-detail';
      p.textContent = job.error?.detail || '';
      buttons.push(p);
    }
    if (act.dataset.sig !== `${job?.status}|${run.selected?.id === id}`) {
      act.replaceChildren(...buttons);
      act.dataset.sig = `${job?.status}|${run.selected?.id === id}`;
    }
    return li;
  });
  if (rows.some((li, i) => ui.rooms.children[i] !== li) || ui.rooms.children.length !== rows.length) ui.rooms.replaceChildren(...rows);
}

/**
 * preferred is the result shown first: the favourite, else the first staged
 * picture — a "declutter then stage" job's results[0] is the emptied room
 * (step "declutter", docs/jobs.md), kept beside the staged ones.
 */
function preferred(job) {
  const fav = store.favourite(job.id);
  if (fav >= 0) return fav;
  return Math.max(0, (job.results || []).findIndex((r) => r.step !== 'declutter'));
}

/** select puts variation n of job id on the slider. */
function select(id, n, announce) {
  run.selected = { id, n };
  render();
  if (announce) {
    const job = known.get(id);
    say(`Comparing variation ${n + 1}${job.results.length > 1 ? ` of ${job.results.length}` : ''} with the original.`);
  }
}

function fileName(job, n) {
  const m = meta(job);
  const base = resultFileName({
    room: ROOMS.find((r) => r.id === m.room)?.label,
    style: STYLES.find((s) => s.id === m.style)?.label,
    date: new Date(job.created_at || Date.now()),
    contentType: job.results[n].content_type,
  });
  const parts = [];
  if (m.mode === 'rooms' && m.photo) parts.push(slug(m.photo.replace(/\.[^.]+$/, '')));
  if (job.results.length > 1) parts.push(`v${n + 1}`);
  return parts.length ? base.replace(/(\.[a-z]+)$/, `-${parts.join('-')}$1`) : base;
}

function renderSelected(job) {
  const n = Math.min(run.selected.n, job.results.length - 1);
  const fav = store.favourite(job.id);
  const m = meta(job);
  const label = job.disclosure ? ` · marked “${server.disclosure.text}”` : '';
  ui.resultMeta.textContent = `${describe(job).title} · ${describe(job).provider}${label}`;

  // Variations side by side.
  ui.variations.hidden = job.results.length < 2;
  const cards = job.results.map((r, i) => {
    const li = document.createElement('li');
    li.className = 'variation';
    const show = document.createElement('button');
    show.type = 'button';
    show.className = 'variation-show';
    show.setAttribute('aria-pressed', String(i === n));
    const img = document.createElement('img');
    img.alt = '';
    img.className = 'variation-img';
    showImage(img, r.url);
    const cap = document.createElement('span');
    cap.textContent = r.step === 'declutter' ? 'Emptied room' : `Variation ${i + 1}`;
    show.append(img, cap);
    show.addEventListener('click', () => select(job.id, i, true));
    const star = document.createElement('button');
    star.type = 'button';
    star.className = 'variation-fav';
    star.setAttribute('aria-pressed', String(i === fav));
    star.textContent = i === fav ? '★ Favourite' : '☆ Favourite';
    star.setAttribute('aria-label', `Favourite: variation ${i + 1}`);
    star.addEventListener('click', () => {
      store.setFavourite(job.id, i === fav ? -1 : i);
      say(i === fav ? `Variation ${i + 1} is no longer your favourite.` : `Variation ${i + 1} is your favourite.`);
      render();
      renderHistory();
    });
    li.append(show, star);
    return li;
  });
  ui.variationList.replaceChildren(...cards);

  // The slider: this variation against the original.
  const r = job.results[n];
  const beforeUrl = job.inputs?.[0]?.url;
  Promise.all([client.image(r.url), beforeUrl ? client.image(beforeUrl) : Promise.reject(new Error('no input'))])
    .then(([after, before]) => {
      if (run?.selected?.id !== job.id || run.selected.n !== n) return;
      compare.show({
        beforeUrl: before.url,
        afterUrl: after.url,
        beforeAlt: 'The original photo',
        afterAlt: `Staged result${job.results.length > 1 ? `, variation ${n + 1}` : ''}: ${labelOf(job)}`,
        text: job.prompt || `Server default prompt: “${DEFAULT_PROMPT}”`,
        width: r.width,
        height: r.height,
        structure: r.structure || null,
      });
    }, () => compare.hide());

  // Download this one (or the favourite) and all.
  const ext = (fileName(job, n).split('.').pop() || 'png').toUpperCase();
  const which = job.results.length > 1 ? `variation ${n + 1}` : ext;
  ui.download.textContent = `Download ${which} (${job.results.length > 1 ? `${ext}, ` : ''}${formatBytes(r.bytes)})`;
  ui.download.removeAttribute('aria-label');
  ui.download.download = fileName(job, n);
  ui.download.href = '#';
  client.image(r.url).then((p) => { ui.download.href = p.url; }, () => {});
  const all = run.batch ? run.ids.map((id) => known.get(id)).filter((j) => j?.status === 'succeeded') : [job];
  const count = all.reduce((k, j) => k + j.results.length, 0);
  ui.downloadAll.hidden = count < 2;
  ui.downloadAll.textContent = `Download all ${count}`;
  ui.resultActions.hidden = false;

  // Try another style on the same photo, in one click.
  ui.restyle.hidden = false;
  ui.restyleList.replaceChildren(...STYLES.filter((s) => s.id !== m.style).map((s) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'restyle-btn';
    b.textContent = s.label;
    b.disabled = busy();
    b.addEventListener('click', () => restyle(job, s));
    return b;
  }));

  // The development fallback returned the photo unchanged.
  if (job.fallback) {
    const p = picker.describe(m.provider || job.provider)?.provider;
    const who = p ? p.label : 'this model';
    const title = document.createElement('p');
    title.className = 'notice-title';
    title.textContent = 'This is your original photo, unchanged';
    const text = document.createElement('p');
    text.textContent = `This server cannot use ${who} yet and no key of your own was entered, so the photo came back as it was. Enter your own ${who} key, or ask whoever runs this server to add one.`;
    ui.notice.replaceChildren(title, text);
    if (p && document.getElementById(`key-${p.id}`)) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'btn-link';
      button.textContent = `Enter a ${who} key`;
      button.addEventListener('click', () => keys.focus(p.id));
      ui.notice.append(button);
    }
    ui.notice.hidden = false;
  }
}

// A photo the browser cannot show (HEIC before the server's preview arrives) gets no broken frame.
ui.previewImg.addEventListener('error', () => {
  if (!run) ui.preview.hidden = true;
});

ui.download.addEventListener('click', (e) => {
  if (ui.download.getAttribute('href') === '#') e.preventDefault(); // still fetching
});

ui.downloadAll.addEventListener('click', async () => {
  const jobs = run.batch ? run.ids.map((id) => known.get(id)).filter((j) => j?.status === 'succeeded') : [known.get(run.selected.id)];
  let k = 0;
  for (const job of jobs) {
    for (let n = 0; n < job.results.length; n++) {
      const p = await client.image(job.results[n].url);
      const a = document.createElement('a');
      a.href = p.url;
      a.download = fileName(job, n);
      document.body.append(a);
      a.click();
      a.remove();
      k++;
      await new Promise((r) => setTimeout(r, 250)); // browsers drop downloads started in one burst
    }
  }
  say(`${k} pictures downloaded.`);
});

ui.refine.addEventListener('click', async () => {
  if (!run?.selected || busy()) return;
  const job = known.get(run.selected.id);
  const r = job.results[run.selected.n];
  const p = await client.image(r.url);
  photos.replaceWith(new File([p.blob], fileName(job, run.selected.n), { type: r.content_type }));
  say('The staged result is now the photo to edit. Add instructions and stage again.');
  ui.prompt.focus();
  ui.prompt.scrollIntoView({ block: 'center', behavior: behavior() });
});

// ---- Submitting -------------------------------------------------------------------

let uploads = null; // AbortController of the uploads in progress

/** check returns the first reason not to send anything, or null: nothing is uploaded that would be refused. */
function check(items, m) {
  if (items.length === 0) {
    return { err: new ApiError('invalid', { title: 'Add a room photo first', detail: 'Drop a photo of the room on the box above, or choose one from your device.' }), focus: $('photo-input') };
  }
  const bad = items.find((it) => it.problems.length);
  if (bad) {
    return {
      err: new ApiError('invalid', { title: `“${bad.file.name}” cannot be sent`, detail: 'Remove it (the note under the photo says why), then stage again.' }),
      focus: bad.el.querySelector('.thumb-remove'),
    };
  }
  if (!m) {
    return { err: new ApiError('invalid', { title: 'Say what these photos are', detail: 'Choose “Different rooms” or “One room, several views”.' }), focus: ui.mode.querySelector('input') };
  }
  if (m === 'views' && items.length > LIMITS.images) {
    return {
      err: new ApiError('invalid', { title: 'Too many photos for one room', detail: `The server takes up to ${LIMITS.images} photos of one room; remove ${items.length - LIMITS.images}, or choose “Different rooms”.` }),
      focus: ui.mode.querySelector('input[value="views"]'),
    };
  }
  if (m === 'rooms' && items.length > MAX_ROOMS) {
    return { err: new ApiError('invalid', { title: 'Too many rooms at once', detail: `Stage up to ${MAX_ROOMS} rooms at a time; remove ${items.length - MAX_ROOMS}.` }), focus: $('photo-input') };
  }
  if (m === 'views' && photos.total() > LIMITS.requestBytes) {
    return { err: new ApiError('invalid', { title: 'The photos are too large together', detail: `One edit takes up to ${formatBytes(LIMITS.requestBytes)}; remove a photo or two.` }), focus: $('photo-input') };
  }
  if (server.auth === 'required' && !keys.token()) {
    return { err: new ApiError('invalid', { title: 'Enter your access token', detail: 'This server stages rooms only for people with an access token.' }), focus: ui.token };
  }
  return null;
}

/**
 * tokenRefused words a 401 for a token that was entered: the server's detail
 * already says why (unknown, revoked, expired) and what to do, so no hint.
 */
function tokenRefused(err) {
  err.title = 'Your access token was not accepted';
  err.hint = '';
  return err;
}

/** settings are the job fields of the form as it is now. */
function settings() {
  const c = choice();
  const sel = picker.selection();
  return {
    c,
    sel,
    prompt: composePrompt(c),
    variations: Number(field('variations').value) || 1,
    declutter: declutterMode(),
    disclosure: server.disclosure.mode === 'optional' && ui.disclosure.checked,
  };
}

/** start submits one job per entry of files (an array of File arrays) and follows them. */
async function start(groups, s, m, names) {
  const runId = `r${Date.now().toString(36)}`;
  const shown = run; // the result on screen, back if nothing of this run is sent
  run = { ids: groups.map((_, i) => `pending-${runId}-${i}`), batch: m === 'rooms', selected: null, fresh: true, uploading: true };
  const controller = new AbortController();
  uploads = controller;
  clearError();
  render();
  revealResult(false);
  const total = groups.flat().reduce((n, f) => n + f.size, 0);
  say(`Uploading ${groups.length > 1 ? `${groups.length} rooms` : groups[0].length > 1 ? `${groups[0].length} photos` : 'the photo'} (${formatBytes(total)}). You can cancel at any time.`);
  let firstErr = null;
  for (let i = 0; i < groups.length; i++) {
    if (controller.signal.aborted) break;
    const metadata = {
      page: 1, run: runId, mode: m, room: s.c.room?.id || '', style: s.c.style?.id || '', text: s.c.text.trim(),
      preserve: s.c.preserve, provider: s.sel.name, photo: names[i] || '', declutter: s.declutter || undefined,
    };
    try {
      const job = await client.submit({
        files: groups[i],
        fields: {
          prompt: s.declutter === 'only' ? '' : s.prompt,
          provider: s.sel.name,
          variations: s.variations,
          metadata: JSON.stringify(metadata),
          disclosure: s.disclosure ? 'true' : '',
          declutter: s.declutter ? 'true' : '',
        },
        headers: keys.headers(s.sel.family),
        signal: controller.signal,
      });
      known.set(job.id, job);
      run.ids[i] = job.id;
      store.add([job.id]);
      store.setCurrent(run.ids.filter((id) => !id.startsWith('pending-')));
      follow(job);
    } catch (err) {
      if (err.kind === 'cancelled') break;
      if (err.code === 'unauthorized' && keys.token()) tokenRefused(err);
      // TODO(issue 20, when "declutter then stage" lands on the server): drop this
      // once every server runs both steps in one job; older ones refuse it with 400.
      if (s.declutter === 'stage' && err.status === 400 && err.code === 'invalid_request') {
        err.title = 'This server cannot empty and stage a room in one go yet';
        err.detail = 'Choose “Only empty the room” under “Furniture already in the photo”; once it is done, stage the emptied room with “Try another style”.';
        err.hint = '';
      }
      firstErr ??= err;
      // This room never became a job: show it as failed, keep going with the others.
      const fake = { id: run.ids[i], status: 'failed', error: { detail: err.detail, code: err.code }, results: [], inputs: [], metadata };
      known.set(fake.id, fake);
      if (err.code === 'unauthorized' || err.code === 'token_required' || (err.kind === 'server' && err.status >= 400 && err.status < 500 && groups.length === 1)) break;
    }
    render();
  }
  uploads = null;
  // Rooms never sent (cancelled, or given up after a refusal) are cancelled.
  run.ids = run.ids.filter((id) => known.has(id));
  run.uploading = false;
  renderHistory();
  if (run.ids.length === 0 || (firstErr && run.ids.every((id) => known.get(id).status === 'failed' && id.startsWith('pending-')))) {
    const wasRun = run;
    run = shown ? { ...shown, fresh: false } : null;
    render();
    if (firstErr) {
      const focus = firstErr.code === 'unauthorized' || firstErr.code === 'token_required' ? ui.token : undefined;
      if (focus) ui.tokenField.hidden = false;
      showError(firstErr, { focus });
    } else if (wasRun) say('Cancelled before anything was sent. Your photos and settings are still here.');
    return;
  }
  if (firstErr) showError(firstErr);
  else say('Sent. You may close this tab: the edit goes on at the server and comes back here when you return.');
  run.wasBusy = true;
  render();
  if (!busy()) finished();
}

ui.form.addEventListener('submit', (e) => {
  e.preventDefault();
  if (busy()) return;
  clearError();
  photos.clearMessage();
  const items = photos.items();
  const m = mode();
  const problem = check(items, m);
  if (problem) {
    showError(problem.err, { focus: problem.focus });
    return;
  }
  const s = settings();
  if (s.sel.problem) {
    showError(new ApiError('invalid', { title: `Check the ${s.sel.provider?.label ?? ''} model path`, detail: s.sel.problem }), { focus: $('custom-model') });
    return;
  }
  const groups = m === 'rooms' ? items.map((it) => [it.file]) : [items.map((it) => it.file)];
  const names = m === 'rooms' ? items.map((it) => it.file.name) : [items[0].file.name];
  start(groups, s, m, names);
});

/**
 * restyle stages the same photo again with another style, in one click. An
 * emptied room (declutter alone) is staged from its result: the second step
 * of "empty it, then stage" done by hand.
 */
async function restyle(job, style) {
  if (busy()) return;
  const m = meta(job);
  field('style').value = style.id; // the form follows, so the next edit starts from here
  updatePrompt();
  const c = {
    room: ROOMS.find((r) => r.id === m.room) || null,
    style,
    text: typeof m.text === 'string' ? m.text : '',
    preserve: m.preserve !== false,
  };
  const emptied = m.declutter === 'only';
  const sources = emptied ? [job.results[Math.max(0, Math.min(run?.selected?.n ?? 0, job.results.length - 1))]].filter(Boolean) : job.inputs || [];
  let files;
  try {
    files = await Promise.all(sources.map(async (inp, i) => {
      const p = await client.image(inp.url);
      return new File([p.blob], i === 0 && m.photo ? m.photo : `photo-${i + 1}.jpg`, { type: inp.content_type });
    }));
  } catch (err) {
    showError(err);
    return;
  }
  const sel = picker.selection();
  const s = {
    c,
    sel: m.provider ? { ...sel, name: m.provider, family: picker.describe(m.provider)?.provider.id || sel.family } : sel,
    prompt: composePrompt(c),
    variations: job.variations || 1,
    declutter: m.declutter && !emptied ? 'stage' : '',
    disclosure: server.disclosure.mode === 'optional' && ui.disclosure.checked,
  };
  say(emptied ? `Staging the emptied room in the ${style.label} style…` : `Staging the same photo in the ${style.label} style…`);
  start([files], s, files.length > 1 ? 'views' : 'single', [m.photo || '']);
}

// ---- Cancelling ---------------------------------------------------------------------

async function cancelJobs(ids) {
  await Promise.all(ids.map(async (id) => {
    const j = known.get(id);
    if (!j || terminal(j.status)) return;
    try {
      update(await client.cancel(id));
    } catch (err) {
      showError(err);
    }
  }));
}

function cancelAll() {
  if (!run) return;
  uploads?.abort();
  say('Cancelling…');
  cancelJobs(run.ids);
}

ui.cancel.addEventListener('click', cancelAll);
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && busy()) {
    e.preventDefault();
    cancelAll();
  }
});

// ---- History: finding the jobs again ------------------------------------------------

const history = createHistory({
  section: $('history'),
  list: $('history-list'),
  clear: $('history-clear'),
  hint: $('history-hint'),
  describe,
  image: (url) => client.image(url),
  onSelect: (job) => {
    const again = job.metadata?.run ? [...known.values()].filter((j) => meta(j).run === meta(job).run && meta(j).mode === 'rooms') : [];
    if (again.length > 1) {
      again.sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
      run = { ids: again.map((j) => j.id), batch: true, selected: null, fresh: false };
    } else {
      run = { ids: [job.id], batch: false, selected: null, fresh: false };
    }
    if (job.status === 'succeeded') run.selected = { id: job.id, n: preferred(job) };
    store.setCurrent(run.ids);
    run.wasBusy = busy();
    render();
    for (const id of run.ids) follow(known.get(id));
    say(`Showing ${describe(job).title}.`);
    revealResult(false);
  },
  onClear: () => say('Your edits are forgotten on this device.'),
});

let fromServer = false;

function renderHistory() {
  const jobs = [...known.values()].filter((j) => !j.id.startsWith('pending-'))
    .sort((a, b) => Date.parse(b.created_at || 0) - Date.parse(a.created_at || 0));
  history.render(jobs, { fromServer });
  if (run?.selected) history.select(run.selected.id);
}

/** findJobs loads the person's jobs: the server's list with a token, else the ids kept on this device. */
let finding = 0; // the latest findJobs call; an older one that ends later is dropped

async function findJobs() {
  const mine = ++finding;
  let jobs = [];
  let listed = false;
  if (keys.token()) {
    try {
      jobs = await client.list(20);
      listed = true;
    } catch (err) {
      // No list on this server: the device's own ids still work. A refused
      // token is said at once, not at the next edit.
      if (err.code === 'unauthorized') showError(tokenRefused(err));
    }
  }
  if (!listed) {
    const ids = store.ids().slice(0, 20);
    const got = await Promise.all(ids.map((id) => client.get(id).catch((err) => {
      if (err.code === 'job_not_found') store.forget([id]);
      return null;
    })));
    jobs = got.filter(Boolean);
  }
  if (mine !== finding) return;
  fromServer = listed;
  for (const j of jobs) known.set(j.id, j);
  // The run that was on screen when the tab was closed comes back, still followed.
  const current = store.current().filter((id) => known.has(id));
  if (current.length && !run) {
    const batch = current.length > 1 || meta(known.get(current[0])).mode === 'rooms';
    const done = current.map((id) => known.get(id)).find((j) => j.status === 'succeeded');
    run = { ids: current, batch: batch && current.length > 1, selected: done ? { id: done.id, n: Math.max(0, store.favourite(done.id)) } : null, fresh: false };
    run.wasBusy = busy();
    render();
    if (busy()) say('Your edit is still being staged; it continues here.');
  }
  for (const j of jobs) follow(j);
  renderHistory();
}

ui.token.addEventListener('change', () => findJobs());

render();
(async () => {
  await Promise.all([loadProviders(), loadPresets()]);
  await findJobs();
})();

