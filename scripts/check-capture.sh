#!/usr/bin/env bash
# Checks qemu/run --capture end to end: a typed echo through the generic
# netlink family is recorded in the guest, written to the host through the
# --out share, and the host's tshark names the family (from the controller's
# messages in the same capture) in the request and the reply, finds the
# payload in both, and the acknowledgement.
#
# usage: scripts/check-capture.sh KERNEL    (after scripts/prepare.sh KERNEL;
#                                            KDIR as for qemu/run)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kernel=${1:?usage: scripts/check-capture.sh KERNEL}

capture=$top/build/check-capture-$kernel.pcap
payload="capture check $(date +%s%N)"
fail() {
    echo "error: capture check: $*; the capture is $capture (tshark -r $capture -V)" >&2
    exit 1
}

"$top/qemu/run" --kernel "$kernel" --capture "$capture" -- nltest --genl echo --ack "$payload"

# tshark warns on stderr when run as root; its errors are shown on failure.
tshark_errors=$(mktemp)
trap 'rm -f "$tshark_errors"' EXIT
decoded=$(tshark -r "$capture" -V 2>"$tshark_errors") || fail "tshark cannot read it: $(cat "$tshark_errors")"
named=$(grep -c 'Family ID: 0x[0-9a-f]* (nltest)' <<<"$decoded" || true)
[ "$named" -eq 2 ] || fail "tshark names the family nltest in $named messages, not in the request and the reply"
grep -q 'Error code: Success (0)' <<<"$decoded" || fail "tshark shows no acknowledgement"
payload_hex=$(printf '%s' "$payload" | od -An -tx1 | tr -d ' \n')
carrying=$(tshark -r "$capture" -T fields -e data.data 2>/dev/null | grep -c "$payload_hex" || true)
[ "$carrying" -eq 2 ] || fail "$carrying messages carry the payload, not the request and the reply"
echo "capture check: tshark decodes the family nltest, the echo's request and reply and its ack"
