#!/bin/sh
# Certificates for MPyC's --ssl, as MPyC expects them:
#   tests/mpyc/make_certs.sh DIR M [CA_DIR]
# writes DIR/.config/mpyc_ca.crt and DIR/.config/party_<i>.crt/.key for
# i in 0..M-1. MPyC (0.11, mpyc/runtime.py) loads them relative to the
# working directory, so run the program from DIR; each TLS connection is
# checked both ways against the CA, and the connecting party checks that
# the other's certificate is for "MPyC party <i>" (its common name).
# The CA's key stays in CA_DIR (default DIR/.config/ca, mode 700), which
# must not be given to the parties: whoever holds it can make a
# certificate for any party. In real use one person runs this and sends
# each party its own party_<i>.crt/.key and mpyc_ca.crt (see docs/mpyc.md);
# here every party shares one DIR. Needs openssl. RSA 2048, SHA-256,
# valid 10 years. Re-running keeps an existing CA and party keys.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 DIR M [CA_DIR]" >&2; exit 2; }
dir=$1/.config
m=$2
ca=${3:-$dir/ca}
echo "$m" | grep -Eq '^[1-9][0-9]?$' || { echo "make_certs: M must be 1..99" >&2; exit 2; }
command -v openssl >/dev/null || { echo "make_certs: openssl is not installed" >&2; exit 1; }
mkdir -p "$dir" "$ca"
chmod 700 "$ca"
if [ ! -f "$ca/mpyc_ca.key" ]; then
    openssl req -x509 -newkey rsa:2048 -sha256 -days 3650 -nodes \
        -subj "/CN=MPyC Certification Authority" \
        -keyout "$ca/mpyc_ca.key" -out "$ca/mpyc_ca.crt" 2>/dev/null
fi
cp "$ca/mpyc_ca.crt" "$dir/mpyc_ca.crt"
i=0
while [ "$i" -lt "$m" ]; do
    if [ ! -f "$dir/party_$i.key" ] || [ ! -f "$dir/party_$i.crt" ]; then
        openssl req -newkey rsa:2048 -sha256 -nodes -subj "/CN=MPyC party $i" \
            -keyout "$dir/party_$i.key" -out "$ca/party_$i.csr" 2>/dev/null
        openssl x509 -req -sha256 -days 3650 -in "$ca/party_$i.csr" \
            -CA "$ca/mpyc_ca.crt" -CAkey "$ca/mpyc_ca.key" -set_serial $((256 + i)) \
            -out "$dir/party_$i.crt" 2>/dev/null
        rm -f "$ca/party_$i.csr"
        chmod 600 "$dir/party_$i.key"
    fi
    i=$((i + 1))
done
echo "make_certs: $dir holds mpyc_ca.crt and party_0..$((m - 1)) .crt/.key"
