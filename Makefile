# The two set-up commands of the README:
#   make demo   install everything, then encrypt/list/decrypt a sample tree on a local crypt remote
#   make test   install everything, then run the whole test suite (what .ci/run runs)
# TEST_FLAGS=--allow-skip lets tests whose required tool is missing skip instead of failing.
TEST_FLAGS ?=

.PHONY: demo test build setup unit integration sanitize bench clean

setup:
	bash scripts/setup.sh

build:
	node scripts/build.mjs

demo: setup
	bash scripts/demo.sh

test: setup
	node scripts/run-tests.mjs all $(TEST_FLAGS)

unit: setup
	node scripts/run-tests.mjs unit $(TEST_FLAGS)

integration: setup
	node scripts/run-tests.mjs integration $(TEST_FLAGS)

# The FUSE addon built with ASan + UBSan under a mount workload (part of `make test` too).
sanitize: setup
	node scripts/run-tests.mjs integration --filter mount-sanitized $(TEST_FLAGS)

bench: setup
	bash bench/copy-bench.sh

clean:
	rm -rf dist .tmp .demo
