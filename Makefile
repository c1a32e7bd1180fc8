# nltest: a netlink echo service as a Rust kernel module.
#
#   make            build rust/nltest.ko against KDIR, or for KERNEL's test
#                   kernel (built and cached first) into build/linux-KERNEL/
#   make run        boot the test kernel in QEMU and show the module at work;
#                   CAPTURE=FILE.pcap records its netlink messages (tshark -r)
#   make test       lints, host unit tests, then the end-to-end suite in QEMU
#                   on every supported kernel (7.3, 6.12)
#   make test-debug the suite with stress, fuzzing and fault injection on the
#                   debug kernel (KASAN, kmemleak, lockdep)
#   make coverage   the debug suite and fuzzing under KCOV: the share of
#                   the module's coverage points reached, by file and function
#   make fuzz       a coverage-guided fuzzing campaign on the debug kernel
#   make bench      the Rust module against the C reference module, in QEMU
#   make profile    instructions per echo by kernel function, both modules
#   make rust-analyzer   write rust-project.json for editors
#
#   KERNEL=6.12     pick one kernel for any target (default: 7.3; make test
#                   without it runs every supported kernel)
#
# Kbuild (not this file) describes the module: `make -C $KDIR M=$PWD LLVM=1`
# builds it against any Rust-enabled 6.12 or 7.3 tree.

.PHONY: module run test test-debug coverage fuzz bench profile kernel toolchain userspace rust-analyzer fmt clean help

# The default kernel, as scripts/kernels.sh defines it.
default_kernel = $(shell bash -c 'source scripts/kernels.sh && echo $$default_kernel')
kernel = $(or $(KERNEL),$(default_kernel))

module:
ifdef KDIR
	scripts/build-module.sh $(KDIR)
else
	scripts/prepare.sh $(kernel) >/dev/null
endif

run:
	scripts/run.sh

test:
	scripts/test.sh

test-debug:
	scripts/test-debug.sh

# Datagrams of each of its fuzzing campaigns: make coverage COVERAGE_DATAGRAMS=50000
COVERAGE_DATAGRAMS ?= 20000
coverage:
	scripts/coverage.sh $(COVERAGE_DATAGRAMS)

# Another campaign: make fuzz SEED=7 ITERATIONS=200000
SEED ?= 1
ITERATIONS ?= 1000000
fuzz:
	scripts/fuzz.sh $(SEED) $(ITERATIONS)

# Rounds of the Rust / C alternation: make bench BENCH_ROUNDS=9
bench:
	scripts/bench.sh

# Which case: make profile PROFILE_ARGS="raw 16 64" (protocol, size, batch)
profile:
	scripts/profile.sh $(PROFILE_ARGS)

toolchain:
	scripts/install-toolchain.sh

kernel: toolchain
	scripts/build-kernel.sh $(kernel)

userspace:
	scripts/build-userspace.sh

rust-analyzer:
	scripts/rust-analyzer.sh $${KDIR:-$$(scripts/install-toolchain.sh >&2 && scripts/build-kernel.sh $(kernel))}

clean:
	rm -rf build rust-project.json userspace/target
	find . \( -name '*.o' -o -name '*.ko' -o -name '.*.cmd' -o -name '*.mod' -o -name '*.mod.c' \
		-o -name '.*.d' -o -name 'modules.order' -o -name 'Module.symvers' \) -delete
	rm -f rust/bindings_generated.rs rust/bindings_static_inlines.c

help:
	@sed -n '3,/^$$/p' Makefile | sed 's/^# \{0,1\}//'

# Formats the module (with the kernel's rustfmt settings) and userspace.
fmt:
	rustfmt --edition 2021 --config-path $$(scripts/build-kernel.sh $(kernel))/.rustfmt.toml rust/nltest_main.rs
	cd userspace && cargo fmt --all
