package engine

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/secslo/secslo/slo"
)

// Paths of the metadata endpoints that Grafana's Prometheus data source
// calls for dashboard variables and query completion.
const (
	PathLabels      = "/api/v1/labels"
	PathLabelValues = "/api/v1/label/{name}/values"
	PathSeries      = "/api/v1/series"
)

// registerMetadataAPI adds the label and series endpoints to mux.
func (e *Engine) registerMetadataAPI(mux *http.ServeMux) {
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		mux.HandleFunc(method+" "+PathLabels, e.serveLabels)
		mux.HandleFunc(method+" "+PathLabelValues, e.serveLabelValues)
		mux.HandleFunc(method+" "+PathSeries, e.serveSeries)
	}
}

// metadataRequest holds the parameters that the three endpoints share. The
// time range defaults to all stored samples, and the results of the
// match[] selectors are joined.
type metadataRequest struct {
	start, end time.Time
	matchers   [][]*labels.Matcher
}

func parseMetadataRequest(r *http.Request) (metadataRequest, error) {
	req := metadataRequest{start: time.UnixMilli(math.MinInt64 / 2), end: time.UnixMilli(math.MaxInt64 / 2)}
	if err := r.ParseForm(); err != nil {
		return req, fmt.Errorf("invalid form: %w", err)
	}

	var err error
	if v := r.Form.Get("start"); v != "" {
		if req.start, err = parseTime(v); err != nil {
			return req, fmt.Errorf("invalid parameter \"start\": %w", err)
		}
	}
	if v := r.Form.Get("end"); v != "" {
		if req.end, err = parseTime(v); err != nil {
			return req, fmt.Errorf("invalid parameter \"end\": %w", err)
		}
	}
	for _, selector := range r.Form["match[]"] {
		matchers, err := slo.PromQL.ParseMetricSelector(selector)
		if err != nil {
			return req, fmt.Errorf("invalid parameter \"match[]\": %w", err)
		}
		req.matchers = append(req.matchers, matchers)
	}
	return req, nil
}

// each calls fn with a querier over the request's range and every
// selector of the request, or once with no matchers when it has none.
func (e *Engine) each(ctx context.Context, req metadataRequest, fn func(storage.Querier, []*labels.Matcher) error) error {
	q, err := e.db.Querier(req.start.UnixMilli(), req.end.UnixMilli())
	if err != nil {
		return err
	}
	defer q.Close()

	if len(req.matchers) == 0 {
		return fn(q, nil)
	}
	for _, matchers := range req.matchers {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(q, matchers); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) serveLabels(w http.ResponseWriter, r *http.Request) {
	e.serveNames(w, r, func(q storage.Querier, matchers []*labels.Matcher) ([]string, error) {
		names, _, err := q.LabelNames(r.Context(), nil, matchers...)
		return names, err
	})
}

func (e *Engine) serveLabelValues(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	e.serveNames(w, r, func(q storage.Querier, matchers []*labels.Matcher) ([]string, error) {
		values, _, err := q.LabelValues(r.Context(), name, nil, matchers...)
		return values, err
	})
}

// serveNames writes the sorted union of the strings that list returns
// for each selector of the request.
func (e *Engine) serveNames(w http.ResponseWriter, r *http.Request, list func(storage.Querier, []*labels.Matcher) ([]string, error)) {
	req, err := parseMetadataRequest(r)
	if err != nil {
		e.writeError(w, http.StatusBadRequest, "bad_data", err)
		return
	}

	all := []string{}
	err = e.each(r.Context(), req, func(q storage.Querier, matchers []*labels.Matcher) error {
		names, err := list(q, matchers)
		all = append(all, names...)
		return err
	})
	if err != nil {
		e.writeError(w, http.StatusUnprocessableEntity, "execution", err)
		return
	}
	slices.Sort(all)
	e.writeJSON(w, http.StatusOK, apiResponse{Status: "success", Data: slices.Compact(all)})
}

// serveSeries writes the label sets of the series that match any
// selector; like Prometheus, it requires at least one.
func (e *Engine) serveSeries(w http.ResponseWriter, r *http.Request) {
	req, err := parseMetadataRequest(r)
	if err == nil && len(req.matchers) == 0 {
		err = fmt.Errorf("no match[] parameter provided; give a series selector such as match[]=%s", slo.RecordBudgetRemaining)
	}
	if err != nil {
		e.writeError(w, http.StatusBadRequest, "bad_data", err)
		return
	}

	seen := map[uint64]bool{}
	result := []labels.Labels{}
	err = e.each(r.Context(), req, func(q storage.Querier, matchers []*labels.Matcher) error {
		hints := &storage.SelectHints{Start: req.start.UnixMilli(), End: req.end.UnixMilli(), Func: "series"}
		set := q.Select(r.Context(), false, hints, matchers...)
		for set.Next() {
			ls := set.At().Labels()
			if !seen[ls.Hash()] {
				seen[ls.Hash()] = true
				result = append(result, ls)
			}
		}
		return set.Err()
	})
	if err != nil {
		e.writeError(w, http.StatusUnprocessableEntity, "execution", err)
		return
	}
	slices.SortFunc(result, labels.Compare)
	e.writeJSON(w, http.StatusOK, apiResponse{Status: "success", Data: result})
}
