#!/bin/sh
# In the debug guest: the whole suite with stress, fuzzing and fault
# injection, then, with the module unloaded, an explicit kmemleak scan
# (leak-check).
# The host reads the console for any other report (scripts/check-console.sh).
# With qemu/run --out, the suite's coverage of the module goes there
# (e2e.points, and module.sha256 to tie it to this build of the module).
set -u

mount -t debugfs debugfs /sys/kernel/debug
# What the kernel allocated while booting is not the module's business.
echo clear >/sys/kernel/debug/kmemleak

status=0
coverage=
if [ -d /out ] && grep -q ' /out ' /proc/mounts; then
    sha256sum /modules/nltest.ko >/out/module.sha256
    coverage="--coverage /out/e2e.points"
fi
# The Python clients check the protocol, which the test kernel's suite covers;
# here each Python start over 9p takes up to 81 s.
# shellcheck disable=SC2086 # $coverage is two words or none
nltest-e2e --stress --faults $coverage --skip ynl_client --skip controller_shows --skip pyroute2 || status=1
leak-check || status=1
exit $status
