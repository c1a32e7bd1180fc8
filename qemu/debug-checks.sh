#!/bin/sh
# In the debug guest: the whole suite with stress, fuzzing and fault
# injection, then, with the module unloaded, an explicit kmemleak scan.
# The host reads the console for any other report (scripts/check-console.sh).
set -u
kmemleak=/sys/kernel/debug/kmemleak

mount -t debugfs debugfs /sys/kernel/debug
# What the kernel allocated while booting is not the module's business.
echo clear >"$kmemleak"

status=0
# The Python clients check the protocol, which the test kernel's suite covers;
# here each Python start over 9p takes up to 81 s.
nltest-e2e --stress --faults --skip ynl_client --skip controller_shows --skip pyroute2 || status=1
rmmod nltest || status=1

# kmemleak reports objects older than 5 s that nothing points to: scan, wait,
# scan again.
echo scan >"$kmemleak"
sleep 6
echo scan >"$kmemleak"
if [ -s "$kmemleak" ]; then
    echo "kmemleak found leaks:"
    cat "$kmemleak"
    status=1
else
    echo "kmemleak: no leaks"
fi
exit $status
