// Issue 12's whole story in a real browser: Debian's Chromium driven by playwright-core
// against the real `kmn up` (SQLite), every step through the portal but the card's
// personalization, which runs `kmn card personalize` on a SoftHSM token (as a station
// at the center does). Started by crates/kmn-cli/tests/it/portal_story.rs, which
// passes everything in the environment:
//
//   KMN_PORTAL_URL                 https://127.0.0.1:<port>
//   KMN_OPERATOR_CERT/KEY          the support center's operator (enters, returns, ships)
//   KMN_SUPERVISOR_CERT/KEY        a second person of the center (approves)
//   KMN_DESK_CERT/KEY              the facility's desk (窓口)
//   KMN_FACILITY                   the facility's code
//   KMN_HOLDER, KMN_HOLDER_NAME    the holder (id, name in kanji as typed at handover)
//   KMN_PAPER_SCAN, KMN_CORRECTED_SCAN  the scanned paper form, and its corrected copy
//   KMN_BIN, KMN_SOFTHSM_MODULE    the kmn binary and SoftHSM's PKCS#11 module (with
//                                  KMN_DATA_DIR, SOFTHSM2_CONF… for the binary)
//   KMN_STORY_OUT                  a JSON file for the harness: the ids of the story
//   KMN_ARTIFACTS                  where the numbered screenshots go
//
// Exit status 0 when every check passed; each failure is printed.
'use strict';

const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const { env, URL_, ARTIFACTS, check, context, shot, axe, cspOk, launch, finish } = require('./lib');

let n = 0;
// A numbered full-page screenshot of a step (01-…png, 02-…png, …).
async function step(page, name) {
  n += 1;
  await shot(page, `${String(n).padStart(2, '0')}-${name}`);
}

// Clicks a submit button (or a link) and waits for the page it leads to; returns the
// response. On a page that shows its PDFs, Chromium's viewer loads into the frames after
// the page's own load; once it has, headless Chromium may route the mouse to the
// viewer's frame instead of the page: there the button is pressed with the keyboard,
// as a keyboard user does, after the viewer has settled.
async function submit(page, selector) {
  const pdf = (await page.locator('iframe.pdf').count()) > 0;
  if (pdf) await page.waitForLoadState('networkidle');
  try {
    const [resp] = await Promise.all([
      page.waitForNavigation({ waitUntil: 'domcontentloaded' }),
      pdf ? page.locator(selector).press('Enter') : page.click(selector),
    ]);
    return resp;
  } catch (e) {
    // Where it stopped, for the log (and a screenshot of the page as it was).
    console.log(`FAIL ${selector} on ${page.url()} led nowhere: ${e.message.split('\n')[0]}`);
    await shot(page, 'failed-step');
    throw e;
  }
}

// Ticks a checkbox with the keyboard (see `submit`).
async function tick(page, selector) {
  await page.locator(selector).press('Space');
  check(await page.locator(selector).isChecked(), `${selector} is ticked`);
}

async function text(page, selector) {
  return (await page.locator(selector).innerText()).trim();
}

(async () => {
  const browser = await launch();
  const story = {};
  try {
    const FACILITY = env('KMN_FACILITY');
    const HOLDER = env('KMN_HOLDER');

    // --- a. The center enters the paper application received by post, with its scan.
    const op = await context(browser, 'OPERATOR');
    const opPage = await op.newPage();
    let resp = await opPage.goto(`${URL_}/portal/applications/new`);
    check(resp.status() === 200, `operator opens the new-application form (${resp.status()})`);
    cspOk(resp, 'the new-application form');
    await opPage.selectOption('#facility', FACILITY);
    resp = await submit(opPage, 'form[method=get] button[type=submit]');
    check(resp.status() === 200 && opPage.url().includes(`facility=${FACILITY}`), 'the facility chosen, its holders are listed');
    await step(opPage, 'operator-new-application');
    await axe(opPage, 'the new-application form');
    // Sent without choosing the holder first: the error beside the field, nothing drafted.
    await opPage.setInputFiles('#document', env('KMN_PAPER_SCAN'));
    resp = await submit(opPage, 'form[enctype] button[type=submit]');
    check(resp.status() === 400, `a paper application without its holder is refused (${resp.status()})`);
    check((await opPage.locator('#holder_id-error').count()) === 1, 'the error is shown beside the holder field');
    await step(opPage, 'operator-new-application-error');
    await axe(opPage, 'the new-application form showing its error');
    await opPage.selectOption('#holder_id', HOLDER);
    await opPage.setInputFiles('#document', {
      name: '利用申請書.pdf',
      mimeType: 'application/pdf',
      buffer: fs.readFileSync(env('KMN_PAPER_SCAN')),
    });
    resp = await submit(opPage, 'form[enctype] button[type=submit]');
    const m = /\/portal\/applications\/(A\w+)$/.exec(opPage.url());
    check(resp.status() === 200 && m !== null, `the paper application is drafted (${resp.status()} ${opPage.url()})`);
    const APP = m ? m[1] : 'A?';
    story.application = APP;
    check((await opPage.locator('iframe.pdf').count()) === 1, 'its scan is shown in the application page');
    check((await text(opPage, '#application-state')) === '下書き', 'the application is a draft');
    // Filed on the facility's behalf.
    resp = await submit(opPage, `form[action="/portal/applications/${APP}/submit"] button`);
    check(resp.status() === 200 && (await text(opPage, '#application-state')) === '申請中', 'the center files it (申請中)');
    await step(opPage, 'operator-paper-application-filed');
    await axe(opPage, 'the application page with its scan and the review forms');

    // --- b. Reviewed: returned with a deficiency of the checklist and a free-text one.
    // A free-text deficiency half written first: the form says what is missing.
    await tick(opPage, '#check-3');
    await opPage.fill('#field', '申請書の記載');
    resp = await submit(opPage, `form[action="/portal/applications/${APP}/return"] button`);
    check(resp.status() === 400, `a half-written deficiency is refused (${resp.status()})`);
    check((await opPage.locator('.alert').innerText()).includes('自由記入の不備'), 'the error names the free-text deficiency');
    check((await text(opPage, '#application-state')) === '申請中', 'nothing was returned');
    check((await opPage.locator('#return-error').count()) === 1, 'the error is also shown in the return form');
    check(
      (await opPage.locator('#check-3').isChecked()) && (await opPage.inputValue('#field')) === '申請書の記載',
      'what was ticked and typed is kept',
    );
    await step(opPage, 'operator-return-error');
    await axe(opPage, 'the review form showing its error');
    await opPage.fill('#field', '連絡先');
    await opPage.fill('#problem', '申請書に施設の電話番号が記入されていません');
    await opPage.fill('#action', '施設の代表電話番号を記入してください');
    resp = await submit(opPage, `form[action="/portal/applications/${APP}/return"] button`);
    check(resp.status() === 200 && (await text(opPage, '#application-state')) === '差戻し', 'the application is returned (差戻し)');
    check((await opPage.getByText('免許証の写しを添付してください').count()) >= 1, 'the checklist deficiency is listed with its action');
    await step(opPage, 'operator-returned-with-deficiencies');

    // --- c. The desk sees the notice, corrects the application and resubmits.
    const desk = await context(browser, 'DESK');
    const dp = await desk.newPage();
    resp = await dp.goto(`${URL_}/portal/notices`);
    check(resp.status() === 200, `the desk opens its notices (${resp.status()})`);
    const notice = dp.locator('section.box', { hasText: APP }).first();
    check((await notice.count()) === 1, `a notice names application ${APP}`);
    const noticeText = (await notice.innerText()) || '';
    check(
      noticeText.includes('医療資格を確認できる書類の写しが添付されていません') && noticeText.includes('施設の電話番号が記入されていません'),
      'the notice lists both deficiencies (第6条2)',
    );
    await step(dp, 'desk-notice-of-deficiencies');
    await axe(dp, 'the notices page');
    resp = await submit(dp, `a[href="/portal/applications/${APP}"]`);
    check(resp.status() === 200 && (await text(dp, '#application-state')) === '差戻し', 'the notice leads to the returned application');
    // A photo instead of the PDF first: refused beside the form, nothing attached.
    await dp.setInputFiles('#document', { name: '免許証.jpg', mimeType: 'image/jpeg', buffer: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 74, 70, 73, 70]) });
    resp = await submit(dp, `form[action="/portal/applications/${APP}/documents"] button`);
    check(resp.status() === 422 || resp.status() === 400, `a photo is refused (${resp.status()})`);
    check((await dp.locator('.alert').innerText()).includes('PDF'), 'the refusal asks for a PDF');
    check((await dp.locator('iframe.pdf').count()) === 1, 'nothing was attached');
    await step(dp, 'desk-upload-error');
    await axe(dp, 'the application page showing the upload error');
    await dp.setInputFiles('#document', {
      name: '利用申請書（訂正）.pdf',
      mimeType: 'application/pdf',
      buffer: fs.readFileSync(env('KMN_CORRECTED_SCAN')),
    });
    resp = await submit(dp, `form[action="/portal/applications/${APP}/documents"] button`);
    check(resp.status() === 200 && (await dp.locator('iframe.pdf').count()) === 2, 'the corrected form is attached beside the first');
    resp = await submit(dp, `form[action="/portal/applications/${APP}/submit"] button`);
    check(resp.status() === 200 && (await text(dp, '#application-state')) === '再申請', 'the desk resubmits (再申請)');
    await step(dp, 'desk-resubmitted');
    await axe(dp, 'the resubmitted application');

    // --- d. Approval by a second person of the center (第6条1: whoever entered and
    // filed it may not approve it).
    resp = await opPage.goto(`${URL_}/portal/applications/${APP}`);
    resp = await submit(opPage, `form[action="/portal/applications/${APP}/approve"] button`);
    check(resp.status() === 403, `the operator who entered it cannot approve it (${resp.status()})`);
    check((await opPage.getByText('職務の分離').count()) >= 1, 'the refusal names the separation of duties');
    await step(opPage, 'operator-self-approval-refused');
    await axe(opPage, 'the refusal page');
    const sup = await context(browser, 'SUPERVISOR');
    const sp = await sup.newPage();
    resp = await sp.goto(`${URL_}/portal/applications?state=submitted`);
    check(resp.status() === 200 && (await sp.locator(`a[href="/portal/applications/${APP}"]`).count()) === 1, 'the supervisor finds it among those awaiting review');
    await axe(sp, 'the applications awaiting review');
    resp = await submit(sp, `a[href="/portal/applications/${APP}"]`);
    resp = await submit(sp, `form[action="/portal/applications/${APP}/approve"] button`);
    check(resp.status() === 200 && (await text(sp, '#application-state')) === '承認済み', 'the supervisor approves (承認済み)');
    await step(sp, 'supervisor-approved');

    // --- e. Personalization on SoftHSM through the CLI (the station at the center); the
    // holder's emergency code is read from the PIN mailer as the holder reads it.
    const t0 = Date.now();
    const out = spawnSync(
      env('KMN_BIN'),
      ['card', 'personalize', '--module', env('KMN_SOFTHSM_MODULE'), '--application', APP, '--json'],
      { encoding: 'utf8', env: process.env },
    );
    check(out.status === 0, `kmn card personalize (${out.status}): ${out.stderr}`);
    const p = JSON.parse(out.stdout || '{}');
    const CARD = p.card ? p.card.id : 'C?';
    const TOKEN = p.token_serial || '';
    story.card = CARD;
    story.token_serial = TOKEN;
    console.log(`  personalized ${CARD} on token ${TOKEN} in ${Date.now() - t0} ms`);
    const mailer = spawnSync('pdftotext', ['-layout', p.pin_mailer || '/nonexistent', '-'], { encoding: 'utf8' });
    check(mailer.status === 0, 'the PIN mailer reads as text');
    const code = /\b(\d{4}-\d{4}-\d{4})\b/.exec(mailer.stdout || '');
    check(code !== null && (mailer.stdout || '').includes(CARD), 'the mailer shows the card number and the grouped emergency code');
    const CODE = code ? code[1] : '';

    // --- f. The center ships the card.
    resp = await opPage.goto(`${URL_}/portal/applications/${APP}`);
    check((await opPage.locator(`a[href="/portal/cards/${CARD}"]`).count()) === 1, 'the fulfilled application links its card');
    resp = await submit(opPage, `a[href="/portal/cards/${CARD}"]`);
    check((await text(opPage, '#card-state')) === '発行済み', 'the card is personalized (発行済み)');
    await opPage.fill('#tracking_number', '1234-5678-9012');
    resp = await submit(opPage, `form[action="/portal/cards/${CARD}/ship"] button`);
    check(resp.status() === 200 && (await text(opPage, '#card-state')) === '発送済み', 'the center records the shipping (発送済み)');
    await step(opPage, 'operator-shipped');
    await axe(opPage, 'the card page after shipping');

    // --- g. The desk confirms receipt, typing the token's serial in upper case with hyphens.
    const typed = TOKEN.toUpperCase().match(/.{1,4}/g).join('-');
    check(typed !== TOKEN, `the serial is typed differently from the stored one (${typed} vs ${TOKEN})`);
    resp = await dp.goto(`${URL_}/portal/receipt`);
    await dp.fill('#token_serial', typed);
    resp = await submit(dp, 'form[action="/portal/receipt"] button');
    check(resp.status() === 200 && (await dp.getByText('受領を確認しました').count()) === 1, `receipt confirmed with ${typed}`);
    await step(dp, 'desk-receipt-confirmed');
    await axe(dp, 'the receipt page');

    // The receipt released the PIN mailer: the center sends it to the holder (第8条).
    resp = await opPage.goto(`${URL_}/portal/pin-mailers`);
    check(resp.status() === 200 && (await opPage.locator('tr', { hasText: CARD }).count()) === 1, 'the PIN mailer of the card is ready to send');
    await axe(opPage, 'the PIN mailers ready to send');
    resp = await submit(opPage, `tr:has-text("${CARD}") form button`);
    check(resp.status() === 200 && (await opPage.getByText('の発送を記録しました').count()) === 1, 'the center records the PIN mailer sent');
    await step(opPage, 'operator-pin-mailer-sent');

    // --- h. The desk hands the card over to its holder (a wrong name first).
    resp = await submit(dp, `a[href="/portal/cards/${CARD}"]`);
    check((await text(dp, '#card-state')) === '受領済み', 'the card is received (受領済み)');
    await dp.fill('#handed_to', '別人 太郎');
    resp = await submit(dp, `form[action="/portal/cards/${CARD}/handover"] button`);
    check(resp.status() === 422, `a handover to someone else is refused (${resp.status()})`);
    check((await dp.locator('#handed_to-error').count()) === 1, 'the refusal is shown beside the name field');
    check((await dp.inputValue('#handed_to')) === '別人 太郎', 'what was typed is kept');
    await step(dp, 'desk-handover-error');
    await axe(dp, 'the card page showing the handover error');
    await dp.fill('#handed_to', env('KMN_HOLDER_NAME'));
    resp = await submit(dp, `form[action="/portal/cards/${CARD}/handover"] button`);
    check(resp.status() === 200 && (await text(dp, '#card-state')) === '交付済み', 'the handover is recorded (交付済み)');
    await step(dp, 'desk-handed-over');

    // --- i. The holder, on a phone, without any certificate: from the public repository
    // page to the emergency form, and the card revoked with the code from the mailer.
    const phone = await browser.newContext({
      ignoreHTTPSErrors: true,
      locale: 'ja-JP',
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 3,
      isMobile: true,
      hasTouch: true,
    });
    const hp = await phone.newPage();
    resp = await hp.goto(`${URL_}/public/repository`);
    check(resp.status() === 200, 'the holder opens the public repository page');
    await step(hp, 'holder-phone-repository');
    await axe(hp, 'the repository page on a phone');
    const link = await hp.locator('a', { hasText: '緊急失効の受付ページを開く' }).getAttribute('href');
    check(/^https:\/\/127\.0\.0\.1:[1-9]\d*\/emergency$/.test(link || ''), `the link names the form's bound port (${link})`);
    resp = await submit(hp, 'a:has-text("緊急失効の受付ページを開く")');
    check(resp !== null && resp.status() === 200 && (await hp.getByText('利用者カードの緊急失効').count()) >= 1, `the link opens the emergency form (${hp.url()})`);
    const width = await hp.evaluate(() => document.documentElement.scrollWidth);
    check(width <= 390, `the form fits the phone's width (${width}px)`);
    await step(hp, 'holder-phone-emergency-form');
    await axe(hp, 'the emergency form on a phone');
    // A mistyped code first: refused, the card untouched.
    await hp.fill('#card_number', CARD.toLowerCase());
    await hp.fill('#code', '0000-0000-0000');
    resp = await submit(hp, 'form button[type=submit]');
    check(resp.status() === 422 && (await hp.getByText('正しくありません').count()) >= 1, `a wrong code is refused (${resp.status()})`);
    await step(hp, 'holder-phone-wrong-code');
    await axe(hp, 'the refusal on a phone');
    await hp.goto(new URL('/emergency', hp.url()).toString());
    await hp.fill('#card_number', CARD.toLowerCase());
    await hp.fill('#code', CODE);
    await hp.selectOption('#reason', 'lost');
    resp = await submit(hp, 'form button[type=submit]');
    check(resp.status() === 200 && (await hp.getByText('失効を受け付けました').count()) >= 1, `the holder revokes the card (${resp.status()})`);
    check((await hp.getByText(CARD).count()) >= 1, 'the answer names the card');
    await step(hp, 'holder-phone-revoked');
    await axe(hp, 'the answer on a phone');

    // --- j. The revocation and its evidence, at the desk and at the center. The CRL
    // (within a second) and the OCSP response follow; the page is reloaded until the
    // first CRL listing the revocation is on record.
    async function evidencePage(page, who) {
      let ok = false;
      for (let i = 0; i < 60 && !ok; i += 1) {
        resp = await page.goto(`${URL_}/portal/cards/${CARD}`);
        ok = (await page.locator('#evidence-crl').count()) === 1 && (await page.locator('#evidence-ocsp').count()) === 1;
        if (!ok) await page.waitForTimeout(250);
      }
      check(resp.status() === 200 && ok, `${who}: the card page shows the first CRL and OCSP response listing the revocation`);
      check((await text(page, '#card-state')) === '紛失', `${who}: the card is lost (紛失)`);
      check((await text(page, '#cert-status')) === '失効', `${who}: its certificate is revoked (失効)`);
      check((await page.locator('.timeline li', { hasText: '緊急失効' }).count()) >= 1, `${who}: the timeline shows the emergency revocation`);
      const ev = await text(page, '#evidence');
      check(ev.includes('緊急失効（紛失）') && ev.includes('利用者本人') && ev.includes('第11条'), `${who}: the evidence names the grounds, the channel and the article: ${ev.slice(0, 200)}`);
      const letter = await page.request.get(`${URL_}${await page.locator('#evidence a.letter').getAttribute('href')}`);
      check(letter.status() === 200 && letter.headers()['content-type'] === 'application/pdf', `${who}: the letter to the facility (${letter.status()})`);
      const receipt = await page.request.get(`${URL_}${await page.locator('#evidence a.receipt').getAttribute('href')}`);
      check(
        receipt.status() === 200 && receipt.headers()['content-type'].startsWith('application/pkcs7-mime'),
        `${who}: the signed revocation receipt (${receipt.status()})`,
      );
      return receipt.body();
    }
    await evidencePage(dp, 'desk');
    await step(dp, 'desk-card-revoked-with-evidence');
    await axe(dp, 'the revoked card page with its evidence');
    resp = await dp.goto(`${URL_}/portal/notices`);
    const revNotice = dp.locator('section.box', { hasText: CARD }).first();
    check((await revNotice.count()) === 1, 'the desk has a notice of the revocation');
    await step(dp, 'desk-notices-after-revocation');
    const receipt = await evidencePage(opPage, 'center');
    fs.writeFileSync(path.join(path.dirname(env('KMN_STORY_OUT')), 'revocation-receipt.p7m'), await receipt);
    check((await opPage.locator('#evidence').innerText()).includes(`利用者本人（${HOLDER}）`), 'the center sees who asked (the holder)');
    await step(opPage, 'center-card-revoked-with-evidence');
    await axe(opPage, "the center's revoked card page");
  } finally {
    fs.writeFileSync(env('KMN_STORY_OUT'), JSON.stringify(story));
    await browser.close();
  }
  console.log(`  ${n} screenshots in ${ARTIFACTS}`);
  finish();
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
