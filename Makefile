# axon: `make` builds libaxon + the axon CLI, `make check` runs every test,
# `make check SAN=1` runs them under AddressSanitizer + UndefinedBehaviorSanitizer,
# `make demo` runs the main job on the bundled sample. Dependencies: scripts/deps.sh.
#
# Knobs: CC=clang, BUILD=dir (default build/, build-san/ with SAN=1), WERROR=1.

CC ?= cc
SAN ?= 0
PYTHON ?= /usr/bin/python3

ifeq ($(SAN),1)
BUILD ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT := -O1 -g
else
BUILD ?= build
SANFLAGS :=
OPT := -O2 -g
endif

PKGS := jansson libzstd blosc libdeflate libtiff-4 libpng zlib hdf5
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Wshadow -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN += -Werror
endif
CFLAGS_ALL := -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -fPIC -fvisibility=hidden -pthread \
              -Iinclude -Isrc $(PKG_CFLAGS) $(SANFLAGS) $(CFLAGS)
LDLIBS_ALL := $(PKG_LIBS) -lm -pthread $(SANFLAGS) $(LDFLAGS)
# the CLI alone links the HTTP server library (axon serve); libaxon does not
TOOL_CFLAGS := $(shell pkg-config --cflags libmicrohttpd 2>/dev/null)
TOOL_LIBS := $(shell pkg-config --libs libmicrohttpd 2>/dev/null)

# the CNN's elementwise loops (activations, pooling, losses) must be vectorised: gcc -O2
# only vectorises loops that need no scalar epilogue, which left ReLU at 10% of a step
VEC_FLAGS := -ftree-vectorize
# the simulator's neuron updates: vectorised, which needs the compiler to know that a
# select between two computed floats cannot trap
SNN_FLAGS := -ftree-vectorize -fno-trapping-math

ARCH := $(shell uname -m)
ifeq ($(ARCH),x86_64)
CFLAGS_ALL += -DAX_HAVE_AVX2
AVX2_FLAGS := -mavx2 -mfma
endif

LIB_SRC := $(sort $(wildcard src/*/*.c))
ifneq ($(ARCH),x86_64)
LIB_SRC := $(filter-out %_avx2.c,$(LIB_SRC))
endif
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC := $(sort $(wildcard tools/*.c))
TOOL_OBJ := $(TOOL_SRC:%.c=$(BUILD)/%.o)
DEPS := $(LIB_OBJ:.o=.d) $(TOOL_OBJ:.o=.d) $(TEST_BIN:=.d)

.PHONY: all deps web check check-unit check-cli check-interop demo bench clean
all: $(BUILD)/axon $(BUILD)/libaxon.a $(BUILD)/libaxon.so $(TEST_BIN)

deps:
	@bash scripts/deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(if $(findstring _avx2,$<),$(AVX2_FLAGS)) $(if $(findstring src/nn/,$<),$(VEC_FLAGS)) $(if $(findstring src/snn/,$<),$(SNN_FLAGS)) $(if $(findstring tools/,$<),$(TOOL_CFLAGS)) -MMD -MP -c $< -o $@

$(BUILD)/libaxon.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libaxon.so: $(LIB_OBJ)
	$(CC) -shared -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/axon: $(TOOL_OBJ) $(BUILD)/libaxon.a
	$(CC) -o $@ $^ $(LDLIBS_ALL) $(TOOL_LIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/test.h $(BUILD)/libaxon.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit -MMD -MP -o $@ $< $(BUILD)/libaxon.a $(LDLIBS_ALL)

# the tests: C unit tests, CLI and bad-input corpus, then interoperability with
# python3-zarr / h5py / tifffile (Debian packages)
check: deps all web
	@BUILD=$(BUILD) SAN=$(SAN) PYTHON=$(PYTHON) bash tests/run.sh

# the Neuroglancer viewer that `axon serve` serves (npm, only when missing): $(BUILD)/web/
web: deps
	@BUILD=$(BUILD) bash scripts/neuroglancer.sh

demo: deps $(BUILD)/axon web
	@BUILD=$(BUILD) bash scripts/demo.sh

# every benchmark, each side by side with its Python peer (BENCH=name runs one)
BENCH ?= $(notdir $(patsubst %/run.sh,%,$(wildcard bench/*/run.sh)))
bench: deps $(BUILD)/axon
	@for b in $(BENCH); do echo "== bench/$$b"; BUILD=$(BUILD) PYTHON=$(PYTHON) bash bench/$$b/run.sh || exit 1; done

clean:
	rm -rf build build-san build-*

-include $(DEPS)
