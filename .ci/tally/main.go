// Command tally reads the JSON stream of go test -json on its standard
// input, prints what a plain go test run would have printed for packages
// and for failing tests, and appends one line of counts for the phase to
// the file named by -summary. It exits 1 if any test failed, if a package
// failed to build, or if a test of the network lab was skipped: CI runs as
// root, where the lab must run, and a skipped lab test would hide that the
// timing claims were never checked.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

func main() {
	phase := flag.String("phase", "tests", "the phase's name in the summary line")
	summary := flag.String("summary", "", "file to append the summary line to")
	flag.Parse()

	var passed, failed, skipped, labSkipped int
	pkgFailed := false
	output := map[string][]string{} // test -> its lines, until it ends
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	for in.Scan() {
		line := in.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			fmt.Println(string(line)) // build errors come as plain text
			continue
		}
		key := e.Package + " " + e.Test
		switch {
		case e.Action == "build-output":
			fmt.Print(e.Output)
		case e.Action == "build-fail":
			pkgFailed = true
		case e.Action == "output" && e.Test == "":
			if s := e.Output; strings.HasPrefix(s, "ok ") || strings.HasPrefix(s, "FAIL") || strings.HasPrefix(s, "---") || strings.HasPrefix(s, "panic") || strings.Contains(s, "[no test files]") || pkgFailed {
				fmt.Print(s)
			}
		case e.Action == "output":
			output[key] = append(output[key], e.Output)
		case e.Test == "":
			if e.Action == "fail" {
				pkgFailed = true
			}
		case e.Action == "pass":
			passed++
			delete(output, key)
		case e.Action == "fail":
			failed++
			fmt.Print(strings.Join(output[key], ""))
			delete(output, key)
		case e.Action == "skip":
			skipped++
			if text := strings.Join(output[key], ""); strings.Contains(text, "netlab: ") {
				labSkipped++
				fmt.Printf("lab test skipped in CI: %s %s\n%s", e.Package, e.Test, text)
			}
			delete(output, key)
		}
	}
	line := fmt.Sprintf("%s: %d passed, %d failed, %d skipped", *phase, passed, failed, skipped)
	if labSkipped > 0 {
		line += fmt.Sprintf(" (%d lab tests skipped: a failure in CI)", labSkipped)
	}
	fmt.Println(line)
	if *summary != "" {
		f, err := os.OpenFile(*summary, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintln(f, line)
			f.Close()
		}
	}
	if failed > 0 || labSkipped > 0 || pkgFailed {
		os.Exit(1)
	}
}
