// The person's edits: the job ids this page submitted (kept in localStorage,
// since a job id is the only way to see a job without an access token), the
// favourite variation of each, and the list that shows them again.

import { formatClock, truncate } from './format.js';

const JOBS = 'frameforge.jobs.v1'; // [{id, at}], newest first
const FAVOURITES = 'frameforge.favourites.v1'; // {job id: result index}
const CURRENT = 'frameforge.current.v1'; // the job ids of the run on screen
const KEEP = 40;

function storage() {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

function read(key, fallback) {
  try {
    const v = JSON.parse(storage()?.getItem(key) || 'null');
    return v ?? fallback;
  } catch {
    return fallback;
  }
}

function write(key, value) {
  try {
    storage()?.setItem(key, JSON.stringify(value));
  } catch {
    // A full or blocked storage only loses the convenience.
  }
}

/** store remembers job ids, favourites and the run on screen on this device. */
export const store = {
  ids() {
    const v = read(JOBS, []);
    return Array.isArray(v) ? v.filter((e) => typeof e?.id === 'string').map((e) => e.id) : [];
  },
  add(ids) {
    const old = this.ids().filter((id) => !ids.includes(id));
    write(JOBS, [...ids, ...old].slice(0, KEEP).map((id) => ({ id })));
  },
  forget(ids) {
    write(JOBS, this.ids().filter((id) => !ids.includes(id)).map((id) => ({ id })));
  },
  clear() {
    for (const k of [JOBS, FAVOURITES, CURRENT]) {
      try {
        storage()?.removeItem(k);
      } catch {
        // nothing stored
      }
    }
  },
  favourite(id) {
    const v = read(FAVOURITES, {})[id];
    return Number.isInteger(v) ? v : -1;
  },
  setFavourite(id, n) {
    const all = read(FAVOURITES, {});
    if (n < 0) delete all[id];
    else all[id] = n;
    write(FAVOURITES, all);
  },
  current() {
    const v = read(CURRENT, []);
    return Array.isArray(v) ? v.filter((id) => typeof id === 'string') : [];
  },
  setCurrent(ids) {
    write(CURRENT, ids);
  },
};

const STATUS = { queued: 'Waiting', running: 'Staging…', failed: 'Failed', cancelled: 'Cancelled' };

/**
 * createHistory wires the history list. describe(job) gives {title, provider}
 * for an entry; image(url) a promise of {url} to show; onSelect(job) shows one.
 */
export function createHistory({ section, list, clear, hint, describe, image, onSelect, onClear }) {
  let shown = '';

  function mark() {
    for (const b of list.querySelectorAll('.history-item')) {
      if (b.dataset.id === shown) b.setAttribute('aria-current', 'true');
      else b.removeAttribute('aria-current');
    }
  }

  function entry(job) {
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'history-item';
    button.dataset.id = job.id;
    const { title, provider } = describe(job);
    const img = document.createElement('img');
    img.className = 'history-thumb';
    img.alt = '';
    img.decoding = 'async';
    const fav = store.favourite(job.id);
    const pic = job.results?.[fav >= 0 ? fav : 0] || job.inputs?.[0];
    if (pic) image(pic.url).then((p) => { img.src = p.url; }, () => {});
    const text = document.createElement('span');
    text.className = 'history-text';
    const t = document.createElement('span');
    t.className = 'history-title';
    t.textContent = title;
    const meta = document.createElement('span');
    meta.className = 'history-meta';
    const when = job.created_at ? formatClock(new Date(job.created_at)) : '';
    const n = job.results?.length || 0;
    meta.textContent = [provider, n > 1 ? `${n} variations` : '', when].filter(Boolean).join(' · ');
    const prompt = document.createElement('span');
    prompt.className = 'history-prompt';
    prompt.textContent = job.prompt ? truncate(job.prompt, 110) : 'Server default prompt';
    text.append(t, meta, prompt);
    const badge = STATUS[job.status] || (job.fallback ? 'Unchanged: no API key' : '');
    if (badge) {
      const b = document.createElement('span');
      b.className = `history-badge history-badge-${job.status}`;
      b.textContent = badge;
      text.append(b);
    }
    button.append(img, text);
    button.addEventListener('click', () => {
      shown = job.id;
      mark();
      onSelect(job);
    });
    li.append(button);
    return li;
  }

  clear.addEventListener('click', () => {
    if (!window.confirm('Forget your edits on this device? They stay on the server until they expire; download what you want to keep first.')) return;
    store.clear();
    list.replaceChildren();
    section.hidden = true;
    onClear();
  });

  return {
    /** render shows jobs (newest first); fromServer says where the list came from. */
    render(jobs, { fromServer }) {
      list.replaceChildren(...jobs.map(entry));
      section.hidden = jobs.length === 0;
      clear.hidden = fromServer;
      hint.textContent = fromServer
        ? 'The edits of your access token, newest first. Choose one to see it again.'
        : 'The edits made on this device, kept on the server for a while. Choose one to see it again.';
      mark();
    },
    /** select marks the job on screen. */
    select(id) {
      shown = id;
      mark();
    },
  };
}
