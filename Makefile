# make check fails on an unformatted, unvetted or lint-dirty tree.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: check test run build bench
check:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "run gofmt -w"; exit 1; }
	go vet ./...
	go run $(STATICCHECK) ./...
test:
	scripts/test.sh
run:
	scripts/run.sh
build:
	go build -o bin/collector ./cmd/collector
bench:
	go test -run '^$$' -bench . -benchmem ./collector/... ./aggregator/ ./pixel/
