# nfdhcpd — make targets. `make test` is the command CI runs.
SHELL := /bin/bash
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# Debian kernel packages for make vmtest and make guest, kept between runs.
VMTEST_CACHE ?= /var/cache/nfdhcpd-vmtest

.PHONY: all build test test-deps unit e2e guest lint generate generate-check tidy-check demo fuzz clean vmtest man deb soak bench

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/nfdhcpd ./cmd/nfdhcpd

# Every test the project has (root): the programs the tests run are
# installed first if missing (test-deps), then unit tests and fuzz seed
# corpora (with the race detector), the end-to-end labs with real clients,
# and the real guests under qemu. Every stage runs even when one fails; the
# last line counts what passed, failed and skipped, and why each skipped. A
# test skipped for a missing program or for want of root fails make test.
# E2E_STEERING limits the labs to some steering modes.
test: build
	@if [ "$$(id -u)" != 0 ]; then echo "make test needs root (network namespaces, NFQUEUE, BPF, TAPs); make unit runs the rest"; exit 1; fi
	@$(MAKE) --no-print-directory test-deps
	@rm -f build/unit.json build/e2e.json build/guest.json; status=0; \
	$(MAKE) --no-print-directory unit || status=1; \
	$(MAKE) --no-print-directory e2e || status=1; \
	$(MAKE) --no-print-directory guest || status=1; \
	echo; $(GO) run ./test/report -summary build/unit.json build/e2e.json build/guest.json || status=1; \
	exit $$status

# Installs the Debian packages of the programs the tests run that are
# missing (test/lab's Packages lists them), or fails naming them.
test-deps:
	$(GO) run ./test/deps -install

# The tests' events are kept in build/<stage>.json; test/report prints them
# as go test would and make test's summary reads them.
REPORT = $(GO) run ./test/report

unit:
	@mkdir -p build
	$(GO) test -json -race -count=1 $$($(GO) list ./... | grep -v -e /test/e2e -e /test/guest) | \
		$(REPORT) -save build/unit.json; \
		exit $$(( $${PIPESTATUS[0]} | $${PIPESTATUS[1]} ))

e2e: build
	@mkdir -p build
	NFDHCPD_BIN=$(CURDIR)/bin/nfdhcpd NFDHCPD_E2E_STEERING=$(E2E_STEERING) \
		$(GO) test -json -count=1 -timeout 30m ./test/e2e/ | $(REPORT) -v -save build/e2e.json -log build/e2e.log; \
		exit $$(( $${PIPESTATUS[0]} | $${PIPESTATUS[1]} ))

# Real Linux guests under qemu (software emulation) on real TAPs, configured
# by udhcpc, the kernel's SLAAC, dhclient -6 and systemd-networkd, in three
# setups at once (root; about a minute on 2 CPUs). The guest kernel comes
# from VMTEST_CACHE, fetched once as make vmtest does. Log in build/guest.log.
guest: build
	@mkdir -p build
	NFDHCPD_BIN=$(CURDIR)/bin/nfdhcpd VMTEST_CACHE=$(VMTEST_CACHE) \
		$(GO) test -json -count=1 -timeout 20m ./test/guest/ | $(REPORT) -v -save build/guest.json -log build/guest.log; \
		exit $$(( $${PIPESTATUS[0]} | $${PIPESTATUS[1]} ))

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

# Rebuild the classifier's bpf2go output (needs clang and libbpf-dev; the
# committed objects come from Debian 12's clang 14).
generate:
	$(GO) generate ./loader/

# CI: fails when the committed bpf2go output is not what the C source builds.
generate-check: generate
	@git diff --exit-code --stat -- loader/ || \
		{ echo "loader/: bpf2go output is stale: run make generate and commit it"; exit 1; }

# CI: fails when go.mod or go.sum is not what `go mod tidy` writes.
tidy-check:
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum: run go mod tidy and commit the result"; exit 1; }

# Every fuzz target for FUZZTIME each (default 1 minute); crashers land in
# the package's testdata/fuzz and become seed corpus entries.
FUZZTIME ?= 1m
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

clean:
	rm -rf bin build

# A VM namespace on a TAP gets its address, routes, DNS, MTU and IPv6 prefix
# from nfdhcpd; printed beside the binding file. Needs root.
demo: build
	NFDHCPD_BIN=$(CURDIR)/bin/nfdhcpd GO=$(GO) test/demo/demo.sh

# Churn and leak soak, minutes (not part of `make test`; root): SOAK_CYCLES
# VMs created, leased and removed (default 10000), a 20,000-file binding
# burst, a link storm. SOAK_STEERING=iptables for the other mode.
SOAK_CYCLES ?= 10000
soak: build
	@mkdir -p build
	NFDHCPD_BIN=$(CURDIR)/bin/nfdhcpd NFDHCPD_SOAK=1 SOAK_CYCLES=$(SOAK_CYCLES) SOAK_STEERING=$(SOAK_STEERING) \
		$(GO) test -count=1 -timeout 60m -v ./test/soak/ 2>&1 | tee build/soak.log | grep -v 'level=' ; \
		exit $${PIPESTATUS[0]}

# The end-to-end suite inside VMs booting Debian's 5.10, 6.1 and 6.12
# kernels (qemu, software emulation; test/vm/kernels.go lists them). Kernel
# packages are cached in VMTEST_CACHE; VMTEST_FLAGS passes -kernels, -modes,
# -run, -jobs, -refresh. Needs root, qemu-system-x86, busybox-static, cpio.
vmtest: build
	VMTEST_CACHE=$(VMTEST_CACHE) $(GO) run ./test/vm $(VMTEST_FLAGS)

# Man pages nfdhcpd(8) and nfdhcpd.conf(5) from their scdoc sources, into
# build/man (`man -l build/man/nfdhcpd.8` reads one).
man:
	@mkdir -p build/man
	scdoc < man/nfdhcpd.8.scd > build/man/nfdhcpd.8
	scdoc < man/nfdhcpd.conf.5.scd > build/man/nfdhcpd.conf.5

# build/nfdhcpd_<version>_amd64.deb, with dpkg-deb (no network). A tag vX.Y.Z
# gives version X.Y.Z; otherwise 0.0~git<commit date>.<commit>.
DEB_VERSION ?= $(shell v=$$(git describe --tags --exact-match --match 'v[0-9]*' 2>/dev/null); \
	if [ -n "$$v" ]; then echo "$${v#v}"; \
	else echo "0.0~git$$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null || date +%Y%m%d).$$(git rev-parse --short HEAD 2>/dev/null || echo 0)"; fi)
deb: man
	$(MAKE) build VERSION=$(DEB_VERSION)
	packaging/build-deb.sh bin/nfdhcpd $(DEB_VERSION) build

# Performance (root; not part of `make test`; a few minutes): the Go
# benchmarks of the responder and the classifier, then dnsmasq and nfdhcpd
# (iptables and tc steering) side by side on the same real TAPs, then
# Kea's perfdhcp playing one busy VM (skipped, saying so, without
# kea-admin), 10,000 bindings, then fairness (50 VMs' DORAs beside one
# flooding VM). Table on stdout; numbers in build/bench*.json,
# build/perfdhcp.json and build/fairness.json.
# BENCH_DURATION (per cell, default 1s), BENCH_TAPS, BENCH_QUEUES,
# BENCH_KINDS, BENCH_SERVERS, BENCH_SCALE_TAPS, BENCH_DAEMON_WRAP: see test/bench.
bench: build
	@mkdir -p build
	@echo "== machine: $$(nproc) CPUs, $$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), Linux $$(uname -r), load average $$(cut -d' ' -f1-3 /proc/loadavg)"
	$(GO) test -run '^$$' -bench '^BenchmarkReply$$' -benchmem ./responder/
	$(GO) test -run '^$$' -bench '^(BenchmarkClassifier|BenchmarkAnswer)$$' -benchmem ./loader/
	NFDHCPD_BENCH=1 NFDHCPD_BIN=$(CURDIR)/bin/nfdhcpd BENCH_OUT=$(CURDIR)/build/bench.json FAIR_OUT=$(CURDIR)/build/fairness.json \
		PERF_OUT=$(CURDIR)/build/perfdhcp.json \
		$(GO) test -count=1 -timeout 30m -v -run '^(TestCompare|TestPerfdhcp|TestScale|TestFairness)$$' ./test/bench/ 2>&1 | \
		grep -v '^=== RUN' | tee build/bench.log; exit $${PIPESTATUS[0]}
