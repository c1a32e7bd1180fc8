#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Generate Rust definitions from YNL netlink specs.

Reads one or more YNL specs (the format of the kernel's
Documentation/netlink/specs/, schemas genetlink*.yaml and netlink-raw.yaml)
with the kernel tree's own spec library (tools/net/ynl/pyynl/lib/nlspec.py),
validating each against its schema, and writes one Rust file that depends on
`core` only: it has no crate attributes and no `use` of other crates, so a
`#![no_std]` kernel module can include it as a plain module
(`#[path = "..."] mod protocol;`) and userspace crates can `include!` it or
build it as a module the same way.

What is generated:

  * root of the file (shared by every spec given):
      - `ynl`: the small types the data below is made of (AttrSpec, AttrType,
        Operation, Mode, McastGroup);
      - one `pub const` per `definitions` const;
      - one `#[repr(u32)]` Rust enum per `definitions` enum (with `ALL`,
        `from_u32`, `name`, `TryFrom<u32>`, `From<Enum> for u32`, and `MAX`
        when `render-max` is set), one module of bit constants (and `MASK`)
        per `flags` definition;
      - one module of attribute numbers (u16) per attribute set: `attrs` for
        the set named like the family, `<set>_attrs` for the others, each
        with `MAX`;
  * one module per spec, named after its protocol (`genl` for genetlink*,
    `raw` for netlink-raw):
      - the family: `FAMILY_NAME`, and `FAMILY_VERSION` (genetlink) or
        `PROTONUM` (netlink-raw);
      - operation numbers: `cmd` (u8 `genlmsghdr.cmd`) or `msg` (u16
        `nlmsg_type`), with `MAX`;
      - multicast groups: `mcgrp` (names for genetlink, whose ids the
        controller allocates; numbers for netlink-raw) and `MCAST_GROUPS`;
      - `policy`: one `AttrSpec` per attribute of every set, with this
        spec's `checks`, and `<SET>_ATTRS` lists (`ATTRS` for the family's
        set), which nested attributes point to;
      - one `Operation` per operation (its number, flags, and per-mode
        request/reply attribute lists) and `OPERATIONS`.

Several specs of one protocol over several transports (a genetlink family
and a netlink-raw protocol serving the same commands) share the root: their
definitions and attribute sets must then be identical (names, values, types,
docs), except for `checks`, which belong to each transport's policy, and
`header`/`scope`/`name-prefix`, which are C naming. A definition that a spec
marks with `header` is taken from the spec that defines it without one; a
definition only ever marked with `header` is not rendered (the value is
C's). Enum attributes get their enum's range as policy when `checks` give
none, as ynl_gen_c.py does. The spec format has no way to say that an
attribute is required, so AttrSpec does not either.

The output is deterministic and rustfmt-clean (rustfmt --edition 2021).
With --check, nothing is written: the exit status tells whether OUT is up to
date (for `make test`).
"""

import argparse
import difflib
import importlib
import os
import re
import sys
import textwrap

import yaml

GENERATOR = 'scripts/ynl-gen-rust.py'

ATTR_TYPES = {
    'unused': 'Unused', 'pad': 'Pad', 'flag': 'Flag', 'binary': 'Binary',
    'bitfield32': 'Bitfield32', 'string': 'String',
    'u8': 'U8', 'u16': 'U16', 'u32': 'U32', 'u64': 'U64',
    's8': 'S8', 's16': 'S16', 's32': 'S32', 's64': 'S64',
    'uint': 'Uint', 'sint': 'Sint', 'nest': 'Nest',
    'indexed-array': 'IndexedArray', 'nest-type-value': 'NestTypeValue',
    'sub-message': 'SubMessage',
}
INT_TYPES = {'u8', 'u16', 'u32', 'u64', 's8', 's16', 's32', 's64', 'uint', 'sint'}
RUST_KEYWORDS = {
    'as', 'async', 'await', 'break', 'const', 'continue', 'crate', 'dyn', 'else',
    'enum', 'extern', 'false', 'fn', 'for', 'if', 'impl', 'in', 'let', 'loop',
    'match', 'mod', 'move', 'mut', 'pub', 'ref', 'return', 'self', 'Self',
    'static', 'struct', 'super', 'trait', 'true', 'type', 'unsafe', 'use',
    'where', 'while', 'abstract', 'become', 'box', 'do', 'final', 'gen',
    'macro', 'override', 'priv', 'try', 'typeof', 'unsized', 'virtual', 'yield',
}
# Names the root of the output uses itself.
ROOT_ITEMS = {'ynl', 'genl', 'raw'}

I64_MAX = (1 << 63) - 1


class GenError(Exception):
    """A spec the generator cannot render, or specs that disagree."""


# ---------------------------------------------------------------- naming

def words(name):
    return [w for w in re.split(r'[-_ ]+', str(name)) if w]


def upper(name):
    out = '_'.join(w.upper() for w in words(name))
    return '_' + out if out[:1].isdigit() else out


def snake(name):
    out = '_'.join(w.lower() for w in words(name))
    if out[:1].isdigit():
        out = '_' + out
    return out + '_' if out in RUST_KEYWORDS else out


def camel(name):
    out = ''.join(w[:1].upper() + w[1:].lower() for w in words(name))
    if out[:1].isdigit():
        out = '_' + out
    return out + '_' if out in RUST_KEYWORDS else out


def rust_str(text):
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append('\\' + ch)
        elif ch == '\n':
            out.append('\\n')
        elif ord(ch) < 0x20 or ord(ch) == 0x7f:
            out.append(f'\\u{{{ord(ch):x}}}')
        else:
            out.append(ch)
    out.append('"')
    return ''.join(out)


def doc_lines(text, indent, width=80):
    """`///` lines of a spec doc, wrapped, blank lines kept as paragraphs."""
    if not text:
        return []
    pad = ' ' * indent
    lines = []
    for para in re.split(r'\n\s*\n', str(text).strip()):
        para = ' '.join(para.split())
        wrapped = textwrap.wrap(para, max(40, width - indent - 4),
                                break_long_words=False, break_on_hyphens=False)
        if lines:
            lines.append(pad + '///')
        lines += [pad + '/// ' + line for line in wrapped]
    return lines


class Writer:
    def __init__(self):
        self.lines = []
        self.level = 0

    def p(self, line=''):
        self.lines.append(('    ' * self.level + line) if line else '')

    def doc(self, text):
        self.lines += doc_lines(text, 4 * self.level)

    def comment(self, text):
        for line in doc_lines(text, 4 * self.level):
            self.lines.append(line.replace('///', '//', 1))

    def open(self, line, brace=' {'):
        self.p(line + brace)
        self.level += 1

    def close(self, end='', brace='}'):
        self.level -= 1
        self.p(brace + end)

    def blank(self):
        if self.lines and self.lines[-1] != '' and not self.lines[-1].endswith('{'):
            self.lines.append('')

    def text(self):
        out = []
        for line in self.lines:
            # No blank line before a closing brace, nor two in a row.
            if line.strip() == '}' or line.strip().startswith('}'):
                while out and out[-1] == '':
                    out.pop()
            if line == '' and out and out[-1] == '':
                continue
            out.append(line)
        while out and out[-1] == '':
            out.pop()
        return '\n'.join(out) + '\n'


def struct_lit(w, name, fields, end=''):
    """A struct literal, one field per line (rustfmt's layout).

    A field's value is a string, or a function of (indent, "key: ") that
    returns the field's complete lines.
    """
    extra = 0
    if 4 * w.level + len(name) + 2 > 100 and ' = ' in name:
        # rustfmt breaks after `=` and indents the literal.
        left, right = name.split(' = ', 1)
        w.p(left + ' =')
        w.level += 1
        name, extra = right, 1
    w.open(name)
    for key, value in fields:
        if callable(value):
            w.lines += value(4 * w.level, f'{key}: ')
        else:
            w.p(f'{key}: {value},')
    w.close(end)
    w.level -= extra


def slice_lit(items, indent, prefix, suffix='', eq_break=False, open_='&['):
    """Lines of `PREFIX&[items]SUFFIX` laid out as rustfmt lays them out.

    One line when the items fit in 60 columns and the line in 100; for the
    right-hand side of a `const` (EQ_BREAK), on the next line if they fit
    there; else one item a line, or as many a line as fit when every item
    is at most 10 characters (rustfmt's array_width, max_width and
    short_array_element_width_threshold defaults). Lines are complete, with
    INDENT spaces first.
    """
    pad = ' ' * indent
    inner = ', '.join(items)
    one = open_ + inner + ']'
    if len(inner) <= 60:
        if indent + len(prefix) + len(one) + len(suffix) <= 100:
            return [pad + prefix + one + suffix]
        if eq_break and indent + 4 + len(one) + len(suffix) <= 100:
            return [pad + prefix.rstrip(), pad + '    ' + one + suffix]
    lines = [pad + prefix + open_]
    if all(len(item) <= 10 for item in items):
        line = ''
        for item in items:
            if line and indent + 4 + len(line) + 1 + len(item) + 1 > 100:
                lines.append(pad + '    ' + line)
                line = ''
            line = f'{line} {item},' if line else f'{item},'
        lines.append(pad + '    ' + line)
    else:
        lines += [pad + '    ' + item + ',' for item in items]
    lines.append(pad + ']' + suffix)
    return lines


# ---------------------------------------------------------------- loading

def load_ynl(path):
    """Import the kernel tree's YNL spec library from PATH (.../pyynl)."""
    if not path:
        raise GenError('the kernel tree\'s YNL library is needed: pass --ynl '
                       'LINUX/tools/net/ynl/pyynl or set YNL_PYYNL')
    path = os.path.abspath(path)
    if os.path.isdir(os.path.join(path, 'pyynl')):
        path = os.path.join(path, 'pyynl')     # LINUX/tools/net/ynl given
    if not os.path.isfile(os.path.join(path, 'lib', 'nlspec.py')):
        raise GenError(f'{path}/lib/nlspec.py not found: --ynl takes the '
                       'directory tools/net/ynl/pyynl of a kernel tree')
    sys.path.insert(0, path)
    lib = importlib.import_module('lib')
    specdir = importlib.import_module('lib.specdir')
    return lib.SpecFamily, specdir


def load_spec(spec_family, specdir, path, schema_dir, no_schema):
    with open(path, encoding='utf-8') as f:
        raw = yaml.safe_load(f)
    proto = raw.get('protocol', 'genetlink')
    if no_schema:
        schema = ''
    else:
        directory = schema_dir or specdir.schema_dir()
        schema = os.path.join(directory, f'{proto}.yaml')
        if not os.path.isfile(schema):
            raise GenError(f'schema {schema} not found (--schema-dir)')
    try:
        return spec_family(path, schema_path=schema)
    except Exception as err:   # jsonschema.ValidationError, SpecException...
        first = str(err).split('\n\n')[0]
        raise GenError(f'{path}: {type(err).__name__}: {first}') from err


# ---------------------------------------------------------------- model

class Spec:
    """One loaded spec, with what the Rust output needs of it."""

    def __init__(self, family, path):
        self.family = family
        self.path = path
        self.name = family.name
        self.proto = family.proto
        self.is_raw = self.proto == 'netlink-raw'
        self.module = 'raw' if self.is_raw else 'genl'
        self.op_type = 'u16' if self.is_raw else 'u8'
        self.ops_module = 'msg' if self.is_raw else 'cmd'
        if family.msg_id_model != 'unified':
            raise GenError(f'{path}: enum-model {family.msg_id_model} is not '
                           'supported (only unified)')

    def const_value(self, name):
        const = self.family.consts.get(name)
        if const is None or not isinstance(const, dict) or 'value' not in const:
            raise GenError(f'{self.path}: {name} is not a const definition')
        return const['value']

    def limit(self, attr, key):
        """A `checks` limit as a number: a literal, a const, or u32-max etc."""
        value = attr.yaml.get('checks', {}).get(key)
        if value is None or isinstance(value, int):
            return value
        if value in self.family.consts:
            return self.const_value(value)
        match = re.fullmatch(r'([us])(8|16|32|64)-(min|max)', value)
        if not match:
            raise GenError(f'{self.path}: {attr.name}: limit {value} is neither a number, '
                           'a const of the spec nor u32-max and the like (a C-only name?)')
        sign, width, end = match.group(1), int(match.group(2)), match.group(3)
        if sign == 'u':
            return 0 if end == 'min' else (1 << width) - 1
        return -(1 << (width - 1)) if end == 'min' else (1 << (width - 1)) - 1


def same(a, b, what):
    if a != b:
        raise GenError(f'{what} differs between the specs: {a!r} and {b!r}')


def definition_key(spec, elem):
    """What must be the same of a definition in every spec that has it."""
    keep = {k: v for k, v in elem.items() if k not in ('header', 'scope', 'name-prefix',
                                                       'enum-name', 'enum-cnt-name')}
    if elem['type'] in ('enum', 'flags'):
        enum = spec.family.consts[elem['name']]
        keep['entries'] = [(e.name, e.value, e.doc) for e in enum.entries.values()]
    return keep


def attr_key(attr):
    keep = {k: v for k, v in attr.yaml.items() if k not in ('checks', 'name-prefix')}
    keep['value'] = attr.value
    return keep


def collect_definitions(specs):
    """Definitions in order of first appearance, each from a spec that owns it."""
    owned = {}
    order = []
    for spec in specs:
        for elem in spec.family.yaml.get('definitions', []):
            name = elem['name']
            if name not in order:
                order.append(name)
            key = definition_key(spec, elem)
            for other_spec, other_elem in owned.get(name, []):
                same(definition_key(other_spec, other_elem), key, f'definition {name}')
            owned.setdefault(name, []).append((spec, elem))
    result = []
    for name in order:
        owners = [(s, e) for s, e in owned[name] if 'header' not in e]
        if owners:
            result.append(owners[0])
    return result


def collect_attr_sets(specs):
    sets = {}
    for spec in specs:
        for name, attr_set in spec.family.attr_sets.items():
            if attr_set.subset_of:
                continue
            if name in sets:
                first = sets[name]
                same(first.yaml.get('doc'), attr_set.yaml.get('doc'), f'doc of set {name}')
                same(list(first.attrs), list(attr_set.attrs), f'attributes of set {name}')
                for attr in first.attrs.values():
                    same(attr_key(attr), attr_key(attr_set.attrs[attr.name]),
                         f'attribute {name}/{attr.name}')
            else:
                sets[name] = attr_set
    return sets


def set_module(family_name, set_name):
    return 'attrs' if set_name == family_name else f'{snake(set_name)}_attrs'


def set_list(family_name, set_name):
    return 'ATTRS' if set_name == family_name else f'{upper(set_name)}_ATTRS'


def attr_const(family_name, set_name, attr_name):
    if set_name == family_name:
        return upper(attr_name)
    return f'{upper(set_name)}_{upper(attr_name)}'


def int_type(values):
    low, high = min(values, default=0), max(values, default=0)
    if low >= 0:
        return 'u32' if high <= 0xffffffff else 'u64'
    return 'i32' if low >= -(1 << 31) and high < (1 << 31) else 'i64'


# ---------------------------------------------------------------- rendering

SUPPORT = '''\
/// The types the generated data is made of.
pub mod ynl {
    /// The type of an attribute, as the spec names it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum AttrType {
        /// A number reserved in the set, not used (`unused`).
        Unused,
        /// Padding for 64-bit alignment (`pad`, `NLA_PAD`).
        Pad,
        /// No payload: present or absent (`flag`, `NLA_FLAG`).
        Flag,
        /// Bytes (`binary`, `NLA_BINARY`).
        Binary,
        /// A value and a selector of 32 bits each (`NLA_BITFIELD32`).
        Bitfield32,
        /// A NUL-terminated string (`string`, `NLA_NUL_STRING`).
        String,
        /// `u8` (`NLA_U8`).
        U8,
        /// `u16` (`NLA_U16`).
        U16,
        /// `u32` (`NLA_U32`).
        U32,
        /// `u64` (`NLA_U64`).
        U64,
        /// `s8` (`NLA_S8`).
        S8,
        /// `s16` (`NLA_S16`).
        S16,
        /// `s32` (`NLA_S32`).
        S32,
        /// `s64` (`NLA_S64`).
        S64,
        /// Unsigned, 4 or 8 bytes on the wire (`uint`, `NLA_UINT`).
        Uint,
        /// Signed, 4 or 8 bytes on the wire (`sint`, `NLA_SINT`).
        Sint,
        /// Attributes of another set (`nest`, `NLA_NESTED`).
        Nest,
        /// Nests numbered by position (`indexed-array`, `NLA_NESTED_ARRAY`).
        IndexedArray,
        /// Nests whose type is a value (`nest-type-value`).
        NestTypeValue,
        /// Attributes whose format another attribute selects (`sub-message`).
        SubMessage,
    }

    /// One attribute as a policy sees it: its number, type and the spec's
    /// `checks`. A kernel module turns a list of these into a
    /// `struct nla_policy` table in `const fn`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct AttrSpec {
        /// Name in the spec.
        pub name: &'static str,
        /// Attribute number (`nla_type`).
        pub value: u16,
        /// Type of the payload.
        pub kind: AttrType,
        /// The attribute may appear more than once (`multi-attr`).
        pub multi: bool,
        /// Smallest value of an integer (`checks: min`).
        pub min: Option<i64>,
        /// Largest value of an integer (`checks: max`).
        pub max: Option<i64>,
        /// Bits an integer may have set (`checks: flags-mask`, flags enums).
        pub mask: Option<u64>,
        /// Shortest payload, in bytes (`checks: min-len`).
        pub min_len: Option<u16>,
        /// Longest payload, in bytes (`checks: max-len`).
        pub max_len: Option<u16>,
        /// Exact payload length, in bytes (`checks: exact-len`).
        pub exact_len: Option<u16>,
        /// The attributes of a nest (`nested-attributes`), with their checks.
        pub nested: Option<&'static [AttrSpec]>,
    }

    /// The attributes of one mode (`do` or `dump`) of an operation.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Mode {
        /// Attributes the request may carry: the policy of the mode.
        pub request: &'static [AttrSpec],
        /// Attributes of the reply (of each part of a dump); `None` when
        /// the operation answers with an ack only.
        pub reply: Option<&'static [AttrSpec]>,
    }

    /// One operation. `V` is the type of its number: `u8` for a generic
    /// netlink command, `u16` for an `nlmsg_type`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Operation<V: 'static> {
        /// Name in the spec.
        pub name: &'static str,
        /// Operation number: the command, or the `nlmsg_type`.
        pub value: V,
        /// Needs `CAP_NET_ADMIN` in the initial user namespace.
        pub admin_perm: bool,
        /// Needs `CAP_NET_ADMIN` in the user namespace owning the network
        /// namespace.
        pub uns_admin_perm: bool,
        /// Highest attribute number of the operation's attribute set.
        pub attr_max: u16,
        /// The request without `NLM_F_DUMP`, when the operation has one.
        pub doit: Option<Mode>,
        /// The request with `NLM_F_DUMP`, when the operation has one.
        pub dumpit: Option<Mode>,
        /// Attributes of the notification, for an event.
        pub event: Option<&'static [AttrSpec]>,
        /// The operation whose reply this notification shares.
        pub notify: Option<&'static str>,
        /// Multicast group of the notification.
        pub mcgrp: Option<&'static str>,
    }

    /// One multicast group.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct McastGroup {
        /// Name in the spec.
        pub name: &'static str,
        /// Group number (netlink-raw); generic netlink allocates ids.
        pub value: Option<u32>,
        /// Joining needs `CAP_NET_ADMIN` in the initial user namespace.
        pub admin_perm: bool,
        /// Joining needs `CAP_NET_ADMIN` in the user namespace owning the
        /// network namespace (`GENL_MCAST_CAP_NET_ADMIN`).
        pub uns_admin_perm: bool,
    }
}
'''


def render_const(w, elem):
    w.doc(elem.get('doc') or f'`{elem["name"]}`.')
    value = elem['value']
    if isinstance(value, str):
        w.p(f'pub const {upper(elem["name"])}: &str = {rust_str(value)};')
    else:
        w.p(f'pub const {upper(elem["name"])}: {int_type([value])} = {value};')
    w.blank()


def render_enum(w, spec, elem):
    enum = spec.family.consts[elem['name']]
    entries = list(enum.entries.values())
    name = camel(elem['name'])
    w.doc(elem.get('doc') or f'Enum `{elem["name"]}`.')
    w.p('#[repr(u32)]')
    w.p('#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]')
    w.open(f'pub enum {name}')
    for entry in entries:
        w.doc(entry.doc or f'`{entry.name}`.')
        w.p(f'{camel(entry.name)} = {entry.value},')
    w.close()
    w.blank()
    w.open(f'impl {name}')
    variants = [f'Self::{camel(e.name)}' for e in entries]
    w.p('/// Every value, in the order of the spec.')
    w.lines += slice_lit(variants, 4 * w.level, f'pub const ALL: [Self; {len(entries)}] = ',
                         ';', eq_break=True, open_='[')
    if elem.get('render-max'):
        w.blank()
        w.p('/// Highest value (`render-max`).')
        w.p(f'pub const MAX: u32 = {max(e.value for e in entries)};')
    w.blank()
    w.p('/// The value of `value`, if it is one.')
    w.open('pub const fn from_u32(value: u32) -> Option<Self>')
    w.open('match value')
    for entry in entries:
        w.p(f'{entry.value} => Some(Self::{camel(entry.name)}),')
    w.p('_ => None,')
    w.close()
    w.close()
    w.blank()
    w.p('/// The name of the value in the spec.')
    w.open('pub const fn name(self) -> &\'static str')
    w.open('match self')
    for entry in entries:
        w.p(f'Self::{camel(entry.name)} => {rust_str(entry.name)},')
    w.close()
    w.close()
    w.close()
    w.blank()
    w.open(f'impl From<{name}> for u32')
    w.open(f'fn from(value: {name}) -> u32')
    w.p('value as u32')
    w.close()
    w.close()
    w.blank()
    w.open(f'impl TryFrom<u32> for {name}')
    w.p('type Error = u32;')
    w.blank()
    w.p('/// The value, or `Err(value)` when it is not one of the enum\'s.')
    w.open('fn try_from(value: u32) -> Result<Self, u32>')
    w.p('Self::from_u32(value).ok_or(value)')
    w.close()
    w.close()
    w.blank()


def render_flags(w, spec, elem):
    enum = spec.family.consts[elem['name']]
    entries = list(enum.entries.values())
    masks = [e.user_value() for e in entries]
    kind = 'u32' if max(masks, default=0) <= 0xffffffff else 'u64'
    w.doc(elem.get('doc') or f'Flags `{elem["name"]}`.')
    w.open(f'pub mod {snake(elem["name"])}')
    for entry in entries:
        w.doc(entry.doc or f'`{entry.name}`.')
        w.p(f'pub const {upper(entry.name)}: {kind} = 1 << {entry.value};')
    w.p('/// Every flag.')
    w.p(f'pub const MASK: {kind} = {enum.get_mask():#x};')
    w.close()
    w.blank()


def render_attr_numbers(w, family_name, name, attr_set):
    w.doc(attr_set.yaml.get('doc') or f'Attributes of the set {name}.')
    w.open(f'pub mod {set_module(family_name, name)}')
    for attr in attr_set.attrs.values():
        w.doc(attr.yaml.get('doc') or f'`{attr.name}`.')
        w.p(f'pub const {upper(attr.name)}: u16 = {attr.value};')
    w.p('/// Highest attribute number.')
    w.p(f'pub const MAX: u16 = {max(attr_set.attrs_by_val, default=0)};')
    w.close()
    w.blank()


def opt(value):
    return 'None' if value is None else f'Some({value})'


def attr_checks(spec, attr):
    """min, max, mask, min_len, max_len, exact_len of an attribute."""
    checks = attr.yaml.get('checks', {})
    lo, hi = spec.limit(attr, 'min'), spec.limit(attr, 'max')
    mask = None
    if 'flags-mask' in checks:
        mask = spec.family.consts[checks['flags-mask']].get_mask()
    enum_name = attr.yaml.get('enum')
    if enum_name and enum_name in spec.family.consts and attr.type in INT_TYPES:
        enum = spec.family.consts[enum_name]
        if enum.type == 'flags' or attr.yaml.get('enum-as-flags'):
            mask = enum.get_mask(as_flags=True) if mask is None else mask
        else:
            values = sorted(e.value for e in enum.entries.values())
            if values and values[-1] - values[0] + 1 == len(values):
                if lo is None and (values[0] != 0 or attr.type[0] == 's'):
                    lo = values[0]
                if hi is None:
                    hi = values[-1]
    for bound in (lo, hi):
        if bound is not None and not -I64_MAX - 1 <= bound <= I64_MAX:
            raise GenError(f'{spec.path}: {attr.name}: limit {bound} does not fit i64')
    lens = []
    for key in ('min-len', 'max-len', 'exact-len'):
        value = spec.limit(attr, key)
        if value is not None and not 0 <= value <= 0xffff:
            raise GenError(f'{spec.path}: {attr.name}: {key} {value} does not fit u16')
        lens.append(value)
    return [lo, hi, mask] + lens


def nest_cycles(spec):
    """Sets that reach themselves through nests: their nests get no list."""
    graph = {}
    for name, attr_set in spec.family.attr_sets.items():
        graph[name] = {a.yaml.get('nested-attributes') for a in attr_set.attrs.values()
                       if a.type in ('nest', 'indexed-array')
                       and a.yaml.get('nested-attributes') in spec.family.attr_sets}
    cyclic = set()
    for start in graph:
        seen, todo = set(), list(graph[start])
        while todo:
            node = todo.pop()
            if node == start:
                cyclic.add(start)
                break
            if node not in seen:
                seen.add(node)
                todo += graph.get(node, ())
    return cyclic


def render_policy(w, spec, family_name):
    w.p('/// Every attribute with this transport\'s checks, and the list of each set.')
    w.open('pub mod policy')
    w.p('use super::super::ynl::{AttrSpec, AttrType};')
    w.blank()
    cyclic = nest_cycles(spec)
    names = {}
    for set_name, attr_set in spec.family.attr_sets.items():
        for attr in attr_set.attrs.values():
            const = attr_const(family_name, set_name, attr.name)
            if const in names:
                raise GenError(f'{spec.path}: {set_name}/{attr.name} and {names[const]} '
                               f'are both {const} in Rust')
            names[const] = f'{set_name}/{attr.name}'
            base = attr_set.subset_of or set_name
            lo, hi, mask, min_len, max_len, exact_len = attr_checks(spec, attr)
            nested = attr.yaml.get('nested-attributes')
            if nested in spec.family.attr_sets and nested not in cyclic:
                nested = f'Some({set_list(family_name, nested)})'
            else:
                nested = 'None'
            w.doc(attr.yaml.get('doc') or f'`{attr.name}`.')
            struct_lit(w, f'pub const {const}: AttrSpec = AttrSpec', [
                ('name', rust_str(attr.name)),
                ('value', f'super::super::{set_module(family_name, base)}::{upper(attr.name)}'),
                ('kind', f'AttrType::{ATTR_TYPES[attr.type]}'),
                ('multi', 'true' if attr.is_multi else 'false'),
                ('min', opt(lo)), ('max', opt(hi)),
                ('mask', opt(None if mask is None else f'{mask:#x}')),
                ('min_len', opt(min_len)), ('max_len', opt(max_len)),
                ('exact_len', opt(exact_len)), ('nested', nested),
            ], ';')
            w.blank()
    for set_name, attr_set in spec.family.attr_sets.items():
        items = [attr_const(family_name, set_name, a) for a in attr_set.attrs]
        w.p(f'/// The attributes of {set_name}.')
        prefix = f'pub const {set_list(family_name, set_name)}: &[AttrSpec] = '
        w.lines += slice_lit(items, 4 * w.level, prefix, ';', eq_break=True)
        w.blank()
    w.close()
    w.blank()


def attr_list(spec, family_name, op, names):
    set_name = op.attr_set.name
    for attr in names:
        if attr not in op.attr_set.attrs:
            raise GenError(f'{spec.path}: {op.name}: no attribute {attr} in {set_name}')
    return [f'policy::{attr_const(family_name, set_name, a)}' for a in names]


def mode_lit(spec, family_name, op, mode):
    if mode not in op.yaml:
        return 'None'
    sub = op.yaml[mode]
    request = attr_list(spec, family_name, op, sub.get('request', {}).get('attributes', []))
    reply = None
    if 'reply' in sub:
        reply = attr_list(spec, family_name, op, sub['reply'].get('attributes', []))

    def lines(indent, prefix):
        pad = ' ' * indent
        out = [pad + prefix + 'Some(ynl::Mode {']
        out += slice_lit(request, indent + 4, 'request: ', ',')
        if reply is None:
            out.append(pad + '    reply: None,')
        else:
            out += slice_lit(reply, indent + 4, 'reply: Some(', '),')
        out.append(pad + '}),')
        return out
    return lines


def mcast_group_lit(w, grp, head, end):
    flags = grp.yaml.get('flags', [])
    struct_lit(w, head, [
        ('name', rust_str(grp.name)), ('value', opt(grp.value)),
        ('admin_perm', str('admin-perm' in flags).lower()),
        ('uns_admin_perm', str('uns-admin-perm' in flags).lower()),
    ], end)


def render_spec(w, spec, family_name):
    family = spec.family
    w.doc(family.yaml.get('doc') or f'`{family.name}`.')
    w.open(f'pub mod {spec.module}')
    w.p('use super::ynl;')
    w.blank()
    w.p(f'/// Name of the {"netlink protocol" if spec.is_raw else "generic netlink family"}'
        ' in its spec.')
    w.p(f'pub const FAMILY_NAME: &str = {rust_str(family.name)};')
    if spec.is_raw:
        w.p('/// Netlink protocol unit (`protonum`).')
        w.p(f'pub const PROTONUM: u32 = {family.yaml["protonum"]};')
    else:
        w.p('/// Version of the family (`genlmsghdr.version`).')
        w.p(f'pub const FAMILY_VERSION: u8 = {family.yaml.get("version", 1)};')
    w.blank()

    ops = list(family.msgs.values())
    what = '`nlmsg_type`' if spec.is_raw else 'commands (`genlmsghdr.cmd`)'
    w.p(f'/// Operation numbers: {what}.')
    w.open(f'pub mod {spec.ops_module}')
    for op in ops:
        value = op.value if op.value is not None else op.req_value
        w.doc(op.yaml.get('doc') or f'`{op.name}`.')
        shown = f'{value:#x}' if spec.is_raw else str(value)
        w.p(f'pub const {upper(op.name)}: {spec.op_type} = {shown};')
    w.p('/// Highest operation number.')
    top = max((op.req_value or op.rsp_value or 0) for op in ops) if ops else 0
    w.p(f'pub const MAX: {spec.op_type} = {top:#x};' if spec.is_raw
        else f'pub const MAX: {spec.op_type} = {top};')
    w.close()
    w.blank()

    groups = list(family.mcast_groups.values())
    if groups:
        w.p('/// Multicast groups: ' + ('their numbers.' if spec.is_raw else
                                       'their names, which the controller resolves to ids.'))
        w.open('pub mod mcgrp')
        for grp in groups:
            if spec.is_raw:
                if grp.value is None:
                    raise GenError(f'{spec.path}: multicast group {grp.name} has no value')
                w.p(f'/// Group `{grp.name}`.')
                w.p(f'pub const {upper(grp.name)}: u32 = {grp.value};')
            else:
                w.p(f'/// Group `{grp.name}`.')
                w.p(f'pub const {upper(grp.name)}: &str = {rust_str(grp.name)};')
        w.close()
        w.blank()
    w.p('/// Every multicast group.')
    head = 'pub const MCAST_GROUPS: &[ynl::McastGroup] = &['
    if not groups:
        w.p(head + '];')
    elif len(groups) == 1:
        # rustfmt's layout of a one-item array: the item overflows.
        mcast_group_lit(w, groups[0], head + 'ynl::McastGroup', '];')
    else:
        w.open(head, brace='')
        for grp in groups:
            mcast_group_lit(w, grp, 'ynl::McastGroup', ',')
        w.close(';', brace=']')
    w.blank()

    render_policy(w, spec, family_name)

    for op in ops:
        if not hasattr(op, 'attr_set'):
            w.comment(f'{op.name}: reserved, no attribute set.')
            continue
        flags = op.yaml.get('flags', [])
        event = 'None'
        if 'event' in op.yaml:
            items = attr_list(spec, family_name, op, op.yaml['event'].get('attributes', []))

            def event(indent, prefix, items=items):
                return slice_lit(items, indent, prefix + 'Some(', '),')
        w.doc(op.yaml.get('doc') or f'`{op.name}`.')
        fields = [
            ('name', rust_str(op.name)),
            ('value', f'{spec.ops_module}::{upper(op.name)}'),
            ('admin_perm', str('admin-perm' in flags).lower()),
            ('uns_admin_perm', str('uns-admin-perm' in flags).lower()),
            ('attr_max', f'super::{set_module(family_name, op.attr_set.subset_of or op.attr_set.name)}::MAX'),
            ('doit', mode_lit(spec, family_name, op, 'do')),
            ('dumpit', mode_lit(spec, family_name, op, 'dump')),
            ('event', event),
            ('notify', opt(rust_str(op.yaml['notify']) if 'notify' in op.yaml else None)),
            ('mcgrp', opt(rust_str(op.yaml['mcgrp']) if 'mcgrp' in op.yaml else None)),
        ]
        struct_lit(w, f'pub const {upper(op.name)}: ynl::Operation<{spec.op_type}> = '
                      'ynl::Operation', fields, ';')
        w.blank()
    names = [upper(op.name) for op in ops if hasattr(op, 'attr_set')]
    prefix = f'pub const OPERATIONS: &[ynl::Operation<{spec.op_type}>] = '
    w.p('/// Every operation, in the order of the spec.')
    w.lines += slice_lit(names, 4 * w.level, prefix, ';', eq_break=True)
    w.close()
    w.blank()


def generate(specs, shown_paths, argv_shown):
    modules = [s.module for s in specs]
    for module in set(modules):
        if modules.count(module) > 1:
            raise GenError(f'two specs of one protocol kind ({module}): give one of each')
    family_name = specs[0].name if len(specs) == 1 else None
    # The set named like a family is that family's main set: `attrs`.
    for spec in specs:
        if spec.name in spec.family.attr_sets:
            family_name = spec.name
            break
    if family_name is None:
        family_name = specs[0].name

    licenses = sorted({s.family.license for s in specs})
    w = Writer()
    w.p(f'// SPDX-License-Identifier: {" AND ".join(licenses)}')
    w.p('//')
    w.p(f'// Generated by {GENERATOR} from ' + ', '.join(shown_paths) + '.')
    w.p('// Do not edit: change the spec(s) and regenerate with')
    w.p(f'//   {argv_shown}')
    w.p('//')
    w.p('// Depends on `core` only, no crate attributes: a `#![no_std]` kernel module')
    w.p('// includes it with `#[path]` as a plain module, userspace crates likewise.')
    w.blank()
    w.lines += SUPPORT.rstrip('\n').split('\n')
    w.blank()

    defs = collect_definitions(specs)
    if defs:
        w.p('// Definitions.')
        w.blank()
    for spec, elem in defs:
        if elem['type'] == 'const':
            render_const(w, elem)
        elif elem['type'] == 'enum':
            render_enum(w, spec, elem)
        elif elem['type'] == 'flags':
            render_flags(w, spec, elem)
        else:
            w.comment(f'{elem["name"]}: {elem["type"]} definitions are not rendered.')
            w.blank()

    w.p('// Attribute numbers, the same on every transport.')
    w.blank()
    for name, attr_set in collect_attr_sets(specs).items():
        module = set_module(family_name, name)
        if module in ROOT_ITEMS:
            raise GenError(f'attribute set {name}: module name {module} is taken')
        render_attr_numbers(w, family_name, name, attr_set)

    for spec in specs:
        render_spec(w, spec, family_name)
    return w.text()


# ---------------------------------------------------------------- tables

def md_escape(text):
    return ' '.join(str(text or '').split()).replace('|', '\\|')


def check_text(spec, attr):
    lo, hi, mask, min_len, max_len, exact_len = attr_checks(spec, attr)
    parts = []
    if lo is not None and lo == hi:
        parts.append(f'{lo} only')
    elif lo is not None and hi is not None:
        parts.append(f'{lo} to {hi}')
    elif lo is not None:
        parts.append(f'at least {lo}')
    elif hi is not None:
        parts.append(f'at most {hi}')
    if mask is not None:
        parts.append(f'mask {mask:#x}')
    for label, value in (('min-len', min_len), ('max-len', max_len), ('len', exact_len)):
        if value is not None:
            parts.append(f'{label} {value}')
    return ', '.join(parts)


def tables(specs, shown_paths, argv_shown):
    out = [f'<!-- Generated by {GENERATOR} from {", ".join(shown_paths)}; do not edit.',
           f'     {argv_shown} -->', '']
    out += ['### Operations', '']
    head = ['name'] + [f'{s.module} {"`nlmsg_type`" if s.is_raw else "`cmd`"}' for s in specs]
    head += ['modes', 'flags', 'request', 'reply']
    out += ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    names = []
    for spec in specs:
        names += [n for n in spec.family.msgs if n not in names]
    for name in names:
        row = [f'`{name}`']
        first = None
        for spec in specs:
            op = spec.family.msgs.get(name)
            first = first or op
            value = '' if op is None else (op.value if op.value is not None else op.req_value)
            row.append('' if op is None else (f'{value:#x}' if spec.is_raw else str(value)))
        modes = [m for m in ('do', 'dump', 'event', 'notify') if m in first.yaml]
        flags = sorted({f for s in specs if name in s.family.msgs
                        for f in s.family.msgs[name].yaml.get('flags', [])})
        req, rep = [], []
        for mode in ('do', 'dump'):
            sub = first.yaml.get(mode, {})
            req += [a for a in sub.get('request', {}).get('attributes', []) if a not in req]
            rep += [a for a in sub.get('reply', {}).get('attributes', []) if a not in rep]
        if 'event' in first.yaml:
            rep += first.yaml['event'].get('attributes', [])
        if 'mcgrp' in first.yaml:
            modes[-1] += f' (`{first.yaml["mcgrp"]}`)'
        row += [', '.join(modes), ', '.join(flags),
                ', '.join(f'`{a}`' for a in req), ', '.join(f'`{a}`' for a in rep)]
        out.append('| ' + ' | '.join(row) + ' |')
    out.append('')
    for set_name, attr_set in collect_attr_sets(specs).items():
        out += [f'### Attributes: `{set_name}`', '']
        if attr_set.yaml.get('doc'):
            out += [md_escape(attr_set.yaml['doc']), '']
        head = ['number', 'name', 'type'] + [f'checks ({s.module})' for s in specs] + ['doc']
        out += ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
        for attr in attr_set.attrs.values():
            kind = attr.type
            if 'nested-attributes' in attr.yaml:
                kind += f' (`{attr.yaml["nested-attributes"]}`)'
            if 'enum' in attr.yaml:
                kind += f' (enum `{attr.yaml["enum"]}`)'
            if attr.is_multi:
                kind += ', multi'
            row = [str(attr.value), f'`{attr.name}`', kind]
            for spec in specs:
                other = spec.family.attr_sets.get(set_name)
                row.append(check_text(spec, other[attr.name]) if other else '')
            row.append(md_escape(attr.yaml.get('doc')))
            out.append('| ' + ' | '.join(row) + ' |')
        out.append('')
    for spec, elem in collect_definitions(specs):
        if elem['type'] not in ('enum', 'flags'):
            continue
        out += [f'### {"Flags" if elem["type"] == "flags" else "Enum"}: `{elem["name"]}`', '']
        if elem.get('doc'):
            out += [md_escape(elem['doc']), '']
        out += ['| value | name | doc |', '|---|---|---|']
        for entry in spec.family.consts[elem['name']].entries.values():
            out.append(f'| {entry.user_value()} | `{entry.name}` | {md_escape(entry.doc)} |')
        out.append('')
    consts = [(s, e) for s, e in collect_definitions(specs) if e['type'] == 'const']
    if consts:
        out += ['### Constants', '', '| name | value | doc |', '|---|---|---|']
        for _, elem in consts:
            out.append(f'| `{elem["name"]}` | {elem["value"]} | {md_escape(elem.get("doc"))} |')
        out.append('')
    return '\n'.join(out).rstrip('\n') + '\n'


# ---------------------------------------------------------------- main

TABLES_BEGIN = '<!-- BEGIN tables generated by ynl-gen-rust.py -->'
TABLES_END = '<!-- END tables generated by ynl-gen-rust.py -->'


def splice(path, text):
    """PATH's text with TEXT between its TABLES_BEGIN and TABLES_END lines,
    or TEXT alone when PATH does not exist or has no such lines."""
    try:
        with open(path, encoding='utf-8') as f:
            old = f.read()
    except FileNotFoundError:
        return text
    begin, end = old.find(TABLES_BEGIN), old.find(TABLES_END)
    if begin < 0 or end < begin:
        raise GenError(f'{path}: no {TABLES_BEGIN} ... {TABLES_END} lines to write the tables between')
    return old[:begin + len(TABLES_BEGIN)] + '\n' + text + old[end:]


def emit(path, text, check):
    """Write TEXT to PATH, or with CHECK tell whether PATH holds it already."""
    if check:
        try:
            with open(path, encoding='utf-8') as f:
                old = f.read()
        except FileNotFoundError:
            old = ''
        if old != text:
            sys.stderr.writelines(difflib.unified_diff(
                old.splitlines(True), text.splitlines(True), path, path + ' (regenerated)'))
            print(f'{path} is stale: regenerate it', file=sys.stderr)
            return False
        return True
    if path == '-':
        sys.stdout.write(text)
    else:
        tmp = path + '.tmp'
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(text)
        os.replace(tmp, path)
    return True


def main():
    parser = argparse.ArgumentParser(
        prog='ynl-gen-rust.py',
        description=__doc__.split('\n\n')[0],
        epilog='\n\n'.join(__doc__.split('\n\n')[1:]) +
        '\n\nexample:\n  scripts/ynl-gen-rust.py --ynl ~/linux/tools/net/ynl/pyynl \\\n'
        '      -o specs/generated/nltest.rs specs/nltest.yaml specs/nltest-raw.yaml',
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('specs', nargs='+', metavar='SPEC',
                        help='YNL spec(s): at most one genetlink and one netlink-raw')
    parser.add_argument('-o', '--output', metavar='OUT', default='-',
                        help='Rust file to write (default: standard output)')
    parser.add_argument('--tables', metavar='MD',
                        help='also write Markdown reference tables (operations, '
                             'attributes, enums, constants) into MD, between its lines '
                             f'{TABLES_BEGIN!r} and {TABLES_END!r}')
    parser.add_argument('--ynl', metavar='DIR', default=os.environ.get('YNL_PYYNL'),
                        help='the kernel tree\'s tools/net/ynl/pyynl (default: $YNL_PYYNL)')
    parser.add_argument('--schema-dir', metavar='DIR',
                        help='directory of the schemas (default: the kernel tree\'s '
                             'Documentation/netlink, found from --ynl)')
    parser.add_argument('--no-schema', action='store_true',
                        help='do not validate the specs against their schema')
    parser.add_argument('--root', metavar='DIR', default='.',
                        help='paths in the generated comments are relative to DIR '
                             '(default: the current directory)')
    parser.add_argument('--check', action='store_true',
                        help='write nothing; fail, showing a diff, if OUT or MD is stale')
    args = parser.parse_args()

    def shown(path):
        return os.path.relpath(os.path.abspath(path), os.path.abspath(args.root))

    try:
        spec_family, specdir = load_ynl(args.ynl)
        specs = [Spec(load_spec(spec_family, specdir, p, args.schema_dir, args.no_schema), p)
                 for p in args.specs]
        paths = [shown(p) for p in args.specs]
        argv = [GENERATOR, '--ynl', 'LINUX/tools/net/ynl/pyynl']
        if args.output != '-':
            argv += ['-o', shown(args.output)]
        if args.tables:
            argv += ['--tables', shown(args.tables)]
        argv_shown = ' '.join(argv + paths)
        ok = emit(args.output, generate(specs, paths, argv_shown), args.check)
        if args.tables:
            ok = emit(args.tables, splice(args.tables, tables(specs, paths, argv_shown)),
                      args.check) and ok
    except GenError as err:
        print(f'ynl-gen-rust.py: {err}', file=sys.stderr)
        return 1
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
