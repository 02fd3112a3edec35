package status

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
)

func TestResponseHeaders(t *testing.T) {
	f := newFixture(t)

	cases := []struct {
		name, path string
		wantCode   int
		wantHTML   bool
	}{
		{"overview", "/", http.StatusOK, true},
		{"detail view", DetailPath("security-posture", "privilege-drift"), http.StatusOK, true},
		{"detail view of an unknown objective", DetailPath("security-posture", "no-such-slo"), http.StatusNotFound, true},
		{"JSON list", PathSLOs, http.StatusOK, false},
		{"JSON of one objective", apiPath("security-posture", "privilege-drift"), http.StatusOK, false},
		{"JSON of an unknown objective", apiPath("security-posture", "no-such-slo"), http.StatusNotFound, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, f.mux, tc.path)
			if resp.StatusCode != tc.wantCode {
				t.Fatalf("GET %s returned %d, want %d", tc.path, resp.StatusCode, tc.wantCode)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
			if !tc.wantHTML {
				return
			}

			csp := resp.Header.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe") || strings.Contains(csp, "script-src") {
				t.Errorf("Content-Security-Policy %q allows more than the page's stylesheet", csp)
			}

			// The browser hashes the text of the style element as served.
			styles := findAll(parseHTML(t, body), byTag("style"))
			if len(styles) != 1 || styles[0].FirstChild == nil {
				t.Fatalf("page has %d style elements, want 1 with the stylesheet", len(styles))
			}
			sum := sha256.Sum256([]byte(styles[0].FirstChild.Data))
			if want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, want) {
				t.Errorf("Content-Security-Policy %q lacks the hash of the served stylesheet: %s", csp, want)
			}
		})
	}
}
