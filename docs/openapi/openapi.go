// Package openapi embeds the OpenAPI document that `make generate` writes from
// the protos and proto/http_rules.yaml, so the gateway can serve it.
package openapi

import _ "embed"

// Document is the OpenAPI v2 document of the REST/JSON API.
//
//go:embed consulta.swagger.json
var Document []byte
