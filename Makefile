# IronLB developer entry points. `make help` lists them.
SHELL := /usr/bin/env bash
include hack/versions.env

GO        ?= go
BIN       := $(CURDIR)/bin
CONTROLLER_GEN := $(BIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
# Packages whose code runs concurrently get the race detector.
RACE_PKGS := ./controllers/... ./speaker/...
# Build tags of the tests that need more than Go. envtest: kube-apiserver and
# etcd (KUBEBUILDER_ASSETS, from hack/envtest.sh). lab: root, network
# namespaces, FRR, the lab cluster. Without them go test builds only the pure
# tests (make unit).
TEST_TAGS ?= envtest,lab

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(CONTROLLER_GEN):
	GOBIN=$(BIN) $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(BIN)/controller-gen $@

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Regenerate deepcopy, CRDs and RBAC (and copy CRDs into the chart)
	$(CONTROLLER_GEN) object paths=./api/...
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=config/crd
	$(CONTROLLER_GEN) rbac:roleName=ironlb-controller paths=./controllers/... output:rbac:artifacts:config=config/rbac/controller
	$(CONTROLLER_GEN) rbac:roleName=ironlb-speaker paths=./speaker/... output:rbac:artifacts:config=config/rbac/speaker
	@if [ -d charts/ironlb/crds ]; then cp config/crd/*.yaml charts/ironlb/crds/; fi

.PHONY: verify-generate
verify-generate: generate ## Fail when generated files are stale
	@git diff --exit-code -- api config charts || { echo "generated files are stale: run 'make generate' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- api config charts)" || { git status --porcelain -- api config charts; echo "untracked generated files: run 'make generate' and commit"; exit 1; }

.PHONY: build
build: ## Build ironlb-controller, ironlb-speaker and kubectl-ironlb into bin/
	$(GO) build -o $(BIN)/ironlb-controller ./cmd/controller
	$(GO) build -o $(BIN)/ironlb-speaker ./cmd/speaker
	$(GO) build -o $(BIN)/kubectl-ironlb ./cmd/kubectl-ironlb

.PHONY: lint
lint: ## gofmt check, go vet (with and without the test tags), and go.mod/go.sum tidy
	@out=$$(gofmt -l $$(git ls-files '*.go')); test -z "$$out" || { echo "gofmt needed:"; echo "$$out"; exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags $(TEST_TAGS) ./...
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod/go.sum are not tidy: run 'go mod tidy' and commit"; exit 1; }

# Fuzz targets make test runs briefly; a failing input lands in
# <pkg>/testdata/fuzz/<target>/ and is replayed by every later go test.
# A count of inputs, not a duration: Go 1.26's fuzzing coordinator can
# report "context deadline exceeded" when a duration ends while a worker is
# busy (go.dev/issue/75804, fixed in Go 1.27), failing a run that found
# nothing. A count has no deadline to race.
FUZZTIME ?= 10000x
FUZZ_TARGETS := \
	./api/iprange:FuzzParse \
	./api/iprange:FuzzRangeString \
	./controllers/ipam:FuzzRequestFor \
	./speaker/layer2:FuzzARPResponder \
	./speaker/layer2:FuzzNDPResponder \
	./speaker/layer2:FuzzAnnouncements \
	./speaker/bfd:FuzzDecode

.PHONY: fuzz
fuzz: ## Run each fuzz target for $(FUZZTIME) inputs (make fuzz FUZZTIME=1m for a longer hunt)
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$fn in $$pkg for $(FUZZTIME)"; \
		$(GO) test -tags $(TEST_TAGS) -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

.PHONY: lab-packages
lab-packages: ## Install the Debian packages the lab uses, when missing (needs root)
	@hack/install-lab-packages.sh

.PHONY: images
images: ## Build OCI image archives into dist/ without a Docker engine (kind load image-archive accepts them)
	$(GO) run ./hack/images --out dist

.PHONY: lab-images
lab-images: ## Build the lab cluster's pause and backend image archives into dist/
	$(GO) run ./hack/images --out dist --components ./test/cluster/images/pause,./test/cluster/images/echo

.PHONY: helm
helm: ## Build (once, cached) helm from the Go module proxy
	@hack/helm.sh >/dev/null

.PHONY: promtool
promtool: ## Build (once, cached) Prometheus's promtool from the Go module proxy (test/chart checks the alerts and the dashboard with it)
	@hack/promtool.sh >/dev/null

.PHONY: envtest
envtest: ## Build (once, cached) kube-apiserver, etcd and kubectl from the Go module proxy
	@hack/envtest.sh >/dev/null

.PHONY: cluster
cluster: envtest ## Build (once, cached) kubelet, kube-proxy, kube-scheduler and kube-controller-manager (after envtest: shares its compile cache)
	@hack/cluster.sh >/dev/null

.PHONY: unit
unit: ## Pure tests only: no root, no envtest binaries (go test ./... without tags)
	$(GO) test -count=1 ./...

.PHONY: test
test: verify-generate lint fuzz lab-packages envtest cluster helm promtool images lab-images ## Every test: unit, envtest integration, chart, (as root) the lab and the lab cluster
	KUBEBUILDER_ASSETS=$$(hack/envtest.sh) $(GO) test -tags $(TEST_TAGS) -race -count=1 $(RACE_PKGS)
	KUBEBUILDER_ASSETS=$$(hack/envtest.sh) IRONLB_CLUSTER_ASSETS=$$(hack/cluster.sh) IRONLB_IMAGES=$(CURDIR)/dist $(GO) test -tags $(TEST_TAGS) -count=1 -timeout 40m $$($(GO) list -tags $(TEST_TAGS) ./... | grep -v -E 'ironlb/ironlb/(controllers|speaker)(/|$$)')

.PHONY: bench
bench: envtest ## Benchmarks that print figures (allocator, end-to-end burst)
	$(GO) test -tags $(TEST_TAGS) -run '^$$' -bench . -benchmem ./controllers/allocator/ ./speaker/announce/ ./speaker/layer2/
	KUBEBUILDER_ASSETS=$$(hack/envtest.sh) $(GO) test -tags $(TEST_TAGS) -run '^$$' -bench . -benchtime 1x -timeout 60m ./test/bench/...

.PHONY: bench-lab
bench-lab: build envtest cluster helm images lab-images ## Lab benchmarks (root, ~40 min): L2 failover, BGP convergence, 5,000 Services; failover and first request on the lab cluster
	KUBEBUILDER_ASSETS=$$(hack/envtest.sh) $(GO) test -tags $(TEST_TAGS) -run '^$$' -bench . -benchtime 1x -timeout 90m ./test/lab/
	KUBEBUILDER_ASSETS=$$(hack/envtest.sh) IRONLB_CLUSTER_ASSETS=$$(hack/cluster.sh) IRONLB_IMAGES=$(CURDIR)/dist $(GO) test -tags $(TEST_TAGS) -run '^$$' -bench . -benchtime 1x -timeout 90m ./test/cluster/

.PHONY: demo
demo: envtest cluster helm images lab-images ## Local demo (root): lab cluster, IronLB installed with Helm; a Service's IP is answered for and serves HTTP from a backend pod
	hack/demo.sh
