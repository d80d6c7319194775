package requestlog

// None is the filter value that asks for requests without a value of a dimension: no
// key, no member or no project (?member=- on the Requests page and in the API). A key,
// member or project literally named "-" cannot be asked for apart from it.
const None = "-"

// FilterValues returns the filter of one dimension given as v: nil (any value) when v is
// empty, the empty value (none) when v is None, else v alone.
func FilterValues(v string) []string {
	switch v {
	case "":
		return nil
	case None:
		return []string{""}
	}
	return []string{v}
}
