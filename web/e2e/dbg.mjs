import { chromium } from 'playwright-core';
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const p = await b.newPage();
p.on('console', (m) => console.log('console', m.text()));
p.on('pageerror', (e) => console.log('pageerror', e.message));
await p.goto(process.argv[2]);
await p.locator('#provider-status:not([data-state="loading"])').waitFor();
await p.setInputFiles('#photo-input', process.argv[3]);
await p.fill('#prompt', 'slow-please furnish');
await p.click('#submit');
for (let i = 0; i < 8; i++) {
  await p.waitForTimeout(1000);
  console.log(await p.evaluate(() => [document.getElementById('progress-time').textContent, document.getElementById('status').textContent, document.getElementById('preview-veil').hidden, document.getElementById('submit').textContent.trim()].join(' | ')));
}
await b.close();
