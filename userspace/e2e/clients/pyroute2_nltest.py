#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A client of the generic netlink family nltest written as a pyroute2 user
writes one (pyroute2 0.7.2, Debian's python3-pyroute2): a
GenericNetlinkSocket subclass bound to the family by name, a genlmsg class
with an nla_map for its attributes (stat nested: counter, group, value; value
is a uint, 4 or 8 bytes on the wire, both decoded), requests through
nlm_request(). It proves:

- echo answers with the data sent;
- get-stats do answers one message with every counter, dump one message
  per counter, the same counters;
- a socket listening to the events group gets the event of another socket's
  echo with nlmsg_seq 0 and the echoer's port id, and pyroute2 still matches
  its own replies by sequence number: its request made with the very
  sequence number of the other socket's echo gets its reply, not that event
  (the old bug: the event carried the echo's sequence number, and pyroute2
  took it for the reply).

--offline checks on a host without the module that the message classes
encode and decode (uint of both sizes) and that the constants agree with
specs/nltest.yaml. One line per check, `ok NAME` or `FAILED NAME: why`
(`#` lines inform); the exit status is 1 when a check failed. Every read
has a timeout (SO_RCVTIMEO and pyroute2's get_timeout).
"""

import argparse
import os
import socket
import struct
import sys
import traceback

from pyroute2.netlink import NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, genlmsg, nla, nla_base_string
from pyroute2.netlink.generic import GenericNetlinkSocket

HERE = os.path.dirname(os.path.abspath(__file__))

# specs/generated/nltest.h
NLTEST_FAMILY_NAME = 'nltest'
NLTEST_FAMILY_VERSION = 1
NLTEST_MCGRP_EVENTS = 'events'
NLTEST_CMD_ECHO = 1
NLTEST_CMD_BROADCAST = 2
NLTEST_CMD_GET_STATS = 3
NLTEST_CMD_EVENT = 4
NLTEST_GROUP_COUNT = 8
COUNTERS = {1: 'requests', 2: 'echoes', 3: 'broadcasts', 4: 'bytes', 5: 'errors',
            6: 'dropped', 7: 'listeners'}
LISTENERS = 7


class nltestmsg(genlmsg):
    prefix = 'NLTEST_A_'
    nla_map = (
        ('NLTEST_A_UNSPEC', 'none'),
        ('NLTEST_A_DATA', 'cdata'),
        ('NLTEST_A_GROUP', 'uint32'),
        ('NLTEST_A_PORTID', 'uint32'),
        ('NLTEST_A_UID', 'uint32'),
        ('NLTEST_A_STAT', 'stat'),
    )

    class stat(nla):
        prefix = 'NLTEST_A_STAT_'
        nla_map = (
            ('NLTEST_A_STAT_UNSPEC', 'none'),
            ('NLTEST_A_STAT_COUNTER', 'uint32'),
            ('NLTEST_A_STAT_GROUP', 'uint32'),
            ('NLTEST_A_STAT_VALUE', 'uint'),
        )

        class uint(nla_base_string):
            """NLA_UINT: 4 bytes while the value fits, else 8."""

            def encode(self):
                value = int(self.value)
                self['value'] = struct.pack('=I' if value < 1 << 32 else '=Q', value)
                nla_base_string.encode(self)

            def decode(self):
                nla_base_string.decode(self)
                raw = self['value']
                if len(raw) not in (4, 8):
                    raise ValueError(f'uint of {len(raw)} bytes')
                self.value = struct.unpack('=I' if len(raw) == 4 else '=Q', raw)[0]
                self['value'] = self.value


class NltestSocket(GenericNetlinkSocket):
    """The family nltest, found by name; reads give up after `timeout` s."""

    def __init__(self, timeout=20.0, groups=()):
        self.timeout = timeout
        super().__init__(ext_ack=True)
        self.get_timeout = timeout
        try:
            self.bind(NLTEST_FAMILY_NAME, nltestmsg)
            for group in groups:
                self.add_membership(group)
        except Exception:
            self.close()
            raise

    def post_init(self):   # also when bind() makes a new socket to retry
        super().post_init()
        seconds = struct.pack('ll', int(self.timeout), int(self.timeout % 1 * 1e6))
        self.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, seconds)

    @staticmethod
    def message(cmd, attrs=()):
        msg = nltestmsg()
        msg['cmd'] = cmd
        msg['version'] = NLTEST_FAMILY_VERSION
        msg['attrs'] = list(attrs)
        return msg

    def request(self, cmd, attrs=(), flags=NLM_F_REQUEST | NLM_F_ACK):
        return self.nlm_request(self.message(cmd, attrs), msg_type=self.prid, msg_flags=flags)

    def echo(self, data):
        return self.request(NLTEST_CMD_ECHO, [('NLTEST_A_DATA', data)])

    def stats(self, dump=False):
        flags = NLM_F_REQUEST | (NLM_F_DUMP if dump else NLM_F_ACK)
        return self.request(NLTEST_CMD_GET_STATS, flags=flags)


class Failure(Exception):
    pass


class Report:
    def __init__(self):
        self.failed, self.passed = [], 0

    def run(self, name, function, *args):
        try:
            function(*args)
        except Failure as error:
            self.failed.append(name)
            print(f'FAILED {name}: {error}', flush=True)
            return False
        except Exception as error:  # pylint: disable=broad-except
            self.failed.append(name)
            print(f'FAILED {name}: {type(error).__name__}: {error}', flush=True)
            for line in traceback.format_exc().rstrip().splitlines():
                print(f'# {line}')
            return False
        self.passed += 1
        print(f'ok {name}', flush=True)
        return True

    def finish(self):
        total = self.passed + len(self.failed)
        if self.failed:
            print(f'# {len(self.failed)} of {total} checks failed: {", ".join(self.failed)}')
            return 1
        print(f'# all {total} checks passed')
        return 0


def stat_values(messages, where, one_each=False):
    """{(counter name, group or None): value} of the stats in messages."""
    values = {}
    for msg in messages:
        if msg['cmd'] != NLTEST_CMD_GET_STATS:
            raise Failure(f'{where}: cmd {msg["cmd"]} answered, not GET_STATS '
                          f'(seq {msg["header"]["sequence_number"]})')
        stats = msg.get_attrs('NLTEST_A_STAT')
        if one_each and len(stats) != 1:
            raise Failure(f'{where}: {len(stats)} stats in a part, expected 1')
        for stat in stats:
            counter = COUNTERS.get(stat.get_attr('NLTEST_A_STAT_COUNTER'))
            value = stat.get_attr('NLTEST_A_STAT_VALUE')
            if counter is None or not isinstance(value, int):
                raise Failure(f'{where}: malformed stat {stat}')
            key = (counter, stat.get_attr('NLTEST_A_STAT_GROUP'))
            if key in values:
                raise Failure(f'{where}: {key} twice')
            values[key] = value
    want = sorted([(name, None) for number, name in COUNTERS.items() if number != LISTENERS]
                  + [(COUNTERS[LISTENERS], g) for g in range(1, NLTEST_GROUP_COUNT + 1)], key=repr)
    if sorted(values, key=repr) != want:
        raise Failure(f'{where}: counters {sorted(values, key=repr)}, expected {want}')
    return values


class Checks:
    def __init__(self, args):
        self.args = args
        self.sockets = []
        self.serial = 0

    def socket(self, groups=()):
        sock = NltestSocket(self.args.timeout, groups)
        self.sockets.append(sock)
        return sock

    def token(self, label):
        self.serial += 1
        return f'pyroute2-{label}-{os.getpid()}-{self.serial}'.encode()

    def bind(self):
        self.requester = self.socket()
        if NLTEST_MCGRP_EVENTS not in self.requester.mcast_groups:
            raise Failure(f'the family has groups {self.requester.mcast_groups}, no '
                          f'{NLTEST_MCGRP_EVENTS}')

    def echo(self):
        data = self.token('echo')
        replies = self.requester.echo(data)
        if len(replies) != 1 or replies[0]['cmd'] != NLTEST_CMD_ECHO or \
                replies[0].get_attr('NLTEST_A_DATA') != data:
            raise Failure(f'sent {data!r}, got {replies}')

    def stats_do(self):
        replies = self.requester.stats()
        if len(replies) != 1:
            raise Failure(f'{len(replies)} replies, expected 1')
        self.do_values = stat_values(replies, 'do')

    def stats_dump(self):
        parts = self.requester.stats(dump=True)
        values = stat_values(parts, 'dump', one_each=True)
        if sorted(values, key=repr) != sorted(self.do_values, key=repr):
            raise Failure('the dump\'s counters differ from do\'s')

    def listen_while_other_echoes(self):
        listener = self.socket(groups=[NLTEST_MCGRP_EVENTS])
        other = self.socket()
        data = self.token('other')
        replies = other.echo(data)
        if len(replies) != 1 or replies[0].get_attr('NLTEST_A_DATA') != data:
            raise Failure(f'the other socket\'s echo got {replies}')
        seq = replies[0]['header']['sequence_number']
        # The event is queued at the listener already (multicast is sent
        # within the echo's request). Ask with the echo's sequence number:
        # the reply must be the answer, not an event carrying that number.
        # (No NLM_F_ACK: an ack left queued with a number of its own choosing
        # would answer the socket's next request that draws the same number.)
        listener.put(NltestSocket.message(NLTEST_CMD_GET_STATS), listener.prid,
                     NLM_F_REQUEST, msg_seq=seq)
        answer = tuple(listener.get(msg_seq=seq))
        if not answer:
            raise Failure(f'no answer with seq {seq} within {self.args.timeout} s')
        if answer[0]['cmd'] != NLTEST_CMD_GET_STATS:
            raise Failure(f'the answer to GET_STATS with seq {seq} is cmd {answer[0]["cmd"]} '
                          f'(data {answer[0].get_attr("NLTEST_A_DATA")!r}): an event carrying '
                          'the sequence number of the request that caused it')
        stat_values(answer[:1], 'the listener\'s get-stats')
        events = [m for m in listener.get()
                  if m.get('cmd') == NLTEST_CMD_EVENT and m.get_attr('NLTEST_A_DATA') == data]
        if len(events) != 1:
            raise Failure(f'{len(events)} events with the other socket\'s data, expected 1')
        event = events[0]
        got = (event['header']['sequence_number'], event.get_attr('NLTEST_A_PORTID'),
               event.get_attr('NLTEST_A_UID'))
        want = (0, other.getsockname()[0], os.getuid())
        if got != want:
            raise Failure(f'event (seq, portid, uid) {got}, expected {want}')
        mine = self.token('listener')
        replies = listener.echo(mine)
        if len(replies) != 1 or replies[0].get_attr('NLTEST_A_DATA') != mine:
            raise Failure(f'the listener\'s own echo got {replies}')

    def close(self):
        for sock in self.sockets:
            sock.close()


def attrs(data, offset):
    """(type, payload) of the attributes from offset on."""
    found = []
    while offset + 4 <= len(data):
        length, kind = struct.unpack_from('HH', data, offset)
        found.append((kind & 0x3fff, data[offset + 4:offset + length]))
        offset += (length + 3) & ~3
    return found


def offline(args, report):
    """Without the module: messages encode and decode; constants agree
    with the spec."""
    def encode_echo():
        msg = NltestSocket.message(NLTEST_CMD_ECHO, [('NLTEST_A_DATA', b'hi')])
        msg['header'] = {'type': 0x1234, 'flags': NLM_F_REQUEST | NLM_F_ACK,
                         'sequence_number': 7, 'pid': 0}
        msg.encode()
        want = (struct.pack('IHHII', 28, 0x1234, 5, 7, 0) + bytes([1, 1, 0, 0])
                + struct.pack('HH', 6, 1) + b'hi\0\0')
        if bytes(msg.data) != want:
            raise Failure(f'encoded {bytes(msg.data).hex()}, expected {want.hex()}')

    def stats_round_trip():
        msg = NltestSocket.message(NLTEST_CMD_GET_STATS, [
            ('NLTEST_A_STAT', {'attrs': [('NLTEST_A_STAT_COUNTER', 4),
                                         ('NLTEST_A_STAT_VALUE', 1 << 40)]}, 0x8000),
            ('NLTEST_A_STAT', {'attrs': [('NLTEST_A_STAT_COUNTER', 7),
                                         ('NLTEST_A_STAT_GROUP', 3),
                                         ('NLTEST_A_STAT_VALUE', 5)]}, 0x8000)])
        msg['header'] = {'type': 0x1234, 'flags': 0, 'sequence_number': 0, 'pid': 0}
        msg.encode()
        data = bytes(msg.data)
        sizes = [len(payload) for stat in attrs(data, 20) if stat[0] == 5
                 for kind, payload in attrs(stat[1], 0) if kind == 3]
        back = nltestmsg(data)
        back.decode()
        got = [(s.get_attr('NLTEST_A_STAT_COUNTER'), s.get_attr('NLTEST_A_STAT_GROUP'),
                s.get_attr('NLTEST_A_STAT_VALUE')) for s in back.get_attrs('NLTEST_A_STAT')]
        if got != [(4, None, 1 << 40), (7, 3, 5)] or sizes != [8, 4]:
            raise Failure(f'decoded {got} from value sizes {sizes}')

    def constants():
        import yaml  # pylint: disable=import-outside-toplevel
        path = os.path.join(args.top, 'specs', 'nltest.yaml')
        with open(path, encoding='utf-8') as stream:
            spec = yaml.safe_load(stream)
        ops, number = {}, 0
        for op in spec['operations']['list']:
            number = op.get('value', number + 1)
            ops[op['name']] = number
        sets = {s['name']: [a['name'] for a in s['attributes']] for s in spec['attribute-sets']}
        counter = next(d for d in spec['definitions'] if d['name'] == 'counter')
        consts = {d['name']: d.get('value') for d in spec['definitions']}
        pairs = {
            'name': (spec['name'], NLTEST_FAMILY_NAME),
            'version': (spec.get('version', 1), NLTEST_FAMILY_VERSION),
            'commands': (ops, {'echo': NLTEST_CMD_ECHO, 'broadcast': NLTEST_CMD_BROADCAST,
                               'get-stats': NLTEST_CMD_GET_STATS, 'event': NLTEST_CMD_EVENT}),
            'attributes': (sets['nltest'], [n[len('NLTEST_A_'):].lower().replace('_', '-')
                                            for n, _ in nltestmsg.nla_map[1:]]),
            'stat attributes': (sets['stat'], [n[len('NLTEST_A_STAT_'):].lower().replace('_', '-')
                                               for n, _ in nltestmsg.stat.nla_map[1:]]),
            'counters': ({i + counter.get('value-start', 0): e['name']
                          for i, e in enumerate(counter['entries'])}, COUNTERS),
            'groups': ([g['name'] for g in spec['mcast-groups']['list']], [NLTEST_MCGRP_EVENTS]),
            'group-count': (consts['group-count'], NLTEST_GROUP_COUNT),
        }
        wrong = [f'{key}: the spec says {spec_value}, this client {mine}'
                 for key, (spec_value, mine) in pairs.items() if spec_value != mine]
        if wrong:
            raise Failure(f'{path}: ' + '; '.join(wrong))

    report.run('encode-echo', encode_echo)
    report.run('stats-uint-4-and-8-bytes', stats_round_trip)
    report.run('constants-match-spec', constants)


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--timeout', type=float, default=20,
                        help='seconds any read may wait (default 20)')
    parser.add_argument('--top', default=os.environ.get(
        'NLTEST_TOP', os.path.normpath(os.path.join(HERE, '..', '..', '..'))),
                        help='the nltest repository, for --offline\'s spec check '
                             '(default: $NLTEST_TOP, else this script\'s checkout)')
    parser.add_argument('--offline', action='store_true',
                        help='check the message classes and constants only: no socket')
    return parser.parse_args()


def main():
    args = parse_args()
    report = Report()
    if args.offline:
        offline(args, report)
        return report.finish()
    checks = Checks(args)
    try:
        if not report.run('bind', checks.bind):
            return report.finish()
        report.run('echo', checks.echo)
        if report.run('get-stats-do', checks.stats_do):
            report.run('get-stats-dump', checks.stats_dump)
        report.run('listen-while-other-echoes', checks.listen_while_other_echoes)
    finally:
        checks.close()
    return report.finish()


if __name__ == '__main__':
    sys.exit(main())
