#!/usr/bin/env python3
"""Turns QEMU's execution log on and off as the guest asks, for
scripts/profile.sh.

Follows the guest console; on `nltest-profile: start NAME` it points QEMU's
log at DIR/NAME.exec and enables `exec` logging through the monitor, then
creates DIR/go-NAME, which the guest waits for; on `nltest-profile: stop
NAME` it disables logging and creates DIR/stopped-NAME.

usage: profile-monitor.py CONSOLE_LOG MONITOR_SOCKET DIR
"""
import os
import socket
import sys
import time


def monitor_command(path, command):
    """Sends one HMP command and waits for the prompt after it."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as monitor:
        monitor.settimeout(30)
        monitor.connect(path)
        received = b""
        while not received.endswith(b"(qemu) "):
            received += monitor.recv(4096)
        monitor.sendall(command.encode() + b"\n")
        received = b""
        while b"(qemu) " not in received:
            chunk = monitor.recv(4096)
            if not chunk:
                break
            received += chunk


def main():
    console, monitor, directory = sys.argv[1:4]
    deadline = time.monotonic() + 3600
    while not os.path.exists(console) or not os.path.exists(monitor):
        if time.monotonic() > deadline:
            sys.exit("profile-monitor: QEMU never started")
        time.sleep(0.1)
    with open(console, "rb") as log:
        pending = b""
        while time.monotonic() < deadline:
            chunk = log.read()
            if not chunk:
                if not os.path.exists(monitor):
                    return
                time.sleep(0.05)
                continue
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                words = line.decode(errors="replace").split()
                if len(words) != 3 or words[0] != "nltest-profile:":
                    continue
                action, name = words[1], words[2]
                if action == "start":
                    monitor_command(monitor, f"logfile {directory}/{name}.exec")
                    # `log` replaces the whole mask: nochain must be named
                    # again, or chained blocks run unlogged.
                    monitor_command(monitor, "log exec,nochain")
                    open(f"{directory}/go-{name}", "w").close()
                elif action == "stop":
                    monitor_command(monitor, "log nochain")
                    open(f"{directory}/stopped-{name}", "w").close()
                    print(f"profile-monitor: {name} logged", file=sys.stderr)


if __name__ == "__main__":
    main()
