#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Drives every nltest operation over a transport (genl: the generic
netlink family, raw: the module's netlink unit; or both, one after the
other) with the running kernel's own YNL, from the specs with schema
validation on, and proves:

- echo returns the data it was sent (also at max_payload bytes), through
  YnlFamily and through YNL's CLI (cli.py run as a subprocess);
- echo publishes an event {data, portid, uid} with nlmsg_seq 0 to the other
  sockets subscribed to events, never to the requesting socket through the
  group (even when subscribed); with NLM_F_ECHO the requester gets its own
  copy, after the reply and before the ack;
- broadcast sends such an event to the group (raw: also group 8), not to
  the sender;
- get-stats: do gives one reply with every counter (listeners once per group
  of the unit), dump one message per counter, the same counters, also through
  the CLI; echoes, requests, bytes and broadcasts grow as requests are served;
- errors come with their extended ack, decoded by YNL by name: a missing
  data or group is EINVAL with miss-type; group out of the policy's range is
  ERANGE with bad-attr .group and the policy's min and max; data over
  max_payload is EMSGSIZE with bad-attr .data and a message.

One line per check, `ok NAME` or `FAILED NAME: why` (`#` lines inform);
the exit status is 1 when a check failed. Every wait has a deadline.
Works with the YNL of Linux 7.3 (tools/net/ynl/pyynl) and 6.12
(tools/net/ynl). 6.12's schemas reject these specs (genetlink.yaml has no
uns-admin-perm, netlink-raw.yaml no uint): the genl spec is validated against
its genetlink-legacy.yaml, the raw one against its netlink-raw.yaml with uint
added (ynl_common.pick_schema says which). 6.12's YnlFamily.do() fails when a
notification comes in its own datagram while a request is answered, as the
NLM_F_ECHO copy does: that copy is checked below do() there.
"""

import argparse
import errno
import inspect
import json
import os
import subprocess
import sys
import time

import ynl_common as common
from ynl_common import Failure

HERE = os.path.dirname(os.path.abspath(__file__))
LISTENERS = 'listeners'   # the counter reported once per group, with group


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('transport', choices=['genl', 'raw'], nargs='+',
                        help='genl: family nltest (specs/nltest.yaml); '
                             'raw: the netlink unit (specs/nltest-raw.yaml); both in '
                             'one run (one interpreter start) prefix the checks\' names '
                             'with the transport')
    parser.add_argument('--kdir', default=os.environ.get('NLTEST_KDIR'),
                        help='kernel tree whose YNL and schemas to use '
                             '(default: $NLTEST_KDIR)')
    parser.add_argument('--top', default=os.environ.get(
        'NLTEST_TOP', os.path.normpath(os.path.join(HERE, '..', '..', '..'))),
                        help='the nltest repository, for specs/ '
                             '(default: $NLTEST_TOP, else this script\'s checkout)')
    parser.add_argument('--timeout', type=float, default=20,
                        help='seconds to wait for any answer or event (default 20)')
    parser.add_argument('--cli-timeout', type=float, default=300,
                        help='seconds a YNL CLI subprocess may take, interpreter '
                             'start included (default 300)')
    args = parser.parse_args()
    if not args.kdir:
        parser.error('no kernel tree: set NLTEST_KDIR or pass --kdir')
    return args


class Session:
    """The checks of one transport."""

    def __init__(self, args, transport, ynl, report):
        self.args = args
        self.transport = transport
        self.report = report
        self.timeout = args.timeout
        self.genl = transport == 'genl'
        self.spec = os.path.join(args.top, 'specs',
                                 'nltest.yaml' if self.genl else 'nltest-raw.yaml')
        self.prefix = f'{transport}-' if len(set(args.transport)) > 1 else ''
        self.ynl = ynl
        self.schema = None
        self.families = []
        self.cli = {}
        self.tokens = 0

    def run(self, name, function, *args, **kwargs):
        return self.report.run(self.prefix + name, function, *args, **kwargs)

    # set-up
    @property
    def do_chokes_on_ntf(self):
        """6.12's YnlFamily._ops passes attr_space=op.attr_set to NlMsgs for
        each datagram, op being None after a message whose nlmsg_seq is not
        the request's (a notification, seq 0): a datagram after such a one
        raises AttributeError. 7.3's NlMsgs takes no attr_space."""
        return 'attr_space' in inspect.signature(self.ynl.ynl.NlMsgs.__init__).parameters

    def pick_schema(self):
        self.schema = common.pick_schema(self.ynl, self.spec, self.report)
        self.report.note(f'spec {self.spec}, schema {self.schema}')

    def family(self, validate=False):
        """A YnlFamily on the spec, its socket's reads bounded. The first is
        loaded with schema validation; the others reuse that verdict (the
        same file: validating takes seconds in the guest)."""
        family = common.open_family(self.ynl, self.spec, self.schema if validate else '',
                                    self.timeout)
        family.include_raw = True          # to see each notification's nlmsg_seq
        self.families.append(family)
        return family

    def open(self):
        self.a = self.family(validate=True)   # the requester (subscribed too)
        self.max_payload = self.read_max_payload()
        self.ops = self.a.ops
        self.data_attrs = self.a.attr_sets['nltest']
        checks = self.data_attrs['group'].yaml.get('checks', {})
        self.group_min = common.resolve_value(self.a, checks.get('min', 0))
        self.group_max = common.resolve_value(self.a, checks['max'])
        self.group_count = common.resolve_value(self.a, 'group-count')
        self.counters = list(self.a.consts['counter'].entries)

    def read_max_payload(self):
        path = '/sys/module/nltest/parameters/max_payload'
        try:
            with open(path, encoding='ascii') as stream:
                value = int(stream.read())
            self.report.note(f'max_payload {value} ({path})')
            return value
        except OSError:
            value = common.resolve_value(self.a, 'default-max-payload')
            self.report.note(f'max_payload {value}: no {path}, the spec\'s default')
            return value

    def subscribe(self):
        self.a.ntf_subscribe('events')
        self.listener = self.family()
        self.listener.ntf_subscribe('events')
        self.portid = self.a.sock.getsockname()[0]
        if not self.genl:
            last = next(g for g in self.a.mcast_groups.values() if g.value == self.group_count)
            self.last_group = last.name
            self.listener_last = self.family()
            self.listener_last.ntf_subscribe(last.name)

    def token(self, label):
        self.tokens += 1
        return f'ynl-{self.transport}-{label}-{os.getpid()}-{self.tokens}'.encode()

    # requests
    def do(self, op, attrs, flags=None):
        return self.call(f'{op}', lambda: self.a.do(op, attrs, flags))

    def dump(self, op):
        return self.call(f'dump {op}', lambda: self.a.dump(op, {}))

    def call(self, what, request):
        try:
            return request()
        except BlockingIOError as error:
            raise Failure(f'{what}: no answer within {self.timeout} s') from error
        except AttributeError as error:
            if not self.do_chokes_on_ntf or 'attr_set' not in str(error):
                raise
            raise Failure(f'{what}: a message that does not answer the request (a '
                          'notification?) came in a datagram of its own while it was answered: '
                          'YNL 6.12\'s YnlFamily._ops cannot take that (AttributeError: '
                          f'{error})') from error

    # notifications
    def event_with(self, family, data, timeout=None):
        return common.wait_for(
            family, lambda m: m['name'] == 'event' and m['msg'].get('data') == data,
            self.timeout if timeout is None else timeout)

    def expect_event(self, family, data, who):
        msg = self.event_with(family, data)
        if msg is None:
            raise Failure(f'{who} got no event with data {data!r} within {self.timeout} s')
        got = msg['msg']
        want = {'data': data, 'portid': self.portid, 'uid': os.getuid()}
        if got != want:
            raise Failure(f'{who} got event {got}, expected {want}')
        seq = common.raw_seq(msg)
        if seq != 0:
            raise Failure(f'{who}: the event carries nlmsg_seq {seq}, not 0')

    def expect_no_event(self, family, data, who):
        # Multicast is delivered within the sender's request: when the
        # listener has it, the requester's copy would be queued already.
        msg = self.event_with(family, data, timeout=min(0.25, self.timeout))
        if msg is not None:
            raise Failure(f'{who} received its own event through the group: {msg["msg"]}')

    # stats
    def expected_keys(self):
        keys = []
        for counter in self.counters:
            if counter == LISTENERS:
                keys += [(counter, group) for group in range(1, self.group_count + 1)]
            else:
                keys.append((counter, None))
        return sorted(keys, key=repr)

    @staticmethod
    def stat_entries(stats, where):
        values = {}
        for entry in stats:
            if not isinstance(entry, dict) or 'counter' not in entry or \
                    not isinstance(entry.get('value'), int):
                raise Failure(f'{where}: malformed stat {entry}')
            key = (entry['counter'], entry.get('group'))
            if key in values:
                raise Failure(f'{where}: {key} twice')
            values[key] = entry['value']
        return values

    def check_keys(self, values, where):
        got = sorted(values, key=repr)
        if got != self.expected_keys():
            raise Failure(f'{where}: counters {got}, expected {self.expected_keys()}')

    def stats(self):
        reply = self.do('get-stats', {})
        if not isinstance(reply, dict) or not isinstance(reply.get('stat'), list):
            raise Failure(f'get-stats do: one reply with a stat list expected, got {reply}')
        values = self.stat_entries(reply['stat'], 'get-stats do')
        self.check_keys(values, 'get-stats do')
        return values

    # the checks
    def check_echo(self):
        data = self.token('echo')
        reply = self.do('echo', {'data': data})
        if reply != {'data': data}:
            raise Failure(f'sent {data!r}, reply {reply}')
        self.last_echo = data

    def check_echo_max(self):
        data = bytes(range(256)) * (self.max_payload // 256) + b'm' * (self.max_payload % 256)
        reply = self.do('echo', {'data': data})
        if not isinstance(reply, dict) or reply.get('data') != data:
            got = reply.get('data') if isinstance(reply, dict) else reply
            raise Failure(f'{len(data)} bytes sent, reply {len(got) if isinstance(got, bytes) else got}')

    def check_flag_echo_do(self):
        data = self.token('flag-echo')
        reply = self.do('echo', {'data': data}, [common.NLM_F_ECHO])
        if reply != {'data': data}:
            raise Failure(f'sent {data!r}, reply {reply}')
        copies = [m for m in common.take_queued(self.a)
                  if m['name'] == 'event' and m['msg'].get('data') == data]
        if len(copies) != 1:
            raise Failure(f'{len(copies)} copies of the event before the ack, expected 1')
        self.expect_copy(copies[0]['msg'], data)

    def expect_copy(self, got, data):
        want = {'data': data, 'portid': self.portid, 'uid': os.getuid()}
        if got != want:
            raise Failure(f'copy {got}, expected {want}')

    def check_flag_echo_order(self):
        """Below YnlFamily.do(): the same request through YNL's own encoder
        and decoder, reading datagram by datagram to see the order."""
        family, ynl = self.a, self.ynl.ynl
        op = self.ops['echo']
        data = self.token('echo-order')
        seq = 0x4e000000 + os.getpid() % 0x10000
        request = family._encode_message(op, {'data': data}, [common.NLM_F_ECHO], seq)  # pylint: disable=protected-access
        family.sock.send(request)
        seen = []
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                datagram = family.sock.recv(family._recv_size)  # pylint: disable=protected-access
            except BlockingIOError as error:
                raise Failure(f'after {seen}: nothing more within {self.timeout} s') from error
            for nl_msg in ynl.NlMsgs(datagram):
                if nl_msg.nl_type == self.ynl.Netlink.NLMSG_ERROR:
                    if nl_msg.nl_seq == seq:
                        seen.append('ack' if nl_msg.error == 0 else f'error {nl_msg.error}')
                    continue
                decoded = family.nlproto.decode(family, nl_msg, None)
                attrs = family._decode(decoded.raw_attrs, op.attr_set.name)  # pylint: disable=protected-access
                if attrs.get('data') != data:
                    continue   # someone else's event
                name = family.rsp_by_value[decoded.cmd()].name
                seen.append(name if nl_msg.nl_seq == seq or name == 'event'
                            else f'{name} (seq {nl_msg.nl_seq})')
                if name == 'event':
                    self.expect_copy(attrs, data)
            if seen and seen[-1].startswith(('ack', 'error')):
                break
        if seen != ['echo', 'event', 'ack']:
            raise Failure(f'received {seen}, expected the reply (echo), the event, the ack')
        self.flag_echo_data = data

    def check_broadcast(self, group, listener, others, label):
        data = self.token(label)
        before = self.stats()
        reply = self.do('broadcast', {'data': data, 'group': group})
        if reply is not None:
            raise Failure(f'broadcast answered {reply}, expected only the ack')
        self.expect_event(listener, data, f'the listener of group {group}')
        for other, who in others:
            self.expect_no_event(other, data, who)
        after = self.stats()
        self.expect_growth(before, after, {('broadcasts', None): 1, ('bytes', None): len(data)})

    @staticmethod
    def expect_growth(before, after, minimum):
        for key, least in minimum.items():
            if after[key] - before[key] < least:
                raise Failure(f'{key[0]} went from {before[key]} to {after[key]}, '
                              f'expected at least +{least}')

    def check_stats_dump(self):
        do = self.stats()
        parts = self.dump('get-stats')
        if not isinstance(parts, list) or not parts:
            raise Failure(f'dump: a list of messages expected, got {parts}')
        entries = []
        for part in parts:
            stats = part.get('stat') if isinstance(part, dict) else None
            if not isinstance(stats, list) or len(stats) != 1:
                raise Failure(f'dump: each message carries one stat, got {part}')
            entries += stats
        dumped = self.stat_entries(entries, 'get-stats dump')
        if sorted(dumped, key=repr) != sorted(do, key=repr):
            raise Failure(f'dump counters {sorted(dumped, key=repr)} differ from do '
                          f'{sorted(do, key=repr)}')
        for key, value in do.items():
            if key[0] != LISTENERS and dumped[key] < value:
                raise Failure(f'{key[0]}: {value} in do, then {dumped[key]} in the dump')

    def check_stats_growth(self):
        before = self.stats()
        data = self.token('counted')
        self.do('echo', {'data': data})
        after = self.stats()
        self.expect_growth(before, after, {('echoes', None): 1, ('requests', None): 1,
                                           ('bytes', None): len(data)})

    def check_listeners(self):
        values = self.stats()
        want = {(LISTENERS, 1): 2, (LISTENERS, self.group_count): 1}
        for key, least in want.items():
            if values[key] < least:
                raise Failure(f'{key}: {values[key]}, but this test has {least} '
                              f'socket(s) subscribed there')

    def expect_error(self, op, attrs, code, **extack):
        try:
            reply = self.do(op, attrs)
        except self.ynl.NlError as error:
            got = common.extack_of(error)
            if error.error != code:
                raise Failure(f'{errno.errorcode.get(error.error, error.error)}, expected '
                              f'{errno.errorcode[code]} (extack {got})') from error
            for key, want in extack.items():
                key = key.replace('_', '-')
                if callable(want):
                    if not want(got.get(key)):
                        raise Failure(f'extack {key} is {got.get(key)!r} (extack {got})') from error
                elif got.get(key) != want:
                    raise Failure(f'extack {key} is {got.get(key)!r}, expected {want!r} '
                                  f'(extack {got})') from error
            return got
        raise Failure(f'{op} {attrs} succeeded ({reply}), expected {errno.errorcode[code]}')

    def check_range(self, value):
        policy = {'type': 'u32', 'min-value': self.group_min, 'max-value': self.group_max}
        self.expect_error(
            'broadcast', {'data': b'range', 'group': value}, errno.ERANGE, bad_attr='.group',
            policy=lambda p: isinstance(p, dict) and all(p.get(k) == v for k, v in policy.items()))

    def check_too_long(self):
        got = self.expect_error('echo', {'data': b'L' * (self.max_payload + 1)}, errno.EMSGSIZE,
                                bad_attr='.data', msg=lambda m: isinstance(m, str) and m)
        self.report.note(f'EMSGSIZE message: {got.get("msg")}')

    # the CLI
    def start_cli(self):
        base = [sys.executable, self.ynl.cli, '--spec', self.spec, '--schema', self.schema,
                '--output-json']
        self.cli_data = self.token('cli')
        requests = {
            'cli-echo': ['--do', 'echo', '--json', json.dumps({'data': self.cli_data.hex()})],
            'cli-dump-get-stats': ['--dump', 'get-stats'],
        }
        for name, extra in requests.items():
            self.cli[name] = subprocess.Popen(base + extra, stdout=subprocess.PIPE,  # pylint: disable=consider-using-with
                                              stderr=subprocess.PIPE, text=True)

    def cli_output(self, name):
        process = self.cli[name]
        try:
            out, err = process.communicate(timeout=self.args.cli_timeout)
        except subprocess.TimeoutExpired as error:
            process.kill()
            process.communicate()
            raise Failure(f'still running after {self.args.cli_timeout} s: killed') from error
        lines = [line for line in out.splitlines() if line.strip()]
        if process.returncode != 0 or not lines:
            raise Failure(f'exit status {process.returncode}: {out.strip()} {err.strip()}')
        try:
            return json.loads(lines[-1])
        except ValueError as error:
            raise Failure(f'not JSON: {out.strip()} {err.strip()}') from error

    def check_cli_echo(self):
        reply = self.cli_output('cli-echo')
        if reply != {'data': self.cli_data.hex()}:
            raise Failure(f'sent {self.cli_data.hex()}, the CLI printed {reply}')

    def check_cli_dump(self):
        parts = self.cli_output('cli-dump-get-stats')
        if not isinstance(parts, list) or \
                not all(isinstance(p, dict) and len(p.get('stat', [])) == 1 for p in parts):
            raise Failure(f'expected one stat per message, the CLI printed {parts}')
        values = self.stat_entries([p['stat'][0] for p in parts], 'CLI dump')
        self.check_keys(values, 'CLI dump')

    def close(self):
        for family in self.families:
            try:
                family.sock.close()
            except OSError:
                pass
        for process in self.cli.values():
            if process.poll() is None:
                process.kill()
                process.communicate()


def find_ynl(args, report):
    """The kernel's YNL."""
    found = {}

    def find():
        found['ynl'] = common.Ynl(args.kdir)
        report.note(found['ynl'].describe())

    report.run('ynl', find)
    return found.get('ynl')


def run_checks(s):
    run = s.run
    if run('echo', s.check_echo):
        run('event-to-listener', s.expect_event, s.listener, s.last_echo, 'the listener')
        run('no-event-to-sender', s.expect_no_event, s.a, s.last_echo, 'the requester')
    run('echo-max-payload', s.check_echo_max)
    if run('echo-nlm-f-echo', s.check_flag_echo_order):
        run('echo-nlm-f-echo-listener', s.expect_event, s.listener, s.flag_echo_data,
            'the listener')
    if s.do_chokes_on_ntf:
        s.report.note('echo-nlm-f-echo-do skipped: this YNL\'s YnlFamily.do() fails '
                      '(AttributeError) when a notification comes in a datagram of its own '
                      'before the answer, as the copy does; checked below do() instead')
    else:
        run('echo-nlm-f-echo-do', s.check_flag_echo_do)
    run('broadcast', s.check_broadcast, 1, s.listener, [(s.a, 'the requester')], 'bcast')
    if not s.genl:
        run(f'broadcast-group-{s.group_count}', s.check_broadcast, s.group_count,
            s.listener_last, [(s.a, 'the requester'), (s.listener, 'the listener of group 1')],
            'bcast-last')
    run('get-stats-do', s.stats)
    run('get-stats-dump', s.check_stats_dump)
    run('get-stats-counts-echo', s.check_stats_growth)
    if not s.genl:
        run('get-stats-listeners', s.check_listeners)

    run('missing-data-echo', s.expect_error, 'echo', {}, errno.EINVAL, miss_type='data')
    run('missing-data-broadcast', s.expect_error, 'broadcast', {'group': 1}, errno.EINVAL,
        miss_type='data')
    run('missing-group-broadcast', s.expect_error, 'broadcast', {'data': b'no group'},
        errno.EINVAL, miss_type='group')
    if s.group_min > 0:
        run(f'group-{s.group_min - 1}-out-of-range', s.check_range, s.group_min - 1)
    run(f'group-{s.group_max + 1}-out-of-range', s.check_range, s.group_max + 1)
    run('data-over-max-payload', s.check_too_long)
    if s.cli:
        run('cli-dump-get-stats', s.check_cli_dump)


def main():
    args = parse_args()
    report = common.Report()
    ynl = find_ynl(args, report)
    if ynl is None:
        return report.finish()
    sessions = [Session(args, transport, ynl, report)
                for transport in dict.fromkeys(args.transport)]
    try:
        # Every transport's set-up first, so that all CLI subprocesses start
        # early and run side by side.
        ready = []
        for s in sessions:
            if s.run('schema', s.pick_schema):
                s.start_cli()
                if s.run('spec', s.open):
                    ready.append(s)
        # The CLIs' echoes publish events, which must not reach a subscribed
        # requester in the middle of one of its requests (YNL 6.12's do()
        # cannot take that): they are done before anyone subscribes.
        for s in sessions:
            if 'cli-echo' in s.cli:
                s.run('cli-echo', s.check_cli_echo)
        for s in ready:
            if s.run('subscribe', s.subscribe):
                run_checks(s)
    finally:
        for s in sessions:
            s.close()
    return report.finish()


if __name__ == '__main__':
    sys.exit(main())
