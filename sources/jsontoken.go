package sources

import "encoding/json"

// describeJSONToken names the JSON type of a token for error messages, such
// as "an object" or "a string".
func describeJSONToken(token json.Token) string {
	switch v := token.(type) {
	case json.Delim:
		if v == '{' {
			return "an object"
		}
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	default:
		return "a number"
	}
}
