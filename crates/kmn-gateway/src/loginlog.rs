//! The login record (MHLW 医療情報システムの安全管理に関するガイドライン: who logged in,
//! from where, when a session began and ended, what was accessed): an append-only file of
//! JSON lines, each carrying the SHA-256 of the previous line's record (`prev`) and of its
//! own (`hash`), so an edited, removed or reordered line breaks the chain.
//!
//! A session is one certificate's requests with gaps shorter than the idle time: its
//! `session_start` is written with its first request, each request is an `access` (method
//! and path, without the query string and never a body), and `session_end` (at the time
//! of the last request) is written once the idle time has passed, or when the gateway
//! stops. Refused requests are `refused` records with the reason; when the certificate itself
//! was refused, its serial, holder id and facility are those it claims (unverified; the
//! `credential` field is then empty).
//!
//! Records are written by one thread; with [`FsyncPolicy::Batch`] it writes every record
//! waiting and then fsyncs once (group commit), with [`FsyncPolicy::Always`] after each.
//! Times are RFC 3339 in JST (`+09:00`).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{OffsetDateTime, UtcOffset};

use crate::config::FsyncPolicy;
use crate::credential::Identity;

const JST: UtcOffset = match UtcOffset::from_hms(9, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One line of the log, without its `hash`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Record {
    pub seq: u64,
    /// RFC 3339, JST.
    pub at: String,
    /// `session_start`, `access`, `session_end` or `refused`.
    pub event: String,
    pub session: Option<String>,
    pub holder_id: Option<String>,
    pub facility_code: Option<String>,
    pub credential: Option<String>,
    pub cert_serial: Option<String>,
    /// The client's address and port.
    pub remote: Option<String>,
    pub upstream: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub status: Option<u16>,
    /// For `refused`: the reason code and the technical detail.
    pub reason: Option<String>,
    /// For `session_end`: the session's requests.
    pub requests: Option<u64>,
    pub prev: String,
}

/// What the proxy reports.
#[derive(Debug)]
pub enum Event {
    Access {
        at: OffsetDateTime,
        identity: Identity,
        remote: String,
        upstream: String,
        method: String,
        path: String,
        status: u16,
    },
    Refused {
        at: OffsetDateTime,
        /// The verified identity, when the refusal came after the certificate check.
        identity: Option<Identity>,
        /// What the presented certificate claims (serial, holder id, facility), unverified:
        /// recorded when there is no verified identity.
        claimed: Option<(String, Option<String>, Option<String>)>,
        remote: String,
        method: String,
        path: String,
        reason: String,
    },
}

enum Msg {
    Event(Box<Event>),
    Stop,
}

/// The sender side, cheap to clone.
#[derive(Clone, Debug)]
pub struct LoginLog {
    tx: mpsc::Sender<Msg>,
}

/// The writer thread; [`LogWriter::stop`] closes open sessions and flushes.
#[derive(Debug)]
pub struct LogWriter {
    tx: mpsc::Sender<Msg>,
    thread: Option<JoinHandle<()>>,
}

struct Session {
    id: String,
    identity: Identity,
    remote: String,
    started: OffsetDateTime,
    last: OffsetDateTime,
    requests: u64,
}

struct Writer {
    file: File,
    path: PathBuf,
    seq: u64,
    prev: String,
    fsync: FsyncPolicy,
    idle: Duration,
    sessions: HashMap<String, Session>,
    dirty: bool,
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(JST)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The line for `r` (with its hash) and the hash.
fn seal(r: &Record) -> (String, String) {
    let body = serde_json::to_string(r).unwrap_or_default();
    let hash = hex::encode(Sha256::digest(body.as_bytes()));
    let line = format!(
        "{},\"hash\":\"{hash}\"}}",
        body.strip_suffix('}').unwrap_or(&body)
    );
    (line, hash)
}

/// Splits a line into its record (as written, without the hash) and the hash it claims.
fn unseal(line: &str) -> Option<(&str, &str)> {
    // `…,"hash":"<64 hex>"}`
    let tail = line.len().checked_sub(",\"hash\":\"".len() + 64 + 2)?;
    let (body, h) = line.split_at(tail);
    let hash = h.strip_prefix(",\"hash\":\"")?.strip_suffix("\"}")?;
    Some((body, hash))
}

/// Reads and checks the chain; returns the records. `Err` names the first bad line.
pub fn read_verified(path: &Path) -> Result<Vec<Record>, String> {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut out = Vec::new();
    let mut prev = GENESIS.to_string();
    for (n, line) in BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        let bad = |why: &str| {
            format!(
                "the login record {} has been altered or damaged at line {}: {why}",
                path.display(),
                n + 1
            )
        };
        let (body, hash) = unseal(&line).ok_or_else(|| bad("not a sealed record"))?;
        let body = format!("{body}}}");
        if hex::encode(Sha256::digest(body.as_bytes())) != hash {
            return Err(bad("its hash does not match its content"));
        }
        let r: Record = serde_json::from_str(&body).map_err(|e| bad(&e.to_string()))?;
        if r.prev != prev {
            return Err(bad("it does not follow the line before it"));
        }
        if r.seq != n as u64 + 1 {
            return Err(bad("its sequence number is out of order"));
        }
        prev = hash.to_string();
        out.push(r);
    }
    Ok(out)
}

/// The last line's (seq, hash), for appending.
fn tail(path: &Path) -> Result<(u64, String), String> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, GENESIS.into())),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len == 0 {
        return Ok((0, GENESIS.into()));
    }
    let from = len.saturating_sub(64 << 10);
    f.seek(SeekFrom::Start(from)).map_err(|e| e.to_string())?;
    let mut buf = String::new();
    f.read_to_string(&mut buf)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let last = buf
        .lines()
        .rev()
        .find(|l| !l.is_empty())
        .ok_or("empty tail")?;
    let bad = || {
        format!(
            "the last line of the login record {} is damaged; run `kmn gateway log verify` and keep the file as evidence before starting a new one",
            path.display()
        )
    };
    let (body, hash) = unseal(last).ok_or_else(bad)?;
    let r: Record = serde_json::from_str(&format!("{body}}}")).map_err(|_| bad())?;
    if !buf.ends_with('\n') {
        return Err(bad());
    }
    Ok((r.seq, hash.to_string()))
}

impl Writer {
    fn write(&mut self, mut r: Record) {
        self.seq += 1;
        r.seq = self.seq;
        r.prev = std::mem::take(&mut self.prev);
        let (line, hash) = seal(&r);
        self.prev = hash;
        if let Err(e) = self.file.write_all(format!("{line}\n").as_bytes()) {
            tracing::error!("cannot write the login record {}: {e}", self.path.display());
        }
        self.dirty = true;
        if self.fsync == FsyncPolicy::Always {
            self.sync();
        }
    }

    fn sync(&mut self) {
        if self.dirty {
            if let Err(e) = self.file.sync_data() {
                tracing::error!("cannot fsync the login record {}: {e}", self.path.display());
            }
            self.dirty = false;
        }
    }

    fn base(event: &str, at: OffsetDateTime, id: Option<&Identity>) -> Record {
        Record {
            seq: 0,
            at: rfc3339(at),
            event: event.into(),
            session: None,
            holder_id: id.map(|i| i.holder_id.clone()),
            facility_code: id.and_then(|i| i.facility_code.clone()),
            credential: id.map(|i| i.credential.as_str().to_string()),
            cert_serial: id.map(|i| i.cert_serial.clone()),
            remote: None,
            upstream: None,
            method: None,
            path: None,
            status: None,
            reason: None,
            requests: None,
            prev: String::new(),
        }
    }

    fn end(&mut self, s: Session) {
        let mut r = Writer::base("session_end", s.last, Some(&s.identity));
        r.session = Some(s.id);
        r.remote = Some(s.remote);
        r.requests = Some(s.requests);
        let _ = s.started;
        self.write(r);
    }

    /// Ends the sessions idle at `now`.
    fn expire(&mut self, now: OffsetDateTime) {
        let idle = self.idle;
        let mut gone: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| now - s.last >= idle)
            .map(|(k, _)| k.clone())
            .collect();
        gone.sort_by_key(|k| self.sessions.get(k).map(|s| s.last));
        for k in gone {
            if let Some(s) = self.sessions.remove(&k) {
                self.end(s);
            }
        }
    }

    fn event(&mut self, e: Event) {
        match e {
            Event::Access {
                at,
                identity,
                remote,
                upstream,
                method,
                path,
                status,
            } => {
                let key = identity.cert_serial.clone();
                if let Some(s) = self.sessions.get(&key)
                    && at - s.last >= self.idle
                    && let Some(s) = self.sessions.remove(&key)
                {
                    self.end(s);
                }
                if !self.sessions.contains_key(&key) {
                    let s = Session {
                        id: uuid::Uuid::new_v4().to_string(),
                        identity: identity.clone(),
                        remote: remote.clone(),
                        started: at,
                        last: at,
                        requests: 0,
                    };
                    let mut r = Writer::base("session_start", at, Some(&identity));
                    r.session = Some(s.id.clone());
                    r.remote = Some(remote.clone());
                    self.write(r);
                    self.sessions.insert(key.clone(), s);
                }
                let sid = match self.sessions.get_mut(&key) {
                    Some(s) => {
                        s.last = s.last.max(at);
                        s.requests += 1;
                        s.id.clone()
                    }
                    None => String::new(),
                };
                let mut r = Writer::base("access", at, Some(&identity));
                r.session = Some(sid);
                r.remote = Some(remote);
                r.upstream = Some(upstream);
                r.method = Some(method);
                r.path = Some(path);
                r.status = Some(status);
                self.write(r);
            }
            Event::Refused {
                at,
                identity,
                claimed,
                remote,
                method,
                path,
                reason,
            } => {
                let mut r = Writer::base("refused", at, identity.as_ref());
                if identity.is_none()
                    && let Some((serial, holder, facility)) = claimed
                {
                    r.cert_serial = Some(serial);
                    r.holder_id = holder;
                    r.facility_code = facility;
                }
                r.remote = Some(remote);
                r.method = Some(method);
                r.path = Some(path);
                r.reason = Some(reason);
                self.write(r);
            }
        }
    }
}

impl LogWriter {
    /// Opens (or creates) the log at `path` and starts the writer thread.
    pub fn open(
        path: &Path,
        fsync: FsyncPolicy,
        idle: Duration,
    ) -> Result<(LogWriter, LoginLog), String> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let (seq, prev) = tail(path)?;
        let file = {
            use std::os::unix::fs::OpenOptionsExt;
            OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o640)
                .open(path)
                .map_err(|e| format!("cannot open {}: {e}", path.display()))?
        };
        let mut w = Writer {
            file,
            path: path.to_path_buf(),
            seq,
            prev,
            fsync,
            idle,
            sessions: HashMap::new(),
            dirty: false,
        };
        let (tx, rx) = mpsc::channel::<Msg>();
        let tick = (idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(10));
        let thread = std::thread::Builder::new()
            .name("kmn-gateway-log".into())
            .spawn(move || {
                loop {
                    let first = match rx.recv_timeout(tick) {
                        Ok(m) => Some(m),
                        Err(mpsc::RecvTimeoutError::Timeout) => None,
                        Err(mpsc::RecvTimeoutError::Disconnected) => Some(Msg::Stop),
                    };
                    let mut stop = false;
                    let mut handle = |m: Msg, w: &mut Writer| match m {
                        Msg::Event(e) => w.event(*e),
                        Msg::Stop => stop = true,
                    };
                    if let Some(m) = first {
                        handle(m, &mut w);
                        while let Ok(m) = rx.try_recv() {
                            handle(m, &mut w);
                        }
                    }
                    w.expire(OffsetDateTime::now_utc());
                    if stop {
                        let open: Vec<String> = w.sessions.keys().cloned().collect();
                        let mut open: Vec<Session> =
                            open.iter().filter_map(|k| w.sessions.remove(k)).collect();
                        open.sort_by_key(|s| s.last);
                        for s in open {
                            w.end(s);
                        }
                        w.sync();
                        break;
                    }
                    w.sync();
                }
            })
            .map_err(|e| format!("cannot start the log writer: {e}"))?;
        Ok((
            LogWriter {
                tx: tx.clone(),
                thread: Some(thread),
            },
            LoginLog { tx },
        ))
    }

    /// Ends every open session (at its last request), flushes and stops the thread.
    pub fn stop(mut self) {
        let _ = self.tx.send(Msg::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl LoginLog {
    pub fn record(&self, e: Event) {
        if self.tx.send(Msg::Event(Box::new(e))).is_err() {
            tracing::error!("the login record writer has stopped");
        }
    }
}

/// Filters for [`export_csv`].
#[derive(Debug, Clone, Default)]
pub struct ExportFilter {
    /// Inclusive.
    pub from: Option<OffsetDateTime>,
    /// Exclusive.
    pub to: Option<OffsetDateTime>,
    pub holder: Option<String>,
    pub facility: Option<String>,
}

/// The CSV columns.
pub const CSV_HEADER: &str = "seq,at,event,session,holder_id,facility_code,credential,cert_serial,remote,upstream,method,path,status,requests,reason";

fn csv_field(s: &str) -> String {
    // A cell a spreadsheet would run as a formula is prefixed with an apostrophe.
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// Checks the chain, then writes the matching records as CSV (UTF-8, CRLF, a header line;
/// times RFC 3339 in JST as recorded). A session's records all match a holder or facility
/// filter because they carry the session's identity. Returns the rows written.
pub fn export_csv(
    path: &Path,
    filter: &ExportFilter,
    out: &mut dyn Write,
) -> Result<usize, String> {
    let records = read_verified(path)?;
    let io = |e: std::io::Error| format!("cannot write the CSV: {e}");
    out.write_all(format!("{CSV_HEADER}\r\n").as_bytes())
        .map_err(io)?;
    let mut n = 0;
    for r in records {
        let at = OffsetDateTime::parse(&r.at, &time::format_description::well_known::Rfc3339)
            .map_err(|e| format!("record {}: bad time '{}': {e}", r.seq, r.at))?;
        if filter.from.is_some_and(|f| at < f) || filter.to.is_some_and(|t| at >= t) {
            continue;
        }
        if filter
            .holder
            .as_ref()
            .is_some_and(|h| r.holder_id.as_ref() != Some(h))
            || filter
                .facility
                .as_ref()
                .is_some_and(|f| r.facility_code.as_ref() != Some(f))
        {
            continue;
        }
        let o = |v: &Option<String>| csv_field(v.as_deref().unwrap_or(""));
        let line = [
            r.seq.to_string(),
            csv_field(&r.at),
            csv_field(&r.event),
            o(&r.session),
            o(&r.holder_id),
            o(&r.facility_code),
            o(&r.credential),
            o(&r.cert_serial),
            o(&r.remote),
            o(&r.upstream),
            o(&r.method),
            o(&r.path),
            r.status.map(|s| s.to_string()).unwrap_or_default(),
            r.requests.map(|s| s.to_string()).unwrap_or_default(),
            o(&r.reason),
        ]
        .join(",");
        out.write_all(format!("{line}\r\n").as_bytes())
            .map_err(io)?;
        n += 1;
    }
    Ok(n)
}

/// Parses `--from`/`--to`: RFC 3339, or a date `YYYY-MM-DD` meaning 00:00 JST of that day
/// (`end_of_day`: 00:00 JST of the next day, so `--to 2026-12-08` includes the 8th).
pub fn parse_bound(s: &str, end_of_day: bool) -> Result<OffsetDateTime, String> {
    if let Ok(t) = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Ok(t);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(s, &fmt).map_err(|_| {
        format!(
            "'{s}' is neither a date (2026-12-08) nor an RFC 3339 time (2026-12-08T09:00:00+09:00)"
        )
    })?;
    let d = if end_of_day {
        d.next_day().ok_or_else(|| format!("'{s}': no next day"))?
    } else {
        d
    };
    Ok(d.midnight().assume_offset(JST))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::CredentialKind;

    fn id(serial: &str) -> Identity {
        Identity {
            credential: CredentialKind::KmnCard,
            holder_id: "H0000001".into(),
            facility_code: Some("4310000001".into()),
            profession: None,
            cert_serial: serial.into(),
            subject: "CN=x".into(),
            bindings: Vec::new(),
        }
    }

    #[test]
    fn g1_login_record_sessions_and_tamper_evidence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("login.jsonl");
        let (w, log) = LogWriter::open(&path, FsyncPolicy::Batch, Duration::from_secs(60)).unwrap();
        // Times ahead of the clock, so that only the gaps between requests end a session.
        let t0 = OffsetDateTime::now_utc() + Duration::from_secs(3600);
        for (dt, p) in [(0, "/a"), (10, "/b"), (200, "/c")] {
            log.record(Event::Access {
                at: t0 + Duration::from_secs(dt),
                identity: id("0a"),
                remote: "127.0.0.1:1".into(),
                upstream: "u".into(),
                method: "GET".into(),
                path: p.into(),
                status: 200,
            });
        }
        w.stop();
        let recs = read_verified(&path).unwrap();
        let events: Vec<&str> = recs.iter().map(|r| r.event.as_str()).collect();
        assert_eq!(
            events,
            [
                "session_start",
                "access",
                "access",
                "session_end",
                "session_start",
                "access",
                "session_end"
            ]
        );
        assert_eq!(recs[3].at, rfc3339(t0 + Duration::from_secs(10)));
        assert!(recs[0].at.ends_with("+09:00"), "{}", recs[0].at);
        // Appending after a restart continues the chain.
        let (w, log) =
            LogWriter::open(&path, FsyncPolicy::Always, Duration::from_secs(60)).unwrap();
        log.record(Event::Refused {
            at: OffsetDateTime::now_utc(),
            identity: None,
            claimed: None,
            remote: "r".into(),
            method: "GET".into(),
            path: "/".into(),
            reason: "no_certificate".into(),
        });
        w.stop();
        assert_eq!(read_verified(&path).unwrap().len(), 8);
        let mut csv = Vec::new();
        let n = export_csv(&path, &ExportFilter::default(), &mut csv).unwrap();
        assert_eq!(n, 8);
        // Any edit shows.
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replacen("/b", "/x", 1)).unwrap();
        let e = read_verified(&path).unwrap_err();
        assert!(e.contains("line 3"), "{e}");
        let lines: Vec<&str> = text.lines().collect();
        std::fs::write(&path, format!("{}\n{}\n", lines[0], lines[2])).unwrap();
        let e = read_verified(&path).unwrap_err();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
        assert_eq!(csv_field("say \"x\""), "\"say \"\"x\"\"\"");
    }

    #[test]
    fn bounds_are_dates_in_jst_or_rfc3339() {
        let f = parse_bound("2026-12-08", false).unwrap();
        assert_eq!(f, time::macros::datetime!(2026-12-07 15:00 UTC));
        let t = parse_bound("2026-12-08", true).unwrap();
        assert_eq!(t, time::macros::datetime!(2026-12-08 15:00 UTC));
        assert!(parse_bound("8 Dec", false).is_err());
    }
}
