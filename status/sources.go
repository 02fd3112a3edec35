package status

import (
	"slices"
	"sync"

	"github.com/secslo/secslo/slo"
	"github.com/secslo/secslo/sources"
)

// sourceIndex maps a built-in SLI id to the sources whose latest good
// result carries it, in the State's order (by name).
//
// NOTE: a source without a successful refresh has no result, so no SLI
// lists it until its first good refresh. The page's sources section lists
// it regardless.
type sourceIndex map[string][]*sources.SourceStatus

// feeding returns the sources that feed the SLI of s. Custom SLIs read
// metrics outside secslo, so they have none.
func (idx sourceIndex) feeding(s *slo.SLO) []*sources.SourceStatus {
	if s.SLI.Builtin == "" {
		return nil
	}
	return idx[s.SLI.Builtin]
}

func newSourceIndex(state *sources.State) sourceIndex {
	idx := sourceIndex{}
	for _, st := range state.Sources {
		for _, sli := range resultSLIs(st.Result) {
			idx[sli] = append(idx[sli], st)
		}
	}
	return idx
}

// resultSLIs returns the SLI ids that a result carries in its snapshots,
// events and scans, each once.
func resultSLIs(result *sources.Result) []string {
	if result == nil {
		return nil
	}

	var ids []string
	for _, s := range result.Snapshots {
		ids = append(ids, s.SLI)
	}
	for _, e := range result.Events {
		if len(ids) == 0 || ids[len(ids)-1] != e.SLI {
			ids = append(ids, e.SLI)
		}
	}
	for _, s := range result.Scans {
		ids = append(ids, s.SLI)
	}

	slices.Sort(ids)
	return slices.Compact(ids)
}

// sourceIndexCache keeps the index of the latest State. The manager
// publishes a new State after every refresh and never changes a published
// one, so the pointer identifies the index, and the events of a large
// export are scanned once per refresh instead of once per request.
type sourceIndexCache struct {
	mu    sync.Mutex
	state *sources.State
	index sourceIndex
}

func (c *sourceIndexCache) get(state *sources.State) sourceIndex {
	c.mu.Lock()
	defer c.mu.Unlock()

	if c.state != state || c.index == nil {
		c.state = state
		c.index = newSourceIndex(state)
	}
	return c.index
}

// Source states, as the page and the JSON API name them.
const (
	SourceUp      = "up"
	SourceDown    = "down"
	SourceWaiting = "waiting"
)

// sourceState returns the state of one source: up after a good refresh,
// down after a failed one, waiting before the first refresh ends.
func sourceState(st *sources.SourceStatus) string {
	switch {
	case st.Up:
		return SourceUp
	case !st.LastAttempt.IsZero():
		return SourceDown
	default:
		return SourceWaiting
	}
}
