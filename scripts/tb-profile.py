#!/usr/bin/env python3
"""Instructions per echo, by kernel function, from QEMU execution logs.

Each line of a QEMU `-d exec` log (with `-d nochain`, so that every
translation block executed is logged) names the guest address of the block
it ran. The blocks are found in the disassembly of vmlinux and of the
modules at their load addresses: a block runs from its address to its first
control-flow instruction (as QEMU cuts them, near enough), and a `rep`
string instruction is logged once per iteration. Summed by function and
divided by the number of echoes of the window, that gives instructions per
echo, the quantity QEMU's -icount clock measures. Guest user space is one
line.

Each module's own code gets a line of its own (its functions, and apart
the C wrappers bindgen generates for static inline functions, `*__extern`),
and --annotate FILE writes every block of module code that ran, with its
count per echo and its instructions.

usage: tb-profile.py --vmlinux FILE [--module KO@ADDRESS]... --echoes N
                     [--annotate FILE] NAME=LOG [NAME=LOG]
"""
import argparse
import bisect
import collections
import re
import subprocess
import sys

ENDS_BLOCK = re.compile(
    r"^(j|call|ret|iret|sysret|syscall|sysenter|int|hlt|ud|loop|lret|sti|cli|"
    r"popf|wrmsr|rdmsr|cpuid|invlpg|lgdt|lidt|ltr|swapgs|mov.*%cr|pause)"
)
LINE = re.compile(r"^\s*([0-9a-f]+):\s+(\S.*)$")
USER = "(guest user space: blocks run, not instructions)"
TRACE = re.compile(r"^Trace \d+: \S+ \[[0-9a-f]+/([0-9a-f]+)/")


def objdump():
    for candidate in ("llvm-objdump", "objdump"):
        try:
            subprocess.run([candidate, "--version"], capture_output=True, check=True)
            return candidate
        except (OSError, subprocess.CalledProcessError):
            continue
    sys.exit("tb-profile: no objdump found")


def instructions(path, base):
    """(address, mnemonic, text) of every instruction of PATH's code, sorted."""
    result = subprocess.run(
        [objdump(), "-d", "--no-show-raw-insn", path],
        capture_output=True, text=True, check=True,
    )
    found = []
    for line in result.stdout.splitlines():
        match = LINE.match(line)
        if match:
            text = match.group(2)
            found.append((base + int(match.group(1), 16), text.split()[0], text))
    found.sort()
    return found


def symbols(path, base):
    """(address, name) of PATH's text symbols."""
    result = subprocess.run(["nm", "-n", path], capture_output=True, text=True, check=True)
    found = []
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tTW":
            found.append((base + int(parts[0], 16), parts[2]))
    rust = [i for i, (_, name) in enumerate(found) if name.startswith("_R")]
    for i, name in zip(rust, demangle([found[i][1] for i in rust])):
        found[i] = (found[i][0], name)
    return found


def demangle(names):
    """Rust names, demangled and shortened: no generic arguments, the last
    three path elements."""
    tool = objdump().replace("objdump", "cxxfilt")
    try:
        result = subprocess.run([tool], input="\n".join(names), capture_output=True,
                                text=True, check=True)
        plain = result.stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        plain = names
    shortened = []
    for name in plain:
        while True:
            stripped = re.sub(r"::<[^<>]*>|<[^<>]*>", "", name)
            if stripped == name:
                break
            name = stripped
        shortened.append("::".join(name.split("::")[-3:]))
    return shortened


class Image:
    def __init__(self):
        self.addresses = []
        self.mnemonics = []
        self.texts = []
        self.symbol_addresses = []
        self.symbol_names = []
        # (name, first address, last address) of each module.
        self.modules = []

    def add(self, path, base, module=None):
        code = instructions(path, base)
        if module and code:
            self.modules.append((module, code[0][0], code[-1][0]))
        merged = sorted(list(zip(self.addresses, self.mnemonics, self.texts)) + code)
        self.addresses = [a for a, _, _ in merged]
        self.mnemonics = [m for _, m, _ in merged]
        self.texts = [t for _, _, t in merged]
        syms = sorted(list(zip(self.symbol_addresses, self.symbol_names)) + symbols(path, base))
        self.symbol_addresses = [a for a, _ in syms]
        self.symbol_names = [n for _, n in syms]

    def block_length(self, pc):
        i = bisect.bisect_left(self.addresses, pc)
        if i == len(self.addresses) or self.addresses[i] != pc:
            return None
        count = 0
        page = pc >> 12
        while i < len(self.addresses) and count < 512:
            mnemonic = self.mnemonics[i]
            count += 1
            if ENDS_BLOCK.match(mnemonic) or mnemonic.startswith("rep"):
                break
            i += 1
            if i < len(self.addresses) and self.addresses[i] >> 12 != page:
                break
        return count

    def module(self, pc):
        for name, first, last in self.modules:
            if first <= pc <= last:
                return name
        return None

    def block_text(self, pc, length):
        i = bisect.bisect_left(self.addresses, pc)
        return self.texts[i:i + length]

    def function(self, pc):
        i = bisect.bisect_right(self.symbol_addresses, pc) - 1
        return self.symbol_names[i] if i >= 0 else "?"


def profile(image, log, echoes):
    """Instructions per echo by function, and the blocks of module code
    that ran: {address: (runs per echo, instructions)}."""
    executed = collections.Counter()
    with open(log, errors="replace") as lines:
        for line in lines:
            match = TRACE.match(line)
            if match:
                executed[int(match.group(1), 16)] += 1
    by_function = collections.Counter()
    blocks = {}
    unknown = 0
    for pc, count in executed.items():
        if pc < 0xFFFF800000000000:
            by_function[USER] += count
            continue
        length = image.block_length(pc)
        if length is None:
            unknown += count
            length = 1
        by_function[image.function(pc)] += count * length
        if image.module(pc):
            blocks[pc] = (count / echoes, length)
    if unknown:
        print(f"tb-profile: {log}: {unknown} blocks at addresses not in the "
              "disassembly, counted as one instruction", file=sys.stderr)
    return {name: total / echoes for name, total in by_function.items()}, blocks


def module_lines(image, names, all_blocks):
    """Instructions per echo in each module's own code and, apart, in its
    C wrappers of static inline functions."""
    print("\nmodule code per echo:")
    for name, blocks in zip(names, all_blocks):
        own = wrappers = 0.0
        module = None
        for pc, (runs, length) in blocks.items():
            module = image.module(pc)
            if image.function(pc).endswith("__extern"):
                wrappers += runs * length
            else:
                own += runs * length
        print(f"{name:>12}  {module or '-'}: {own:.1f} own, {wrappers:.1f} in wrappers")


def annotate(image, names, all_blocks, path):
    """Every block of module code that ran, by address: runs per echo and
    its instructions."""
    with open(path, "w") as out:
        for name, blocks in zip(names, all_blocks):
            out.write(f"== {name}\n")
            function = None
            for pc in sorted(blocks):
                runs, length = blocks[pc]
                if image.function(pc) != function:
                    function = image.function(pc)
                    out.write(f"\n{function}\n")
                out.write(f"  {pc:#x}  {runs:6.2f} x {length:3d} = {runs * length:7.1f}\n")
                for text in image.block_text(pc, length):
                    out.write(f"        {text}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vmlinux", required=True)
    parser.add_argument("--module", action="append", default=[], metavar="KO@ADDRESS")
    parser.add_argument("--echoes", type=int, required=True)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--annotate", metavar="FILE")
    parser.add_argument("logs", nargs="+", metavar="NAME=LOG")
    args = parser.parse_args()

    image = Image()
    image.add(args.vmlinux, 0)
    for module in args.module:
        path, address = module.split("@")
        image.add(path, int(address, 16), module=path.rsplit("/", 1)[-1])

    names = [entry.split("=", 1)[0] for entry in args.logs]
    results = [profile(image, entry.split("=", 1)[1], args.echoes) for entry in args.logs]
    profiles = [p for p, _ in results]
    all_blocks = [b for _, b in results]
    functions = set().union(*profiles)
    ranked = sorted(functions, key=lambda f: -max(p.get(f, 0) for p in profiles))
    header = "".join(f"{name:>12}" for name in names)
    print(f"instructions per echo, by function ({args.echoes} echoes per window)")
    print(f"{header}  function")
    totals = [sum(v for f, v in p.items() if f != USER) for p in profiles]
    print("".join(f"{t:12.0f}" for t in totals) + "  (all)")
    for function in ranked[: args.top]:
        print("".join(f"{p.get(function, 0):12.1f}" for p in profiles) + f"  {function}")
    if len(profiles) == 2:
        first, second = profiles
        print(f"\nwhere {names[0]} and {names[1]} differ most, {names[0]} - {names[1]}:")
        gaps = {f: first.get(f, 0) - second.get(f, 0) for f in functions if f != USER}
        for function in sorted(gaps, key=lambda f: -abs(gaps[f]))[: args.top]:
            if abs(gaps[function]) >= 0.5:
                print(f"{gaps[function]:+12.1f}  {function}")
    module_lines(image, names, all_blocks)
    if args.annotate:
        annotate(image, names, all_blocks, args.annotate)
        print(f"blocks of module code: {args.annotate}")


if __name__ == "__main__":
    main()
