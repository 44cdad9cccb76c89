# Build, demo and test targets. `make demo` and `make test` install what
# they need first: the pinned temporal CLI into bin/ and, when missing,
# PostgreSQL from Debian's packages.

GO ?= go
BIN := $(CURDIR)/bin
# Newer CLI releases carry replace directives and cannot be built with
# `go install`; v1.5.1 is the newest that can.
TEMPORAL_CLI_VERSION := v1.5.1
TEMPORAL_CLI_STAMP := $(BIN)/.temporal-$(TEMPORAL_CLI_VERSION)
# Static check that workflow code calls nothing non-deterministic.
WORKFLOWCHECK_VERSION := v0.6.0
WORKFLOWCHECK_STAMP := $(BIN)/.workflowcheck-$(WORKFLOWCHECK_VERSION)
# Generous: the race detector on a 2-core machine is slow, and a hung test
# should still fail the run rather than stall CI.
TEST_TIMEOUT ?= 30m

export DAEMONAUTH_TEMPORAL_CLI := $(BIN)/temporal

.PHONY: all tools postgres build demo test vet workflowcheck fuzz record-histories bench webui-screenshot clean

all: build

tools: $(TEMPORAL_CLI_STAMP) $(WORKFLOWCHECK_STAMP) postgres

$(TEMPORAL_CLI_STAMP):
	@echo "Building the temporal CLI $(TEMPORAL_CLI_VERSION) into bin/ (a few minutes the first time)..."
	GOBIN=$(BIN) $(GO) install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION)
	@touch $@

$(WORKFLOWCHECK_STAMP):
	GOBIN=$(BIN) $(GO) install go.temporal.io/sdk/contrib/tools/workflowcheck@$(WORKFLOWCHECK_VERSION)
	@touch $@

postgres:
	@scripts/ensure-postgres.sh

build:
	$(GO) build -o $(BIN)/ ./worker ./starter ./demo

demo: tools build
	$(BIN)/demo

vet:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt needed on: $$unformatted"; exit 1; fi

# Fuzzes input decoding briefly; -fuzz takes one target per run. A longer
# run: make fuzz FUZZ_TIME=10m. Commit any failing input it saves under
# testdata/fuzz/, so it stays a regression case.
FUZZ_TIME ?= 10s
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzDaemonStartupInput$$' -fuzztime=$(FUZZ_TIME) .
	$(GO) test -run='^$$' -fuzz='^FuzzTokenRenewalInput$$' -fuzztime=$(FUZZ_TIME) .

workflowcheck: $(WORKFLOWCHECK_STAMP)
	$(BIN)/workflowcheck ./...

test: tools vet workflowcheck fuzz
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...
	$(GO) test -run '^$$' -bench . -benchtime 1x -count=1 ./internal/bench/
	@# The fault, restart, load, bad-input and secrets suite runs real worker
	@# binaries, so without -race; -v prints its summary of figures.
	@echo "$(GO) test -tags reliability -count=1 -v ./reliability/ (full output in reliability.log)"
	@$(GO) test -tags reliability -count=1 -v -timeout $(TEST_TIMEOUT) ./reliability/ > reliability.log 2>&1; \
	status=$$?; \
	grep -E '^(--- |ok |FAIL)' reliability.log; \
	sed -n '/^Reliability summary/,/^$$/p' reliability.log; \
	exit $$status

# Re-records every history the replay tests replay, from scratch, on a
# throwaway dev server and PostgreSQL. Commit the result; see CONTRIBUTING.md.
record-histories: tools
	$(GO) run ./recorder --out workflows/testdata/histories

# Measures renewals and start-ups against their floors and prints the table
# that BENCHMARKS.md records. Takes several minutes; speed never fails it.
bench: tools
	$(GO) run ./bench

# Re-takes the Web UI screenshot that the README shows, from a real run.
webui-screenshot: tools
	rm -rf .webui && mkdir -p .webui
	$(GO) test -count=1 -run TestWebUIShowsStartupHistoryInBrowser -artifacts -outputdir $(CURDIR)/.webui ./e2e/
	cp .webui/_artifacts/*/daemon-startup-history.png docs/webui-daemon-startup.png
	rm -rf .webui

clean:
	rm -rf $(BIN) .demo
