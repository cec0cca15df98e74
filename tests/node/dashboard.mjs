// Drives the Sesame dashboard in headless Chromium (Debian's, through
// playwright-core) and reports what it saw as one JSON object on stdout;
// tests/dashboard_test.py decides whether that is right. The plan (argv[2],
// JSON) names the server, the credentials, where screenshots go and what to
// do: {base, user, password, wrongPassword, shots, admin: {user, password},
// redrive: true, suppression: {add, remove, search}, messageId, domain,
// mail: true, readOnly: {address}, manage: {createIdentity, deleteIdentity,
// configSet, pause}}.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const plan = JSON.parse(process.argv[2]);
const out = { steps: [], consoleErrors: [] };
fs.mkdirSync(plan.shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
// Script errors count; a refused request (401 before login, 403 after logout)
// is Chromium's network log, not the page failing.
page.on('console', (m) => {
  if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) out.consoleErrors.push(m.text());
});
page.on('pageerror', (e) => out.consoleErrors.push(String(e)));
page.setDefaultTimeout(15000);

const shot = async (name) => {
  await page.screenshot({ path: path.join(plan.shots, name + '.png'), fullPage: true });
};
// Opens a page of the dashboard and waits until it has loaded its data.
const open = async (name) => {
  await page.evaluate(() => { delete document.body.dataset.loaded; });
  await page.evaluate((n) => { location.hash = n; }, name);
  await page.waitForFunction((n) => document.body.dataset.loaded === n, name);
};
const login = async (user, password) => {
  await page.fill('#login-user', user);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
};

try {
  await page.goto(plan.base + '/');
  await page.waitForSelector('#login-form', { state: 'visible' });
  out.loginShownFirst = await page.isVisible('#login-form');
  // A wrong password is refused with a message, and the app stays hidden.
  await login(plan.user, plan.wrongPassword);
  await page.waitForFunction(() => document.getElementById('login-error').textContent !== '');
  out.wrongPasswordError = await page.textContent('#login-error');
  out.appHiddenAfterWrongPassword = await page.isHidden('#app');
  await shot('01-login-refused');

  await login(plan.user, plan.password);
  await page.waitForSelector('#app', { state: 'visible' });
  await page.waitForFunction(() => document.body.dataset.loaded === 'overview');
  out.user = await page.textContent('#user');

  if (plan.manage) {
    // Management through the page's own forms and buttons (confirm dialogs
    // accepted).
    page.on('dialog', (d) => d.accept());
    const m = plan.manage;
    await open('identities');
    if (m.createIdentity) {
      await page.fill('#identity-name', m.createIdentity);
      await page.click('#identity-add button[type=submit]');
      await page.waitForSelector(`[data-delete-identity="${m.createIdentity}"]`);
    }
    if (m.deleteIdentity) {
      await page.click(`[data-delete-identity="${m.deleteIdentity}"]`);
      await page.waitForFunction((n) => !document.querySelector(`[data-delete-identity="${n}"]`), m.deleteIdentity);
    }
    out.identities = await page.evaluate(() => [...document.querySelectorAll('[data-delete-identity]')]
      .map((b) => b.dataset.deleteIdentity));
    await shot('11-identities-managed');
    await open('configsets');
    const toggle = `[data-toggle-sending="${m.configSet}"]`;
    await page.waitForSelector(toggle);
    const want = m.pause ? 'Resume' : 'Pause';
    if ((await page.textContent(toggle)) !== want) {
      await page.click(toggle);
      await page.waitForFunction(([sel, w]) => document.querySelector(sel)?.textContent === w, [toggle, want]);
    }
    out.configSetButton = await page.textContent(toggle);
    await shot('12-configuration-sets');
    if (m.keys) {
      // Access keys: create (the secret and SMTP password shown once), then
      // toggle or delete the key named.
      await open('keys');
      if (m.keys.create) {
        await page.click('#key-create button[type=submit]');
        await page.waitForSelector('[data-new-key-secret]');
        out.newKey = await page.evaluate(() => ({
          id: document.querySelector('[data-new-key-id]').textContent,
          secret: document.querySelector('[data-new-key-secret]').textContent,
          smtpPassword: document.querySelector('[data-new-smtp-password]').textContent }));
        await page.waitForSelector(`[data-key="${out.newKey.id}"]`);
        await shot('14-key-created');
      }
      const id = m.keys.id || out.newKey.id;
      if (m.keys.toggle) {
        const sel = `[data-key-toggle="${id}"]`;
        const before = await page.textContent(sel);
        await page.click(sel);
        await page.waitForFunction(([s, b]) => document.querySelector(s)?.textContent !== b, [sel, before]);
        out.keyButton = await page.textContent(sel);
      }
      if (m.keys.delete) {
        await page.click(`[data-key-delete="${id}"]`);
        await page.waitForFunction((k) => !document.querySelector(`[data-key="${k}"]`), id);
      }
      out.keysListed = await page.evaluate(() => [...document.querySelectorAll('[data-key]')].map((x) => x.dataset.key));
    }
    if (m.template) {
      await open('templates');
      const t = m.template;
      await page.fill('#template-name', t.name);
      await page.fill('#template-subject', t.subject);
      await page.fill('#template-text', t.text);
      await page.fill('#template-html', t.html);
      await page.fill('#template-data', t.data);
      await page.click('#template-edit button[type=submit]');
      await page.waitForSelector('[data-preview-subject]');
      await page.waitForSelector(`[data-template="${t.name}"]`);
      out.preview = await page.evaluate(() => ({
        subject: document.querySelector('[data-preview-subject]').textContent,
        text: document.querySelector('[data-preview-text]').textContent,
        html: document.querySelector('#template-preview iframe')?.srcdoc || '',
        sandbox: document.querySelector('#template-preview iframe')?.getAttribute('sandbox') }));
      await shot('15-template-preview');
    }
    if (m.createConfigSet) {
      await open('configsets');
      await page.fill('#configset-name', m.createConfigSet);
      await page.click('#configset-add button[type=submit]');
      await page.waitForSelector(`[data-configset="${m.createConfigSet}"]`);
    }
    if (m.findSubject) {
      await open('messages');
      await page.fill('#filter-subject', m.findSubject);
      await page.click('#message-filter button[type=submit]');
      await page.waitForSelector('#message-list [data-message]');
      out.foundSubjects = await page.evaluate(() => [...document.querySelectorAll('#message-list [data-message]')]
        .map((x) => x.textContent));
      await page.click('#message-list [data-message]');
      await page.waitForSelector('#message-headers table');
      out.headerNames = await page.evaluate(() => [...document.querySelectorAll('#message-headers th')]
        .map((x) => x.textContent));
      await page.waitForSelector('#message-result .timeline li');
      out.timeline = await page.textContent('#message-result');
      await shot('13-message-found');
    }
  } else if (plan.readOnly) {
    // A user whose policies only read: the pages it may read, the list with
    // no buttons that would fail, and a direct edit refused by the server.
    out.navShown = await page.evaluate(() => [...document.querySelectorAll('#nav a')]
      .filter((a) => !a.hidden).map((a) => a.dataset.page));
    await open('suppression');
    out.suppressionListed = await page.evaluate(() => [...document.querySelectorAll('#suppression-table [data-address]')]
      .map((x) => x.dataset.address));
    out.removeButtons = await page.evaluate(() => document.querySelectorAll('#suppression-table [data-remove]').length);
    out.addFormHidden = await page.isHidden('#suppression-add');
    await open('identities');
    out.identityFormHidden = await page.isHidden('#identity-add');
    out.identityDeleteButtons = await page.evaluate(() => document.querySelectorAll('[data-delete-identity]').length);
    out.identitiesListed = await page.evaluate(() => document.querySelectorAll('#identities tbody tr').length);
    await open('configsets');
    out.configSetButtons = await page.evaluate(() => document.querySelectorAll('[data-toggle-sending]').length);
    out.configSetsListed = await page.evaluate(() => [...document.querySelectorAll('[data-configset]')]
      .map((x) => x.dataset.configset));
    await open('suppression');
    await shot('10-read-only-suppression');
    out.directEdits = await page.evaluate(async (address) => {
      const { csrf } = await (await fetch('/ui/session')).json();
      const call = async (method, path) => {
        const r = await fetch(path, { method, headers: { 'X-Sesame-Csrf': csrf } });
        return { status: r.status, body: await r.json() };
      };
      return {
        remove: await call('DELETE', '/admin/v2/email/suppression/addresses/' + encodeURIComponent(address)),
        purge: await call('POST', '/admin/dlq/purge'),
      };
    }, plan.readOnly.address);
    out.stillLoggedIn = await page.isVisible('#app');
  } else {
    // Overview: the charts as drawn, per series.
    await page.waitForSelector('#chart-volume svg');
    out.overview = await page.evaluate(() => {
      const read = (id) => {
        const svg = document.querySelector(`#${id} svg`);
        const lines = {};
        for (const pl of svg.querySelectorAll('polyline')) {
          const ys = pl.getAttribute('points').split(' ').map((p) => +p.split(',')[1]);
          lines[pl.dataset.series] = {
            total: +svg.getAttribute('data-total-' + pl.dataset.series),
            points: ys.length,
            // Points drawn above the baseline (a non-zero value).
            raised: ys.filter((y) => y < Math.max(...ys)).length,
          };
        }
        return lines;
      };
      const cards = {};
      for (const c of document.querySelectorAll('#totals .card')) {
        cards[c.dataset.metric] = +c.querySelector('.value').textContent.replace(/,/g, '');
      }
      return { volume: read('chart-volume'), feedback: read('chart-feedback'), cards };
    });
    await shot('02-overview');
    await page.selectOption('#range', '1h');
    await page.waitForFunction(() => document.querySelector('#chart-volume svg polyline')
      .getAttribute('points').split(' ').length <= 60);
    out.overviewHourPoints = await page.evaluate(() => document.querySelector('#chart-volume svg polyline')
      .getAttribute('points').split(' ').length);

    // Reputation: gauges and alarm states.
    await open('reputation');
    out.reputation = await page.evaluate(() => ({
      bounceGauge: +document.querySelector('#gauges svg').dataset.value,
      status: document.querySelector('#enforcement .badge').textContent,
      alarms: [...document.querySelectorAll('#alarms tbody tr')].map((tr) => [...tr.cells].map((c) => c.textContent)),
      history: document.querySelectorAll('#alarm-history tbody tr').length,
    }));
    await shot('03-reputation');

    // Queues and the dead-letter queue: redrive one message from its button.
    await open('queues');
    out.queues = await page.evaluate(() => ({
      sites: [...document.querySelectorAll('#sites tbody tr')].map((tr) => tr.cells[0].textContent),
      dead: +document.querySelector('[data-metric=dead] .value').textContent.replace(/,/g, ''),
      dlqRows: [...document.querySelectorAll('#dlq [data-redrive]')].map((b) => b.dataset.redrive),
      eventSubs: [...document.querySelectorAll('#event-subscriptions tbody tr')]
        .map((tr) => [...tr.cells].map((c) => c.textContent)),
    }));
    await shot('04-queues-before-redrive');
    if (plan.redrive && out.queues.dlqRows.length) {
      const id = out.queues.dlqRows[0];
      await page.click(`#dlq [data-redrive="${id}"]`);
      await page.waitForSelector('#toast .msg');
      out.redriveToast = await page.textContent('#toast .msg');
      await page.waitForFunction((i) => !document.querySelector(`#dlq [data-redrive="${i}"]`), id);
      out.redriven = id;
      out.dlqRowsAfter = await page.evaluate(() => document.querySelectorAll('#dlq [data-redrive]').length);
      await shot('05-queues-after-redrive');
    }

    // Suppression list: add, search, remove.
    if (plan.suppression) {
      await open('suppression');
      const rows = () => page.evaluate(() => [...document.querySelectorAll('#suppression-table [data-remove]')]
        .map((b) => b.dataset.remove));
      out.suppressionBefore = await rows();
      await page.fill('#suppression-address', plan.suppression.add);
      await page.selectOption('#suppression-reason', 'COMPLAINT');
      await page.click('#suppression-add button[type=submit]');
      await page.waitForFunction((a) => document.querySelector(`#suppression-table [data-remove="${a}"]`),
        plan.suppression.add);
      out.suppressionAfterAdd = await rows();
      await page.fill('#suppression-q', plan.suppression.search);
      await page.click('#suppression-search button[type=submit]');
      await page.waitForFunction((q) => [...document.querySelectorAll('#suppression-table [data-remove]')]
        .every((b) => b.dataset.remove.includes(q)), plan.suppression.search);
      out.suppressionSearch = await rows();
      await shot('06-suppression-search');
      await page.fill('#suppression-q', '');
      await page.click('#suppression-search button[type=submit]');
      await page.waitForFunction((a) => document.querySelector(`#suppression-table [data-remove="${a}"]`),
        plan.suppression.remove);
      await page.click(`#suppression-table [data-remove="${plan.suppression.remove}"]`);
      await page.waitForFunction((a) => !document.querySelector(`#suppression-table [data-remove="${a}"]`),
        plan.suppression.remove);
      out.suppressionAfterRemove = await rows();
      await shot('07-suppression-edited');
    }

    // Identities with the live status of their DNS records.
    if (plan.domain) {
      await open('identities');
      await page.waitForSelector(`table[data-domain="${plan.domain}"] tbody tr td .badge`);
      out.identities = await page.evaluate((d) => ({
        names: [...document.querySelectorAll('#identities tbody tr')].map((tr) => tr.cells[0].textContent),
        records: [...document.querySelectorAll(`table[data-domain="${d}"] tbody tr`)]
          .map((tr) => ({ purpose: tr.cells[0].textContent, status: tr.cells[4].textContent })),
      }), plan.domain);
      await shot('08-identities');
    }

    // Message search: the timeline of one message.
    if (plan.messageId) {
      await open('messages');
      await page.fill('#message-q', plan.messageId);
      await page.click('#message-search button[type=submit]');
      await page.waitForSelector('#message-result .timeline li, #message-result p.muted');
      out.timeline = await page.evaluate(() => [...document.querySelectorAll('#message-result .timeline li strong')]
        .map((s) => s.textContent));
      await shot('09-message-search');
    }

    // Captured mail (local profile): open the newest message.
    if (plan.mail) {
      out.mailNavVisible = await page.isVisible('#nav-mail');
      await open('mail');
      out.mailRows = await page.evaluate(() => [...document.querySelectorAll('#mail-list tbody tr.clickable')]
        .map((tr) => tr.cells[3].textContent));
      if (out.mailRows.length) {
        await page.click('#mail-list tbody tr.clickable');
        await page.waitForSelector('#mail-view pre.body');
        out.mailBody = await page.textContent('#mail-view pre.body');
      }
      await shot('10-captured-mail');
    }

  }

  // Logging out ends the session: the admin data is refused afterwards.
  await page.click('#logout');
  await page.waitForSelector('#login-form', { state: 'visible' });
  out.adminAfterLogout = await page.evaluate(async () => (await fetch('/admin/queues')).status);
  if (plan.admin) {
    await login(plan.admin.user, plan.admin.password);
    await page.waitForFunction((u) => document.getElementById('user').textContent === u &&
      !document.getElementById('app').hidden, plan.admin.user);
    out.adminUser = await page.textContent('#user');
  }
} catch (e) {
  out.error = String(e && e.stack || e);
  await shot('99-failure').catch(() => {});
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out) + '\n');
