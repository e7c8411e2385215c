package grpcserver

import (
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// maxNULViolations bounds how many fields one answer names: a request with
// thousands of bad strings gets a short error, not a long one.
const maxNULViolations = 10

// nulViolations returns the string fields of m, at any depth (nested
// messages, lists, map keys and values), that contain U+0000, with their
// paths as protovalidate writes them ("answers[0].text",
// `labels["en"]`). Postgres refuses NUL in text and jsonb, so such a request
// would otherwise fail deep in a handler as an internal error; bytes fields
// (document contents) may hold any byte and are not checked.
func nulViolations(m protoreflect.Message) []FieldViolation {
	var out []FieldViolation
	walkNUL(m, "", &out)
	return out
}

const nulDescription = "contains a NUL character"

func walkNUL(m protoreflect.Message, prefix string, out *[]FieldViolation) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		path := prefix + string(fd.Name())
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len() && len(*out) < maxNULViolations; i++ {
				checkValue(fd, l.Get(i), path+"["+strconv.Itoa(i)+"]", out)
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				key := k.String()
				if strings.IndexByte(key, 0) >= 0 {
					*out = append(*out, FieldViolation{Field: path, Description: "a key " + nulDescription})
					return len(*out) < maxNULViolations
				}
				checkValue(fd.MapValue(), mv, path+"["+quoteKey(fd.MapKey(), key)+"]", out)
				return len(*out) < maxNULViolations
			})
		default:
			checkValue(fd, v, path, out)
		}
		return len(*out) < maxNULViolations
	})
}

// checkValue checks one value of field fd: a string, or a message to walk.
func checkValue(fd protoreflect.FieldDescriptor, v protoreflect.Value, path string, out *[]FieldViolation) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		if strings.IndexByte(v.String(), 0) >= 0 {
			*out = append(*out, FieldViolation{Field: path, Description: nulDescription})
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		walkNUL(v.Message(), path+".", out)
	}
}

// quoteKey writes a map key as protovalidate does: strings quoted, other
// kinds as they are.
func quoteKey(fd protoreflect.FieldDescriptor, key string) string {
	if fd.Kind() == protoreflect.StringKind {
		return strconv.Quote(key)
	}
	return key
}
