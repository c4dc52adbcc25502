// This session's results, newest first; choosing one shows it again.

import { formatClock, formatSeconds, truncate } from './format.js';

/** createHistory wires the history list and returns its API. */
export function createHistory({ section, list, clear, onSelect, onClear }) {
  let entries = [];

  function mark(id) {
    for (const li of list.children) {
      const button = li.querySelector('button');
      const on = Number(li.dataset.id) === id;
      li.classList.toggle('history-current', on);
      if (on) button.setAttribute('aria-current', 'true');
      else button.removeAttribute('aria-current');
    }
  }

  function render(entry) {
    const li = document.createElement('li');
    li.className = 'history-entry';
    li.dataset.id = String(entry.id);
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'history-item';
    const img = document.createElement('img');
    img.className = 'history-thumb';
    img.src = entry.resultUrl;
    img.alt = `Result ${entry.n}: ${entry.label}`;
    img.decoding = 'async';
    const text = document.createElement('span');
    text.className = 'history-text';
    const title = document.createElement('span');
    title.className = 'history-title';
    title.textContent = `${entry.n}. ${entry.label}`;
    const meta = document.createElement('span');
    meta.className = 'history-meta';
    meta.textContent = `${entry.providerName} · ${formatSeconds(entry.durationMs)} · ${formatClock(entry.date)}`;
    const prompt = document.createElement('span');
    prompt.className = 'history-prompt';
    prompt.textContent = entry.prompt ? truncate(entry.prompt, 110) : 'Server default prompt';
    text.append(title, meta, prompt);
    if (entry.fallback) {
      const badge = document.createElement('span');
      badge.className = 'history-badge';
      badge.textContent = 'Unchanged: no API key';
      text.append(badge);
    }
    button.append(img, text);
    button.addEventListener('click', () => {
      mark(entry.id);
      onSelect(entry);
    });
    li.append(button);
    return li;
  }

  clear.addEventListener('click', () => {
    const n = entries.length;
    if (!window.confirm(`Remove ${n === 1 ? 'the result' : `all ${n} results`} of this session? Download what you want to keep first.`)) return;
    const old = entries;
    entries = [];
    list.replaceChildren();
    section.hidden = true;
    onClear(old);
  });

  return {
    /** add puts a new result at the top and marks it as shown. */
    add(entry) {
      entries.unshift(entry);
      list.prepend(render(entry));
      section.hidden = false;
      mark(entry.id);
    },
    get: (id) => entries.find((e) => e.id === id),
    size: () => entries.length,
  };
}
