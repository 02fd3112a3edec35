package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
)

// Paths of the query API, a subset of Prometheus's HTTP API v1 with the
// same parameters and response format, so that Grafana's Prometheus data
// source and promtool can read the engine's series.
const (
	PathQuery      = "/api/v1/query"
	PathQueryRange = "/api/v1/query_range"
)

// maxRangePoints is the largest number of steps a range query may ask for,
// as Prometheus limits it.
const maxRangePoints = 11000

// RegisterAPI adds the query, label and series endpoints to mux, for GET
// and for POST with a form body.
func (e *Engine) RegisterAPI(mux *http.ServeMux) {
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		mux.HandleFunc(method+" "+PathQuery, e.serveQuery)
		mux.HandleFunc(method+" "+PathQueryRange, e.serveQueryRange)
	}
	e.registerMetadataAPI(mux)
}

// apiResponse is the envelope of every response, as Prometheus writes it.
type apiResponse struct {
	Status    string `json:"status"`
	Data      any    `json:"data,omitempty"`
	ErrorType string `json:"errorType,omitempty"`
	Error     string `json:"error,omitempty"`
}

type queryData struct {
	ResultType string `json:"resultType"`
	Result     any    `json:"result"`
}

// rangeSeries is one series of a range query result.
type rangeSeries struct {
	Metric labels.Labels   `json:"metric"`
	Values []promql.FPoint `json:"values"`
}

func (e *Engine) serveQuery(w http.ResponseWriter, r *http.Request) {
	ts := time.Now()
	if v := r.FormValue("time"); v != "" {
		var err error
		if ts, err = parseTime(v); err != nil {
			e.writeError(w, http.StatusBadRequest, "bad_data", fmt.Errorf("invalid parameter \"time\": %w", err))
			return
		}
	}

	e.serveResult(w, r, func(ctx context.Context) (promql.Query, error) {
		return e.queries.NewInstantQuery(ctx, e.db, nil, r.FormValue("query"), ts)
	})
}

func (e *Engine) serveQueryRange(w http.ResponseWriter, r *http.Request) {
	start, end, step, err := rangeParams(r)
	if err != nil {
		e.writeError(w, http.StatusBadRequest, "bad_data", err)
		return
	}

	// The engine rejects every expression but scalars and instant vectors
	// when it builds a range query, so the value is a matrix.
	e.serveResult(w, r, func(ctx context.Context) (promql.Query, error) {
		return e.queries.NewRangeQuery(ctx, e.db, nil, r.FormValue("query"), start, end, step)
	})
}

// serveResult runs the query that newQuery builds, within the request's
// timeout, and writes its value or its error as Prometheus's API does.
func (e *Engine) serveResult(w http.ResponseWriter, r *http.Request, newQuery func(ctx context.Context) (promql.Query, error)) {
	ctx, cancel, err := queryContext(r)
	if err != nil {
		e.writeError(w, http.StatusBadRequest, "bad_data", err)
		return
	}
	defer cancel()

	value, err := e.run(ctx, func() (promql.Query, error) { return newQuery(ctx) })
	if err != nil {
		e.writeQueryError(w, err)
		return
	}

	var result any = value
	if matrix, ok := value.(promql.Matrix); ok {
		result = rangeResult(matrix)
	}
	e.writeJSON(w, http.StatusOK, apiResponse{Status: "success", Data: queryData{ResultType: string(value.Type()), Result: result}})
}

// rangeResult converts a matrix into the series of the API's response.
func rangeResult(matrix promql.Matrix) []rangeSeries {
	result := make([]rangeSeries, len(matrix))
	for i, series := range matrix {
		result[i] = rangeSeries{Metric: series.Metric, Values: series.Floats}
	}
	return result
}

func rangeParams(r *http.Request) (start, end time.Time, step time.Duration, err error) {
	if start, err = parseTime(r.FormValue("start")); err != nil {
		return start, end, step, fmt.Errorf("invalid parameter \"start\": %w", err)
	}
	if end, err = parseTime(r.FormValue("end")); err != nil {
		return start, end, step, fmt.Errorf("invalid parameter \"end\": %w", err)
	}
	if step, err = parseStep(r.FormValue("step")); err != nil {
		return start, end, step, fmt.Errorf("invalid parameter \"step\": %w", err)
	}

	switch {
	case end.Before(start):
		return start, end, step, errors.New("invalid parameter \"end\": end timestamp must not be before start time")
	case end.Sub(start)/step > maxRangePoints:
		return start, end, step, fmt.Errorf("exceeded maximum resolution of %d points per series; use a larger step", maxRangePoints)
	}
	return start, end, step, nil
}

// parseTime reads a Unix time in seconds, with a fraction, or an RFC 3339
// time, as Prometheus's API accepts them.
func parseTime(s string) (time.Time, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
}

// parseStep reads a step in seconds or as a Prometheus duration.
func parseStep(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > 0 && !math.IsInf(f, 0) {
		return time.Duration(f * float64(time.Second)), nil
	}
	if d, err := model.ParseDuration(s); err == nil && d > 0 {
		return time.Duration(d), nil
	}
	return 0, fmt.Errorf("cannot parse %q to a valid positive duration", s)
}

// queryContext bounds a query by the request and by its optional timeout
// parameter, which must be a positive duration as in Prometheus.
func queryContext(r *http.Request) (context.Context, context.CancelFunc, error) {
	v := r.FormValue("timeout")
	if v == "" {
		ctx, cancel := context.WithCancel(r.Context())
		return ctx, cancel, nil
	}
	d, err := parseStep(v)
	if err != nil {
		return nil, nil, fmt.Errorf("invalid parameter \"timeout\": %w", err)
	}
	ctx, cancel := context.WithTimeout(r.Context(), d)
	return ctx, cancel, nil
}

// statusClientClosedRequest is nginx's non-standard 499, which Prometheus's
// API returns for a query whose request was canceled.
const statusClientClosedRequest = 499

// writeQueryError writes err with the status and errorType of Prometheus's
// API (web/api/v1 of github.com/prometheus/prometheus v0.316.0). A rejected
// query is 400 bad_data and a timed-out one 503 timeout. A canceled request
// is 499 canceled, and any other failure is 422 execution.
func (e *Engine) writeQueryError(w http.ResponseWriter, err error) {
	var invalid *invalidQueryError
	var timeout promql.ErrQueryTimeout
	var canceled promql.ErrQueryCanceled
	// A query can time out while it is built, so the timeout and the
	// cancellation come before the rejection that wraps them.
	switch {
	case errors.As(err, &timeout), errors.Is(err, context.DeadlineExceeded):
		e.writeError(w, http.StatusServiceUnavailable, "timeout", err)
	case errors.As(err, &canceled), errors.Is(err, context.Canceled):
		e.writeError(w, statusClientClosedRequest, "canceled", err)
	case errors.As(err, &invalid):
		e.writeError(w, http.StatusBadRequest, "bad_data", fmt.Errorf("invalid parameter \"query\": %w", invalid.err))
	default:
		e.writeError(w, http.StatusUnprocessableEntity, "execution", err)
	}
}

func (e *Engine) writeError(w http.ResponseWriter, status int, kind string, err error) {
	e.writeJSON(w, status, apiResponse{Status: "error", ErrorType: kind, Error: err.Error()})
}

func (e *Engine) writeJSON(w http.ResponseWriter, status int, body apiResponse) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(body); err != nil {
		e.logger.Warn("failed to write query response", "err", err)
	}
}
