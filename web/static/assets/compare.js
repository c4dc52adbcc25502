// The before/after comparison: two stacked images, the original clipped to
// the left of the handle, driven by a range input (pointer and keyboard).

/** createCompare wires the comparison and returns show(). */
export function createCompare({ figure, stage, before, after, range, caption }) {
  function setPosition(value) {
    const v = Math.min(100, Math.max(0, Number(value)));
    stage.style.setProperty('--pos', `${v}%`);
    range.setAttribute('aria-valuetext', `${v}% original photo, ${100 - v}% staged result`);
  }

  range.addEventListener('input', () => setPosition(range.value));

  return {
    /**
     * show puts a result in the comparison. The stage takes the result's
     * aspect ratio; the original is fitted into the same frame.
     */
    show({ beforeUrl, afterUrl, beforeAlt, afterAlt, text }) {
      after.alt = afterAlt;
      before.alt = beforeAlt;
      after.addEventListener('load', () => {
        if (after.naturalWidth && after.naturalHeight) {
          stage.style.setProperty('--ratio', `${after.naturalWidth} / ${after.naturalHeight}`);
        }
      }, { once: true });
      after.src = afterUrl;
      before.src = beforeUrl;
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
      after.removeAttribute('src');
      before.removeAttribute('src');
    },
  };
}
