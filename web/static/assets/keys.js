// Per-request API keys: kept in memory, or in localStorage when the person
// ticks "Remember on this device". Unticking forgets them there at once.

const STORE = 'frameforge.keys.v1';

/** The request header that carries each family's key (the contract's names). */
export const KEY_HEADERS = { google: 'X-Google-API-Key', fal: 'X-Fal-Key' };

function storage() {
  try {
    return window.localStorage;
  } catch {
    return null; // storage disabled (private mode, blocked cookies)
  }
}

/** createKeys wires the key fields and returns their API. */
export function createKeys({ google, fal, remember, details, onChange }) {
  const fields = { google, fal };

  function save() {
    const s = storage();
    if (!s) return;
    try {
      if (remember.checked) {
        s.setItem(STORE, JSON.stringify({ google: google.value.trim(), fal: fal.value.trim() }));
      } else {
        s.removeItem(STORE);
      }
    } catch {
      // A full or blocked storage only loses the convenience.
    }
  }

  const saved = (() => {
    try {
      return JSON.parse(storage()?.getItem(STORE) || 'null');
    } catch {
      return null;
    }
  })();
  if (saved && typeof saved === 'object') {
    google.value = typeof saved.google === 'string' ? saved.google : '';
    fal.value = typeof saved.fal === 'string' ? saved.fal : '';
    remember.checked = true;
    details.open = true;
  }

  for (const el of [google, fal]) {
    el.addEventListener('input', () => {
      save();
      onChange();
    });
  }
  remember.addEventListener('change', save);

  return {
    /** get returns the trimmed key entered for family ("google" or "fal"). */
    get: (family) => (fields[family]?.value || '').trim(),
    /** headers returns the key header for family, or none when no key was entered. */
    headers(family) {
      const key = this.get(family);
      return key ? { [KEY_HEADERS[family]]: key } : {};
    },
  };
}
