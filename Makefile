# bertc: set-up, build, demo and tests. `make demo` and `make check` work on a fresh Debian 12 as root.
SANITIZE ?= 0
TSAN ?= 0
ifeq ($(SANITIZE),1)
BUILD ?= build-sanitize
CMAKE_FLAGS = -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBERT_SANITIZE=ON
else ifeq ($(TSAN),1)
BUILD ?= build-tsan
CMAKE_FLAGS = -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBERT_TSAN=ON
else
BUILD ?= build
CMAKE_FLAGS = -DCMAKE_BUILD_TYPE=Release
endif
JOBS ?= $(shell nproc)

.PHONY: all build deps test-deps demo check bench fuzz clean

all: build

build:
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

deps:
	@bash scripts/install-deps.sh

test-deps:
	@bash scripts/install-deps.sh --test

# The main job on bundled data: pretraining data from the sample text, then demo_tiny_128 on it,
# with a checkpoint, metrics.jsonl and curves.svg in build/demo/run, then inference with the result,
# SQuAD fine-tuning, a question, and a model repository (build/demo/serve_repo: the shipped
# bert-qa-text config over the fine-tuned model) for `bert serve` and its question-answering page.
demo: deps build
	rm -rf $(BUILD)/demo && mkdir -p $(BUILD)/demo
	./$(BUILD)/bert data create --input-file data/sample_text.txt --output-file $(BUILD)/demo/sample_text.tfrecord \
	  --vocab data/vocab.txt --do-lower-case --duplication-factor 4
	./$(BUILD)/bert pretrain --config demo_tiny_128 --input-files '$(BUILD)/demo/*.tfrecord' \
	  --checkpoint-output-dir $(BUILD)/demo/run
	./$(BUILD)/bert plot $(BUILD)/demo/run/metrics.jsonl -o $(BUILD)/demo/run/curves.svg
	./$(BUILD)/bert infer --model $(BUILD)/demo/run/step_150 --head base \
	  --input data/demo_infer.jsonl --output $(BUILD)/demo/infer_out.jsonl
	./$(BUILD)/bert squad --config demo_tiny_128 --checkpoint-input-dir $(BUILD)/demo/run \
	  --train-file data/squad_sample.json --predict-file data/squad_sample.json --num-epochs 8 \
	  --hidden-dropout-prob 0 --output-dir $(BUILD)/demo/squad --disable-progress-bar
	./$(BUILD)/bert qa --model $(BUILD)/demo/squad/model \
	  --question "Which NFL team represented the AFC at Super Bowl 50?" \
	  --context "Super Bowl 50 was an American football game to determine the champion of the National Football League (NFL) for the 2015 season. The American Football Conference (AFC) champion Denver Broncos defeated the National Football Conference (NFC) champion Carolina Panthers 24-10 to earn their third Super Bowl title."
	rm -rf $(BUILD)/demo/serve_repo && mkdir -p $(BUILD)/demo/serve_repo/bert-qa-text
	cp models/bert-qa-text/config.pbtxt $(BUILD)/demo/serve_repo/bert-qa-text/
	ln -s ../../squad/model $(BUILD)/demo/serve_repo/bert-qa-text/1
	@echo "demo: checkpoint, metrics.jsonl and curves.svg in $(BUILD)/demo/run, inference output in $(BUILD)/demo/infer_out.jsonl,"
	@echo "      fine-tuned SQuAD model, predictions and metrics.json in $(BUILD)/demo/squad"
	@echo "demo: to ask the fine-tuned model questions in your browser: ./$(BUILD)/bert serve --model-repository $(BUILD)/demo/serve_repo  then open http://127.0.0.1:8000/"

# TSAN=1: the tests of the threaded parts (server, batcher, loader, data creation, pretraining's
# loader) under ThreadSanitizer; any report fails the run (docs/reliability.md).
# (train/test_pretrain_kill is left out: it times a checkpoint in seconds, which TSan's slowdown breaks)
TSAN_TESTS ?= serve/|data/|train/test_pretrain_resume|tensor/test_thread_limit
ifeq ($(TSAN),1)
check: test-deps build
	@bash tests/tsan_check.sh $(BUILD) '$(TSAN_TESTS)'
else
check: test-deps build
	@cd $(BUILD) && ctest --output-on-failure -j 2
endif

# Coverage-guided fuzzing of every parser (docs/reliability.md): clang + libFuzzer build in
# build-fuzz, FUZZ_SECONDS of fuzzing per target (FUZZ_TARGETS="torch tfrecord" for a subset).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
fuzz: test-deps
	@bash scripts/fuzz.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

bench: build
	@bash scripts/install-deps.sh --bench
	@cmake --build $(BUILD) -j $(JOBS) --target $(patsubst bench/%.c,bench_%,$(wildcard bench/*.c))

clean:
	rm -rf build build-sanitize build-fuzz build-tsan
