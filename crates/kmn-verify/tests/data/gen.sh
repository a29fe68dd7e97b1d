#!/bin/sh
# Regenerates the small test PKI used by tests/kmn_profile.rs and the unit tests.
# Requires OpenSSL 3. All certificates and CRLs are valid 2026-01-01 .. 2046-01-01.
#
#   root.pem        KMN Test Root (P-256, self-signed)
#   inter.pem       KMN Test Intermediate (RSA-2048, pathlen 0), signed by the root (ECDSA)
#   alice.pem       client certificate (P-256), RSASSA-PSS signature, clientAuth, policy
#   bob.pem         like alice but PKCS#1 v1.5, revoked (keyCompromise) on inter.crl
#   carol.pem       serverAuth only, no certificatePolicies
#   dave.pem        like alice but signed with sha1WithRSAEncryption
#   other-root.pem  an unrelated root
#   root.crl.pem, inter.crl.pem, inter.crl.der
set -eu
cd "$(dirname "$0")"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
START=20260101000000Z
END=20460101000000Z

for ca in root inter other; do
    mkdir -p "$W/$ca"
    : > "$W/$ca/index.txt"
    echo 1000 > "$W/$ca/serial"
    echo 01 > "$W/$ca/crlnumber"
done

cat > "$W/ca.cnf" <<EOF
[ RootCA ]
dir = $W/root
certificate = ./root.pem
private_key = $W/root.key
database = \$dir/index.txt
new_certs_dir = \$dir
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha256
policy = any
unique_subject = no
crl_extensions = crl_ext
[ InterCA ]
dir = $W/inter
certificate = ./inter.pem
private_key = $W/inter.key
database = \$dir/index.txt
new_certs_dir = \$dir
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha256
policy = any
unique_subject = no
crl_extensions = crl_ext
[ OtherCA ]
dir = $W/other
certificate = ./other-root.pem
private_key = $W/other.key
database = \$dir/index.txt
new_certs_dir = \$dir
serial = \$dir/serial
default_md = sha256
policy = any
unique_subject = no
[ any ]
countryName = optional
organizationName = optional
commonName = supplied
[ crl_ext ]
authorityKeyIdentifier = keyid:always
[ root_ext ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ inter_ext ]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
crlDistributionPoints = URI:http://crl.example.invalid/root.crl
[ client_ext ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
certificatePolicies = 1.3.6.1.4.1.55555.1.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
crlDistributionPoints = URI:http://crl.example.invalid/inter.crl
[ server_ext ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
crlDistributionPoints = URI:http://crl.example.invalid/inter.crl
EOF

ca() { openssl ca -batch -notext -config "$W/ca.cnf" -startdate $START -enddate $END "$@" 2>/dev/null; }
ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/$1.key"; }
csr() { openssl req -new -key "$W/$1.key" -subj "$2" -out "$W/$1.csr"; }

ec_key root
csr root "/C=JP/O=KMN Test/CN=KMN Test Root"
ca -name RootCA -selfsign -keyfile "$W/root.key" -in "$W/root.csr" -out root.pem -extensions root_ext

ec_key other
csr other "/C=JP/O=KMN Test/CN=KMN Other Root"
ca -name OtherCA -selfsign -keyfile "$W/other.key" -in "$W/other.csr" -out other-root.pem -extensions root_ext

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$W/inter.key"
csr inter "/C=JP/O=KMN Test/CN=KMN Test Intermediate"
ca -name RootCA -in "$W/inter.csr" -out inter.pem -extensions inter_ext

for who in alice bob carol dave; do ec_key $who; done
csr alice "/C=JP/O=KMN Test/CN=alice"
ca -name InterCA -in "$W/alice.csr" -out alice.pem -extensions client_ext \
    -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest
csr bob "/C=JP/O=KMN Test/CN=bob"
ca -name InterCA -in "$W/bob.csr" -out bob.pem -extensions client_ext
csr carol "/C=JP/O=KMN Test/CN=carol"
ca -name InterCA -in "$W/carol.csr" -out carol.pem -extensions server_ext
csr dave "/C=JP/O=KMN Test/CN=dave"
ca -name InterCA -in "$W/dave.csr" -out dave.pem -extensions client_ext -md sha1

openssl ca -batch -config "$W/ca.cnf" -name InterCA -revoke bob.pem -crl_reason keyCompromise 2>/dev/null
openssl ca -batch -config "$W/ca.cnf" -name InterCA -gencrl \
    -crl_lastupdate $START -crl_nextupdate $END -out inter.crl.pem 2>/dev/null
openssl crl -in inter.crl.pem -outform DER -out inter.crl.der
openssl ca -batch -config "$W/ca.cnf" -name RootCA -gencrl \
    -crl_lastupdate $START -crl_nextupdate $END -out root.crl.pem 2>/dev/null
echo "regenerated test PKI in $(pwd)"
