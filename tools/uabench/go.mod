module tally/tools/uabench

go 1.26.8

toolchain go1.27.4

require (
	github.com/hashicorp/golang-lru/v2 v2.0.7
	github.com/medama-io/go-useragent v1.2.4
	github.com/mileusna/useragent v1.3.5
	github.com/ua-parser/uap-go v0.0.0-20260529044130-17c35e68e58c
	github.com/x-way/crawlerdetect v0.2.30
)

require (
	github.com/boyter/go-string v1.0.5 // indirect
	github.com/hashicorp/golang-lru v1.0.2 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
	tally v0.0.0
)

replace tally => ../..
