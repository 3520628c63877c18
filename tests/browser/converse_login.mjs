// Drives Converse.js in Debian's headless chromium (puppeteer-core) for the browser
// acceptance test (tests/integration/test_browser_converse.py): log in over WebSocket,
// join a room, send one message, wait until another one shows up, take a screenshot.
//
// Progress goes to stdout, one line per step, so the test can act in between:
//   PID <n>            the chromium process (the test kills it by PID if we die)
//   JOINED             the room's message box is there: the MUC join completed
//   SENT <text>        typed into the room and sent with Enter
//   ECHO               our own message came back from the room (XEP-0045 7.4 reflection)
//   SEEN <text>        the awaited message is in the room's history
//   SCREENSHOT <path>  PNG of the page
//   DONE
// Chromium's console and blocked requests go to stderr. Exit 0 on success, 1 on failure
// (a screenshot is still attempted), 2 when the overall deadline passed, 3 on SIGTERM
// (after a screenshot).
//
// Usage: node converse_login.mjs --page URL --websocket-url wss://... --jid J --password P
//          --room ROOM --nick N --send TEXT --expect TEXT --screenshot FILE
//          [--spki BASE64] [--profile DIR] [--chromium /usr/bin/chromium] [--timeout SECONDS]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import puppeteer from 'puppeteer-core';

const { values: opt } = parseArgs({
  options: {
    page: { type: 'string' },
    'websocket-url': { type: 'string' },
    jid: { type: 'string' },
    password: { type: 'string' },
    room: { type: 'string' },
    nick: { type: 'string' },
    send: { type: 'string' },
    expect: { type: 'string' },
    screenshot: { type: 'string' },
    spki: { type: 'string' },
    profile: { type: 'string' },
    chromium: { type: 'string', default: process.env.CHROMIUM || '/usr/bin/chromium' },
    timeout: { type: 'string', default: '40' },
  },
});
for (const key of ['page', 'websocket-url', 'jid', 'password', 'room', 'nick', 'send', 'expect', 'screenshot']) {
  if (!opt[key]) {
    console.error(`converse_login: --${key} is required`);
    process.exit(1);
  }
}

const deadline_ms = Number(opt.timeout) * 1000;
const step_ms = Math.max(1000, deadline_ms - 5000);
const say = (line) => process.stdout.write(line + '\n');
const log = (line) => process.stderr.write(line + '\n');

// The only origins the page may reach: the static server it came from (loopback) and the
// WebSocket (not seen by request interception, pinned by the SPKI flag below).
const allowed = (url) => /^(data:|blob:|about:|https?:\/\/(127\.0\.0\.1|\[::1\]|localhost)(:\d+)?\/)/.test(url);

const args = [
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-domain-reliability',
  '--disable-client-side-phishing-detection',
  '--disable-crash-reporter',
  '--disable-breakpad',
  '--metrics-recording-only',
  '--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,CertificateTransparencyComponentUpdater',
  // Nothing but loopback resolves, so no stray lookup or fetch leaves the machine.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
  '--window-size=1280,800',
];
if (opt.spki) {
  // Trust exactly parleyd's self-signed certificate (its SubjectPublicKeyInfo hash), not
  // every certificate as --ignore-certificate-errors would. Chromium honours this flag
  // only with an explicit --user-data-dir, which puppeteer always passes.
  args.push(`--ignore-certificate-errors-spki-list=${opt.spki}`);
}
if (process.getuid && process.getuid() === 0) {
  // Chromium refuses to run as root with its sandbox (CI runs as root).
  args.push('--no-sandbox');
}

// Chromium's profile: the caller's directory (it removes it, even after a SIGKILL), else ours.
const own_profile = !opt.profile;
const profile = opt.profile || fs.mkdtempSync(path.join(os.tmpdir(), 'parley-chromium-'));
const remove_profile = () => {
  if (own_profile) fs.rmSync(profile, { recursive: true, force: true, maxRetries: 5 });
};
let browser = null;

async function shoot(page, file) {
  await page.screenshot({ path: file, fullPage: false });
  say(`SCREENSHOT ${file}`);
}

const overall = setTimeout(() => {
  log(`converse_login: overall deadline of ${opt.timeout} s passed`);
  try {
    browser?.process()?.kill('SIGKILL');
  } catch {}
  process.exit(2);
}, deadline_ms);

let page = null;
let code = 0;
let ending = false; // the SIGTERM handler owns the browser from then on

// The test sends SIGTERM when it gives up on a step: leave a screenshot of the page as it
// is then (that is what a CI failure needs), close chromium, exit 3.
process.on('SIGTERM', async () => {
  if (ending) return;
  ending = true;
  log('converse_login: SIGTERM');
  try {
    if (page) await shoot(page, opt.screenshot);
    await browser?.close();
  } catch (e) {
    log(`converse_login: no screenshot: ${e}`);
  }
  remove_profile();
  say('FAILED');
  process.exit(3);
});
try {
  browser = await puppeteer.launch({
    executablePath: opt.chromium,
    headless: true,
    userDataDir: profile,
    args,
    defaultViewport: { width: 1280, height: 800 },
    timeout: step_ms,
    protocolTimeout: step_ms,
    // Our SIGTERM handler screenshots first; puppeteer's own would close chromium at once.
    handleSIGTERM: false,
  });
  say(`PID ${browser.process().pid}`);
  log(`converse_login: ${await browser.version()}`);

  page = await browser.newPage();
  page.setDefaultTimeout(step_ms);
  page.on('console', (m) => log(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log(`pageerror: ${e.message}`));
  await page.setRequestInterception(true);
  page.on('request', (req) => {
    if (allowed(req.url())) return req.continue();
    log(`BLOCKED ${req.url()}`);
    return req.abort('blockedbyclient');
  });
  await page.evaluateOnNewDocument((cfg) => {
    window.PARLEY_CONVERSE = cfg;
  }, {
    websocket_url: opt['websocket-url'],
    jid: opt.jid,
    password: opt.password,
    room: opt.room,
    nick: opt.nick,
    loglevel: process.env.CONVERSE_LOGLEVEL || 'info',
  });

  await page.goto(opt.page, { waitUntil: 'load' });

  // The message box of the room is rendered once Converse has entered the room
  // (XEP-0045 7.2: our own presence with status 110 came back).
  const textarea = `converse-muc[jid="${opt.room}"] textarea.chat-textarea`;
  await page.waitForSelector(textarea, { visible: true });
  say('JOINED');

  await page.type(textarea, opt.send);
  await page.keyboard.press('Enter');
  say(`SENT ${opt.send}`);

  const has_message = (text) => [...document.querySelectorAll('.chat-msg__text')].some((el) => el.textContent.includes(text));
  await page.waitForFunction(has_message, {}, opt.send);
  say('ECHO');
  await page.waitForFunction(has_message, {}, opt.expect);
  say(`SEEN ${opt.expect}`);

  await shoot(page, opt.screenshot);
} catch (err) {
  code = 1;
  if (!ending) log(`converse_login: ${err.stack || err}`);
  if (page && !ending) {
    try {
      await shoot(page, opt.screenshot);
    } catch (e) {
      log(`converse_login: no screenshot: ${e}`);
    }
  }
} finally {
  if (!ending) {
    try {
      await browser?.close();
    } catch {}
    remove_profile();
    clearTimeout(overall);
  }
}
if (ending) await new Promise(() => {}); // the SIGTERM handler exits
say(code === 0 ? 'DONE' : 'FAILED');
process.exit(code);
