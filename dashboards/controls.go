package dashboards

import (
	"slices"
	"strconv"
	"strings"

	"github.com/secslo/secslo/slo"
)

// theme is an Annex A theme, or the ISMS clauses, with the controls of the
// specs that belong to it.
type theme struct {
	name     string
	controls []string
}

// themeOrder lists the themes in the order of the standard.
var themeOrder = []string{slo.ThemeClause, slo.ThemeOrganizational, slo.ThemePeople, slo.ThemePhysical, slo.ThemeTechnological}

// controlIDs returns every control id that slos name, once each, in the
// order of the standard: clauses first, then Annex A.
func controlIDs(slos []*slo.SLO) []string {
	var ids []string
	for _, s := range slos {
		ids = append(ids, s.Controls...)
	}
	slices.SortFunc(ids, compareControls)
	return slices.Compact(ids)
}

// themes returns the themes that the controls of slos cover, in the order
// of the standard, each with its controls.
func themes(slos []*slo.SLO) []theme {
	byTheme := map[string][]string{}
	for _, id := range controlIDs(slos) {
		control, ok := slo.LookupControl(id)
		if !ok {
			continue
		}
		byTheme[control.Theme] = append(byTheme[control.Theme], id)
	}

	var out []theme
	for _, name := range themeOrder {
		if len(byTheme[name]) > 0 {
			out = append(out, theme{name: name, controls: byTheme[name]})
		}
	}
	return out
}

// compareControls orders clause ids ("9.1") before Annex A ids ("A.5.1"),
// and each by its numbers, so that A.5.9 comes before A.5.10.
func compareControls(a, b string) int {
	annexA, annexB := strings.HasPrefix(a, "A."), strings.HasPrefix(b, "A.")
	if annexA != annexB {
		if annexA {
			return 1
		}
		return -1
	}
	return slices.Compare(controlNumbers(a), controlNumbers(b))
}

// controlNumbers returns the numbers of a control id: [5 10] for A.5.10.
func controlNumbers(id string) []int {
	var numbers []int
	for _, part := range strings.Split(strings.TrimPrefix(id, "A."), ".") {
		n, err := strconv.Atoi(part)
		if err != nil {
			n = -1
		}
		numbers = append(numbers, n)
	}
	return numbers
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func joinComma(values []string) string {
	return strings.Join(values, ",")
}
