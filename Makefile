# ivmm Makefile.
#   make            native build of ivmm (x86_64 builds run unit tests, --dump-dtb and config validation)
#   make unit       unit tests (Criterion, ASan+UBSan build)
#   make tsan       ThreadSanitizer race test of the vSMMU (tests/tsan/vsmmu_race.c; TSAN_TIME seconds, default 4)
#   make check      unit tests + the tsan race test + every lab scenario (the README's test command, run by CI)
#   make lab        build the emulated arm64 host: kernel, static arm64 ivmm + test programs, initramfs
#   make check-lab  run the lab scenarios (SCENARIOS="boot console" to pick some)
#   make lab-shell  interactive L1 console (edu bound to vfio-pci, ivmm installed)
#   make demo       x86: boot the lab and run an ivmm guest with edu passed through; arm64: ivmm run with configs/demo.ini
#   make host-bundle  the portable arm64 host test bundle (ivmm, guest kernel + initramfs, scenarios, run-host.sh)
#   make bench      lab benchmarks (boot time, VMM start, RSS, MMIO cost)
#   make fuzz       libFuzzer over the guest-garbage and vSMMU-garbage rigs (clang; FUZZ_TIME seconds each,
#                   default 60; FUZZERS=NAME for one; prints exec/s)
#   make install    ivmm, its man page and configs/*.ini under DESTDIR + PREFIX (default /usr/local);
#                   make uninstall removes them (tests/install.sh checks both, tests/manpage.sh the page)
# Sources are found by wildcard: vmm/ devices/ iommu/ boot/ *.c; files ending in _arm64.c are built only for
# arm64, files ending in _other.c only elsewhere. tests/unit/*.c form one Criterion binary; tests/lab/progs/*.c
# are static arm64 programs for the lab (L1 and L2).

CACHE ?= $(or $(IVMM_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/ivmm-lab)
export IVMM_CACHE := $(CACHE)
SYS := $(CACHE)/sysroot
UAPI := $(SYS)/uapi/usr/include
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

HOST_ARCH := $(shell uname -m)
# Before deps.sh has installed gcc (a minimal image) -dumpmachine says nothing: fall back on the machine name.
HOST_TRIPLET := $(or $(shell $(CC) -dumpmachine 2>/dev/null),$(HOST_ARCH)-linux-gnu)
CROSS ?= aarch64-linux-gnu-

SRCS := $(sort $(wildcard vmm/*.c devices/*.c iommu/*.c boot/*.c))
LIB_SRCS := $(filter-out vmm/main.c,$(SRCS))
ifeq ($(HOST_ARCH),aarch64)
HOST_LIB_SRCS := $(filter-out %_other.c,$(LIB_SRCS))
else
HOST_LIB_SRCS := $(filter-out %_arm64.c,$(LIB_SRCS))
endif
ARM64_LIB_SRCS := $(filter-out %_other.c,$(LIB_SRCS))
TEST_SRCS := $(sort $(wildcard tests/unit/*.c))
PROG_SRCS := $(sort $(wildcard tests/lab/progs/*.c))

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
COMMON := -std=gnu11 -g -D_GNU_SOURCE -DIVMM_VERSION='"$(VERSION)"' -I. $(WARN) -MMD -MP
HOST_CFLAGS := $(COMMON) -O2 -isystem $(UAPI) -isystem $(UAPI)/$(HOST_TRIPLET)
TEST_CFLAGS := $(COMMON) -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-isystem $(UAPI) -isystem $(UAPI)/$(HOST_TRIPLET)
ARM64_CFLAGS := $(COMMON) -O2 -isystem $(UAPI) -isystem $(UAPI)/aarch64-linux-gnu -isystem $(SYS)/arm64/usr/include
HOST_LIBS := -lfdt -linih -ljansson -lpthread
ARM64_LDFLAGS := -static -L$(SYS)/arm64/usr/lib/aarch64-linux-gnu
ARM64_LIBS := -lfdt -linih -ljansson -lpthread

B := build
HOST_OBJS := $(HOST_LIB_SRCS:%.c=$(B)/host/%.o)
TEST_LIB_OBJS := $(HOST_LIB_SRCS:%.c=$(B)/test/%.o)
TEST_OBJS := $(TEST_SRCS:%.c=$(B)/test/%.o)
ARM64_OBJS := $(ARM64_LIB_SRCS:%.c=$(B)/arm64/%.o)
PROGS := $(PROG_SRCS:tests/lab/progs/%.c=$(B)/arm64/progs/%)

.PHONY: all deps deps-lab unit test tsan check lab check-lab lab-shell demo bench arm64 clean distclean install \
	uninstall check-install check-man host-bundle
all: $(B)/host/ivmm

# Dependencies are (re)checked on every build: a second run costs well under a second.
deps:
	@bash scripts/deps.sh host >/dev/null
deps-lab:
	@bash scripts/deps.sh lab >/dev/null

# Stale-header guard: the build never falls back to the system's older uAPI headers.
$(B)/.uapi-ok: | deps
	@test -f $(UAPI)/linux/iommufd.h || { echo "error: current uAPI headers missing in $(UAPI) (run scripts/deps.sh)"; exit 1; }
	@grep -q IOMMU_VEVENTQ_ALLOC $(UAPI)/linux/iommufd.h || { echo "error: $(UAPI)/linux/iommufd.h predates vEVENTQ"; exit 1; }
	@mkdir -p $(B) && touch $@

# --version must name the commit the binary was built from: files that use IVMM_VERSION are rebuilt when it
# changes (the stamp is rewritten only then).
.PHONY: FORCE
$(B)/.version: FORCE
	@mkdir -p $(B); echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' > $@
$(B)/host/vmm/cli.o $(B)/test/vmm/cli.o $(B)/arm64/vmm/cli.o $(B)/test/tests/unit/test_cli.o: $(B)/.version

$(B)/host/%.o: %.c | $(B)/.uapi-ok deps
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -c $< -o $@
$(B)/test/%.o: %.c | $(B)/.uapi-ok deps
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -c $< -o $@
$(B)/arm64/%.o: %.c | $(B)/.uapi-ok deps-lab
	@mkdir -p $(dir $@)
	$(CROSS)gcc $(ARM64_CFLAGS) -c $< -o $@

$(B)/host/libivmm.a: $(HOST_OBJS)
	@rm -f $@; ar rcs $@ $^
$(B)/test/libivmm.a: $(TEST_LIB_OBJS)
	@rm -f $@; ar rcs $@ $^
$(B)/arm64/libivmm.a: $(ARM64_OBJS)
	@rm -f $@; $(CROSS)ar rcs $@ $^

$(B)/host/ivmm: $(B)/host/vmm/main.o $(B)/host/libivmm.a
	$(CC) -o $@ $^ $(HOST_LIBS)
$(B)/arm64/ivmm: $(B)/arm64/vmm/main.o $(B)/arm64/libivmm.a
	$(CROSS)gcc $(ARM64_LDFLAGS) -o $@ $^ $(ARM64_LIBS)
$(B)/arm64/progs/%: $(B)/arm64/tests/lab/progs/%.o $(B)/arm64/libivmm.a
	@mkdir -p $(dir $@)
	$(CROSS)gcc $(ARM64_LDFLAGS) -o $@ $^ $(ARM64_LIBS)

$(B)/test/unit-tests: $(TEST_OBJS) $(B)/test/libivmm.a
	$(CC) -fsanitize=address,undefined -o $@ $^ -lcriterion $(HOST_LIBS)

arm64: $(B)/arm64/ivmm $(PROGS)

unit test: $(B)/test/unit-tests $(B)/host/ivmm
	IVMM_BIN=$(abspath $(B)/host/ivmm) IVMM_TOP=$(CURDIR) ASAN_OPTIONS=detect_leaks=1 $(B)/test/unit-tests --jobs 2 --timeout 60 </dev/null

# ThreadSanitizer proof of the vSMMU's concurrency claims (docs/vsmmu.md "Events", "Threads"): its event path
# against the STE and queue-control path, on the unit tests' fakes, for TSAN_TIME seconds. A standalone program
# (Criterion does not mix well with TSan) in its own build of the sources it needs; the fake's object table is
# larger there (ids are never reused and the run allocates many). Exits 66 at the first TSan report.
TSAN_TIME ?= 4
TSAN_SRCS := $(sort $(wildcard iommu/*.c)) devices/vfio_dev.c devices/vfio_dev_kernel.c devices/vfio_dev_sysfs.c \
	vmm/log.c vmm/viommu_vfio.c \
	tests/unit/fake_iommufd.c tests/unit/fake_vfio.c tests/unit/fake_hv.c tests/tsan/vsmmu_race.c
TSAN_CFLAGS := $(COMMON) -O1 -fno-omit-frame-pointer -fsanitize=thread -DFAKE_IOMMUFD_MAX_OBJS=16384 \
	-isystem $(UAPI) -isystem $(UAPI)/$(HOST_TRIPLET)
$(B)/tsan/%.o: %.c | $(B)/.uapi-ok deps
	@mkdir -p $(dir $@)
	$(CC) $(TSAN_CFLAGS) -c $< -o $@
$(B)/tsan/vsmmu-race: $(TSAN_SRCS:%.c=$(B)/tsan/%.o)
	$(CC) -fsanitize=thread -o $@ $^ -lpthread
tsan: $(B)/tsan/vsmmu-race
	TSAN_OPTIONS=halt_on_error=1:exitcode=66:second_deadlock_stack=1 $< $(TSAN_TIME) </dev/null

# A failed arm64 build does not stop the lab: the image is built without the out-of-date binaries, so the
# scenarios that need them fail with "... not built" and the others still run.
lab: deps-lab
	@if $(MAKE) --no-print-directory -k arm64; then bash tests/lab/build.sh; else \
	  echo "lab: WARNING: the arm64 build failed (see above): out-of-date binaries are left out of the lab image"; \
	  IVMM_LAB_EXCLUDE_STALE=1 bash tests/lab/build.sh; fi

check-lab: lab
	@bash tests/lab/run.sh --no-build $(SCENARIOS)

# Unit tests first, then the lab; the runner's last line is the combined "N passed, N failed".
check:
	@bash tests/check.sh

lab-shell: lab
	@bash tests/lab/run.sh --no-build --shell

demo:
	@bash tests/lab/demo.sh

bench: lab
	@bash tests/lab/bench.sh

# The portable host test bundle (tests/lab/bundle.sh, docs/lab.md): build/host-bundle/ivmm-host-bundle.tar.gz.
host-bundle: deps-lab
	@bash tests/lab/bundle.sh

# libFuzzer over the guest-garbage rig (tests/unit/guest_garbage.h) and the vSMMU-garbage rig
# (tests/unit/vsmmu_garbage.h, its asserts abort instead of failing a Criterion test: -DIVMM_RIG_ABORT): the
# fuzzer input is the guest. Its own clang build of the library (ASan/UBSan runtimes cannot mix with gcc's);
# the library is coverage-instrumented, the rigs and their fakes are not (their branches are the harness's,
# not ivmm's: the fuzzer steers by what the input does to ivmm's code, and a rig branch costs nothing). Each runs FUZZ_TIME seconds (default 60) on the
# corpus in build/fuzz/corpus-NAME, seeded from tests/fuzz/corpus/ (guest-garbage) or corpus-vsmmu/, and prints
# the rate (tests/fuzz/run.sh).
.PHONY: fuzz
FUZZ_CC ?= clang
FUZZ_TIME ?= 60
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_BASE := $(COMMON) -O1 -fno-omit-frame-pointer $(FUZZ_SAN) -isystem $(UAPI) -isystem $(UAPI)/$(HOST_TRIPLET)
# Edge coverage only: comparison tracing (trace-cmp) is off unless FUZZ_TRACE_CMP=1. The input is a stream of
# choices reduced modulo small ranges (guest_garbage.c below()), so a value ivmm compares against never appears
# in the input as such and libFuzzer's comparison-guided mutations have nothing to insert; the tracing cost a
# third of every execution.
FUZZ_TRACE_CMP ?= 0
FUZZ_CFLAGS := $(FUZZ_BASE) -fsanitize=fuzzer-no-link $(if $(filter 1,$(FUZZ_TRACE_CMP)),,-fno-sanitize-coverage=trace-cmp)
FUZZ_LIB_OBJS := $(patsubst %.c,$(B)/fuzz/%.o,$(HOST_LIB_SRCS))
FUZZ_GG_OBJS := $(patsubst %.c,$(B)/fuzz/%.o,tests/unit/guest_garbage.c tests/unit/fake_hv.c tests/unit/fake_vfio.c \
	tests/fuzz/guest_garbage_fuzz.c)
FUZZ_VG_OBJS := $(patsubst %.c,$(B)/fuzz/%.o,tests/unit/vsmmu_garbage.c tests/unit/vsmmu_rig.c tests/unit/fake_iommufd.c \
	tests/unit/fake_hv.c tests/unit/fake_vfio.c tests/fuzz/vsmmu_garbage_fuzz.c)
# Which fuzzers `make fuzz` runs, in turn, FUZZ_TIME seconds each: guest-garbage (UART, ECAM, vfio-pci model)
# and vsmmu-garbage (the vSMMU: registers, stream table, command queue, events; tests/unit/vsmmu_garbage.h).
FUZZERS ?= guest-garbage vsmmu-garbage
.PHONY: deps-fuzz
deps-fuzz:
	@bash scripts/deps.sh fuzz >/dev/null
$(B)/fuzz/tests/%.o: tests/%.c | $(B)/.uapi-ok deps-fuzz
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_BASE) -DIVMM_RIG_ABORT -c $< -o $@
$(B)/fuzz/%.o: %.c | $(B)/.uapi-ok deps-fuzz
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@
$(B)/fuzz/guest-garbage: $(FUZZ_LIB_OBJS) $(FUZZ_GG_OBJS)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(HOST_LIBS)
$(B)/fuzz/vsmmu-garbage: $(FUZZ_LIB_OBJS) $(FUZZ_VG_OBJS)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(HOST_LIBS)
fuzz: $(addprefix $(B)/fuzz/,$(FUZZERS))
	@rc=0; for f in $(FUZZERS); do \
		case $$f in guest-garbage) seeds=tests/fuzz/corpus ;; *) seeds=tests/fuzz/corpus-$${f%-garbage} ;; esac; \
		bash tests/fuzz/run.sh $(B)/fuzz/$$f $(FUZZ_TIME) $(B)/fuzz/corpus-$$f $$seeds || rc=$$?; \
	done; exit $$rc

# Installing like a C tool: DESTDIR (staging) and PREFIX (default /usr/local). The man page names the
# configs directory: /usr/local/share/ivmm in docs/ivmm.1 becomes DATADIR in the installed copy. On an x86_64
# host the installed ivmm is the host build (config validation, --dump-dtb); on arm64 it runs guests.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share/ivmm
INSTALL ?= install
INSTALL_CONFIGS := $(sort $(wildcard configs/*.ini))
install: $(B)/host/ivmm
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DATADIR)/configs
	$(INSTALL) -m 755 $(B)/host/ivmm $(DESTDIR)$(BINDIR)/ivmm
	sed 's|/usr/local/share/ivmm|$(DATADIR)|g' docs/ivmm.1 > $(DESTDIR)$(MANDIR)/man1/ivmm.1.tmp
	chmod 644 $(DESTDIR)$(MANDIR)/man1/ivmm.1.tmp
	mv -f $(DESTDIR)$(MANDIR)/man1/ivmm.1.tmp $(DESTDIR)$(MANDIR)/man1/ivmm.1
	$(INSTALL) -m 644 $(INSTALL_CONFIGS) $(DESTDIR)$(DATADIR)/configs/
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/ivmm $(DESTDIR)$(MANDIR)/man1/ivmm.1 \
		$(addprefix $(DESTDIR)$(DATADIR)/configs/,$(notdir $(INSTALL_CONFIGS)))
	rmdir $(DESTDIR)$(DATADIR)/configs $(DESTDIR)$(DATADIR) 2>/dev/null || true

# The install test and the man page check (both part of make check).
check-install: $(B)/host/ivmm
	@bash tests/install.sh
check-man: $(B)/host/ivmm
	@bash tests/manpage.sh $(B)/host/ivmm

clean:
	rm -rf $(B)
distclean: clean
	@echo "the lab cache ($(CACHE)) is shared between clones; remove it by hand if you want"

-include $(shell find $(B) -name '*.d' 2>/dev/null)
