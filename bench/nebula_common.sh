# Nebula 1.6 (Debian's `nebula`) set-up shared by the lab benches
# bench/nebula_lab.sh and bench/mpyc_lab.sh; sourced, defines functions only.
#
#   nebula_pki DIR NAME=OVERLAY_CIDR...
#       a CA (knit-bench, valid 2 h) and a certificate per node in DIR:
#       DIR/ca.crt, DIR/NAME.crt, DIR/NAME.key (nebula-cert).
#   nebula_config OUT NAME ROLE PKI LIGHTHOUSE_IP USE_RELAYS
#       the YAML for node NAME into OUT. ROLE lighthouse: the lighthouse
#       and a relay (relay.am_relay); ROLE host: a node that knows the
#       lighthouse at overlay 10.200.0.1 by its public LIGHTHOUSE_IP:4242
#       (static_host_map), punches (punchy punch + respond) and, with
#       USE_RELAYS true, may be reached through the lighthouse as a relay.
#       Overlay 10.200.0.0/24 on tun nebula1 (MTU 1300), UDP port 4242,
#       every flow allowed by the firewall, log level debug.
#   nebula_install
#       Debian's nebula (and iputils-ping) with apt-get if missing; warns
#       unless it is 1.6; sets NEBULA_VERSION.

nebula_pki() {
    local dir=$1 node name cidr
    shift
    mkdir -p "$dir"
    (cd "$dir" && nebula-cert ca -name knit-bench -duration 2h) >/dev/null
    for node in "$@"; do
        name=${node%%=*} cidr=${node#*=}
        (cd "$dir" && nebula-cert sign -name "$name" -ip "$cidr") >/dev/null
    done
}

nebula_config() {
    local out=$1 name=$2 role=$3 pki=$4 lh_ip=$5 use_relays=$6
    local lh=false relay=false hosts="[]" relays="[]" map="{}"
    if [ "$role" = lighthouse ]; then
        lh=true relay=true
    else
        hosts='["10.200.0.1"]' relays='["10.200.0.1"]'
        map="{\"10.200.0.1\": [\"$lh_ip:4242\"]}"
    fi
    [ "$use_relays" = true ] || relays="[]"
    cat >"$out" <<YAML
pki:
  ca: $pki/ca.crt
  cert: $pki/$name.crt
  key: $pki/$name.key
static_host_map: $map
lighthouse:
  am_lighthouse: $lh
  interval: 60
  hosts: $hosts
listen:
  host: 0.0.0.0
  port: 4242
punchy:
  punch: true
  respond: true
relay:
  am_relay: $relay
  use_relays: $use_relays
  relays: $relays
tun:
  dev: nebula1
  mtu: 1300
logging:
  level: debug
  format: text
  timestamp_format: "2006-01-02T15:04:05.000000Z07:00"
firewall:
  outbound:
    - {port: any, proto: any, host: any}
  inbound:
    - {port: any, proto: any, host: any}
YAML
}

nebula_install() {
    local need=""
    command -v nebula >/dev/null && command -v nebula-cert >/dev/null || need="$need nebula"
    command -v ping >/dev/null || need="$need iputils-ping"
    if [ -n "$need" ]; then
        echo "nebula: installing$need" >&2
        export DEBIAN_FRONTEND=noninteractive
        # shellcheck disable=SC2086
        apt-get install -y -q --no-install-recommends $need >&2 ||
            { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends $need >&2; }
    fi
    NEBULA_VERSION=$(nebula -version | awk '/Version/ { print $2 }')
    case "$NEBULA_VERSION" in
    1.6.*) ;;
    *) echo "nebula: warning: nebula $NEBULA_VERSION, not 1.6" >&2 ;;
    esac
}
