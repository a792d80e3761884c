# cln-l402. ./configure writes config.mk; `make` builds plugin/l402,
# `make check` builds everything again with ASan+UBSan and runs every test.
# CPPFLAGS, CFLAGS, LDFLAGS, CC, PREFIX and DESTDIR are honoured (from
# ./configure, the environment or the command line); V=1 shows each command.

# Without config.mk, configure runs first (it names any missing package).
ifeq ($(wildcard config.mk),)
$(shell ./configure >&2)
endif
include config.mk

VERSION := 0.1.0
BUILD ?= build
# Debian's python3 is the one python3-pytest installs into.
PYTHON ?= $(if $(wildcard /usr/bin/python3),/usr/bin/python3,python3)
SHARED ?= ../shared

CFLAGS ?= -g -O2
WERROR ?= -Werror
# gcc's snprintf truncation warnings flag every deliberately capped buffer;
# clang 14 has no such option and refuses an unknown one, so ask $(CC).
NO_FORMAT_TRUNCATION := $(shell echo 'int x;' | $(CC) -Werror -Wformat-truncation \
	-x c -c -o /dev/null - >/dev/null 2>&1 && echo -Wno-format-truncation)
WARN = -Wall -Wextra $(WERROR) -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
       -Wno-unused-parameter $(NO_FORMAT_TRUNCATION)
BASE_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(DEP_CFLAGS) \
	      -DL402_VERSION='"$(VERSION)"' -Icommon -Iplugin
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
	    -fno-sanitize-recover=all
ALL_CFLAGS = $(BASE_CFLAGS) $(EXTRA_CFLAGS) $(CPPFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(EXTRA_CFLAGS) $(CFLAGS) $(LDFLAGS)

# V=1 prints each command instead of its short name.
Q := $(if $(filter 1,$(V)),,@)
say = $(if $(Q),@echo "  $(1) $(2)")

COMMON_SRC := $(wildcard common/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
PLUGIN_SRC := $(wildcard plugin/*.c plugin/*/*.c)
PLUGIN_HDR := $(wildcard plugin/*.h plugin/*/*.h)
PLUGIN_OBJ := $(PLUGIN_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_REPLAY := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/tests/replay_%)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)

PLUGIN_BIN := $(if $(filter build,$(BUILD)),plugin/l402,$(BUILD)/plugin/l402)

# What the compiler and linker were last run with in $(BUILD): a change of
# CC, CPPFLAGS, CFLAGS or LDFLAGS rebuilds everything, not only new files.
# Goals that build nothing leave it alone; make -n and -q only say what a
# change of flags would rebuild, without recording it.
BUILD_FLAGS := $(CC) $(ALL_CFLAGS) / $(ALL_LDFLAGS) $(DEP_LIBS)
ifneq ($(filter-out clean distclean dist deb uninstall check tsan,$(or $(MAKECMDGOALS),all)),)
ifneq ($(BUILD_FLAGS),$(file <$(BUILD)/flags))
ifeq ($(findstring n,$(firstword -$(MAKEFLAGS)))$(findstring q,$(firstword -$(MAKEFLAGS))),)
$(shell mkdir -p $(BUILD))
$(file >$(BUILD)/flags,$(BUILD_FLAGS))
else
.PHONY: $(BUILD)/flags
endif
endif
endif

.SECONDARY:
.PHONY: all check unit-tests fuzz clean install install-strip uninstall dist deb demo distclean \
	valgrind tsan
all: $(PLUGIN_BIN)
$(BUILD)/flags: ;

$(BUILD)/%.o: %.c $(wildcard common/*.h tests/unit/*.h) $(PLUGIN_HDR) config.mk $(BUILD)/flags
	$(Q)mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

# Unit tests of plugin modules include the module's .c (Core Lightning's
# plugins/test/run-*.c way), so they depend on every plugin source.
$(BUILD)/tests/unit/%.o: tests/unit/%.c $(PLUGIN_SRC) $(wildcard common/*.h tests/unit/*.h) $(PLUGIN_HDR) config.mk $(BUILD)/flags
	$(Q)mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libl402common.a: $(COMMON_OBJ)
	$(Q)rm -f $@
	$(Q)$(AR) rcs $@ $^

$(PLUGIN_BIN): $(PLUGIN_OBJ) $(BUILD)/libl402common.a $(BUILD)/flags
	$(Q)mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) $(PLUGIN_OBJ) $(BUILD)/libl402common.a $(DEP_LIBS) -o $@

$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $(BUILD)/libl402common.a
	$(Q)mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(DEP_LIBS) -o $@

$(BUILD)/tests/replay_%: $(BUILD)/tests/fuzz/%.o $(BUILD)/tests/fuzz/replay_main.o $(BUILD)/libl402common.a
	$(Q)mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(DEP_LIBS) -o $@

unit-tests: $(PLUGIN_BIN) $(UNIT_BIN) $(FUZZ_REPLAY)

# The whole suite, under AddressSanitizer and UndefinedBehaviorSanitizer.
check:
	@$(MAKE) --no-print-directory BUILD=build-san EXTRA_CFLAGS="$(SAN_FLAGS)" unit-tests
	BUILD=build-san SHARED=$(SHARED) PYTHON=$(PYTHON) sh tests/run-tests.sh

# The unit tests, then the runtime and paywall tests with the plugin under
# valgrind (the normal build, no sanitizers).
valgrind: all $(UNIT_SRC:tests/unit/%.c=build/tests/%)
	@for t in build/tests/test_*; do \
		SHARED=$(SHARED) valgrind -q --error-exitcode=99 --leak-check=full $$t >/dev/null || exit 1; \
		echo "valgrind: $$t clean"; \
	done
	L402_TEST_PLUGIN=$(CURDIR)/tests/valgrind-plugin SHARED=$(SHARED) $(PYTHON) -m pytest -q \
		-p no:cacheprovider tests/pytest/test_runtime.py tests/pytest/test_paywall.py

# The plugin under ThreadSanitizer, driven by the paywall, command and
# runtime tests: any report (a race, a lock-order inversion) fails.
tsan:
	@$(MAKE) --no-print-directory BUILD=build-tsan \
		EXTRA_CFLAGS="-fsanitize=thread -fno-omit-frame-pointer" build-tsan/plugin/l402
	@rm -f build-tsan/report.*
	BUILD=build-tsan SHARED=$(SHARED) TSAN_OPTIONS="log_path=$(CURDIR)/build-tsan/report" \
		$(PYTHON) -m pytest -q -p no:cacheprovider tests/pytest/test_runtime.py \
		tests/pytest/test_paywall.py tests/pytest/test_commands.py tests/pytest/test_hostile.py \
		tests/pytest/test_metrics.py tests/pytest/test_forward_auth.py tests/pytest/test_tls.py \
		tests/pytest/test_mpp.py tests/pytest/test_balance.py tests/pytest/test_mpp_session.py \
		tests/pytest/test_ledger_symptoms.py tests/pytest/test_fair_share.py \
		tests/pytest/test_dashboard.py tests/pytest/test_checkout.py
	@if ls build-tsan/report.* >/dev/null 2>&1; then cat build-tsan/report.*; exit 1; fi
	@echo "tsan: no reports"

# libFuzzer: each target runs for FUZZ_SECONDS from the seed corpus.
FUZZ_SECONDS ?= 60
build/fuzz/%: tests/fuzz/%.c $(COMMON_SRC) $(wildcard common/*.h)
	$(Q)mkdir -p $(dir $@)
	$(CLANG) -std=c11 -D_GNU_SOURCE -g -O1 -Icommon -Iplugin $(DEP_CFLAGS) \
		-fsanitize=fuzzer,address,undefined $< $(COMMON_SRC) $(DEP_LIBS) -o $@

fuzz: $(FUZZ_BIN)
	@if [ "$(HAVE_CLANG)" != 1 ]; then echo "fuzz: clang missing (apt-get install clang libclang-rt-dev)"; exit 1; fi
	SHARED=$(SHARED) $(PYTHON) tests/fuzz/make_seeds.py build/fuzz/corpus
	@for f in $(FUZZ_BIN); do \
		t=$$(basename $$f); mkdir -p build/fuzz/work/$$t; \
		echo "== $$t for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -max_len=20000 -print_final_stats=1 \
			-artifact_prefix=build/fuzz/ \
			build/fuzz/work/$$t build/fuzz/corpus/$$t 2>&1 | \
			grep -E "stat::number_of_executed_units|ERROR|crash-|Done" || true; \
		ls build/fuzz/crash-* 2>/dev/null && exit 1; \
	done; true

demo: all
	sh contrib/demo.sh

# Where `make install` puts things; ./configure --libexecdir= etc. or make
# LIBEXECDIR=... change them. The man pages are generated (below).
LIBEXECDIR ?= $(PREFIX)/libexec
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/cln-l402
DOCS ?= README.md CHANGELOG.md LICENSE
INSTALL ?= install
INSTALL_PROGRAM ?= $(INSTALL) -m 0755

install: all
	$(INSTALL) -d $(DESTDIR)$(LIBEXECDIR)/cln-l402 $(DESTDIR)$(DOCDIR)
	$(INSTALL_PROGRAM) $(PLUGIN_BIN) $(DESTDIR)$(LIBEXECDIR)/cln-l402/l402
	$(INSTALL) -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)

install-strip:
	$(MAKE) --no-print-directory INSTALL_PROGRAM='$(INSTALL) -s -m 0755' install

uninstall:
	rm -rf $(DESTDIR)$(LIBEXECDIR)/cln-l402
	rm -f $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(DOCS)))
	rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null || true

# Release artifacts, in $(DISTDIR): the source tarball (every file git
# tracks, dated by the last commit, byte for byte reproducible) and a
# Debian package built from this tree with dpkg-buildflags' hardening.
DISTDIR ?= dist
DIST_NAME := cln-l402-$(VERSION)
dist:
	@sh contrib/dist.sh $(DIST_NAME) $(DISTDIR)

deb:
	@MAKE="$(MAKE)" sh contrib/deb/build.sh $(VERSION) $(DISTDIR)

# Man pages, one per command, generated from its schema (doc/schemas/), where
# `lightning-cli help l402-status` finds them: it runs `man lightning-l402-status`.
SCHEMAS := $(wildcard doc/schemas/l402-*.json)
MAN7 := $(SCHEMAS:doc/schemas/%.json=$(BUILD)/doc/lightning-%.7)
.PHONY: man install-man uninstall-man
all: man
install: install-man
uninstall: uninstall-man
man: $(MAN7)

$(BUILD)/doc/lightning-%.7: doc/schemas/%.json contrib/schema2man.py
	@mkdir -p $(dir $@)
	@echo "  MAN $@"
	@$(PYTHON) contrib/schema2man.py --version $(VERSION) $< > $@.tmp && mv $@.tmp $@

install-man: man
	$(INSTALL) -d $(DESTDIR)$(MANDIR)/man7
	$(INSTALL) -m 0644 $(MAN7) $(DESTDIR)$(MANDIR)/man7/

uninstall-man:
	rm -f $(MAN7:$(BUILD)/doc/%=$(DESTDIR)$(MANDIR)/man7/%)

clean:
	rm -rf build build-san build-tsan build-deb plugin/l402

distclean: clean
	rm -rf config.mk dist
