# StationDesk — the single source of truth for building, running and testing.
#   make run    install what is missing, build, start the desk in demo mode
#   make test   install what is missing, run every test with -race
#   make test-slow  the same on one throttled CPU, each test COUNT (3) times
#   make dist   the packages for the station PCs in dist/ (.deb amd64 and
#               arm64, Windows .exe and installer, SHA256SUMS)
#   make dist-check  install and run them: throw-away Debian root, qemu, wine, lintian
SHELL := /bin/bash
.DEFAULT_GOAL := run

GO        ?= go
TAGS      ?= x11
BIN       := bin/stationdesk
PKGS      := ./...
FUZZTIME  ?= 10s
SIZE      ?= 1000000
export CGO_ENABLED := 1

# Debian packages: the cgo GL/X11 build of Fyne, the race detector (gcc),
# and the Xvfb tools the window tests use. Installed only when missing.
DEB_BUILD := gcc libc6-dev pkg-config libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev \
             libxinerama-dev libxi-dev libxxf86vm-dev
DEB_TEST  := xvfb xdotool x11-utils imagemagick libgl1-mesa-dri
DEB_ALL   := $(DEB_BUILD) $(DEB_TEST)

.PHONY: run build test test-slow deps lint fuzz bench clean fmt vet dist dist-deps dist-check screenshots

deps:
	@missing=$$(for p in $(DEB_ALL); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@command -v $(GO) >/dev/null || { echo "Go is not installed (see README)"; exit 1; }
	@$(GO) mod download

build: deps
	@mkdir -p bin
	$(GO) build -tags $(TAGS) -o $(BIN) .

# run starts the desk in demo mode. Without a display it starts Xvfb on :99
# so `make run` also works on a headless machine (look at it with
# `import -display :99 -window root shot.png`).
run: build
	@if [ -z "$${DISPLAY:-}" ]; then \
	  echo "no DISPLAY: starting Xvfb :99 (screenshot: import -display :99 -window root shot.png)"; \
	  (Xvfb :99 -screen 0 1280x900x24 -nolisten tcp >/dev/null 2>&1 &); sleep 1; export DISPLAY=:99; \
	fi; \
	exec ./$(BIN) $(ARGS)

test: deps
	$(GO) vet -tags $(TAGS) $(PKGS)
	$(GO) test -race -tags $(TAGS) -timeout 20m $(PKGS)

# test-slow runs the suite as a slow machine would: every test process and a
# busy loop share one CPU (taskset -c 0), Go uses one thread for Go code
# (GOMAXPROCS=1, -cpu 1), and each test runs COUNT times. No test may depend
# on how fast the machine is; this is how to find one that does.
COUNT ?= 3
test-slow: deps
	@command -v taskset >/dev/null || { echo "taskset (util-linux) is missing"; exit 1; }
	@taskset -c 0 sh -c 'while :; do :; done' & busy=$$!; trap "kill $$busy" EXIT; \
	echo "busy loop $$busy on CPU 0; tests on CPU 0 with GOMAXPROCS=1, -count $(COUNT)"; \
	GOMAXPROCS=1 taskset -c 0 $(GO) test -race -tags $(TAGS) -cpu 1 -count $(COUNT) -timeout 120m $(PKGS)

# screenshots saves a PNG of the login and every screen of the demo desk
# (real window under Xvfb, 1280x800, large text, zh and en, the keyboard
# moving between screens) into assets/screenshots as SCREEN-zh.png /
# SCREEN-en.png, and the filled forms and results of a clerk's work
# (TestResultOnScreen, Fyne's software painter at the same size) as
# ticket-sold-zh.png, upgrade-done-en.png and so on. Look at them after a
# change to a screen.
screenshots: deps
	STATIONDESK_SCREENSHOTS=$(CURDIR)/assets/screenshots $(GO) test -tags $(TAGS) -count=1 -run '^(TestScreenshots|TestResultOnScreen)$$' -v .

fmt:
	gofmt -w .

vet:
	$(GO) vet -tags $(TAGS) $(PKGS)

lint: deps
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt needed"; exit 1; }
	$(GO) vet -tags $(TAGS) $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 -tags $(TAGS) $(PKGS)

# fuzz runs every fuzz target for FUZZTIME each.
fuzz: deps
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -tags $(TAGS) -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -tags $(TAGS) -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

# bench prints the figures the issues ask for: the Go benchmarks (ledger
# commit latency, binds at 50 desks, document parsing, …), the readers at
# real baud over pseudo-terminals, and the gate cache and verify service
# with SIZE cards (make bench SIZE=30000000 for the whole city).
BENCH ?= .
bench: build
	$(GO) test -tags $(TAGS) -run '^$$' -bench '$(BENCH)' -timeout 60m . ./app/... ./offline/...
	./$(BIN) bench devices
	./$(BIN) bench gate --size $(SIZE)

clean:
	rm -rf bin dist

# ---- Packages for the station PCs (sources in assets/dist) ----
# VERSION is FyneApp.toml's Version; a build that is not at the tag
# v$(APPVER) adds the commit count and hash, so every later build of main
# sorts higher (dpkg) and an upgrade is an upgrade.
APPVER    := $(shell sed -n 's/^[[:space:]]*Version[[:space:]]*=[[:space:]]*"\(.*\)"/\1/p' FyneApp.toml)
GITCOUNT  := $(shell git rev-list --count HEAD 2>/dev/null)
GITSHA    := $(shell git rev-parse --short=7 HEAD 2>/dev/null)
ifeq ($(shell git describe --tags --exact-match 2>/dev/null),v$(APPVER))
VERSION   ?= $(APPVER)
else ifneq ($(GITCOUNT),)
VERSION   ?= $(APPVER)+git$(GITCOUNT).$(GITSHA)
else
VERSION   ?= $(APPVER)
endif
VIVERSION := $(APPVER).$(or $(GITCOUNT),0)
DIST      := dist
DISTB     := $(DIST)/build
# -trimpath: no build machine paths in the binaries. PIE on Linux (ASLR);
# Windows builds are PIE by default. Plain go build adds no fortify or
# stack-protector flags, so the mingw build needs no libssp-0.dll.
DIST_GO   := $(GO) build -tags $(TAGS) -trimpath
DIST_LD   := -s -w -X main.version=$(VERSION)
ARM64_ENV := GOOS=linux GOARCH=arm64 CC=aarch64-linux-gnu-gcc \
             PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig
WIN_ENV   := GOOS=windows GOARCH=amd64 CC=x86_64-w64-mingw32-gcc
# Cross compilers, the arm64 GL/X11 headers (Debian multiarch), NSIS, and
# ImageMagick for the Windows icon. Installed only when missing.
DEB_DIST  := gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils-aarch64-linux-gnu \
             gcc-mingw-w64-x86-64 nsis imagemagick \
             libgl1-mesa-dev:arm64 libx11-dev:arm64 libxcursor-dev:arm64 libxrandr-dev:arm64 \
             libxinerama-dev:arm64 libxi-dev:arm64 libxxf86vm-dev:arm64
# What dist-check runs the packages with.
DEB_CHECK := qemu-user lintian wine wine64 mmdebstrap

define apt_missing
missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
if [ -n "$$missing" ]; then \
  echo "installing Debian packages:" $$missing; \
  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
  case " $$missing" in *:arm64*) dpkg --print-foreign-architectures | grep -qx arm64 || $$SUDO dpkg --add-architecture arm64;; esac; \
  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
fi
endef

dist-deps: deps
	@$(call apt_missing,$(DEB_DIST))

# dist builds everything from this one Debian machine. Cold, each of the
# three builds compiles go-gl/gl's C (single-threaded, minutes); a warm
# GOCACHE makes them link-only.
dist: dist-deps
	@rm -rf $(DIST) && mkdir -p $(DISTB)/linux-amd64 $(DISTB)/linux-arm64
	@echo "== StationDesk $(VERSION)"
	@t=$$SECONDS; $(DIST_GO) -buildmode=pie -ldflags "$(DIST_LD)" -o $(DISTB)/linux-amd64/stationdesk . && \
	  echo "   linux/amd64 built in $$((SECONDS-t)) s"
	@t=$$SECONDS; env $(ARM64_ENV) $(DIST_GO) -buildmode=pie -ldflags "$(DIST_LD)" -o $(DISTB)/linux-arm64/stationdesk . && \
	  echo "   linux/arm64 built in $$((SECONDS-t)) s"
	@t=$$SECONDS; env $(WIN_ENV) $(DIST_GO) -ldflags "$(DIST_LD) -H=windowsgui" -o $(DIST)/stationdesk-$(VERSION)-windows-amd64.exe . && \
	  echo "   windows/amd64 built in $$((SECONDS-t)) s"
	@assets/dist/mkdeb.sh amd64 $(DISTB)/linux-amd64/stationdesk $(VERSION) $(DIST)/stationdesk_$(VERSION)_amd64.deb
	@assets/dist/mkdeb.sh arm64 $(DISTB)/linux-arm64/stationdesk $(VERSION) $(DIST)/stationdesk_$(VERSION)_arm64.deb
	@convert assets/icons/Icon.png -define icon:auto-resize=256,64,48,32,16 $(DISTB)/stationdesk.ico
	@makensis -V2 -INPUTCHARSET UTF8 -DVERSION=$(VERSION) -DVIVERSION=$(VIVERSION) \
	  -DEXE=$(CURDIR)/$(DIST)/stationdesk-$(VERSION)-windows-amd64.exe -DICON=$(CURDIR)/$(DISTB)/stationdesk.ico \
	  -DCONFIG=$(CURDIR)/assets/config/stationdesk.example.toml \
	  -DOUTFILE=$(CURDIR)/$(DIST)/stationdesk-$(VERSION)-windows-amd64-setup.exe assets/dist/windows/stationdesk.nsi
	@cd $(DIST) && sha256sum *.deb *.exe > SHA256SUMS
	@ls -l $(DIST) | awk 'NR>1 && $$1 !~ /^d/ {printf "   %-60s %6.1f MB\n", $$9, $$5/1e6}'

# dist-check installs and runs what dist built (see assets/dist/check.sh);
# a part whose tool is missing is skipped and says so.
dist-check: dist-deps
	@$(call apt_missing,$(DEB_CHECK))
	@test -f $(DIST)/SHA256SUMS -a -f $(DIST)/stationdesk_$(VERSION)_amd64.deb || \
	  { echo "dist/ holds no build of $(VERSION): make dist first"; $(MAKE) --no-print-directory dist; }
	assets/dist/check.sh $(DIST) $(VERSION)
