// The model picker, filled from GET /api/providers.

const CUSTOM = 'custom';

/** Friendly names of fal model paths the server lists. */
const FAL_NAMES = {
  'fal-ai/nano-banana/edit': 'Nano Banana edit',
  'fal-ai/qwen-image-edit': 'Qwen Image Edit',
  'fal-ai/bytedance/seedream/v4/edit': 'Seedream 4 edit',
  'fal-ai/flux-kontext/dev': 'FLUX.1 Kontext [dev]',
};

/** What the page assumes when the server cannot be asked (the shipped client's list). */
const OFFLINE = {
  default: 'google',
  providers: [
    { id: 'google', label: 'Nano Banana (Google Gemini)', configured: null },
    { id: 'fal', label: 'fal.ai', prefix: 'fal:', configured: null, models: Object.keys(FAL_NAMES) },
  ],
};

/**
 * fetchProviders asks the server which providers exist and which hold a key.
 * It throws when the server cannot be reached or answers nonsense.
 */
export async function fetchProviders() {
  const res = await fetch('/api/providers', { headers: { Accept: 'application/json' } });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const data = await res.json();
  if (!Array.isArray(data.providers)) throw new Error('no providers array');
  return data;
}

const MODEL_PATH = /^[a-z0-9._-]+(\/[a-z0-9._-]+)+$/;

/**
 * createProviderPicker wires the model select, the custom fal model field and
 * the status line. keyFor(family) says whether the person entered a key.
 */
export function createProviderPicker({ select, customField, customInput, datalist, status, keyFor, onChange }) {
  let info = OFFLINE;
  let reachable = null; // null: not asked yet

  const family = (value) => (value === 'google' ? 'google' : 'fal');
  const provider = (id) => info.providers.find((p) => p.id === id);

  function fill(data, ok) {
    info = data;
    reachable = ok;
    const previous = select.value;
    select.replaceChildren();
    const tag = (p) => (p.configured === true ? 'key on server' : p.configured === false ? 'no server key' : 'status unknown');
    const google = provider('google');
    if (google) {
      const g = document.createElement('optgroup');
      g.label = `Google Gemini · ${tag(google)}`;
      const o = new Option(google.model ? `Nano Banana (${google.model})` : 'Nano Banana', 'google');
      g.append(o);
      select.append(g);
    }
    const fal = provider('fal');
    if (fal) {
      const g = document.createElement('optgroup');
      g.label = `fal.ai · ${tag(fal)}`;
      for (const path of fal.models || []) {
        g.append(new Option(FAL_NAMES[path] ? `${FAL_NAMES[path]} (${path})` : path, `fal:${path}`));
      }
      g.append(new Option('Other fal model…', CUSTOM));
      select.append(g);
      datalist.replaceChildren(...(fal.models || []).map((m) => new Option(m)));
    }
    const values = [...select.options].map((o) => o.value);
    const wanted = values.includes(previous) ? previous : (data.default || 'google');
    select.value = values.includes(wanted) ? wanted : values[0];
    refresh();
  }

  /** selection returns what will be sent: name, key family, a label, and a problem if any. */
  function selection() {
    const v = select.value;
    if (v === CUSTOM) {
      const path = customInput.value.trim().replace(/^fal:/i, '').trim().toLowerCase();
      let problem = '';
      if (!path) problem = 'Enter a fal model path, for example fal-ai/flux-kontext/dev.';
      else if (!MODEL_PATH.test(path)) problem = 'A fal model path looks like owner/app or owner/app/path, with letters, digits, “-”, “_” and “.” only.';
      return { name: `fal:${path}`, family: 'fal', label: path || 'custom fal model', problem };
    }
    const opt = select.selectedOptions[0];
    return { name: v, family: family(v), label: opt ? opt.textContent : v, problem: '' };
  }

  function refresh() {
    const sel = selection();
    customField.hidden = select.value !== CUSTOM;
    const p = provider(sel.family);
    const who = sel.family === 'google' ? 'Google Gemini' : 'fal.ai';
    let state;
    let text;
    if (keyFor(sel.family)) {
      state = 'own-key';
      text = `Uses the ${who} key you entered, for your edits only.`;
    } else if (p && p.configured === true) {
      state = 'configured';
      text = `Ready: the server has a ${who} key.`;
    } else if (p && p.configured === false) {
      state = 'fallback';
      text = `The server has no ${who} key. Without a key of your own you get your photo back unchanged (development fallback).`;
    } else {
      state = 'unknown';
      text = reachable === false
        ? 'The server could not be asked which models have keys. You can still try.'
        : 'Checking which models the server can use…';
    }
    status.dataset.state = state;
    status.textContent = text;
    onChange(sel);
  }

  select.addEventListener('change', () => {
    refresh();
    if (select.value === CUSTOM) customInput.focus();
  });
  customInput.addEventListener('input', refresh);

  return {
    fill,
    fillOffline: () => fill(OFFLINE, false),
    refresh,
    selection,
    /** configured reports whether the server holds a key for family (true/false/null). */
    configured: (fam) => provider(fam)?.configured ?? null,
    focusCustom: () => customInput.focus(),
  };
}
