package gateway

import _ "embed" // OpenAPI

// OpenAPI is the gateway's operator routes as an OpenAPI fragment
// ({"paths":…,"components":{"schemas":…}}), merged by internal/api into
// /api/v1/openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte
