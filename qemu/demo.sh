#!/bin/sh
# What `make run` shows, inside the guest: a listener joined to multicast
# group 1, an echo with its round-trip time, the broadcast the listener got,
# and the seed article's C client.
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
