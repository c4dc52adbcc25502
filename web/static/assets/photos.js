// The room photos: drop zone, file picker, paste, thumbnails and the checks
// that can be made before anything is uploaded.

import { formatBytes } from './format.js';

/**
 * Limits of a server with default settings (MAX_IMAGE_BYTES, MAX_REQUEST_BYTES,
 * MAX_IMAGES, MAX_IMAGE_PIXELS). An operator may change them, so the page only
 * warns; the server's answer decides.
 */
export const LIMITS = {
  imageBytes: 25 * 1024 * 1024,
  requestBytes: 64 * 1024 * 1024,
  images: 10,
  pixels: 100_000_000,
};

/**
 * applyServerLimits replaces the defaults with the limits the server reports
 * in GET /api/providers (`limits`), when it reports them.
 * @param {{max_image_bytes?: number, max_request_bytes?: number, max_images?: number, max_image_pixels?: number}|undefined} l
 */
export function applyServerLimits(l) {
  if (!l) return;
  if (l.max_image_bytes > 0) LIMITS.imageBytes = l.max_image_bytes;
  if (l.max_request_bytes > 0) LIMITS.requestBytes = l.max_request_bytes;
  if (l.max_images > 0) LIMITS.images = l.max_images;
  if (l.max_image_pixels > 0) LIMITS.pixels = l.max_image_pixels;
}

const phoneFormat = (f) => /\.(heic|heif|avif)$/i.test(f.name) || /^image\/(heic|heif|avif)/i.test(f.type || '');

const IMAGE_EXT = /\.(jpe?g|jfif|png|webp|gif|heic|heif|avif|bmp|tiff?)$/i;

function isImageLike(file) {
  return (file.type && file.type.startsWith('image/')) || IMAGE_EXT.test(file.name);
}

/** problems lists what the server will surely refuse about one file. */
function problems(file) {
  const out = [];
  const type = (file.type || '').toLowerCase();
  if (/\.(bmp|tiff?)$/i.test(file.name) || type === 'image/bmp' || type === 'image/tiff') {
    out.push('Only JPEG, PNG, WebP and phone photos are accepted. Save it as JPEG.');
  }
  if (file.size === 0) {
    out.push('The file is empty.');
  } else if (file.size > LIMITS.imageBytes) {
    out.push(`It is ${formatBytes(file.size)}; the server takes up to ${formatBytes(LIMITS.imageBytes)} per photo.`);
  }
  return out;
}

/** The advice for a phone photo this server cannot read (said once, under the photo). */
const PHONE_FORMAT = 'This server cannot read this phone format. On iPhone choose Settings → Camera → Formats → “Most Compatible”, or share the photo as JPEG.';

let nextID = 1;

/**
 * createPhotoList wires the photo controls and returns the list's API.
 * onChange is called after every change with the current items.
 */
export function createPhotoList({ input, dropzone, list, messages, summary, preview, onChange }) {
  /** @type {{id:number, file:File, url:string, width:number, height:number, problems:string[], el:HTMLLIElement}[]} */
  let items = [];
  let disabled = false;

  function say(text, kind = 'info') {
    messages.replaceChildren();
    if (!text) return;
    const p = document.createElement('p');
    p.className = `message message-${kind}`;
    p.textContent = text;
    messages.append(p);
  }

  function add(files) {
    if (disabled) return;
    const rejected = [];
    let added = 0;
    for (const file of files) {
      if (!isImageLike(file)) {
        rejected.push(file.name || 'the pasted item');
        continue;
      }
      const item = { id: nextID++, file, url: URL.createObjectURL(file), width: 0, height: 0, problems: problems(file) };
      item.el = renderItem(item);
      items.push(item);
      added++;
    }
    if (rejected.length) {
      say(`${rejected.map((n) => `“${n}”`).join(', ')} ${rejected.length === 1 ? 'is' : 'are'} not a photo and ${rejected.length === 1 ? 'was' : 'were'} not added.`, 'warn');
    } else if (added) {
      say(`${added} photo${added === 1 ? '' : 's'} added.`);
    }
    if (added) update();
  }

  function remove(id, { focusNext = false } = {}) {
    const i = items.findIndex((it) => it.id === id);
    if (i < 0) return;
    const [item] = items.splice(i, 1);
    URL.revokeObjectURL(item.url);
    item.el.remove();
    say(`Removed “${item.file.name}”.`);
    update();
    if (focusNext) {
      const next = items[Math.min(i, items.length - 1)];
      (next ? next.el.querySelector('.thumb-remove') : input).focus();
    }
  }

  function makeMain(id) {
    const i = items.findIndex((it) => it.id === id);
    if (i <= 0) return;
    const [item] = items.splice(i, 1);
    items.unshift(item);
    say(`“${item.file.name}” is now the main photo.`);
    update();
    item.el.querySelector('.thumb-remove').focus();
  }

  function renderItem(item) {
    const li = document.createElement('li');
    li.className = 'thumb';
    const frame = document.createElement('div');
    frame.className = 'thumb-frame';
    const img = document.createElement('img');
    img.className = 'thumb-img';
    img.alt = `Room photo “${item.file.name}”`;
    img.decoding = 'async';
    img.addEventListener('load', () => {
      item.width = img.naturalWidth;
      item.height = img.naturalHeight;
      if (item.width * item.height > LIMITS.pixels) {
        item.problems.push(`It has ${Math.round((item.width * item.height) / 1e6)} megapixels; the server takes up to ${LIMITS.pixels / 1e6}.`);
      }
      refreshItem(item);
    }, { once: true });
    img.addEventListener('error', async () => {
      // The browser cannot decode it (HEIC, HEIF, some AVIF): the server
      // draws a preview when it reads the format, else it refuses the photo.
      const jpeg = phoneFormat(item.file) ? await preview(item.file) : null;
      if (jpeg === false) {
        item.problems.push(PHONE_FORMAT);
      }
      if (jpeg) {
        URL.revokeObjectURL(item.url);
        item.url = URL.createObjectURL(jpeg);
        img.src = item.url;
        onChange(items);
        return;
      }
      frame.classList.add('thumb-frame-none');
      img.alt = '';
      const none = document.createElement('span');
      none.className = 'thumb-none';
      none.textContent = 'No preview';
      frame.append(none);
      refreshItem(item);
      onChange(items);
    }, { once: true });
    img.src = item.url;
    const badge = document.createElement('span');
    badge.className = 'thumb-badge';
    badge.textContent = 'Main photo';
    frame.append(img, badge);

    const body = document.createElement('div');
    body.className = 'thumb-body';
    const name = document.createElement('p');
    name.className = 'thumb-name';
    name.textContent = item.file.name || 'Pasted image';
    name.title = item.file.name;
    const meta = document.createElement('p');
    meta.className = 'thumb-meta';
    const warn = document.createElement('ul');
    warn.className = 'thumb-problems';
    const buttons = document.createElement('div');
    buttons.className = 'thumb-buttons';
    const main = document.createElement('button');
    main.type = 'button';
    main.className = 'btn-link thumb-main';
    main.textContent = 'Make main';
    main.setAttribute('aria-label', `Make main: “${item.file.name}”`);
    main.addEventListener('click', () => makeMain(item.id));
    const del = document.createElement('button');
    del.type = 'button';
    del.className = 'btn-link thumb-remove';
    del.textContent = 'Remove';
    del.setAttribute('aria-label', `Remove: “${item.file.name}”`);
    del.addEventListener('click', () => remove(item.id, { focusNext: true }));
    buttons.append(main, del);
    body.append(name, meta, warn, buttons);
    li.append(frame, body);
    item.parts = { meta, warn, main };
    return li;
  }

  function refreshItem(item) {
    const { meta, warn, main } = item.parts;
    const dims = item.width ? ` · ${item.width} × ${item.height}` : '';
    meta.textContent = `${formatBytes(item.file.size)}${dims}`;
    warn.replaceChildren(...item.problems.map((text) => {
      const li = document.createElement('li');
      li.textContent = text;
      return li;
    }));
    item.el.classList.toggle('thumb-has-problem', item.problems.length > 0);
    const first = items[0] === item;
    item.el.classList.toggle('thumb-first', first);
    main.hidden = first;
  }

  function update() {
    list.replaceChildren(...items.map((it) => it.el));
    items.forEach(refreshItem);
    const total = items.reduce((n, it) => n + it.file.size, 0);
    summary.textContent = items.length > 1 ? `${items.length} photos, ${formatBytes(total)} together.` : '';
    summary.hidden = items.length < 2;
    dropzone.classList.toggle('dropzone-compact', items.length > 0);
    onChange(items);
  }

  // The picker: reset its value so the same file can be picked again.
  input.addEventListener('change', () => {
    add([...input.files]);
    input.value = '';
  });

  // Drag and drop anywhere on the page, highlighted on the drop zone.
  let depth = 0;
  const hasFiles = (e) => [...(e.dataTransfer?.types || [])].includes('Files');
  document.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    depth++;
    dropzone.classList.toggle('dropzone-active', !disabled);
  });
  document.addEventListener('dragleave', (e) => {
    if (!hasFiles(e)) return;
    depth = Math.max(0, depth - 1);
    if (depth === 0) dropzone.classList.remove('dropzone-active');
  });
  document.addEventListener('dragover', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault(); // otherwise the browser opens the file instead
    e.dataTransfer.dropEffect = disabled ? 'none' : 'copy';
  });
  document.addEventListener('drop', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    dropzone.classList.remove('dropzone-active');
    add([...e.dataTransfer.files]);
  });

  // Paste a screenshot or a copied photo.
  document.addEventListener('paste', (e) => {
    const files = [...(e.clipboardData?.files || [])].filter(isImageLike);
    if (files.length === 0) return;
    e.preventDefault();
    add(files.map((f, i) => (f.name && f.name !== 'image.png' ? f
      : new File([f], `pasted-${Date.now()}-${i + 1}.${(f.type.split('/')[1] || 'png').replace('jpeg', 'jpg')}`, { type: f.type }))));
  });

  return {
    /** items returns the photos in upload order, main photo first. */
    items: () => items.slice(),
    add,
    /** total is the size of all photos together, in bytes. */
    total: () => items.reduce((n, it) => n + it.file.size, 0),
    /** replaceWith makes file the only photo (to edit a result further). */
    replaceWith(file) {
      for (const it of items) {
        URL.revokeObjectURL(it.url);
        it.el.remove();
      }
      items = [];
      add([file]);
    },
    setDisabled(v) {
      disabled = v;
    },
    /** clearMessage removes the last "added"/"removed" note. */
    clearMessage: () => say(''),
  };
}
