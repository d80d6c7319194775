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

// mergeOpenAPI adds each part's operations and component schemas to doc. An operation
// or schema defined twice is an error.
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
			have, ok := paths[k].(map[string]any)
			if !ok {
				paths[k] = v
				continue
			}
			ops, _ := v.(map[string]any)
			for method, op := range ops {
				if _, dup := have[method]; dup {
					return nil, fmt.Errorf("OpenAPI part %d: %s %s is already described", i, method, k)
				}
				have[method] = op
			}
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
