#!/bin/sh
# What `make run` shows, inside the guest: a listener joined to multicast
# group 1, an echo with its round-trip time, the broadcast the listener got,
# the seed article's C client, then the typed echo through the generic
# netlink family, acknowledged, and one refused with an extended ack (what a
# `make run CAPTURE=FILE.pcap` capture shows: the kernel does not tap unit 17).
set -e

echo '$ nltest listen --count 1 &'
nltest listen --count 1 --timeout 20 >/tmp/listen.out 2>&1 &
listener=$!
tries=0
until grep -q '^listening' /tmp/listen.out; do
    tries=$((tries + 1))
    [ $tries -lt 200 ] || { cat /tmp/listen.out; exit 1; }
    sleep 0.05
done
sed 's/^/    /' /tmp/listen.out

echo '$ nltest echo "Hello you!"'
nltest echo "Hello you!" | sed 's/^/    /'
wait $listener
echo '(the listener printed:)'
tail -n 1 /tmp/listen.out | sed 's/^/    /'

echo '$ seed-unicast   # the seed article'"'"'s unicast client, in C'
seed-unicast | sed 's/^/    /'

echo '$ nltest --genl echo --ack "Hello family!"   # typed ECHO through the generic netlink family'
nltest --genl echo --ack "Hello family!" | sed 's/^/    /'
echo '$ nltest --genl echo --size 40000   # over max_payload: refused, with an extended ack'
nltest --genl echo --size 40000 2>&1 | sed 's/^/    /'   # the pipeline's status is sed's
