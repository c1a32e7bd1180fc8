#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Checks that the generic netlink controller's view of the family is what
its spec (specs/nltest.yaml) says, in the spirit of the kernel's
tools/testing/selftests/net/nl_nlctrl.py: through YnlFamily on the kernel's
own Documentation/netlink/specs/nlctrl.yaml, getfamily and getpolicy, and
every expectation computed from the spec (loaded with the kernel's YNL and
schema validation), no list written here:

- the family's name, id and version (the spec's, 1 when it gives none);
- each operation with a do or a dump is registered under its command number
  with exactly these flags: do -> cmd-cap-do, dump -> cmd-cap-dump, a
  policy -> cmd-cap-haspol, the spec's admin-perm / uns-admin-perm -> the
  same; no other operation is, so not the event-only ones;
- each mode's policy (getpolicy) takes exactly that mode's request
  attributes: their numbers, types (binary, u32, ...) and the spec's checks
  (min/max as min-value-u/max-value-u, the type's bounds when absent;
  min-len/max-len as min-length/max-length). Every mode has a policy: a mode
  whose request lists no attribute has an empty one (it accepts none), so
  every operation has cmd-cap-haspol;
- the multicast groups are the spec's, by name.

One line per check, `ok NAME` or `FAILED NAME: why` (`#` lines inform);
the exit status is 1 when a check failed.
"""

import argparse
import os
import sys

import ynl_common as common
from ynl_common import Failure

HERE = os.path.dirname(os.path.abspath(__file__))
UNSIGNED = {'u8': 8, 'u16': 16, 'u32': 32, 'u64': 64, 'uint': 64}
SIGNED = {'s8': 8, 's16': 16, 's32': 32, 's64': 64, 'sint': 64}
OP_FLAGS = {'admin-perm', 'uns-admin-perm'}   # spec flags the controller reports as such


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--kdir', default=os.environ.get('NLTEST_KDIR'),
                        help='kernel tree whose YNL, schemas and nlctrl.yaml to use '
                             '(default: $NLTEST_KDIR)')
    parser.add_argument('--top', default=os.environ.get(
        'NLTEST_TOP', os.path.normpath(os.path.join(HERE, '..', '..', '..'))),
                        help='the nltest repository (default: $NLTEST_TOP, else this '
                             'script\'s checkout)')
    parser.add_argument('--spec', help='the genetlink spec to compare with '
                                       '(default: TOP/specs/nltest.yaml)')
    parser.add_argument('--timeout', type=float, default=20,
                        help='seconds to wait for each answer (default 20)')
    args = parser.parse_args()
    if not args.kdir:
        parser.error('no kernel tree: set NLTEST_KDIR or pass --kdir')
    args.spec = args.spec or os.path.join(args.top, 'specs', 'nltest.yaml')
    return args


class Check:
    def __init__(self, args, report):
        self.args, self.report = args, report
        self.op_policy = {}

    def setup(self):
        self.ynl = common.Ynl(self.args.kdir)
        self.report.note(self.ynl.describe())

    def load_spec(self):
        schema = common.pick_schema(self.ynl, self.args.spec, self.report)
        self.spec = self.ynl.SpecFamily(self.args.spec, schema)
        if not self.spec.proto.startswith('genetlink'):
            raise Failure(f'{self.args.spec} is a {self.spec.proto} spec, not genetlink')
        self.report.note(f'spec {self.args.spec}, schema {schema}')

    def load_nlctrl(self):
        path = os.path.join(self.ynl.schema_dir, 'specs', 'nlctrl.yaml')
        schema = common.pick_schema(self.ynl, path, self.report)
        self.ctrl = common.open_family(self.ynl, path, schema, self.args.timeout)
        self.report.note(f'controller spec {path}, schema {schema}')

    def ask(self, method, op, attrs):
        try:
            return getattr(self.ctrl, method)(op, attrs)
        except BlockingIOError as error:
            raise Failure(f'{op}: no answer within {self.args.timeout} s') from error

    def getfamily(self):
        self.family = self.ask('do', 'getfamily', {'family-name': self.spec.name})
        got = (self.family.get('family-name'), self.family.get('family-id', 0) > 0)
        if got != (self.spec.name, True):
            raise Failure(f'getfamily answered {self.family}')
        self.report.note(f'family {self.spec.name}: id {self.family["family-id"]}')
        # [{index: {'id': cmd, 'flags': {...}}}, ...], as nl_nlctrl.py re-keys it
        self.ops = {}
        for entry in self.family.get('ops', []):
            for op in entry.values():
                if op['id'] in self.ops:
                    raise Failure(f'command {op["id"]} listed twice')
                self.ops[op['id']] = set(op.get('flags', set()))

    # expectations, from the spec
    def callable_ops(self):
        return [op for op in self.spec.ops.values() if 'do' in op.yaml or 'dump' in op.yaml]

    def modes(self, op):
        return [mode for mode in ('do', 'dump') if mode in op.yaml]

    def expected_flags(self, op):
        flags = set()
        if 'do' in op.yaml:
            flags.add('cmd-cap-do')
        if 'dump' in op.yaml:
            flags.add('cmd-cap-dump')
        if self.modes(op):   # every mode has a policy, empty when it takes no attribute
            flags.add('cmd-cap-haspol')
        for flag in op.yaml.get('flags', []):
            if flag not in OP_FLAGS:
                raise Failure(f'{op.name}: no controller flag for the spec\'s {flag!r}')
            flags.add(flag)
        return flags

    def expected_policy(self, op, mode):
        names = op.yaml[mode].get('request', {}).get('attributes', [])
        return {op.attr_set[name].value: self.expected_props(op.attr_set[name]) for name in names}

    def expected_props(self, attr):
        """The policy the controller reports for an attribute, as the kernel
        dumps the policy ynl_gen_c.py generates from the spec."""
        kind, checks = attr.type, dict(attr.yaml.get('checks', {}))
        value = lambda key, default=0: common.resolve_value(self.spec, checks.get(key, default))  # noqa: E731
        if kind in UNSIGNED or kind in SIGNED:
            enum = self.spec.consts.get(attr.yaml['enum']) if 'enum' in attr.yaml else None
            if attr.yaml.get('enum-as-flags') or 'flags-mask' in checks or \
                    (enum is not None and enum.type == 'flags'):
                flags = enum if 'flags-mask' not in checks else self.spec.consts[checks['flags-mask']]
                mask = 0
                for entry in flags.entries.values():
                    mask |= entry.user_value(as_flags=True)
                return {'type': kind, 'mask': mask}
            if enum is not None:
                numbers = [entry.value for entry in enum.entries.values()]
                low, high = min(numbers), max(numbers)
                if high - low + 1 != len(numbers):
                    return {'type': kind}       # sparse: a validation function
                if 'min' not in checks and (low != 0 or kind in SIGNED):
                    checks['min'] = low
                checks.setdefault('max', high)
        if kind in UNSIGNED:
            bits = UNSIGNED[kind]
            return {'type': kind, 'min-value-u': value('min', 0),
                    'max-value-u': value('max', (1 << bits) - 1)}
        if kind in SIGNED:
            bits = SIGNED[kind]
            return {'type': kind, 'min-value-s': value('min', -(1 << (bits - 1))),
                    'max-value-s': value('max', (1 << (bits - 1)) - 1)}
        if kind in ('binary', 'string'):
            if 'exact-len' in checks:   # NLA_POLICY_EXACT_LEN: a binary range
                return {'type': 'binary', 'min-length': value('exact-len'),
                        'max-length': value('exact-len')}
            if kind == 'string':
                props = {'type': 'string' if checks.get('unterminated-ok') else 'nul-string'}
            else:
                props = {'type': 'binary'}
            if value('min-len'):
                props['min-length'] = value('min-len')
            if 'max-len' in checks:
                props['max-length'] = value('max-len')
            return props
        if kind == 'flag':
            return {'type': 'flag'}
        if kind == 'nest':
            return {'type': 'nested'}
        raise Failure(f'{attr.name}: cannot derive the policy of a {kind} attribute')

    # the checks
    def check_version(self):
        want = self.spec.yaml.get('version', 1)
        if self.family.get('version') != want:
            raise Failure(f'version {self.family.get("version")}, the spec says {want}')

    def check_op(self, op):
        want = self.expected_flags(op)
        got = self.ops.get(op.req_value)
        if got is None:
            raise Failure(f'command {op.req_value} is not registered (ops {self.ops})')
        if got != want:
            raise Failure(f'command {op.req_value} has flags {sorted(got)}, the spec says '
                          f'{sorted(want)}')

    def check_no_other_ops(self):
        want = {op.req_value for op in self.callable_ops()}
        extra = sorted(set(self.ops) - want)
        if extra:
            raise Failure(f'commands {extra} are registered, the spec has no do or dump for them')

    def check_not_an_op(self, op):
        number = op.rsp_value if op.req_value is None else op.req_value
        if number in self.ops:
            raise Failure(f'{op.name} ({number}) is registered as an operation: '
                          f'flags {sorted(self.ops[number])}')

    def check_mcast_groups(self):
        got = sorted(group['name'] for entry in self.family.get('mcast-groups', [])
                     for group in entry.values())
        want = sorted(group['name'] for group in self.spec.yaml.get('mcast-groups', {})
                      .get('list', []))
        if got != want:
            raise Failure(f'groups {got}, the spec has {want}')

    def getpolicy(self):
        """One getpolicy dump per operation (CTRL_ATTR_OP): its modes'
        policy indexes and those policies' attributes."""
        self.op_policy, self.policies, self.policy_errors = {}, {}, {}
        for op in self.callable_ops():
            cmd = op.req_value
            modes, table = None, {}
            try:
                answer = self.ask('dump', 'getpolicy', {'family-name': self.spec.name, 'op': cmd})
            except self.ynl.NlError as error:
                self.policy_errors[cmd] = f'getpolicy of command {cmd}: {error}'
                answer = []
            for msg in answer:
                if 'op-policy' in msg:
                    if modes is not None:
                        raise Failure(f'command {cmd}: two op-policy entries')
                    modes = dict(msg['op-policy'])
                    if modes.pop('op-id') != cmd:
                        self.report.note(f'command {cmd}: the controller says op-id '
                                         f'{msg["op-policy"]["op-id"]}')
                if 'policy' in msg:
                    entry = dict(msg['policy'])
                    index, number = entry.pop('policy-id'), entry.pop('attr-id')
                    table.setdefault(index, {})[number] = entry
            self.op_policy[cmd] = modes or {}
            self.policies[cmd] = table
        self.report.note(f'policy indexes by command {self.op_policy}')
        if self.policy_errors:
            raise Failure('; '.join(self.policy_errors.values()))

    def check_policy_map(self):
        want = {op.req_value: sorted(self.modes(op)) for op in self.callable_ops()}
        got = {cmd: sorted(modes) for cmd, modes in self.op_policy.items()}
        if got != want:
            raise Failure(f'the policies\' modes by command are {got}, the spec says {want}')

    def check_policy(self, op, mode):
        if op.req_value in self.policy_errors:
            raise Failure(self.policy_errors[op.req_value])
        index = self.op_policy.get(op.req_value, {}).get(mode)
        if index is None:
            raise Failure(f'command {op.req_value} has no {mode} policy')
        want = self.expected_policy(op, mode)
        got = {}
        for number, props in self.policies[op.req_value].get(index, {}).items():
            props = dict(props)
            if props.get('type') == 'nested':
                props.pop('policy-idx', None)
                props.pop('policy-maxtype', None)
            got[number] = props
        if got != want:
            raise Failure(f'policy {index} takes {got}, the spec says {want}')


def main():
    args = parse_args()
    report = common.Report()
    run = report.run
    c = Check(args, report)
    for name, step in (('ynl', c.setup), ('spec', c.load_spec), ('nlctrl', c.load_nlctrl),
                       ('getfamily', c.getfamily)):
        if not run(name, step):
            return report.finish()
    run('version', c.check_version)
    for op in c.callable_ops():
        run(f'op-{op.name}', c.check_op, op)
    run('no-other-ops', c.check_no_other_ops)
    for op in c.spec.msgs.values():
        if op.is_async and 'do' not in op.yaml and 'dump' not in op.yaml:
            run(f'not-an-op-{op.name}', c.check_not_an_op, op)
    run('mcast-groups', c.check_mcast_groups)
    if run('getpolicy', c.getpolicy) or c.op_policy:
        run('policy-modes', c.check_policy_map)
        for op in c.callable_ops():
            for mode in c.modes(op):
                run(f'policy-{op.name}-{mode}', c.check_policy, op, mode)
    c.ctrl.sock.close()
    return report.finish()


if __name__ == '__main__':
    sys.exit(main())
