// End-to-end test of the staging page: the real frameforge binary, pointed at
// the fake Gemini upstream (cmd/fakeupstream), driven in headless Chromium.
//
//   node --test staging.test.mjs        (or: bash run.sh, which installs what is missing)
//
// Environment: CHROMIUM (default /usr/bin/chromium), SCREENSHOTS (default ./screenshots).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const shotsDir = path.resolve(process.env.SCREENSHOTS || path.join(here, 'screenshots'));
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

// geminitest.DefaultKey: the one key the fake accepts.
const FAKE_KEY = 'AIzaFAKE-geminitest-0123456789abcdefghij';
// A prompt containing this makes the fake answer after 30 s (cmd/fakeupstream -slow-keyword).
const SLOW = 'slow-please';
// The page starts a prompt with a capital, so the keyword goes after a first word.
const SLOW_PROMPT = `take it ${SLOW} and furnish it`;

const DESKTOP = { viewport: { width: 1440, height: 900 } };
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

let tmp;
let fake;
let fakeURL;
let server;
let baseURL;
const extra = []; // the servers started for one test (startServer)
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
 * (to set up routes or storage); url is the server (default: the main one).
 */
async function openPage(options, prepare, url = baseURL) {
  const context = await browser.newContext(options);
  await context.addInitScript(RECORD_POSTS);
  const page = await context.newPage();
  await prepare?.(page, context);
  const problems = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console.${msg.type()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  await page.goto(url, { waitUntil: 'load' });
  await ready(page);
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

/**
 * startServer runs the frameforge binary in a fresh working directory (no
 * .env) with only the environment we choose: a Google key for the fake, no fal
 * key (so fal models take the fallback), its own DATA_DIR, plus env. It
 * returns the process, its base URL and run(args), which runs a subcommand
 * (frameforge tokens …) against the same data and gives its stdout.
 */
async function startServer(name, env = {}) {
  const work = path.join(tmp, `work-${name}`);
  await mkdir(work);
  const bin = path.join(tmp, 'frameforge');
  const fullEnv = {
    PATH: process.env.PATH,
    HOME: tmp,
    SERVER_HOST: '127.0.0.1',
    SERVER_PORT: '0',
    GEMINI_BASE_URL: fakeURL,
    GOOGLE_API_KEY: FAKE_KEY,
    SHUTDOWN_TIMEOUT: '2s',
    MAX_IMAGE_BYTES: '20MB', // not the default: the page must show the server's own limit
    JOB_WORKERS: '1', // one job at a time, so a second one waits in line
    DATA_DIR: path.join(tmp, `data-${name}`),
    ...env,
  };
  const proc = start(`frameforge (${name})`, bin, [], { cwd: work, env: fullEnv });
  const url = `${await proc.waitFor(/addr=(http:\/\/[^\s"]+)/)}/`;
  const run = (args) => new Promise((resolve, reject) => {
    execFile(bin, args, { cwd: work, env: fullEnv }, (err, stdout, stderr) => (err ? reject(new Error(`frameforge ${args.join(' ')}: ${err.message}\n${stderr}`)) : resolve(stdout)));
  });
  return { ...proc, baseURL: url, run };
}

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'frameforge-e2e-'));
  await mkdir(shotsDir, { recursive: true });
  const bin = (n) => path.join(tmp, n);
  await Promise.all([goBuild('./cmd/frameforge', bin('frameforge')), goBuild('./cmd/fakeupstream', bin('fakeupstream'))]);

  fake = start('fakeupstream', bin('fakeupstream'),
    ['-addr', '127.0.0.1:0', '-slow-keyword', SLOW, '-slow-delay', '30s'], { cwd: tmp });
  fakeURL = await fake.waitFor(/listening on (http:\/\/\S+)/);

  server = await startServer('main');
  baseURL = server.baseURL;

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
  await Promise.all(extra.map((s) => s.stop()));
  await server?.stop();
  await fake?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
  console.log(`screenshots: ${shotsDir}`);
});

// ---- tests ---------------------------------------------------------------------------
async function ready(page) {
  await page.locator('#provider-status:not([data-state="loading"])').waitFor();
}

/** axe runs axe-core on the page as it is and fails on any violation. */
async function axe(page, where) {
  const res = await new AxeBuilder({ page }).analyze();
  const found = res.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 4).join(', ')}`);
  assert.deepEqual(found, [], `axe-core violations ${where}`);
}

const VIEWPORTS = [['desktop', DESKTOP], ['phone', PHONE]];

/**
 * jobPosts returns a function giving every POST /api/jobs the page made: its
 * form fields (files as "file:<name>") and headers. Chromium does not hand a
 * multipart body with files to Playwright, so a script in the page records
 * the FormData it sends (installed by openPage).
 */
function jobPosts(page) {
  return () => page.evaluate(() => window.__posts || []);
}

const RECORD_POSTS = () => {
  const orig = window.fetch;
  window.__posts = [];
  window.fetch = function (input, init) {
    const url = typeof input === 'string' ? input : input.url;
    if (init?.method === 'POST' && new URL(url, window.location.href).pathname === '/api/jobs' && init.body instanceof FormData) {
      const fields = {};
      for (const [k, v] of init.body.entries()) (fields[k] ||= []).push(typeof v === 'string' ? v : `file:${v.name}`);
      const headers = {};
      for (const [k, v] of Object.entries(init.headers || {})) headers[k.toLowerCase()] = v;
      window.__posts.push({ fields, headers });
    }
    return orig.apply(this, arguments);
  };
};

/**
 * done waits for the result on the slider. Should it not come, the failure
 * says what the page showed instead and what the servers logged last, so a
 * failure on a CI machine can be understood from its output alone. A result
 * slower than 15 s (an edit here takes well under one) passes, up to a
 * minute, but prints the same account: a CI run once timed out here at 30 s
 * and the cause could not be seen.
 */
async function done(page) {
  const started = Date.now();
  const account = async () => {
    const seen = await page.evaluate(() => ['#status', '#error', '#progress-time', '#result-meta']
      .map((sel) => `${sel}: ${JSON.stringify(document.querySelector(sel)?.textContent?.trim() ?? null)}`)
      .join('\n')).catch((e) => `(page unreadable: ${e.message})`);
    const tail = (log) => log.split('\n').slice(-30).join('\n');
    return `--- the page showed:\n${seen}\n--- frameforge logged last:\n${tail(server.log())}` +
      `\n--- the fake upstream logged last:\n${tail(fake.log())}`;
  };
  const slow = setTimeout(async () => console.log(`# a result is slow (15 s so far):\n${await account()}`), 15_000);
  try {
    await page.locator('#compare:not([hidden])').waitFor({ timeout: 60_000 });
    await page.waitForFunction(() => {
      const img = document.getElementById('after-img');
      return img.complete && img.naturalWidth > 0 && !document.getElementById('submit').disabled;
    }, null, { timeout: 30_000 });
  } catch (err) {
    err.message += `\n(after ${Math.round((Date.now() - started) / 1000)} s)\n${await account()}`;
    throw err;
  } finally {
    clearTimeout(slow);
  }
}

const inViewport = (page, sel) => page.locator(sel).evaluate((el) => {
  const r = el.getBoundingClientRect();
  return r.top >= 0 && r.bottom <= window.innerHeight;
});

// ---- flows ----------------------------------------------------------------------------

for (const [name, device] of VIEWPORTS) {
  test(`${name}: a job from the form to variations side by side, favourite, downloads, another style in one click`, { timeout: 120_000 }, async () => {
    const { page, context, check } = await openPage({ ...device, acceptDownloads: true });
    const posts = jobPosts(page);
    await page.setInputFiles('#photo-input', fixtures.small);
    // Defect 10: the chosen photo is shown large before any result exists.
    await page.locator('#preview:not([hidden]) #preview-img').waitFor();
    const pw = await page.locator('#preview-img').evaluate((img) => img.getBoundingClientRect().width);
    assert.ok(pw >= 300, `the chosen photo is shown ${pw}px wide; want it large`);
    await pickChip(page, 'room', 'Living room');
    await pickChip(page, 'style', 'Scandinavian');
    await page.locator('#variation-chips label', { hasText: '3' }).click();
    await axe(page, `${name}, form filled`);
    await shot(page, `${name}-1-form`, true);

    // Defect 1: staged from the lower part of the form, the result's top is brought into view.
    await page.locator('#submit').scrollIntoViewIfNeeded();
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    await page.click('#submit');
    await done(page);
    assert.equal((await posts()).length, 1);
    assert.deepEqual((await posts())[0].fields.variations, ['3']);
    assert.deepEqual((await posts())[0].fields.image, ['file:bedroom.jpg']);
    assert.match((await posts())[0].fields.prompt[0], /Scandinavian living room/);
    assert.equal(JSON.parse((await posts())[0].fields.metadata[0]).style, 'scandinavian');
    await page.waitForFunction(() => document.activeElement?.id === 'result-heading');
    assert.ok(await inViewport(page, '#result-heading'), 'the result heading is in view');
    assert.ok(await inViewport(page, '.compare-tag-before'), 'the Before tag is in view');

    // Variations side by side; any one on the slider.
    const cards = page.locator('#variation-list .variation-show');
    await page.waitForFunction(() => [...document.querySelectorAll('#variation-list img')].every((i) => i.complete && i.naturalWidth > 0));
    assert.equal(await cards.count(), 3);
    const tops = await cards.evaluateAll((els) => els.map((e) => Math.round(e.getBoundingClientRect().top)));
    assert.ok(tops[0] === tops[1], `variations 1 and 2 sit side by side (tops ${tops})`);
    if (name === 'desktop') assert.equal(new Set(tops).size, 1, 'all three variations in one row on a laptop');
    await cards.nth(1).click();
    assert.equal(await cards.nth(1).getAttribute('aria-pressed'), 'true');
    await page.waitForFunction(() => {
      const after = document.getElementById('after-img');
      const v2 = document.querySelectorAll('#variation-list img')[1];
      return after.src === v2.src && after.complete;
    });
    assert.match(await page.locator('#after-img').getAttribute('alt'), /variation 2/);

    // Defect 10: the knob stays whole inside the picture at both ends.
    for (const v of ['0', '100']) {
      await page.locator('#compare-range').fill(v);
      const [knob, stage] = await Promise.all(['.compare-knob', '#compare-stage'].map((s) => page.locator(s).boundingBox()));
      assert.ok(knob.x >= stage.x - 0.5 && knob.x + knob.width <= stage.x + stage.width + 0.5, `knob at ${v}% inside the stage`);
    }
    await page.locator('#compare-range').fill('50');

    // Favourite and downloads.
    const fav = page.locator('#variation-list .variation-fav').nth(1);
    await fav.click();
    assert.equal(await fav.getAttribute('aria-pressed'), 'true');
    const dl = page.locator('#download');
    assert.match(await dl.textContent(), /^Download variation 2 \(PNG, /);
    assert.equal(await dl.getAttribute('aria-label'), null, 'the visible text is the accessible name (defect 5)');
    const [one] = await Promise.all([page.waitForEvent('download'), dl.click()]);
    assert.match(one.suggestedFilename(), /^staged-living-room-scandinavian-\d{8}-\d{4}-v2\.png$/);
    const all = [];
    page.on('download', (d) => all.push(d.suggestedFilename()));
    await page.click('#download-all');
    await page.waitForFunction(() => /3 pictures downloaded/.test(document.getElementById('status').textContent));
    assert.equal(all.length, 3, `download all gave ${all}`);
    await axe(page, `${name}, result with variations`);
    await shot(page, `${name}-2-variations`, true);

    // Another style on the same photo, one click.
    await page.locator('#restyle-list button', { hasText: 'Industrial' }).click();
    await page.waitForFunction(() => document.getElementById('submit').disabled === false && /Industrial/.test(document.getElementById('result-meta').textContent), null, { timeout: 30_000 });
    await done(page);
    assert.equal((await posts()).length, 2);
    const meta2 = JSON.parse((await posts())[1].fields.metadata[0]);
    assert.equal(meta2.style, 'industrial');
    assert.equal(meta2.room, 'living-room');
    assert.deepEqual((await posts())[1].fields.variations, ['3']);
    assert.equal((await posts())[1].fields.image.length, 1, 'the same photo went again');
    assert.equal(await page.locator('#style-chips input:checked').getAttribute('value'), 'industrial', 'the form follows the new style');
    await shot(page, `${name}-3-restyled`);
    check();
    await context.close();
  });
}

test('progress from the event stream, a second job waits in line, survives a reload and a closed tab, cancel is the job’s cancel', { timeout: 120_000 }, async () => {
  const { page, context, check } = await openPage(DESKTOP);
  const posts = jobPosts(page);
  await page.setInputFiles('#photo-input', [fixtures.small, fixtures.phone]);
  await page.locator('#mode input[value="rooms"]').check();
  await page.fill('#prompt', SLOW_PROMPT);
  await page.click('#submit');
  const rooms = page.locator('#rooms .room');
  await page.waitForFunction(() => document.querySelectorAll('#rooms .room').length === 2);
  await page.locator('#rooms .room-status', { hasText: /Staging · \d+ s/ }).waitFor({ timeout: 20_000 });
  await page.locator('#rooms .room-status', { hasText: /Waiting/ }).waitFor({ timeout: 20_000 });
  assert.equal((await posts()).length, 2);
  const t1 = await rooms.first().locator('.room-status').textContent();
  await page.waitForTimeout(2200);
  const t2 = await rooms.first().locator('.room-status').textContent();
  assert.notEqual(t1, t2, 'the elapsed time moves');
  await axe(page, 'rooms in progress');
  await shot(page, 'desktop-4-rooms-progress');

  // A reload finds the jobs again and keeps following them.
  await page.reload();
  await ready(page);
  await page.waitForFunction(() => document.querySelectorAll('#rooms .room').length === 2);
  await page.locator('#rooms .room-status', { hasText: /Staging · \d+ s/ }).waitFor();
  assert.equal(await page.locator('#cancel').isVisible(), true);

  // A closed tab too: a new tab on the same device.
  await page.close();
  const tab = await context.newPage();
  await tab.goto(baseURL);
  await ready(tab);
  await tab.locator('#rooms .room-status', { hasText: /Staging · \d+ s/ }).waitFor();
  const deletes = [];
  tab.on('request', (r) => { if (r.method() === 'DELETE') deletes.push(new URL(r.url()).pathname); });
  await tab.click('#cancel');
  await tab.waitForFunction(() => [...document.querySelectorAll('#rooms .room-status')].every((s) => s.textContent === 'Cancelled'));
  assert.equal(deletes.length, 2);
  for (const d of deletes) assert.match(d, /^\/api\/jobs\/job_[A-Za-z0-9_-]+$/);
  const job = await (await fetch(new URL(deletes[0], baseURL))).json();
  assert.equal(job.status, 'cancelled', 'the server’s job is cancelled');
  assert.match(await tab.locator('#status').textContent(), /Cancelled/);
  assert.equal(await tab.locator('#submit').isDisabled(), false);
  check();
  await context.close();
});

test('phone: one slow edit, progress and cancel', { timeout: 60_000 }, async () => {
  const { page, context, check } = await openPage(PHONE);
  await page.setInputFiles('#photo-input', fixtures.small);
  await page.fill('#prompt', SLOW_PROMPT);
  await page.click('#submit');
  await page.locator('#preview-veil:not([hidden])').waitFor();
  await page.locator('#progress-time', { hasText: /Staging · \d+ s|Waiting/ }).waitFor();
  await page.waitForFunction(() => {
    const r = document.getElementById('result-heading').getBoundingClientRect();
    return r.top >= 0 && r.bottom <= window.innerHeight;
  }, null, { timeout: 5_000 }); // on a phone the progress is brought into view
  await axe(page, 'phone, in progress');
  await shot(page, 'phone-4-progress');
  const del = page.waitForRequest((r) => r.method() === 'DELETE');
  await page.click('#cancel');
  await del;
  await page.locator('#status', { hasText: /Cancelled/ }).waitFor();
  check();
  await context.close();
});

for (const [name, device] of VIEWPORTS) {
  test(`${name}: several photos are either different rooms or views of one room, chosen explicitly`, { timeout: 90_000 }, async () => {
    const { page, context, check } = await openPage(device);
    const posts = jobPosts(page);
    await page.setInputFiles('#photo-input', [fixtures.small, fixtures.phone]);
    await page.locator('#mode:not([hidden])').waitFor();
    assert.equal(await page.locator('#mode input:checked').count(), 0, 'no meaning is assumed');
    await page.click('#submit');
    await page.locator('#error:not([hidden])', { hasText: 'Say what these photos are' }).waitFor();
    assert.equal((await posts()).length, 0);
    await axe(page, `${name}, choosing the meaning`);

    await page.locator('#mode input[value="rooms"]').check();
    assert.match(await page.locator('#submit').textContent(), /Stage 2 rooms/);
    await page.click('#submit');
    await page.waitForFunction(() => [...document.querySelectorAll('#rooms .room-status')].filter((s) => /^Done/.test(s.textContent)).length === 2, null, { timeout: 60_000 });
    await done(page);
    assert.equal((await posts()).length, 2, 'one job per room');
    for (const p of await posts()) {
      assert.equal(p.fields.image.length, 1);
      assert.equal(p.fields.images, undefined);
    }
    await page.locator('#rooms button', { hasText: 'Compare room 2' }).click();
    await page.locator('#result-meta', { hasText: 'empty-living-room.jpg' }).waitFor();
    await axe(page, `${name}, rooms done`);
    await shot(page, `${name}-5-rooms`, true);

    await page.locator('#mode input[value="views"]').check();
    await page.click('#submit');
    await done(page);
    assert.equal((await posts()).length, 3);
    assert.deepEqual((await posts())[2].fields.images, ['file:bedroom.jpg', 'file:empty-living-room.jpg'], 'one job, the other photo as a reference view');
    check();
    await context.close();
  });
}

test('history: the device’s jobs come back with thumbnails, prompts and providers', { timeout: 150_000 }, async () => {
  const { page, context, check } = await openPage(PHONE);
  await page.setInputFiles('#photo-input', fixtures.small);
  await pickChip(page, 'style', 'Boho');
  await page.click('#submit');
  await done(page);
  await page.selectOption('#provider', { label: 'Nano Banana edit' });
  await pickChip(page, 'style', 'Japandi');
  await page.click('#submit');
  await done(page);
  await page.close();

  const tab = await context.newPage();
  await tab.goto(baseURL);
  await ready(tab);
  const items = tab.locator('#history-list .history-item');
  await tab.waitForFunction(() => document.querySelectorAll('#history-list .history-item').length >= 2);
  await tab.waitForFunction(() => [...document.querySelectorAll('#history-list img')].slice(0, 2).every((i) => i.complete && i.naturalWidth > 0));
  const texts = await items.evaluateAll((els) => els.slice(0, 2).map((e) => e.textContent));
  assert.match(texts[0], /Japandi style/);
  assert.match(texts[0], /fal\.ai · Nano Banana edit/);
  assert.match(texts[0], /Unchanged: no API key/);
  assert.match(texts[1], /Boho style/);
  assert.match(texts[1], /Nano Banana \(Google Gemini\)/);
  assert.match(texts[1], /bohemian/, 'the prompt is shown');
  await items.nth(1).click();
  await done(tab);
  assert.match(await tab.locator('#result-meta').textContent(), /Boho/);
  assert.equal(await items.nth(1).getAttribute('aria-current'), 'true');
  await axe(tab, 'phone, history');
  await shot(tab, 'phone-6-history', true);
  check();
  await context.close();
});

// ---- defects ----------------------------------------------------------------------------

test('defects 2, 3, 4: one dismissible message in the flow, said once, and nothing sent that would be refused', { timeout: 90_000 }, async () => {
  const { page, context, check } = await openPage(PHONE);
  const posts = jobPosts(page);
  await page.click('#submit');
  const error = page.locator('#error');
  await error.locator('.error-title', { hasText: 'Add a room photo first' }).waitFor();
  // Defect 2: the error is in the flow of the form, not in the sticky bar.
  assert.equal(await page.locator('#actions #error').count(), 0);
  const bar = await page.locator('#actions').boundingBox();
  assert.ok(bar.height < 844 * 0.16, `the sticky bar is ${bar.height}px tall`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(300);
  const box = await error.boundingBox();
  assert.ok(box.y > 844 || box.y + box.height < 0 || (await page.locator('#error').evaluate((e) => getComputedStyle(e).position)) === 'static', 'the error scrolls with the form');
  await axe(page, 'phone, error shown');
  await shot(page, 'phone-7-error');
  await page.click('#error-close');
  assert.equal(await error.isHidden(), true, 'the error can be dismissed');

  // Defect 3 and 4: a HEIC this server cannot read (no still image in it: POST /api/preview
  // answers 415) is said once, under the photo, and not uploaded.
  await page.setInputFiles('#photo-input', fixtures.heic);
  const note = page.locator('#photo-list .thumb-problems li');
  await note.first().waitFor();
  await page.click('#submit');
  await error.locator('.error-title', { hasText: 'IMG_0042.HEIC' }).waitFor();
  const advice = await page.evaluate(() => document.body.innerText.split('Most Compatible').length - 1);
  assert.equal(advice, 1, 'the advice appears once');
  assert.equal((await posts()).length, 0, 'a refused photo is not uploaded');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Remove', 'focus goes to the photo to remove');
  await shot(page, 'phone-8-heic', true);
  await page.click('#photo-list .thumb-remove');

  // Over the size limit: noted under the photo, not uploaded.
  const big = path.join(tmp, 'huge.jpg');
  await writeFile(big, Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(21_000_000)]));
  await page.setInputFiles('#photo-input', big);
  await note.filter({ hasText: 'the server takes up to 20 MB per photo' }).waitFor();
  await page.click('#submit');
  await error.locator('.error-title', { hasText: 'huge.jpg' }).waitFor();
  assert.equal((await posts()).length, 0);
  await page.click('#photo-list .thumb-remove');

  // Too many photos of one room (the server takes 10): refused here.
  const small = await readFile(fixtures.small);
  const files = Array.from({ length: 11 }, (_, i) => ({ name: `view-${i + 1}.jpg`, mimeType: 'image/jpeg', buffer: small }));
  await page.setInputFiles('#photo-input', files);
  await page.locator('#mode input[value="views"]').check();
  await page.click('#submit');
  await error.locator('.error-title', { hasText: 'Too many photos for one room' }).waitFor();
  assert.equal((await posts()).length, 0);
  await axe(page, 'phone, too many photos');
  check([/Failed to load resource: the server responded with a status of 415/]);
  await context.close();
});

test('defect 3: a refusal from the server shows its detail once, without a second version of the advice', { timeout: 60_000 }, async () => {
  const { page, context, check } = await openPage(DESKTOP);
  const notPhoto = path.join(tmp, 'notes.jpg');
  await writeFile(notPhoto, 'these are my notes, not a photo');
  await page.setInputFiles('#photo-input', notPhoto);
  await page.click('#submit');
  await page.locator('#error:not([hidden])').waitFor();
  const paras = await page.locator('#error-body p').allTextContents();
  assert.equal(paras[0], 'A file is not a photo the server can read');
  assert.match(paras[1], /notes\.jpg/);
  assert.match(paras.at(-1), /^code invalid_image · request id /);
  assert.equal(paras.length, 3, `title, the server's detail and the codes only: ${paras}`);
  await axe(page, 'desktop, server refusal');
  check([/status of 4\d\d/]);
  await context.close();
});

for (const [name, device] of VIEWPORTS) {
  test(`${name}: defects 5–9: axe, size hint, model names, bundled fonts, free static files`, { timeout: 60_000 }, async () => {
    const responses = [];
    const { page, context, check } = await openPage(device, (p) => p.on('response', (r) => responses.push(r)));
    await axe(page, `${name}, empty page`);
    // Defect 5: the composed prompt carries no prohibited ARIA; contrast is checked by axe above.
    assert.equal(await page.locator('.composed[aria-labelledby]').count(), 0);

    // Defect 6: the hint reads the same before and after the limits load.
    const html = await (await fetch(baseURL)).text();
    assert.match(html, /up to 25&nbsp;MB each/);
    const same = await page.evaluate(async () => (await import(document.querySelector('link[href*="format.js"]').href)).formatBytes(25 * 1024 * 1024));
    assert.equal(same, '25 MB', 'the default limit (25 MiB) reads 25 MB');
    assert.match(await page.locator('#photo-hint').textContent(), /up to 20 MB each/, 'the server’s limit (20MB)');

    // Defect 7: the picker speaks to people.
    const options = await page.locator('#provider option, #provider optgroup').evaluateAll((els) => els.map((e) => e.label || e.textContent));
    for (const o of options) {
      assert.doesNotMatch(o, /key on server|no server key|_API_KEY|FAL_KEY|gemini-\d|\//, `option “${o}”`);
    }
    assert.doesNotMatch(await page.locator('#provider-status').textContent(), /[A-Z]+_[A-Z]+/, 'no variable names');
    const fits = await page.locator('#provider').evaluate((s) => {
      const c = document.createElement('canvas').getContext('2d');
      c.font = getComputedStyle(s).font;
      return [...s.options].every((o) => c.measureText(o.textContent).width + 50 <= s.clientWidth);
    });
    assert.ok(fits, 'every model name fits the picker');

    // Defect 8: the fonts come with the page.
    await page.evaluate(() => document.fonts.ready);
    assert.ok(await page.evaluate(() => document.fonts.check('16px Inter') && [...document.fonts].some((f) => f.family.replace(/"/g, '') === 'Inter' && f.status === 'loaded')));
    const fontRes = responses.find((r) => r.url().includes('/assets/inter.woff2'));
    assert.ok(fontRes, 'inter.woff2 is loaded from this server');
    assert.equal(fontRes.headers()['content-type'], 'font/woff2');
    const licence = await fetch(new URL('/assets/inter-license.txt', baseURL));
    assert.equal(licence.status, 200);
    assert.match(await licence.text(), /SIL Open Font License/);

    // Defect 9: the page's own files spend no rate-limit budget; the API does.
    const own = responses.filter((r) => /\/(assets\/|$)/.test(new URL(r.url()).pathname) && !new URL(r.url()).pathname.startsWith('/api/'));
    assert.ok(own.length >= 10, `the page loaded ${own.length} files`);
    for (const r of own) assert.equal(r.headers()['ratelimit-remaining'], undefined, `${r.url()} spent budget`);
    const api = responses.find((r) => r.url().endsWith('/api/providers'));
    assert.ok(api.headers()['ratelimit-remaining'], 'GET /api/providers spends budget');
    await shot(page, `${name}-0-start`, true);
    check();
    await context.close();
  });
}

// ---- API tokens, the listing features, HEIC: each against its own real server ------------

test('access token: asked for when required, sent as Bearer, history from GET /api/jobs, a refused token said plainly', { timeout: 120_000 }, async () => {
  const srv = await startServer('auth', { AUTH: 'required' });
  extra.push(srv);
  const providers = await (await fetch(new URL('/api/providers', srv.baseURL))).json();
  assert.equal(providers.auth, 'required');
  const [TOKEN, idLine] = (await srv.run(['tokens', 'create', '--name', 'e2e'])).split('\n');
  const tokenID = idLine.replace(/^id:\s*/, '').trim();
  assert.match(TOKEN, /^ff_/);
  assert.ok(tokenID, 'tokens create prints the id');

  const { page, context, check } = await openPage(DESKTOP, undefined, srv.baseURL);
  await page.locator('#token-field:not([hidden])').waitFor();
  assert.match(await page.locator('#token-label').textContent(), /required/);
  await page.setInputFiles('#photo-input', fixtures.small);
  await page.click('#submit');
  await page.locator('#error-body', { hasText: 'Enter your access token' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'access-token');
  await axe(page, 'token required');
  await page.fill('#access-token', TOKEN);
  const req = page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/api/jobs'));
  await page.click('#submit');
  assert.equal((await req).headers().authorization, `Bearer ${TOKEN}`);
  await done(page);
  const [jobID] = JSON.parse(await page.evaluate(() => localStorage.getItem('frameforge.jobs.v1'))).map((e) => e.id);

  // A new tab with the token finds the job through the server's list.
  await page.evaluate(() => localStorage.clear());
  await page.reload();
  await ready(page);
  assert.equal(await page.locator('#history-list .history-item').count(), 0, 'nothing on this device any more');
  await page.fill('#access-token', TOKEN);
  const listed = page.waitForResponse((r) => /\/api\/jobs\?limit=/.test(r.url()));
  await page.locator('#access-token').dispatchEvent('change');
  const list = await listed;
  assert.equal(list.request().headers().authorization, `Bearer ${TOKEN}`);
  assert.equal(list.status(), 200);
  const body = await list.json();
  assert.ok(Array.isArray(body.data) && 'next' in body, `GET /api/jobs answers {data, next}: ${JSON.stringify(body).slice(0, 200)}`);
  assert.deepEqual(body.data.map((j) => j.id), [jobID]);
  await page.locator('#history-list .history-item').first().waitFor();
  await page.locator('#history-hint', { hasText: 'access token' }).waitFor();
  assert.equal(await page.evaluate(() => localStorage.getItem('frameforge.token.v1')), null, 'kept in memory only');
  await shot(page, 'desktop-11-token-history', true);

  // A wrong token: said when it is entered, not at the next edit.
  await page.fill('#access-token', 'ff_notAToken0123456789abcdefghijklmnopqrstuvwxyzAB');
  await page.locator('#access-token').dispatchEvent('change');
  await page.locator('#error .error-title', { hasText: 'Your access token was not accepted' }).waitFor();
  await page.click('#error-close');

  // A revoked token: the edit is refused with the page's sentence and the server's reason.
  await srv.run(['tokens', 'revoke', tokenID]);
  await page.fill('#access-token', TOKEN);
  await page.setInputFiles('#photo-input', fixtures.small);
  const refused = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/api/jobs'));
  await page.click('#submit');
  assert.equal((await refused).status(), 401);
  await page.locator('#error .error-title', { hasText: 'Your access token was not accepted' }).waitFor();
  assert.match(await page.locator('#error .error-detail').textContent(), /revoked/);
  assert.equal(await page.locator('#error .error-hint').count(), 0, 'one piece of advice: the server’s');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'access-token');
  assert.equal(await page.locator('#submit').isDisabled(), false, 'the form can be sent again');
  await axe(page, 'token refused');
  await shot(page, 'desktop-12-token-revoked');
  check([/401 \(Unauthorized\)/]);
  await context.close();
});

test('listing disclosure and decluttering: offered as the server says, sent, and declutter then stage in one job', { timeout: 120_000 }, async () => {
  const { page: plain, context: c0 } = await openPage(PHONE);
  assert.equal(await plain.locator('#disclosure-field').isHidden(), true, 'DISCLOSURE=off: no checkbox');
  await plain.locator('#declutter-group:not([hidden])').waitFor(); // GET /api/presets has the declutter preset
  await c0.close();

  const srv = await startServer('disclosure', { DISCLOSURE: 'optional' });
  extra.push(srv);
  const presets = await (await fetch(new URL('/api/presets', srv.baseURL))).json();
  assert.equal(presets.declutter.id, 'declutter');
  const { page, context, check } = await openPage(PHONE, undefined, srv.baseURL);
  const posts = jobPosts(page);
  await page.locator('#disclosure-field:not([hidden])').waitFor();
  await page.locator('#declutter-group:not([hidden])').waitFor();
  await page.setInputFiles('#photo-input', fixtures.small);
  await page.locator('#disclosure-field').click();
  await page.locator('#declutter-group label', { hasText: 'Only empty the room' }).click();
  assert.equal(await page.locator('#composed-prompt').textContent(), presets.declutter.prompt, 'the prompt shown is the one the server will use');
  await axe(page, 'phone, disclosure and declutter');
  await shot(page, 'phone-9-disclosure-declutter', true);
  await page.click('#submit');
  await done(page);
  const first = (await posts())[0].fields;
  assert.deepEqual(first.disclosure, ['true']);
  assert.deepEqual(first.declutter, ['true']);
  assert.equal(first.prompt, undefined, 'emptying alone sends no prompt');
  const meta = await page.locator('#result-meta').textContent();
  assert.match(meta, /Room emptied/);
  assert.match(meta, /marked “Virtually staged”/);
  const [id] = JSON.parse(await page.evaluate(() => localStorage.getItem('frameforge.jobs.v1'))).map((e) => e.id);
  const job = await (await fetch(new URL(`/api/jobs/${id}`, srv.baseURL))).json();
  assert.equal(job.status, 'succeeded');
  assert.equal(job.disclosure, true, 'the result carries the label');
  assert.equal(job.prompt, presets.declutter.prompt);

  // Empty, then stage in one job: the server runs both steps and keeps both
  // pictures; the page shows the staged one first, the emptied room beside it.
  await page.locator('#declutter-group label', { hasText: 'Empty it, then stage' }).click();
  await pickChip(page, 'style', 'Scandinavian');
  await page.click('#submit');
  await done(page);
  const second = (await posts()).at(-1).fields;
  assert.deepEqual(second.declutter, ['true']);
  assert.match(second.prompt[0], /scandinavian/i);
  const ids = JSON.parse(await page.evaluate(() => localStorage.getItem('frameforge.jobs.v1'))).map((e) => e.id);
  const two = (await Promise.all(ids.map(async (i) => (await fetch(new URL(`/api/jobs/${i}`, srv.baseURL))).json())))
    .find((j) => (j.steps || []).length === 2);
  assert.ok(two, 'a job with two steps');
  assert.equal(two.status, 'succeeded');
  assert.deepEqual(two.results.map((r) => r.step), ['declutter', 'stage']);
  await page.locator('#variations:not([hidden]) .variation-show', { hasText: 'Emptied room' }).waitFor();
  assert.equal(await page.locator('.variation-show[aria-pressed="true"]').textContent(), 'Variation 2', 'the staged picture is shown first');
  await axe(page, 'phone, declutter then stage');
  await shot(page, 'phone-10-declutter-then-stage');
  check();
  await context.close();
});

test('HEIC from an iPhone: a thumbnail from POST /api/preview, and the job succeeds', { timeout: 90_000 }, async () => {
  const heic = path.join(tmp, 'IMG_1234.HEIC');
  await writeFile(heic, await readFile(path.join(repo, 'internal/imaging/testdata/12mp.heic')));
  const { page, context, check } = await openPage(PHONE);
  const posts = jobPosts(page);
  const previewed = page.waitForResponse((r) => r.url().endsWith('/api/preview'));
  await page.setInputFiles('#photo-input', heic);
  const res = await previewed;
  assert.equal(res.status(), 200);
  assert.equal(res.headers()['content-type'], 'image/jpeg');
  await page.waitForFunction(() => {
    const img = document.querySelector('#photo-list .thumb-img');
    return img && img.complete && img.naturalWidth > 0;
  });
  const [w, h] = await page.locator('#photo-list .thumb-img').evaluate((img) => [img.naturalWidth, img.naturalHeight]);
  assert.ok(w > h, `the thumbnail is the landscape photo (${w}×${h})`);
  assert.equal(await page.locator('#photo-list .thumb-problems li').count(), 0, 'no warning under the photo');
  await page.locator('#preview:not([hidden]) #preview-img').waitFor();
  await axe(page, 'phone, HEIC chosen');
  await shot(page, 'phone-11-heic-preview', true);
  await page.click('#submit');
  await done(page);
  assert.deepEqual((await posts())[0].fields.image, ['file:IMG_1234.HEIC']);
  const [id] = JSON.parse(await page.evaluate(() => localStorage.getItem('frameforge.jobs.v1'))).map((e) => e.id);
  const job = await (await fetch(new URL(`/api/jobs/${id}`, baseURL))).json();
  assert.equal(job.status, 'succeeded');
  assert.equal(job.inputs[0].content_type, 'image/jpeg', 'the server turned the HEIC into a JPEG');
  await shot(page, 'phone-12-heic-result', true);
  check();
  await context.close();
});

// ---- contracts with features whose server half lands with other issues ------------------
// These answer the missing fields with page.route, the rest is the real binary.
// TODO(lead, after merging issue 22): drop the route marked "until" so it runs against the binary alone.

test('structure check: flagged regions are outlined on the slider with a plain sentence', { timeout: 90_000 }, async () => {
  const flag = (job) => {
    for (const r of job.results || []) {
      r.structure = { score: 0.41, flagged: true, regions: [{ kind: 'window', bbox: [Math.round(r.width * 0.05), Math.round(r.height * 0.2), Math.round(r.width * 0.25), Math.round(r.height * 0.3)], score: 0.3 }] };
    }
    return job;
  };
  const { page, context, check } = await openPage(DESKTOP, async (p) => {
    // until issue 22: results carry `structure`.
    await p.route(/\/api\/jobs\/job_[^/]+(\/events)?$/, async (route) => {
      if (route.request().method() !== 'GET') return route.continue();
      const res = await route.fetch();
      const text = await res.text();
      if (route.request().url().endsWith('/events')) {
        const body = text.replace(/^data: (.*)$/gm, (_, d) => `data: ${JSON.stringify(flag(JSON.parse(d)))}`);
        return route.fulfill({ response: res, body });
      }
      return route.fulfill({ response: res, json: flag(JSON.parse(text)) });
    });
  });
  await page.setInputFiles('#photo-input', fixtures.small);
  await page.click('#submit');
  await done(page);
  const warning = page.locator('#structure-warning');
  await warning.waitFor();
  assert.equal(await warning.textContent(), 'The window on the left may have been changed — check before publishing.');
  const [region, stage] = await Promise.all(['.compare-region', '#compare-stage'].map((s) => page.locator(s).boundingBox()));
  assert.ok(Math.abs(region.x - (stage.x + stage.width * 0.05)) < 3 && Math.abs(region.width - stage.width * 0.25) < 4, 'the region is outlined where the bbox says');
  await axe(page, 'desktop, structure flagged');
  await shot(page, 'desktop-10-structure');
  check();
  await context.close();
});
