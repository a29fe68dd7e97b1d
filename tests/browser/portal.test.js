// Browser tests of the kmn portal (issue 12): Debian's Chromium driven by playwright-core,
// logged in with client certificates (Playwright's `clientCertificates`), against the real
// `kmn up`. Started by crates/kmn-cli/tests/it/portal.rs (`cargo test … portal`), which
// prepares the data and passes everything in the environment:
//
//   KMN_PORTAL_URL            https://127.0.0.1:<port>
//   KMN_DESK_CERT/KEY         the demo facility's desk (PEM)
//   KMN_DESK_B_CERT/KEY       a desk of another facility (PEM)
//   KMN_OPERATOR_CERT/KEY     a support-center operator (PEM)
//   KMN_SUPERVISOR_CERT/KEY, KMN_AUDITOR_CERT/KEY  the demo supervisor and auditor
//   KMN_FACILITY_A            the demo facility's code
//   KMN_PROPOSAL              a pending revocation proposal (第12条)
//   KMN_DOCTOR_PEM            a physician's HPKI authentication certificate (第4条)
//   KMN_CARD_A                a shipped card of the demo facility
//   KMN_CARD_SERIAL_TYPED     its serial as a person types it (upper case, hyphens)
//   KMN_CARD_B, KMN_FACILITY_B  a card and the code of the other facility
//   KMN_ARTIFACTS             where screenshots go
//   KMN_CHROMIUM              the browser (default /usr/bin/chromium)
//
// Exit status 0 when every check passed; each failure is printed.
'use strict';

const fs = require('fs');

const { env, URL_, check, context, shot, axe, cspOk, launch, finish } = require('./lib');

async function queueCounts(page) {
  const rows = await page.locator('table tbody tr').all();
  const out = {};
  for (const r of rows) {
    const label = (await r.locator('td').nth(0).innerText()).trim();
    out[label] = Number((await r.locator('td').nth(1).innerText()).trim());
  }
  return out;
}

(async () => {
  const browser = await launch();
  try {
    // --- The operator sees the work queues with counts.
    const op = await context(browser, 'OPERATOR');
    const opPage = await op.newPage();
    let resp = await opPage.goto(`${URL_}/portal/queues`);
    check(resp.status() === 200, `operator opens the work queues (${resp.status()})`);
    cspOk(resp, 'the work queues');
    const before = await queueCounts(opPage);
    console.log('  queues before:', JSON.stringify(before));
    check(before['受領確認待ち（発送済み）'] >= 1, 'the shipped card is counted as awaiting receipt');
    check(Object.keys(before).length === 6, 'six work queues on one page');
    await shot(opPage, '01-operator-queues');
    await axe(opPage, 'the work queues');
    resp = await opPage.goto(`${URL_}/portal/dashboard`);
    check(resp.status() === 200, 'operator opens the dashboard');
    check((await opPage.locator('svg[role=img]').count()) >= 1, 'the dashboard draws SVG charts');
    await shot(opPage, '02-operator-dashboard');
    await axe(opPage, 'the dashboard');

    // The facility registry (consents by version) and the accounts with their certificates.
    resp = await opPage.goto(`${URL_}/portal/facilities`);
    check(resp.status() === 200, `operator opens the facility registry (${resp.status()})`);
    check(await opPage.getByText(env('KMN_FACILITY_B')).count() >= 1, 'the registry lists facility B');
    await shot(opPage, '02a-operator-facilities');
    await axe(opPage, 'the facility registry');
    resp = await opPage.goto(`${URL_}/portal/accounts`);
    check(resp.status() === 200, `operator opens the accounts and their certificates (${resp.status()})`);
    await axe(opPage, 'the accounts page');
    await opPage.locator('table tbody a').first().click();
    check(/\/portal\/accounts\/[^/]+$/.test(opPage.url()), `an account's page opens (${opPage.url()})`);
    await axe(opPage, "an account's page with its disable form");

    // --- The center enters a paper application received by post, with its scan attached;
    // the scan is shown in the application page.
    resp = await opPage.goto(`${URL_}/portal/applications/new?facility=${env('KMN_FACILITY_B')}`);
    check(resp.status() === 200, `operator opens the new-application form (${resp.status()})`);
    await axe(opPage, 'the new-application form with its file input');
    await opPage.selectOption('#holder_id', env('KMN_PAPER_HOLDER'));
    await opPage.setInputFiles('#document', {
      name: '申請書.pdf',
      mimeType: 'application/pdf',
      buffer: fs.readFileSync(env('KMN_PAPER_SCAN')),
    });
    let [paper] = await Promise.all([opPage.waitForNavigation(), opPage.click('form[enctype] button[type=submit]')]);
    check(/\/portal\/applications\/A\d+$/.test(opPage.url()), `the paper application is drafted (${opPage.url()})`);
    if (paper.status() !== 200) console.log(await opPage.locator('main').innerText());
    check(paper.status() === 200, `the application page opens (${paper.status()})`);
    const frame = opPage.locator('iframe.pdf');
    check((await frame.count()) === 1, 'the scan is framed in the application page');
    const src = await frame.getAttribute('src');
    const pdf = await opPage.request.get(`${URL_}${src}`);
    check(pdf.status() === 200 && pdf.headers()['content-type'] === 'application/pdf', `the framed scan is served as application/pdf (${pdf.status()})`);
    await shot(opPage, '02b-operator-paper-application');
    await axe(opPage, 'the application page with its scan');

    // --- The desk confirms receipt by typing the serial in upper case with hyphens.
    const desk = await context(browser, 'DESK');
    const page = await desk.newPage();
    resp = await page.goto(`${URL_}/`);
    check(resp.status() === 200, `desk opens the home page (${resp.status()})`);
    cspOk(resp, 'the home page');
    await shot(page, '03-desk-home');
    await axe(page, 'the desk home page');
    resp = await page.goto(`${URL_}/portal/doctors`);
    check(resp.status() === 200, `desk opens the doctor registry (${resp.status()})`);
    await axe(page, 'the doctor registry with its upload form');
    resp = await page.goto(`${URL_}/portal/cards`);
    check(resp.status() === 200, 'desk opens its cards');
    check(await page.getByText(env('KMN_CARD_A')).count() >= 1, 'the desk sees its shipped card');
    await axe(page, 'the cards list');

    // A wrong number first: the error is shown beside the field (and axe on the form with its error).
    await page.goto(`${URL_}/portal/receipt`);
    await page.fill('#token_serial', 'FFFF-0000-FFFF-0000');
    await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    check(await page.locator('#token_serial-error').count() === 1, 'a wrong serial is answered beside the field');
    await shot(page, '04-desk-receipt-error');
    await axe(page, 'the receipt form with its error');

    await page.fill('#token_serial', env('KMN_CARD_SERIAL_TYPED'));
    const [nav] = await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    check(nav.status() === 200, `receipt posted (${nav.status()})`);
    check(await page.getByText('受領を確認しました').count() === 1, 'receipt confirmed with an upper-case, hyphenated serial');
    await shot(page, '05-desk-receipt-done');
    await page.goto(`${URL_}/portal/cards/${env('KMN_CARD_A')}`);
    check((await page.locator('#card-state').innerText()).trim() === '受領済み', 'the card is received');
    await shot(page, '06-desk-card');
    await axe(page, 'the card page');

    // The operator's queues moved: one fewer receipt pending, one more PIN mailer to send.
    await opPage.goto(`${URL_}/portal/queues`);
    const after = await queueCounts(opPage);
    console.log('  queues after:', JSON.stringify(after));
    check(after['受領確認待ち（発送済み）'] === before['受領確認待ち（発送済み）'] - 1, 'receipts pending went down by one');
    check(after['発送可能なPIN通知書'] === before['発送可能なPIN通知書'] + 1, 'PIN mailers to dispatch went up by one');

    // --- Another facility's data: the Japanese 403 page (and 404 for its card).
    resp = await page.goto(`${URL_}/portal/facilities/${env('KMN_FACILITY_B')}`);
    check(resp.status() === 403, `desk of facility A opening facility B gets 403 (${resp.status()})`);
    check(await page.getByText('他の施設の情報は閲覧できません').count() === 1, 'the 403 page says why, in Japanese');
    cspOk(resp, 'the 403 page');
    await shot(page, '07-desk-403');
    await axe(page, 'the 403 page');
    resp = await page.goto(`${URL_}/portal/cards?facility=${env('KMN_FACILITY_B')}`);
    check(resp.status() === 403, `desk of facility A listing facility B's cards gets 403 (${resp.status()})`);
    resp = await page.goto(`${URL_}/portal/cards/${env('KMN_CARD_B')}`);
    check(resp.status() === 404, `desk of facility A opening facility B's card gets 404, like an absent one (${resp.status()})`);
    check(await page.getByText('見つかりません').count() >= 1, 'the 404 page is Japanese');

    // --- A form without its token is refused; so is a forged cross-site post.
    await page.goto(`${URL_}/portal/receipt`);
    await page.locator('input[name=_token]').evaluate((e) => e.remove());
    await page.fill('#token_serial', env('KMN_CARD_SERIAL_TYPED'));
    const [noToken] = await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    check(noToken.status() === 403, `a form without its token is refused (${noToken.status()})`);
    check(await page.getByText('正しくない送信').count() === 1, 'the refusal says why');
    await shot(page, '08-desk-no-token');
    const evil = await desk.newPage();
    await evil.setContent(
      `<form id="f" method="post" action="${URL_}/portal/receipt"><input name="token_serial" value="${env('KMN_CARD_SERIAL_TYPED')}"></form>`,
    );
    const [forged] = await Promise.all([
      evil.waitForNavigation(),
      evil.evaluate(() => document.getElementById('f').submit()),
    ]);
    check(forged.status() === 403, `a forged cross-site post is refused (${forged.status()})`);

    // --- The desk of facility B sees the other side: not the card of A.
    const deskB = await context(browser, 'DESK_B');
    const pb = await deskB.newPage();
    resp = await pb.goto(`${URL_}/portal/cards/${env('KMN_CARD_A')}`);
    check(resp.status() === 404, `desk of facility B opening facility A's card gets 404 (${resp.status()})`);

    // --- axe-core on every remaining page, with data on it, as each role sees it.
    // The desk: its notices, applications, a new application with its errors shown, its
    // facility, its display settings, and a physician's certificate uploaded (第4条).
    for (const [url, name] of [
      ['/portal/notices', "the desk's notices"],
      ['/portal/applications', "the desk's applications"],
      [`/portal/facilities/${env('KMN_FACILITY_A')}`, 'its own facility'],
      ['/portal/settings', 'the display settings'],
    ]) {
      resp = await page.goto(`${URL_}${url}`);
      check(resp.status() === 200, `desk opens ${name} (${resp.status()})`);
      await axe(page, name);
    }
    await page.goto(`${URL_}/portal/applications/new`);
    const [bad] = await Promise.all([
      page.waitForNavigation(),
      page.click('form[method=post][action="/portal/applications/new"] button[type=submit]'),
    ]);
    check([400, 422].includes(bad.status()), `an application without its holder is refused (${bad.status()})`);
    check((await page.locator('#holder_id-error').count()) === 1, 'the error stands beside the holder field');
    await shot(page, '10-desk-application-errors');
    await axe(page, 'the new-application form showing its errors');
    await page.goto(`${URL_}/portal/doctors`);
    await page.setInputFiles('#certificate', env('KMN_DOCTOR_PEM'));
    const [enrolled] = await Promise.all([
      page.waitForNavigation(),
      page.click('form[enctype] button[type=submit]'),
    ]);
    check(enrolled.status() === 200 && /\/portal\/doctors\/[^/]+$/.test(page.url()), `the desk enrols a physician's card (${enrolled.status()} ${page.url()})`);
    await shot(page, '11-desk-doctor');
    await axe(page, "a physician's registration page");

    // The operator: applications, person search by kana, PIN mailers, cards, a card's
    // timeline, the proposals.
    for (const [url, name] of [
      ['/portal/applications', 'the applications to review'],
      ['/portal/pin-mailers', 'the PIN mailers'],
      ['/portal/cards', "the operator's card list"],
      [`/portal/cards/${env('KMN_CARD_A')}`, "a card's timeline as the center sees it"],
      ['/portal/notices', "the center's notices"],
      ['/portal/proposals', 'the proposals'],
      [`/portal/proposals/${env('KMN_PROPOSAL')}`, "a proposal as its proposer's colleague sees it"],
    ]) {
      resp = await opPage.goto(`${URL_}${url}`);
      check(resp.status() === 200, `operator opens ${name} (${resp.status()})`);
      await axe(opPage, name);
    }
    resp = await opPage.goto(`${URL_}/portal/persons?kana=${encodeURIComponent('すいぜんじ')}`);
    check(resp.status() === 200, `operator searches persons by kana (${resp.status()})`);
    const found = await opPage.locator('main').innerText();
    check(found.includes('スイゼンジ'), `the kana search (in hiragana) finds the person: ${found.slice(0, 300)}`);
    check(found.includes('1985年4月1日') && !found.includes('1985-04-01'), 'the date of birth is shown in Japanese style');
    await shot(opPage, '10a-operator-person-search');
    await axe(opPage, 'the person search with its results');
    await opPage.goto(`${URL_}/portal/persons?kana=abc`);
    check((await opPage.locator('#kana-error').count()) === 1, 'a kana search in latin letters is answered beside the field');
    await axe(opPage, 'the person search showing its error');

    // The supervisor decides proposals (the decision form).
    const sup = await context(browser, 'SUPERVISOR');
    const supPage = await sup.newPage();
    resp = await supPage.goto(`${URL_}/portal/proposals/${env('KMN_PROPOSAL')}`);
    check(resp.status() === 200, `the supervisor opens the proposal (${resp.status()})`);
    check(await supPage.getByText('この内容で承認する').count() >= 1, 'the supervisor sees the decision form');
    await shot(supPage, '12-supervisor-proposal');
    await axe(supPage, 'the proposal with its decision form');
    resp = await supPage.goto(`${URL_}/portal/queues`);
    await axe(supPage, "the supervisor's queues");

    // The auditor reads the logs, filters them and exports CSV.
    const aud = await context(browser, 'AUDITOR');
    const audPage = await aud.newPage();
    for (const [url, name] of [
      ['/portal/audit', 'the audit log'],
      ['/portal/audit?action=card.', 'the audit log filtered'],
      ['/portal/access-log', 'the personal-data access log'],
      [`/portal/access-log?facility=${env('KMN_FACILITY_A')}`, 'the access log filtered by facility'],
    ]) {
      resp = await audPage.goto(`${URL_}${url}`);
      check(resp.status() === 200, `the auditor opens ${name} (${resp.status()})`);
      await axe(audPage, name);
    }
    await shot(audPage, '13-auditor-access-log');
    const csv = await audPage.request.get(`${URL_}/portal/audit.csv`);
    check(csv.status() === 200 && /text\/csv/.test(csv.headers()['content-type'] || ''), `the audit log exports as CSV (${csv.status()})`);
    resp = await audPage.goto(`${URL_}/portal/audit?from=2026-13-45`);
    check((await audPage.locator('.field-error').count()) >= 1, 'a wrong date in the filter is answered in words');
    await axe(audPage, 'the audit filter showing its error');

    // --- Public pages without a certificate.
    const anon = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'ja-JP' });
    const pub = await anon.newPage();
    resp = await pub.goto(`${URL_}/public/repository`);
    check(resp.status() === 200, 'the repository index is public');
    check(await pub.getByText('緊急失効の受付ページを開く').count() === 1, 'the repository page links the holders\' emergency form');
    await shot(pub, '09-public-repository');
    await axe(pub, 'the repository page');
    resp = await pub.goto(`${URL_}/portal/cards`);
    check(resp.status() === 401, `without a certificate the portal answers 401 (${resp.status()})`);
    resp = await pub.goto(`${URL_}/`);
    check(resp.status() === 200, `the home page without a certificate welcomes (${resp.status()})`);
    await axe(pub, 'the welcome page');
  } finally {
    await browser.close();
  }
  finish();
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
