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
  libuv1-dev node-llhttp libsimdjson-dev libmimalloc-dev doctest-dev libcli11-dev \
  libssl-dev libxxhash-dev zlib1g-dev wrk

.PHONY: all deps build run test check asan tsan fuzz bench format install clean

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

install: build
	install -D -m 0755 $(BUILD)/longlink $(DESTDIR)$(PREFIX)/bin/longlink
	@if [ -f man/longlink.1 ]; then install -D -m 0644 man/longlink.1 $(DESTDIR)$(PREFIX)/share/man/man1/longlink.1; fi
	@if [ -f dist/longlink.service ]; then install -D -m 0644 dist/longlink.service $(DESTDIR)$(PREFIX)/lib/systemd/system/longlink.service; fi

clean:
