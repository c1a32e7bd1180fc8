# SPDX-License-Identifier: GPL-2.0
"""Shared by ynl_nltest.py and nlctrl_family.py: finding the kernel's YNL in
either layout (7.3: tools/net/ynl/pyynl, 6.12: tools/net/ynl), choosing the
JSON schema a spec is validated against, the ok/FAILED report, and receiving
notifications with a deadline.

Nothing here reads from a socket without a timeout: sockets get SO_RCVTIMEO
(a blocked recv() then fails with EAGAIN instead of hanging, which YNL's
non-blocking check_ntf() is not affected by), and waits for notifications
select() with a deadline.
"""

import atexit
import os
import select
import shutil
import socket
import struct
import sys
import tempfile
import time
import traceback

import yaml

NLM_F_ECHO = 8  # neither YNL's Netlink class defines it


class Failure(Exception):
    """A check that did not hold: the message says why."""


class Report:
    """One line per check: `ok NAME` or `FAILED NAME: why`; `# ...` lines
    only inform."""

    def __init__(self):
        self.failed = []
        self.passed = 0

    @staticmethod
    def note(text):
        for line in str(text).splitlines() or ['']:
            print(f'# {line}', flush=True)

    def ok(self, name):
        self.passed += 1
        print(f'ok {name}', flush=True)

    def fail(self, name, why):
        self.failed.append(name)
        why = ' '.join(str(why).split())
        print(f'FAILED {name}: {why}', flush=True)

    def check(self, name, condition, why):
        if condition:
            self.ok(name)
        else:
            self.fail(name, why)
        return bool(condition)

    def run(self, name, function, *args, **kwargs):
        """Runs function(*args); ok when it returns, FAILED with the reason
        when it raises (Failure: its message; anything else: the exception,
        its traceback as notes). Returns whether it passed."""
        try:
            function(*args, **kwargs)
        except Failure as error:
            self.fail(name, error)
            return False
        except Exception as error:  # pylint: disable=broad-except
            self.fail(name, f'{type(error).__name__}: {error}')
            self.note(traceback.format_exc().rstrip())
            return False
        self.ok(name)
        return True

    def finish(self):
        total = self.passed + len(self.failed)
        if self.failed:
            self.note(f'{len(self.failed)} of {total} checks failed: '
                      + ', '.join(self.failed))
            return 1
        self.note(f'all {total} checks passed')
        return 0


class Ynl:
    """The kernel tree's YNL: its CLI's path and its library, imported."""

    def __init__(self, kdir):
        base = os.path.join(kdir, 'tools', 'net', 'ynl')
        for layout, libparent in (('7.3 (pyynl)', os.path.join(base, 'pyynl')),
                                  ('6.12', base)):
            if os.path.isfile(os.path.join(libparent, 'lib', 'ynl.py')):
                break
        else:
            raise Failure(f'no YNL library in {base}/pyynl/lib or {base}/lib')
        self.kdir = kdir
        self.layout = layout
        self.cli = os.path.join(libparent, 'cli.py')
        if not os.path.isfile(self.cli):
            raise Failure(f'no YNL CLI at {self.cli}')
        self.schema_dir = os.path.join(kdir, 'Documentation', 'netlink')
        sys.path.insert(0, libparent)
        import lib  # pylint: disable=import-outside-toplevel,import-error
        import lib.ynl  # pylint: disable=import-outside-toplevel,import-error
        import lib.nlspec  # pylint: disable=import-outside-toplevel,import-error
        self.lib = lib
        self.ynl = lib.ynl
        self.YnlFamily = lib.YnlFamily
        self.SpecFamily = lib.nlspec.SpecFamily
        self.NlError = lib.NlError
        self.Netlink = lib.Netlink

    def describe(self):
        return f'YNL {self.layout}: {self.cli}'


def _schema_errors(spec, schema):
    import jsonschema  # pylint: disable=import-outside-toplevel
    validator = jsonschema.validators.validator_for(schema)(schema)
    return sorted(validator.iter_errors(spec), key=lambda e: list(e.absolute_path))


def _describe_error(error):
    path = '.'.join(str(p) for p in error.absolute_path)
    return f'{path}: {error.message}'


# Values a spec may use that an older kernel's schema does not list, although
# that kernel's YNL library handles them (6.12: the netlink-raw schema lacks
# the attribute type uint; genetlink.yaml lacks the flag uns-admin-perm).
AMENDABLE = {'uint', 'sint', 'uns-admin-perm'}


def pick_schema(ynl, spec_path, report):
    """The schema to validate spec_path against: the kernel's schema for the
    spec's protocol; if that rejects the spec, for genetlink the kernel's
    genetlink-legacy.yaml (a superset); else the kernel's schema with the
    rejected enum values of AMENDABLE added (written to a temporary file), a
    note saying so. Raises Failure when none of them accepts the spec.
    Returns the schema's path."""
    try:
        import jsonschema  # noqa: F401 pylint: disable=import-outside-toplevel,unused-import
    except ImportError as error:
        raise Failure(f'{error}: schema validation needs jsonschema '
                      '(Debian: python3-jsonschema)') from error
    with open(spec_path, encoding='utf-8') as stream:
        spec = yaml.safe_load(stream)
    proto = spec.get('protocol', 'genetlink')
    primary = os.path.join(ynl.schema_dir, f'{proto}.yaml')
    with open(primary, encoding='utf-8') as stream:
        schema = yaml.safe_load(stream)
    errors = _schema_errors(spec, schema)
    if not errors:
        return primary
    why = '; '.join(_describe_error(e) for e in errors)
    report.note(f'{primary} rejects {os.path.basename(spec_path)}: {why}')
    if proto == 'genetlink':
        legacy = os.path.join(ynl.schema_dir, 'genetlink-legacy.yaml')
        with open(legacy, encoding='utf-8') as stream:
            if not _schema_errors(spec, yaml.safe_load(stream)):
                report.note(f'validating against {legacy} instead, which accepts it')
                return legacy
    added = []
    for error in errors:
        if error.validator != 'enum' or error.instance not in AMENDABLE:
            raise Failure(f'{primary} rejects the spec: {why}')
        node = schema
        try:
            for key in list(error.absolute_schema_path)[:-1]:
                node = node[key]
        except (KeyError, IndexError, TypeError) as lookup:
            raise Failure(f'{primary} rejects the spec: {why}') from lookup
        if error.instance not in node['enum']:
            node['enum'].append(error.instance)
            added.append(f"{error.instance} at {'/'.join(str(p) for p in error.absolute_schema_path)}")
    remaining = _schema_errors(spec, schema)
    if remaining:
        raise Failure(f'{primary} rejects the spec: '
                      + '; '.join(_describe_error(e) for e in remaining))
    directory = tempfile.mkdtemp(prefix='nltest-schema-')
    atexit.register(shutil.rmtree, directory, True)
    amended = os.path.join(directory, f'{proto}.yaml')
    with open(amended, 'w', encoding='utf-8') as stream:
        yaml.safe_dump(schema, stream)
    report.note(f'validating against {primary} with {", ".join(added)} added: {amended}')
    return amended


def set_timeouts(sock, seconds):
    """SO_RCVTIMEO/SO_SNDTIMEO: a blocking recv() or send() gives up with
    EAGAIN after `seconds`."""
    timeval = struct.pack('ll', int(seconds), int((seconds % 1) * 1e6))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)


def open_family(ynl, spec, schema, timeout):
    """YnlFamily(spec, schema) with every read bounded: genetlink families
    look their id up through a socket of YNL's own, which gets Python's
    default timeout meanwhile; the family's socket is made blocking again
    (YNL's check_ntf() relies on MSG_DONTWAIT) with SO_RCVTIMEO instead."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        family = ynl.YnlFamily(spec, schema)
    finally:
        socket.setdefaulttimeout(previous)
    family.sock.settimeout(None)
    set_timeouts(family.sock, timeout)
    return family


def take_queued(family):
    """The notifications YNL has queued (a list in 6.12, a queue.Queue in
    7.3), removed from its queue."""
    queue = family.async_msg_queue
    if isinstance(queue, list):
        taken = list(queue)
        queue.clear()
        return taken
    taken = []
    while not queue.empty():
        taken.append(queue.get_nowait())
    return taken


def notifications(family, duration):
    """Yields the notifications the family's socket receives within
    `duration` seconds (those already queued first): 7.3's poll_ntf(), or
    6.12's check_ntf() after select() with the deadline."""
    yield from take_queued(family)
    if hasattr(family, 'poll_ntf'):
        yield from family.poll_ntf(duration=duration)
        return
    deadline = time.monotonic() + duration
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        readable, _, _ = select.select([family.sock], [], [], remaining)
        if readable:
            family.check_ntf()
            yield from take_queued(family)


def wait_for(family, predicate, timeout):
    """The first notification within `timeout` seconds for which
    predicate(msg) holds, or None; others are dropped."""
    for msg in notifications(family, timeout):
        if predicate(msg):
            return msg
    return None


def raw_seq(msg):
    """nlmsg_seq of a notification YNL decoded with include_raw set: a
    GenlMsg (its NlMsg in .nl) or, for netlink-raw, the NlMsg itself."""
    raw = msg['raw']
    return raw.nl.nl_seq if hasattr(raw, 'nl') else raw.nl_seq


def extack_of(error):
    """The decoded extended ack of a YNL NlError (both versions keep it in
    nl_msg.extack)."""
    extack = getattr(error, 'extack', None)
    if extack is None:
        extack = getattr(error.nl_msg, 'extack', None)
    return extack or {}


def resolve_value(family, value):
    """A spec's checks value: an int, the name of a const definition, or a
    type's limit (u32-max, s16-min, ...), as ynl_gen_c.py resolves them."""
    if isinstance(value, int):
        return value
    const = family.consts.get(value)
    if isinstance(const, dict) and 'value' in const:
        return const['value']
    kind, _, end = str(value).partition('-')
    if kind[:1] in ('u', 's') and kind[1:].isdigit() and end in ('min', 'max'):
        bits = int(kind[1:]) - (kind[0] == 's')
        if kind[0] == 'u':
            return 0 if end == 'min' else (1 << bits) - 1
        return -(1 << bits) if end == 'min' else (1 << bits) - 1
    raise Failure(f'cannot resolve {value!r} in the spec')
