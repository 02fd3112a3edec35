package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/secslo/secslo/slo"
)

// apiTestServer serves the query API of an engine that holds one sample of
// secslo_sli_objects, value 4, at the returned time.
func apiTestServer(t *testing.T) (*httptest.Server, time.Time) {
	t.Helper()
	reg := prometheus.NewRegistry()
	objects := prometheus.NewGauge(prometheus.GaugeOpts{Name: slo.MetricObjects})
	reg.MustRegister(objects)
	objects.Set(4)

	e := openTestEngine(t, t.TempDir(), reg, time.Minute)
	t.Cleanup(func() { e.Stop() })
	at := time.Unix(time.Now().Unix(), 0)
	if _, err := e.ingest(context.Background(), at, nil); err != nil {
		t.Fatalf("ingest: %v", err)
	}

	mux := http.NewServeMux()
	e.RegisterAPI(mux)
	server := httptest.NewServer(mux)
	t.Cleanup(server.Close)
	return server, at
}

func TestQueryAPIAnswersAsPrometheus(t *testing.T) {
	server, at := apiTestServer(t)
	unix := fmt.Sprint(at.Unix())

	tests := []struct {
		name       string
		path       string
		params     url.Values
		wantStatus int
		wantBody   string
	}{
		{"instant query returns a vector", PathQuery, url.Values{"query": {slo.MetricObjects}, "time": {unix}}, 200,
			`"result":[{"metric":{"__name__":"secslo_sli_objects","instance":"test:20027","job":"secslo"},"value":[` + unix + `,"4"]}]`},
		{"instant query takes RFC 3339 times", PathQuery, url.Values{"query": {"1+1"}, "time": {at.UTC().Format(time.RFC3339)}}, 200, `"result":[` + unix + `,"2"]`},
		{"range query returns a matrix", PathQueryRange, url.Values{"query": {slo.MetricObjects}, "start": {unix}, "end": {unix}, "step": {"15s"}}, 200,
			`"values":[[` + unix + `,"4"]]`},
		{"invalid PromQL is a 400", PathQuery, url.Values{"query": {"sum("}}, 400, `"errorType":"bad_data"`},
		{"a missing query is a 400", PathQuery, url.Values{}, 400, `"errorType":"bad_data"`},
		{"a range vector returns a matrix", PathQuery, url.Values{"query": {slo.MetricObjects + "[1m]"}, "time": {unix}}, 200,
			`"resultType":"matrix","result":[{"metric":{"__name__":"secslo_sli_objects","instance":"test:20027","job":"secslo"},"values":[[` + unix + `,"4"]]}]`},
		{"a scalar returns a scalar", PathQuery, url.Values{"query": {"1"}, "time": {unix}}, 200, `"resultType":"scalar","result":[` + unix + `,"1"]`},
		{"a string returns a string", PathQuery, url.Values{"query": {`"a"`}, "time": {unix}}, 200, `"resultType":"string","result":[` + unix + `,"a"]`},
		{"labels lists every label name", PathLabels, url.Values{}, 200, `"data":["__name__","instance","job"]`},
		{"label values list the values of one label", "/api/v1/label/job/values", url.Values{}, 200, `"data":["secslo"]`},
		{"label values outside the range are empty", "/api/v1/label/job/values", url.Values{"start": {"0"}, "end": {"1"}}, 200, `"data":[]`},
		{"series lists the matching label sets", PathSeries, url.Values{"match[]": {slo.MetricObjects, `{job="secslo"}`}}, 200,
			`"data":[{"__name__":"secslo_sli_objects","instance":"test:20027","job":"secslo"}]`},
		{"series without a selector is a 400", PathSeries, url.Values{}, 400, "no match[] parameter"},
		{"an invalid selector is a 400", PathLabels, url.Values{"match[]": {"{"}}, 400, `invalid parameter \"match[]\"`},
		{"a range query of a range vector is a 400", PathQueryRange, url.Values{"query": {slo.MetricObjects + "[1m]"}, "start": {unix}, "end": {unix}, "step": {"15s"}}, 400, `"errorType":"bad_data"`},
		{"invalid time is a 400", PathQuery, url.Values{"query": {"1"}, "time": {"yesterday"}}, 400, `invalid parameter \"time\"`},
		{"end before start is a 400", PathQueryRange, url.Values{"query": {"1"}, "start": {unix}, "end": {"1"}, "step": {"1"}}, 400, "end timestamp must not be before start"},
		{"too many points is a 400", PathQueryRange, url.Values{"query": {"1"}, "start": {"0"}, "end": {unix}, "step": {"1"}}, 400, "maximum resolution"},
		{"invalid timeout is a 400", PathQuery, url.Values{"query": {"1"}, "timeout": {"soon"}}, 400, `invalid parameter \"timeout\"`},
		{"negative timeout is a 400", PathQueryRange, url.Values{"query": {"1"}, "start": {unix}, "end": {unix}, "step": {"1"}, "timeout": {"-1"}}, 400, `invalid parameter \"timeout\"`},
		// A deadline of 1ns has passed before the engine starts the query.
		{"expired timeout is a 503", PathQuery, url.Values{"query": {"1"}, "timeout": {"0.000000001"}}, 503, `"errorType":"timeout"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.PostForm(server.URL+tt.path, tt.params)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body json.RawMessage
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("response is not JSON: %v", err)
			}

			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d; body %s", resp.StatusCode, tt.wantStatus, body)
			}
			if !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("body %s does not contain %s", body, tt.wantBody)
			}
		})
	}
}

func TestQueryAPIAcceptsGet(t *testing.T) {
	server, _ := apiTestServer(t)
	resp, err := http.Get(server.URL + PathQuery + "?query=" + url.QueryEscape("vector(2)"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET status = %d, want 200", resp.StatusCode)
	}
}
