// Small formatting helpers shared by the page's modules.

/**
 * formatBytes renders a byte count for people: "850 KB", "12.4 MB". A size
 * that is a whole number of MiB (how limits such as MAX_IMAGE_BYTES=25MiB, the
 * server's default, are set) is counted in MiB, so "25 MB" reads the same
 * before and after the server reports its limit; any other size in powers of
 * 1000 (a limit set as 20MB shows as "20 MB").
 */
export function formatBytes(n) {
  if (!Number.isFinite(n) || n < 0) return '';
  const MiB = 1024 * 1024;
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MB`;
  if (n < 1000) return `${n} B`;
  if (n < 1000 * 1000) return `${Math.round(n / 1000)} KB`;
  const mb = n / (1000 * 1000);
  return `${mb < 10 ? mb.toFixed(1) : Math.round(mb)} MB`;
}

/** formatSeconds renders a duration in milliseconds: "0.8 s", "12 s", "1 min 5 s". */
export function formatSeconds(ms) {
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

/** formatElapsed renders whole elapsed seconds while an edit runs: "7 s", "1:05". */
export function formatElapsed(ms) {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** formatClock renders a time of day in the person's locale: "14:32". */
export function formatClock(date) {
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** slug turns a label into a file-name part: "Mid-century modern" → "mid-century-modern". */
export function slug(s) {
  return String(s)
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
}

/** stamp renders a local date and time for file names: "20260105-1432". */
export function stamp(date) {
  const p = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}${p(date.getMonth() + 1)}${p(date.getDate())}-${p(date.getHours())}${p(date.getMinutes())}`;
}

const extensions = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'image/avif': 'avif',
};

/** extensionFor maps a Content-Type to a file extension ("image/jpeg" → "jpg"). */
export function extensionFor(contentType) {
  const type = String(contentType || '').split(';')[0].trim().toLowerCase();
  return extensions[type] || 'png';
}

/**
 * resultFileName names a download: staged-<room>-<style>-<yyyymmdd-hhmm>.<ext>,
 * leaving out what was not chosen ("staged-room-20260105-1432.png").
 */
export function resultFileName({ room, style, date, contentType }) {
  const parts = ['staged', room ? slug(room) : 'room'];
  if (style) parts.push(slug(style));
  parts.push(stamp(date));
  return `${parts.join('-')}.${extensionFor(contentType)}`;
}

/** truncate shortens text to n characters with an ellipsis. */
export function truncate(s, n) {
  return s.length <= n ? s : `${s.slice(0, n - 1).trimEnd()}…`;
}
