# StationDesk — the single source of truth for building, running and testing.
#   make run    install what is missing, build, start the desk in demo mode
#   make test   install what is missing, run every test with -race
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

.PHONY: run build test deps lint fuzz bench clean fmt vet

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
	rm -rf bin
