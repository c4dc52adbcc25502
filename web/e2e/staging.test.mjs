// End-to-end test of the staging page: the real frameforge binary, pointed at
// the fake Gemini upstream (cmd/fakeupstream), driven in headless Chromium.
//
//   node --test staging.test.mjs        (or: bash run.sh, which installs what is missing)
//
// Environment: CHROMIUM (default /usr/bin/chromium), SCREENSHOTS (default ./screenshots).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const shotsDir = path.resolve(process.env.SCREENSHOTS || path.join(here, 'screenshots'));
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

// geminitest.DefaultKey: the one key the fake accepts.
const FAKE_KEY = 'AIzaFAKE-geminitest-0123456789abcdefghij';
// A prompt containing this makes the fake answer after 30 s (cmd/fakeupstream -slow-keyword).
const SLOW = 'slow-please';

const DESKTOP = { viewport: { width: 1366, height: 900 } };
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

let tmp;
let fake;
let server;
let baseURL;
let browser;
const fixtures = {};

// ---- processes ------------------------------------------------------------------

function goBuild(pkg, out) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, GOFLAGS: process.env.GOFLAGS || '-mod=mod' };
    const p = spawn('go', ['build', '-o', out, pkg], { cwd: repo, env, stdio: ['ignore', 'inherit', 'inherit'] });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`go build ${pkg} exited ${code}`))));
  });
}

/** start runs a binary and collects its output; waitFor(re) resolves with re's first group once a line matches. */
const children = new Set();
// Should the runner die before after() runs, take the servers with it.
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

function start(name, bin, args, opts) {
  const child = spawn(bin, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let log = '';
  const waiters = [];
  const onData = (chunk) => {
    log += chunk;
    for (const w of waiters.splice(0)) {
      const m = log.match(w.re);
      if (m) w.resolve(m[1] ?? m[0]);
      else waiters.push(w);
    }
  };
  child.stdout.setEncoding('utf8').on('data', onData);
  child.stderr.setEncoding('utf8').on('data', onData);
  child.on('exit', (code, signal) => {
    children.delete(child);
    for (const w of waiters.splice(0)) w.reject(new Error(`${name} exited (${code ?? signal}) before printing ${w.re}:\n${log}`));
  });
  return {
    child,
    log: () => log,
    waitFor(re, ms = 20_000) {
      const m = log.match(re);
      if (m) return Promise.resolve(m[1] ?? m[0]);
      return new Promise((resolve, reject) => {
        const w = { re, resolve, reject };
        waiters.push(w);
        setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) {
            waiters.splice(i, 1);
            reject(new Error(`${name} did not print ${re} within ${ms} ms:\n${log}`));
          }
        }, ms).unref();
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// ---- fixtures ----------------------------------------------------------------------

/**
 * roomJPEG draws an empty room (walls, wooden floor, a window) with sensor-like
 * noise, so the JPEG is as large as a phone photo of that size.
 */
async function roomJPEG(page, width, height, noise) {
  const b64 = await page.evaluate(async ({ w, h, amp }) => {
    const c = document.createElement('canvas');
    c.width = w;
    c.height = h;
    const g = c.getContext('2d');
    const X = (f) => f * w;
    const Y = (f) => f * h;
    const poly = (pts, fill) => {
      g.beginPath();
      pts.forEach(([x, y], i) => (i ? g.lineTo(X(x), Y(y)) : g.moveTo(X(x), Y(y))));
      g.closePath();
      g.fillStyle = fill;
      g.fill();
    };
    poly([[0, 0], [1, 0], [0.8, 0.14], [0.2, 0.14]], '#efebe4'); // ceiling
    const back = g.createLinearGradient(0, Y(0.14), 0, Y(0.64));
    back.addColorStop(0, '#e3dccf');
    back.addColorStop(1, '#d6cdbd');
    poly([[0.2, 0.14], [0.8, 0.14], [0.8, 0.64], [0.2, 0.64]], back);
    poly([[0, 0], [0.2, 0.14], [0.2, 0.64], [0, 1]], '#cfc5b3'); // left wall
    poly([[1, 0], [0.8, 0.14], [0.8, 0.64], [1, 1]], '#d9d0c0'); // right wall
    const floor = g.createLinearGradient(0, Y(0.64), 0, h);
    floor.addColorStop(0, '#a27b55');
    floor.addColorStop(1, '#8a6442');
    poly([[0.2, 0.64], [0.8, 0.64], [1, 1], [0, 1]], floor);
    g.strokeStyle = 'rgba(60, 40, 20, 0.35)';
    g.lineWidth = Math.max(1, w / 1600);
    for (let i = -12; i <= 12; i++) { // planks towards the vanishing point
      g.beginPath();
      g.moveTo(X(0.5 + i * 0.025), Y(0.64));
      g.lineTo(X(0.5 + i * 0.09), h);
      g.stroke();
    }
    poly([[0.2, 0.625], [0.8, 0.625], [0.8, 0.64], [0.2, 0.64]], '#f4f1ea'); // skirting board
    const sky = g.createLinearGradient(0, Y(0.2), 0, Y(0.52));
    sky.addColorStop(0, '#bcd6ea');
    sky.addColorStop(1, '#eef4f7');
    poly([[0.38, 0.2], [0.62, 0.2], [0.62, 0.52], [0.38, 0.52]], '#f7f5f0'); // window frame
    poly([[0.39, 0.215], [0.61, 0.215], [0.61, 0.505], [0.39, 0.505]], sky);
    poly([[0.497, 0.215], [0.503, 0.215], [0.503, 0.505], [0.497, 0.505]], '#f7f5f0');
    poly([[0.42, 0.64], [0.58, 0.64], [0.72, 0.9], [0.3, 0.9]], 'rgba(255, 246, 225, 0.22)'); // daylight on the floor
    if (amp > 0) {
      let seed = 12345;
      const band = 256;
      for (let y0 = 0; y0 < h; y0 += band) {
        const rows = Math.min(band, h - y0);
        const img = g.getImageData(0, y0, w, rows);
        const d = img.data;
        for (let i = 0; i < d.length; i += 4) {
          seed = (seed * 1103515245 + 12345) >>> 0;
          const n = ((seed >>> 16) % (2 * amp + 1)) - amp;
          d[i] += n;
          d[i + 1] += n;
          d[i + 2] += n;
        }
        g.putImageData(img, 0, y0);
      }
    }
    const blob = await new Promise((resolve) => c.toBlob(resolve, 'image/jpeg', 0.92));
    return new Promise((resolve) => {
      const r = new FileReader();
      r.onload = () => resolve(String(r.result).split(',')[1]);
      r.readAsDataURL(blob);
    });
  }, { w: width, h: height, amp: noise });
  return Buffer.from(b64, 'base64');
}

// ---- pages ---------------------------------------------------------------------------

/**
 * openPage opens the staging page in a fresh context and records console
 * errors and warnings and uncaught exceptions; check() fails the test on any
 * that is not expected. prepare(page, context) runs before the page loads
 * (to set up routes or storage).
 */
async function openPage(options, prepare) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  await prepare?.(page, context);
  const problems = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console.${msg.type()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  await page.goto(baseURL, { waitUntil: 'load' });
  await page.locator('#provider-status:not([data-state="loading"])').waitFor();
  return {
    context,
    page,
    check(allowed = []) {
      const unexpected = problems.filter((p) => !allowed.some((re) => re.test(p)));
      assert.deepEqual(unexpected, [], 'console errors or warnings on the page');
    },
  };
}

async function shot(page, name, fullPage = false) {
  const file = path.join(shotsDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage });
  return file;
}

async function pickChip(page, group, label) {
  await page.locator(`#${group}-chips label`, { hasText: label }).first().click();
  await page.locator(`#${group}-chips input:checked + .chip-label`, { hasText: label }).waitFor();
}

async function resultShown(page) {
  await page.locator('#compare:not([hidden])').waitFor();
  await page.waitForFunction(() => {
    const img = document.getElementById('after-img');
    return img.complete && img.naturalWidth > 0;
  });
}

// ---- setup ---------------------------------------------------------------------------

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'frameforge-e2e-'));
  await mkdir(shotsDir, { recursive: true });
  const bin = (n) => path.join(tmp, n);
  await Promise.all([goBuild('./cmd/frameforge', bin('frameforge')), goBuild('./cmd/fakeupstream', bin('fakeupstream'))]);

  fake = start('fakeupstream', bin('fakeupstream'),
    ['-addr', '127.0.0.1:0', '-slow-keyword', SLOW, '-slow-delay', '30s'], { cwd: tmp });
  const fakeURL = await fake.waitFor(/listening on (http:\/\/\S+)/);

  // A fresh working directory (no .env) and only the environment we choose:
  // a Google key for the fake, no fal key (so fal models take the fallback).
  const work = path.join(tmp, 'work');
  await mkdir(work);
  server = start('frameforge', bin('frameforge'), [], {
    cwd: work,
    env: {
      PATH: process.env.PATH,
      HOME: tmp,
      SERVER_HOST: '127.0.0.1',
      SERVER_PORT: '0',
      GEMINI_BASE_URL: fakeURL,
      GOOGLE_API_KEY: FAKE_KEY,
      SHUTDOWN_TIMEOUT: '2s',
      MAX_IMAGE_BYTES: '20MB', // not the default: the page must show the server's own limit
    },
  });
  baseURL = `${await server.waitFor(/addr=(http:\/\/[^\s"]+)/)}/`;

  browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });

  // Fixtures: a 12 MP phone-sized photo, a small photo, and text posing as a photo.
  const context = await browser.newContext();
  const page = await context.newPage();
  fixtures.phone = path.join(tmp, 'empty-living-room.jpg');
  fixtures.small = path.join(tmp, 'bedroom.jpg');
  fixtures.heic = path.join(tmp, 'IMG_0042.HEIC');
  await writeFile(fixtures.phone, await roomJPEG(page, 4000, 3000, 24));
  await writeFile(fixtures.small, await roomJPEG(page, 1200, 900, 2));
  // The start of an iPhone photo: an ISO-BMFF ftyp box with the heic brand.
  await writeFile(fixtures.heic, Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypheic\0\0\0\0mif1heic'), Buffer.alloc(64)]));
  await context.close();
}, { timeout: 300_000 });

after(async () => {
  await browser?.close();
  await server?.stop();
  await fake?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
  console.log(`screenshots: ${shotsDir}`);
});

// ---- tests ---------------------------------------------------------------------------

test('stages a phone photo: upload, presets, provider, result, slider, download, history', { timeout: 90_000 }, async () => {
  const { page, context, check } = await openPage(DESKTOP);
  const size = (await readFile(fixtures.phone)).length;
  assert.ok(size > 5e6 && size < 15e6, `the phone fixture is ${size} bytes; want a 5–15 MB phone photo`);

  assert.equal(await page.title(), 'FrameForge · Virtual staging');
  await shot(page, 'desktop-0-start');
  await page.locator('#server-pill[data-state="ok"]').waitFor();
  assert.equal(await page.locator('#provider-status').getAttribute('data-state'), 'configured');
  assert.match(await page.locator('#photo-hint').textContent(), /up to 20 MB each/, 'the page shows the server’s limit');

  // Every image has alt text and every control a label.
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea, button')]
    .filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || (el.tagName === 'BUTTON' && el.textContent.trim())))
    .map((el) => el.id || el.outerHTML.slice(0, 60)));
  assert.deepEqual(unlabelled, [], 'controls without a label');

  await page.setInputFiles('#photo-input', fixtures.phone);
  const meta = page.locator('#photo-list .thumb-meta');
  await meta.filter({ hasText: '4000 × 3000' }).waitFor();
  assert.match(await meta.textContent(), /^\d+(\.\d)? MB · 4000 × 3000$/);

  await pickChip(page, 'room', 'Living room');
  await pickChip(page, 'style', 'Scandinavian');
  await page.fill('#prompt', 'add a large fiddle-leaf fig by the window');
  const composed = await page.textContent('#composed-prompt');
  assert.match(composed, /^Virtually stage this empty room as a Scandinavian living room with a sofa/);
  assert.match(composed, /Add a large fiddle-leaf fig by the window\./);
  await page.selectOption('#provider', 'google');
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, 'desktop-1-form');

  const request = page.waitForRequest((r) => r.url().endsWith('/api/edit'));
  const response = page.waitForResponse((r) => r.url().endsWith('/api/edit'));
  await page.click('#submit');
  const req = await request;
  assert.equal(req.method(), 'POST');
  assert.match(req.headers()['content-type'], /^multipart\/form-data; boundary=/);
  assert.equal(req.headers()['x-google-api-key'], undefined, 'no key was entered, so none is sent');
  const res = await response;
  assert.equal(res.status(), 200);
  assert.equal(res.headers()['x-frameforge-provider'], 'google');
  assert.equal(res.headers()['x-frameforge-fallback'], undefined, 'the server has a key: no fallback');

  await resultShown(page);
  assert.equal(await page.locator('#notice').isHidden(), true);
  assert.match(await page.textContent('#status'), /Your room is staged/);
  assert.equal(await page.getAttribute('#after-img', 'alt'), 'Staged result 1: Scandinavian living room');
  assert.equal(await page.getAttribute('#before-img', 'alt'), 'Original photo “empty-living-room.jpg”');
  await server.waitFor(/msg="provider call".*provider=google.*outcome=ok/);

  // The slider, with the keyboard.
  const range = page.locator('#compare-range');
  await range.focus();
  await page.keyboard.press('Home');
  assert.equal(await range.inputValue(), '0');
  for (let i = 0; i < 5; i++) await page.keyboard.press('ArrowRight');
  assert.equal(await range.inputValue(), '5');
  await page.keyboard.press('End');
  assert.equal(await range.inputValue(), '100');
  for (let i = 0; i < 65; i++) await page.keyboard.press('ArrowLeft');
  assert.equal(await range.inputValue(), '35');
  assert.equal(await range.getAttribute('aria-valuetext'), '35% original photo, 65% staged result');
  assert.equal(await page.evaluate(() => document.getElementById('compare-stage').style.getPropertyValue('--pos')), '35%');
  assert.match(await page.evaluate(() => getComputedStyle(document.getElementById('before-img')).clipPath), /inset\(0px 65%/);
  await shot(page, 'desktop-2-result');

  // Every image has alt text; the photos and results have a description.
  const alts = await page.$$eval('img', (imgs) => imgs.map((i) => [i.className, i.getAttribute('alt')]));
  assert.deepEqual(alts.filter(([, alt]) => alt === null), [], 'images without alt');
  for (const [cls, alt] of alts) {
    if (/thumb-img|compare-img|history-thumb/.test(cls)) assert.ok(alt, `${cls} has an empty alt`);
  }

  // Download: a sensible name and the image's real bytes.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  assert.match(download.suggestedFilename(), /^staged-living-room-scandinavian-\d{8}-\d{4}\.png$/);
  const bytes = await readFile(await download.path());
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'the download is a PNG');

  // History: a second result, then back to the first.
  const history = page.locator('#history-list > li');
  assert.equal(await history.count(), 1);
  assert.match(await history.first().textContent(), /Scandinavian living room.*Google Gemini/);
  await pickChip(page, 'style', 'Industrial');
  await page.click('#submit');
  await page.locator('#history-list > li').nth(1).waitFor();
  await resultShown(page);
  assert.match(await page.textContent('#result-meta'), /^2\. Industrial living room/);
  await page.locator('#history-list > li', { hasText: '1. Scandinavian living room' }).getByRole('button').click();
  await page.locator('#history-list button[aria-current="true"]', { hasText: 'Scandinavian' }).waitFor();
  assert.match(await page.textContent('#result-meta'), /^1\. Scandinavian living room/);
  assert.match(await page.getAttribute('#download', 'download'), /^staged-living-room-scandinavian-/);
  await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
  await shot(page, 'desktop-3-history');

  check();
  await context.close();
});

test('shows the server’s detail for a file that is not a photo and for a wrong key', { timeout: 60_000 }, async () => {
  const { page, context, check } = await openPage(DESKTOP);

  // Dropped on the drop zone: a PDF is turned away at once, text named .jpg
  // gets through to the server, which reads the bytes.
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['%PDF-1.7 floor plan'], 'floor-plan.pdf', { type: 'application/pdf' }));
    dt.items.add(new File(['These are my notes about the living room, not a photo.'], 'not-a-photo.jpg', { type: 'image/jpeg' }));
    const zone = document.getElementById('dropzone');
    for (const type of ['dragenter', 'dragover', 'drop']) {
      zone.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: dt }));
    }
  });
  await page.locator('#photo-messages', { hasText: '“floor-plan.pdf” is not a photo and was not added.' }).waitFor();
  assert.equal(await page.locator('#photo-list .thumb').count(), 1);
  await page.click('#submit');
  const error = page.locator('#error:not([hidden])');
  await error.waitFor();
  assert.match(await error.textContent(), /not an image/);
  assert.match(await error.textContent(), /HTTP 400.*code invalid_image.*request id [0-9a-f]+/);
  assert.equal(await page.$eval('#controls', (el) => el.disabled), false, 'controls are enabled again');
  await shot(page, 'desktop-4-error');

  // An iPhone HEIC photo: warned about before sending, refused by the server with 415.
  await page.click('#photo-list .thumb-remove');
  await page.setInputFiles('#photo-input', fixtures.heic);
  await page.locator('#photo-list .thumb-problems', { hasText: 'HEIC photos are not accepted' }).waitFor();
  await page.click('#submit');
  await page.locator('#error .error-meta', { hasText: 'unsupported_image_type' }).waitFor();
  assert.match(await error.textContent(), /HTTP 415/);
  assert.match(await page.textContent('#error .error-detail'), /HEI[CF]/);

  // A wrong key of one's own: sent only for the chosen provider, refused with 401.
  await page.click('#photo-list .thumb-remove');
  await page.setInputFiles('#photo-input', fixtures.small);
  await page.click('#keys summary');
  await page.fill('#key-google', 'AIza-this-key-is-wrong');
  await page.fill('#key-fal', 'fal-key-that-must-not-be-sent');
  assert.equal(await page.locator('#provider-status').getAttribute('data-state'), 'own-key');
  const request = page.waitForRequest((r) => r.url().endsWith('/api/edit'));
  await page.click('#submit');
  const headers = (await request).headers();
  assert.equal(headers['x-google-api-key'], 'AIza-this-key-is-wrong');
  assert.equal(headers['x-fal-key'], undefined);
  await page.locator('#error .error-title', { hasText: 'Your API key was rejected' }).waitFor();
  assert.match(await error.textContent(), /code invalid_api_key/);
  assert.doesNotMatch(await page.content(), /this-key-is-wrong"?<\/p>/, 'the key is not echoed');

  // Keys stay in the page unless "remember" is ticked; unticking forgets them.
  assert.equal(await page.evaluate(() => localStorage.getItem('frameforge.keys.v1')), null);
  await page.check('#remember-keys');
  assert.match(await page.evaluate(() => localStorage.getItem('frameforge.keys.v1')), /this-key-is-wrong/);
  await page.uncheck('#remember-keys');
  assert.equal(await page.evaluate(() => localStorage.getItem('frameforge.keys.v1')), null);

  // Chromium reports the failed requests themselves on the console.
  check([/Failed to load resource: the server responded with a status of (400|401|415)/]);
  await context.close();
});

test('cancels a slow edit and re-enables the controls', { timeout: 60_000 }, async () => {
  const { page, context, check } = await openPage(DESKTOP);
  await page.setInputFiles('#photo-input', fixtures.small);
  await pickChip(page, 'room', 'Bedroom');
  // Mid-sentence: the page capitalises the start of the free text.
  await page.fill('#prompt', `take your time (${SLOW})`);
  await page.click('#submit');

  await page.locator('#cancel:not([hidden])').waitFor();
  assert.equal(await page.$eval('#controls', (el) => el.disabled), true, 'controls are disabled while the edit runs');
  assert.equal(await page.locator('#prompt').isDisabled(), true);
  assert.equal(await page.locator('#provider').isDisabled(), true);
  assert.equal(await page.locator('#submit').isDisabled(), true);
  assert.equal(await page.locator('#photo-input').isDisabled(), true);
  await page.locator('#progress:not([hidden])').waitFor();
  await page.waitForFunction(() => Number.parseInt(document.getElementById('progress-elapsed').textContent, 10) >= 1);
  assert.match(await page.textContent('#submit-label'), /^Staging… \d+ s$/);
  await shot(page, 'desktop-5-progress');

  await page.click('#cancel');
  await page.locator('#status', { hasText: 'Edit cancelled' }).waitFor();
  assert.equal(await page.$eval('#controls', (el) => el.disabled), false);
  assert.equal(await page.locator('#prompt').isDisabled(), false);
  assert.equal(await page.locator('#submit').isDisabled(), false);
  assert.equal(await page.locator('#cancel').isHidden(), true);
  assert.equal(await page.locator('#error').isHidden(), true, 'a cancel is not an error');
  assert.equal(await page.textContent('#submit-label'), 'Stage room');
  assert.equal(await page.locator('#progress').isHidden(), true);
  // The server saw the client go away and stopped the upstream call.
  await server.waitFor(/msg="provider call".*outcome=cancelled/);
  await shot(page, 'desktop-6-cancelled');

  check();
  await context.close();
});

test('works on a phone screen, with the development fallback made visible', { timeout: 60_000 }, async () => {
  const { page, context, check } = await openPage(PHONE);
  await shot(page, 'phone-1-start');

  await page.setInputFiles('#photo-input', [fixtures.small, fixtures.phone]);
  await page.locator('#photo-list .thumb').nth(1).locator('.thumb-meta', { hasText: '×' }).waitFor();
  await pickChip(page, 'room', 'Bedroom');
  await pickChip(page, 'style', 'Boho');
  await page.selectOption('#provider', 'fal:fal-ai/nano-banana/edit');
  assert.equal(await page.locator('#provider-status').getAttribute('data-state'), 'fallback');
  await shot(page, 'phone-2-form', true);

  const response = page.waitForResponse((r) => r.url().endsWith('/api/edit'));
  await page.locator('#submit').tap();
  const res = await response;
  assert.equal(res.status(), 200);
  assert.match(res.headers()['x-frameforge-fallback'] || '', /no-api-key/);
  await resultShown(page);
  await page.locator('#notice:not([hidden])', { hasText: 'unchanged' }).waitFor();
  assert.match(await page.textContent('#notice'), /no fal\.ai API key.*ask the operator to set FAL_KEY on the server/);

  // Pointer on the slider: tapping at a quarter of the width moves it there.
  const box = await page.locator('#compare-stage').boundingBox();
  await page.locator('#compare-range').click({ position: { x: box.width * 0.25, y: box.height / 2 } });
  const value = Number(await page.locator('#compare-range').inputValue());
  assert.ok(value > 15 && value < 35, `slider at ${value} after a tap at 25%`);

  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone screen`);
  await page.evaluate(() => document.getElementById('result-heading').scrollIntoView());
  await shot(page, 'phone-3-result');
  await shot(page, 'phone-4-result-full', true);

  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  assert.match(download.suggestedFilename(), /^staged-bedroom-boho-\d{8}-\d{4}\.jpg$/, 'the fallback is the original JPEG');

  check();
  await context.close();
});

// ---- the provider table ------------------------------------------------------------

// A 1×1 PNG: what the intercepted POST /api/edit answers.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

/** multipartField returns the value of form field name in a multipart body. */
function multipartField(body, name) {
  const m = body.toString('latin1').match(new RegExp(`name="${name}"\\r\\n\\r\\n([^\\r]*)\\r\\n`));
  return m ? m[1] : undefined;
}

/**
 * answerEdits intercepts POST /api/edit: each request is recorded and answered
 * with the PNG, as the provider the request named, so no server provider runs.
 */
async function answerEdits(page, extraHeaders = () => ({})) {
  const seen = [];
  await page.route('**/api/edit', async (route) => {
    const req = route.request();
    const provider = multipartField(req.postDataBuffer(), 'provider');
    seen.push({ headers: req.headers(), provider });
    await route.fulfill({
      status: 200,
      contentType: 'image/png',
      headers: { 'X-FrameForge-Provider': provider || '', 'X-Request-ID': `e2e-${seen.length}`, ...extraHeaders(provider) },
      body: PNG,
    });
  });
  return seen;
}

test('builds the model list and key fields from the provider table: an extra provider needs no page change', { timeout: 60_000 }, async () => {
  const acme = {
    id: 'acme', label: 'Acme Images', prefix: 'acme:', models: ['acme/paint-1'], configured: false,
    key_headers: ['X-Acme-Key'], key_env: ['ACME_KEY'],
  };
  let seen;
  let real = []; // the real server's table, before Acme is added
  const { page, context, check } = await openPage(DESKTOP, async (p) => {
    await p.route('**/api/providers', async (route) => {
      // The real server's table, with Acme added.
      const res = await route.fetch();
      const data = await res.json();
      real = data.providers.slice();
      data.providers.push(acme);
      data.available.push('acme');
      await route.fulfill({ response: res, json: data });
    });
    // Custom Acme models come back as the unchanged photo (no server key).
    seen = await answerEdits(p, (provider) => (provider === 'acme:acme/paint-2' ? { 'X-FrameForge-Fallback': 'no-api-key' } : {}));
  });

  // The select: one group per provider, Acme's model and its "Other" option.
  const groups = await page.$$eval('#provider optgroup', (gs) => gs.map((g) => [g.label, [...g.children].map((o) => [o.value, o.textContent])]));
  const tag = (p) => (p.configured ? 'key on server' : 'no server key');
  assert.deepEqual(groups.map(([label]) => label), [...real, acme].map((p) => `${p.label} · ${tag(p)}`));
  assert.equal(groups[0][0], 'Nano Banana (Google Gemini) · key on server', 'the e2e server holds a Google key');
  assert.deepEqual(groups.at(-1)[1], [['acme:acme/paint-1', 'acme/paint-1'], ['custom:acme', 'Other Acme Images model…']]);
  assert.ok(groups[1][1].some(([v, t]) => v === 'fal:fal-ai/nano-banana/edit' && t === 'Nano Banana edit (fal-ai/nano-banana/edit)'));
  assert.equal(await page.inputValue('#provider'), 'google', 'the server’s default stays chosen');

  // The key fields: one per provider, ids key-<id>.
  await page.click('#keys summary');
  const fields = await page.$$eval('#key-fields input', (els) => els.map((el) => [el.id, el.labels[0].textContent, el.type]));
  assert.deepEqual(fields, [...real, acme].filter((p) => p.key_headers.length > 0)
    .map((p) => [`key-${p.id}`, `${p.label} key`, 'password']));
  assert.deepEqual(fields.slice(0, 2).map(([id]) => id), ['key-google', 'key-fal']);

  await page.selectOption('#provider', 'acme:acme/paint-1');
  assert.equal(await page.getAttribute('#provider-status', 'data-state'), 'fallback');
  assert.match(await page.textContent('#provider-status'), /no Acme Images key \(ACME_KEY\)/);
  await page.fill('#key-acme', 'acme-secret-1');
  await page.fill('#key-google', 'AIza-must-not-be-sent');
  assert.equal(await page.getAttribute('#provider-status', 'data-state'), 'own-key');
  assert.match(await page.textContent('#provider-status'), /Uses the Acme Images key you entered/);

  await page.setInputFiles('#photo-input', fixtures.small);
  await page.click('#submit');
  await resultShown(page);
  assert.equal(seen.length, 1);
  assert.equal(seen[0].provider, 'acme:acme/paint-1');
  assert.equal(seen[0].headers['x-acme-key'], 'acme-secret-1');
  assert.equal(seen[0].headers['x-google-api-key'], undefined, 'only the chosen provider’s key is sent');
  assert.equal(seen[0].headers['x-fal-key'], undefined);
  assert.match(await page.textContent('#result-meta'), /· Acme Images · acme\/paint-1 ·/);
  await shot(page, 'desktop-7-extra-provider');

  // "Other Acme Images model…": the custom field takes Acme's prefix.
  await page.selectOption('#provider', 'custom:acme');
  await page.locator('#custom-model-field:not([hidden])').waitFor();
  assert.equal(await page.textContent('#custom-model-prefix'), 'acme:');
  assert.equal(await page.textContent('#custom-model-label'), 'Acme Images model path');
  assert.match(await page.textContent('#custom-model-hint'), /Any Acme Images image-editing model, for example acme\/paint-1\./);
  assert.deepEqual(await page.$$eval('#custom-models option', (os) => os.map((o) => o.value)), ['acme/paint-1']);
  await page.fill('#key-acme', '');
  await page.fill('#custom-model', 'acme:acme/paint-2');
  await page.click('#submit');
  await page.locator('#history-list > li').nth(1).waitFor();
  assert.equal(seen[1].provider, 'acme:acme/paint-2');
  assert.equal(seen[1].headers['x-acme-key'], undefined, 'a cleared key is not sent');

  // The fallback notice names Acme's label and its variable, and leads to its key.
  await page.locator('#notice:not([hidden])', { hasText: 'unchanged' }).waitFor();
  assert.match(await page.textContent('#notice'), /no Acme Images API key.*ask the operator to set ACME_KEY on the server/);
  await page.locator('#notice button', { hasText: 'Enter a Acme Images key' }).click();
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'key-acme');

  check();
  await context.close();
});

test('without an answer from the server: the shipped table, remembered keys of the old shape, custom fal models', { timeout: 60_000 }, async () => {
  let seen;
  const { page, context, check } = await openPage(DESKTOP, async (p, ctx) => {
    await ctx.addInitScript(() => {
      localStorage.setItem('frameforge.keys.v1', JSON.stringify({ google: 'AIza-remembered', fal: 'fal-remembered' }));
    });
    await p.route('**/api/providers', (route) => route.fulfill({ status: 503, json: { detail: 'down', code: 'internal_error' } }));
    seen = await answerEdits(p);
  });
  await page.locator('#server-pill[data-state="error"]').waitFor();
  assert.equal(await page.getAttribute('#provider-status', 'data-state'), 'own-key', 'the remembered Google key is used');

  // The OFFLINE table: Google, and fal with its known models.
  const values = await page.$$eval('#provider option', (os) => os.map((o) => o.value));
  assert.deepEqual(values, ['google', 'fal:fal-ai/nano-banana/edit', 'fal:fal-ai/qwen-image-edit',
    'fal:fal-ai/bytedance/seedream/v4/edit', 'fal:fal-ai/flux-kontext/dev', 'custom:fal']);

  // The keys remembered as {"google": …, "fal": …} are read back.
  assert.equal(await page.locator('#keys').getAttribute('open'), '');
  assert.equal(await page.isChecked('#remember-keys'), true);
  assert.equal(await page.inputValue('#key-google'), 'AIza-remembered');
  assert.equal(await page.inputValue('#key-fal'), 'fal-remembered');

  // A custom fal model: checked in the page, then sent as fal:<path>, lower case.
  await page.selectOption('#provider', 'custom:fal');
  assert.equal(await page.textContent('#custom-model-prefix'), 'fal:');
  assert.equal(await page.textContent('#custom-model-label'), 'fal.ai model path');
  await page.setInputFiles('#photo-input', fixtures.small);
  await page.fill('#custom-model', 'not a model');
  await page.click('#submit');
  await page.locator('#error .error-title', { hasText: 'Check the fal.ai model path' }).waitFor();
  assert.equal(seen.length, 0, 'nothing was sent');
  await page.fill('#custom-model', ' FAL:Fal-AI/Flux-Pro/Kontext ');
  await page.click('#submit');
  await resultShown(page);
  assert.equal(seen[0].provider, 'fal:fal-ai/flux-pro/kontext');
  assert.equal(seen[0].headers['x-fal-key'], 'fal-remembered');
  assert.equal(seen[0].headers['x-google-api-key'], undefined);

  // A changed key is remembered in the same map.
  await page.fill('#key-fal', 'fal-new');
  assert.deepEqual(JSON.parse(await page.evaluate(() => localStorage.getItem('frameforge.keys.v1'))),
    { google: 'AIza-remembered', fal: 'fal-new' });

  check([/Failed to load resource: the server responded with a status of 503/]);
  await context.close();
});
