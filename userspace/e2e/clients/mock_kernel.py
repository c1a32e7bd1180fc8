# SPDX-License-Identifier: GPL-2.0
"""An in-process stand-in for nltest.ko, for checking the clients of this
directory on a host without the module: `--mock` (the new behaviour) or
`--mock old-seq` (events carry the request's sequence number, the old bug).

It is not a model to test the module against: it answers as the protocol
(specs/nltest.yaml, specs/nltest-raw.yaml) and these clients' expectations
say the module does, so a client that passes against it has its own code
paths (the YNL version's API, pyroute2's matching, decoding) exercised, no
more. Sockets are fake: a queue of datagrams with a pipe for select(), the
"kernel" answers synchronously inside send(), as netlink's input callback
runs in the sender's context. Both transports (generic netlink with the
controller's getfamily and getpolicy, and unit 17) share one namespace's
counters.
"""

import collections
import errno
import os
import runpy
import select
import socket
import struct
import sys
import types

SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP, NETLINK_DROP_MEMBERSHIP = 1, 2
NETLINK_CAP_ACK, NETLINK_EXT_ACK = 10, 11
NETLINK_GENERIC, UNIT = 16, 17
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK, NLM_F_ECHO = 1, 2, 4, 8
NLM_F_DUMP = 0x300
NLM_F_CAPPED, NLM_F_ACK_TLVS = 0x100, 0x200
NLA_F_NESTED = 0x8000
GENL_ID_CTRL = 0x10
CTRL_CMD_NEWFAMILY, CTRL_CMD_GETFAMILY, CTRL_CMD_GETPOLICY = 1, 3, 10

FAMILY_ID, EVENTS_ID = 0x25, 0x0b
ECHO, BROADCAST, GET_STATS, EVENT = 1, 2, 3, 4   # genl cmd; raw: + 0x0f
A_DATA, A_GROUP, A_PORTID, A_UID, A_STAT = 1, 2, 3, 4, 5
STAT_COUNTER, STAT_GROUP, STAT_VALUE = 1, 2, 3
COUNTERS = ['requests', 'echoes', 'broadcasts', 'bytes', 'errors', 'dropped', 'listeners']
GROUP_COUNT = 8
# (type, min, max) per attribute, per command: the policies of both transports
BINARY, U32 = 10, 4   # NL_ATTR_TYPE_*
POLICIES = {
    'genl': {ECHO: {A_DATA: (BINARY,)}, BROADCAST: {A_DATA: (BINARY,), A_GROUP: (U32, 1, 1)},
             GET_STATS: {}},
    'raw': {ECHO: {A_DATA: (BINARY,)}, BROADCAST: {A_DATA: (BINARY,), A_GROUP: (U32, 1, GROUP_COUNT)},
            GET_STATS: {}},
}
REQUIRED = {ECHO: [A_DATA], BROADCAST: [A_DATA, A_GROUP], GET_STATS: []}
OPS = [(ECHO, 0x02 | 0x08), (BROADCAST, 0x02 | 0x08 | 0x10), (GET_STATS, 0x02 | 0x04 | 0x08)]
FAMILIES = {   # name, id, version, (cmd, flags), (group, id)
    'nlctrl': ('nlctrl', GENL_ID_CTRL, 2, [(CTRL_CMD_GETFAMILY, 0x0e), (CTRL_CMD_GETPOLICY, 0x0c)],
               [('notify', 0x10)]),
    'nltest': ('nltest', FAMILY_ID, 1, OPS, [('events', EVENTS_ID)]),
}


def attr(kind, payload):
    return struct.pack('HH', 4 + len(payload), kind) + payload + b'\0' * (-len(payload) % 4)


def nest(kind, *parts):
    return attr(kind | NLA_F_NESTED, b''.join(parts))


def u32(kind, value):
    return attr(kind, struct.pack('I', value))


def u64(kind, value):
    return attr(kind, struct.pack('Q', value))


def uint(kind, value):
    return attr(kind, struct.pack('I' if value < 1 << 32 else 'Q', value))


def message(kind, flags, seq, payload, pid=0):
    return struct.pack('IHHII', 16 + len(payload), kind, flags, seq, pid) + payload


def parse_attrs(data, offset):
    """(type, payload, offset of the attribute in data) of each attribute."""
    attrs = []
    while offset + 4 <= len(data):
        length, kind = struct.unpack_from('HH', data, offset)
        if length < 4:
            break
        attrs.append((kind & 0x3fff, data[offset + 4:offset + length], offset))
        offset += (length + 3) & ~3
    return attrs


class Refusal(Exception):
    def __init__(self, code, msg=None, offset=None, policy=None, miss=None):
        super().__init__(code)
        self.code, self.msg, self.offset, self.policy, self.miss = code, msg, offset, policy, miss


class FakeSocket:
    """What YNL and pyroute2 use of a netlink socket."""

    def __init__(self, kernel, proto):
        self.kernel, self.proto = kernel, proto
        self.portid = 0
        self.groups = set()
        self.options = set()
        self.timeout = None
        self.queue = collections.deque()
        self._read, self._write = os.pipe()
        self.closed = False

    # socket API
    def fileno(self):
        return self._read

    def setsockopt(self, level, option, value):
        if level == SOL_NETLINK:
            if option == NETLINK_ADD_MEMBERSHIP:
                self._bind()
                self.groups.add(value)
            elif option == NETLINK_DROP_MEMBERSHIP:
                self.groups.discard(value)
            elif value:
                self.options.add(option)
        elif level == socket.SOL_SOCKET and option == socket.SO_RCVTIMEO:
            seconds, micros = struct.unpack('ll', value)
            self.timeout = seconds + micros / 1e6 or None

    def settimeout(self, _timeout):
        pass   # reads are bounded by SO_RCVTIMEO, as on the real socket

    def getsockopt(self, level, option, *_):
        return 1 << 20 if level == socket.SOL_SOCKET else 0

    def bind(self, address):
        pid, groups = address
        if self.portid and pid != self.portid:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        if pid and not self.portid:
            if any(s.portid == pid for s in self.kernel.sockets):
                raise OSError(errno.EADDRINUSE, os.strerror(errno.EADDRINUSE))
            self.portid = pid
        self._bind()
        self.groups |= {bit + 1 for bit in range(32) if groups & (1 << bit)}

    def getsockname(self):
        self._bind()
        return (self.portid, 0)

    def send(self, data, _flags=0):
        self._bind()
        self.kernel.input(self, bytes(data))
        return len(data)

    def sendto(self, data, _address):
        return self.send(data)

    def recv(self, size, flags=0):
        if not self.queue:
            timeout = 0 if flags & socket.MSG_DONTWAIT else self.timeout
            readable, _, _ = select.select([self._read], [], [], timeout)
            if not readable:
                raise BlockingIOError(errno.EAGAIN, os.strerror(errno.EAGAIN))
        os.read(self._read, 1)
        datagram = self.queue.popleft()
        return datagram[:size]

    def recvmsg(self, size, _ancsize=0, flags=0):
        return self.recv(size, flags), [], 0, (0, 0)

    def recv_into(self, buffer, size=0, flags=0):
        data = self.recv(size or len(buffer), flags)
        buffer[:len(data)] = data
        return len(data)

    def close(self):
        if not self.closed:
            self.closed = True
            os.close(self._read)
            os.close(self._write)
            self.kernel.sockets.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()

    # kernel side
    def _bind(self):
        if not self.portid:
            self.kernel.next_portid += 1
            self.portid = self.kernel.next_portid

    def deliver(self, datagram):
        self.queue.append(datagram)
        os.write(self._write, b'.')


class Kernel:
    def __init__(self, seq_bug=False, max_payload=32768):
        self.seq_bug = seq_bug
        self.max_payload = max_payload
        self.sockets = []
        self.next_portid = 0x80000000
        self.stats = dict.fromkeys(COUNTERS, 0)
        self.stats['bytes'] = (1 << 32) - 16   # soon 8 bytes on the wire: both sizes get decoded

    def socket(self, family=socket.AF_NETLINK, kind=socket.SOCK_RAW, proto=0, fileno=None):
        if family != socket.AF_NETLINK or proto not in (NETLINK_GENERIC, UNIT) or fileno:
            raise OSError(errno.EPROTONOSUPPORT, os.strerror(errno.EPROTONOSUPPORT))
        sock = FakeSocket(self, proto)
        self.sockets.append(sock)
        return sock

    # replies
    def _ack(self, sock, header, request, refusal=None):
        code = -refusal.code if refusal else 0
        flags = 0
        if NETLINK_CAP_ACK in sock.options:
            echoed, flags = header, NLM_F_CAPPED
        else:
            echoed = request
        tlvs = b''
        if refusal and NETLINK_EXT_ACK in sock.options:
            if refusal.msg:
                tlvs += attr(1, refusal.msg.encode() + b'\0')
            if refusal.offset is not None:
                tlvs += u32(2, refusal.offset)
            if refusal.policy:
                kind, low, high = refusal.policy
                tlvs += nest(4, u32(1, kind), u64(4, low), u64(5, high))
            if refusal.miss is not None:
                tlvs += u32(5, refusal.miss)
            if tlvs:
                flags |= NLM_F_ACK_TLVS
        _, _, _, seq, _ = struct.unpack_from('IHHII', header)
        sock.deliver(message(NLMSG_ERROR, flags, seq, struct.pack('i', code) + echoed + tlvs))

    def input(self, sock, data):
        offset = 0
        while offset + 16 <= len(data):
            length, kind, flags, _, _ = struct.unpack_from('IHHII', data, offset)
            request = data[offset:offset + length]
            offset += (length + 3) & ~3
            try:
                if sock.proto == NETLINK_GENERIC and kind == GENL_ID_CTRL:
                    self._ctrl(sock, request)
                elif (sock.proto == NETLINK_GENERIC and kind == FAMILY_ID) or \
                        (sock.proto == UNIT and kind >= 0x10 and flags & NLM_F_REQUEST):
                    self._typed(sock, request)
                else:
                    raise Refusal(errno.EOPNOTSUPP)
            except Refusal as refusal:
                self._ack(sock, request[:16], request, refusal)
                continue
            if flags & NLM_F_ACK and not flags & NLM_F_DUMP:
                self._ack(sock, request[:16], request)

    @staticmethod
    def _family(name, number, version, ops, groups):
        return (attr(1, struct.pack('H', number)) + attr(2, name.encode() + b'\0')
                + u32(3, version) + u32(4, 0) + u32(5, 5 if name == 'nltest' else 10)
                + nest(6, *(nest(i + 1, u32(1, op), u32(2, fl)) for i, (op, fl) in enumerate(ops)))
                + nest(7, *(nest(i + 1, attr(1, group.encode() + b'\0'), u32(2, gid))
                            for i, (group, gid) in enumerate(groups))))

    def _ctrl(self, sock, request):
        _, _, flags, seq, _ = struct.unpack_from('IHHII', request)
        cmd = request[16]
        attrs = {k: v for k, v, _ in parse_attrs(request, 20)}
        def genl(cmd_, payload, flags_=0):
            return message(GENL_ID_CTRL, flags_, seq, bytes([cmd_, 2, 0, 0]) + payload)
        if cmd == CTRL_CMD_GETFAMILY:
            families = {name: self._family(*info) for name, info in FAMILIES.items()}
            if flags & NLM_F_DUMP:
                for family in families.values():
                    sock.deliver(genl(CTRL_CMD_NEWFAMILY, family, NLM_F_MULTI))
                sock.deliver(message(NLMSG_DONE, NLM_F_MULTI, seq, struct.pack('i', 0)))
                return
            name = attrs.get(2, b'').rstrip(b'\0').decode()
            if name not in families:
                raise Refusal(errno.ENOENT)
            sock.deliver(genl(CTRL_CMD_NEWFAMILY, families[name]))
        elif cmd == CTRL_CMD_GETPOLICY and flags & NLM_F_DUMP:
            name = attrs.get(2, b'').rstrip(b'\0')
            if name != b'nltest' and struct.unpack('H', attrs.get(1, b'\0\0')[:2])[0] != FAMILY_ID:
                raise Refusal(errno.ENOENT)
            only = struct.unpack('I', attrs[10])[0] if 10 in attrs else None
            # one policy per command; do and dump of GET_STATS share theirs
            for index, (op, _) in enumerate(OPS):
                if only not in (None, op):
                    continue
                modes = u32(1, index) + (u32(2, index) if op == GET_STATS else b'')
                sock.deliver(genl(CTRL_CMD_GETPOLICY, attr(1, struct.pack('H', FAMILY_ID))
                                  + nest(9, nest(op, modes)), NLM_F_MULTI))
            for index, (op, _) in enumerate(OPS):
                if only not in (None, op):
                    continue
                for number, rule in POLICIES['genl'][op].items():
                    props = u32(1, rule[0])
                    if len(rule) == 3:
                        props += u64(4, rule[1]) + u64(5, rule[2])
                    sock.deliver(genl(CTRL_CMD_GETPOLICY, attr(1, struct.pack('H', FAMILY_ID))
                                      + nest(8, nest(index, nest(number, props))), NLM_F_MULTI))
            sock.deliver(message(NLMSG_DONE, NLM_F_MULTI, seq, struct.pack('i', 0)))
        else:
            raise Refusal(errno.EOPNOTSUPP)

    def _typed(self, sock, request):
        _, kind, flags, seq, _ = struct.unpack_from('IHHII', request)
        genl = sock.proto == NETLINK_GENERIC
        transport = 'genl' if genl else 'raw'
        cmd = request[16] if genl else kind - 0x0f
        start = 20 if genl else 16
        if cmd not in POLICIES[transport]:
            raise Refusal(errno.EOPNOTSUPP, 'unknown command')
        self.stats['requests'] += 1
        policy = POLICIES[transport][cmd]
        values = {}
        for number, payload, at in parse_attrs(request, start):
            rule = policy.get(number)
            if rule is None:
                raise Refusal(errno.EINVAL, 'Unknown attribute type', at)
            if rule[0] == U32:
                if len(payload) != 4:
                    raise Refusal(errno.EINVAL, 'invalid attribute length', at)
                value = struct.unpack('I', payload)[0]
                if not rule[1] <= value <= rule[2]:
                    raise Refusal(errno.ERANGE, 'integer out of range', at, rule)
                values[number] = value
            else:
                values[number] = (payload, at)
        for number in REQUIRED[cmd]:
            if number not in values:
                self.stats['errors'] += 1
                raise Refusal(errno.EINVAL, miss=number)
        if A_DATA in values:
            data, at = values[A_DATA]
            if len(data) > self.max_payload:
                self.stats['errors'] += 1
                raise Refusal(errno.EMSGSIZE, f'DATA is {len(data)} bytes, more than '
                              f'max_payload ({self.max_payload})', at)

        def out(cmd_, payload, flags_=0, seq_=seq):
            if genl:
                return message(FAMILY_ID, flags_, seq_, bytes([cmd_, 1, 0, 0]) + payload)
            return message(cmd_ + 0x0f, flags_, seq_, payload)

        if cmd in (ECHO, BROADCAST):
            group = values.get(A_GROUP, 1)
            event = out(EVENT, attr(A_DATA, data) + u32(A_PORTID, sock.portid)
                        + u32(A_UID, os.getuid()), seq_=seq if self.seq_bug else 0)
            if cmd == ECHO:
                self.stats['echoes'] += 1
                sock.deliver(out(ECHO, attr(A_DATA, data)))
            else:
                self.stats['broadcasts'] += 1
            self.stats['bytes'] += len(data)
            member = EVENTS_ID if genl else group
            for other in self.sockets:
                if other is not sock and other.proto == sock.proto and member in other.groups:
                    other.deliver(event)
            if flags & NLM_F_ECHO:   # the notification itself: seq 0, as the module's
                sock.deliver(out(EVENT, event[20 if genl else 16:], seq_=0))
        else:
            stats = []
            for number, name in enumerate(COUNTERS, 1):
                if name == 'listeners':
                    for group in range(1, GROUP_COUNT + 1):
                        count = sum(group in s.groups for s in self.sockets if s.proto == UNIT)
                        stats.append(u32(STAT_COUNTER, number) + u32(STAT_GROUP, group)
                                     + uint(STAT_VALUE, count))
                else:
                    stats.append(u32(STAT_COUNTER, number) + uint(STAT_VALUE, self.stats[name]))
            if flags & NLM_F_DUMP:
                for part in stats:
                    sock.deliver(out(GET_STATS, nest(A_STAT, part), NLM_F_MULTI))
                sock.deliver(message(NLMSG_DONE, NLM_F_MULTI, seq, struct.pack('i', 0)))
            else:
                sock.deliver(out(GET_STATS, b''.join(nest(A_STAT, part) for part in stats)))


def install_ynl(ynl_module, kernel):
    """Makes the YNL library's sockets fake ones of `kernel`."""
    shim = types.SimpleNamespace(**{k: getattr(socket, k) for k in dir(socket)
                                    if not k.startswith('__')})
    shim.socket = kernel.socket
    ynl_module.socket = shim


def install_pyroute2(kernel):
    """Makes pyroute2's netlink sockets fake ones of `kernel`."""
    import pyroute2.config  # pylint: disable=import-outside-toplevel
    pyroute2.config.SocketBase = kernel.socket


def run_cli(cli, argv):
    """Runs YNL's cli.py (either layout) against a mock kernel of its own."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(cli)))
    import lib.ynl  # pylint: disable=import-outside-toplevel,import-error
    install_ynl(lib.ynl, Kernel())
    sys.argv = [cli] + argv
    runpy.run_path(cli, run_name='__main__')


if __name__ == '__main__':
    if len(sys.argv) < 2 or sys.argv[1] in ('-h', '--help'):
        print(f'usage: {sys.argv[0]} YNL-CLI [ARGS...]: runs the kernel\'s YNL CLI '
              'against this mock (a host check of the clients, not of the module)')
        sys.exit(0 if len(sys.argv) > 1 else 2)
    run_cli(sys.argv[1], sys.argv[2:])
