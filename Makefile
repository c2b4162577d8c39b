# zimt - Z-Image-Turbo inference engine and terminal workbench.
#
#   make                 libzimt + zimt (CUDA backend when nvcc is found)
#   make CUDA=0          without CUDA (CUDNN=0: CUDA without cuDNN)
#   make SANITIZE=address|undefined|thread
#   make test            CPU tests (no GPU), ends with "N passed, M failed"
#   make test-sixel      the sixel image in xterm under Xvfb (xterm xvfb imagemagick xdotool)
#   make test-cuda       GPU tests
#   make fuzz            libFuzzer targets (clang) in build-fuzz/, see tests/fuzz/run.sh
#   make install PREFIX=/usr/local
#   make clean

PREFIX     ?= /usr/local
CC         ?= cc
NVCC       ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
CUDA_ARCH  ?= sm_90
PKG_CONFIG ?= pkg-config
ifeq ($(NVCC),)
CUDA       ?= 0
else
CUDA       ?= 1
endif

PKGS := libcjson libutf8proc libpcre2-8 libpng libsixel ncursesw
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS))

WARN    := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 $(WARN) -D_DEFAULT_SOURCE -D_FILE_OFFSET_BITS=64 -pthread -Icore -Ikernels $(PKG_CFLAGS)
LDLIBS  := $(PKG_LIBS) -lm -pthread
LDFLAGS ?=

ifneq ($(SANITIZE),)
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SANITIZE)
endif

B := build
ifeq ($(CUDA),1)
CUDA_HOME  ?= $(patsubst %/bin/nvcc,%,$(NVCC))
CFLAGS     += -DZT_HAVE_CUDA -isystem $(CUDA_HOME)/include
NVCCFLAGS  ?= -O3 -arch=$(CUDA_ARCH) -std=c++17 -Xcompiler -Wall,-Wextra,-Werror -Ikernels -Icore
LDLIBS     += -L$(CUDA_HOME)/lib64 -lcudart -lcublasLt -lcublas -lstdc++
KERNEL_OBJ := $(patsubst kernels/%.cu,$(B)/kernels/%.o,$(wildcard kernels/*.cu))
# cuDNN (optional): its fused attention for the DiT and its convolutions for
# the VAE decoder when the header and the library are found (core/cuda_dnn.h);
# CUDNN=0 builds without it.
CUDNN      ?= $(shell printf '\043include <cudnn.h>\nint main(void){return cudnnGetVersion() == 0;}\n' | \
                $(CC) -x c - -o /dev/null -isystem $(CUDA_HOME)/include -L$(CUDA_HOME)/lib64 -lcudnn \
                >/dev/null 2>&1 && echo 1 || echo 0)
ifeq ($(CUDNN),1)
CFLAGS     += -DZT_HAVE_CUDNN
LDLIBS     += -lcudnn
endif
endif

CORE_OBJ := $(patsubst core/%.c,$(B)/core/%.o,$(wildcard core/*.c))
TUI_OBJ  := $(patsubst tui/%.c,$(B)/tui/%.o,$(wildcard tui/*.c))
TESTS    := $(patsubst tests/%.c,$(B)/tests/%,$(wildcard tests/test_*.c))
CUDA_TESTS := $(patsubst tests/%.c,$(B)/tests/%,$(wildcard tests/cuda_*.c))
LIB      := $(B)/libzimt.a

# Every build remembers its flags; a change of flags rebuilds everything.
FLAGS_STAMP := $(B)/.flags-$(shell echo '$(CC) $(CFLAGS) $(CUDA) $(SANITIZE) $(NVCCFLAGS)' | cksum | cut -d' ' -f1)

all: zimt

$(FLAGS_STAMP):
	@mkdir -p $(B)
	@rm -f $(B)/.flags-*
	@touch $@

$(B)/core/%.o: core/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(B)/tui/%.o: tui/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itui -MMD -MP -c $< -o $@

$(B)/kernels/%.o: kernels/%.cu $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(CORE_OBJ) $(KERNEL_OBJ)
	@rm -f $@
	ar rcs $@ $^

zimt: $(TUI_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(TUI_OBJ) $(LIB) $(LDLIBS)

# Workbench unit tests link the pure tui/ui_* objects (not the main loop).
UI_TEST_OBJ := $(patsubst %,$(B)/tui/ui_%.o,editor text theme settings preview term)
$(B)/tests/test_ui_%: tests/test_ui_%.c $(UI_TEST_OBJ) $(LIB) tests/harness.h $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -Itui -MMD -MP $(LDFLAGS) -o $@ $< $(UI_TEST_OBJ) $(LIB) $(LDLIBS)

# The fuzz replay also drives the settings and history parsers.
$(B)/tests/test_fuzz_replay: tests/test_fuzz_replay.c $(B)/tui/ui_settings.o $(LIB) tests/harness.h $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -Itui -MMD -MP $(LDFLAGS) -o $@ $< $(B)/tui/ui_settings.o $(LIB) $(LDLIBS)

# test_noalloc counts the calls the library makes to these (ld's --wrap).
NOALLOC_WRAP := malloc calloc realloc aligned_alloc posix_memalign strdup fopen64 pthread_create
$(B)/tests/test_noalloc: private LDFLAGS += $(foreach f,$(NOALLOC_WRAP),-Wl,--wrap=$(f))
# test_oom fails these one call at a time.
OOM_WRAP := malloc calloc realloc strdup
$(B)/tests/test_oom: private LDFLAGS += $(foreach f,$(OOM_WRAP),-Wl,--wrap=$(f))
# (and sweeps the history save too)
$(B)/tests/test_oom: tests/test_oom.c $(B)/tui/ui_settings.o $(LIB) tests/harness.h $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -Itui -MMD -MP $(LDFLAGS) -o $@ $< $(B)/tui/ui_settings.o $(LIB) $(LDLIBS)

$(B)/tests/%: tests/%.c $(LIB) tests/harness.h $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -MMD -MP $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

test: zimt $(TESTS)
	@bash tests/run.sh $(TESTS)

test-sixel: zimt
	@bash tests/sixel_check.sh

test-cuda: zimt $(CUDA_TESTS) $(B)/tests/test_noalloc
	@ZT_NO_CLI=1 bash tests/run.sh $(CUDA_TESTS) $(B)/tests/test_noalloc

# Fuzz targets: core built again with clang, libFuzzer and ASan+UBSan, in
# its own directory so the normal build is untouched.
FUZZ_CC     ?= clang
FUZZ_B      := build-fuzz
FUZZ_CFLAGS := -g -O1 -std=c11 $(WARN) -D_DEFAULT_SOURCE -D_FILE_OFFSET_BITS=64 -pthread \
               -Icore -Ikernels -Itui -Itests/fuzz $(PKG_CFLAGS) \
               -fsanitize=address,undefined -fno-sanitize-recover=undefined \
               -fno-omit-frame-pointer
FUZZ_CORE   := $(patsubst core/%.c,$(FUZZ_B)/core/%.o,$(wildcard core/*.c)) $(FUZZ_B)/tui/ui_settings.o
FUZZ_BINS   := $(patsubst tests/fuzz/%.c,$(FUZZ_B)/%,$(wildcard tests/fuzz/fuzz_*.c))

$(FUZZ_B)/core/%.o: core/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_B)/tui/%.o: tui/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_B)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_CORE)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_CORE) $(PKG_LIBS) -lm -pthread

fuzz: $(FUZZ_BINS)

install: zimt
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/zimt/themes
	install -m 755 zimt $(DESTDIR)$(PREFIX)/bin/zimt
	install -m 644 man/zimt.1 $(DESTDIR)$(PREFIX)/share/man/man1/zimt.1
	install -m 644 themes/*.json $(DESTDIR)$(PREFIX)/share/zimt/themes/
	cd tests/data && find tiny-zimage -type d -exec install -d $(DESTDIR)$(PREFIX)/share/zimt/{} \;
	cd tests/data && find tiny-zimage -type f -exec install -m 644 {} $(DESTDIR)$(PREFIX)/share/zimt/{} \;

clean:
	rm -rf $(B) $(FUZZ_B) zimt

.PHONY: all test test-sixel test-cuda fuzz install clean


-include $(wildcard $(B)/*/*.d) $(wildcard $(FUZZ_B)/*/*.d)
