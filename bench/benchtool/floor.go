package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
)

// runFloor reads and decodes the files of one exporter input in the
// cheapest obvious way and computes no SLI. CSV goes through encoding/csv,
// and JSON through encoding/json into structs with only the fields the SLI
// needs. Its time is the floor for a refresh of the same input. It prints
// the number of records decoded.
func runFloor(args []string) error {
	fs := flag.NewFlagSet("floor", flag.ContinueOnError)
	kind := fs.String("input", "", "inventory (CSV files), iam or prowler (the OCSF output, then the mapping)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	decoders := map[string]func(string) (int, error){
		"inventory": decodeCSV,
		"iam":       decodeIAM,
		"prowler":   decodeProwler,
	}
	decode := decoders[*kind]
	if decode == nil {
		return fmt.Errorf("invalid -input %q; use inventory, iam or prowler", *kind)
	}
	records := 0
	for _, path := range fs.Args() {
		n, err := decode(path)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		records += n
	}
	fmt.Println(records)
	return nil
}

func decodeCSV(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReaderSize(f, 1<<20))
	r.ReuseRecord = true
	n := 0
	for {
		_, err := r.Read()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
	}
}

// iamPolicyDocument keeps the statements as raw JSON, because their fields
// are either one value or a list.
type iamPolicyDocument struct {
	Statement json.RawMessage
}

func decodeIAM(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var export struct {
		RoleDetailList []struct {
			RoleName, Arn  string
			RolePolicyList []struct {
				PolicyName     string
				PolicyDocument iamPolicyDocument
			}
			AttachedManagedPolicies []struct{ PolicyArn string }
		}
		Policies []struct {
			Arn               string
			PolicyVersionList []struct {
				Document         iamPolicyDocument
				IsDefaultVersion bool
			}
		}
	}
	if err := json.Unmarshal(data, &export); err != nil {
		return 0, err
	}
	return len(export.RoleDetailList) + len(export.Policies), nil
}

// decodeProwler streams the elements of an OCSF output array; a mapping, a
// JSON object, is decoded whole.
func decodeProwler(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReaderSize(f, 1<<20))
	open, err := dec.Token()
	if err != nil {
		return 0, err
	}
	if open != json.Delim('[') {
		var mapping struct {
			Requirements []struct {
				Id     string
				Checks []string
			}
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return 0, err
		}
		err := json.NewDecoder(f).Decode(&mapping)
		return len(mapping.Requirements), err
	}
	n := 0
	for dec.More() {
		var finding struct {
			Metadata struct {
				EventCode string `json:"event_code"`
			} `json:"metadata"`
			StatusCode string  `json:"status_code"`
			Time       float64 `json:"time"`
		}
		if err := dec.Decode(&finding); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
