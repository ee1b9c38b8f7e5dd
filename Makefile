# longlink: the two commands are `make run` and `make test` (see README.md).
# Everything else here is what they are made of.

BUILD     ?= build
JOBS      ?= $(shell nproc)
PREFIX    ?= /usr/local
DESTDIR   ?=
CMAKE_GEN := -G Ninja
RUN_ARGS  ?= --auth none

# Debian 12 packages the build, the tests and the benchmarks need.
DEB_PACKAGES := build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev \
  libuv1-dev liburing-dev node-llhttp libsimdjson-dev libmimalloc-dev doctest-dev libcli11-dev \
  libssl-dev libxxhash-dev zlib1g-dev wrk \
  groff-base man-db mandoc systemd strace curl prometheus chromium
# (tests/ops: groff/man/mandoc render the man page, systemd-analyze verifies the
# unit, strace lists the syscalls its filter must allow, promtool checks
# /metrics. The prometheus package ships promtool; on a machine that runs
# systemd, installing it also enables a Prometheus server on :9090.)
# (tests/browser: Debian's chromium, driven by playwright-core from npm, which
# tests/browser/run.sh installs with `npm ci`; Node.js and npm come from
# Debian only when the machine has no npm of its own.)

.PHONY: all deps build run test check asan tsan fuzz bench format install install-files uninstall clean

all: build

# Installs whatever is missing (apt-get update first, as a fresh machine needs).
deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null || exit 1; \
	fi
	@command -v npm >/dev/null || { \
	  echo "installing: nodejs npm"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm >/dev/null || exit 1; }

build: deps
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release -DLL_WERROR=ON >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# Starts the server in the foreground on the embedded default (./data).
run: build
	./$(BUILD)/longlink $(RUN_ARGS)

# Every test: release build (unit + integration), ASan+UBSan build (all
# tests), TSan build (the cross-thread tests), short libFuzzer runs. The last
# line says how many passed.
test: deps
	bash tests/run_all.sh

# The release suite alone, for a quick check while working.
check: build
	cd $(BUILD) && ctest -j $(JOBS) --output-on-failure

asan: deps
	bash tests/run_all.sh asan

tsan: deps
	bash tests/run_all.sh tsan

fuzz: deps
	bash tests/run_all.sh fuzz

bench: build
	bash bench/run_echo.sh

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

# make install [PREFIX=/usr/local] [DESTDIR=]: the binary, the man page and
# the systemd unit, whose ExecStart is rewritten to $(PREFIX)/bin/longlink.
# install-files does the same without building (BIN= picks the binary), for
# packaging and for tests/ops/install.sh.
BIN     ?= $(BUILD)/longlink
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
UNITDIR ?= $(PREFIX)/lib/systemd/system

install: build
	$(MAKE) --no-print-directory install-files

install-files:
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/longlink
	install -D -m 0644 man/longlink.1 $(DESTDIR)$(MANDIR)/man1/longlink.1
	install -d -m 0755 $(DESTDIR)$(UNITDIR)
	sed 's|^ExecStart=/usr/local/bin/longlink |ExecStart=$(BINDIR)/longlink |' dist/longlink.service \
	  > $(DESTDIR)$(UNITDIR)/longlink.service.tmp
	grep -q '^ExecStart=$(BINDIR)/longlink ' $(DESTDIR)$(UNITDIR)/longlink.service.tmp
	chmod 0644 $(DESTDIR)$(UNITDIR)/longlink.service.tmp
	mv $(DESTDIR)$(UNITDIR)/longlink.service.tmp $(DESTDIR)$(UNITDIR)/longlink.service

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/longlink $(DESTDIR)$(MANDIR)/man1/longlink.1 \
	  $(DESTDIR)$(UNITDIR)/longlink.service

clean:
