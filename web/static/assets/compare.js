// The before/after comparison: two stacked images, the original clipped to
// the left of the handle, driven by a range input (pointer and keyboard), and
// the regions the structure check flagged, outlined on top.

/** Words for the kinds of region the structure check names. */
const KINDS = { window: 'window', door: 'door', wall: 'wall', floor: 'floor', ceiling: 'ceiling', stairs: 'staircase', fireplace: 'fireplace' };

/** where says where a box lies across the picture: "on the left", "in the middle", "on the right". */
function where([x, , w], width) {
  const c = (x + w / 2) / width;
  if (c < 0.4) return 'on the left';
  if (c > 0.6) return 'on the right';
  return 'in the middle';
}

/**
 * structureSentences turns a result's `structure` into plain sentences, one per
 * flagged region ("The window on the left may have been changed — check before
 * publishing."), or none when nothing was flagged.
 */
export function structureSentences(structure, width) {
  if (!structure?.flagged) return [];
  const regions = Array.isArray(structure.regions) ? structure.regions : [];
  if (!regions.length || !width) return ['Walls, windows or doors may have been changed — check before publishing.'];
  const seen = new Set();
  const out = [];
  for (const r of regions) {
    const noun = KINDS[r.kind] || String(r.kind || 'part of the room').replace(/[_-]+/g, ' ');
    const s = `The ${noun} ${where(r.bbox || [0, 0, 0, 0], width)} may have been changed — check before publishing.`;
    if (!seen.has(s)) out.push(s);
    seen.add(s);
  }
  return out;
}

/** createCompare wires the comparison and returns show() and hide(). */
export function createCompare({ figure, stage, before, after, range, regions, caption, warning }) {
  function setPosition(value) {
    const v = Math.min(100, Math.max(0, Number(value)));
    stage.style.setProperty('--pos', `${v}%`);
    range.setAttribute('aria-valuetext', `${v}% original photo, ${100 - v}% staged result`);
  }
  range.addEventListener('input', () => setPosition(range.value));

  return {
    /**
     * show puts a result in the comparison. The stage takes the result's
     * aspect ratio; the original is fitted into the same frame. structure is
     * the result's structure check (bbox in result pixels) or null.
     */
    show({ beforeUrl, afterUrl, beforeAlt, afterAlt, text, width, height, structure }) {
      after.alt = afterAlt;
      before.alt = beforeAlt;
      if (width && height) stage.style.setProperty('--ratio', `${width} / ${height}`);
      after.addEventListener('load', () => {
        if (after.naturalWidth && after.naturalHeight) {
          stage.style.setProperty('--ratio', `${after.naturalWidth} / ${after.naturalHeight}`);
        }
      }, { once: true });
      after.src = afterUrl;
      before.src = beforeUrl;
      const boxes = structure?.flagged && width && height && Array.isArray(structure.regions) ? structure.regions : [];
      regions.replaceChildren(...boxes.map((r) => {
        const [x, y, w, h] = (r.bbox || []).map(Number);
        const el = document.createElement('span');
        el.className = 'compare-region';
        el.style.setProperty('--x', `${(100 * x) / width}%`);
        el.style.setProperty('--y', `${(100 * y) / height}%`);
        el.style.setProperty('--w', `${(100 * w) / width}%`);
        el.style.setProperty('--h', `${(100 * h) / height}%`);
        return el;
      }));
      const sentences = structureSentences(structure, width);
      warning.replaceChildren(...sentences.map((s) => {
        const p = document.createElement('p');
        p.textContent = s;
        return p;
      }));
      warning.hidden = sentences.length === 0;
      const details = document.createElement('details');
      const summary = document.createElement('summary');
      summary.textContent = 'Prompt used';
      const p = document.createElement('p');
      p.textContent = text;
      details.append(summary, p);
      caption.replaceChildren(details);
      range.value = '50';
      setPosition(50);
      figure.hidden = false;
    },
    hide() {
      figure.hidden = true;
      warning.hidden = true;
      regions.replaceChildren();
      after.removeAttribute('src');
      before.removeAttribute('src');
    },
  };
}
