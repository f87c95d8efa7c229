# bertc: set-up, build, demo and tests. `make demo` and `make check` work on a fresh Debian 12 as root.
SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILD ?= build-sanitize
CMAKE_FLAGS = -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBERT_SANITIZE=ON
else
BUILD ?= build
CMAKE_FLAGS = -DCMAKE_BUILD_TYPE=Release
endif
JOBS ?= $(shell nproc)

.PHONY: all build deps test-deps demo check bench clean

all: build

build:
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

deps:
	@bash scripts/install-deps.sh

test-deps:
	@bash scripts/install-deps.sh --test

# Until `bert pretrain` lands, the demo runs inference with the bundled tiny NER model.
demo: deps build
	./$(BUILD)/bert infer --model tests/data/camphr_ner_bert --head token-classification \
	  --input data/demo_infer.jsonl --output $(BUILD)/demo_infer_out.jsonl
	@echo "demo: wrote $(BUILD)/demo_infer_out.jsonl"

check: test-deps build
	@cd $(BUILD) && ctest --output-on-failure -j 2

bench: build
	@bash scripts/install-deps.sh --bench
	@cmake --build $(BUILD) -j $(JOBS) --target $(patsubst bench/%.c,bench_%,$(wildcard bench/*.c))

clean:
	rm -rf build build-sanitize
