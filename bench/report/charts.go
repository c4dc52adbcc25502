package main

import (
	"bufio"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

var colors = map[string]color.Color{
	"frameforge": color.RGBA{R: 0x1f, G: 0x62, B: 0xb4, A: 0xff},
	"echo":       color.RGBA{R: 0x99, G: 0x99, B: 0x99, A: 0xff},
	"python":     color.RGBA{R: 0xe6, G: 0x8a, B: 0x00, A: 0xff},
	"python-2w":  color.RGBA{R: 0xc0, G: 0x39, B: 0x2b, A: 0xff},
}

// panels are the two halves of the by-concurrency charts.
var panels = []struct {
	title, scenario string
	cs              []string
}{
	{"GET /api/health", "health", []string{"1", "16", "64"}},
	{"POST /api/edit, 1.5 MB photo", "edit1.5", []string{"1", "8", "32"}},
}

func drawCharts(f figures, data, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ss := servers(f)
	var tp, lat []*plot.Plot
	for _, pn := range panels {
		p, err := throughputPanel(f, ss, pn.title, pn.scenario, pn.cs)
		if err != nil {
			return err
		}
		tp = append(tp, p)
		p, err = p99Panel(f, ss, pn.title, pn.scenario, pn.cs)
		if err != nil {
			return err
		}
		lat = append(lat, p)
	}
	if err := save([][]*plot.Plot{tp}, 26*vg.Centimeter, 10*vg.Centimeter, filepath.Join(dir, "throughput")); err != nil {
		return err
	}
	if err := save([][]*plot.Plot{lat}, 26*vg.Centimeter, 10*vg.Centimeter, filepath.Join(dir, "p99")); err != nil {
		return err
	}
	p, err := rssPlot(ss, data)
	if err != nil {
		return err
	}
	return save([][]*plot.Plot{{p}}, 26*vg.Centimeter, 11*vg.Centimeter, filepath.Join(dir, "rss"))
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Legend.Top = true
	p.Legend.Left = false
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	p.Add(plotter.NewGrid())
	return p
}

// throughputPanel is grouped bars: one group per concurrency, one bar per
// server, each labelled with its figure.
func throughputPanel(f figures, ss []string, title, scenario string, cs []string) (*plot.Plot, error) {
	p := newPlot(title+": requests per second", "concurrent clients", "requests / s (higher is better)")
	w := vg.Points(14)
	n := 0
	for _, s := range ss {
		if _, ok := f.get(s, scenario, cs[0], "rps"); ok {
			n++
		}
	}
	i := 0
	for _, s := range ss {
		vals := make(plotter.Values, len(cs))
		any := false
		for j, c := range cs {
			if v, ok := f.get(s, scenario, c, "rps"); ok {
				vals[j], any = v, true
			}
		}
		if !any {
			continue
		}
		b, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return nil, err
		}
		b.Color = colors[s]
		b.LineStyle.Width = 0
		b.Offset = vg.Length(float64(i)-float64(n-1)/2) * w
		p.Add(b)
		p.Legend.Add(serverNames[s], b)
		i++
	}
	labels := make([]string, len(cs))
	for j, c := range cs {
		labels[j] = "c=" + c
	}
	p.NominalX(labels...)
	top := 0.0
	for _, s := range ss {
		for _, c := range cs {
			if v, ok := f.get(s, scenario, c, "rps"); ok {
				top = math.Max(top, v)
			}
		}
	}
	p.Y.Min, p.Y.Max = 0, top*1.45 // room for the legend above the bars
	return p, nil
}

// p99Panel is one line per server on a log scale: the servers differ by
// orders of magnitude.
func p99Panel(f figures, ss []string, title, scenario string, cs []string) (*plot.Plot, error) {
	p := newPlot(title+": p99 latency", "concurrent clients", "p99 ms, log scale (lower is better)")
	p.Legend.Left = true
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	lo, hi := math.Inf(1), 0.0
	for _, s := range ss {
		var xy plotter.XYs
		for j, c := range cs {
			if v, ok := f.get(s, scenario, c, "p99"); ok && v > 0 {
				xy = append(xy, plotter.XY{X: float64(j), Y: v})
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
		if len(xy) == 0 {
			continue
		}
		l, pts, err := plotter.NewLinePoints(xy)
		if err != nil {
			return nil, err
		}
		l.Color, pts.Color = colors[s], colors[s]
		l.Width = vg.Points(2)
		pts.Shape = draw.CircleGlyph{}
		pts.Radius = vg.Points(3)
		p.Add(l, pts)
		p.Legend.Add(serverNames[s], l, pts)
	}
	labels := make([]string, len(cs))
	for j, c := range cs {
		labels[j] = "c=" + c
	}
	p.NominalX(labels...)
	if hi > 0 {
		p.Y.Min, p.Y.Max = math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi)))
	}
	return p, nil
}

// rssPlot is each server's resident memory over the run, with the start of
// each load point marked.
func rssPlot(ss []string, data string) (*plot.Plot, error) {
	p := newPlot("Resident memory (RSS) over the side-by-side run", "seconds since the run started", "RSS MiB")
	top := 0.0
	for _, s := range ss {
		xy, err := readSeries(filepath.Join(data, "rss-"+s+".tsv"), 1.0/1024)
		if err != nil || len(xy) == 0 {
			continue
		}
		for _, v := range xy {
			top = math.Max(top, v.Y)
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return nil, err
		}
		l.Color = colors[s]
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(serverNames[s], l)
	}
	// The x axis is labelled with the load points, at the time each began.
	marks, _ := readMarks(filepath.Join(data, "marks.tsv"))
	var ticks []plot.Tick
	for _, m := range marks {
		l, err := plotter.NewLine(plotter.XYs{{X: m.t, Y: 0}, {X: m.t, Y: top * 1.4}})
		if err != nil {
			return nil, err
		}
		l.Color = color.Gray{Y: 0xbb}
		l.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
		p.Add(l)
		ticks = append(ticks, plot.Tick{Value: m.t, Label: m.label})
	}
	if len(ticks) > 0 {
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
		p.X.Tick.Label.Rotation = math.Pi / 7
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YCenter
		p.X.Label.Text = "time; each load point starts at its label (every server in turn)"
	}
	p.Y.Min, p.Y.Max = 0, top*1.4
	p.Legend.Left = true
	return p, nil
}

func readSeries(path string, scale float64) (plotter.XYs, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var xy plotter.XYs
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		a, b, ok := strings.Cut(sc.Text(), "\t")
		x, err1 := strconv.ParseFloat(a, 64)
		y, err2 := strconv.ParseFloat(b, 64)
		if ok && err1 == nil && err2 == nil && y > 0 {
			xy = append(xy, plotter.XY{X: x, Y: y * scale})
		}
	}
	return xy, sc.Err()
}

type mark struct {
	t     float64
	label string
}

func readMarks(path string) ([]mark, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []mark
	for _, l := range strings.Split(string(b), "\n") {
		a, lab, ok := strings.Cut(l, "\t")
		if t, err := strconv.ParseFloat(a, 64); ok && err == nil {
			out = append(out, mark{t, lab})
		}
	}
	return out, nil
}

// save draws the grid of plots as base.svg and base.png.
func save(plots [][]*plot.Plot, w, h vg.Length, base string) error {
	tiles := draw.Tiles{Rows: len(plots), Cols: len(plots[0]), PadX: vg.Centimeter, PadY: vg.Centimeter / 2,
		PadTop: vg.Centimeter / 4, PadBottom: vg.Centimeter / 4, PadLeft: vg.Centimeter / 4, PadRight: vg.Centimeter / 4}
	svg := vgsvg.New(w, h)
	png := vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(110))}
	for _, c := range []draw.Canvas{draw.New(svg), draw.New(png)} {
		c.SetColor(color.White)
		c.Fill(c.Rectangle.Path())
		cs := plot.Align(plots, tiles, c)
		for i := range plots {
			for j, p := range plots[i] {
				p.Draw(cs[i][j])
			}
		}
	}
	if err := writeTo(base+".svg", svg); err != nil {
		return err
	}
	return writeTo(base+".png", png)
}

func writeTo(path string, c interface{}) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	switch c := c.(type) {
	case *vgsvg.Canvas:
		_, err = c.WriteTo(f)
	case vgimg.PngCanvas:
		_, err = c.WriteTo(f)
	default:
		err = fmt.Errorf("unknown canvas %T", c)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
