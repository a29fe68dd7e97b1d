//! Japanese PDF letters for card holders of the regional medical network.
//!
//! The PIN mailer (「利用者カード 初期PIN（パスワード）のお知らせ」) and the custodian's
//! sheet of the root-key backup (「分散鍵」, [`share_sheet_pdf`]), rendered on A4 with the
//! IPAex Gothic font (Debian `fonts-ipaexfont-gothic`); the share sheet's hex is set in
//! DejaVu Sans Mono (`fonts-dejavu-core`) when it is installed, otherwise in fixed-width
//! cells. The PIN mailer comes from the support center and is laid out for a 長形3号
//! window envelope; an unlock has its own wording ([`MailerKind::CardUnlock`]).
//! printpdf subsets the font, so a letter is a few tens of kilobytes.
//!
//! The initial PIN, the emergency revocation code and a backup share are secrets: they
//! only ever go into the returned PDF bytes. They are never logged, never put in an
//! error message, and the `Debug` output of [`PinMailer`] and [`ShareSheet`] redacts them.

#![forbid(unsafe_code)]

use std::fmt;
use std::path::{Path, PathBuf};

use printpdf::{
    Color, Greyscale, Mm, Op, PaintMode, ParsedFont, PdfDocument, PdfFontHandle, PdfPage,
    PdfParseErrorSeverity, PdfSaveOptions, Point, Pt, Rect, TextItem,
};

/// Debian package that provides the default font.
pub const FONT_PACKAGE: &str = "fonts-ipaexfont-gothic";

/// Where the default font is looked for, in order.
pub const DEFAULT_FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/truetype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
];

/// Errors from letter rendering. Messages are in Japanese and never contain the
/// PIN or the emergency revocation code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LetterError {
    /// The font file is missing, unreadable or not a usable font.
    #[error("フォントを利用できません: {0}")]
    FontMissing(String),
    /// The PDF could not be produced (including text the font cannot display).
    #[error("PDFを作成できません: {0}")]
    Pdf(String),
}

/// What the PIN mailer is for: a holder's card, or a support-center staff member's
/// operator token (issue 9 item 3), which has no emergency code — a lost operator token
/// is reported to the CA's supervisor, who revokes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailerKind {
    /// 利用者カード (a holder of a facility).
    #[default]
    UserCard,
    /// 運用担当者用ICカード (support-center staff: operator, supervisor, auditor).
    OperatorToken,
    /// A holder's card unlocked by the support center after an identity check (第9条):
    /// the letter carries the new PIN and the new emergency revocation code.
    CardUnlock,
}

/// Data printed on a PIN mailer.
#[derive(Clone, PartialEq, Eq)]
pub struct PinMailer {
    /// A holder's card or an operator token.
    pub kind: MailerKind,
    pub holder_name_kanji: String,
    pub holder_id: String,
    pub facility_name_kanji: String,
    pub facility_code: String,
    pub card_id: String,
    /// Secret: printed only in the PDF.
    pub initial_pin: String,
    /// Secret, one-time: printed only in the PDF.
    pub emergency_revocation_code: String,
    pub issued_on: time::Date,
    /// The last day the card's certificate is valid (notAfter, as a JST date), if known.
    pub valid_until: Option<time::Date>,
    pub support_phone: String,
}

impl fmt::Debug for PinMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinMailer")
            .field("kind", &self.kind)
            .field("holder_name_kanji", &self.holder_name_kanji)
            .field("holder_id", &self.holder_id)
            .field("facility_name_kanji", &self.facility_name_kanji)
            .field("facility_code", &self.facility_code)
            .field("card_id", &self.card_id)
            .field("initial_pin", &"<redacted>")
            .field("emergency_revocation_code", &"<redacted>")
            .field("issued_on", &self.issued_on)
            .field("valid_until", &self.valid_until)
            .field("support_phone", &self.support_phone)
            .finish()
    }
}

/// Where the monospaced font for hex (backup share sheets) is looked for, in order
/// (Debian `fonts-dejavu-core`, `fonts-liberation`). Without one, hex is set in
/// fixed-width cells of the Japanese font instead.
pub const DEFAULT_MONO_FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
];

/// A parsed font, loaded once and reused for a whole batch of letters.
#[derive(Clone)]
pub struct Font {
    parsed: ParsedFont,
    path: PathBuf,
    /// A monospaced Latin font for hex, when one is installed.
    mono: Option<Box<ParsedFont>>,
}

impl fmt::Debug for Font {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Font").field("path", &self.path).finish()
    }
}

impl Font {
    /// Loads IPAex Gothic from the Debian location(s) in [`DEFAULT_FONT_PATHS`].
    pub fn load_default() -> Result<Font, LetterError> {
        match DEFAULT_FONT_PATHS
            .iter()
            .map(Path::new)
            .find(|p| p.is_file())
        {
            Some(p) => Font::load(p).map(Font::with_default_mono),
            None => Err(LetterError::FontMissing(format!(
                "IPAexゴシック（{}）が見つかりません。Debian パッケージ {FONT_PACKAGE} をインストールしてください（apt-get install {FONT_PACKAGE}）",
                DEFAULT_FONT_PATHS[0]
            ))),
        }
    }

    /// Loads and parses a TrueType/OpenType font file.
    pub fn load(path: &Path) -> Result<Font, LetterError> {
        let bytes = std::fs::read(path).map_err(|e| {
            LetterError::FontMissing(format!(
                "{} を読み込めません（{e}）。IPAexゴシックは Debian パッケージ {FONT_PACKAGE} にあります",
                path.display()
            ))
        })?;
        let mut warnings = Vec::new();
        let parsed = ParsedFont::from_bytes(&bytes, 0, &mut warnings).ok_or_else(|| {
            LetterError::FontMissing(format!("{} をフォントとして解析できません", path.display()))
        })?;
        let font = Font {
            parsed,
            path: path.to_path_buf(),
            mono: None,
        };
        // A font without Japanese glyphs would silently print blanks.
        font.check_glyphs("フォント", "日本語初期ＰＩＮ0123456789", false)?;
        Ok(font)
    }

    /// Adds the first monospaced font of [`DEFAULT_MONO_FONT_PATHS`] that parses and has
    /// the characters of the share lines; without one the font is returned as it was.
    pub fn with_default_mono(mut self) -> Font {
        self.mono = DEFAULT_MONO_FONT_PATHS.iter().find_map(|p| {
            let bytes = std::fs::read(p).ok()?;
            let parsed = ParsedFont::from_bytes(&bytes, 0, &mut Vec::new())?;
            // Every printable ASCII character (the share lines are ASCII).
            ('!'..='~')
                .all(|c| parsed.lookup_glyph_index(u32::from(c)).is_some())
                .then(|| Box::new(parsed))
        });
        self
    }

    /// Whether hex is set in a monospaced font (otherwise in fixed-width cells).
    pub fn has_mono(&self) -> bool {
        self.mono.is_some()
    }

    /// Font file this font was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn units_per_em(&self) -> f32 {
        match self.parsed.pdf_font_metrics.units_per_em {
            0 => 1000.0,
            u => f32::from(u),
        }
    }

    /// Width of `text` at `size` points.
    fn text_width(&self, text: &str, size: f32) -> f32 {
        let upem = self.units_per_em();
        text.chars()
            .map(|c| {
                self.parsed
                    .lookup_glyph_index(u32::from(c))
                    .map_or(upem, |g| f32::from(self.parsed.get_horizontal_advance(g)))
            })
            .sum::<f32>()
            * size
            / upem
    }

    /// Fails if the font has no glyph for a character of `text`. For secret
    /// fields the offending character is not named.
    fn check_glyphs(&self, field: &str, text: &str, secret: bool) -> Result<(), LetterError> {
        for c in text.chars() {
            if c.is_whitespace() {
                continue;
            }
            if self.parsed.lookup_glyph_index(u32::from(c)).is_none() {
                return Err(LetterError::Pdf(if secret {
                    format!("{field}にフォントで表示できない文字があります")
                } else {
                    format!(
                        "{field}の文字「{c}」(U+{:04X}) はフォントで表示できません",
                        u32::from(c)
                    )
                }));
            }
        }
        Ok(())
    }
}

/// Formats a date the Japanese way: `2026年11月26日`.
pub fn japanese_date(d: time::Date) -> String {
    format!("{}年{}月{}日", d.year(), u8::from(d.month()), d.day())
}

// ---------------------------------------------------------------------------
// Page layout

const PAGE_W: f32 = 595.276; // A4 in pt
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 56.7; // 20 mm
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
const BODY: f32 = 10.5;

/// Characters that must not start a line (kinsoku shori, simplified).
const NO_LINE_START: &str = "、。，．）」』】〕・ー：；？！ぁぃぅぇぉっゃゅょァィゥェォッャュョ";

struct Page<'f> {
    font: &'f Font,
    font_id: printpdf::FontId,
    /// The monospaced font, when the document has one.
    mono_id: Option<printpdf::FontId>,
    ops: Vec<Op>,
    /// Baseline of the next line, from the bottom of the page.
    y: f32,
}

impl<'f> Page<'f> {
    fn text_at(&mut self, x: f32, y: f32, size: f32, text: &str) {
        let id = self.font_id.clone();
        self.text_in(id, x, y, size, text);
    }

    fn text_in(&mut self, font_id: printpdf::FontId, x: f32, y: f32, size: f32, text: &str) {
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFont {
                font: PdfFontHandle::External(font_id),
                size: Pt(size),
            },
            Op::SetTextCursor {
                pos: Point { x: Pt(x), y: Pt(y) },
            },
            Op::ShowText {
                items: vec![TextItem::Text(text.to_owned())],
            },
            Op::EndTextSection,
        ]);
    }

    /// One line at the cursor, then move down by `leading`.
    fn line(&mut self, x: f32, size: f32, leading: f32, text: &str) {
        let y = self.y;
        self.text_at(x, y, size, text);
        self.y -= leading;
    }

    /// A paragraph wrapped to `width`, with a hanging `indent` after the first line.
    fn paragraph(&mut self, x: f32, width: f32, indent: f32, size: f32, text: &str) {
        let lines = wrap(self.font, text, size, width, indent);
        for (i, l) in lines.iter().enumerate() {
            let dx = if i == 0 { 0.0 } else { indent };
            self.line(x + dx, size, size * 1.6, l);
        }
    }

    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, grey: Option<f32>, stroke: f32) {
        if let Some(g) = grey {
            self.ops.push(Op::SetFillColor {
                col: Color::Greyscale(Greyscale::new(g, None)),
            });
            let mut r = Rect::from_xywh(Pt(x), Pt(y), Pt(w), Pt(h));
            r.mode = Some(PaintMode::Fill);
            self.ops.push(Op::DrawRectangle { rectangle: r });
            self.ops.push(Op::SetFillColor {
                col: Color::Greyscale(Greyscale::new(0.0, None)),
            });
        }
        self.ops.push(Op::SetOutlineColor {
            col: Color::Greyscale(Greyscale::new(0.0, None)),
        });
        self.ops.push(Op::SetOutlineThickness { pt: Pt(stroke) });
        let mut r = Rect::from_xywh(Pt(x), Pt(y), Pt(w), Pt(h));
        r.mode = Some(PaintMode::Stroke);
        self.ops.push(Op::DrawRectangle { rectangle: r });
    }

    /// `text` (ASCII: hex and the share lines) in the monospaced font, or, when none is
    /// installed, in fixed-width cells of the Japanese font, one character per cell,
    /// centred, so that hex still lines up column by column (IPAex Gothic's Latin letters
    /// and digits are proportional; `pdftotext` then reads spaces between narrow ones).
    fn mono_at(&mut self, x: f32, y: f32, size: f32, text: &str) {
        if let Some(id) = self.mono_id.clone() {
            self.text_in(id, x, y, size, text);
            return;
        }
        let cell = mono_cell(self.font, size);
        for (i, c) in text.chars().enumerate() {
            if c == ' ' {
                continue;
            }
            let s = c.to_string();
            let w = self.font.text_width(&s, size);
            self.text_at(x + i as f32 * cell + (cell - w) / 2.0, y, size, &s);
        }
    }

    /// A smaller heading, for a letter that has to fit much on its page.
    fn subheading(&mut self, text: &str) {
        self.y -= 3.0;
        self.line(MARGIN, 11.0, 16.0, text);
    }

    fn heading(&mut self, text: &str) {
        self.y -= 6.0;
        self.line(MARGIN, 12.0, 19.0, text);
    }
}

/// Width of one character of [`Page::mono_at`] at `size`: the monospaced font's advance,
/// or the cell (the widest advance of a hex digit in the Japanese font).
fn mono_cell(font: &Font, size: f32) -> f32 {
    if let Some(m) = &font.mono {
        let upem = match m.pdf_font_metrics.units_per_em {
            0 => 1000.0,
            u => f32::from(u),
        };
        return m
            .lookup_glyph_index(u32::from('0'))
            .map_or(upem * 0.6, |g| f32::from(m.get_horizontal_advance(g)))
            * size
            / upem;
    }
    "0123456789abcdef"
        .chars()
        .map(|c| font.text_width(c.encode_utf8(&mut [0; 4]), size))
        .fold(0.0, f32::max)
}

/// Greedy line breaking by glyph advance, with simple kinsoku handling.
fn wrap(font: &Font, text: &str, size: f32, width: f32, indent: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    let mut cur_w = 0.0;
    for c in text.chars() {
        let avail = if lines.is_empty() {
            width
        } else {
            width - indent
        };
        let w = font.text_width(c.encode_utf8(&mut [0; 4]), size);
        let in_word = c.is_ascii_alphanumeric()
            && cur
                .chars()
                .last()
                .is_some_and(|p| p.is_ascii_alphanumeric());
        if cur_w + w > avail && !cur.is_empty() && !NO_LINE_START.contains(c) {
            // Do not split Latin words/numbers ("PIN"): carry the whole run over.
            let keep = if in_word {
                let start = cur
                    .char_indices()
                    .rev()
                    .take_while(|(_, p)| p.is_ascii_alphanumeric())
                    .last()
                    .map_or(0, |(i, _)| i);
                if start == 0 { cur.len() } else { start }
            } else {
                cur.len()
            };
            let carried = cur.split_off(keep);
            lines.push(std::mem::take(&mut cur));
            cur_w = font.text_width(&carried, size);
            cur = carried;
        }
        cur.push(c);
        cur_w += w;
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

/// The sender of every PIN mailer: the support center of the network, run by the
/// association (not the holder's facility, which is the addressee).
pub const SENDER_CENTER: &str = "くまもとメディカルネットワーク　サポートセンター";
/// The association that runs the network and its CA, as it signs letters and sheets.
pub const ASSOCIATION_JA: &str = "熊本県医師会";

/// Groups a code in fours for reading aloud and typing: `706194446066` → `7061-9444-6066`.
/// Hyphens and spaces already in it are dropped first (the revocation form ignores them).
pub fn group_code(code: &str) -> String {
    let chars: Vec<char> = code
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\u{3000}'))
        .collect();
    chars
        .chunks(4)
        .map(|g| g.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

// The addressee block sits where the window of a 長形3号 window envelope (120 × 235 mm,
// window about 90 × 45 mm) shows it when the A4 sheet is folded in three: the window's
// top-left corner is 20 mm from the left edge and 12–15 mm from the top. The block starts
// 23 mm from the left and its first baseline is 20 mm from the top (15 mm to the window's
// top edge plus the text's height), and it stays within 90 × 40 mm.
const WINDOW_X: f32 = 23.0 * MM;
const WINDOW_FIRST_BASELINE: f32 = PAGE_H - 20.0 * MM;
const WINDOW_W: f32 = 85.0 * MM;
const MM: f32 = 72.0 / 25.4;

/// Renders the PIN mailer as a one-page A4 PDF (Japanese).
///
/// The support center is the sender (top right); the facility and the holder are the
/// addressee, placed for a window envelope. The (new) PIN is in a box; for a holder's
/// card the emergency revocation code, grouped in fours, is on a slip at the bottom
/// below a 切り取り線, to be cut off and kept apart from the card.
pub fn pin_mailer_pdf(font: &Font, m: &PinMailer) -> Result<Vec<u8>, LetterError> {
    let operator = m.kind == MailerKind::OperatorToken;
    let unlock = m.kind == MailerKind::CardUnlock;
    let pin_label = if unlock { "新しいPIN" } else { "初期PIN" };
    if m.initial_pin.trim().is_empty() {
        return Err(LetterError::Pdf(format!("{pin_label}が空です")));
    }
    if !operator && m.emergency_revocation_code.trim().is_empty() {
        return Err(LetterError::Pdf("緊急失効コードが空です".into()));
    }
    for (field, value, secret) in [
        ("利用者氏名", m.holder_name_kanji.as_str(), false),
        ("利用者ID", &m.holder_id, false),
        ("施設名", &m.facility_name_kanji, false),
        ("施設コード", &m.facility_code, false),
        ("カード番号", &m.card_id, false),
        ("サポートセンター電話番号", &m.support_phone, false),
        (pin_label, &m.initial_pin, true),
        ("緊急失効コード", &m.emergency_revocation_code, true),
    ] {
        if operator && field == "緊急失効コード" {
            continue;
        }
        font.check_glyphs(field, value, secret)?;
    }

    let card = if operator {
        "運用担当者用ICカード"
    } else {
        "利用者カード"
    };
    let title = if unlock {
        "利用者カード　PINロック解除と新しいPINのお知らせ".to_string()
    } else {
        format!("{card}　初期PIN（パスワード）のお知らせ")
    };
    let mut doc = PdfDocument::new(&title);
    let font_id = doc.add_font(&font.parsed);
    let mut p = Page {
        font,
        font_id,
        mono_id: None,
        ops: Vec::new(),
        y: WINDOW_FIRST_BASELINE,
    };
    let right = |p: &mut Page<'_>, size: f32, leading: f32, text: &str| {
        let w = font.text_width(text, size);
        p.line(PAGE_W - MARGIN - w, size, leading, text);
    };

    // The addressee, in the envelope's window.
    let mut addressee: Vec<(f32, String)> = Vec::new();
    if operator {
        addressee.push((BODY, m.facility_name_kanji.clone()));
    } else {
        addressee.push((BODY, m.facility_name_kanji.clone()));
        addressee.push((BODY, format!("（施設コード　{}）", m.facility_code)));
    }
    addressee.push((13.0, format!("{}　様", m.holder_name_kanji)));
    let mut ay = WINDOW_FIRST_BASELINE;
    for (size, text) in &addressee {
        for l in wrap(font, text, *size, WINDOW_W, 0.0) {
            p.text_at(WINDOW_X, ay, *size, &l);
            ay -= size * 1.7;
        }
    }
    if ay < PAGE_H - 57.0 * MM {
        return Err(LetterError::Pdf(
            "宛名が封筒の窓に収まりません（施設名や氏名が長すぎます）".into(),
        ));
    }

    // The date and the sender, top right, right of the window (which ends 110 mm from
    // the left edge), so the sender never shows through it.
    p.y = PAGE_H - 15.0 * MM - BODY;
    let (network, center) = SENDER_CENTER
        .split_once('　')
        .unwrap_or((SENDER_CENTER, ""));
    let sender_lines = [
        (
            BODY,
            16.0,
            format!("発行日　{}", japanese_date(m.issued_on)),
        ),
        (BODY, 14.0, network.to_string()),
        (BODY, 14.0, format!("{center}（{ASSOCIATION_JA}）")),
        (
            9.0,
            14.0,
            format!("電話　{}（24時間受付）", m.support_phone),
        ),
    ];
    for (size, leading, text) in &sender_lines {
        if PAGE_W - MARGIN - font.text_width(text, *size) < 112.0 * MM {
            return Err(LetterError::Pdf(
                "差出人の欄が封筒の窓にかかります（電話番号が長すぎます）".into(),
            ));
        }
        right(&mut p, *size, *leading, text);
    }

    // Title, centred, below the window.
    p.y = PAGE_H - 62.0 * MM;
    let tw = font.text_width(&title, 15.0);
    p.line((PAGE_W - tw) / 2.0, 15.0, 26.0, &title);

    let intro = if operator {
        "　認証局の運用に使うICカード（操作者証明書）を発行しましたので、初期PIN（パスワード）をお知らせします。以下の注意事項をよくお読みのうえ、大切にお取り扱いください。"
    } else if unlock {
        "　ご本人であることを確認のうえ、利用者カードのロックを解除し、新しいPIN（パスワード）を設定いたしましたので、お知らせします。これまでのPINと緊急失効コードは使えません。"
    } else {
        "　利用者カードの受領を確認いたしましたので、カードの初期PIN（パスワード）をお知らせします。以下の注意事項をよくお読みのうえ、大切にお取り扱いください。"
    };
    p.paragraph(MARGIN, CONTENT_W, 0.0, BODY, intro);
    p.y -= 4.0;

    // Holder / card details.
    let valid = m
        .valid_until
        .map(|d| format!("{}まで", japanese_date(d)))
        .unwrap_or_else(|| "カードに記録された電子証明書の有効期限まで".into());
    let rows: Vec<(&str, &str)> = if operator {
        vec![
            ("氏名", m.holder_name_kanji.as_str()),
            ("本人識別子", &m.holder_id),
            ("アカウント", &m.card_id),
            ("所属", &m.facility_name_kanji),
            ("有効期限", &valid),
        ]
    } else {
        vec![
            ("利用者氏名", m.holder_name_kanji.as_str()),
            ("利用者ID", &m.holder_id),
            ("カード番号", &m.card_id),
            ("施設名", &m.facility_name_kanji),
            ("有効期限", &valid),
        ]
    };
    for (label, value) in rows {
        let y = p.y;
        p.text_at(MARGIN + 10.0, y, BODY, label);
        p.text_at(MARGIN + 100.0, y, BODY, value);
        p.y -= 15.0;
    }

    // The PIN box.
    p.y -= 2.0;
    let box_h = 52.0;
    let box_top = p.y + 8.0;
    p.rect(MARGIN, box_top - box_h, CONTENT_W, box_h, Some(0.93), 1.5);
    p.text_at(MARGIN + 16.0, box_top - 20.0, 13.0, pin_label);
    let pin_size = 28.0;
    let pin_w = font.text_width(&m.initial_pin, pin_size);
    p.text_at(
        (PAGE_W - pin_w) / 2.0,
        box_top - box_h + 13.0,
        pin_size,
        &m.initial_pin,
    );
    p.y = box_top - box_h - 14.0;

    let ind = MARGIN + 8.0;
    let w = CONTENT_W - 8.0;
    p.subheading(if unlock {
        "1. 新しいPINは、次に使うときに変更してください"
    } else {
        "1. 初回利用時にPINを変更してください"
    });
    for t in [
        format!(
            "・{card}を所属施設の窓口の端末（またはお使いの端末）のカードリーダーに差し込み、PIN変更の操作で、上の{pin_label}と、ご自身で決めたPINを入力します。PINの桁数は画面の案内に従ってください。"
        ),
        "・PINは他人に知られないよう秘密にしてください。家族や職場の同僚にも教えないでください。PINをカードに書いたり、カードと一緒に保管したりしないでください（利用規約第9条）。".to_string(),
    ] {
        p.paragraph(ind, w, BODY, BODY, &t);
    }
    p.subheading("2. PINがロックされたとき");
    p.paragraph(
        ind,
        w,
        BODY,
        BODY,
        &if operator {
            "・PINを続けて間違えるとカードがロックされ、使えなくなります。認証局の運用責任者に連絡してください。ロックを解除し、新しいPINをお知らせします。".to_string()
        } else {
            format!(
                "・PINを続けて間違えるとカードがロックされ、使えなくなります。所属施設の窓口を通じて、またはサポートセンター（{}）へご連絡ください。ご本人確認のうえロックを解除し、新しいPINを書面でお送りします。",
                m.support_phone
            )
        },
    );
    p.subheading("3. 封筒が開封されていたとき");
    p.paragraph(
        ind,
        w,
        BODY,
        BODY,
        &if operator {
            "・このお知らせが開封された状態で届いた場合や、封に破れ・はがした跡がある場合は、ICカードを使わずに、すぐに認証局の運用責任者へ連絡してください。".to_string()
        } else {
            format!(
                "・このお知らせが開封された状態で届いた場合や、封に破れ・はがした跡がある場合は、カードを使わずに、すぐにサポートセンター（{}）へご連絡ください。",
                m.support_phone
            )
        },
    );

    if operator {
        p.subheading("4. 紛失・盗難のとき");
        p.paragraph(
            ind,
            w,
            0.0,
            BODY,
            "ICカードを紛失したり盗まれたりした場合は、時間帯にかかわらず、すぐに認証局の運用責任者へ連絡してください。運用責任者がアカウントを停止し、証明書を失効させます。",
        );
        p.subheading("5. このお知らせの取扱い");
        p.paragraph(
            ind,
            w,
            BODY,
            BODY,
            "・このお知らせは、ICカードとは別の場所に保管し、PINを変更した後はシュレッダーにかけるなどして確実に破棄してください。",
        );
        if p.y < MARGIN {
            return Err(LetterError::Pdf(
                "内容が1ページに収まりません（氏名や所属名が長すぎます）".into(),
            ));
        }
        return save_one_page(doc, p.ops);
    }

    p.subheading("4. このお知らせの取扱い");
    p.paragraph(
        ind,
        w,
        BODY,
        BODY,
        "・PINを変更した後は、下の緊急失効コードの部分を切り取ってから、このお知らせをシュレッダーにかけるなどして確実に破棄してください。",
    );

    // The slip with the emergency revocation code, below the 切り取り線.
    let cut_y = MARGIN + 112.0;
    if p.y < cut_y + 8.0 {
        return Err(LetterError::Pdf(
            "内容が1ページに収まりません（氏名や施設名が長すぎます）".into(),
        ));
    }
    let dash = "- - - - - - - - - - - - - - -";
    let cut = format!("{dash}　切り取り線　{dash}");
    let cw = font.text_width(&cut, 9.0);
    p.text_at((PAGE_W - cw) / 2.0, cut_y, 9.0, &cut);
    p.y = cut_y - 14.0;
    p.subheading(if unlock {
        "緊急失効コード（新しいコード・1回限り有効）"
    } else {
        "緊急失効コード（1回限り有効）"
    });
    let code_box_h = 30.0;
    let code_top = p.y + 12.0;
    p.rect(ind, code_top - code_box_h, w, code_box_h, None, 1.0);
    let cy = code_top - code_box_h + 10.0;
    p.text_at(
        MARGIN + 20.0,
        cy,
        BODY,
        &format!("カード番号　{}", m.card_id),
    );
    p.text_at(
        MARGIN + 220.0,
        cy,
        16.0,
        &group_code(&m.emergency_revocation_code),
    );
    p.y = code_top - code_box_h - 16.0;
    p.paragraph(
        ind,
        w,
        0.0,
        9.0,
        &format!(
            "利用規約第11条：カードを紛失したり盗まれたりした場合は、時間帯にかかわらず、すぐにサポートセンター（{}、24時間受付）へ電話し、この緊急失効コードをお伝えください。カードの電子証明書をただちに失効させます。この部分はカードとは別の場所に保管してください。",
            m.support_phone
        ),
    );
    if unlock {
        p.paragraph(
            ind,
            w,
            0.0,
            9.0,
            "以前にお送りした緊急失効コードは使えなくなりました。",
        );
    }
    if p.y < MARGIN - 28.0 {
        return Err(LetterError::Pdf(
            "内容が1ページに収まりません（氏名や施設名が長すぎます）".into(),
        ));
    }
    save_one_page(doc, p.ops)
}

/// The letter to a facility that one of its holders' card certificates was revoked
/// (「電子証明書失効のお知らせ」, 第23条3, 第24条): the holder, the card, the
/// certificate, the grounds with the article, and every timestamp of the evidence, in
/// Japanese style (JST). Nothing in it is secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevocationLetter {
    pub facility_name_kanji: String,
    pub facility_code: String,
    pub holder_name_kanji: String,
    pub holder_id: String,
    pub card_id: String,
    /// The certificate's serial (hex).
    pub serial_hex: String,
    /// The grounds as people read them, e.g. 緊急失効（紛失）.
    pub grounds: String,
    /// The article of the terms, e.g. 第11条.
    pub article: Option<String>,
    /// The RFC 5280 reason in Japanese, e.g. 鍵の危殆化.
    pub reason_ja: String,
    /// Through whom the request came, e.g. 利用施設窓口.
    pub channel: String,
    /// When the request arrived (`2026年12月7日 21:00:05`).
    pub request_received_at: Option<String>,
    /// When it was revoked.
    pub revoked_at: String,
    /// The first CRL listing it.
    pub crl_number: i64,
    /// When that CRL was published (written, read back and checked).
    pub crl_published_at: String,
    /// When the first OCSP response showing it revoked was published and checked.
    pub ocsp_at: Option<String>,
    /// The date of the letter.
    pub issued_on: time::Date,
    pub support_phone: String,
}

/// Renders the revocation letter to the facility as a one-page A4 PDF (Japanese).
pub fn revocation_letter_pdf(font: &Font, l: &RevocationLetter) -> Result<Vec<u8>, LetterError> {
    let article = l
        .article
        .as_deref()
        .map(|a| format!("（利用規約{a}）"))
        .unwrap_or_default();
    let rows: Vec<(&str, String)> = vec![
        (
            "利用者氏名",
            format!("{}　様（利用者ID {}）", l.holder_name_kanji, l.holder_id),
        ),
        ("カード番号", l.card_id.clone()),
        ("証明書シリアル番号", l.serial_hex.clone()),
        ("失効の事由", format!("{}{article}", l.grounds)),
        ("失効理由（CRL）", l.reason_ja.clone()),
        ("失効の申出の経路", l.channel.clone()),
        (
            "失効の申出の受付日時",
            l.request_received_at
                .clone()
                .unwrap_or_else(|| "（記録なし）".into()),
        ),
        ("失効日時", l.revoked_at.clone()),
        (
            "CRLへの掲載",
            format!("第{}号　{} 公開", l.crl_number, l.crl_published_at),
        ),
        (
            "OCSPへの反映",
            l.ocsp_at.clone().unwrap_or_else(|| "反映の確認待ち".into()),
        ),
    ];
    for (field, value) in rows.iter().map(|(f, v)| (*f, v.as_str())).chain([
        ("施設名", l.facility_name_kanji.as_str()),
        ("電話番号", l.support_phone.as_str()),
    ]) {
        font.check_glyphs(field, value, false)?;
    }
    let title = "電子証明書失効のお知らせ";
    let sender = "くまもとメディカルネットワーク　サポートセンター";
    let mut doc = PdfDocument::new(title);
    let font_id = doc.add_font(&font.parsed);
    let mut p = Page {
        font,
        font_id,
        mono_id: None,
        ops: Vec::new(),
        y: PAGE_H - MARGIN,
    };
    let right = |p: &mut Page<'_>, size: f32, leading: f32, text: &str| {
        let w = font.text_width(text, size);
        p.line(PAGE_W - MARGIN - w, size, leading, text);
    };
    right(&mut p, BODY, 16.0, &japanese_date(l.issued_on));
    p.line(
        MARGIN,
        13.0,
        20.0,
        &format!("{}　御中", l.facility_name_kanji),
    );
    p.line(
        MARGIN,
        BODY,
        24.0,
        &format!("（施設コード：{}）", l.facility_code),
    );
    right(&mut p, BODY, 30.0, sender);
    let tw = font.text_width(title, 16.0);
    p.line((PAGE_W - tw) / 2.0, 16.0, 30.0, title);
    for t in [
        "拝啓　時下ますますご清祥のこととお慶び申し上げます。平素はくまもとメディカルネットワークの運営に格別のご協力を賜り、厚く御礼申し上げます。",
        "　さて、貴施設でご利用の下記の利用者カードにつきまして、失効の申出をお受けし、その電子証明書を下記のとおり失効いたしましたので、お知らせいたします。失効した電子証明書は、今後ネットワークへのログインにはご利用いただけません。",
    ] {
        p.paragraph(MARGIN, CONTENT_W, 0.0, BODY, t);
    }
    right(&mut p, BODY, 22.0, "敬具");
    let kw = font.text_width("記", 12.0);
    p.line((PAGE_W - kw) / 2.0, 12.0, 24.0, "記");
    for (label, value) in &rows {
        let lines = wrap(font, value, BODY, CONTENT_W - 150.0, 0.0);
        let y = p.y;
        p.text_at(MARGIN + 10.0, y, BODY, label);
        for (i, v) in lines.iter().enumerate() {
            let yy = y - i as f32 * 15.0;
            p.text_at(MARGIN + 150.0, yy, BODY, v);
        }
        p.y -= 19.0 + 15.0 * lines.len().saturating_sub(1) as f32;
    }
    p.y -= 6.0;
    for t in [
        "・日時はいずれも日本時間です。CRL（証明書失効リスト）への掲載日時は、公開したCRLを読み戻して署名と番号を確認した日時、OCSPへの反映日時は、失効を示すOCSP応答を保存し読み戻して確認した日時です。",
        "・この失効に関する申出の受付から失効、CRLへの掲載までの記録は、利用規約第23条3に基づき本会が保存しております。電子署名付きの失効の証明（失効受領証）が必要な場合は、サポートセンターまでお申し付けください。",
        "・お心当たりのない失効であった場合や、ご不明な点がございましたら、下記のサポートセンターまでお問い合わせください。",
    ] {
        p.paragraph(MARGIN + 8.0, CONTENT_W - 8.0, BODY, BODY, t);
    }
    p.y -= 4.0;
    p.line(
        MARGIN + 8.0,
        BODY,
        22.0,
        &format!(
            "サポートセンター（24時間受付）　電話番号　{}",
            l.support_phone
        ),
    );
    right(&mut p, BODY, 16.0, "以上");
    if p.y < MARGIN {
        return Err(LetterError::Pdf(
            "内容が1ページに収まりません（氏名や施設名が長すぎます）".into(),
        ));
    }
    save_one_page(doc, p.ops)
}

/// Data printed on a custodian's sheet of the root-key backup (DESIGN §6): one share of
/// the key-encryption key, split 3-of-5.
#[derive(Clone, PartialEq, Eq)]
pub struct ShareSheet {
    /// The custodian's number (1..=`shares`).
    pub custodian: u8,
    /// Shares made (5).
    pub shares: u8,
    /// Shares needed to restore (3).
    pub threshold: u8,
    /// The association, as it signs the sheet, in Japanese ([`ASSOCIATION_JA`]).
    pub organization: String,
    /// The root CA's name (`kmn-root-g1`).
    pub root_name: String,
    /// SHA-256 fingerprint of the root certificate (hex).
    pub root_sha256: String,
    /// The backup id (hex).
    pub backup_id: String,
    /// When the backup was made.
    pub created_on: time::Date,
    /// Secret: the lines of the share file to print in the box, exactly as they are
    /// typed back (`kmn-root-key-share: v1` … `share: 02a1 … / 7f` … `checksum: …`).
    pub record_lines: Vec<String>,
}

impl fmt::Debug for ShareSheet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShareSheet")
            .field("custodian", &self.custodian)
            .field("shares", &self.shares)
            .field("threshold", &self.threshold)
            .field("root_name", &self.root_name)
            .field("backup_id", &self.backup_id)
            .field("record_lines", &"<redacted>")
            .finish()
    }
}

/// Renders a custodian's share sheet of the root-key backup as a one-page A4 PDF
/// (Japanese): who holds it, what it restores, the share to type back with a check per
/// line, and how to keep it.
pub fn share_sheet_pdf(font: &Font, s: &ShareSheet) -> Result<Vec<u8>, LetterError> {
    if s.record_lines.is_empty() {
        return Err(LetterError::Pdf("分散鍵の内容が空です".into()));
    }
    for (field, value) in [
        ("組織名", s.organization.as_str()),
        ("ルート認証局名", &s.root_name),
        ("フィンガープリント", &s.root_sha256),
        ("バックアップID", &s.backup_id),
    ] {
        font.check_glyphs(field, value, false)?;
    }
    for l in &s.record_lines {
        font.check_glyphs("分散鍵", l, true)?;
    }

    let title = format!(
        "認証局ルート鍵 分散バックアップ　分散鍵（{}人中{}人の分散鍵）",
        s.shares, s.threshold
    );
    let mut doc = PdfDocument::new(&title);
    let font_id = doc.add_font(&font.parsed);
    let mono_id = font.mono.as_ref().map(|m| doc.add_font(m));
    let mut p = Page {
        font,
        font_id,
        mono_id,
        ops: Vec::new(),
        y: PAGE_H - MARGIN,
    };

    let date = format!("作成日　{}（日本時間）", japanese_date(s.created_on));
    let dw = font.text_width(&date, BODY);
    p.line(PAGE_W - MARGIN - dw, BODY, 20.0, &date);
    let red = "厳秘";
    p.text_at(MARGIN, p.y + 20.0, 14.0, red);

    let tw = font.text_width(&title, 15.0);
    p.line((PAGE_W - tw) / 2.0, 15.0, 32.0, &title);

    // The custodian number, large.
    let who = format!("保管者 {}（{}人中）", s.custodian, s.shares);
    let ww = font.text_width(&who, 22.0);
    p.rect(
        (PAGE_W - ww) / 2.0 - 16.0,
        p.y - 10.0,
        ww + 32.0,
        36.0,
        Some(0.93),
        1.2,
    );
    p.line((PAGE_W - ww) / 2.0, 22.0, 34.0, &who);

    p.paragraph(
        MARGIN,
        CONTENT_W,
        0.0,
        9.5,
        &format!(
            "　この用紙は、{}の認証局のルート鍵（最上位の秘密鍵）を復元するための分散鍵です。ルート鍵は鍵暗号化鍵で暗号化（ラップ）してあり、その鍵暗号化鍵を{}つの分散鍵に分けて、{}人の保管者がそれぞれ1つずつ保管します。{}人中{}人の分散鍵がそろうとルート鍵を復元できます。{}人分以下では、ルート鍵について何もわかりません。",
            s.organization,
            s.shares,
            s.shares,
            s.shares,
            s.threshold,
            s.threshold.saturating_sub(1)
        ),
    );
    p.y -= 6.0;

    let fp = &s.root_sha256;
    let (fp1, fp2) = fp.split_at(fp.len().min(32));
    let rows = [
        ("保管者番号", format!("{} / {}", s.custodian, s.shares)),
        (
            "復元に必要な数",
            format!("{}人中{}人の分散鍵", s.shares, s.threshold),
        ),
        ("ルート認証局", s.root_name.clone()),
        ("証明書 SHA-256", fp1.to_string()),
        ("", fp2.to_string()),
        ("バックアップID", s.backup_id.clone()),
    ];
    for (i, (label, value)) in rows.iter().enumerate() {
        let y = p.y;
        p.text_at(MARGIN + 10.0, y, BODY, label);
        // The fingerprint and the backup id are hex: fixed-width cells.
        if i >= 3 {
            p.mono_at(MARGIN + 110.0, y, BODY, value);
        } else {
            p.text_at(MARGIN + 110.0, y, BODY, value);
        }
        p.y -= 14.0;
    }

    // The share, as typed back.
    p.heading("分散鍵（この枠の内容を1行ずつそのまま入力します）");
    // 10 pt, smaller when the longest line (root-sha256: and 64 hex digits) needs it.
    let longest = s
        .record_lines
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(1) as f32;
    let size = (10.0_f32).min((CONTENT_W - 20.0) / (longest * mono_cell(font, 1.0)));
    if size < 6.0 {
        return Err(LetterError::Pdf(
            "分散鍵の行が長すぎて枠に収まりません".into(),
        ));
    }
    let leading = size * 1.4;
    let box_h = leading * s.record_lines.len() as f32 + 14.0;
    let box_top = p.y + 8.0;
    p.rect(MARGIN, box_top - box_h, CONTENT_W, box_h, Some(0.96), 1.2);
    p.y = box_top - 16.0;
    for l in &s.record_lines {
        let y = p.y;
        p.mono_at(MARGIN + 10.0, y, size, l);
        p.y -= leading;
    }
    p.y = box_top - box_h - 16.0;

    p.heading("保管と復元の手順");
    for t in [
        "1. この用紙と分散鍵のファイルは、ほかの保管者の分散鍵とは別の場所（耐火金庫など）に保管してください。コピーを取ったり、写真に撮ったりしないでください。",
        "2. ルート鍵の復元は、認証局管理者が保管者の立会いのもとで行います（kmn ca restore）。保管者は自分の分散鍵を持参してください。",
        "3. 紙から入力するときは、上の枠の内容をテキストファイルに1行ずつそのまま入力します。share の行末の「/」の後の2文字は行ごとのチェック文字で、どの行に入力の誤りがあるかを示します。最後の checksum は全体の確認用です。",
        "4. 紛失・盗難・破損に気づいたとき、または保管者を交代するときは、すぐに認証局管理者に連絡してください。残りの分散鍵で復元し、新しいバックアップを作り直します。",
        "5. この用紙の日付は日本時間（JST）です。枠内の created の行は入力用の記録で、同じ作成時刻を機械向けの形式で表したものです。",
    ] {
        p.paragraph(MARGIN + 8.0, CONTENT_W - 8.0, 9.5 * 1.5, 9.5, t);
    }

    // Receipt by the custodian, before a witness.
    p.heading("受領の記録（保管者と立会人が記入します）");
    p.y -= 4.0;
    let col = MARGIN + 8.0;
    let half = (CONTENT_W - 8.0) / 2.0;
    for (left, right) in [
        ("保管者氏名", "署名"),
        ("受領日（日本時間）", "立会人氏名・署名"),
    ] {
        let y = p.y;
        for (x, label) in [(col, left), (col + half, right)] {
            p.text_at(x, y, 9.0, label);
            p.rect(x, y - 4.0, half - 14.0, 0.0, None, 0.6);
        }
        p.y -= 24.0;
    }

    let footer = format!("{}　認証局管理者", s.organization);
    let fw = font.text_width(&footer, 9.0);
    p.text_at(PAGE_W - MARGIN - fw, MARGIN - 20.0, 9.0, &footer);

    if p.y < MARGIN - 10.0 {
        return Err(LetterError::Pdf("内容が1ページに収まりません".into()));
    }
    save_one_page(doc, p.ops)
}

fn save_one_page(mut doc: PdfDocument, ops: Vec<Op>) -> Result<Vec<u8>, LetterError> {
    let page = PdfPage::new(Mm(210.0), Mm(297.0), ops);
    let opts = PdfSaveOptions {
        subset_fonts: true,
        ..PdfSaveOptions::default()
    };
    let mut warnings = Vec::new();
    let bytes = doc.with_pages(vec![page]).save(&opts, &mut warnings);
    if let Some(w) = warnings
        .iter()
        .find(|w| w.severity == PdfParseErrorSeverity::Error)
    {
        // printpdf's messages describe fonts/operations, not the text content.
        return Err(LetterError::Pdf(w.msg.clone()));
    }
    if !bytes.starts_with(b"%PDF") {
        return Err(LetterError::Pdf(
            "printpdf が PDF を出力しませんでした".into(),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> PinMailer {
        PinMailer {
            kind: MailerKind::UserCard,
            holder_name_kanji: "山田 花子".into(),
            holder_id: "U-0012345".into(),
            facility_name_kanji: "医療法人 青葉会 みなと中央病院".into(),
            facility_code: "1312345678".into(),
            card_id: "KMN-2026-000123".into(),
            initial_pin: "482916".into(),
            emergency_revocation_code: "7QF4-K2MX-9TRB".into(),
            issued_on: time::macros::date!(2026 - 11 - 26),
            valid_until: Some(time::macros::date!(2031 - 11 - 25)),
            support_phone: "0120-123-456".into(),
        }
    }

    #[test]
    fn japanese_date_format() {
        assert_eq!(
            japanese_date(time::macros::date!(2026 - 11 - 26)),
            "2026年11月26日"
        );
        assert_eq!(
            japanese_date(time::macros::date!(2027 - 01 - 05)),
            "2027年1月5日"
        );
    }

    #[test]
    fn debug_redacts_secrets() {
        let s = format!("{:?}", sample());
        assert!(!s.contains("482916"));
        assert!(!s.contains("7QF4"));
        assert!(s.contains("<redacted>"));
    }

    #[test]
    fn missing_font_names_debian_package() {
        let e = Font::load(Path::new("/nonexistent/ipaexg.ttf")).unwrap_err();
        assert!(matches!(e, LetterError::FontMissing(_)));
        assert!(e.to_string().contains(FONT_PACKAGE), "{e}");
    }

    fn font_or_skip() -> Option<Font> {
        match Font::load_default() {
            Ok(f) => Some(f),
            Err(e) => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "CI=true but the font is missing: {e}"
                );
                eprintln!("SKIPPED (font missing): {e}");
                None
            }
        }
    }

    #[test]
    fn one_font_renders_a_batch() {
        let Some(font) = font_or_skip() else { return };
        let a = pin_mailer_pdf(&font, &sample()).unwrap();
        let mut m2 = sample();
        m2.holder_name_kanji = "佐藤 太郎".into();
        m2.initial_pin = "105733".into();
        let b = pin_mailer_pdf(&font, &m2).unwrap();
        assert!(a.starts_with(b"%PDF") && b.starts_with(b"%PDF"));
        assert_ne!(a, b);
    }

    #[test]
    fn unprintable_secret_is_not_named() {
        let Some(font) = font_or_skip() else { return };
        let mut m = sample();
        m.initial_pin = "12\u{10FFFD}4".into();
        let e = pin_mailer_pdf(&font, &m).unwrap_err();
        assert!(e.to_string().contains("初期PIN"));
        assert!(!e.to_string().contains("12"));
    }

    #[test]
    fn wrap_respects_kinsoku() {
        let Some(font) = font_or_skip() else { return };
        let lines = wrap(&font, &"あ".repeat(10), 10.0, 50.0, 0.0);
        assert_eq!(lines.len(), 2);
        let lines = wrap(&font, "ああああああ。", 10.0, 60.0, 0.0);
        assert_eq!(lines, vec!["ああああああ。".to_string()]);
        let lines = wrap(&font, "ああPIN", 10.0, 30.0, 0.0);
        assert_eq!(lines, vec!["ああ".to_string(), "PIN".to_string()]);
    }

    fn sample_sheet() -> ShareSheet {
        ShareSheet {
            custodian: 3,
            shares: 5,
            threshold: 3,
            organization: ASSOCIATION_JA.into(),
            root_name: "kmn-root-g1".into(),
            root_sha256: "0f".repeat(32),
            backup_id: "00112233445566778899aabbccddeeff".into(),
            created_on: time::macros::date!(2026 - 11 - 26),
            record_lines: vec![
                "kmn-root-key-share: v1".into(),
                "backup-id: 00112233445566778899aabbccddeeff".into(),
                format!("root-sha256: {}", "0f".repeat(32)),
                "custodian: 3".into(),
                "root-name: kmn-root-g1".into(),
                "created: 2026-11-26T01:00:00Z".into(),
                "threshold: 3".into(),
                "shares: 5".into(),
                "share: 03a1 b2c3 d4e5 f607 1829 3a4b / 7f".into(),
                "share: 5c6d 7e8f 9a0b 1c2d 3e4f 5061 / 0a".into(),
                "share: 7283 9405 a6b7 c8d9 e0 / c4".into(),
                "checksum: 1a2b3c4d".into(),
            ],
        }
    }

    #[test]
    fn share_sheet_debug_redacts_the_share() {
        let d = format!("{:?}", sample_sheet());
        assert!(!d.contains("03a1"), "{d}");
        assert!(d.contains("<redacted>"));
    }

    pub(crate) fn sample_revocation() -> RevocationLetter {
        RevocationLetter {
            facility_name_kanji: "熊本中央クリニック".into(),
            facility_code: "4310000100".into(),
            holder_name_kanji: "山田 花子".into(),
            holder_id: "H00000001".into(),
            card_id: "C00000001".into(),
            serial_hex: "5f3c0a9d2e41b7c68a0f1e2d3c4b5a69".into(),
            grounds: "緊急失効（紛失）".into(),
            article: Some("第11条".into()),
            reason_ja: "鍵の危殆化".into(),
            channel: "利用施設窓口".into(),
            request_received_at: Some("2026年12月7日 21:00:01".into()),
            revoked_at: "2026年12月7日 21:00:02".into(),
            crl_number: 7,
            crl_published_at: "2026年12月7日 21:00:03".into(),
            ocsp_at: Some("2026年12月7日 21:00:02".into()),
            issued_on: time::macros::date!(2026 - 12 - 07),
            support_phone: "096-000-0000".into(),
        }
    }

    /// 第23条3, 第24条: the letter to the facility is one A4 page.
    #[test]
    fn art23_revocation_letter_renders_one_page() {
        let Some(font) = font_or_skip() else { return };
        let pdf = revocation_letter_pdf(&font, &sample_revocation()).unwrap();
        assert!(pdf.starts_with(b"%PDF"));
        let mut bad = sample_revocation();
        bad.holder_name_kanji = "\u{10FFFD}".into();
        assert!(revocation_letter_pdf(&font, &bad).is_err());
    }

    #[test]
    fn design6_share_sheet_renders_one_page() {
        let Some(font) = font_or_skip() else { return };
        let pdf = share_sheet_pdf(&font, &sample_sheet()).unwrap();
        assert!(pdf.starts_with(b"%PDF"));
        // Without a monospaced font the hex goes into fixed-width cells.
        let plain = Font::load(font.path()).unwrap();
        assert!(!plain.has_mono());
        assert!(
            share_sheet_pdf(&plain, &sample_sheet())
                .unwrap()
                .starts_with(b"%PDF")
        );
        let mut empty = sample_sheet();
        empty.record_lines.clear();
        assert!(share_sheet_pdf(&font, &empty).is_err());
    }
}
