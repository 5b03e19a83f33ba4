package experiment

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// jsonKind is the JSON type a contract field must have.
type jsonKind int

const (
	kindString jsonKind = iota
	kindNumber
	kindInteger
	kindStat       // {mean, std, per_seed}
	kindStatOrNull // anchor_rougeLsum: null for methods without an anchor model
)

// methodFields are the mandatory fields of a method entry besides per_edge.
var methodFields = []struct {
	name string
	kind jsonKind
}{
	{"edge_rougeLsum", kindStat}, {"anchor_rougeLsum", kindStatOrNull}, {"edge_accuracy", kindStat},
	{"bytes_up_per_edge_round", kindInteger}, {"bytes_down_per_edge_round", kindInteger},
	{"edge_model_params", kindInteger}, {"comm_ratio", kindNumber}, {"wall_seconds", kindNumber},
}

// checkSchema checks presence and JSON types of the mlecs-results/1 fields in a document decoded
// with UseNumber; the format field is checked first so that a foreign file gets that error.
func checkSchema(doc any) error {
	top, ok := doc.(map[string]any)
	if !ok {
		return fmt.Errorf("top level: %s, want an object", jsonTypeName(doc))
	}
	format, err := field(top, "", "format")
	if err != nil {
		return err
	}
	if s, ok := format.(string); !ok || s != Format {
		return fmt.Errorf("format: %v, want %q", format, Format)
	}
	for _, f := range []struct {
		name string
		kind jsonKind
	}{{"dataset", kindString}, {"preset", kindString}, {"rounds", kindInteger}} {
		if err := checkKind(top, "", f.name, f.kind); err != nil {
			return err
		}
	}
	seeds, err := arrayField(top, "", "seeds")
	if err != nil {
		return err
	}
	for i, s := range seeds {
		if n, ok := s.(json.Number); !ok || !isUint(n) {
			return fmt.Errorf("seeds[%d]: %v, want a non-negative integer", i, s)
		}
	}
	mv, err := field(top, "", "methods")
	if err != nil {
		return err
	}
	methods, ok := mv.(map[string]any)
	if !ok {
		return fmt.Errorf("methods: %s, want an object", jsonTypeName(mv))
	}
	names := make([]string, 0, len(methods))
	for name := range methods {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := checkMethodSchema(methods[name], "methods."+name+"."); err != nil {
			return err
		}
	}
	return nil
}

func checkMethodSchema(v any, prefix string) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: %s, want an object", prefix[:len(prefix)-1], jsonTypeName(v))
	}
	for _, f := range methodFields {
		if err := checkKind(m, prefix, f.name, f.kind); err != nil {
			return err
		}
	}
	edges, err := arrayField(m, prefix, "per_edge")
	if err != nil {
		return err
	}
	for i, ev := range edges {
		p := fmt.Sprintf("%sper_edge[%d].", prefix, i)
		e, ok := ev.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: %s, want an object", p[:len(p)-1], jsonTypeName(ev))
		}
		for _, f := range []struct {
			name string
			kind jsonKind
		}{{"node", kindString}, {"rougeLsum", kindNumber}, {"accuracy", kindNumber}} {
			if err := checkKind(e, p, f.name, f.kind); err != nil {
				return err
			}
		}
		mods, err := arrayField(e, p, "modalities")
		if err != nil {
			return err
		}
		for j, mod := range mods {
			if _, ok := mod.(string); !ok {
				return fmt.Errorf("%smodalities[%d]: %s, want a string", p, j, jsonTypeName(mod))
			}
		}
	}
	return nil
}

func field(obj map[string]any, prefix, name string) (any, error) {
	v, ok := obj[name]
	if !ok {
		return nil, fmt.Errorf("%s%s: missing", prefix, name)
	}
	return v, nil
}

func arrayField(obj map[string]any, prefix, name string) ([]any, error) {
	v, err := field(obj, prefix, name)
	if err != nil {
		return nil, err
	}
	a, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s%s: %s, want an array", prefix, name, jsonTypeName(v))
	}
	return a, nil
}

func checkKind(obj map[string]any, prefix, name string, kind jsonKind) error {
	v, err := field(obj, prefix, name)
	if err != nil {
		return err
	}
	path := prefix + name
	switch kind {
	case kindString:
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s: %s, want a string", path, jsonTypeName(v))
		}
	case kindNumber:
		if _, ok := v.(json.Number); !ok {
			return fmt.Errorf("%s: %s, want a number", path, jsonTypeName(v))
		}
	case kindInteger:
		n, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("%s: %s, want an integer", path, jsonTypeName(v))
		}
		if _, err := strconv.ParseInt(n.String(), 10, 64); err != nil {
			return fmt.Errorf("%s: %s, want an integer", path, n)
		}
	case kindStat, kindStatOrNull:
		if v == nil && kind == kindStatOrNull {
			return nil
		}
		st, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: %s, want an object {mean, std, per_seed}", path, jsonTypeName(v))
		}
		for _, f := range []string{"mean", "std"} {
			if err := checkKind(st, path+".", f, kindNumber); err != nil {
				return err
			}
		}
		per, err := arrayField(st, path+".", "per_seed")
		if err != nil {
			return err
		}
		for i, x := range per {
			if _, ok := x.(json.Number); !ok {
				return fmt.Errorf("%s.per_seed[%d]: %s, want a number", path, i, jsonTypeName(x))
			}
		}
	}
	return nil
}

func isUint(n json.Number) bool {
	_, err := strconv.ParseUint(n.String(), 10, 64)
	return err == nil
}

func jsonTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
