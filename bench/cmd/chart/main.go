// Command chart draws the results page's chart from the output of
// go test -bench for package bench: dial time per scenario per contender,
// grouped bars on a logarithmic scale.
//
//	go test -run '^$' -bench . -benchmem ./bench/ | tee bench/results.txt
//	go run ./bench/cmd/chart -o bench/results.png bench/results.txt
//
// It reads the files named as arguments, or standard input with none, and
// writes -o (PNG or SVG, by its extension). A bar whose contender did not
// connect on every dial (success_frac below 1) is labelled with its success
// rate, so that a fast failure is not read as a fast dial.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"image/color"
	"io"
	"log"
	"math"
	"os"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// A scenario is one group of bars: the benchmark it comes from and the
// metric that is its dial time.
type scenario struct {
	bench, label, metric string
	scale                float64 // multiplies the metric to get ms
}

var scenarios = []scenario{
	{"HealthyLiteral", "healthy\nIP literal", "ns/op", 1e-6},
	{"HealthyName", "healthy\nname", "ns/op", 1e-6},
	{"HealthyBurst", "healthy burst\n(1,000 dials)", "ms/burst", 1},
	{"IncidentFirst", "incident\nfirst dial", "ms/dial", 1},
	{"IncidentSteady", "incident\nsteady state", "ms/dial", 1},
	{"FiveAddresses", "5 addresses,\nlast alive", "ms/dial", 1},
	{"AllRefused", "all refused", "ms/dial", 1},
	{"StallStorm", "stall storm\n(mean wait)", "mean-wait-ms", 1},
}

var contenders = []struct {
	name string
	col  color.Color
}{
	{"net.Dialer", color.RGBA{0x99, 0x99, 0x99, 0xff}},
	{"failsafe-300ms", color.RGBA{0xf4, 0xa5, 0x82, 0xff}},
	{"failsafe-2s", color.RGBA{0xca, 0x00, 0x20, 0xff}},
	{"dialguard", color.RGBA{0x05, 0x71, 0xb0, 0xff}},
}

// floorMS is the bottom of the logarithmic axis.
const floorMS = 0.01

func main() {
	out := flag.String("o", "bench/results.png", "output file (.png or .svg)")
	flag.Parse()

	var r io.Reader = os.Stdin
	if flag.NArg() > 0 {
		var rs []io.Reader
		for _, name := range flag.Args() {
			f, err := os.Open(name)
			if err != nil {
				log.Fatal(err)
			}
			defer f.Close()
			rs = append(rs, f)
		}
		r = io.MultiReader(rs...)
	}
	res, err := parse(r)
	if err != nil {
		log.Fatal(err)
	}
	if err := draw(res, *out); err != nil {
		log.Fatal(err)
	}
}

// results maps "Benchmark/contender" to its metrics (unit -> value).
type results map[string]map[string]float64

// parse reads benchmark lines: name-GOMAXPROCS, iterations, then value
// and unit pairs. Other lines are skipped.
func parse(r io.Reader) (results, error) {
	res := results{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		m := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %q is not a number", f[0], f[i])
			}
			m[f[i+1]] = v
		}
		res[name] = m
	}
	return res, sc.Err()
}

// value returns the dial time in ms of one contender in one scenario and
// its success rate (1 when not reported).
func (res results) value(s scenario, contender string) (ms, success float64, ok bool) {
	m, ok := res[s.bench+"/"+contender]
	if !ok && s.bench == "HealthyBurst" && contender == "net.Dialer" {
		// net.Dialer's bursts alternate with every contender's: average
		// its stdlib-ms/burst over them.
		n := 0.0
		for _, c := range contenders[1:] {
			if m, ok := res[s.bench+"/"+c.name]; ok {
				ms += m["stdlib-ms/burst"]
				n++
			}
		}
		return ms / n, 1, n > 0
	}
	if !ok {
		return 0, 0, false
	}
	v, ok := m[s.metric]
	if !ok {
		return 0, 0, false
	}
	success = 1
	if sf, ok := m["success_frac"]; ok {
		success = sf
	}
	return v * s.scale, success, true
}

// logScale maps ms to a bar height above floorMS, in decades.
func logScale(ms float64) float64 { return math.Log10(math.Max(ms, floorMS) / floorMS) }

// decades labels the bar heights with the ms they stand for.
type decades struct{}

func (decades) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for h := 0.0; h <= math.Ceil(max); h++ {
		ms := floorMS * math.Pow(10, h)
		ts = append(ts, plot.Tick{Value: h, Label: strconv.FormatFloat(ms, 'f', -1, 64)})
		for k := 2.0; k < 10 && h < math.Ceil(max); k++ {
			ts = append(ts, plot.Tick{Value: h + math.Log10(k)})
		}
	}
	return ts
}

func draw(res results, out string) error {
	p := plot.New()
	p.Title.Text = "Dial time per scenario (loopback; lower is better; log scale)"
	p.Y.Label.Text = "ms (per dial; per burst of 1,000; mean caller wait in the storm)"
	p.Y.Tick.Marker = decades{}
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = true

	labels := make([]string, len(scenarios))
	for i, s := range scenarios {
		labels[i] = s.label
	}
	p.NominalX(labels...)

	w := vg.Points(14)
	top := 0.0
	for i, c := range contenders {
		vals := make(plotter.Values, len(scenarios))
		var lab plotter.XYLabels
		for j, s := range scenarios {
			ms, success, ok := res.value(s, c.name)
			if !ok {
				continue
			}
			vals[j] = logScale(ms)
			top = math.Max(top, vals[j])
			if success < 1 {
				lab.XYs = append(lab.XYs, plotter.XY{X: float64(j), Y: vals[j] + 0.05})
				lab.Labels = append(lab.Labels, fmt.Sprintf("%.0f%%\nok", 100*success))
			}
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return err
		}
		bars.Color = c.col
		bars.LineStyle.Width = 0
		off := w * vg.Length(float64(i)-float64(len(contenders)-1)/2)
		bars.Offset = off
		p.Add(bars)
		p.Legend.Add(c.name, bars)
		if len(lab.Labels) > 0 {
			l, err := plotter.NewLabels(lab)
			if err != nil {
				return err
			}
			for k := range l.TextStyle {
				l.TextStyle[k].Font.Size = vg.Points(7)
				l.TextStyle[k].XAlign = -0.5
			}
			l.Offset = vg.Point{X: off}
			p.Add(l)
		}
	}
	p.Y.Max = math.Ceil(top + 0.3)
	p.Add(plotter.NewGrid())
	return p.Save(12*vg.Inch, 5*vg.Inch, out)
}
