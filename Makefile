# ag: `make` builds the library and programs, `make check` runs the tests,
# `make demo` trains the demos. Both install missing Debian packages first.

CC      ?= cc
CFLAGS  ?= -O3 -g
CFLAGS  += -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wno-unused-parameter
# Float comparisons that cannot trap let the gate loops (clamps in
# fast_math.h) vectorise, and sqrt without errno Adam's loop; ag never
# enables floating-point exceptions nor reads errno after math calls.
CFLAGS  += -fno-trapping-math -fno-math-errno
CPPFLAGS += -D_POSIX_C_SOURCE=200809L -Iframework/include -I/usr/include/x86_64-linux-gnu
LDLIBS  = -lopenblas -lcjson -lcsv -lm -lpthread
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt -lm -pthread)

# A separate build directory per flavour: release, double precision (for the
# gradient checks) and sanitizers.
BUILD   ?= build
# Two libraries: the core, libag (framework/src/*.c, ag.h), and on top of it
# the run layer, libag_run (framework/src/run/*.c, ag_run.h: run
# directories, params.csv and metrics.csv, the progress line), the only
# part that needs libcsv. A program that uses the run layer links both, the
# run layer first: AG_LIBS.
LIB_SRC   = $(wildcard framework/src/*.c)
LIB_OBJ   = $(LIB_SRC:framework/src/%.c=$(BUILD)/obj/%.o)
LIB_DOUBLE_OBJ = $(LIB_SRC:framework/src/%.c=$(BUILD)/obj-double/%.o)
RUN_SRC   = $(wildcard framework/src/run/*.c)
RUN_OBJ   = $(RUN_SRC:framework/src/%.c=$(BUILD)/obj/%.o)
LIB_HEADERS = $(wildcard framework/include/*.h framework/src/*.h framework/src/run/*.h)
AG_LIBS   = $(BUILD)/libag_run.a $(BUILD)/libag.a
# The optional MPI layer, libag_mpi (framework/src/mpi/, ag_mpi.h), built
# with Open MPI's flags; the demos link it (a plain run never starts MPI).
MPI_CFLAGS = $(shell mpicc --showme:compile 2>/dev/null)
MPI_LDLIBS = $(shell mpicc --showme:link 2>/dev/null)
MPI_OBJ   = $(BUILD)/obj/mpi/ag_mpi.o
TEST_SRC  = $(wildcard tests/test_*.c)
GRADCHECK_SRC = $(wildcard tests/gradcheck_*.c)
TEST_UTIL = tests/check_main.c
MODEL_SRC = $(wildcard models/*.c)

DEBIAN_PACKAGES = check libcsv-dev gnuplot-nox libopenblas-dev libcjson-dev pkg-config g++ fortunes \
  libopenmpi-dev openmpi-bin

DEMOS = l1norm adding digitsum charlm
# bin/runs lists, compares and reports the runs the demos write.
PROGRAMS = $(DEMOS:%=bin/%) bin/runs

.PHONY: all deps check check-asan check-valgrind clean demo plots l1-study adding-sweep bench fuzz kill-loop
all: $(BUILD)/libag.a $(BUILD)/libag_run.a $(BUILD)/libag_mpi.a $(PROGRAMS)

deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# The recurrent product's kernel wants fused multiply-adds, which ISO C
# mode (-std=c11) turns off.
$(BUILD)/obj/ops_matmul.o: CFLAGS += -ffp-contract=fast

$(BUILD)/obj/%.o: framework/src/%.c $(LIB_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(MPI_OBJ): CPPFLAGS += $(MPI_CFLAGS)
$(BUILD)/libag_mpi.a: $(MPI_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/obj-double/%.o: framework/src/%.c $(LIB_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -DAG_DOUBLE $(CFLAGS) -c $< -o $@

# A demo is demos/NAME.c with models/NAME.c, any further model files listed
# as its prerequisites below, the shared flag parser and the run harness.
DEMO_COMMON = demos/flags.c demos/harness.c
bin/%: demos/%.c models/%.c models/%.h $(DEMO_COMMON) demos/flags.h demos/harness.h $(BUILD)/libag_mpi.a $(AG_LIBS) \
  framework/include/ag_run.h
	@mkdir -p bin
	$(CC) $(CPPFLAGS) -Imodels -Idemos $(CFLAGS) demos/$*.c $(filter models/%.c,$^) $(DEMO_COMMON) \
	  $(BUILD)/libag_mpi.a $(AG_LIBS) $(LDLIBS) $(MPI_LDLIBS) -o $@

# status.json records the build that ran a run: the version and the git
# commit (empty outside a git checkout). $(BUILD)/build_commit changes only
# when the commit does, so that run_status.o is rebuilt then and only then.
BUILD_COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null)
.PHONY: FORCE
$(BUILD)/build_commit: FORCE
	@mkdir -p $(BUILD)
	@echo '$(BUILD_COMMIT)' | cmp -s - $@ || echo '$(BUILD_COMMIT)' >$@
$(BUILD)/obj/run/run_status.o $(BUILD)/obj-pic/run/run_status.o: $(BUILD)/build_commit
$(BUILD)/obj/run/run_status.o $(BUILD)/obj-pic/run/run_status.o: \
  CPPFLAGS += -DAG_BUILD_VERSION='"$(VERSION)"' -DAG_BUILD_COMMIT='"$(BUILD_COMMIT)"'

# bin/runs: no model; the run layer's reader (ag_run_read_status), its own
# files for reading runs, the tables, gnuplot, the HTML report and its SVG.
RUNS_SRC = demos/runs.c demos/runs_data.c demos/runs_table.c demos/runs_plot.c demos/runs_report.c demos/runs_svg.c
bin/runs: $(RUNS_SRC) $(filter-out demos/runs.h,$(RUNS_SRC:.c=.h)) $(AG_LIBS) framework/include/ag_run.h
	@mkdir -p bin
	$(CC) $(CPPFLAGS) -Idemos $(CFLAGS) $(RUNS_SRC) $(AG_LIBS) $(LDLIBS) -o $@

# The digit-sum demo reads and writes its data with models/digitsum_data.c.
bin/digitsum: models/digitsum_data.c models/digitsum_data.h
# The char LM reads its text with models/charlm_data.c.
bin/charlm: models/charlm_data.c models/charlm_data.h

# Each archive is made afresh: `ar r` into an old one would keep the
# objects of sources since moved or removed (run.o, now libag_run's).
$(BUILD)/libag.a: $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/libag_run.a: $(RUN_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/libag-double.a: $(LIB_DOUBLE_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

# The shared libraries: the same sources compiled position-independent into
# their own object directory, each linked with what it calls: the core with
# OpenBLAS (ops_matmul.c, parallel.c), cJSON (checkpoint_*.c), libm and
# pthreads (parallel.c), no libcsv; the run layer with libag.so and libcsv.
# --no-undefined: a library missing from SHARED_LDLIBS or RUN_SHARED_LDLIBS
# fails here, not in a user's link (so the core's link proves that it needs
# no libcsv). Both carry the same version.
VERSION   = 0.1.0
SOVERSION = 0
SONAME    = libag.so.$(SOVERSION)
SHARED_LIB = $(BUILD)/libag.so.$(VERSION)
LIB_PIC_OBJ = $(LIB_SRC:framework/src/%.c=$(BUILD)/obj-pic/%.o)
SHARED_LDLIBS = -lopenblas -lcjson -lm -lpthread
RUN_SONAME = libag_run.so.$(SOVERSION)
RUN_SHARED_LIB = $(BUILD)/libag_run.so.$(VERSION)
RUN_PIC_OBJ = $(RUN_SRC:framework/src/%.c=$(BUILD)/obj-pic/%.o)
RUN_SHARED_LDLIBS = -lcsv -lcjson -lopenblas
all: $(SHARED_LIB) $(RUN_SHARED_LIB)

$(BUILD)/obj-pic/ops_matmul.o: CFLAGS += -ffp-contract=fast

$(BUILD)/obj-pic/%.o: framework/src/%.c $(LIB_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -c $< -o $@

$(SHARED_LIB): $(LIB_PIC_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) -Wl,--no-undefined $^ $(SHARED_LDLIBS) -o $@
	ln -sfn libag.so.$(VERSION) $(BUILD)/$(SONAME)
	ln -sfn $(SONAME) $(BUILD)/libag.so

$(RUN_SHARED_LIB): $(RUN_PIC_OBJ) $(SHARED_LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-soname,$(RUN_SONAME) -Wl,--no-undefined $(RUN_PIC_OBJ) $(SHARED_LIB) \
	  $(RUN_SHARED_LDLIBS) -o $@
	ln -sfn libag_run.so.$(VERSION) $(BUILD)/$(RUN_SONAME)
	ln -sfn $(RUN_SONAME) $(BUILD)/libag_run.so

# make install [PREFIX=/usr/local] [DESTDIR=staging root]: the public
# headers, the core and the run layer each as a static and a shared
# library, the MPI layer as a static one, and a pkg-config file for each, so that a program builds with
# `cc prog.c $$(pkg-config --cflags --libs ag)`, or with ag-run instead of
# ag if it uses ag_run.h (ag-run.pc requires ag.pc, which brings -lag).
# Add --static to link the .a files: Libs.private and Requires.private name
# what they need, libcsv for the run layer only.
# make uninstall with the same PREFIX and DESTDIR removes those files and
# nothing else (directories stay: they may hold other packages' files).
PREFIX     ?= /usr/local
INCLUDEDIR ?= $(PREFIX)/include
LIBDIR     ?= $(PREFIX)/lib
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
INSTALL    ?= install
PUBLIC_HEADERS = $(wildcard framework/include/*.h)
# The .pc file's paths, relative to ${prefix} where they lie under it.
PC_LIBDIR     = $(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))
PC_INCLUDEDIR = $(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))
INSTALLED_FILES = $(PUBLIC_HEADERS:framework/include/%=$(INCLUDEDIR)/%) \
  $(LIBDIR)/libag.a $(LIBDIR)/libag.so.$(VERSION) $(LIBDIR)/$(SONAME) $(LIBDIR)/libag.so $(PKGCONFIGDIR)/ag.pc \
  $(LIBDIR)/libag_run.a $(LIBDIR)/libag_run.so.$(VERSION) $(LIBDIR)/$(RUN_SONAME) $(LIBDIR)/libag_run.so \
  $(PKGCONFIGDIR)/ag-run.pc $(LIBDIR)/libag_mpi.a $(PKGCONFIGDIR)/ag-mpi.pc

.PHONY: install uninstall docs
install: $(BUILD)/libag.a $(SHARED_LIB) $(BUILD)/libag_run.a $(RUN_SHARED_LIB) $(BUILD)/libag_mpi.a
	$(INSTALL) -d "$(DESTDIR)$(INCLUDEDIR)" "$(DESTDIR)$(LIBDIR)" "$(DESTDIR)$(PKGCONFIGDIR)"
	$(INSTALL) -m 644 $(PUBLIC_HEADERS) "$(DESTDIR)$(INCLUDEDIR)/"
	$(INSTALL) -m 644 $(BUILD)/libag.a $(BUILD)/libag_run.a $(BUILD)/libag_mpi.a "$(DESTDIR)$(LIBDIR)/"
	$(INSTALL) -m 755 $(SHARED_LIB) $(RUN_SHARED_LIB) "$(DESTDIR)$(LIBDIR)/"
	ln -sfn libag.so.$(VERSION) "$(DESTDIR)$(LIBDIR)/$(SONAME)"
	ln -sfn $(SONAME) "$(DESTDIR)$(LIBDIR)/libag.so"
	ln -sfn libag_run.so.$(VERSION) "$(DESTDIR)$(LIBDIR)/$(RUN_SONAME)"
	ln -sfn $(RUN_SONAME) "$(DESTDIR)$(LIBDIR)/libag_run.so"
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(PC_LIBDIR)' 'includedir=$(PC_INCLUDEDIR)' '' \
	  'Name: ag' \
	  'Description: Small tensor and reverse-mode autodiff library for training small recurrent networks' \
	  'Version: $(VERSION)' \
	  'Requires.private: openblas libcjson' \
	  'Cflags: -I$${includedir}' \
	  'Libs: -L$${libdir} -lag' \
	  'Libs.private: -lm -lpthread' >"$(DESTDIR)$(PKGCONFIGDIR)/ag.pc"
	@# The run layer is built with this very core: it requires that version.
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(PC_LIBDIR)' 'includedir=$(PC_INCLUDEDIR)' '' \
	  'Name: ag-run' \
	  'Description: The run layer of ag: run directories, params.csv, metrics.csv, checkpoints of a run, progress line' \
	  'Version: $(VERSION)' \
	  'Requires: ag = $(VERSION)' \
	  'Cflags: -I$${includedir}' \
	  'Libs: -L$${libdir} -lag_run' \
	  'Libs.private: -lcsv' >"$(DESTDIR)$(PKGCONFIGDIR)/ag-run.pc"
	@# The MPI layer: a static library on the core, linked with Open MPI's
	@# own pkg-config entry (ompi-c); ag_mpi.h itself needs no mpi.h.
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(PC_LIBDIR)' 'includedir=$(PC_INCLUDEDIR)' '' \
	  'Name: ag-mpi' \
	  'Description: The data-parallel layer of ag over Open MPI: the same bytes for any number of processes' \
	  'Version: $(VERSION)' \
	  'Requires: ag = $(VERSION), ompi-c' \
	  'Cflags: -I$${includedir}' \
	  'Libs: -L$${libdir} -l:libag_mpi.a' >"$(DESTDIR)$(PKGCONFIGDIR)/ag-mpi.pc"
	chmod 644 "$(DESTDIR)$(PKGCONFIGDIR)/ag.pc" "$(DESTDIR)$(PKGCONFIGDIR)/ag-run.pc" "$(DESTDIR)$(PKGCONFIGDIR)/ag-mpi.pc"
	@# Installed for real by root: refresh the loader's cache, so that
	@# programs find libag.so.0 and libag_run.so.0 in a directory such as
	@# /usr/local/lib.
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi

uninstall:
	rm -f $(foreach f,$(INSTALLED_FILES),"$(DESTDIR)$(f)")

# make docs: the API reference from the public headers into docs/api/
# (docs/api/html/index.html) with Doxygen, installed first if missing the
# way `make deps` installs the build's packages (not part of check or demo).
DOCS_PACKAGES = doxygen
docs:
	@$(MAKE) --no-print-directory deps DEBIAN_PACKAGES="$(DOCS_PACKAGES)"
	rm -rf docs/api
	AG_VERSION=$(VERSION) doxygen docs/Doxyfile
	@echo "docs/api/html/index.html"

$(BUILD)/test_ag: $(TEST_SRC) $(TEST_UTIL) $(MODEL_SRC) $(wildcard tests/*.h models/*.h) $(wildcard tests/fixtures/*.h) \
  $(BUILD)/libag_mpi.a $(AG_LIBS)
	$(CC) $(CPPFLAGS) -Itests -Imodels $(CFLAGS) -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc \
	  $(TEST_SRC) $(TEST_UTIL) $(MODEL_SRC) $(BUILD)/libag_mpi.a $(AG_LIBS) $(CHECK_LIBS) $(LDLIBS) $(MPI_LDLIBS) -o $@

# Models written as a user would (models/gru.c) get their gradients checked
# in double precision too.
GRADCHECK_MODELS = models/gru.c
$(BUILD)/test_gradcheck: $(GRADCHECK_SRC) $(TEST_UTIL) $(wildcard tests/*.h) $(GRADCHECK_MODELS) models/gru.h $(BUILD)/libag-double.a
	$(CC) $(CPPFLAGS) -DAG_DOUBLE -Itests -Imodels $(CFLAGS) -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc \
	  $(GRADCHECK_SRC) $(GRADCHECK_MODELS) $(TEST_UTIL) $(BUILD)/libag-double.a $(CHECK_LIBS) $(LDLIBS) -o $@

TESTS = $(BUILD)/test_ag $(BUILD)/test_gradcheck

# OPENBLAS_NUM_THREADS=1: tests compare numbers, not speed.
# The tests alone need python3 (stdlib only): tests/bad_input.sh edits
# checkpoints with it.
CHECK_PACKAGES = python3
check: deps
	@$(MAKE) --no-print-directory deps DEBIAN_PACKAGES="$(CHECK_PACKAGES)"
	$(MAKE) --no-print-directory $(TESTS) $(AG_LIBS) $(SHARED_LIB) $(RUN_SHARED_LIB) $(PROGRAMS)
	@export OPENBLAS_NUM_THREADS=1; status=0; \
	for t in $(TESTS); do echo "== $$t"; $$t || status=1; done; \
	for t in tests/*.sh; do echo "== $$t"; $$t || status=1; done; exit $$status

check-asan: deps
	$(MAKE) --no-print-directory BUILD=build-asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  build-asan/test_ag build-asan/test_gradcheck
	@export OPENBLAS_NUM_THREADS=1 ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1; status=0; \
	for t in build-asan/test_ag build-asan/test_gradcheck; do echo "== $$t"; $$t || status=1; done; exit $$status

# make check-browser (not part of check): `runs report` of a few short demo
# runs opened from the file system by headless Chromium, installed first
# if missing the way `make docs` installs doxygen; the screenshot goes to
# plots/runs_report.png (the README's) once it passes its checks.
BROWSER_PACKAGES = chromium python3
.PHONY: check-browser
check-browser: deps
	@$(MAKE) --no-print-directory deps DEBIAN_PACKAGES="$(BROWSER_PACKAGES)"
	$(MAKE) --no-print-directory all
	OPENBLAS_NUM_THREADS=1 tests/check_browser.bash

# CK_FORK=no so that valgrind follows the tests themselves.
check-valgrind: deps
	$(MAKE) --no-print-directory $(TESTS)
	@export OPENBLAS_NUM_THREADS=1 CK_FORK=no; status=0; \
	for t in $(TESTS); do echo "== valgrind $$t"; \
	  valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect $$t || status=1; \
	done; exit $$status

# Each demo with quick defaults, then its loss plot.
demo: deps
	$(MAKE) --no-print-directory all
	bin/l1norm
	bin/adding --model irnn --T 150 --steps 30000 --eval-every 500 --test-size 1000 --stop-below 0.01
	test -f data/seq_len_4.csv || bin/digitsum gen-data --len 4 --out data/seq_len_4.csv
	bin/digitsum gen-data --len 4 --only --out data/seq_len_4_only.csv
	bin/digitsum train --model lstm --data data/seq_len_4_only.csv --epochs 20
	@# A smaller char LM than the default (hidden 128), 600 steps of the fortunes, then 400 characters of it.
	bin/charlm train --hidden 128 --embed 32 --steps 600 --eval-every 300
	bin/charlm sample --checkpoint "$$(ls -dt runs/charlm-2* | head -n 1)/model.safetensors" --length 400; echo
	$(MAKE) --no-print-directory plots

# The newest run of each demo, drawn into plots/DEMO.png by the demo's own
# plots/DEMO.gp (which finds params.csv next to metrics.csv), or by
# plots/loss.gp for a demo without one. A chart that cannot be drawn (a run
# with no rows yet) says why in one line and makes the target fail, after
# the others are drawn.
plots:
	@status=0; for demo in $(DEMOS); do \
	  run=$$(ls -dt runs/$$demo-2* 2>/dev/null | head -n 1); \
	  if [ -z "$$run" ]; then echo "plots: no run of $$demo yet (run bin/$$demo)"; continue; fi; \
	  if [ -f plots/$$demo.gp ]; then \
	    gnuplot -e "file='$$run/metrics.csv'" -e "out='plots/$$demo.png'" plots/$$demo.gp; \
	  else \
	    gnuplot -e "files='$$run/metrics.csv'" -e "out='plots/$$demo.png'" -e "heading='$$demo: training loss'" plots/loss.gp; \
	  fi && echo "plots/$$demo.png <- $$run" || status=1; \
	done; exit $$status

# kill -9 at random moments, 500 times, then go on: every run must end byte
# for byte as an uninterrupted one (about 5 minutes; KILLS=N to change).
kill-loop: all
	bench/kill_loop.sh

l1-study: bin/l1norm
	demos/l1norm_study.sh

# How many of seeds 1..100 converge (under a minute); FLAGS='--init torch' for PyTorch's init.
.PHONY: l1-seeds
l1-seeds: bin/l1norm
	demos/l1norm_seeds.sh $(FLAGS)

# The paper's Figure 2 (about an hour on 2 cores): STEPS=N to change the
# budget; RANKS=K [HOSTFILE=H] to spread it over K MPI processes (on
# several machines that share this directory).
adding-sweep: bin/adding bin/runs
	demos/adding_sweep.sh

clean:
	rm -rf build build-asan bin

# Benchmarks: figures are ratios measured side by side in one run.
# bench/mpi.sh: one process with 2 threads against 2 MPI processes with
# one, and the gradient exchange alone (make bench-mpi runs just that).
.PHONY: bench-mpi
bench-mpi: deps $(AG_LIBS) $(BUILD)/libag_mpi.a $(PROGRAMS)
	bench/mpi.sh

# ag against PyTorch, side by side (bench/run.sh; ROUNDS=N to change the
# number of alternating rounds, 5 by default), after the direct-loop
# versus OpenBLAS table that sets ag_gemm's threshold and the recurrent
# product's table (bench/recurrent_gemm.c) that routes it.
bench: deps $(AG_LIBS) $(PROGRAMS)
	@mkdir -p $(BUILD)
	$(CC) $(CPPFLAGS) -O2 -std=c11 bench/matmul.c $(AG_LIBS) $(LDLIBS) -o $(BUILD)/bench_matmul
	OPENBLAS_NUM_THREADS=1 $(BUILD)/bench_matmul
	$(CC) $(CPPFLAGS) -O2 -std=c11 bench/recurrent_gemm.c $(AG_LIBS) $(LDLIBS) -o $(BUILD)/bench_recurrent_gemm
	OPENBLAS_NUM_THREADS=1 $(BUILD)/bench_recurrent_gemm
	$(CC) $(CPPFLAGS) -Imodels $(CFLAGS) bench/l1norm_forward.c models/l1norm.c $(AG_LIBS) $(LDLIBS) \
	  -o $(BUILD)/bench_l1norm_forward
	$(BUILD)/bench_l1norm_forward
	bench/run.sh
	bench/mpi.sh

# make fuzz [FUZZ_SECONDS=N]: libFuzzer with AddressSanitizer and
# UndefinedBehaviorSanitizer on the file loaders, each target
# (fuzz/fuzz_NAME.c) for FUZZ_SECONDS, one after the other, from a copy of
# its seeds (fuzz/corpus/NAME) in build-fuzz/corpus/NAME, which keeps what
# it finds between runs and never dirties the repository; the regression
# inputs (tests/fixtures/fuzz/NAME) are replayed and mutated too. Fails on any
# crash, leak, timeout or sanitizer report; the input is saved in
# build-fuzz/artifacts/NAME/ (replay: build-fuzz/fuzz_NAME FILE; keep it
# in tests/fixtures/fuzz/NAME/ as a regression test). The default gives
# each target over a million executions on the 2-core machine, measured with
# another job on the second core: checkpoint 1.3 million (7,200/s), csv 5.8
# million (32,000/s).
# make fuzz-seeds rewrites fuzz/corpus/ and tests/fixtures/fuzz/ with
# fuzz/make_seeds.c. A new target: NAME in FUZZ_TARGETS, fuzz/fuzz_NAME.c,
# fuzz/corpus/NAME/, and a line $(FUZZ_BUILD)/fuzz_NAME: FILE.c for sources
# beyond the library.
FUZZ_SECONDS ?= 240
FUZZ_TARGETS = checkpoint csv metrics resume
FUZZ_PACKAGES = clang libclang-rt-14-dev
FUZZ_BUILD = build-fuzz
FUZZ_CC = clang
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS = -O1 -g -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wno-unused-parameter $(FUZZ_SAN)
FUZZ_LIB_OBJ = $(LIB_SRC:framework/src/%.c=$(FUZZ_BUILD)/lib/%.o) $(RUN_SRC:framework/src/%.c=$(FUZZ_BUILD)/lib/%.o)
# A 64 MB quarantine (256 by default) still holds far more freed memory than
# one execution allocates, and makes the checkpoint target about 1.5x faster.
FUZZ_ASAN_OPTIONS = detect_leaks=1:quarantine_size_mb=64
FUZZ_BINS = $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

.PHONY: fuzz-build fuzz-seeds
$(FUZZ_BUILD)/lib/%.o: framework/src/%.c $(LIB_HEADERS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h $(FUZZ_LIB_OBJ) $(wildcard models/*.h)
	$(FUZZ_CC) $(CPPFLAGS) -Imodels $(FUZZ_CFLAGS) -fsanitize=fuzzer $(filter %.c,$^) $(FUZZ_LIB_OBJ) $(LDLIBS) -o $@

# Named here, the objects are no intermediate files that make would delete.
$(FUZZ_BINS): $(FUZZ_LIB_OBJ)
$(FUZZ_BUILD)/fuzz_csv: models/digitsum_data.c

fuzz-build: $(FUZZ_BINS)

fuzz:
	@$(MAKE) --no-print-directory deps DEBIAN_PACKAGES="$(DEBIAN_PACKAGES) $(FUZZ_PACKAGES)"
	@$(MAKE) --no-print-directory fuzz-build
	@export OPENBLAS_NUM_THREADS=1 ASAN_OPTIONS=$(FUZZ_ASAN_OPTIONS) UBSAN_OPTIONS=print_stacktrace=1; status=0; summary=""; \
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/artifacts/$$t $(FUZZ_BUILD)/logs; \
	  cp fuzz/corpus/$$t/* $(FUZZ_BUILD)/corpus/$$t/; \
	  echo "== fuzz $$t for $(FUZZ_SECONDS) s (log: $(FUZZ_BUILD)/logs/$$t.log)"; \
	  $(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t/ $(FUZZ_BUILD)/corpus/$$t $$(ls -d tests/fixtures/fuzz/$$t 2>/dev/null) \
	    >$(FUZZ_BUILD)/logs/$$t.log 2>&1; \
	  rc=$$?; if [ $$rc = 0 ]; then grep '^stat::' $(FUZZ_BUILD)/logs/$$t.log; else tail -n 60 $(FUZZ_BUILD)/logs/$$t.log; fi; \
	  execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $(FUZZ_BUILD)/logs/$$t.log); \
	  rate=$$(sed -n 's/^stat::average_exec_per_sec: *//p' $(FUZZ_BUILD)/logs/$$t.log); \
	  if [ $$rc = 0 ]; then result=ok; else result="FAILED (exit $$rc; see $(FUZZ_BUILD)/artifacts/$$t/)"; status=1; fi; \
	  summary="$$summary$$t: $${execs:-?} executions, $${rate:-?}/s: $$result\n"; \
	done; printf "== fuzz summary\n$$summary"; exit $$status

# The seeds and the regression inputs, rewritten by a program that makes
# them with the library itself (ag_params_save, digitsum_write_csv).
fuzz-seeds: $(AG_LIBS)
	@mkdir -p $(BUILD)
	$(CC) $(CPPFLAGS) -Imodels $(CFLAGS) fuzz/make_seeds.c models/digitsum_data.c $(AG_LIBS) $(LDLIBS) \
	  -o $(BUILD)/make_seeds
	$(BUILD)/make_seeds fuzz/corpus tests/fixtures/fuzz
	$(MAKE) --no-print-directory bin/l1norm
	fuzz/make_resume_seeds.sh
