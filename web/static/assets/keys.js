// Per-request API keys, one field per provider of the server's table: kept in
// memory, or in localStorage when the person ticks "Remember on this device".
// Unticking forgets them there at once.

/** The storage slot: a JSON map from provider id to key, e.g. {"google": "…", "fal": "…"}. */
const STORE = 'frameforge.keys.v1';
/** The storage slot of this server's access token (ff_…), under the same "Remember". */
const TOKEN_STORE = 'frameforge.token.v1';

/** Placeholders that show the shape of a key, for providers the page knows. */
const PLACEHOLDERS = { google: 'AIza…', fal: 'key_id:key_secret' };

function storage() {
  try {
    return window.localStorage;
  } catch {
    return null; // storage disabled (private mode, blocked cookies)
  }
}

/** readStored returns the remembered keys as a map, or null when none are remembered. */
function readStored() {
  let saved;
  try {
    saved = JSON.parse(storage()?.getItem(STORE) || 'null');
  } catch {
    return null;
  }
  if (!saved || typeof saved !== 'object' || Array.isArray(saved)) return null;
  const keys = {};
  for (const [id, key] of Object.entries(saved)) {
    if (typeof key === 'string') keys[id] = key;
  }
  return keys;
}

/**
 * createKeys wires the key fields, which render(providers) builds inside
 * container: one per provider that names a key header, with the id
 * "key-<provider id>". Keys entered for a provider that a later table lacks are
 * kept (and remembered) all the same.
 */
export function createKeys({ container, remember, details, token, onChange }) {
  const values = {}; // provider id → key as typed
  let headers = {}; // provider id → the request header that carries its key

  function save() {
    const s = storage();
    if (!s) return;
    try {
      const t = token.value.trim();
      if (remember.checked && t) s.setItem(TOKEN_STORE, t);
      else s.removeItem(TOKEN_STORE);
      if (remember.checked) {
        const kept = {};
        for (const [id, key] of Object.entries(values)) {
          if (key.trim()) kept[id] = key.trim();
        }
        s.setItem(STORE, JSON.stringify(kept));
      } else {
        s.removeItem(STORE);
      }
    } catch {
      // A full or blocked storage only loses the convenience.
    }
  }

  const saved = readStored();
  if (saved) {
    Object.assign(values, saved);
    remember.checked = true;
    details.open = true;
  }
  let savedToken = '';
  try {
    savedToken = storage()?.getItem(TOKEN_STORE) || '';
  } catch {
    // storage blocked: nothing was remembered
  }
  if (savedToken) {
    token.value = savedToken;
    remember.checked = true;
  }
  remember.addEventListener('change', save);
  token.addEventListener('input', () => {
    save();
    onChange();
  });

  /** render builds one key field per provider that takes a key, keeping what was typed. */
  function render(providers) {
    const fields = [];
    headers = {};
    for (const p of providers) {
      if (!p.key_headers.length) continue;
      headers[p.id] = p.key_headers[0];
      const field = document.createElement('div');
      field.className = 'field';
      const label = document.createElement('label');
      label.htmlFor = `key-${p.id}`;
      label.textContent = `${p.label} key`;
      const input = document.createElement('input');
      input.type = 'password';
      input.id = `key-${p.id}`;
      input.autocomplete = 'off';
      input.setAttribute('autocapitalize', 'off');
      input.spellcheck = false;
      input.placeholder = PLACEHOLDERS[p.id] || '';
      input.setAttribute('aria-describedby', 'keys-hint');
      input.dataset.header = headers[p.id];
      input.value = values[p.id] || '';
      input.addEventListener('input', () => {
        values[p.id] = input.value;
        save();
        onChange();
      });
      field.append(label, input);
      fields.push(field);
    }
    container.replaceChildren(...fields);
    details.hidden = fields.length === 0;
  }

  return {
    render,
    /** token returns the access token entered (ff_…), or "". */
    token: () => token.value.trim(),
    /** auth returns the Authorization header every call carries, when a token was entered. */
    auth() {
      const t = token.value.trim();
      return t ? { Authorization: `Bearer ${t}` } : {};
    },
    /** get returns the trimmed key entered for provider id. */
    get: (id) => (headers[id] ? (values[id] || '').trim() : ''),
    /** headers returns the key header for provider id, or none when no key was entered. */
    headers(id) {
      const key = this.get(id);
      return key ? { [headers[id]]: key } : {};
    },
    /** focus opens the key fields and focuses provider id's key, when it has one. */
    focus(id) {
      const input = document.getElementById(`key-${id}`);
      if (!input || !container.contains(input)) return false;
      details.open = true;
      input.focus();
      return true;
    },
  };
}
