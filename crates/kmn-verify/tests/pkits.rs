//! NIST PKITS (Public Key Interoperability Test Suite) sections 4.1–4.7 and 4.14 (plus 4.13
//! name constraints and 4.16 private extensions, which this library also implements), run against
//! `kmn_verify::verify` with the default PKITS settings: trust anchor
//! TrustAnchorRootCertificate, TrustAnchorRootCRL always supplied, revocation checking on,
//! validation time now, purpose Any, profile Rfc5280.
//!
//! The data comes from the PyPI package `cryptography_vectors`
//! (`cryptography_vectors/x509/PKITS_data`). Set `KMN_PKITS_DIR` to that directory, or install
//! the package into `<workspace>/.venv`. Without data the test is skipped, unless `CI=true`.

use std::path::{Path, PathBuf};
use std::process::Command;

use kmn_verify::{Profile, Purpose, VerifyError, VerifyOptions, verify};

struct Case {
    id: &'static str,
    name: &'static str,
    /// Intermediate certificates, trust-anchor side first (file names without `.crt`).
    intermediates: &'static [&'static str],
    /// CRLs besides TrustAnchorRootCRL (file names without `.crl`).
    crls: &'static [&'static str],
    /// End-entity certificate (file name without `.crt`).
    ee: &'static str,
    valid: bool,
}

const V: bool = true;
const X: bool = false;

macro_rules! case {
    ($id:literal, $name:literal, [$($i:literal),*], [$($c:literal),*], $ee:literal, $valid:expr) => {
        Case { id: $id, name: $name, intermediates: &[$($i),*], crls: &[$($c),*], ee: $ee, valid: $valid }
    };
}

/// Tests whose failure is expected: DSA is not supported by this library.
const DSA_CASES: &[&str] = &["4.1.4", "4.1.5", "4.1.6"];

#[rustfmt::skip]
const CASES: &[Case] = &[
    // 4.1 Signature Verification
    case!("4.1.1", "Valid Signatures Test1", ["GoodCACert"], ["GoodCACRL"], "ValidCertificatePathTest1EE", V),
    case!("4.1.2", "Invalid CA Signature Test2", ["BadSignedCACert"], ["BadSignedCACRL"], "InvalidCASignatureTest2EE", X),
    case!("4.1.3", "Invalid EE Signature Test3", ["GoodCACert"], ["GoodCACRL"], "InvalidEESignatureTest3EE", X),
    case!("4.1.4", "Valid DSA Signatures Test4", ["DSACACert"], ["DSACACRL"], "ValidDSASignaturesTest4EE", V),
    case!("4.1.5", "Valid DSA Parameter Inheritance Test5", ["DSACACert", "DSAParametersInheritedCACert"], ["DSACACRL", "DSAParametersInheritedCACRL"], "ValidDSAParameterInheritanceTest5EE", V),
    case!("4.1.6", "Invalid DSA Signature Test6", ["DSACACert"], ["DSACACRL"], "InvalidDSASignatureTest6EE", X),
    // 4.2 Validity Periods
    case!("4.2.1", "Invalid CA notBefore Date Test1", ["BadnotBeforeDateCACert"], ["BadnotBeforeDateCACRL"], "InvalidCAnotBeforeDateTest1EE", X),
    case!("4.2.2", "Invalid EE notBefore Date Test2", ["GoodCACert"], ["GoodCACRL"], "InvalidEEnotBeforeDateTest2EE", X),
    case!("4.2.3", "Valid pre2000 UTC notBefore Date Test3", ["GoodCACert"], ["GoodCACRL"], "Validpre2000UTCnotBeforeDateTest3EE", V),
    case!("4.2.4", "Valid GeneralizedTime notBefore Date Test4", ["GoodCACert"], ["GoodCACRL"], "ValidGeneralizedTimenotBeforeDateTest4EE", V),
    case!("4.2.5", "Invalid CA notAfter Date Test5", ["BadnotAfterDateCACert"], ["BadnotAfterDateCACRL"], "InvalidCAnotAfterDateTest5EE", X),
    case!("4.2.6", "Invalid EE notAfter Date Test6", ["GoodCACert"], ["GoodCACRL"], "InvalidEEnotAfterDateTest6EE", X),
    case!("4.2.7", "Invalid pre2000 UTC EE notAfter Date Test7", ["GoodCACert"], ["GoodCACRL"], "Invalidpre2000UTCEEnotAfterDateTest7EE", X),
    case!("4.2.8", "Valid GeneralizedTime notAfter Date Test8", ["GoodCACert"], ["GoodCACRL"], "ValidGeneralizedTimenotAfterDateTest8EE", V),
    // 4.3 Verifying Name Chaining
    case!("4.3.1", "Invalid Name Chaining EE Test1", ["GoodCACert"], ["GoodCACRL"], "InvalidNameChainingTest1EE", X),
    case!("4.3.2", "Invalid Name Chaining Order Test2", ["NameOrderingCACert"], ["NameOrderCACRL"], "InvalidNameChainingOrderTest2EE", X),
    case!("4.3.3", "Valid Name Chaining Whitespace Test3", ["GoodCACert"], ["GoodCACRL"], "ValidNameChainingWhitespaceTest3EE", V),
    case!("4.3.4", "Valid Name Chaining Whitespace Test4", ["GoodCACert"], ["GoodCACRL"], "ValidNameChainingWhitespaceTest4EE", V),
    case!("4.3.5", "Valid Name Chaining Capitalization Test5", ["GoodCACert"], ["GoodCACRL"], "ValidNameChainingCapitalizationTest5EE", V),
    case!("4.3.6", "Valid Name Chaining UIDs Test6", ["UIDCACert"], ["UIDCACRL"], "ValidNameUIDsTest6EE", V),
    case!("4.3.7", "Valid RFC3280 Mandatory Attribute Types Test7", ["RFC3280MandatoryAttributeTypesCACert"], ["RFC3280MandatoryAttributeTypesCACRL"], "ValidRFC3280MandatoryAttributeTypesTest7EE", V),
    case!("4.3.8", "Valid RFC3280 Optional Attribute Types Test8", ["RFC3280OptionalAttributeTypesCACert"], ["RFC3280OptionalAttributeTypesCACRL"], "ValidRFC3280OptionalAttributeTypesTest8EE", V),
    case!("4.3.9", "Valid UTF8String Encoded Names Test9", ["UTF8StringEncodedNamesCACert"], ["UTF8StringEncodedNamesCACRL"], "ValidUTF8StringEncodedNamesTest9EE", V),
    case!("4.3.10", "Valid Rollover from PrintableString to UTF8String Test10", ["RolloverfromPrintableStringtoUTF8StringCACert"], ["RolloverfromPrintableStringtoUTF8StringCACRL"], "ValidRolloverfromPrintableStringtoUTF8StringTest10EE", V),
    case!("4.3.11", "Valid UTF8String Case Insensitive Match Test11", ["UTF8StringCaseInsensitiveMatchCACert"], ["UTF8StringCaseInsensitiveMatchCACRL"], "ValidUTF8StringCaseInsensitiveMatchTest11EE", V),
    // 4.4 Basic Certificate Revocation Tests
    case!("4.4.1", "Invalid Missing CRL Test1", ["NoCRLCACert"], [], "InvalidMissingCRLTest1EE", X),
    case!("4.4.2", "Invalid Revoked CA Test2", ["GoodCACert", "RevokedsubCACert"], ["GoodCACRL", "RevokedsubCACRL"], "InvalidRevokedCATest2EE", X),
    case!("4.4.3", "Invalid Revoked EE Test3", ["GoodCACert"], ["GoodCACRL"], "InvalidRevokedEETest3EE", X),
    case!("4.4.4", "Invalid Bad CRL Signature Test4", ["BadCRLSignatureCACert"], ["BadCRLSignatureCACRL"], "InvalidBadCRLSignatureTest4EE", X),
    case!("4.4.5", "Invalid Bad CRL Issuer Name Test5", ["BadCRLIssuerNameCACert"], ["BadCRLIssuerNameCACRL"], "InvalidBadCRLIssuerNameTest5EE", X),
    case!("4.4.6", "Invalid Wrong CRL Test6", ["WrongCRLCACert"], ["WrongCRLCACRL"], "InvalidWrongCRLTest6EE", X),
    case!("4.4.7", "Valid Two CRLs Test7", ["TwoCRLsCACert"], ["TwoCRLsCAGoodCRL", "TwoCRLsCABadCRL"], "ValidTwoCRLsTest7EE", V),
    case!("4.4.8", "Invalid Unknown CRL Entry Extension Test8", ["UnknownCRLEntryExtensionCACert"], ["UnknownCRLEntryExtensionCACRL"], "InvalidUnknownCRLEntryExtensionTest8EE", X),
    case!("4.4.9", "Invalid Unknown CRL Extension Test9", ["UnknownCRLExtensionCACert"], ["UnknownCRLExtensionCACRL"], "InvalidUnknownCRLExtensionTest9EE", X),
    case!("4.4.10", "Invalid Unknown CRL Extension Test10", ["UnknownCRLExtensionCACert"], ["UnknownCRLExtensionCACRL"], "InvalidUnknownCRLExtensionTest10EE", X),
    case!("4.4.11", "Invalid Old CRL nextUpdate Test11", ["OldCRLnextUpdateCACert"], ["OldCRLnextUpdateCACRL"], "InvalidOldCRLnextUpdateTest11EE", X),
    case!("4.4.12", "Invalid pre2000 CRL nextUpdate Test12", ["pre2000CRLnextUpdateCACert"], ["pre2000CRLnextUpdateCACRL"], "Invalidpre2000CRLnextUpdateTest12EE", X),
    case!("4.4.13", "Valid GeneralizedTime CRL nextUpdate Test13", ["GeneralizedTimeCRLnextUpdateCACert"], ["GeneralizedTimeCRLnextUpdateCACRL"], "ValidGeneralizedTimeCRLnextUpdateTest13EE", V),
    case!("4.4.14", "Valid Negative Serial Number Test14", ["NegativeSerialNumberCACert"], ["NegativeSerialNumberCACRL"], "ValidNegativeSerialNumberTest14EE", V),
    case!("4.4.15", "Invalid Negative Serial Number Test15", ["NegativeSerialNumberCACert"], ["NegativeSerialNumberCACRL"], "InvalidNegativeSerialNumberTest15EE", X),
    case!("4.4.16", "Valid Long Serial Number Test16", ["LongSerialNumberCACert"], ["LongSerialNumberCACRL"], "ValidLongSerialNumberTest16EE", V),
    case!("4.4.17", "Valid Long Serial Number Test17", ["LongSerialNumberCACert"], ["LongSerialNumberCACRL"], "ValidLongSerialNumberTest17EE", V),
    case!("4.4.18", "Invalid Long Serial Number Test18", ["LongSerialNumberCACert"], ["LongSerialNumberCACRL"], "InvalidLongSerialNumberTest18EE", X),
    case!("4.4.19", "Valid Separate Certificate and CRL Keys Test19", ["SeparateCertificateandCRLKeysCertificateSigningCACert", "SeparateCertificateandCRLKeysCRLSigningCert"], ["SeparateCertificateandCRLKeysCRL"], "ValidSeparateCertificateandCRLKeysTest19EE", V),
    case!("4.4.20", "Invalid Separate Certificate and CRL Keys Test20", ["SeparateCertificateandCRLKeysCertificateSigningCACert", "SeparateCertificateandCRLKeysCRLSigningCert"], ["SeparateCertificateandCRLKeysCRL"], "InvalidSeparateCertificateandCRLKeysTest20EE", X),
    case!("4.4.21", "Invalid Separate Certificate and CRL Keys Test21", ["SeparateCertificateandCRLKeysCA2CertificateSigningCACert", "SeparateCertificateandCRLKeysCA2CRLSigningCert"], ["SeparateCertificateandCRLKeysCA2CRL"], "InvalidSeparateCertificateandCRLKeysTest21EE", X),
    // 4.5 Verifying Paths with Self-Issued Certificates
    case!("4.5.1", "Valid Basic Self-Issued Old With New Test1", ["BasicSelfIssuedNewKeyCACert", "BasicSelfIssuedNewKeyOldWithNewCACert"], ["BasicSelfIssuedNewKeyCACRL"], "ValidBasicSelfIssuedOldWithNewTest1EE", V),
    case!("4.5.2", "Invalid Basic Self-Issued Old With New Test2", ["BasicSelfIssuedNewKeyCACert", "BasicSelfIssuedNewKeyOldWithNewCACert"], ["BasicSelfIssuedNewKeyCACRL"], "InvalidBasicSelfIssuedOldWithNewTest2EE", X),
    case!("4.5.3", "Valid Basic Self-Issued New With Old Test3", ["BasicSelfIssuedOldKeyCACert", "BasicSelfIssuedOldKeyNewWithOldCACert"], ["BasicSelfIssuedOldKeyCACRL", "BasicSelfIssuedOldKeySelfIssuedCertCRL"], "ValidBasicSelfIssuedNewWithOldTest3EE", V),
    case!("4.5.4", "Valid Basic Self-Issued New With Old Test4", ["BasicSelfIssuedOldKeyCACert", "BasicSelfIssuedOldKeyNewWithOldCACert"], ["BasicSelfIssuedOldKeyCACRL", "BasicSelfIssuedOldKeySelfIssuedCertCRL"], "ValidBasicSelfIssuedNewWithOldTest4EE", V),
    case!("4.5.5", "Invalid Basic Self-Issued New With Old Test5", ["BasicSelfIssuedOldKeyCACert", "BasicSelfIssuedOldKeyNewWithOldCACert"], ["BasicSelfIssuedOldKeyCACRL", "BasicSelfIssuedOldKeySelfIssuedCertCRL"], "InvalidBasicSelfIssuedNewWithOldTest5EE", X),
    case!("4.5.6", "Valid Basic Self-Issued CRL Signing Key Test6", ["BasicSelfIssuedCRLSigningKeyCACert", "BasicSelfIssuedCRLSigningKeyCRLCert"], ["BasicSelfIssuedCRLSigningKeyCACRL", "BasicSelfIssuedCRLSigningKeyCRLCertCRL"], "ValidBasicSelfIssuedCRLSigningKeyTest6EE", V),
    case!("4.5.7", "Invalid Basic Self-Issued CRL Signing Key Test7", ["BasicSelfIssuedCRLSigningKeyCACert", "BasicSelfIssuedCRLSigningKeyCRLCert"], ["BasicSelfIssuedCRLSigningKeyCACRL", "BasicSelfIssuedCRLSigningKeyCRLCertCRL"], "InvalidBasicSelfIssuedCRLSigningKeyTest7EE", X),
    case!("4.5.8", "Invalid Basic Self-Issued CRL Signing Key Test8", ["BasicSelfIssuedCRLSigningKeyCACert", "BasicSelfIssuedCRLSigningKeyCRLCert"], ["BasicSelfIssuedCRLSigningKeyCACRL", "BasicSelfIssuedCRLSigningKeyCRLCertCRL"], "InvalidBasicSelfIssuedCRLSigningKeyTest8EE", X),
    // 4.6 Verifying Basic Constraints
    case!("4.6.1", "Invalid Missing basicConstraints Test1", ["MissingbasicConstraintsCACert"], ["MissingbasicConstraintsCACRL"], "InvalidMissingbasicConstraintsTest1EE", X),
    case!("4.6.2", "Invalid cA False Test2", ["basicConstraintsCriticalcAFalseCACert"], ["basicConstraintsCriticalcAFalseCACRL"], "InvalidcAFalseTest2EE", X),
    case!("4.6.3", "Invalid cA False Test3", ["basicConstraintsNotCriticalcAFalseCACert"], ["basicConstraintsNotCriticalcAFalseCACRL"], "InvalidcAFalseTest3EE", X),
    case!("4.6.4", "Valid basicConstraints Not Critical Test4", ["basicConstraintsNotCriticalCACert"], ["basicConstraintsNotCriticalCACRL"], "ValidbasicConstraintsNotCriticalTest4EE", V),
    case!("4.6.5", "Invalid pathLenConstraint Test5", ["pathLenConstraint0CACert", "pathLenConstraint0subCACert"], ["pathLenConstraint0CACRL", "pathLenConstraint0subCACRL"], "InvalidpathLenConstraintTest5EE", X),
    case!("4.6.6", "Invalid pathLenConstraint Test6", ["pathLenConstraint0CACert", "pathLenConstraint0subCACert"], ["pathLenConstraint0CACRL", "pathLenConstraint0subCACRL"], "InvalidpathLenConstraintTest6EE", X),
    case!("4.6.7", "Valid pathLenConstraint Test7", ["pathLenConstraint0CACert"], ["pathLenConstraint0CACRL"], "ValidpathLenConstraintTest7EE", V),
    case!("4.6.8", "Valid pathLenConstraint Test8", ["pathLenConstraint0CACert"], ["pathLenConstraint0CACRL"], "ValidpathLenConstraintTest8EE", V),
    case!("4.6.9", "Invalid pathLenConstraint Test9", ["pathLenConstraint6CACert", "pathLenConstraint6subCA0Cert", "pathLenConstraint6subsubCA00Cert"], ["pathLenConstraint6CACRL", "pathLenConstraint6subCA0CRL", "pathLenConstraint6subsubCA00CRL"], "InvalidpathLenConstraintTest9EE", X),
    case!("4.6.10", "Invalid pathLenConstraint Test10", ["pathLenConstraint6CACert", "pathLenConstraint6subCA0Cert", "pathLenConstraint6subsubCA00Cert"], ["pathLenConstraint6CACRL", "pathLenConstraint6subCA0CRL", "pathLenConstraint6subsubCA00CRL"], "InvalidpathLenConstraintTest10EE", X),
    case!("4.6.11", "Invalid pathLenConstraint Test11", ["pathLenConstraint6CACert", "pathLenConstraint6subCA1Cert", "pathLenConstraint6subsubCA11Cert", "pathLenConstraint6subsubsubCA11XCert"], ["pathLenConstraint6CACRL", "pathLenConstraint6subCA1CRL", "pathLenConstraint6subsubCA11CRL", "pathLenConstraint6subsubsubCA11XCRL"], "InvalidpathLenConstraintTest11EE", X),
    case!("4.6.12", "Invalid pathLenConstraint Test12", ["pathLenConstraint6CACert", "pathLenConstraint6subCA1Cert", "pathLenConstraint6subsubCA11Cert", "pathLenConstraint6subsubsubCA11XCert"], ["pathLenConstraint6CACRL", "pathLenConstraint6subCA1CRL", "pathLenConstraint6subsubCA11CRL", "pathLenConstraint6subsubsubCA11XCRL"], "InvalidpathLenConstraintTest12EE", X),
    case!("4.6.13", "Valid pathLenConstraint Test13", ["pathLenConstraint6CACert", "pathLenConstraint6subCA4Cert", "pathLenConstraint6subsubCA41Cert", "pathLenConstraint6subsubsubCA41XCert"], ["pathLenConstraint6CACRL", "pathLenConstraint6subCA4CRL", "pathLenConstraint6subsubCA41CRL", "pathLenConstraint6subsubsubCA41XCRL"], "ValidpathLenConstraintTest13EE", V),
    case!("4.6.14", "Valid pathLenConstraint Test14", ["pathLenConstraint6CACert", "pathLenConstraint6subCA4Cert", "pathLenConstraint6subsubCA41Cert", "pathLenConstraint6subsubsubCA41XCert"], ["pathLenConstraint6CACRL", "pathLenConstraint6subCA4CRL", "pathLenConstraint6subsubCA41CRL", "pathLenConstraint6subsubsubCA41XCRL"], "ValidpathLenConstraintTest14EE", V),
    case!("4.6.15", "Valid Self-Issued pathLenConstraint Test15", ["pathLenConstraint0CACert", "pathLenConstraint0SelfIssuedCACert"], ["pathLenConstraint0CACRL"], "ValidSelfIssuedpathLenConstraintTest15EE", V),
    case!("4.6.16", "Invalid Self-Issued pathLenConstraint Test16", ["pathLenConstraint0CACert", "pathLenConstraint0SelfIssuedCACert", "pathLenConstraint0subCA2Cert"], ["pathLenConstraint0CACRL", "pathLenConstraint0subCA2CRL"], "InvalidSelfIssuedpathLenConstraintTest16EE", X),
    case!("4.6.17", "Valid Self-Issued pathLenConstraint Test17", ["pathLenConstraint1CACert", "pathLenConstraint1SelfIssuedCACert", "pathLenConstraint1subCACert", "pathLenConstraint1SelfIssuedsubCACert"], ["pathLenConstraint1CACRL", "pathLenConstraint1subCACRL"], "ValidSelfIssuedpathLenConstraintTest17EE", V),
    // 4.7 Key Usage
    case!("4.7.1", "Invalid keyUsage Critical keyCertSign False Test1", ["keyUsageCriticalkeyCertSignFalseCACert"], ["keyUsageCriticalkeyCertSignFalseCACRL"], "InvalidkeyUsageCriticalkeyCertSignFalseTest1EE", X),
    case!("4.7.2", "Invalid keyUsage Not Critical keyCertSign False Test2", ["keyUsageNotCriticalkeyCertSignFalseCACert"], ["keyUsageNotCriticalkeyCertSignFalseCACRL"], "InvalidkeyUsageNotCriticalkeyCertSignFalseTest2EE", X),
    case!("4.7.3", "Valid keyUsage Not Critical Test3", ["keyUsageNotCriticalCACert"], ["keyUsageNotCriticalCACRL"], "ValidkeyUsageNotCriticalTest3EE", V),
    case!("4.7.4", "Invalid keyUsage Critical cRLSign False Test4", ["keyUsageCriticalcRLSignFalseCACert"], ["keyUsageCriticalcRLSignFalseCACRL"], "InvalidkeyUsageCriticalcRLSignFalseTest4EE", X),
    case!("4.7.5", "Invalid keyUsage Not Critical cRLSign False Test5", ["keyUsageNotCriticalcRLSignFalseCACert"], ["keyUsageNotCriticalcRLSignFalseCACRL"], "InvalidkeyUsageNotCriticalcRLSignFalseTest5EE", X),
    // 4.13 Name Constraints (beyond the required sections: nameConstraints is implemented)
    case!("4.13.1", "Valid DN nameConstraints Test1", ["nameConstraintsDN1CACert"], ["nameConstraintsDN1CACRL"], "ValidDNnameConstraintsTest1EE", V),
    case!("4.13.2", "Invalid DN nameConstraints Test2", ["nameConstraintsDN1CACert"], ["nameConstraintsDN1CACRL"], "InvalidDNnameConstraintsTest2EE", X),
    case!("4.13.3", "Invalid DN nameConstraints Test3", ["nameConstraintsDN1CACert"], ["nameConstraintsDN1CACRL"], "InvalidDNnameConstraintsTest3EE", X),
    case!("4.13.4", "Valid DN nameConstraints Test4", ["nameConstraintsDN1CACert"], ["nameConstraintsDN1CACRL"], "ValidDNnameConstraintsTest4EE", V),
    case!("4.13.5", "Valid DN nameConstraints Test5", ["nameConstraintsDN2CACert"], ["nameConstraintsDN2CACRL"], "ValidDNnameConstraintsTest5EE", V),
    case!("4.13.6", "Valid DN nameConstraints Test6", ["nameConstraintsDN3CACert"], ["nameConstraintsDN3CACRL"], "ValidDNnameConstraintsTest6EE", V),
    case!("4.13.7", "Invalid DN nameConstraints Test7", ["nameConstraintsDN3CACert"], ["nameConstraintsDN3CACRL"], "InvalidDNnameConstraintsTest7EE", X),
    case!("4.13.8", "Invalid DN nameConstraints Test8", ["nameConstraintsDN4CACert"], ["nameConstraintsDN4CACRL"], "InvalidDNnameConstraintsTest8EE", X),
    case!("4.13.9", "Invalid DN nameConstraints Test9", ["nameConstraintsDN4CACert"], ["nameConstraintsDN4CACRL"], "InvalidDNnameConstraintsTest9EE", X),
    case!("4.13.10", "Invalid DN nameConstraints Test10", ["nameConstraintsDN5CACert"], ["nameConstraintsDN5CACRL"], "InvalidDNnameConstraintsTest10EE", X),
    case!("4.13.11", "Valid DN nameConstraints Test11", ["nameConstraintsDN5CACert"], ["nameConstraintsDN5CACRL"], "ValidDNnameConstraintsTest11EE", V),
    case!("4.13.12", "Invalid DN nameConstraints Test12", ["nameConstraintsDN1CACert", "nameConstraintsDN1subCA1Cert"], ["nameConstraintsDN1CACRL", "nameConstraintsDN1subCA1CRL"], "InvalidDNnameConstraintsTest12EE", X),
    case!("4.13.13", "Invalid DN nameConstraints Test13", ["nameConstraintsDN1CACert", "nameConstraintsDN1subCA2Cert"], ["nameConstraintsDN1CACRL", "nameConstraintsDN1subCA2CRL"], "InvalidDNnameConstraintsTest13EE", X),
    case!("4.13.14", "Valid DN nameConstraints Test14", ["nameConstraintsDN1CACert", "nameConstraintsDN1subCA2Cert"], ["nameConstraintsDN1CACRL", "nameConstraintsDN1subCA2CRL"], "ValidDNnameConstraintsTest14EE", V),
    case!("4.13.15", "Invalid DN nameConstraints Test15", ["nameConstraintsDN3CACert", "nameConstraintsDN3subCA1Cert"], ["nameConstraintsDN3CACRL", "nameConstraintsDN3subCA1CRL"], "InvalidDNnameConstraintsTest15EE", X),
    case!("4.13.16", "Invalid DN nameConstraints Test16", ["nameConstraintsDN3CACert", "nameConstraintsDN3subCA1Cert"], ["nameConstraintsDN3CACRL", "nameConstraintsDN3subCA1CRL"], "InvalidDNnameConstraintsTest16EE", X),
    case!("4.13.17", "Invalid DN nameConstraints Test17", ["nameConstraintsDN3CACert", "nameConstraintsDN3subCA2Cert"], ["nameConstraintsDN3CACRL", "nameConstraintsDN3subCA2CRL"], "InvalidDNnameConstraintsTest17EE", X),
    case!("4.13.18", "Valid DN nameConstraints Test18", ["nameConstraintsDN3CACert", "nameConstraintsDN3subCA2Cert"], ["nameConstraintsDN3CACRL", "nameConstraintsDN3subCA2CRL"], "ValidDNnameConstraintsTest18EE", V),
    case!("4.13.19", "Valid Self-Issued DN nameConstraints Test19", ["nameConstraintsDN1CACert", "nameConstraintsDN1SelfIssuedCACert"], ["nameConstraintsDN1CACRL"], "ValidDNnameConstraintsTest19EE", V),
    case!("4.13.20", "Invalid Self-Issued DN nameConstraints Test20", ["nameConstraintsDN1CACert", "nameConstraintsDN1SelfIssuedCACert"], ["nameConstraintsDN1CACRL"], "InvalidDNnameConstraintsTest20EE", X),
    case!("4.13.21", "Valid RFC822 nameConstraints Test21", ["nameConstraintsRFC822CA1Cert"], ["nameConstraintsRFC822CA1CRL"], "ValidRFC822nameConstraintsTest21EE", V),
    case!("4.13.22", "Invalid RFC822 nameConstraints Test22", ["nameConstraintsRFC822CA1Cert"], ["nameConstraintsRFC822CA1CRL"], "InvalidRFC822nameConstraintsTest22EE", X),
    case!("4.13.23", "Valid RFC822 nameConstraints Test23", ["nameConstraintsRFC822CA2Cert"], ["nameConstraintsRFC822CA2CRL"], "ValidRFC822nameConstraintsTest23EE", V),
    case!("4.13.24", "Invalid RFC822 nameConstraints Test24", ["nameConstraintsRFC822CA2Cert"], ["nameConstraintsRFC822CA2CRL"], "InvalidRFC822nameConstraintsTest24EE", X),
    case!("4.13.25", "Valid RFC822 nameConstraints Test25", ["nameConstraintsRFC822CA3Cert"], ["nameConstraintsRFC822CA3CRL"], "ValidRFC822nameConstraintsTest25EE", V),
    case!("4.13.26", "Invalid RFC822 nameConstraints Test26", ["nameConstraintsRFC822CA3Cert"], ["nameConstraintsRFC822CA3CRL"], "InvalidRFC822nameConstraintsTest26EE", X),
    case!("4.13.27", "Valid DN and RFC822 nameConstraints Test27", ["nameConstraintsDN1CACert", "nameConstraintsDN1subCA3Cert"], ["nameConstraintsDN1CACRL", "nameConstraintsDN1subCA3CRL"], "ValidDNandRFC822nameConstraintsTest27EE", V),
    case!("4.13.28", "Invalid DN and RFC822 nameConstraints Test28", ["nameConstraintsDN1CACert", "nameConstraintsDN1subCA3Cert"], ["nameConstraintsDN1CACRL", "nameConstraintsDN1subCA3CRL"], "InvalidDNandRFC822nameConstraintsTest28EE", X),
    case!("4.13.29", "Invalid DN and RFC822 nameConstraints Test29", ["nameConstraintsDN1CACert", "nameConstraintsDN1subCA3Cert"], ["nameConstraintsDN1CACRL", "nameConstraintsDN1subCA3CRL"], "InvalidDNandRFC822nameConstraintsTest29EE", X),
    case!("4.13.30", "Valid DNS nameConstraints Test30", ["nameConstraintsDNS1CACert"], ["nameConstraintsDNS1CACRL"], "ValidDNSnameConstraintsTest30EE", V),
    case!("4.13.31", "Invalid DNS nameConstraints Test31", ["nameConstraintsDNS1CACert"], ["nameConstraintsDNS1CACRL"], "InvalidDNSnameConstraintsTest31EE", X),
    case!("4.13.32", "Valid DNS nameConstraints Test32", ["nameConstraintsDNS2CACert"], ["nameConstraintsDNS2CACRL"], "ValidDNSnameConstraintsTest32EE", V),
    case!("4.13.33", "Invalid DNS nameConstraints Test33", ["nameConstraintsDNS2CACert"], ["nameConstraintsDNS2CACRL"], "InvalidDNSnameConstraintsTest33EE", X),
    case!("4.13.34", "Valid URI nameConstraints Test34", ["nameConstraintsURI1CACert"], ["nameConstraintsURI1CACRL"], "ValidURInameConstraintsTest34EE", V),
    case!("4.13.35", "Invalid URI nameConstraints Test35", ["nameConstraintsURI1CACert"], ["nameConstraintsURI1CACRL"], "InvalidURInameConstraintsTest35EE", X),
    case!("4.13.36", "Valid URI nameConstraints Test36", ["nameConstraintsURI2CACert"], ["nameConstraintsURI2CACRL"], "ValidURInameConstraintsTest36EE", V),
    case!("4.13.37", "Invalid URI nameConstraints Test37", ["nameConstraintsURI2CACert"], ["nameConstraintsURI2CACRL"], "InvalidURInameConstraintsTest37EE", X),
    case!("4.13.38", "Invalid DNS nameConstraints Test38", ["nameConstraintsDNS1CACert"], ["nameConstraintsDNS1CACRL"], "InvalidDNSnameConstraintsTest38EE", X),
    // 4.16 Private Certificate Extensions (beyond the required sections)
    case!("4.16.1", "Valid Unknown Not Critical Certificate Extension Test1", [], [], "ValidUnknownNotCriticalCertificateExtensionTest1EE", V),
    case!("4.16.2", "Invalid Unknown Critical Certificate Extension Test2", [], [], "InvalidUnknownCriticalCertificateExtensionTest2EE", X),
    // 4.14 Distribution Points
    case!("4.14.1", "Valid distributionPoint Test1", ["distributionPoint1CACert"], ["distributionPoint1CACRL"], "ValiddistributionPointTest1EE", V),
    case!("4.14.2", "Invalid distributionPoint Test2", ["distributionPoint1CACert"], ["distributionPoint1CACRL"], "InvaliddistributionPointTest2EE", X),
    case!("4.14.3", "Invalid distributionPoint Test3", ["distributionPoint1CACert"], ["distributionPoint1CACRL"], "InvaliddistributionPointTest3EE", X),
    case!("4.14.4", "Valid distributionPoint Test4", ["distributionPoint1CACert"], ["distributionPoint1CACRL"], "ValiddistributionPointTest4EE", V),
    case!("4.14.5", "Valid distributionPoint Test5", ["distributionPoint2CACert"], ["distributionPoint2CACRL"], "ValiddistributionPointTest5EE", V),
    case!("4.14.6", "Invalid distributionPoint Test6", ["distributionPoint2CACert"], ["distributionPoint2CACRL"], "InvaliddistributionPointTest6EE", X),
    case!("4.14.7", "Valid distributionPoint Test7", ["distributionPoint2CACert"], ["distributionPoint2CACRL"], "ValiddistributionPointTest7EE", V),
    case!("4.14.8", "Invalid distributionPoint Test8", ["distributionPoint2CACert"], ["distributionPoint2CACRL"], "InvaliddistributionPointTest8EE", X),
    case!("4.14.9", "Invalid distributionPoint Test9", ["distributionPoint2CACert"], ["distributionPoint2CACRL"], "InvaliddistributionPointTest9EE", X),
    case!("4.14.10", "Valid No issuingDistributionPoint Test10", ["NoissuingDistributionPointCACert"], ["NoissuingDistributionPointCACRL"], "ValidNoissuingDistributionPointTest10EE", V),
    case!("4.14.11", "Invalid onlyContainsUserCerts CRL Test11", ["onlyContainsUserCertsCACert"], ["onlyContainsUserCertsCACRL"], "InvalidonlyContainsUserCertsTest11EE", X),
    case!("4.14.12", "Invalid onlyContainsCACerts CRL Test12", ["onlyContainsCACertsCACert"], ["onlyContainsCACertsCACRL"], "InvalidonlyContainsCACertsTest12EE", X),
    case!("4.14.13", "Valid onlyContainsCACerts CRL Test13", ["onlyContainsCACertsCACert"], ["onlyContainsCACertsCACRL"], "ValidonlyContainsCACertsTest13EE", V),
    case!("4.14.14", "Invalid onlyContainsAttributeCerts Test14", ["onlyContainsAttributeCertsCACert"], ["onlyContainsAttributeCertsCACRL"], "InvalidonlyContainsAttributeCertsTest14EE", X),
    case!("4.14.15", "Invalid onlySomeReasons Test15", ["onlySomeReasonsCA1Cert"], ["onlySomeReasonsCA1compromiseCRL", "onlySomeReasonsCA1otherreasonsCRL"], "InvalidonlySomeReasonsTest15EE", X),
    case!("4.14.16", "Invalid onlySomeReasons Test16", ["onlySomeReasonsCA1Cert"], ["onlySomeReasonsCA1compromiseCRL", "onlySomeReasonsCA1otherreasonsCRL"], "InvalidonlySomeReasonsTest16EE", X),
    case!("4.14.17", "Invalid onlySomeReasons Test17", ["onlySomeReasonsCA2Cert"], ["onlySomeReasonsCA2CRL1", "onlySomeReasonsCA2CRL2"], "InvalidonlySomeReasonsTest17EE", X),
    case!("4.14.18", "Valid onlySomeReasons Test18", ["onlySomeReasonsCA3Cert"], ["onlySomeReasonsCA3compromiseCRL", "onlySomeReasonsCA3otherreasonsCRL"], "ValidonlySomeReasonsTest18EE", V),
    case!("4.14.19", "Valid onlySomeReasons Test19", ["onlySomeReasonsCA4Cert"], ["onlySomeReasonsCA4compromiseCRL", "onlySomeReasonsCA4otherreasonsCRL"], "ValidonlySomeReasonsTest19EE", V),
    case!("4.14.20", "Invalid onlySomeReasons Test20", ["onlySomeReasonsCA4Cert"], ["onlySomeReasonsCA4compromiseCRL", "onlySomeReasonsCA4otherreasonsCRL"], "InvalidonlySomeReasonsTest20EE", X),
    case!("4.14.21", "Invalid onlySomeReasons Test21", ["onlySomeReasonsCA4Cert"], ["onlySomeReasonsCA4compromiseCRL", "onlySomeReasonsCA4otherreasonsCRL"], "InvalidonlySomeReasonsTest21EE", X),
    case!("4.14.22", "Valid IDP with indirectCRL Test22", ["indirectCRLCA1Cert"], ["indirectCRLCA1CRL"], "ValidIDPwithindirectCRLTest22EE", V),
    case!("4.14.23", "Invalid IDP with indirectCRL Test23", ["indirectCRLCA1Cert"], ["indirectCRLCA1CRL"], "InvalidIDPwithindirectCRLTest23EE", X),
    case!("4.14.24", "Valid IDP with indirectCRL Test24", ["indirectCRLCA2Cert", "indirectCRLCA1Cert"], ["indirectCRLCA1CRL"], "ValidIDPwithindirectCRLTest24EE", V),
    case!("4.14.25", "Valid IDP with indirectCRL Test25", ["indirectCRLCA2Cert", "indirectCRLCA1Cert"], ["indirectCRLCA1CRL"], "ValidIDPwithindirectCRLTest25EE", V),
    case!("4.14.26", "Invalid IDP with indirectCRL Test26", ["indirectCRLCA2Cert", "indirectCRLCA1Cert"], ["indirectCRLCA1CRL"], "InvalidIDPwithindirectCRLTest26EE", X),
    case!("4.14.27", "Invalid cRLIssuer Test27", ["GoodCACert", "indirectCRLCA2Cert"], ["GoodCACRL"], "InvalidcRLIssuerTest27EE", X),
    case!("4.14.28", "Valid cRLIssuer Test28", ["indirectCRLCA3Cert", "indirectCRLCA3cRLIssuerCert"], ["indirectCRLCA3CRL", "indirectCRLCA3cRLIssuerCRL"], "ValidcRLIssuerTest28EE", V),
    case!("4.14.29", "Valid cRLIssuer Test29", ["indirectCRLCA3Cert", "indirectCRLCA3cRLIssuerCert"], ["indirectCRLCA3CRL", "indirectCRLCA3cRLIssuerCRL"], "ValidcRLIssuerTest29EE", V),
    case!("4.14.30", "Valid cRLIssuer Test30", ["indirectCRLCA4Cert", "indirectCRLCA4cRLIssuerCert"], ["indirectCRLCA4cRLIssuerCRL"], "ValidcRLIssuerTest30EE", V),
    case!("4.14.31", "Invalid cRLIssuer Test31", ["indirectCRLCA6Cert", "indirectCRLCA5Cert"], ["indirectCRLCA5CRL"], "InvalidcRLIssuerTest31EE", X),
    case!("4.14.32", "Invalid cRLIssuer Test32", ["indirectCRLCA6Cert", "indirectCRLCA5Cert"], ["indirectCRLCA5CRL"], "InvalidcRLIssuerTest32EE", X),
    case!("4.14.33", "Valid cRLIssuer Test33", ["indirectCRLCA6Cert", "indirectCRLCA5Cert"], ["indirectCRLCA5CRL"], "ValidcRLIssuerTest33EE", V),
    case!("4.14.34", "Invalid cRLIssuer Test34", ["indirectCRLCA5Cert"], ["indirectCRLCA5CRL"], "InvalidcRLIssuerTest34EE", X),
    case!("4.14.35", "Invalid cRLIssuer Test35", ["indirectCRLCA5Cert"], ["indirectCRLCA5CRL"], "InvalidcRLIssuerTest35EE", X),
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// Finds `PKITS_data`, or explains why it could not.
fn locate_data() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("KMN_PKITS_DIR") {
        let p = PathBuf::from(&dir);
        return if p.join("certs").is_dir() {
            Ok(p)
        } else {
            Err(format!("KMN_PKITS_DIR={dir} has no certs/ subdirectory"))
        };
    }
    let python = workspace_root().join(".venv/bin/python");
    if !python.exists() {
        return Err(format!(
            "{} not found (python3 -m venv .venv && .venv/bin/pip install cryptography_vectors)",
            python.display()
        ));
    }
    let out = Command::new(&python)
        .args([
            "-c",
            "import cryptography_vectors,os;print(os.path.dirname(cryptography_vectors.__file__))",
        ])
        .output()
        .map_err(|e| format!("running {}: {e}", python.display()))?;
    if !out.status.success() {
        return Err(format!(
            "cryptography_vectors is not installed in .venv: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let base = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let p = base.join("x509/PKITS_data");
    if p.join("certs").is_dir() {
        Ok(p)
    } else {
        Err(format!("{} has no certs/ subdirectory", p.display()))
    }
}

fn read(dir: &Path, sub: &str, name: &str, ext: &str) -> Vec<u8> {
    let p = dir.join(sub).join(format!("{name}.{ext}"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

fn run_case(dir: &Path, c: &Case) -> Result<(), VerifyError> {
    let anchor = read(dir, "certs", "TrustAnchorRootCertificate", "crt");
    let leaf = read(dir, "certs", c.ee, "crt");
    let intermediates: Vec<Vec<u8>> = c
        .intermediates
        .iter()
        .map(|n| read(dir, "certs", n, "crt"))
        .collect();
    let mut crls = vec![read(dir, "crls", "TrustAnchorRootCRL", "crl")];
    crls.extend(c.crls.iter().map(|n| read(dir, "crls", n, "crl")));
    let opts = VerifyOptions {
        // A fixed instant inside the PKITS validity window (2010-2030), so the suite keeps
        // passing after the data expires.
        at: time::macros::datetime!(2026-01-01 00:00 UTC),
        purpose: Purpose::Any,
        profile: Profile::Rfc5280,
        check_revocation: true,
        dns_name: None,
    };
    verify(&leaf, &[anchor], &intermediates, &crls, &opts).map(|_| ())
}

#[test]
fn pkits() {
    let dir = match locate_data() {
        Ok(d) => d,
        Err(why) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("NIST PKITS data not found and CI=true: {why}");
            }
            eprintln!();
            eprintln!("================================================================");
            eprintln!("  SKIPPING the NIST PKITS test: data not found.");
            eprintln!("  {why}");
            eprintln!("  Set KMN_PKITS_DIR or install cryptography_vectors into .venv.");
            eprintln!("================================================================");
            eprintln!();
            return;
        }
    };

    let mut rows = Vec::new();
    let mut mismatches = Vec::new();
    let mut passed = 0;
    let mut known = 0;
    for c in CASES {
        assert_eq!(
            c.valid,
            c.ee.starts_with("Valid"),
            "table error in {}: expected result disagrees with the file name",
            c.id
        );
        let result = run_case(&dir, c);
        let got_valid = result.is_ok();
        let reason = match &result {
            Ok(()) => String::new(),
            Err(e) => e.to_string(),
        };
        let status = if DSA_CASES.contains(&c.id) {
            if matches!(result, Err(VerifyError::UnsupportedAlgorithm { .. })) {
                known += 1;
                "known (DSA unsupported)"
            } else {
                mismatches.push(format!(
                    "{} {}: expected an unsupported-algorithm error, got {}",
                    c.id,
                    c.name,
                    if got_valid {
                        "valid".to_string()
                    } else {
                        reason.clone()
                    }
                ));
                "MISMATCH"
            }
        } else if got_valid == c.valid {
            passed += 1;
            "ok"
        } else {
            mismatches.push(format!(
                "{} {}: expected {}, got {}{}",
                c.id,
                c.name,
                if c.valid { "valid" } else { "invalid" },
                if got_valid { "valid" } else { "invalid" },
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(" ({reason})")
                }
            ));
            "MISMATCH"
        };
        rows.push(format!(
            "{:<8} {:<58} {:<8} {:<8} {:<24} {}",
            c.id,
            c.name,
            if c.valid { "valid" } else { "invalid" },
            if got_valid { "valid" } else { "invalid" },
            status,
            reason
        ));
    }
    println!("NIST PKITS results (data: {})", dir.display());
    println!(
        "{:<8} {:<58} {:<8} {:<8} {:<24} reason",
        "id", "name", "expected", "got", "status"
    );
    for r in &rows {
        println!("{r}");
    }
    println!(
        "{} cases: {passed} as expected, {known} known exceptions (DSA), {} mismatches",
        CASES.len(),
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "PKITS cases with unexpected results:\n{}",
        mismatches.join("\n")
    );
}
