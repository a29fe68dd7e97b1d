//! Path building, RFC 5280 §6.1 path validation and §6.3 CRL processing.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use crate::asn1::{fmt_time, oid_to_string};
use crate::cert::{Cert, DistributionPoint, GeneralName, ku, oid};
use crate::crl::{ALL_REASONS, Crl, REMOVE_FROM_CRL, reason_name};
use crate::error::VerifyError;
use crate::name::Name;
use crate::revocation::RevocationSnapshot;
use crate::sig::{self, SigError, alg_name};
use crate::{
    MAX_INTERMEDIATES, MAX_NAME_CONSTRAINT_COMPARISONS, Profile, Purpose, ValidatedPath,
    VerifyOptions,
};

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
    index: Option<&RevocationSnapshot>,
    opts: &VerifyOptions,
) -> Result<ValidatedPath, VerifyError> {
    // With an index, revocation is always checked, from the index only.
    let revocation = opts.check_revocation || index.is_some();
    if anchors.is_empty() {
        return Err(VerifyError::NoTrustAnchors);
    }
    if let Some(name) = &opts.dns_name {
        check_dns_name_syntax(name)?;
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
    if opts.check_revocation && index.is_none() {
        for (i, der) in crls.iter().enumerate() {
            parsed_crls.push(Crl::parse(der).map_err(malformed(format!("CRL #{}", i + 1)))?);
        }
    }
    let ctx = Ctx {
        certs,
        anchor_start,
        crls: parsed_crls,
        index,
        revocation,
        opts,
        at: opts.at.unix_timestamp(),
        legacy: matches!(opts.profile, Profile::Rfc5280),
        crl_grace: match &opts.profile {
            Profile::Hpki { crl_grace, .. } => {
                i64::try_from(crl_grace.as_secs()).unwrap_or(i64::MAX)
            }
            _ => 0,
        },
        sig_cache: RefCell::new(HashMap::new()),
        signer_ok: RefCell::new(HashMap::new()),
        in_progress: RefCell::new(Vec::new()),
        budget: Cell::new(WORK_BUDGET),
        nc_budget: Cell::new(MAX_NAME_CONSTRAINT_COMPARISONS),
    };
    // A trust anchor presented as the leaf is trusted as it is (a path of length zero); its
    // validity period, its extensions and the purpose/profile rules for the leaf apply.
    if anchors.iter().any(|a| a.as_slice() == leaf_der) {
        let leaf = ctx.cert(0)?;
        ctx.check_validity(leaf)?;
        ctx.check_extensions(leaf)?;
        ctx.check_leaf(leaf)?;
        if let Some(name) = &opts.dns_name {
            check_dns_name(leaf, name)?;
        }
        return Ok(ValidatedPath {
            chain: vec![leaf.der.clone()],
            subjects: vec![leaf.subject_display.clone()],
            revocation_checked: revocation,
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
        revocation_checked: revocation,
    })
}

struct Ctx<'a> {
    /// Index 0 is the leaf, then intermediates, then (from `anchor_start`) trust anchors.
    certs: Vec<Cert>,
    anchor_start: usize,
    crls: Vec<Crl>,
    /// Revocation from prebuilt indexes instead of `crls`.
    index: Option<&'a RevocationSnapshot>,
    /// Whether revocation is checked (from `index` or `crls`).
    revocation: bool,
    opts: &'a VerifyOptions,
    at: i64,
    legacy: bool,
    /// Extra seconds past a CRL's nextUpdate during which it is still used (HPKI).
    crl_grace: i64,
    /// (child, issuer) -> result of verifying child's signature with issuer's key.
    sig_cache: RefCell<HashMap<(usize, usize), Result<(), VerifyError>>>,
    /// (crl, anchor) pairs whose signer has been validated.
    signer_ok: RefCell<HashMap<(usize, usize), ()>>,
    /// Certificates currently being validated as CRL signers (breaks cycles).
    in_progress: RefCell<Vec<usize>>,
    budget: Cell<usize>,
    /// Name comparisons left for name constraints.
    nc_budget: Cell<usize>,
}

#[derive(Default)]
struct Search {
    found: Option<Vec<usize>>,
    path_error: Option<VerifyError>,
    /// First signature failure at the deepest level reached: (path length, error).
    sig_error: Option<(usize, VerifyError)>,
    /// Deepest certificate for which no issuer was found: (path length, cert).
    stuck: Option<(usize, usize)>,
    /// A path would have needed more than MAX_INTERMEDIATES intermediates.
    too_long: bool,
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
        if s.too_long {
            return Err(VerifyError::PathTooLong {
                subject: subject(self.cert(leaf)?),
                max: MAX_INTERMEDIATES,
            });
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
        let cands = self.issuer_candidates(cur, path, anchor);
        if cands.is_empty() && s.stuck.is_none_or(|(len, _)| path.len() > len) {
            s.stuck = Some((path.len(), cur));
        }
        for cand in cands {
            // `path` holds the leaf and the intermediates so far.
            if !self.is_anchor(cand) && path.len() > MAX_INTERMEDIATES {
                s.too_long = true;
                continue;
            }
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
    ///
    /// The trust anchor is a certificate here and its own constraints apply as well: its
    /// validity period, basicConstraints (cA and pathLenConstraint), keyUsage, nameConstraints
    /// and extensions (RFC 5937 §2 and §3 make this optional; this library does it).
    fn validate_path(&self, path: &[usize], target: bool, depth: usize) -> Result<(), VerifyError> {
        let anchor = *path.last().ok_or_else(|| internal("empty path"))?;
        let chain = path
            .iter()
            .map(|&i| self.cert(i))
            .collect::<Result<Vec<&Cert>, _>>()?;
        // Certificates below the anchor.
        let n = chain.len() - 1;
        let mut max_path_len = n;
        for i in (0..chain.len()).rev() {
            let c = *chain.get(i).ok_or_else(|| internal("path position"))?;
            let is_anchor = i == n;
            if !is_anchor && c.inner_alg_raw != c.outer_alg_raw {
                return Err(VerifyError::AlgorithmMismatch {
                    subject: subject(c),
                    inner: alg_name(&c.inner_alg.oid),
                    outer: alg_name(&c.sig_alg.oid),
                });
            }
            self.check_validity(c)?;
            self.check_extensions(c)?;
            // Name constraints of every CA above this certificate, the anchor included.
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
                // The anchor itself is not counted, but its pathLenConstraint applies.
                if !is_anchor && !c.is_self_issued() {
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
                if target {
                    self.check_ca_purpose(c)?;
                }
            } else if target {
                self.check_leaf(c)?;
                if let Some(name) = &self.opts.dns_name {
                    check_dns_name(c, name)?;
                }
            }
        }
        if self.revocation {
            // Each certificate with the one above it, from the anchor's child down.
            for pair in path.windows(2).rev() {
                if let [ci, issuer] = *pair {
                    if let Some(index) = self.index {
                        index.check_cert(
                            self.cert(ci)?,
                            self.cert(issuer)?,
                            self.at,
                            self.crl_grace,
                        )?;
                        continue;
                    }
                    self.check_revocation(ci, issuer, anchor, depth)?;
                }
            }
        }
        Ok(())
    }

    /// Extension rules for every certificate of the path, the anchor included.
    fn check_extensions(&self, c: &Cert) -> Result<(), VerifyError> {
        if let Some(o) = c.unknown_critical.first() {
            return Err(VerifyError::UnknownCriticalExtension {
                subject: subject(c),
                oid: oid_to_string(o),
            });
        }
        if let Some(o) = c.wrongly_critical.first() {
            let (name, section) = extension_name(o);
            return Err(VerifyError::InvalidCertificate {
                subject: subject(c),
                detail: format!(
                    "its {name} extension is marked critical, which RFC 5280 {section} forbids"
                ),
            });
        }
        if let Some(o) = c.policy_controls.first() {
            return Err(VerifyError::PolicyProcessingRefused {
                subject: subject(c),
                extension: extension_name(o).0.to_string(),
            });
        }
        Ok(())
    }

    /// The key purpose `opts.purpose` requires, with its name.
    fn purpose_oid(&self) -> Option<(der::asn1::ObjectIdentifier, &'static str)> {
        match self.opts.purpose {
            Purpose::Any => None,
            Purpose::ClientAuth => Some((oid::KP_CLIENT_AUTH, "id-kp-clientAuth")),
            Purpose::ServerAuth => Some((oid::KP_SERVER_AUTH, "id-kp-serverAuth")),
        }
    }

    /// A CA certificate's extendedKeyUsage, if it has one, restricts the certificates below
    /// it (the reading of CA/Browser Forum and rustls-webpki; RFC 5280 leaves it open).
    fn check_ca_purpose(&self, c: &Cert) -> Result<(), VerifyError> {
        let (Some((want, name)), Some(eku)) = (self.purpose_oid(), &c.eku) else {
            return Ok(());
        };
        if eku.iter().any(|o| o.as_slice() == want.as_bytes()) {
            return Ok(());
        }
        Err(VerifyError::WrongPurpose {
            subject: subject(c),
            purpose: self.opts.purpose.describe().into(),
            detail: format!(
                "it is a CA certificate whose extendedKeyUsage, which binds every certificate below it, does not include {name}"
            ),
        })
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
        // The kmn profile's leaf is a client certificate unless the purpose says server.
        let (want, want_name) = self
            .purpose_oid()
            .unwrap_or((oid::KP_CLIENT_AUTH, "id-kp-clientAuth"));
        let has_purpose = c
            .eku
            .as_ref()
            .map(|l| l.iter().any(|o| o.as_slice() == want.as_bytes()));
        if self.opts.purpose != Purpose::Any {
            let wrong = |detail: String| VerifyError::WrongPurpose {
                subject: subject(c),
                purpose: self.opts.purpose.describe().into(),
                detail,
            };
            if c.is_ca() {
                return Err(wrong(
                    "it is a CA certificate (basicConstraints cA is true), not an end-entity certificate"
                        .into(),
                ));
            }
            match has_purpose {
                Some(true) => {}
                Some(false) => {
                    return Err(wrong(format!(
                        "its extendedKeyUsage does not include {want_name}"
                    )));
                }
                // HPKI authentication certificates need no extendedKeyUsage.
                None if matches!(self.opts.profile, Profile::Hpki { .. })
                    && self.opts.purpose == Purpose::ClientAuth => {}
                None => {
                    return Err(wrong(format!(
                        "it has no extendedKeyUsage extension (one with {want_name} is required)"
                    )));
                }
            }
        }
        if let Profile::Hpki {
            auth_policy_oids,
            signature_policy_oids,
            ..
        } = &self.opts.profile
        {
            check_hpki_leaf(c, auth_policy_oids, signature_policy_oids)?;
        }
        if let Profile::Kmn { policy_oids } = &self.opts.profile {
            let violation = |detail: String| VerifyError::ProfileViolation {
                subject: subject(c),
                detail,
            };
            if has_purpose != Some(true) {
                return Err(violation(format!(
                    "extendedKeyUsage must be present and include {want_name}"
                )));
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
        // Bounded work: the comparisons are counted before any is made.
        let name_count = usize::from(!c.subject.is_empty())
            + match &c.san {
                Some(san) => san.len(),
                None => c.subject.values_of(EMAIL_ADDRESS.as_bytes()).len(),
            };
        let subtrees = nc.permitted.len() + nc.excluded.len();
        let cost = name_count.saturating_mul(subtrees);
        let left = self.nc_budget.get();
        if cost > left {
            return Err(VerifyError::TooComplex {
                subject: subject(c),
                detail: format!(
                    "checking its {name_count} names against the {subtrees} name-constraint subtrees of '{}' would exceed the limit of {MAX_NAME_CONSTRAINT_COMPARISONS} name comparisons per validation",
                    subject(ca)
                ),
            });
        }
        self.nc_budget.set(left - cost);
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
            Some(t) if t.saturating_add(self.crl_grace) < self.at => {
                return Err(format!("it is out of date (nextUpdate {})", fmt_time(t)));
            }
            Some(_) => {}
        }
        crl_structure_problem(crl).map_or(Ok(()), Err)
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

/// The checks of a CRL that depend neither on the time nor on the certificate: cRLNumber
/// present, no wrongly critical or unknown critical (entry) extension, matching signature
/// algorithms. `Some(why)` when the CRL may not be used.
pub(crate) fn crl_structure_problem(crl: &Crl) -> Option<String> {
    if crl.number.is_none() {
        return Some(
            "it has no cRLNumber extension (RFC 5280 §5.2.3; this library requires it)".into(),
        );
    }
    if let Some(o) = crl.wrongly_critical.first() {
        let (name, section) = match extension_name(o).0 {
            "authorityKeyIdentifier" => ("authorityKeyIdentifier", "§5.2.1"),
            "freshestCRL" => ("freshestCRL", "§5.2.6"),
            _ => ("authorityInfoAccess", "§5.2.7"),
        };
        return Some(format!(
            "its {name} extension is marked critical, which RFC 5280 {section} forbids"
        ));
    }
    if let Some(o) = crl.unknown_critical.first() {
        return Some(format!(
            "it has an unsupported critical extension {}",
            oid_to_string(o)
        ));
    }
    if let Some(o) = crl.unknown_critical_entry.first() {
        return Some(format!(
            "it has an unsupported critical entry extension {}",
            oid_to_string(o)
        ));
    }
    if crl.inner_alg_raw != crl.outer_alg_raw {
        return Some("its inner and outer signature algorithms differ".into());
    }
    None
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

/// The name of an extension this library names in errors, with its RFC 5280 section.
fn extension_name(o: &[u8]) -> (&'static str, &'static str) {
    let table = [
        (oid::AUTHORITY_KEY_ID, "authorityKeyIdentifier", "§4.2.1.1"),
        (oid::SUBJECT_KEY_ID, "subjectKeyIdentifier", "§4.2.1.2"),
        (
            oid::SUBJECT_DIRECTORY_ATTRIBUTES,
            "subjectDirectoryAttributes",
            "§4.2.1.8",
        ),
        (oid::FRESHEST_CRL, "freshestCRL", "§4.2.1.15"),
        (
            oid::AUTHORITY_INFO_ACCESS,
            "authorityInfoAccess",
            "§4.2.2.1",
        ),
        (oid::SUBJECT_INFO_ACCESS, "subjectInfoAccess", "§4.2.2.2"),
        (oid::POLICY_MAPPINGS, "policyMappings", "§4.2.1.5"),
        (oid::POLICY_CONSTRAINTS, "policyConstraints", "§4.2.1.11"),
        (oid::INHIBIT_ANY_POLICY, "inhibitAnyPolicy", "§4.2.1.14"),
    ];
    table
        .iter()
        .find(|(id, _, _)| id.as_bytes() == o)
        .map_or(("an", "§4.2"), |(_, name, section)| (*name, *section))
}

/// The HPKI authentication-certificate rules of [`Profile::Hpki`] for the leaf.
fn check_hpki_leaf(
    c: &Cert,
    auth: &[der::asn1::ObjectIdentifier],
    signature: &[der::asn1::ObjectIdentifier],
) -> Result<(), VerifyError> {
    use crate::credential::oid_within;
    let violation = |detail: String| VerifyError::NotHpkiAuthentication {
        subject: subject(c),
        detail,
    };
    let policies = c.policies.clone().unwrap_or_default();
    if let Some(p) = policies
        .iter()
        .find(|p| signature.iter().any(|w| oid_within(p, w)))
    {
        return Err(violation(format!(
            "it is an HPKI signature certificate (certificate policy {}), not the authentication certificate: only the authentication certificate of an HPKI card may be used to log in",
            oid_to_string(p)
        )));
    }
    if c.key_usage.is_some_and(|k| k & ku::NON_REPUDIATION != 0) {
        return Err(violation(
            "its keyUsage has nonRepudiation (contentCommitment): it is an HPKI signature certificate, not the authentication certificate; only the authentication certificate of an HPKI card may be used to log in".into(),
        ));
    }
    if !policies
        .iter()
        .any(|p| auth.iter().any(|w| oid_within(p, w)))
    {
        let have: Vec<String> = policies.iter().map(|o| oid_to_string(o)).collect();
        let want: Vec<String> = auth.iter().map(|o| o.to_string()).collect();
        return Err(violation(format!(
            "it is not an HPKI authentication certificate: none of its certificate policies ({}) is an accepted authentication policy ({})",
            if have.is_empty() {
                "none".to_string()
            } else {
                have.join(", ")
            },
            want.join(", ")
        )));
    }
    match c.key_usage {
        Some(k) if k & ku::DIGITAL_SIGNATURE != 0 => Ok(()),
        Some(_) => Err(violation("its keyUsage lacks digitalSignature".into())),
        None => Err(violation("it has no keyUsage extension".into())),
    }
}

/// [`check_reference_name`] as a [`VerifyError`].
pub(crate) fn check_dns_name_syntax(name: &str) -> Result<(), VerifyError> {
    check_reference_name(name).map_err(|detail| VerifyError::Malformed {
        what: format!("the DNS name '{}'", name.escape_debug()),
        detail,
    })
}

/// The most octets a DNS name may have (RFC 1035 §2.3.4, without the final dot).
const MAX_DNS_NAME_LEN: usize = 253;

/// Checks a reference DNS name given by the caller: LDH labels of 1–63 octets, at most 253
/// octets, not an IPv4 address, no wildcard. One trailing dot is allowed.
fn check_reference_name(name: &str) -> Result<(), String> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > MAX_DNS_NAME_LEN {
        return Err("a DNS name has 1 to 253 characters".into());
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("every label of a DNS name has 1 to 63 characters".into());
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return Err(
                "a DNS name holds letters, digits and inner hyphens only (internationalised names as A-labels, xn--…)"
                    .into(),
            );
        }
    }
    if name
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("this looks like an IP address, not a DNS name".into());
    }
    Ok(())
}

/// Does the presented identifier `pattern` (a dNSName of the certificate) match the
/// reference name `name`? RFC 6125 §6.4: ASCII case-insensitive; a wildcard only as the
/// complete left-most label, matching exactly one non-empty label, and only with at least
/// two labels after it.
fn dns_name_matches(pattern: &str, name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    let pattern = pattern
        .strip_suffix('.')
        .unwrap_or(pattern)
        .to_ascii_lowercase();
    if pattern.is_empty() || pattern.contains("..") {
        return false;
    }
    match pattern.strip_prefix("*.") {
        Some(rest) => {
            if rest.contains('*') || rest.split('.').count() < 2 {
                return false;
            }
            match name.split_once('.') {
                Some((first, tail)) => !first.is_empty() && tail == rest,
                None => false,
            }
        }
        None => !pattern.contains('*') && pattern == name,
    }
}

/// The leaf must carry `name` as a subjectAltName dNSName (no common-name fallback).
fn check_dns_name(c: &Cert, name: &str) -> Result<(), VerifyError> {
    let fail = |detail: String| VerifyError::NameMismatch {
        subject: subject(c),
        name: name.to_string(),
        detail,
    };
    let dns: Vec<&str> = c
        .san
        .iter()
        .flatten()
        .filter_map(|g| match g {
            GeneralName::Dns(d) => Some(d.as_str()),
            _ => None,
        })
        .collect();
    if dns.is_empty() {
        return Err(fail(
            "it has no subjectAltName dNSName (the common name is not used)".into(),
        ));
    }
    if dns.iter().any(|p| dns_name_matches(p, name)) {
        return Ok(());
    }
    // The names come from the certificate: control characters are escaped.
    let shown: Vec<String> = dns
        .iter()
        .take(10)
        .map(|d| d.escape_debug().to_string())
        .collect();
    Err(fail(format!(
        "its subjectAltName DNS names are {}{}",
        shown.join(", "),
        if dns.len() > shown.len() { ", …" } else { "" }
    )))
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

    #[test]
    fn rfc6125_dns_name_matching() {
        assert!(dns_name_matches("kmn.example.jp", "KMN.example.jp"));
        assert!(dns_name_matches("kmn.example.jp.", "kmn.example.jp"));
        assert!(dns_name_matches("*.example.jp", "kmn.example.jp"));
        // The wildcard stands for exactly one label.
        assert!(!dns_name_matches("*.example.jp", "a.kmn.example.jp"));
        assert!(!dns_name_matches("*.example.jp", "example.jp"));
        // Only as the whole left-most label, and not directly above a top-level domain.
        assert!(!dns_name_matches("k*.example.jp", "kmn.example.jp"));
        assert!(!dns_name_matches("kmn.*.jp", "kmn.example.jp"));
        assert!(!dns_name_matches("*.jp", "example.jp"));
        assert!(!dns_name_matches("*", "localhost"));
        assert!(!dns_name_matches("example.jp", "kmn.example.jp"));
        assert!(check_reference_name("kmn.example.jp").is_ok());
        assert!(check_reference_name("xn--eckwd4c7c.jp.").is_ok());
        assert!(check_reference_name("*.example.jp").is_err());
        assert!(check_reference_name("192.0.2.1").is_err());
        assert!(check_reference_name("a..b").is_err());
        assert!(check_reference_name("-a.jp").is_err());
        assert!(check_reference_name("").is_err());
        assert!(check_reference_name(&"a.".repeat(200)).is_err());
    }
}
