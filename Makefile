# Versions of the code generators. .ci/run installs exactly these.
BUF_VERSION            := v1.75.0
PROTOC_GEN_GO_VERSION  := v1.36.12
PROTOC_GEN_GRPC_VERSION := v1.6.2
GRPC_GATEWAY_VERSION   := v2.33.0
PROTOVALIDATE_VERSION  := v1.2.2

GOBIN ?= $(shell go env GOPATH)/bin
export PATH := $(GOBIN):$(PATH)

.PHONY: all build test test-short generate protodeps lint tools check-generated dev fmt bench-export fuzz fuzz-smoke breaking

all: build

build:
	go build -o bin/consulta ./cmd/consulta

## test: the full test suite (real Postgres, Redis and NATS; see README).
test:
	go test -race -count=1 ./...

## fuzz-smoke: every fuzz target for a short, bounded run (CI).
FUZZTIME ?= 10s
fuzz-smoke:
	go test -run '^$$' -fuzz '^FuzzSniff$$' -fuzztime $(FUZZTIME) ./pkg/doctype/
	go test -run '^$$' -fuzz '^FuzzCheck$$' -fuzztime $(FUZZTIME) ./services/submission/internal/domain/

## fuzz: the same targets for longer (FUZZTIME=10m make fuzz).
fuzz:
	$(MAKE) fuzz-smoke FUZZTIME=$(or $(FUZZLONG),5m)

## bench-export: the open-data export of 1,000,000 submissions as CSV and NDJSON,
## with the Go heap's peak (CONSULTA_BENCH_ROWS=N for another size).
bench-export:
	go test -run '^$$' -bench OpenDataExport -benchtime 1x -timeout 60m -v ./services/submission/internal/app/

## tools: install buf and the protoc plugins at pinned versions.
tools:
	@command -v buf >/dev/null 2>&1 && buf --version | grep -qx "$(BUF_VERSION:v%=%)" || go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
	go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GRPC_VERSION)
	go install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@$(GRPC_GATEWAY_VERSION)
	go install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2@$(GRPC_GATEWAY_VERSION)

## protodeps: copy third-party .proto files from the Go module cache into .protodeps/.
protodeps:
	@dir=$$(go mod download -json github.com/bufbuild/protovalidate@$(PROTOVALIDATE_VERSION) | sed -n 's/.*"Dir": "\(.*\)",/\1/p'); \
	test -n "$$dir" || { echo "could not download github.com/bufbuild/protovalidate@$(PROTOVALIDATE_VERSION)"; exit 1; }; \
	mkdir -p .protodeps/buf/validate && install -m 0644 $$dir/proto/protovalidate/buf/validate/validate.proto .protodeps/buf/validate/validate.proto

## generate: regenerate pkg/gen and docs/openapi from proto/.
generate: protodeps
	buf format -w
	rm -rf pkg/gen docs/openapi/*.json
	buf generate

lint: protodeps
	buf lint
	@out=$$(gofmt -l $$(git ls-files '*.go')); test -z "$$out" || { echo "gofmt would change:"; echo "$$out"; exit 1; }
	go vet ./...

## check-generated: fail when `make generate` would change committed files.
check-generated: generate
	@git diff --exit-code -- pkg/gen docs/openapi proto || { echo "generated code is stale: run make generate and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- pkg/gen docs/openapi)" || { git status --porcelain -- pkg/gen docs/openapi; echo "generated code is stale: run make generate and commit"; exit 1; }

## breaking: compare the API with the main branch. The main tree is exported
## to a temporary directory and given the same .protodeps, because those are
## not committed and buf cannot fetch them.
BREAKING_AGAINST ?= main
breaking: protodeps
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	git archive $(BREAKING_AGAINST) | tar -x -C "$$tmp" && \
	if [ ! -f "$$tmp/buf.yaml" ]; then echo "$(BREAKING_AGAINST) has no buf.yaml: nothing to compare"; exit 0; fi && \
	cp -r .protodeps "$$tmp/" && \
	(cd "$$tmp" && buf build proto -o against.binpb) && \
	buf breaking proto --against "$$tmp/against.binpb"

dev:
	go run ./cmd/consulta dev
