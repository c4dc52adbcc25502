// The model picker, filled from the server's provider table (GET /api/providers).
// Nothing here names a provider except the optional friendly names and the
// OFFLINE list: a provider added on the server shows up without a page change.

/** Friendly names of model paths the server lists (optional labels). */
const MODEL_NAMES = {
  'fal:fal-ai/nano-banana/edit': 'Nano Banana edit',
  'fal:fal-ai/qwen-image-edit': 'Qwen Image Edit',
  'fal:fal-ai/bytedance/seedream/v4/edit': 'Seedream 4 edit',
  'fal:fal-ai/flux-kontext/dev': 'FLUX.1 Kontext [dev]',
};

/**
 * Model-path rules for providers whose paths the page knows; any other
 * prefixed provider gets PATH_ANY and the server judges the name.
 */
const PATH_RULES = {
  'fal:': {
    re: /^[a-z0-9._-]+(\/[a-z0-9._-]+)+$/,
    lower: true,
    problem: 'looks like owner/app or owner/app/path, with letters, digits, “-”, “_” and “.” only.',
  },
};
const PATH_ANY = { re: /^[A-Za-z0-9._~:@/-]+$/, lower: false, problem: 'has letters, digits and “-”, “_”, “.”, “/” only, without spaces.' };

/** What the page assumes when the server cannot be asked (the shipped client's table). */
export const OFFLINE = {
  default: 'google',
  providers: [
    {
      id: 'google', label: 'Nano Banana (Google Gemini)', aliases: ['nano-banana'], configured: null,
      key_headers: ['X-Google-API-Key', 'X-Gemini-API-Key'], key_env: ['GOOGLE_API_KEY', 'GEMINI_API_KEY'],
    },
    {
      id: 'fal', label: 'fal.ai', prefix: 'fal:', configured: null,
      models: ['fal-ai/nano-banana/edit', 'fal-ai/qwen-image-edit', 'fal-ai/bytedance/seedream/v4/edit', 'fal-ai/flux-kontext/dev'],
      key_headers: ['X-Fal-Key', 'Authorization'], key_env: ['FAL_KEY'],
    },
  ],
};

const ID = /^[A-Za-z0-9._-]+$/;

/**
 * modelName is what the picker shows for a model path: its friendly name when
 * the page knows one, else the path's last meaningful part in words
 * ("fal-ai/qwen-image-edit" → "Qwen image edit").
 */
export function modelName(name, path) {
  if (MODEL_NAMES[name]) return MODEL_NAMES[name];
  const parts = path.split('/').filter((x) => x && !/^(v\d+|edit|dev|pro)$/i.test(x));
  const last = (parts[parts.length - 1] || path).replace(/[-_.]+/g, ' ').trim();
  return last ? last[0].toUpperCase() + last.slice(1) : path;
}
const strings = (v) => (Array.isArray(v) ? v.filter((s) => typeof s === 'string' && s) : []);

/**
 * normalize keeps the table entries the page can use (an id that can name an
 * element) and gives every list field an array, so the rest need not check.
 */
export function normalize(data) {
  const providers = [];
  for (const p of data.providers) {
    if (!p || typeof p.id !== 'string' || !ID.test(p.id) || providers.some((q) => q.id === p.id)) continue;
    providers.push({
      id: p.id,
      label: typeof p.label === 'string' && p.label ? p.label : p.id,
      aliases: strings(p.aliases),
      prefix: typeof p.prefix === 'string' ? p.prefix : '',
      model: typeof p.model === 'string' ? p.model : '',
      models: strings(p.models),
      configured: typeof p.configured === 'boolean' ? p.configured : null,
      key_headers: strings(p.key_headers),
      key_env: strings(p.key_env),
    });
  }
  return { ...data, providers };
}

/**
 * fetchProviders asks the server which providers exist and which hold a key.
 * It throws when the server cannot be reached or answers nonsense.
 */
export async function fetchProviders() {
  const res = await fetch('/api/providers', { headers: { Accept: 'application/json' } });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const data = await res.json();
  if (!Array.isArray(data?.providers)) throw new Error('no providers array');
  return normalize(data);
}

/**
 * lookup finds the provider that serves name: by id or alias, or by prefix.
 * It returns { provider, path } (path is the model path after the prefix, ""
 * for a fixed model), or null for a name no provider takes.
 */
export function lookup(providers, name) {
  const fixed = providers.find((p) => !p.prefix && (p.id === name || p.aliases.includes(name)));
  if (fixed) return { provider: fixed, path: '' };
  const lower = name.toLowerCase();
  const prefixed = providers.find((p) => p.prefix && lower.startsWith(p.prefix.toLowerCase()));
  if (prefixed) return { provider: prefixed, path: name.slice(prefixed.prefix.length) };
  const named = providers.find((p) => p.id === name || p.aliases.includes(name));
  return named ? { provider: named, path: '' } : null;
}

/**
 * createProviderPicker wires the model select, the custom model field (its
 * prefix, label, hint and suggestions follow the chosen provider) and the
 * status line. keyFor(id) says whether the person entered a key for provider
 * id; onTable(providers) hears every new table, so the key fields can follow.
 */
export function createProviderPicker({
  select, customField, customLabel, customPrefix, customInput, customHint, datalist, status, keyFor, onTable, onChange,
}) {
  let info = normalize(OFFLINE);
  let reachable = null; // null: not asked yet

  const byId = (id) => info.providers.find((p) => p.id === id);
  /** custom returns the provider whose "Other … model" option is chosen, or null. */
  const custom = () => byId(select.selectedOptions[0]?.dataset.custom || '') || null;

  function fill(data, ok) {
    info = normalize(data);
    reachable = ok;
    const previous = select.value;
    select.replaceChildren();
    for (const p of info.providers) {
      const g = document.createElement('optgroup');
      // People choose a model by name: no model ids, key variables or
      // server state in the list (the status line below says what matters).
      g.label = p.label;
      if (!p.prefix) {
        g.append(new Option(p.label, p.id));
      } else {
        for (const path of p.models) {
          const name = p.prefix + path;
          g.append(new Option(modelName(name, path), name));
        }
        const other = new Option(`Other ${p.label} model…`, `custom:${p.id}`);
        other.dataset.custom = p.id;
        g.append(other);
      }
      select.append(g);
    }
    onTable?.(info.providers);
    const values = [...select.options].map((o) => o.value);
    const wanted = values.includes(previous) ? previous : data.default;
    select.value = values.includes(wanted) ? wanted : values[0];
    refresh();
  }

  /** showCustom points the custom field at provider p (or hides it). */
  function showCustom(p) {
    customField.hidden = !p;
    if (!p) return;
    customLabel.textContent = `${p.label} model path`;
    customPrefix.textContent = p.prefix;
    const example = p.models[p.models.length - 1] || '';
    customInput.placeholder = example;
    customHint.textContent = example
      ? `Any ${p.label} image-editing model, for example ${example}.`
      : `Any ${p.label} image-editing model.`;
    if (datalist.dataset.provider !== p.id) {
      datalist.dataset.provider = p.id;
      datalist.replaceChildren(...p.models.map((m) => new Option(m)));
    }
  }

  /**
   * selection returns what will be sent: the provider name, the provider's id
   * (whose key goes along), the provider, a label for the option, a short name
   * for progress texts, and a problem if the name cannot be sent.
   */
  function selection() {
    const p = custom();
    if (p) {
      const rule = PATH_RULES[p.prefix] || PATH_ANY;
      let path = customInput.value.trim();
      if (path.toLowerCase().startsWith(p.prefix.toLowerCase())) path = path.slice(p.prefix.length).trim();
      if (rule.lower) path = path.toLowerCase();
      const example = p.models[p.models.length - 1];
      let problem = '';
      if (!path) problem = `Enter a ${p.label} model path${example ? `, for example ${example}` : ''}.`;
      else if (!rule.re.test(path)) problem = `A ${p.label} model path ${rule.problem}`;
      const label = path || `custom ${p.label} model`;
      return { name: p.prefix + path, family: p.id, provider: p, label, short: label, problem };
    }
    const v = select.value;
    const opt = select.selectedOptions[0];
    const found = lookup(info.providers, v);
    const label = opt ? opt.textContent : v;
    const short = found && !found.path ? found.provider.label : (MODEL_NAMES[v] || found?.path || v);
    return { name: v, family: found?.provider.id ?? '', provider: found?.provider ?? null, label, short, problem: '' };
  }

  function refresh() {
    showCustom(custom());
    const sel = selection();
    const p = sel.provider;
    const who = p ? p.label : 'this model';
    let state;
    let text;
    if (p && keyFor(p.id)) {
      state = 'own-key';
      text = `Uses the ${who} key you entered, for your edits only.`;
    } else if (p && p.configured === true) {
      state = 'configured';
      text = 'Ready to stage.';
    } else if (p && p.configured === false) {
      state = 'fallback';
      text = `This server cannot use ${who} yet: you would get your photo back unchanged. Enter your own ${who} key below, or choose another model.`;
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
    if (custom()) customInput.focus();
  });
  customInput.addEventListener('input', refresh);

  return {
    fill,
    fillOffline: () => fill(OFFLINE, false),
    refresh,
    selection,
    /** describe returns the provider serving name ({ provider, path }), or null. */
    describe: (name) => lookup(info.providers, name),
    /** configured reports whether the server holds a key for provider id (true/false/null). */
    configured: (id) => byId(id)?.configured ?? null,
    focusCustom: () => customInput.focus(),
  };
}
