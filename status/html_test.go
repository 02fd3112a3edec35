package status

import (
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// parseHTML parses a page as a browser would.
func parseHTML(t *testing.T, body string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("failed to parse the page: %v", err)
	}
	return doc
}

// findAll returns every element below n, n included, that match accepts,
// in document order.
func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var found []*html.Node
	for node := range n.Descendants() {
		if node.Type == html.ElementNode && match(node) {
			found = append(found, node)
		}
	}
	return found
}

// findFirst returns the first element below n that match accepts, or nil.
func findFirst(n *html.Node, match func(*html.Node) bool) *html.Node {
	if found := findAll(n, match); len(found) > 0 {
		return found[0]
	}
	return nil
}

func byID(id string) func(*html.Node) bool {
	return func(n *html.Node) bool { return attr(n, "id") == id }
}

func byTag(tag string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == tag }
}

func byAttr(key, value string) func(*html.Node) bool {
	return func(n *html.Node) bool {
		for _, a := range n.Attr {
			if a.Key == key && a.Val == value {
				return true
			}
		}
		return false
	}
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// text returns the text of n and its descendants as a browser lays it out
// in words: block elements and table cells are separated by a space, and
// runs of white space fold into one space.
func text(n *html.Node) string {
	var b strings.Builder
	writeText(&b, n)
	return strings.Join(strings.Fields(b.String()), " ")
}

func writeText(b *strings.Builder, n *html.Node) {
	if n.Type == html.TextNode {
		b.WriteString(n.Data)
		return
	}
	separated := n.Type == html.ElementNode && blockElements[n.Data]
	if separated {
		b.WriteByte(' ')
	}
	for child := range n.ChildNodes() {
		writeText(b, child)
	}
	if separated {
		b.WriteByte(' ')
	}
}

var blockElements = map[string]bool{
	"p": true, "div": true, "li": true, "ul": true, "tr": true, "td": true, "th": true,
	"caption": true, "dt": true, "dd": true, "h1": true, "h2": true, "h3": true, "figcaption": true,
}

// objectiveRows returns the rows of the overview's objectives table.
func objectiveRows(t *testing.T, doc *html.Node) []*html.Node {
	t.Helper()
	table := findFirst(doc, byID("objectives"))
	if table == nil {
		t.Fatal("the overview has no table with the id objectives")
	}
	tbody := findFirst(table, byTag("tbody"))
	return findAll(tbody, byTag("tr"))
}

// objectiveRow returns the overview row of one objective.
func objectiveRow(t *testing.T, doc *html.Node, service, name string) *html.Node {
	t.Helper()
	for _, row := range objectiveRows(t, doc) {
		if attr(row, "data-service") == service && attr(row, "data-slo") == name {
			return row
		}
	}
	t.Fatalf("the overview has no row for %s/%s", service, name)
	return nil
}

// cellValue returns the text of the cell with the given data-value in row.
func cellValue(t *testing.T, row *html.Node, value string) string {
	t.Helper()
	cell := findFirst(row, byAttr("data-value", value))
	if cell == nil {
		t.Fatalf("row %s/%s has no cell with data-value=%q", attr(row, "data-service"), attr(row, "data-slo"), value)
	}
	return text(cell)
}
