//! Path building, RFC 5280 §6.1 path validation and §6.3 CRL processing.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use crate::asn1::{fmt_time, oid_to_string};
use crate::cert::{Cert, DistributionPoint, GeneralName, ku, oid};
use crate::crl::{ALL_REASONS, Crl, REMOVE_FROM_CRL, reason_name};
use crate::error::VerifyError;
use crate::name::Name;
use crate::sig::{self, SigError, alg_name};
use crate::{Profile, Purpose, ValidatedPath, VerifyOptions};

/// Longest path considered (certificates including leaf and anchor).
const MAX_PATH_LEN: usize = 16;
/// How deeply CRL-signer validations may nest.
const MAX_SIGNER_DEPTH: usize = 4;
/// Upper bound on signature checks and path validations per call.
const WORK_BUDGET: usize = 4096;

const EMAIL_ADDRESS: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.1");

pub(crate) fn verify(
    leaf_der: &[u8],
    anchors: &[Vec<u8>],
    intermediates: &[Vec<u8>],
    crls: &[Vec<u8>],
    opts: &VerifyOptions,
) -> Result<ValidatedPath, VerifyError> {
    if anchors.is_empty() {
        return Err(VerifyError::NoTrustAnchors);
    }
    let malformed = |what: String| {
        move |e: crate::asn1::ParseError| VerifyError::Malformed {
            what,
            detail: e.to_string(),
        }
    };
    let mut certs = vec![Cert::parse(leaf_der).map_err(malformed("the leaf certificate".into()))?];
    for (i, der) in intermediates.iter().enumerate() {
        if certs.iter().any(|c| c.der == *der) || anchors.contains(der) {
            continue;
        }
        certs.push(
            Cert::parse(der).map_err(malformed(format!("intermediate certificate #{}", i + 1)))?,
        );
    }
    let anchor_start = certs.len();
    for (i, der) in anchors.iter().enumerate() {
        if certs.iter().skip(anchor_start).any(|c| c.der == *der) {
            continue;
        }
        certs.push(Cert::parse(der).map_err(malformed(format!("trust anchor #{}", i + 1)))?);
    }
    let mut parsed_crls = Vec::new();
    if opts.check_revocation {
        for (i, der) in crls.iter().enumerate() {
            parsed_crls.push(Crl::parse(der).map_err(malformed(format!("CRL #{}", i + 1)))?);
        }
    }
    let ctx = Ctx {
        certs,
        anchor_start,
        crls: parsed_crls,
        opts,
        at: opts.at.unix_timestamp(),
        legacy: matches!(opts.profile, Profile::Rfc5280),
        sig_cache: RefCell::new(HashMap::new()),
        signer_ok: RefCell::new(HashMap::new()),
        in_progress: RefCell::new(Vec::new()),
        budget: Cell::new(WORK_BUDGET),
    };
    // A trust anchor presented as the leaf is trusted as it is (a path of length zero); only
    // its validity period and the purpose/profile rules for the leaf apply.
    if anchors.iter().any(|a| a.as_slice() == leaf_der) {
        let leaf = ctx.cert(0)?;
        ctx.check_validity(leaf)?;
        ctx.check_leaf(leaf)?;
        return Ok(ValidatedPath {
            chain: vec![leaf.der.clone()],
            subjects: vec![leaf.subject_display.clone()],
            revocation_checked: opts.check_revocation,
        });
    }
    let path = ctx.find_path(0, true, None, 0)?;
    let certs = path
        .iter()
        .map(|i| ctx.cert(*i))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ValidatedPath {
        chain: certs.iter().map(|c| c.der.clone()).collect(),
        subjects: certs.iter().map(|c| c.subject_display.clone()).collect(),
        revocation_checked: opts.check_revocation,
    })
}

struct Ctx<'a> {
    /// Index 0 is the leaf, then intermediates, then (from `anchor_start`) trust anchors.
    certs: Vec<Cert>,
    anchor_start: usize,
    crls: Vec<Crl>,
    opts: &'a VerifyOptions,
    at: i64,
    legacy: bool,
    /// (child, issuer) -> result of verifying child's signature with issuer's key.
    sig_cache: RefCell<HashMap<(usize, usize), Result<(), VerifyError>>>,
    /// (crl, anchor) pairs whose signer has been validated.
    signer_ok: RefCell<HashMap<(usize, usize), ()>>,
    /// Certificates currently being validated as CRL signers (breaks cycles).
    in_progress: RefCell<Vec<usize>>,
    budget: Cell<usize>,
}

#[derive(Default)]
struct Search {
    found: Option<Vec<usize>>,
    path_error: Option<VerifyError>,
    /// First signature failure at the deepest level reached: (path length, error).
    sig_error: Option<(usize, VerifyError)>,
    /// Deepest certificate for which no issuer was found: (path length, cert).
    stuck: Option<(usize, usize)>,
}

fn internal(what: &str) -> VerifyError {
    VerifyError::Malformed {
        what: "the certification path".into(),
        detail: format!("internal error: {what} out of range"),
    }
}

fn subject(c: &Cert) -> String {
    c.subject_display.clone()
}

impl Ctx<'_> {
    /// Certificate `i`. Indices come from `certs` itself; one out of range would be a bug
    /// here, reported as an error rather than a panic.
    fn cert(&self, i: usize) -> Result<&Cert, VerifyError> {
        self.certs
            .get(i)
            .ok_or_else(|| internal("certificate index"))
    }

    /// CRL `k` (see [`Ctx::cert`]).
    fn crl(&self, k: usize) -> Result<&Crl, VerifyError> {
        self.crls.get(k).ok_or_else(|| internal("CRL index"))
    }

    fn is_anchor(&self, i: usize) -> bool {
        i >= self.anchor_start
    }

    fn spend(&self) -> bool {
        let b = self.budget.get();
        if b == 0 {
            return false;
        }
        self.budget.set(b - 1);
        true
    }

    /// Builds and validates a path for certificate `leaf`. `target` applies the purpose and
    /// profile checks to the leaf; `anchor` restricts the trust anchor (CRL signer paths must
    /// end at the anchor of the path being checked).
    fn find_path(
        &self,
        leaf: usize,
        target: bool,
        anchor: Option<usize>,
        depth: usize,
    ) -> Result<Vec<usize>, VerifyError> {
        let mut s = Search::default();
        let mut path = vec![leaf];
        self.dfs(&mut path, &mut s, target, anchor, depth);
        if let Some(p) = s.found {
            return Ok(p);
        }
        if let Some(e) = s.path_error {
            return Err(e);
        }
        // Report whatever stopped the search furthest from the leaf.
        let stuck_len = s.stuck.map_or(0, |(len, _)| len);
        if let Some((len, e)) = s.sig_error
            && len >= stuck_len
        {
            return Err(e);
        }
        let stuck = s.stuck.map(|(_, c)| c).unwrap_or(leaf);
        let c = self.cert(stuck)?;
        Err(VerifyError::NoIssuer {
            subject: subject(c),
            issuer: c.issuer.to_string(),
        })
    }

    fn issuer_candidates(&self, cur: usize, path: &[usize], anchor: Option<usize>) -> Vec<usize> {
        let Some(c) = self.certs.get(cur) else {
            return Vec::new();
        };
        let mut cands: Vec<(usize, &Cert)> = self
            .certs
            .iter()
            .enumerate()
            .skip(1)
            .filter(|&(i, _)| {
                if self.is_anchor(i) {
                    anchor.is_none_or(|a| a == i)
                } else {
                    !path.contains(&i)
                }
            })
            .filter(|(_, cand)| cand.subject.matches(&c.issuer))
            .collect();
        // Prefer a matching key identifier, then anchors (shorter paths).
        cands.sort_by_key(|&(i, cand)| {
            let key_mismatch = match (&c.aki, &cand.ski) {
                (Some(a), Some(s)) => a != s,
                _ => false,
            };
            (key_mismatch, !self.is_anchor(i))
        });
        cands.into_iter().map(|(i, _)| i).collect()
    }

    fn dfs(
        &self,
        path: &mut Vec<usize>,
        s: &mut Search,
        target: bool,
        anchor: Option<usize>,
        depth: usize,
    ) -> bool {
        let Some(&cur) = path.last() else {
            return false;
        };
        if path.len() >= MAX_PATH_LEN {
            return false;
        }
        let cands = self.issuer_candidates(cur, path, anchor);
        if cands.is_empty() && s.stuck.is_none_or(|(len, _)| path.len() > len) {
            s.stuck = Some((path.len(), cur));
        }
        for cand in cands {
            if !self.spend() {
                return false;
            }
            if let Err(e) = self.check_signature(cur, cand) {
                if s.sig_error
                    .as_ref()
                    .is_none_or(|(len, _)| path.len() > *len)
                {
                    s.sig_error = Some((path.len(), e));
                }
                continue;
            }
            path.push(cand);
            if self.is_anchor(cand) {
                match self.validate_path(path, target, depth) {
                    Ok(()) => {
                        s.found = Some(path.clone());
                        return true;
                    }
                    Err(e) => {
                        s.path_error.get_or_insert(e);
                    }
                }
            } else if self.dfs(path, s, target, anchor, depth) {
                return true;
            }
            path.pop();
        }
        false
    }

    fn check_signature(&self, child: usize, issuer: usize) -> Result<(), VerifyError> {
        if let Some(r) = self.sig_cache.borrow().get(&(child, issuer)) {
            return r.clone();
        }
        let (c, i) = (self.cert(child)?, self.cert(issuer)?);
        let r = match sig::verify(&c.sig_alg, &i.spki, &c.tbs, &c.signature, self.legacy) {
            Ok(()) => Ok(()),
            Err(SigError::Invalid) => Err(VerifyError::BadSignature {
                subject: subject(c),
                issuer: subject(i),
            }),
            Err(SigError::Unsupported(detail)) => Err(VerifyError::UnsupportedAlgorithm {
                subject: subject(c),
                detail,
            }),
        };
        self.sig_cache
            .borrow_mut()
            .insert((child, issuer), r.clone());
        r
    }

    /// RFC 5280 §6.1.3–6.1.5 on a complete path (leaf first, anchor last), then revocation.
    fn validate_path(&self, path: &[usize], target: bool, depth: usize) -> Result<(), VerifyError> {
        // Leaf first, anchor last; `chain` holds the certificates below the anchor.
        let (&anchor, below) = path.split_last().ok_or_else(|| internal("empty path"))?;
        let chain = below
            .iter()
            .map(|&i| self.cert(i))
            .collect::<Result<Vec<&Cert>, _>>()?;
        let n = chain.len();
        let mut max_path_len = n;
        for i in (0..n).rev() {
            let c = *chain.get(i).ok_or_else(|| internal("path position"))?;
            if c.inner_alg_raw != c.outer_alg_raw {
                return Err(VerifyError::AlgorithmMismatch {
                    subject: subject(c),
                    inner: alg_name(&c.inner_alg.oid),
                    outer: alg_name(&c.sig_alg.oid),
                });
            }
            self.check_validity(c)?;
            if let Some(o) = c.unknown_critical.first() {
                return Err(VerifyError::UnknownCriticalExtension {
                    subject: subject(c),
                    oid: oid_to_string(o),
                });
            }
            // Name constraints of every CA above this certificate.
            if i == 0 || !c.is_self_issued() {
                for ca in chain.iter().skip(i + 1) {
                    self.check_name_constraints(c, ca)?;
                }
            }
            if let Some(child) = i.checked_sub(1).and_then(|below| chain.get(below)) {
                if !c.is_ca() {
                    let detail = if c.version < 2 {
                        format!("it is a v{} certificate", c.version + 1)
                    } else if c.basic_constraints.is_none() {
                        "it has no basicConstraints extension".to_string()
                    } else {
                        "basicConstraints cA is false".to_string()
                    };
                    return Err(VerifyError::NotCa {
                        subject: subject(c),
                        child: subject(child),
                        detail,
                    });
                }
                if !c.has_key_usage(ku::KEY_CERT_SIGN) {
                    return Err(VerifyError::NoKeyCertSign {
                        subject: subject(c),
                    });
                }
                if !c.is_self_issued() {
                    if max_path_len == 0 {
                        return Err(VerifyError::PathLengthExceeded {
                            subject: subject(c),
                        });
                    }
                    max_path_len -= 1;
                }
                if let Some(pl) = c.basic_constraints.and_then(|b| b.path_len) {
                    max_path_len = max_path_len.min(pl as usize);
                }
            } else if target {
                self.check_leaf(c)?;
            }
        }
        if self.opts.check_revocation {
            // Each certificate with the one above it, from the anchor's child down.
            for pair in path.windows(2).rev() {
                if let [ci, issuer] = *pair {
                    self.check_revocation(ci, issuer, anchor, depth)?;
                }
            }
        }
        Ok(())
    }

    fn check_validity(&self, c: &Cert) -> Result<(), VerifyError> {
        if self.at < c.not_before {
            return Err(VerifyError::NotYetValid {
                subject: subject(c),
                not_before: fmt_time(c.not_before),
            });
        }
        if self.at > c.not_after {
            return Err(VerifyError::Expired {
                subject: subject(c),
                not_after: fmt_time(c.not_after),
            });
        }
        Ok(())
    }

    fn check_leaf(&self, c: &Cert) -> Result<(), VerifyError> {
        let client_auth = oid::KP_CLIENT_AUTH.as_bytes();
        let has_client_auth = c
            .eku
            .as_ref()
            .map(|l| l.iter().any(|o| o.as_slice() == client_auth));
        let kmn = matches!(self.opts.profile, Profile::Kmn { .. });
        if self.opts.purpose == Purpose::ClientAuth {
            match has_client_auth {
                Some(true) => {}
                Some(false) => {
                    return Err(VerifyError::WrongPurpose {
                        subject: subject(c),
                        purpose: "client authentication".into(),
                        detail: "its extendedKeyUsage does not include id-kp-clientAuth".into(),
                    });
                }
                None if kmn => {
                    return Err(VerifyError::WrongPurpose {
                        subject: subject(c),
                        purpose: "client authentication".into(),
                        detail: "it has no extendedKeyUsage extension".into(),
                    });
                }
                None => {}
            }
        }
        if let Profile::Kmn { policy_oids } = &self.opts.profile {
            let violation = |detail: String| VerifyError::ProfileViolation {
                subject: subject(c),
                detail,
            };
            if has_client_auth != Some(true) {
                return Err(violation(
                    "extendedKeyUsage must be present and include id-kp-clientAuth".into(),
                ));
            }
            match &c.policies {
                None => return Err(violation("it has no certificatePolicies extension".into())),
                Some(p) if p.is_empty() => {
                    return Err(violation(
                        "its certificatePolicies extension is empty".into(),
                    ));
                }
                Some(p) => {
                    if !policy_oids.is_empty()
                        && !p
                            .iter()
                            .any(|o| policy_oids.iter().any(|w| w.as_bytes() == o.as_slice()))
                    {
                        let have: Vec<String> = p.iter().map(|o| oid_to_string(o)).collect();
                        let want: Vec<String> = policy_oids.iter().map(|o| o.to_string()).collect();
                        return Err(violation(format!(
                            "none of its certificate policies ({}) is accepted ({})",
                            have.join(", "),
                            want.join(", ")
                        )));
                    }
                }
            }
            match c.key_usage {
                Some(k) if k & ku::DIGITAL_SIGNATURE != 0 => {}
                Some(_) => return Err(violation("its keyUsage lacks digitalSignature".into())),
                None => return Err(violation("it has no keyUsage extension".into())),
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- name constraints

    fn check_name_constraints(&self, c: &Cert, ca: &Cert) -> Result<(), VerifyError> {
        let Some(nc) = &ca.name_constraints else {
            return Ok(());
        };
        let fail = |detail: String| VerifyError::NameConstraintViolation {
            subject: subject(c),
            ca: subject(ca),
            detail,
        };
        let mut names: Vec<GeneralName> = Vec::new();
        if !c.subject.is_empty() {
            names.push(GeneralName::Directory(c.subject.clone()));
        }
        match &c.san {
            Some(san) => names.extend(san.iter().cloned()),
            None => names.extend(
                c.subject
                    .values_of(EMAIL_ADDRESS.as_bytes())
                    .into_iter()
                    .map(GeneralName::Rfc822),
            ),
        }
        for name in &names {
            let same_kind: Vec<&GeneralName> = nc
                .permitted
                .iter()
                .filter(|b| b.kind() == name.kind())
                .collect();
            if !same_kind.is_empty() && !same_kind.iter().any(|b| within(name, b)) {
                return Err(fail(format!(
                    "{} is not within the permitted subtrees",
                    describe(name)
                )));
            }
            if nc
                .excluded
                .iter()
                .any(|b| b.kind() == name.kind() && within(name, b))
            {
                return Err(fail(format!(
                    "{} is within an excluded subtree",
                    describe(name)
                )));
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- revocation

    /// RFC 5280 §6.3.3 for certificate `ci`, whose issuer on the path is `issuer`.
    fn check_revocation(
        &self,
        ci: usize,
        issuer: usize,
        anchor: usize,
        depth: usize,
    ) -> Result<(), VerifyError> {
        let cert = self.cert(ci)?;
        let dps: Vec<DistributionPoint> = cert
            .crl_dps
            .clone()
            .unwrap_or_else(|| vec![DistributionPoint::default()]);
        let mut mask = 0u32;
        let mut problems: Vec<String> = Vec::new();
        let mut note = |p: String| {
            if !problems.contains(&p) {
                problems.push(p);
            }
        };
        for (k, crl) in self.crls.iter().enumerate() {
            if crl.is_delta {
                continue;
            }
            for dp in &dps {
                let interim = match crl_scope(crl, cert, dp) {
                    Ok(m) => m,
                    Err(None) => continue,
                    Err(Some(why)) => {
                        note(format!("CRL of '{}': {why}", crl.issuer_display));
                        continue;
                    }
                };
                if let Err(why) = self.crl_usable(k) {
                    note(format!("CRL of '{}': {why}", crl.issuer_display));
                    continue;
                }
                if let Err(why) = self.crl_signer(k, issuer, anchor, depth) {
                    note(format!("CRL of '{}': {why}", crl.issuer_display));
                    continue;
                }
                if let Some(e) = crl.lookup(&cert.serial, &cert.issuer)
                    && e.reason != Some(REMOVE_FROM_CRL)
                {
                    return Err(VerifyError::Revoked {
                        subject: subject(cert),
                        date: fmt_time(e.revocation_date),
                        reason: reason_name(e.reason.unwrap_or(0)).to_string(),
                    });
                }
                mask |= interim;
            }
        }
        if mask & ALL_REASONS == ALL_REASONS {
            return Ok(());
        }
        let detail = if !problems.is_empty() {
            format!(": {}", problems.join("; "))
        } else if mask != 0 {
            ": the CRLs supplied do not cover all revocation reasons".to_string()
        } else {
            let issuers: Vec<String> = dps
                .iter()
                .filter_map(|d| d.crl_issuer.as_ref())
                .flatten()
                .filter_map(|g| match g {
                    GeneralName::Directory(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect();
            let who = if issuers.is_empty() {
                cert.issuer.to_string()
            } else {
                issuers.join("' or '")
            };
            format!(": no CRL issued by '{who}' was supplied")
        };
        Err(VerifyError::NoCrl {
            subject: subject(cert),
            detail,
        })
    }

    /// Currency and extension checks that do not depend on the certificate.
    fn crl_usable(&self, k: usize) -> Result<(), String> {
        let crl = self.crl(k).map_err(|e| e.to_string())?;
        if crl.this_update > self.at {
            return Err(format!(
                "it is not valid before {}",
                fmt_time(crl.this_update)
            ));
        }
        match crl.next_update {
            None => return Err("it has no nextUpdate".into()),
            Some(t) if t < self.at => {
                return Err(format!("it is out of date (nextUpdate {})", fmt_time(t)));
            }
            Some(_) => {}
        }
        if let Some(o) = crl.unknown_critical.first() {
            return Err(format!(
                "it has an unsupported critical extension {}",
                oid_to_string(o)
            ));
        }
        if let Some(o) = crl.unknown_critical_entry.first() {
            return Err(format!(
                "it has an unsupported critical entry extension {}",
                oid_to_string(o)
            ));
        }
        if crl.inner_alg_raw != crl.outer_alg_raw {
            return Err("its inner and outer signature algorithms differ".into());
        }
        Ok(())
    }

    /// Finds a certificate allowed to sign CRL `k`, whose key verifies it and that has a valid
    /// path to `anchor` (RFC 5280 §6.3.3 (f), (g)).
    fn crl_signer(
        &self,
        k: usize,
        issuer: usize,
        anchor: usize,
        depth: usize,
    ) -> Result<(), String> {
        if self.signer_ok.borrow().contains_key(&(k, anchor)) {
            return Ok(());
        }
        let crl = self.crl(k).map_err(|e| e.to_string())?;
        let mut cands: Vec<usize> = vec![issuer];
        if anchor != issuer {
            cands.push(anchor);
        }
        let mut others: Vec<usize> = (1..self.anchor_start).filter(|i| *i != issuer).collect();
        // Certificates whose key identifier matches the CRL's authorityKeyIdentifier first.
        others.sort_by_key(|&i| match (&crl.aki, self.certs.get(i).map(|c| &c.ski)) {
            (Some(a), Some(Some(s))) => a != s,
            _ => true,
        });
        cands.extend(others);
        let mut reasons: Vec<String> = Vec::new();
        let mut any_named = false;
        for cand in cands {
            let Some(c) = self.certs.get(cand) else {
                continue;
            };
            if !c.subject.matches(&crl.issuer) {
                continue;
            }
            any_named = true;
            if !c.has_key_usage(ku::CRL_SIGN) {
                reasons.push(format!(
                    "'{}' may not sign CRLs (its keyUsage lacks cRLSign)",
                    c.subject_display
                ));
                continue;
            }
            if !self.spend() {
                reasons.push("validation work limit reached".into());
                break;
            }
            match sig::verify(&crl.sig_alg, &c.spki, &crl.tbs, &crl.signature, self.legacy) {
                Ok(()) => {}
                Err(SigError::Invalid) => {
                    reasons.push(format!(
                        "its signature does not verify with the key of '{}'",
                        c.subject_display
                    ));
                    continue;
                }
                Err(SigError::Unsupported(d)) => {
                    reasons.push(format!("unsupported algorithm: {d}"));
                    continue;
                }
            }
            let trusted =
                cand == issuer || cand == anchor || self.in_progress.borrow().contains(&cand);
            if !trusted {
                if depth >= MAX_SIGNER_DEPTH {
                    reasons.push("CRL signer validation nested too deeply".into());
                    continue;
                }
                self.in_progress.borrow_mut().push(cand);
                let r = self.find_path(cand, false, Some(anchor), depth + 1);
                self.in_progress.borrow_mut().pop();
                if let Err(e) = r {
                    reasons.push(format!(
                        "its signer certificate '{}' is not valid: {e}",
                        c.subject_display
                    ));
                    continue;
                }
            }
            // Results that may rest on a signer still being validated (a cycle) are not kept.
            if self.in_progress.borrow().is_empty() {
                self.signer_ok.borrow_mut().insert((k, anchor), ());
            }
            return Ok(());
        }
        if !any_named {
            reasons.push("no certificate of the CRL issuer was supplied".into());
        }
        Err(reasons.join("; "))
    }
}

/// RFC 5280 §6.3.3 (b) and (c): does `crl` cover `cert` through distribution point `dp`?
/// Returns the reasons it covers, `Err(None)` if the CRL is not addressed to this
/// certificate at all, `Err(Some(why))` if it is but cannot be used.
fn crl_scope(crl: &Crl, cert: &Cert, dp: &DistributionPoint) -> Result<u32, Option<String>> {
    if let Some(ci) = &dp.crl_issuer {
        let named = ci
            .iter()
            .any(|g| matches!(g, GeneralName::Directory(n) if n.matches(&crl.issuer)));
        if !named {
            return Err(None);
        }
        if !crl.idp.as_ref().is_some_and(|i| i.indirect) {
            return Err(Some(
                "the certificate names it as cRLIssuer but it is not an indirect CRL".into(),
            ));
        }
    } else if !crl.issuer.matches(&cert.issuer) {
        return Err(None);
    }
    let mut reasons = dp.reasons.unwrap_or(ALL_REASONS);
    if let Some(idp) = &crl.idp {
        if let Some(idp_dp) = &idp.dp {
            let idp_names = idp_dp.full_names(&crl.issuer);
            let matched = if let Some(dpn) = &dp.name {
                let base: &Name = dp
                    .crl_issuer
                    .as_ref()
                    .and_then(|ci| {
                        ci.iter().find_map(|g| match g {
                            GeneralName::Directory(n) => Some(n),
                            _ => None,
                        })
                    })
                    .unwrap_or(&cert.issuer);
                dpn.full_names(base)
                    .iter()
                    .any(|a| idp_names.iter().any(|b| a.matches(b)))
            } else if let Some(ci) = &dp.crl_issuer {
                ci.iter().any(|a| idp_names.iter().any(|b| a.matches(b)))
            } else {
                false
            };
            if !matched {
                return Err(Some(
                    "its issuing distribution point does not match the certificate's CRL distribution points"
                        .into(),
                ));
            }
        }
        let is_ca = cert.basic_constraints.is_some_and(|b| b.ca);
        if idp.only_user && is_ca {
            return Err(Some(
                "it covers only end-entity certificates, and this is a CA certificate".into(),
            ));
        }
        if idp.only_ca && !is_ca {
            return Err(Some(
                "it covers only CA certificates, and this is an end-entity certificate".into(),
            ));
        }
        if idp.only_attribute {
            return Err(Some("it covers only attribute certificates".into()));
        }
        if let Some(some) = idp.only_some_reasons {
            reasons &= some;
        }
    }
    Ok(reasons & ALL_REASONS)
}

fn describe(n: &GeneralName) -> String {
    match n {
        GeneralName::Directory(d) => format!("directory name '{d}'"),
        GeneralName::Rfc822(s) => format!("email address '{s}'"),
        GeneralName::Dns(s) => format!("DNS name '{s}'"),
        GeneralName::Uri(s) => format!("URI '{s}'"),
        GeneralName::Ip(b) => format!("IP address {}", hex::encode(b)),
        GeneralName::Other(t, _) => format!("name of type [{}]", t & 0x1f),
    }
}

/// Is `name` inside the subtree rooted at `base` (same name form)?
fn within(name: &GeneralName, base: &GeneralName) -> bool {
    match (name, base) {
        (GeneralName::Directory(n), GeneralName::Directory(b)) => n.within(b),
        (GeneralName::Rfc822(n), GeneralName::Rfc822(b)) => email_within(n, b),
        (GeneralName::Dns(n), GeneralName::Dns(b)) => dns_within(n, b),
        (GeneralName::Uri(n), GeneralName::Uri(b)) => {
            uri_host(n).is_some_and(|h| host_within(&h, b))
        }
        (GeneralName::Ip(n), GeneralName::Ip(b)) => match b.split_at_checked(n.len()) {
            Some((net, mask)) if mask.len() == n.len() => n
                .iter()
                .zip(net)
                .zip(mask)
                .all(|((a, net), mask)| a & mask == net & mask),
            _ => false,
        },
        // Other name forms: only an identical name is taken to be inside the subtree.
        (GeneralName::Other(t1, a), GeneralName::Other(t2, b)) => t1 == t2 && a == b,
        _ => false,
    }
}

fn email_within(email: &str, base: &str) -> bool {
    let email = email.to_ascii_lowercase();
    let base = base.to_ascii_lowercase();
    let Some((_, host)) = email.rsplit_once('@') else {
        return false;
    };
    if base.contains('@') {
        email == base
    } else if base.starts_with('.') {
        host.ends_with(&base)
    } else {
        host == base
    }
}

fn dns_within(name: &str, base: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let base = base.trim_end_matches('.').to_ascii_lowercase();
    if base.is_empty() {
        return true;
    }
    if let Some(stripped) = base.strip_prefix('.') {
        return name.ends_with(&format!(".{stripped}"));
    }
    name == base || name.ends_with(&format!(".{base}"))
}

fn host_within(host: &str, base: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let base = base.to_ascii_lowercase();
    if base.starts_with('.') {
        host.ends_with(&base)
    } else {
        host == base
    }
}

fn uri_host(uri: &str) -> Option<String> {
    let rest = uri.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        hostport.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_string())
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn constraint_matching() {
        assert!(dns_within("host.example.com", "example.com"));
        assert!(dns_within("example.com", "example.com"));
        assert!(!dns_within("badexample.com", "example.com"));
        assert!(!dns_within("example.com", ".example.com"));
        assert!(email_within("a@mail.example.com", ".example.com"));
        assert!(!email_within("a@example.com", ".example.com"));
        assert!(email_within("a@example.com", "example.com"));
        assert!(email_within("A@Example.com", "a@example.com"));
        assert_eq!(
            uri_host("http://u@Host.example:80/x").as_deref(),
            Some("Host.example")
        );
        assert!(host_within("host.example", "host.example"));
        assert!(within(
            &GeneralName::Ip(vec![10, 1, 2, 3]),
            &GeneralName::Ip(vec![10, 0, 0, 0, 255, 0, 0, 0])
        ));
    }
}
