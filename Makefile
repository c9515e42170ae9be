# wsferry — one GNU Makefile for the product, its tests, fuzzers and benches.
# Targets: all run test test-cross fuzz fuzz-long bench bench-udp bench-cross
# static size-report install clean deps.
# Local overrides go in config.mak (not committed).
-include config.mak

OS        := $(shell uname -s)
CC        ?= cc
CLANG     ?= clang
OBJCOPY   ?= objcopy
PREFIX    ?= /usr/local
SANITIZE  ?=
DEBUG     ?= 0

WARN      = -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wpointer-arith -Wcast-qual -Wvla
OPT       ?= -O2 -g
CPPFLAGS  += -D_GNU_SOURCE -I. -DWSF_DEBUG=$(DEBUG)
LDLIBS    += -lbearssl

ifneq ($(SANITIZE),)
BUILD     ?= build-san
OPT       := -O1 -g -fno-omit-frame-pointer -fsanitize=$(SANITIZE) -fno-sanitize-recover=all
LDFLAGS   += -fsanitize=$(SANITIZE)
else
BUILD     ?= build
endif

# make static: a stripped, fully static binary linked with musl and a
# BearSSL that test/static-deps.sh builds from Debian's source packages
# (with these code flags, musl's own wrapper around Debian's gcc): for this
# machine (x86-64) in build-static/, or with ARCH=aarch64|armhf|mipsel for
# a router, with Debian's cross gcc, in build-static-ARCH/. Its inner pass
# (STATIC=1) reuses the rules below in that directory.
# -fno-pie: the link is static non-PIE anyway, PIC code only cost bytes (MIPS
# abicalls most: -11 KiB). No unwind tables: C without exceptions never
# unwinds, and .eh_frame was 33 KiB of the x86-64 binary. -z norelro: no
# dynamic linker runs in a static musl binary, so nothing ever made that
# range read-only (/proc/PID/maps shows it rw-), while aligning it cost 63
# KiB of padding on aarch64 (64 KiB pages). -z noseparate-code: x86-64's ld
# otherwise pads the code to pages of its own, apart from the headers and
# read-only data (5 KiB of padding in the file; the other ARCHes' ld does
# not separate them by default either). test/static-deps.sh builds musl
# and BearSSL with the same code flags. -flto: wsferry's objects and
# BearSSL's are optimised as one program at the link (inlined across files,
# unused paths dropped): -10.9 KiB native, -17.5 aarch64, -8.0 armhf,
# -26.3 mipsel.
# (STATIC_LTO=-fno-lto builds without, as make size-report does to tell
# origins.) -flto-partition=one: the link compiles the program as one unit
# instead of 7 (run one after the other anyway), so inlining and cloning
# see it whole: -576 bytes native, -1,088 aarch64, -584 armhf, -288 mipsel.
STATIC_LTO ?= -flto -flto-partition=one
STATIC_OPT = -Os -ffunction-sections -fdata-sections -fno-pie \
             -fno-asynchronous-unwind-tables -fno-unwind-tables $(STATIC_LTO)
# MIPS: code that needs no $gp/GOT (-mno-abicalls: direct jal and lui/addiu
# addresses instead of loads from the GOT and jalr $t9), as a static
# executable never needs PIC: -32 KiB. musl keeps its abicalls code (its
# startup assembly expects it); ld puts a stub before each call into it.
# -mips16: MIPS16e, 16-bit encodings of the common instructions (the 24Kc,
# 74Kc and 1004Kc cores of mipsel routers run it, as does qemu's default
# mipsel CPU, the 24Kf): 465,272 bytes to 354,512. BearSSL's crypto cores
# stay MIPS32 (test/static-deps.sh says which and why; MIPS16e too they would
# save 8 KiB more); -minterlink-compressed: no direct jumps between the two
# encodings. musl stays MIPS32 (its syscalls are inline MIPS32 asm).
# armhf and mipsel: -z common-page-size=16, a link flag: their ld started
# the data segment on a new 4 KiB page of the file when that saved a page
# of memory at run time (DATA_SEGMENT_ALIGN), padding the file with up to
# 4 KiB of zeros (armhf 1,232 bytes, mipsel 464 when measured); now it
# follows the code in the file, as x86-64's and aarch64's ld place it.
STATIC_ARCH_OPT_mipsel = -mno-abicalls -mips16 -minterlink-compressed -Wl,-z,common-page-size=16
STATIC_ARCH_OPT_armhf = -Wl,-z,common-page-size=16
STATIC_BUDGET_KIB ?= 400
CROSS_ARCHES = aarch64 armhf mipsel
CROSS     ?= $(CROSS_ARCHES)
TRIPLET_aarch64 = aarch64-linux-gnu
TRIPLET_armhf   = arm-linux-gnueabihf
TRIPLET_mipsel  = mipsel-linux-gnu
# ARCH may come from the environment (kernel builds use it): only the cross
# names pick a cross build, this machine's own names mean native.
SARCH     = $(if $(filter $(ARCH),$(CROSS_ARCHES)),$(ARCH),native)
SDIR      = $(if $(filter native,$(SARCH)),build-static,build-static-$(SARCH))
SCC       = $(SDIR)/musl/bin/musl-gcc
STATIC_CODE = $(STATIC_OPT) $(STATIC_ARCH_OPT_$(SARCH))
SSTRIP    = $(if $(filter native,$(SARCH)),strip,$(TRIPLET_$(SARCH))-strip)
# gcc-ar: an archive of LTO objects needs the compiler's plugin for its index
SAR       = $(if $(filter native,$(SARCH)),gcc-ar,$(TRIPLET_$(SARCH))-gcc-ar)
ifeq ($(STATIC),1)
STATIC_DIR ?= build-static
BUILD     := $(STATIC_DIR)
CPPFLAGS  += -I$(STATIC_DIR)/bearssl/inc
LDFLAGS   += -static -Wl,--gc-sections -Wl,-z,norelro -Wl,-z,noseparate-code -L$(STATIC_DIR)/bearssl \
             -Wl,-Map=$(STATIC_DIR)/wsferry.map
# Objects built with other static flags are rebuilt (as --version's stamp).
FLAGS_STAMP = $(BUILD)/flags.stamp
$(shell mkdir -p $(BUILD) && [ "`cat $(FLAGS_STAMP) 2>/dev/null`" = "$(STATIC_CODE) $(LDFLAGS)" ] || echo "$(STATIC_CODE) $(LDFLAGS)" >$(FLAGS_STAMP))
endif

# SQLite (the push message log, --push-db) is a build option: on by
# default, off in the static router build unless WITH_SQLITE=1 is asked for.
# Off, tun/push/push_db_none.c stands in and nothing of SQLite is linked.
ifeq ($(STATIC),1)
WITH_SQLITE ?= 0
else
WITH_SQLITE ?= 1
endif
ifeq ($(WITH_SQLITE),1)
PUSH_DB    = tun/push/push_db_sqlite.c
LDLIBS    += -lsqlite3 -lpthread
else
PUSH_DB    = tun/push/push_db_none.c
endif

# Redis (--replay-store and --push-bus, our own RESP client: no library) is
# a build option too: on by default, off in the static router build unless
# WITH_REDIS=1. Off, tun/server/replay_store_none.c and tun/push/bus_none.c
# stand in.
ifeq ($(STATIC),1)
WITH_REDIS ?= 0
else
WITH_REDIS ?= 1
endif
ifeq ($(WITH_REDIS),1)
REPLAY_STORE = tun/server/replay_redis.c tun/push/bus_redis.c
else
REPLAY_STORE = tun/server/replay_store_none.c tun/push/bus_none.c
endif

# The reactor backend is picked from the OS, never by #ifdef inside the loop.
ifeq ($(OS),Linux)
RX_BACKEND = core/rx_epoll.c core/splice_linux.c core/transparent_linux.c \
             core/proc_linux.c core/tfo_linux.c
else
RX_BACKEND = core/rx_kqueue.c core/splice_none.c core/transparent_none.c \
             core/proc_other.c core/tfo_none.c
endif
OS_FILES  = core/rx_epoll.c core/rx_kqueue.c core/splice_linux.c core/splice_none.c \
            core/transparent_linux.c core/transparent_none.c core/proc_linux.c core/proc_other.c \
            core/tfo_linux.c core/tfo_none.c

# core/printf_static.c replaces musl's vfprintf: linked by name in the
# static build only (no object of ours calls vfprintf itself, so an
# archive member would never be pulled in before libc's).
STATIC_LINK_SRC = core/printf_static.c
CORE_SRC  = $(filter-out $(OS_FILES) $(STATIC_LINK_SRC),$(wildcard core/*.c)) $(RX_BACKEND)
LIB_SRC   = $(CORE_SRC) $(wildcard proto/*.c tls/*.c tun/*.c) $(PUSH_DB) $(REPLAY_STORE) \
            $(filter-out tun/push/push_db_%.c tun/push/bus_%.c tun/server/replay_redis.c tun/server/replay_store_none.c,$(wildcard tun/*/*.c))
BIN_SRC   = $(wildcard bin/*.c)
TEST_SRC  = $(wildcard test/core/*_test.c test/proto/*_test.c test/tls/*_test.c test/tun/*_test.c)
BENCH_SRC = $(wildcard bench/*_bench.c)
FUZZ_SRC  = $(wildcard test/fuzz/*_fuzz.c)

LIB_OBJ   = $(LIB_SRC:%.c=$(BUILD)/%.o)
BIN_OBJ   = $(BIN_SRC:%.c=$(BUILD)/%.o)
# libwsferry-int.a holds everything but main(): the tests link it and the
# command is main.o on top of it. libwsferry.a (make lib) is the same code
# as one object whose only global names are wsferry_* (include/wsferry.h,
# bin/lib.c), so a program that embeds it keeps its own log_*, buf_*, url_*.
MAIN_OBJ  = $(BUILD)/bin/main.o
# Static only: linked by name (an archive member would never be pulled in:
# musl's own vfprintf is found first, inside libc.a).
STATIC_OBJ =
ifeq ($(STATIC),1)
STATIC_OBJ = $(STATIC_LINK_SRC:%.c=$(BUILD)/%.o)
endif
ifeq ($(STATIC),1)
$(LIB_OBJ) $(BIN_OBJ) $(STATIC_OBJ): $(FLAGS_STAMP)
$(BIN): $(FLAGS_STAMP) $(STATIC_DIR)/bearssl/libbearssl.a
$(FLAGS_STAMP) $(STATIC_DIR)/bearssl/libbearssl.a: ;
endif
TESTS     = $(TEST_SRC:%.c=$(BUILD)/%)
BENCHES   = $(BENCH_SRC:%.c=$(BUILD)/%)
FUZZERS   = $(FUZZ_SRC:test/fuzz/%.c=build-fuzz/%)
LIB       = $(BUILD)/libwsferry-int.a
PUBLIC_LIB = $(BUILD)/libwsferry.a
BIN       = $(BUILD)/wsferry
EXAMPLE   = $(BUILD)/contrib/libwsferry-example

VERSION   := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

.PHONY: all run test test-unit test-deps test-cross fuzzers fuzz fuzz-long bench bench-peers bench-early bench-udp bench-push bench-transparent bench-cross bench-publish bench-vpn static static-all install clean deps bench-replay bench-cluster bench-sip003 bench-encrypt bench-pool bench-mux bench-controller bench-metrics lib size-report
all: $(BIN) $(TESTS) $(EXAMPLE)

# make lib: the library alone (include/wsferry.h, wsferry(3)).
lib: $(PUBLIC_LIB)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(WARN) $(OPT) $(CFLAGS) $(CPPFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/bin/main.o: CPPFLAGS += -DWSF_VERSION=\"$(VERSION)\"
# --version must name the revision built: main.o depends on a stamp that is
# rewritten, on every make run, only when `git describe` says something new.
VERSION_STAMP = $(BUILD)/version.stamp
$(shell mkdir -p $(BUILD) && [ "`cat $(VERSION_STAMP) 2>/dev/null`" = "$(VERSION)" ] || echo "$(VERSION)" >$(VERSION_STAMP))
$(BUILD)/bin/main.o: $(VERSION_STAMP)
$(VERSION_STAMP): ;

$(LIB): $(LIB_OBJ) $(filter-out $(MAIN_OBJ),$(BIN_OBJ))
	@rm -f $@
	$(AR) rcs $@ $^

$(BIN): $(MAIN_OBJ) $(STATIC_OBJ) $(LIB)
	$(CC) $(OPT) $(LDFLAGS) -o $@ $(MAIN_OBJ) $(STATIC_OBJ) $(LIB) $(LDLIBS)

$(PUBLIC_LIB): $(LIB_OBJ) $(filter-out $(MAIN_OBJ),$(BIN_OBJ))
	@rm -f $@ $(BUILD)/libwsferry.o
	$(LD) -r -o $(BUILD)/libwsferry.o $^
	$(OBJCOPY) --wildcard --keep-global-symbol='wsferry_*' $(BUILD)/libwsferry.o
	$(AR) rcs $@ $(BUILD)/libwsferry.o

# Two instances in one process, as an embedding program builds it: only
# the public header, the archive and its libraries.
$(EXAMPLE): contrib/libwsferry-example.c include/wsferry.h $(PUBLIC_LIB)
	@mkdir -p $(@D)
	$(CC) $(WARN) $(OPT) $(CFLAGS) -Iinclude $(LDFLAGS) -o $@ $< $(PUBLIC_LIB) $(LDLIBS) -lpthread

$(BUILD)/test/%: test/%.c $(LIB) test/check.h
	@mkdir -p $(@D)
	$(CC) $(WARN) $(OPT) $(CFLAGS) $(CPPFLAGS) -MMD -MP $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(WARN) -O2 -g $(CPPFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# The end-to-end load tool needs no project code: plain C11, its own rule.
LOAD = $(BUILD)/bench/wsf_load
$(LOAD): bench/wsf_load.c
	@mkdir -p $(@D)
	$(CC) $(WARN) -O2 -g -D_GNU_SOURCE -o $@ $< -lpthread

UDPLOAD = $(BUILD)/bench/udp_load
$(UDPLOAD): bench/udp_load.c
	@mkdir -p $(@D)
	$(CC) $(WARN) -O2 -g -D_GNU_SOURCE -o $@ $<

# The push load tool is also plain C11 (it measures any push server).
PUSH_LOAD = $(BUILD)/bench/push_load
$(PUSH_LOAD): bench/push_load.c
	@mkdir -p $(@D)
	$(CC) $(WARN) -O2 -g -D_GNU_SOURCE -o $@ $<

# Fuzzers: libFuzzer from Debian's clang; parsers only need proto/ and core/,
# linked from an archive so each target pulls just the objects it uses.
FUZZ_FLAGS   = -std=c11 -g -O1 -D_GNU_SOURCE -I. -DWSF_DEBUG=0
FUZZ_LIB_SRC = $(CORE_SRC) $(wildcard proto/*.c tls/*.c)
FUZZ_LIB     = build-fuzz/libfuzzlib.a
build-fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@
$(FUZZ_LIB): $(FUZZ_LIB_SRC:%.c=build-fuzz/obj/%.o)
	@rm -f $@
	$(AR) rcs $@ $^
build-fuzz/%: test/fuzz/%.c $(FUZZ_LIB)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_LIB) -lbearssl

deps:
	@sh test/deps.sh

test-deps:
	@sh test/deps.sh test

run: deps $(BIN)
	@sh test/run-demo.sh $(BIN)

# make test: unit + integration tests plain, again under ASan+UBSan, the
# static builds (native and every router ARCH, their round trips under qemu:
# test/cross.py, 3.5 minutes of cross builds on a fresh clone, seconds after),
# then each fuzz target briefly. test/run.sh prints the final "N passed, N
# failed". CROSS='' leaves the router builds out, CROSS=mipsel keeps one.
test: test-deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory SANITIZE=address,undefined all
	@$(MAKE) --no-print-directory fuzzers
	-@$(MAKE) --no-print-directory static
	-@$(MAKE) --no-print-directory static-all
	@CROSS='$(CROSS)' sh test/run.sh

test-unit: all
	@for t in $(TESTS); do ./$$t || exit 1; done

fuzzers: $(FUZZERS)

FUZZ_SECONDS ?= 20
fuzz: $(FUZZERS)
	@sh test/fuzz.sh $(FUZZ_SECONDS)

fuzz-long: $(FUZZERS)
	@sh test/fuzz.sh 600

# make bench: every micro-benchmark, then the tunnel end to end (bench/run.sh).
bench: $(BENCHES) $(LOAD) $(UDPLOAD) $(BIN)
	@sh bench/run.sh $(BUILD)
bench-udp: $(UDPLOAD) $(BIN)
	@bash bench/udp.sh $(BUILD)
# --redirect and --tproxy throughput beside -D (TCP), and UDP beside -L udp://,
# in network namespaces (root).
bench-transparent: $(UDPLOAD) $(BIN)
	@/usr/bin/python3 bench/transparent.py $(BUILD)
# Push fan-out beside a python3-websockets broadcast server, in one run.
bench-push: $(PUSH_LOAD) $(BIN)
	@bash bench/push.sh $(BUILD)
bench-publish: $(BIN)
	@bash bench/publish.sh $(BUILD)
# VPN mode (-D socks5://NAME@ through an exit) beside the plain -D, in one run.
bench-vpn: $(BIN)
	@bash bench/vpn.sh $(BUILD)
# The cost of --replay-store (Redis) per new tunnel, in one run.
bench-replay: $(LOAD) $(BIN)
	@bash bench/replay.sh $(BUILD)

# The controller's user table: lookups with 1, 10,001 and 30,001 users, then
# new tunnels with 1 vs 10,001 users (--controller), in one run.
bench-controller: $(LOAD) $(BIN) $(BUILD)/bench/users_bench
	@$(BUILD)/bench/users_bench
	@echo
	@bash bench/controller.sh $(BUILD)
# wsferry behind haproxy with 1, 2 and 3 nodes on this machine, one run.
bench-cluster: $(LOAD) $(BIN)
	@bash bench/cluster.sh $(BUILD)
bench-peers: $(LOAD) $(BIN)
	@bash bench/peers.sh $(BUILD)
# --encrypt beside plain keyed ws://.
bench-encrypt: $(LOAD) $(BIN)
	@bash bench/encrypt.sh $(BUILD)
# --pool: new tunnels/s and p50/p99 with and without a warm pool, one run.
bench-pool: $(LOAD) $(BIN)
	@bash bench/pool.sh $(BUILD)

# --mux beside one WebSocket per tunnel: new tunnels/s, p50/p99, bulk, CPU.
bench-mux: $(LOAD) $(BIN)
	@bash bench/mux.sh $(BUILD)

# server --metrics (scraped every 0.5 s) beside no --metrics, one run.
bench-metrics: $(LOAD) $(BIN)
	@bash bench/metrics.sh $(BUILD)
# shadowsocks with wsferry as its SIP003 plugin beside v2ray-plugin.
bench-sip003: $(LOAD) $(BIN)
	@bash bench/sip003.sh $(BUILD)
# The cost of holding early data until the key is proven, against the commit
# before that change (BASE), in one run.
bench-early: $(LOAD) $(BIN)
	@bash bench/early.sh $(BUILD) $(or $(BASE),6915b9c)

# make static [ARCH=...] (a failure to fetch a source package says why);
# the size is checked against the budget by test/integration/static_scenario.sh
# (native) and test/cross.py (every ARCH, the same budget: a router build
# over it is reported there, not failed).
static:
	@case '$(ARCH)' in ''|native|$(shell uname -m)|amd64|$(subst $() ,|,$(CROSS_ARCHES))) ;; \
	*) echo "make static: unknown ARCH=$(ARCH) (native, $(CROSS_ARCHES))" >&2; exit 2 ;; esac
	@sh test/static-deps.sh $(SARCH) '$(filter-out -Wl%,$(STATIC_ARCH_OPT_$(SARCH)))'
	@$(MAKE) --no-print-directory STATIC=1 STATIC_DIR=$(SDIR) SANITIZE= DEBUG=0 \
		CC='$(SCC)' AR='$(SAR)' OPT='$(STATIC_CODE)' $(SDIR)/wsferry
	$(SSTRIP) $(SDIR)/wsferry
	@n=$$(wc -c <$(SDIR)/wsferry); \
	if [ $$n -le $$(($(STATIC_BUDGET_KIB) * 1024)) ]; then v=met; else v=EXCEEDED; fi; \
	echo "$(SDIR)/wsferry: $$n bytes ($$(awk "BEGIN{printf \"%.1f\", $$n/1024}") KiB), static $(SARCH), stripped; budget $(STATIC_BUDGET_KIB) KiB $$v"

# The native static binary and one per router ARCH.
static-all:
	@$(MAKE) --no-print-directory static
	@for a in $(CROSS); do $(MAKE) --no-print-directory static ARCH=$$a || exit 1; done

# Where the static binary's bytes go, per origin (ours, BearSSL, libc) and
# per function, for native and every router ARCH, from each link map:
# bench/RESULTS-size.md (the release check of the size budget).
size-report:
	@sh bench/size.sh $(if $(ARCH),$(SARCH),native $(CROSS_ARCHES))

# make test-cross: every ARCH's static build under qemu-ARCH-static, client
# and server against each other and against the native static build
# (test/cross.py; CROSS=... picks a subset).
test-cross: static-all
	@sh test/deps.sh cross
	@/usr/bin/python3 test/cross.py $(CROSS)

# Relative throughput of each ARCH's build under qemu (cost, not speed).
bench-cross: static-all $(LOAD)
	@bash bench/cross.sh $(BUILD)

# Every page in man/ goes to its section's directory (wsferry.conf.5 -> man5).
MAN_PAGES = $(wildcard man/*.1 man/*.3 man/*.5 man/*.7)
install: $(BIN) $(PUBLIC_LIB)
	install -d '$(DESTDIR)$(PREFIX)/bin' '$(DESTDIR)$(PREFIX)/lib' '$(DESTDIR)$(PREFIX)/include'
	install -m 755 $(BIN) '$(DESTDIR)$(PREFIX)/bin/wsferry'
	install -m 644 $(PUBLIC_LIB) '$(DESTDIR)$(PREFIX)/lib/libwsferry.a'
	install -m 644 include/wsferry.h '$(DESTDIR)$(PREFIX)/include/wsferry.h'
	@for p in $(MAN_PAGES); do \
		d='$(DESTDIR)$(PREFIX)'/share/man/man$${p##*.}; \
		echo "install -m 644 $$p $$d/"; \
		install -d "$$d" && install -m 644 "$$p" "$$d/" || exit 1; \
	done

clean:
	rm -rf build build-san build-fuzz build-static $(CROSS_ARCHES:%=build-static-%) build-static*-nolto

-include $(shell find $(BUILD) build-san -name '*.d' 2>/dev/null)
