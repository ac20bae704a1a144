# cabinet: the two commands that set up everything on a fresh Debian machine.
#   make demo   build, then back up, list, restore, mount and apply a persona
#               on the embedded default repository
#   make test   install what the tests need (apt-get), then run every test
SHELL := /bin/bash
GO ?= go
export PATH := $(PATH):/usr/local/go/bin
APT_TEST_PACKAGES := fuse3 libfuse-dev gcc pkg-config dconf-cli dbus-daemon attr acl
APT_DEMO_PACKAGES := fuse3 dconf-cli

.DEFAULT_GOAL := demo
.PHONY: demo test build deps-demo deps-test unit unit32 race integration cross fuzz-seeds vet

build:
	$(GO) build -o bin/cabinet ./cmd/cabinet

# apt-get only what is missing, after refreshing the lists (a new machine's may be stale).
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
endef

deps-demo:
	$(call apt_install,$(APT_DEMO_PACKAGES))

deps-test:
	$(call apt_install,$(APT_TEST_PACKAGES))

demo: deps-demo build
	./scripts/demo.sh

vet:
	$(GO) vet ./...

# Every OS builds: cross-compile the binary for Windows and macOS, and for
# FreeBSD (TrueNAS and other NAS systems), whose device numbers differ in type.
cross:
	GOOS=windows GOARCH=amd64 CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/cabinet
	GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/cabinet
	GOOS=darwin GOARCH=amd64 CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/cabinet
	GOOS=freebsd GOARCH=amd64 CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/cabinet
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/cabinet
	GOOS=linux GOARCH=riscv64 CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/cabinet
	GOOS=linux GOARCH=arm GOARM=7 CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/cabinet
	GOOS=linux GOARCH=386 CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/cabinet

# 32-bit Linux (a Raspberry Pi's armv7, say) runs here as 386: the core's
# tests there catch unaligned 64-bit atomics, int overflows and the scan
# without its amd64/arm64 fast path (scandir_other.go).
unit32:
	GOARCH=386 CGO_ENABLED=0 $(GO) test -count=1 -timeout 10m ./engine ./snapshot/... ./repo/...

# Every package but the end-to-end tests of the binary.
UNIT_PACKAGES = $$($(GO) list ./... | grep -v /integration)

# Unit tests, with the cgofuse adapter built in so its real-mount tests run.
unit:
	$(GO) test -count=1 -timeout 10m -tags cgofuse $(UNIT_PACKAGES)

# The unit tests again under the race detector (cgo: gcc from deps-test):
# backup, restore and the mount run most of their work concurrently.
race:
	$(GO) test -race -count=1 -timeout 15m -tags cgofuse $(UNIT_PACKAGES)

integration: build
	$(GO) build -tags cgofuse -o bin/cabinet-cgofuse ./cmd/cabinet
	CABINET_BIN=$(CURDIR)/bin/cabinet-cgofuse $(GO) test -count=1 -p 1 -timeout 15m ./integration/...

test: deps-test vet cross unit unit32 race integration

include bench.mk
