//! Object identifiers used by the profile (RFC 5280, RFC 5480, RFC 4055, RFC 6960,
//! ISO 17090).

use const_oid::ObjectIdentifier as Oid;

macro_rules! oids {
    ($($(#[$m:meta])* $name:ident = $s:literal;)*) => {
        $($(#[$m])* pub const $name: Oid = Oid::new_unwrap($s);)*
    };
}

oids! {
    /// id-ecPublicKey (RFC 5480).
    EC_PUBLIC_KEY = "1.2.840.10045.2.1";
    /// secp256r1.
    SECP256R1 = "1.2.840.10045.3.1.7";
    /// secp384r1.
    SECP384R1 = "1.3.132.0.34";
    /// rsaEncryption.
    RSA_ENCRYPTION = "1.2.840.113549.1.1.1";
    /// RSASSA-PSS (RFC 4055).
    RSASSA_PSS = "1.2.840.113549.1.1.10";
    /// sha256WithRSAEncryption.
    SHA256_WITH_RSA = "1.2.840.113549.1.1.11";
    /// sha384WithRSAEncryption.
    SHA384_WITH_RSA = "1.2.840.113549.1.1.12";
    /// sha512WithRSAEncryption.
    SHA512_WITH_RSA = "1.2.840.113549.1.1.13";
    /// ecdsa-with-SHA256.
    ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2";
    /// ecdsa-with-SHA384.
    ECDSA_WITH_SHA384 = "1.2.840.10045.4.3.3";
    /// ecdsa-with-SHA512.
    ECDSA_WITH_SHA512 = "1.2.840.10045.4.3.4";
    /// id-sha256.
    SHA256 = "2.16.840.1.101.3.4.2.1";
    /// id-sha384.
    SHA384 = "2.16.840.1.101.3.4.2.2";
    /// id-sha512.
    SHA512 = "2.16.840.1.101.3.4.2.3";
    /// id-mgf1.
    MGF1 = "1.2.840.113549.1.1.8";

    /// countryName.
    AT_COUNTRY = "2.5.4.6";
    /// organizationName.
    AT_ORGANIZATION = "2.5.4.10";
    /// organizationalUnitName.
    AT_ORG_UNIT = "2.5.4.11";
    /// commonName.
    AT_COMMON_NAME = "2.5.4.3";
    /// serialNumber (X.520).
    AT_SERIAL_NUMBER = "2.5.4.5";
    /// localityName.
    AT_LOCALITY = "2.5.4.7";
    /// stateOrProvinceName.
    AT_STATE = "2.5.4.8";

    /// subjectDirectoryAttributes.
    EXT_SUBJECT_DIRECTORY_ATTRIBUTES = "2.5.29.9";
    /// subjectKeyIdentifier.
    EXT_SUBJECT_KEY_ID = "2.5.29.14";
    /// keyUsage.
    EXT_KEY_USAGE = "2.5.29.15";
    /// subjectAltName.
    EXT_SUBJECT_ALT_NAME = "2.5.29.17";
    /// basicConstraints.
    EXT_BASIC_CONSTRAINTS = "2.5.29.19";
    /// cRLNumber.
    EXT_CRL_NUMBER = "2.5.29.20";
    /// reasonCode (CRL entry).
    EXT_REASON_CODE = "2.5.29.21";
    /// invalidityDate (CRL entry).
    EXT_INVALIDITY_DATE = "2.5.29.24";
    /// issuingDistributionPoint.
    EXT_ISSUING_DP = "2.5.29.28";
    /// cRLDistributionPoints.
    EXT_CRL_DP = "2.5.29.31";
    /// certificatePolicies.
    EXT_CERT_POLICIES = "2.5.29.32";
    /// authorityKeyIdentifier.
    EXT_AUTHORITY_KEY_ID = "2.5.29.35";
    /// extKeyUsage.
    EXT_EXT_KEY_USAGE = "2.5.29.37";
    /// authorityInfoAccess.
    EXT_AUTHORITY_INFO_ACCESS = "1.3.6.1.5.5.7.1.1";
    /// id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1).
    EXT_OCSP_NOCHECK = "1.3.6.1.5.5.7.48.1.5";
    /// PKCS #9 extensionRequest (CSR attribute).
    PKCS9_EXTENSION_REQUEST = "1.2.840.113549.1.9.14";

    /// id-kp-serverAuth.
    KP_SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
    /// id-kp-clientAuth.
    KP_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
    /// id-kp-OCSPSigning.
    KP_OCSP_SIGNING = "1.3.6.1.5.5.7.3.9";
    /// id-kp-documentSigning (RFC 9336): the audit signer, which also signs revocation
    /// receipts.
    KP_DOCUMENT_SIGNING = "1.3.6.1.5.5.7.3.36";

    /// id-data (RFC 5652 §4).
    CMS_DATA = "1.2.840.113549.1.7.1";
    /// id-signedData (RFC 5652 §5).
    CMS_SIGNED_DATA = "1.2.840.113549.1.7.2";
    /// id-contentType signed attribute (RFC 5652 §11.1).
    CMS_CONTENT_TYPE = "1.2.840.113549.1.9.3";
    /// id-messageDigest signed attribute (RFC 5652 §11.2).
    CMS_MESSAGE_DIGEST = "1.2.840.113549.1.9.4";
    /// id-signingTime signed attribute (RFC 5652 §11.3).
    CMS_SIGNING_TIME = "1.2.840.113549.1.9.5";
    /// id-ad-ocsp.
    AD_OCSP = "1.3.6.1.5.5.7.48.1";
    /// id-ad-caIssuers.
    AD_CA_ISSUERS = "1.3.6.1.5.5.7.48.2";
    /// id-qt-cps.
    QT_CPS = "1.3.6.1.5.5.7.2.1";
    /// anyPolicy: never used by this CA (DESIGN §4), listed so that lints can refuse it.
    ANY_POLICY = "2.5.29.32.0";

    /// kmn's own arc: registration-free, derived once from the UUID
    /// c70f55ba-f67d-4573-81b1-44fdb3491086 by the GUID scheme of the policy arcs
    /// (`1.2.840.113556.1.8000.2554.<5×16 bits>.<2×24 bits>`, docs/ARCHITECTURE.md). Fixed
    /// in the software, the same in every deployment (unlike the policy arcs, which each
    /// `kmn ca init` makes): `.1` content types. docs/REVOCATION-RECEIPT.asn1.
    KMN_ARC = "1.2.840.113556.1.8000.2554.50959.21946.63101.17779.33201.4521395.4788358";
    /// id-ct-kmnRevocationReceipt (`<kmn arc>.1.1`): the eContentType of a signed
    /// revocation receipt (第23条3; [`crate::receipt`]).
    CT_REVOCATION_RECEIPT = "1.2.840.113556.1.8000.2554.50959.21946.63101.17779.33201.4521395.4788358.1.1";

    /// hcRole attribute (ISO 17090-3).
    HC_ROLE = "1.0.17090.0.1";
    /// The Japanese HPKI role coding scheme.
    HPKI_ROLE_SCHEME = "1.2.392.100495.1.6.1.1";
}

/// The HPKI arc (1.2.392.100495): certificates of this CA never carry a policy OID under
/// it (DESIGN §4: "Never an HPKI OID").
pub const HPKI_ARC_PREFIX: &str = "1.2.392.100495.";
