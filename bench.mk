# bench.mk - benchmark targets (included by the Makefile). See bench/README.md.
#
#   make bench          full corpus (~2.9 GB): restic 0.18.1, borg and cabinet in one run,
#                       then cabinet's figure and its ratio to restic and borg per step
#   BENCH_TOOLS=cabinet make bench     cabinet alone, against the stored anchor figures
#   make bench-quick    the same on the ~300 MB QUICK=1 corpus (tuning only)
#   make bench-scale    1M small files (deep, flat) and 1.1M empty files: cabinet beside restic
#   make bench-profile  CPU and memory profile of an initial backup of the corpus
#   make bench-deps     apt-get what the benchmark needs (done by every target above)
#
# The shared benchmark lives next to the checkout (../shared/bench); override with
# SHARED_BENCH=DIR. Results go to bench/results/ (git-ignored), summaries to bench/RESULTS.md.

# keep the including Makefile's default goal (these targets must not become it)
_bench_default_goal := $(.DEFAULT_GOAL)

SHARED_BENCH ?= ../shared/bench
BENCH_TOOLS ?= restic borg cabinet
GO ?= go
BENCH_APT_PACKAGES ?= restic borgbackup linux-source-6.1 time fuse3 openssl xz-utils python3
export SHARED_BENCH BENCH_TOOLS

.PHONY: bench bench-quick bench-scale bench-profile bench-deps bench-cabinet

bench-cabinet:
	$(GO) build -o bin/cabinet ./cmd/cabinet

# apt-get update first, non-interactive; only when a package is missing (the corpus scripts
# pin linux-source-6.1 themselves)
bench-deps:
	@missing=""; for p in $(BENCH_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "bench: installing$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; \
	fi

bench: bench-cabinet bench-deps
	QUICK=0 bash bench/run.sh

bench-quick: bench-cabinet bench-deps
	QUICK=1 bash bench/run.sh

bench-scale: bench-cabinet bench-deps
	bash bench/scale.sh

bench-profile: bench-cabinet bench-deps
	bash bench/profile.sh

.DEFAULT_GOAL := $(_bench_default_goal)
