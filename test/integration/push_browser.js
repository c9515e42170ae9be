// push_browser.js — drives the push admin and demo pages in headless Debian
// chromium through puppeteer-core (test/npm, installed by test/deps.sh).
// Called by push_pages_test.py with env BASE (http://127.0.0.1:PORT), KEY (the
// push API key), PASSWORD (the admin's), SHOTS (a directory for screenshots),
// CHROMIUM (the browser). Prints one JSON line of what it saw; exit 0 when
// every step worked, 1 with the failing step otherwise. Every wait bounded.
'use strict';
const puppeteer = require('puppeteer-core');
const T = 10000;

async function main() {
  const base = process.env.BASE, shots = process.env.SHOTS;
  const out = {};
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: 'new',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
  try {
    // 1. no password: 401 asking for Basic auth (chromium headless would
    //    only report it as an error: node's fetch shows the status)
    const r = await fetch(base + '/admin');
    out.anonymous_status = r.status;
    out.anonymous_challenge = r.headers.get('www-authenticate');

    // 2. the demo page subscribes
    const demo = await browser.newPage();
    await demo.setViewport({width: 900, height: 500});
    await demo.goto(base + '/demo', {timeout: T});
    await demo.waitForFunction(() => document.getElementById('s').textContent === 'connected',
                               {timeout: T});

    // 3. admin: login, the count (the demo page and the test's subscriber),
    //    the message list read from the database
    const admin = await browser.newPage();
    await admin.setViewport({width: 1000, height: 600});
    await admin.authenticate({username: 'admin', password: process.env.PASSWORD});
    const ar = await admin.goto(base + '/admin', {timeout: T});
    out.admin_status = ar.status();
    await admin.waitForFunction(() => document.getElementById('subs').textContent === '2',
                                {timeout: T});
    out.count = await admin.$eval('#subs', e => e.textContent);
    await admin.waitForFunction(
        () => document.getElementById('l').textContent.includes('written before the restart'),
        {timeout: T});
    out.list_rows = await admin.$$eval('#l tr', rows => rows.length);

    // 4. the send form really broadcasts (the test's subscriber checks it too)
    await admin.type('#m', 'sent from the admin form');
    await admin.click('button');
    await admin.waitForFunction(
        () => document.getElementById('r').textContent.startsWith('delivered to 2'),
        {timeout: T});
    out.form_result = await admin.$eval('#r', e => e.textContent);
    await admin.waitForFunction(
        () => document.getElementById('l').textContent.includes('sent from the admin form'),
        {timeout: T});
    await admin.screenshot({path: shots + '/push-admin.png'});

    // 5. a POST with the API key becomes a toast on the demo page
    const p = await fetch(base + '/push', {method: 'POST', body: JSON.stringify(
        {message: 'a toast from a POST', sender: 'billing'}),
        headers: {'X-API-KEY': process.env.KEY, 'Content-Type': 'application/json'}});
    out.post_status = p.status;
    await demo.waitForFunction(() => [...document.querySelectorAll('.toast')].some(
        t => t.textContent.includes('a toast from a POST')), {timeout: T});
    out.toasts = await demo.$$eval('.toast', ts => ts.map(t => t.textContent));
    await demo.screenshot({path: shots + '/push-demo.png'});
    out.ok = true;
  } catch (e) {
    out.ok = false;
    out.error = String(e && e.message || e);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(out));
  process.exit(out.ok ? 0 : 1);
}

main().catch(e => { console.log(JSON.stringify({ok: false, error: String(e)})); process.exit(1); });
