#!/usr/bin/env python3
"""The module's coverage, from the points its KCOV traces reached.

usage: scripts/coverage-report.py [--min PERCENT] [--markdown FILE] MODULE.ko DIR

The coverage points are the module object's own calls to
__sanitizer_cov_trace_pc, found in its relocations: KCOV records each call's
return address, so a point is the address after its call. Each point is
named by the module's line tables (the innermost inlined frame: the source
line it stands for) and by the function symbol that holds it.

DIR holds what the guest wrote: *.points files (`SECTION OFFSET` lines, from
nltest-e2e --coverage and nltest fuzz --coverage) and module.sha256, the
checksum of the nltest.ko the guest loaded, which must be MODULE.ko's.

Points fall into five kinds:
  module     the module's own Rust code (rust/, but for the bindings)
  generated  code generated from the YNL specs (specs/generated/)
  bindings   bindgen's bindings and C wrappers (rust/bindings_*)
  library    code of the kernel crate and core inlined into the module
  check      blocks KASAN's and Rust's runtime checks add, in any file:
             those that only report a bug (KASAN's report calls, the panics
             of Rust's checks, before each of which KASAN calls
             __asan_handle_no_return), and KASAN's slow path for accesses of
             less than 8 bytes, taken only when the shadow byte is not zero,
             with its way back; the instrumentation gives each its own point
  uncalled   functions the compiler emitted that nothing calls or points to
             (every call was inlined, or they run only in constant
             evaluation): no input can reach them
Only the first counts toward the figure; the others are reported apart.

Unreached module points are listed by file and line, with the reason from
scripts/coverage-unreachable.txt when a pattern there matches (by file and
line, or by the source text of any of the point's inlined frames). With --min,
exits 1 when the module's share is below PERCENT or an unreached module point
has no reason.
"""

import argparse
import fnmatch
import hashlib
import json
import os
import re
import subprocess
import sys
from collections import defaultdict

LLVM_BIN = "/usr/lib/llvm-19/bin"
TRACE_PC = "__sanitizer_cov_trace_pc"
HERE = os.path.dirname(os.path.abspath(__file__))


def tool(name):
    return os.path.join(LLVM_BIN, name)


def run(args, stdin=None):
    return subprocess.run(args, input=stdin, capture_output=True, text=True, check=True).stdout


RELOCATION = re.compile(
    r"\s*([0-9a-f]+)\s+[0-9a-f]+\s+(\S+)\s+[0-9a-f]+\s+(\S+)\s*([+-])\s*([0-9a-f]+)")


def relocations(module):
    """(section, offset, type, symbol, addend) of each relocation, the
    section being the one relocated (.text for .rela.text)."""
    section = None
    for line in run([tool("llvm-readelf"), "-r", "--wide", module]).splitlines():
        header = re.match(r"Relocation section '\.rela(\S+)'", line)
        if header:
            section = header.group(1)
            continue
        match = RELOCATION.match(line)
        if section and match:
            offset, kind, name, sign, addend = match.groups()
            yield section, int(offset, 16), kind, name, int(addend, 16) * (1 if sign == "+" else -1)


def coverage_points(module):
    """(section, offset) of every coverage point: the return address of each
    call to __sanitizer_cov_trace_pc (rel32 at r_offset, call ends 4 later)."""
    return [(section, offset + 4) for section, offset, _, name, _ in relocations(module)
            if name == TRACE_PC]


# Calls that begin a block reporting a bug.
BUG_REPORTS = re.compile(r"^(__asan_report_|__asan_handle_no_return|__ubsan_handle_)")
# The target operand of a direct call or jump, as llvm-objdump prints it.
BRANCH_TARGET = re.compile(r"^\s+[0-9a-f]+:\s+(?:call\S*|j\S+)\s+0x([0-9a-f]+)")


def disassemble(module):
    """The instructions of .text, each [address, mnemonic, the symbol its
    call is relocated to, the address it calls or jumps to, its text]."""
    listing = run([tool("llvm-objdump"), "-dr", "--no-show-raw-insn", "--section=.text", module])
    instructions = []
    for line in listing.splitlines():
        relocation = re.search(r"R_X86_64_PLT32\s+(\S+?)(-0x4)?$", line)
        if relocation:
            if instructions:
                instructions[-1][2] = relocation.group(1)
            continue
        instruction = re.match(r"\s+([0-9a-f]+):\s+(\S+)", line)
        if instruction:
            target = BRANCH_TARGET.match(line)
            instructions.append([int(instruction.group(1), 16), instruction.group(2), None,
                                 int(target.group(1), 16) if target else None, line])
    return instructions


def check_points(instructions, points):
    """The points KASAN's and Rust's checks add: blocks that only report a
    bug (their first control transfer after the coverage call is a call of
    BUG_REPORTS), and for accesses of less than 8 bytes KASAN's slow path
    (taken only when the shadow byte is not zero: the granule's offset
    compared with it, `and $0x7`, then on to a report block) with the block
    it jumps to when the access is fine after all."""
    at = {instruction[0]: index for index, instruction in enumerate(instructions)}
    wanted = {offset for section, offset in points if section == ".text"}

    def block(address):
        """The instructions from `address` to the first control transfer."""
        out = []
        for instruction in instructions[at[address]:]:
            out.append(instruction)
            if instruction[1].startswith(("j", "ret", "call")):
                break
        return out

    def reports_a_bug(address):
        end = block(address)[-1]
        return end[1].startswith("call") and bool(end[2]) and bool(BUG_REPORTS.match(end[2]))

    checks = {(".text", address) for address in wanted if address in at and reports_a_bug(address)}
    # KASAN's slow path: a conditional jump after `and $0x7` (the access's
    # offset in its granule, compared with the shadow byte) that falls
    # through to a report.
    for index, (address, mnemonic, _, target, _) in enumerate(instructions):
        if not mnemonic.startswith("j") or mnemonic == "jmp" or target is None:
            continue
        # Falls through to a coverage call whose block reports a bug.
        if index + 2 >= len(instructions) or instructions[index + 1][2] != TRACE_PC:
            continue
        if not reports_a_bug(instructions[index + 2][0]):
            continue
        start = index
        while start > 0 and not instructions[start - 1][1].startswith(("j", "ret", "call")):
            start -= 1
        body = instructions[start:index]
        if not any(re.search(r"\band[bl]\s+\$0x7,", i[4]) for i in body):
            continue
        # The block's own point, when the coverage call opens it.
        if start > 0 and instructions[start - 1][2] == TRACE_PC:
            checks.add((".text", address_after(instructions, start - 1)))
        # Where it goes when the access is fine after all.
        if target in at and instructions[at[target]][2] == TRACE_PC:
            checks.add((".text", address_after(instructions, at[target])))
    return checks


def called_functions(module, symbols, instructions):
    """Start offsets of the .text functions some input can run: those that
    code or data outside .text points to (init_module, operation tables,
    vtables), and those a called function calls, jumps to or takes the
    address of. The rest were emitted but nothing runs them: every call of
    theirs was inlined, or they run only in constant evaluation."""
    text = symbols.get(".text", [])
    starts = {start for start, _, _ in text}
    address_of = symbols.raw_names
    roots, edges = set(), defaultdict(set)

    def refer(section, offset, target):
        if target not in starts:
            return
        if section == ".text":
            source = function_start(symbols, ".text", offset + 1)
            if source is not None and source != target:
                edges[source].add(target)
        else:
            roots.add(target)

    for section, offset, kind, name, addend in relocations(module):
        # Metadata, not references: debug and unwind tables, and objtool's
        # list of functions whose ENDBR it may seal (those that nothing
        # calls indirectly).
        if section.startswith((".debug", ".eh_frame", ".orc_unwind", ".ibt_endbr_seal")):
            continue
        if name == ".text":
            pc_relative = kind in ("R_X86_64_PC32", "R_X86_64_PLT32")
            refer(section, offset, addend + (4 if pc_relative else 0))
        elif name in address_of:
            refer(section, offset, address_of[name])
    for address, _, relocated_to, target, _ in instructions:
        # A relocated call's operand is 0 in the object, so the target the
        # disassembler shows is the next instruction: the relocation (above)
        # says where it goes.
        if target is not None and relocated_to is None:
            refer(".text", address, target)
    called, pending = set(), list(roots)
    while pending:
        function = pending.pop()
        if function not in called:
            called.add(function)
            pending.extend(edges[function])
    return called


def address_after(instructions, index):
    """The address of the instruction after instructions[index]."""
    return instructions[index + 1][0]


class Symbols(defaultdict):
    """{section: [(start, end, name)]} of the module's function symbols,
    with `raw_names`, {symbol name: start} of those in .text."""

    def __init__(self):
        super().__init__(list)
        self.raw_names = {}


def function_symbols(module):
    """The module's function symbols (Symbols)."""
    sections = {}
    for line in run([tool("llvm-readelf"), "-S", "--wide", module]).splitlines():
        match = re.match(r"\s*\[\s*(\d+)\]\s+(\S+)", line)
        if match:
            sections[match.group(1)] = match.group(2)
    symbols = Symbols()
    names = []
    for line in run([tool("llvm-readelf"), "-s", "--wide", module]).splitlines():
        fields = line.split()
        if len(fields) >= 8 and fields[3] == "FUNC" and fields[6] in sections:
            start, size = int(fields[1], 16), int(fields[2])
            symbols[sections[fields[6]]].append([start, start + size, fields[7]])
            names.append(fields[7])
            if sections[fields[6]] == ".text":
                symbols.raw_names[fields[7]] = start
    demangled = run([tool("llvm-cxxfilt")], "\n".join(names) + "\n").splitlines()
    by_name = dict(zip(names, demangled))
    for entries in symbols.values():
        for entry in entries:
            entry[2] = short_name(by_name.get(entry[2], entry[2]))
        entries.sort()
    return symbols


def short_name(name):
    """A demangled Rust name without the crate hash and generic arguments."""
    name = re.sub(r"\[[0-9a-f]+\]", "", name)
    depth, out = 0, []
    for char in name:
        if char == "<":
            depth += 1
        elif char == ">":
            depth -= 1
        elif depth == 0:
            out.append(char)
    return "".join(out).replace("nltest_main::", "")


def function_start(symbols, section, offset):
    for start, end, _ in symbols.get(section, []):
        if start <= offset - 1 < end:
            return start
    return None


def function_of(symbols, section, offset):
    for start, end, name in symbols.get(section, []):
        if start <= offset - 1 < end:
            return name
    return "?"


def source_lines(module, points):
    """{point: [(file, line)]}: the inlined frames of each .text point,
    innermost first (the line tables of a relocatable object describe
    .text)."""
    text = [p for p in points if p[0] == ".text"]
    query = "".join(f"{offset - 1:#x}\n" for _, offset in text)
    output = run([tool("llvm-symbolizer"), f"--obj={module}", "--inlines",
                  "--output-style=JSON"], query)
    lines = {}
    for point, record in zip(text, output.splitlines()):
        frames = json.loads(record)["Symbol"]
        lines[point] = [(frame["FileName"], frame["Line"]) for frame in frames]
    return lines


def relative_source(path):
    """The path as this project names it: rust/..., specs/..., or the
    kernel's or Rust's own."""
    match = re.search(r"/build/linux-[^/]+/(.*)$", path)
    if match:
        return os.path.normpath(match.group(1))
    for marker in ("/lib/rustlib/src/rust/", "/rust/kernel/", "/include/"):
        if marker in path:
            return path[path.index(marker) + 1:]
    return path or "?"


def kind_of(source):
    if source.startswith("rust/bindings_"):
        return "bindings"
    if source.startswith("specs/generated/"):
        return "generated"
    if source.startswith("rust/") and not source.startswith("rust/kernel/"):
        return "module"
    return "library"


def read_reached(directory):
    reached = set()
    files = sorted(f for f in os.listdir(directory) if f.endswith(".points"))
    for name in files:
        with open(os.path.join(directory, name)) as points:
            for line in points:
                section, offset = line.split()
                reached.add((section, int(offset, 16)))
    return files, reached


REASON = re.compile(
    r'^(?P<file>[^\s:]+)(?::"(?P<text>[^"]*)"|:(?P<line>\S+))?\s+(?P<function>\S+)'
    r"\s+--\s+(?P<reason>.+)$"
)


def read_reasons():
    """[(file, line pattern, source text, function pattern, reason)] from
    coverage-unreachable.txt."""
    reasons = []
    with open(os.path.join(HERE, "coverage-unreachable.txt")) as text:
        for number, line in enumerate(text, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            match = REASON.match(line)
            if not match:
                sys.exit(f"coverage-unreachable.txt:{number}: not FILE[:LINE|:\"TEXT\"] "
                         f"FUNCTION -- REASON: {line}")
            reasons.append(match.group("file", "line", "text", "function", "reason"))
    return reasons


def source_line(source, line, cache={}):
    """Line LINE of SOURCE (relative to the repository), stripped."""
    if source not in cache:
        try:
            with open(os.path.join(HERE, "..", source)) as text:
                cache[source] = text.read().splitlines()
        except OSError:
            cache[source] = []
    lines = cache[source]
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def reason_for(reasons, chain, function):
    """The first reason whose patterns match the function and the point: a
    FILE and a LINE pattern match its innermost frame; a FILE and a TEXT
    match any of its inlined frames whose source line holds TEXT (a call
    site: the point stands for the failure of what that line calls)."""
    source, line = chain[0]
    for file_pattern, line_pattern, text, function_pattern, reason in reasons:
        if not fnmatch.fnmatch(function, function_pattern):
            continue
        if text is not None:
            if any(fnmatch.fnmatch(frame_source, file_pattern)
                   and text in source_line(frame_source, frame_line)
                   for frame_source, frame_line in chain):
                return reason
            continue
        if not fnmatch.fnmatch(source, file_pattern):
            continue
        if line_pattern is None or fnmatch.fnmatch(str(line), line_pattern):
            return reason
    return None


def percent(part, whole):
    return 100.0 * part / whole if whole else 100.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("module")
    parser.add_argument("directory")
    parser.add_argument("--min", type=float, help="fail below this share of module points")
    parser.add_argument("--markdown", help="also write the report as Markdown to FILE")
    args = parser.parse_args()

    checksum_file = os.path.join(args.directory, "module.sha256")
    if not os.path.exists(checksum_file):
        sys.exit(f"coverage-report: {checksum_file} is missing: the guest wrote no coverage "
                 "(run make coverage)")
    with open(args.module, "rb") as module:
        checksum = hashlib.sha256(module.read()).hexdigest()
    with open(checksum_file) as recorded:
        if recorded.read().split()[0] != checksum:
            sys.exit(f"coverage-report: {args.directory} is the coverage of another build of "
                     f"the module than {args.module}: run make coverage again")
    files, reached = read_reached(args.directory)
    if not files:
        sys.exit(f"coverage-report: no *.points file in {args.directory}")

    points = coverage_points(args.module)
    symbols = function_symbols(args.module)
    lines = source_lines(args.module, points)
    instructions = disassemble(args.module)
    bug_reports = check_points(instructions, points)
    called = called_functions(args.module, symbols, instructions)
    reasons = read_reasons()
    stray = reached - set(points)
    if stray:
        sys.exit(f"coverage-report: {len(stray)} reached addresses are no coverage point of "
                 f"{args.module} (first: {sorted(stray)[0]})")

    by_kind = defaultdict(lambda: [0, 0])
    by_file = defaultdict(lambda: [0, 0])
    by_function = defaultdict(lambda: [0, 0])
    unreached = []
    for point in points:
        section, offset = point
        function = function_of(symbols, section, offset)
        if section == ".text":
            chain = [(relative_source(path), line) for path, line in lines[point]]
            source, line = chain[0]
        else:
            # Module init and exit: no line tables here; named by function.
            source, line = f"({section})", 0
            chain = [(source, line)]
        if point in bug_reports:
            kind = "check"
        elif section == ".text" and function_start(symbols, section, offset) not in called:
            kind = "uncalled"
        elif section == ".text":
            kind = kind_of(source)
        else:
            kind = "module"
        hit = point in reached
        for table, key in ((by_kind, kind), (by_file, (kind, source)),
                           (by_function, (kind, source, function))):
            table[key][0] += hit
            table[key][1] += 1
        if kind == "module" and not hit:
            reason = reason_for(reasons, chain, function)
            if reason is None:
                # Where it was inlined from, in the module's own code: the
                # lines a reason by source text can name.
                calls = [f"{frame_source}:{frame_line}" for frame_source, frame_line in chain[1:]
                         if kind_of(frame_source) == "module"]
                line = f"{line} (from {' < '.join(calls)})" if calls else line
            unreached.append((source, line, function, reason))

    out = []
    module_hit, module_total = by_kind["module"]
    out.append(f"# Coverage of {os.path.basename(args.module)}")
    out.append("")
    out.append(f"From {', '.join(files)}: {len(reached)} of {len(points)} coverage points "
               "reached.")
    out.append("")
    out.append("| kind | reached | points | share |")
    out.append("|---|---:|---:|---:|")
    for kind in ("module", "generated", "bindings", "library", "check", "uncalled"):
        hit, total = by_kind[kind]
        out.append(f"| {kind} | {hit} | {total} | {percent(hit, total):.1f} % |")
    out.append("")
    out.append("## Module points by file")
    out.append("")
    out.append("| file | reached | points | share |")
    out.append("|---|---:|---:|---:|")
    for (kind, source), (hit, total) in sorted(by_file.items()):
        if kind == "module":
            out.append(f"| {source} | {hit} | {total} | {percent(hit, total):.1f} % |")
    out.append("")
    out.append("## Module points by function")
    out.append("")
    out.append("| file | function | reached | points |")
    out.append("|---|---|---:|---:|")
    for (kind, source, function), (hit, total) in sorted(by_function.items()):
        if kind == "module":
            out.append(f"| {source} | `{function}` | {hit} | {total} |")
    out.append("")
    out.append("## Unreached module points")
    out.append("")
    unexplained = 0
    grouped = defaultdict(list)
    for source, line, function, reason in unreached:
        grouped[(source, function, reason)].append(line)
    def by_line(n):
        return int(str(n).split()[0]), str(n)

    for (source, function, reason), at in sorted(
            grouped.items(), key=lambda g: (g[0][0], min(by_line(n) for n in g[1]), g[0][1])):
        lines_text = ", ".join(str(n) for n in sorted(set(at), key=by_line))
        if reason is None:
            unexplained += len(at)
            reason = "**not explained**"
        out.append(f"- {source}:{lines_text} in `{function}`: {reason}")
    if not unreached:
        out.append("None.")
    report = "\n".join(out) + "\n"
    if args.markdown:
        with open(args.markdown, "w") as markdown:
            markdown.write(report)

    print(f"coverage: module {module_hit} of {module_total} points "
          f"({percent(module_hit, module_total):.1f} %), {len(unreached)} unreached, "
          f"{unexplained} of them not explained; apart: " + ", ".join(
              f"{kind} {by_kind[kind][0]}/{by_kind[kind][1]}"
              for kind in ("generated", "bindings", "library", "check", "uncalled")))
    for (source, function, reason), at in sorted(grouped.items(), key=lambda g: (g[0][0], g[0][1])):
        if reason is None:
            print(f"coverage: unreached, not explained: {source}:"
                  f"{','.join(str(n) for n in sorted(set(at), key=by_line))} in {function}")
    if args.min is not None:
        share = percent(module_hit, module_total)
        if share < args.min:
            print(f"coverage: {share:.1f} % of the module's points is below {args.min:.0f} %")
            return 1
        if unexplained:
            print(f"coverage: {unexplained} unreached points have no reason in "
                  "scripts/coverage-unreachable.txt")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
