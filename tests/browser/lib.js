// What the browser tests share: the environment, checks, client-certificate contexts,
// screenshots, axe-core and the Content-Security-Policy check, Chromium's launch.
'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`missing ${k}`);
  return v;
};
const URL_ = env('KMN_PORTAL_URL');
const ARTIFACTS = env('KMN_ARTIFACTS');
fs.mkdirSync(ARTIFACTS, { recursive: true });
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const failures = [];
function check(cond, what) {
  if (cond) {
    console.log(`ok   ${what}`);
  } else {
    console.log(`FAIL ${what}`);
    failures.push(what);
  }
}

async function context(browser, who) {
  return browser.newContext({
    ignoreHTTPSErrors: true,
    locale: 'ja-JP',
    clientCertificates: [
      { origin: URL_, certPath: env(`KMN_${who}_CERT`), keyPath: env(`KMN_${who}_KEY`) },
    ],
  });
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

// axe-core on the page: no serious or critical violation.
async function axe(page, name) {
  await page.evaluate(AXE);
  const r = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { resultTypes: ['violations'] }),
  );
  const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of bad) {
    console.log(`  axe ${name}: ${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  }
  check(bad.length === 0, `axe-core: no serious or critical violation on ${name}`);
}

function cspOk(resp, name) {
  const csp = resp.headers()['content-security-policy'] || '';
  check(
    csp.includes("frame-ancestors 'none'") && csp.includes("default-src 'none'") && !csp.includes('script-src') && !csp.includes('unsafe-inline'),
    `${name} carries the Content-Security-Policy (no script, frame-ancestors 'none'): ${csp}`,
  );
}


// Debian's Chromium; the machine's network is closed: no background connections.
async function launch() {
  return chromium.launch({
    executablePath: process.env.KMN_CHROMIUM || '/usr/bin/chromium',
    chromiumSandbox: false,
    args: [
      '--no-sandbox',
      '--disable-dev-shm-usage',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

// Prints the failures and sets the exit status.
function finish() {
  if (failures.length) {
    console.log(`\n${failures.length} check(s) failed:\n- ${failures.join('\n- ')}`);
    process.exit(1);
  }
  console.log('\nall browser checks passed');
}

module.exports = { env, URL_, ARTIFACTS, check, context, shot, axe, cspOk, launch, finish, failures };
