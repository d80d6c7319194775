package api

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
)

// openAPIDoc is the OpenAPI 3.1 description of every route, served as written.
//
//go:embed openapi.json
var openAPIDoc []byte

func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(s.openAPI)
	return nil
}

// mergeOpenAPI adds each part's paths and component schemas to doc. A path or schema
// defined twice is an error.
func mergeOpenAPI(doc []byte, parts [][]byte) ([]byte, error) {
	var base map[string]any
	if err := json.Unmarshal(doc, &base); err != nil {
		return nil, err
	}
	paths, _ := base["paths"].(map[string]any)
	comps, _ := base["components"].(map[string]any)
	if paths == nil || comps == nil {
		return nil, fmt.Errorf("openapi.json has no paths or components")
	}
	schemas, _ := comps["schemas"].(map[string]any)
	if schemas == nil {
		schemas = map[string]any{}
		comps["schemas"] = schemas
	}
	for i, p := range parts {
		var part struct {
			Paths      map[string]any `json:"paths"`
			Components struct {
				Schemas map[string]any `json:"schemas"`
			} `json:"components"`
		}
		if err := json.Unmarshal(p, &part); err != nil {
			return nil, fmt.Errorf("OpenAPI part %d: %w", i, err)
		}
		for k, v := range part.Paths {
			if _, dup := paths[k]; dup {
				return nil, fmt.Errorf("OpenAPI part %d: path %s is already described", i, k)
			}
			paths[k] = v
		}
		for k, v := range part.Components.Schemas {
			if _, dup := schemas[k]; dup {
				return nil, fmt.Errorf("OpenAPI part %d: schema %s is already described", i, k)
			}
			schemas[k] = v
		}
	}
	return json.MarshalIndent(base, "", "  ")
}
