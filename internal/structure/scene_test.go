package structure

// A generator of synthetic room photos for the corpus tests: one-point
// perspective rooms (back wall, side walls, ceiling, floor) with windows and
// sometimes a door, re-rendered as a "result" with furniture, a slight zoom
// and shift, a colour change and noise, as an image model would return it.

import (
	"image"
	"math"
	"math/rand/v2"
)

type col [3]float64

func (c col) scale(f float64) col { return col{c[0] * f, c[1] * f, c[2] * f} }

func mix(a, b col, t float64) col {
	return col{a[0] + (b[0]-a[0])*t, a[1] + (b[1]-a[1])*t, a[2] + (b[2]-a[2])*t}
}

// wall ids for openings.
const (
	wallBack = iota
	wallLeft
	wallRight
)

// opening is a window or a door on a wall, in that wall's coordinates: on
// the back wall u is X; on a side wall u is depth Z. v is height Y (down
// is positive, like image y).
type opening struct {
	wall           int
	u0, u1, v0, v1 float64
	door           bool
	frame          col
	fill           col // door leaf colour
	bars           bool
	view           int // 0 sky only, 1 trees, 2 buildings
	seed           uint64
}

// thing is a piece of furniture or decoration drawn in front of the walls.
type thing struct {
	kind                   string  // box, art, curtain, bookcase, pendant, plant, lamp, rug
	x0, x1, y0, y1, z0, z1 float64 // 3D extent (X lateral, Y height down, Z depth)
	c                      col
	seed                   uint64
	wall                   int
}

// room is the 3D scene: image point of (X, Y, Z) is (vpx + f·X/Z, vpy + f·Y/Z).
type room struct {
	W, H     int
	vpx, vpy float64
	f        float64
	XL, XR   float64 // side walls
	YT, YB   float64 // ceiling, floor
	Zb       float64 // back wall depth (front is Z = 1)
	wall     col
	ceiling  col
	floor    col
	openings []opening
	things   []thing
}

func (r *room) project(X, Y, Z float64) [2]float64 {
	return [2]float64{r.vpx + r.f*X/Z, r.vpy + r.f*Y/Z}
}

// wallPoint is the 3D point at (u, v) on a wall.
func (r *room) wallPoint(wall int, u, v float64) (float64, float64, float64) {
	switch wall {
	case wallLeft:
		return r.XL, v, u
	case wallRight:
		return r.XR, v, u
	}
	return u, v, r.Zb
}

func newRoom(rng *rand.Rand, W, H int) *room {
	r := &room{W: W, H: H, f: float64(W) * (0.45 + 0.15*rng.Float64())}
	r.vpx = float64(W) * (0.4 + 0.2*rng.Float64())
	r.vpy = float64(H) * (0.42 + 0.12*rng.Float64())
	// The front frame (Z = 1) is a little larger than the picture.
	r.XL = (-r.vpx - float64(W)*0.1*rng.Float64()) / r.f
	r.XR = (float64(W) - r.vpx + float64(W)*0.1*rng.Float64()) / r.f
	r.YT = (-r.vpy - float64(H)*0.08*rng.Float64()) / r.f
	r.YB = (float64(H) - r.vpy + float64(H)*0.05*rng.Float64()) / r.f
	r.Zb = 1.8 + 1.0*rng.Float64()
	palette := []col{{236, 232, 224}, {222, 214, 200}, {205, 210, 214}, {214, 200, 178}, {190, 200, 186}, {228, 220, 206}, {180, 176, 170}, {200, 188, 170}}
	r.wall = palette[rng.IntN(len(palette))]
	r.ceiling = mix(r.wall, col{250, 250, 248}, 0.4+0.4*rng.Float64())
	floors := []col{{150, 110, 75}, {120, 85, 60}, {170, 140, 105}, {110, 110, 112}, {190, 175, 150}}
	r.floor = floors[rng.IntN(len(floors))]
	// Windows: one to three.
	n := 1 + rng.IntN(3)
	for range n * 4 {
		if len(r.openings) >= n {
			break
		}
		r.tryOpening(rng, false)
	}
	if rng.Float64() < 0.5 {
		for range 8 {
			if r.tryOpening(rng, true) {
				break
			}
		}
	}
	return r
}

// wallSpan is the extent of a wall in its (u, v) coordinates.
func (r *room) wallSpan(wall int) (u0, u1, v0, v1 float64) {
	if wall == wallBack {
		return r.XL, r.XR, r.YT, r.YB
	}
	return 1, r.Zb, r.YT, r.YB
}

// tryOpening places a window (or door) on a random wall, clear of the
// other openings; it reports whether it did.
func (r *room) tryOpening(rng *rand.Rand, door bool) bool {
	o, ok := r.randomOpening(rng, door)
	if !ok {
		return false
	}
	for _, p := range r.openings {
		if p.wall == o.wall && o.u0 < p.u1+0.05 && p.u0 < o.u1+0.05 {
			return false
		}
	}
	r.openings = append(r.openings, o)
	return true
}

func (r *room) randomOpening(rng *rand.Rand, door bool) (opening, bool) {
	wall := rng.IntN(3)
	u0, u1, v0, v1 := r.wallSpan(wall)
	hgt := v1 - v0
	o := opening{wall: wall, door: door, seed: rng.Uint64()}
	frames := []col{{245, 245, 245}, {60, 58, 55}, {235, 235, 230}, {120, 90, 60}}
	o.frame = frames[rng.IntN(len(frames))]
	var width float64
	if wall == wallBack {
		width = (u1 - u0) * (0.15 + 0.2*rng.Float64())
		if door {
			width = (u1 - u0) * (0.12 + 0.06*rng.Float64())
		}
	} else {
		width = (u1 - u0) * (0.2 + 0.3*rng.Float64())
		if door {
			width = (u1 - u0) * (0.15 + 0.1*rng.Float64())
		}
	}
	span := u1 - u0 - width
	if span <= 0 {
		return o, false
	}
	o.u0 = u0 + 0.05*(u1-u0) + rng.Float64()*(span-0.1*(u1-u0))
	o.u1 = o.u0 + width
	if door {
		o.v0 = v0 + hgt*(0.15+0.1*rng.Float64())
		o.v1 = v1
		leaves := []col{{150, 105, 70}, {240, 238, 232}, {110, 80, 55}, {200, 200, 205}, {90, 92, 95}}
		o.fill = leaves[rng.IntN(len(leaves))]
	} else {
		o.v0 = v0 + hgt*(0.12+0.15*rng.Float64())
		o.v1 = o.v0 + hgt*(0.3+0.25*rng.Float64())
		o.bars = rng.Float64() < 0.5
		o.view = rng.IntN(3)
	}
	return o, true
}

// furnish adds furniture on the floor.
func (r *room) furnish(rng *rand.Rand) {
	hgt := r.YB - r.YT
	n := 3 + rng.IntN(4)
	for range n {
		t := thing{seed: rng.Uint64()}
		kinds := []string{"box", "box", "box", "plant", "lamp", "rug", "box"}
		t.kind = kinds[rng.IntN(len(kinds))]
		cols := []col{{90, 90, 95}, {200, 190, 170}, {60, 80, 110}, {140, 70, 50}, {230, 225, 215}, {100, 120, 90}, {40, 40, 42}, {170, 150, 130}}
		t.c = cols[rng.IntN(len(cols))]
		w := (r.XR - r.XL) * (0.1 + 0.25*rng.Float64())
		t.x0 = r.XL + rng.Float64()*(r.XR-r.XL-w)
		t.x1 = t.x0 + w
		t.z0 = 1.15 + rng.Float64()*(r.Zb-1.4)
		t.z1 = min(r.Zb-0.02, t.z0+0.1+0.4*rng.Float64())
		t.y1 = r.YB
		switch t.kind {
		case "box":
			t.y0 = r.YB - hgt*(0.15+0.3*rng.Float64())
		case "plant":
			t.y0 = r.YB - hgt*(0.3+0.3*rng.Float64())
			t.x1 = t.x0 + (r.XR-r.XL)*0.06
			t.c = col{50 + 40*rng.Float64(), 110 + 40*rng.Float64(), 50}
		case "lamp":
			t.y0 = r.YB - hgt*(0.5+0.2*rng.Float64())
			t.x1 = t.x0 + (r.XR-r.XL)*0.05
		case "rug":
			t.y0 = r.YB
		}
		r.things = append(r.things, t)
	}
}

// decorate adds the hard negatives: things that are not architecture but
// look a little like it (wall art, curtains, tall bookcases, pendant lamps).
func (r *room) decorate(rng *rand.Rand) {
	hgt := r.YB - r.YT
	for _, kind := range []string{"art", "curtain", "bookcase", "pendant"} {
		if rng.Float64() < 0.35 {
			continue
		}
		t := thing{kind: kind, seed: rng.Uint64()}
		cols := []col{{170, 60, 50}, {60, 90, 140}, {220, 200, 120}, {90, 70, 60}, {200, 205, 210}, {240, 240, 236}, {120, 140, 100}}
		t.c = cols[rng.IntN(len(cols))]
		switch kind {
		case "art":
			// A picture on a wall, in the wall's (u, v) coordinates.
			t.wall = rng.IntN(3)
			u0, u1, _, _ := r.wallSpan(t.wall)
			w := (u1 - u0) * (0.1 + 0.15*rng.Float64())
			t.x0 = u0 + 0.05*(u1-u0) + rng.Float64()*(u1-u0-w-0.1*(u1-u0))
			t.x1 = t.x0 + w
			t.y0 = r.YT + hgt*(0.2+0.15*rng.Float64())
			t.y1 = t.y0 + hgt*(0.12+0.15*rng.Float64())
		case "curtain":
			// Curtains hang beside a window.
			var wins []opening
			for _, o := range r.openings {
				if !o.door {
					wins = append(wins, o)
				}
			}
			if len(wins) == 0 {
				continue
			}
			o := wins[rng.IntN(len(wins))]
			t.wall = o.wall
			cw := (o.u1 - o.u0) * (0.15 + 0.15*rng.Float64())
			t.x0, t.x1 = o.u0-cw*0.6, o.u1+cw*0.6
			t.z0 = cw // width of each curtain
			t.y0 = o.v0 - hgt*0.05
			t.y1 = min(r.YB, o.v1+hgt*(0.05+0.3*rng.Float64()))
		case "bookcase":
			t.wall = rng.IntN(3)
			u0, u1, _, _ := r.wallSpan(t.wall)
			w := (u1 - u0) * (0.12 + 0.12*rng.Float64())
			t.x0 = u0 + 0.05*(u1-u0) + rng.Float64()*(u1-u0-w-0.1*(u1-u0))
			t.x1 = t.x0 + w
			t.y0 = r.YB - hgt*(0.75+0.15*rng.Float64())
			t.y1 = r.YB
		case "pendant":
			t.x0 = r.XL + (r.XR-r.XL)*(0.3+0.4*rng.Float64())
			t.z0 = 1.3 + rng.Float64()*(r.Zb-1.6)
			t.y0 = r.YT + hgt*(0.2+0.15*rng.Float64())         // shade top
			t.x1 = (r.XR - r.XL) * (0.04 + 0.04*rng.Float64()) // shade half-width
		}
		r.things = append(r.things, t)
	}
}

// canvas is a float RGB image with a mapping from its pixels to the scene's
// picture plane (where the original is drawn).
type canvas struct {
	w, h int
	pix  []col
	// scene (original picture) position of canvas pixel p: (p/k − c − t)/s + c
	s, tx, ty, k float64
	cx, cy       float64
}

func (cv *canvas) toCanvas(p [2]float64) [2]float64 {
	return [2]float64{(cv.cx + cv.s*(p[0]-cv.cx) + cv.tx) * cv.k, (cv.cy + cv.s*(p[1]-cv.cy) + cv.ty) * cv.k}
}

func (cv *canvas) toScene(x, y float64) (float64, float64) {
	x, y = x/cv.k, y/cv.k
	return cv.cx + (x-cv.tx-cv.cx)/cv.s, cv.cy + (y-cv.ty-cv.cy)/cv.s
}

// fill paints a convex polygon given in scene picture coordinates; colour
// is asked per pixel with scene picture coordinates.
func (cv *canvas) fill(poly [][2]float64, colour func(x, y float64) col) {
	pts := make([][2]float64, len(poly))
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for i, p := range poly {
		pts[i] = cv.toCanvas(p)
		ymin, ymax = min(ymin, pts[i][1]), max(ymax, pts[i][1])
	}
	y0, y1 := max(0, int(math.Ceil(ymin-0.5))), min(cv.h-1, int(math.Floor(ymax-0.5)))
	for y := y0; y <= y1; y++ {
		yc := float64(y) + 0.5
		xl, xr := math.Inf(1), math.Inf(-1)
		for i := range pts {
			a, b := pts[i], pts[(i+1)%len(pts)]
			if (a[1] <= yc) == (b[1] <= yc) {
				continue
			}
			x := a[0] + (yc-a[1])*(b[0]-a[0])/(b[1]-a[1])
			xl, xr = min(xl, x), max(xr, x)
		}
		if xl > xr {
			continue
		}
		x0, x1 := max(0, int(math.Ceil(xl-0.5))), min(cv.w-1, int(math.Floor(xr-0.5)))
		for x := x0; x <= x1; x++ {
			sx, sy := cv.toScene(float64(x)+0.5, yc)
			cv.pix[y*cv.w+x] = colour(sx, sy)
		}
	}
}

func flat(c col) func(x, y float64) col { return func(float64, float64) col { return c } }

// quad is the picture polygon of a wall rectangle [u0,u1]×[v0,v1].
func (r *room) quad(wall int, u0, u1, v0, v1 float64) [][2]float64 {
	p := func(u, v float64) [2]float64 { return r.project(r.wallPoint(wall, u, v)) }
	return [][2]float64{p(u0, v0), p(u1, v0), p(u1, v1), p(u0, v1)}
}

// hash01 is a deterministic pseudo-random number for a seed and a cell.
func hash01(seed uint64, a, b int) float64 {
	x := seed ^ uint64(a)*0x9E3779B97F4A7C15 ^ uint64(b)*0xC2B2AE3D27D4EB4F
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return float64(x>>11) / float64(1<<53)
}

// draw renders the room on a canvas.
func (r *room) draw(cv *canvas) {
	W, H := float64(r.W), float64(r.H)
	shade := func(base col, amount float64) func(x, y float64) col {
		return func(x, y float64) col {
			// Light falls off from the left of the room.
			return base.scale(1 - amount*(x/W) - 0.04*(y/H))
		}
	}
	// Ceiling, floor, side walls, back wall.
	cv.fill([][2]float64{r.project(r.XL, r.YT, 1), r.project(r.XR, r.YT, 1), r.project(r.XR, r.YT, r.Zb), r.project(r.XL, r.YT, r.Zb)}, shade(r.ceiling, 0.05))
	fl := r.floor
	cv.fill([][2]float64{r.project(r.XL, r.YB, r.Zb), r.project(r.XR, r.YB, r.Zb), r.project(r.XR, r.YB, 1), r.project(r.XL, r.YB, 1)},
		func(x, y float64) col {
			// Planks: stripes in depth.
			z := r.f * r.YB / math.Max(1, y-r.vpy)
			k := int(z * 12)
			return fl.scale(0.9 + 0.15*hash01(7, k, 0))
		})
	cv.fill(r.quad(wallLeft, 1, r.Zb, r.YT, r.YB), shade(r.wall.scale(0.9), 0.05))
	cv.fill(r.quad(wallRight, 1, r.Zb, r.YT, r.YB), shade(r.wall.scale(0.82), 0.03))
	cv.fill(r.quad(wallBack, r.XL, r.XR, r.YT, r.YB), shade(r.wall, 0.06))
	for _, o := range r.openings {
		r.drawOpening(cv, o)
	}
	// Things, far to near.
	for pass := 0; pass < 2; pass++ {
		for _, t := range r.things {
			wallThing := t.kind == "art" || t.kind == "curtain"
			if (pass == 0) != wallThing {
				continue
			}
			r.drawThing(cv, t)
		}
	}
}

func (r *room) drawOpening(cv *canvas, o opening) {
	hgt := r.YB - r.YT
	fw := 0.012 * hgt // frame width in wall units (v)
	fu := fw
	if o.wall != wallBack {
		// The same width in depth units: the image width of dZ at depth Z
		// on a side wall X is f·|X|·dZ/Z², of dv it is f·dv/Z.
		x := -r.XL
		if o.wall == wallRight {
			x = r.XR
		}
		fu = fw * (o.u0 + o.u1) / 2 / math.Max(0.05, x)
	}
	cv.fill(r.quad(o.wall, o.u0-fu, o.u1+fu, o.v0-fw, o.v1), flat(o.frame))
	if o.door {
		leaf := o.fill
		cv.fill(r.quad(o.wall, o.u0, o.u1, o.v0, o.v1), flat(leaf))
		// Two inset panels and a handle.
		du, dv := (o.u1-o.u0)*0.15, (o.v1-o.v0)*0.08
		mid := (o.v0 + o.v1) / 2
		cv.fill(r.quad(o.wall, o.u0+du, o.u1-du, o.v0+dv, mid-dv/2), flat(leaf.scale(0.93)))
		cv.fill(r.quad(o.wall, o.u0+du, o.u1-du, mid+dv/2, o.v1-dv), flat(leaf.scale(0.93)))
		hu := o.u1 - (o.u1-o.u0)*0.1
		cv.fill(r.quad(o.wall, hu-0.01*(o.u1-o.u0), hu, mid-0.01*hgt, mid+0.01*hgt), flat(col{180, 170, 120}))
		return
	}
	top, bot := r.project(r.wallPoint(o.wall, o.u0, o.v0)), r.project(r.wallPoint(o.wall, o.u0, o.v1))
	sky0, sky1 := col{200, 222, 245}, col{245, 248, 252}
	seed := o.seed
	cv.fill(r.quad(o.wall, o.u0, o.u1, o.v0, o.v1), func(x, y float64) col {
		t := clamp01((y - top[1]) / math.Max(1, bot[1]-top[1]))
		c := mix(sky0, sky1, t)
		switch o.view {
		case 1: // tree tops in the lower part
			hh := 0.55 + 0.15*math.Sin(x*0.05+float64(seed%7))
			if t > hh {
				c = col{70, 100, 60}.scale(0.9 + 0.2*hash01(seed, int(x/6), int(y/6)))
			}
		case 2: // buildings
			b := int(x / 40)
			if t > 0.4+0.4*hash01(seed, b, 0) {
				c = col{170, 165, 160}.scale(0.85 + 0.2*hash01(seed, b, 1))
			}
		}
		return c
	})
	if o.bars {
		mu, mv := (o.u0+o.u1)/2, (o.v0+o.v1)/2
		bu := fu * 0.5
		cv.fill(r.quad(o.wall, mu-bu, mu+bu, o.v0, o.v1), flat(o.frame))
		cv.fill(r.quad(o.wall, o.u0, o.u1, mv-fw*0.5, mv+fw*0.5), flat(o.frame))
	}
	// Sill.
	cv.fill(r.quad(o.wall, o.u0-fu*2, o.u1+fu*2, o.v1, o.v1+fw*1.5), flat(o.frame.scale(0.95)))
}

// box3 draws an axis-aligned box: its near face, top and the visible side.
func (r *room) box3(cv *canvas, x0, x1, y0, y1, z0, z1 float64, c col) {
	p := r.project
	// Top (visible when below the eye, Y > 0 means below).
	if y0 > 0 {
		cv.fill([][2]float64{p(x0, y0, z1), p(x1, y0, z1), p(x1, y0, z0), p(x0, y0, z0)}, flat(c.scale(1.08)))
	}
	// Side towards the centre.
	if x1 < 0 {
		cv.fill([][2]float64{p(x1, y0, z0), p(x1, y0, z1), p(x1, y1, z1), p(x1, y1, z0)}, flat(c.scale(0.8)))
	} else if x0 > 0 {
		cv.fill([][2]float64{p(x0, y0, z0), p(x0, y0, z1), p(x0, y1, z1), p(x0, y1, z0)}, flat(c.scale(0.8)))
	}
	cv.fill([][2]float64{p(x0, y0, z0), p(x1, y0, z0), p(x1, y1, z0), p(x0, y1, z0)}, flat(c))
}

func (r *room) drawThing(cv *canvas, t thing) {
	hgt := r.YB - r.YT
	switch t.kind {
	case "box":
		r.box3(cv, t.x0, t.x1, t.y0, t.y1, t.z0, t.z1, t.c)
		// A cushion line or a drawer line.
		my := t.y0 + (t.y1-t.y0)*0.4
		r.box3(cv, t.x0, t.x1, my, my+0.004*hgt, t.z0-0.001, t.z0, t.c.scale(0.7))
	case "rug":
		p := r.project
		cv.fill([][2]float64{p(t.x0, r.YB, t.z1), p(t.x1, r.YB, t.z1), p(t.x1, r.YB, t.z0), p(t.x0, r.YB, t.z0)}, flat(t.c))
	case "plant":
		r.box3(cv, t.x0, t.x1, r.YB-hgt*0.12, r.YB, t.z0, t.z0+0.05, col{180, 120, 90})
		c0 := r.project((t.x0+t.x1)/2, (t.y0+r.YB-hgt*0.12)/2, t.z0)
		rad := r.f * (t.x1 - t.x0) * 0.8 / t.z0
		ry := (r.f*(r.YB-hgt*0.12-t.y0)/t.z0)/2 + 1
		seed := t.seed
		var poly [][2]float64
		for i := range 24 {
			a := float64(i) / 24 * 2 * math.Pi
			k := 0.8 + 0.3*hash01(seed, i, 0)
			poly = append(poly, [2]float64{c0[0] + rad*k*math.Cos(a), c0[1] + ry*k*math.Sin(a)})
		}
		cv.fill(poly, func(x, y float64) col { return t.c.scale(0.8 + 0.4*hash01(seed, int(x/4), int(y/4))) })
	case "lamp":
		mid := (t.x0 + t.x1) / 2
		pw := (t.x1 - t.x0) * 0.08
		r.box3(cv, mid-pw, mid+pw, t.y0, r.YB, t.z0, t.z0+0.01, col{50, 50, 50})
		r.box3(cv, t.x0, t.x1, t.y0-hgt*0.08, t.y0, t.z0, t.z0+0.03, col{235, 225, 200})
	case "art":
		fw := 0.01 * hgt
		cv.fill(r.quad(t.wall, t.x0-fw, t.x1+fw, t.y0-fw, t.y1+fw), flat(col{40, 35, 30}))
		seed := t.seed
		top := r.project(r.wallPoint(t.wall, t.x0, t.y0))
		cv.fill(r.quad(t.wall, t.x0, t.x1, t.y0, t.y1), func(x, y float64) col {
			// Abstract blocks of colour.
			a, b := int((x-top[0])/14), int((y-top[1])/14)
			k := hash01(seed, a/2, b/3)
			return mix(t.c, col{250 * hash01(seed, 1, a), 200 * k, 150 * hash01(seed, b, 2)}, 0.5)
		})
	case "curtain":
		seed := t.seed
		cw := t.z0
		fold := func(x, y float64) col {
			return t.c.scale(0.8 + 0.2*math.Sin(x*0.35+float64(seed%5)))
		}
		cv.fill(r.quad(t.wall, t.x0, t.x0+cw, t.y0, t.y1), fold)
		cv.fill(r.quad(t.wall, t.x1-cw, t.x1, t.y0, t.y1), fold)
		// Rod.
		cv.fill(r.quad(t.wall, t.x0-cw*0.1, t.x1+cw*0.1, t.y0-0.006*hgt, t.y0), flat(col{60, 60, 60}))
	case "bookcase":
		seed := t.seed
		cv.fill(r.quad(t.wall, t.x0, t.x1, t.y0, t.y1), flat(t.c.scale(0.7)))
		shelves := 5
		sh := (t.y1 - t.y0) / float64(shelves)
		for i := range shelves {
			v := t.y0 + float64(i)*sh
			cv.fill(r.quad(t.wall, t.x0, t.x1, v, v+sh*0.1), flat(t.c))
			n := 8
			for j := range n {
				if hash01(seed, i, j) < 0.3 {
					continue
				}
				bu := t.x0 + (t.x1-t.x0)*(0.05+0.9*float64(j)/float64(n))
				bw := (t.x1 - t.x0) * 0.9 / float64(n) * 0.8
				bc := col{255 * hash01(seed, i, j+10), 200 * hash01(seed, i, j+20), 180 * hash01(seed, i, j+30)}
				cv.fill(r.quad(t.wall, bu, bu+bw, v+sh*(0.25+0.3*hash01(seed, i, j+40)), v+sh), flat(bc))
			}
		}
		// Side frame.
		cv.fill(r.quad(t.wall, t.x0, t.x0+(t.x1-t.x0)*0.05, t.y0, t.y1), flat(t.c))
		cv.fill(r.quad(t.wall, t.x1-(t.x1-t.x0)*0.05, t.x1, t.y0, t.y1), flat(t.c))
	case "pendant":
		half := t.x1
		z := t.z0
		cord := r.project(t.x0, r.YT, z)
		shadeTop := r.project(t.x0, t.y0, z)
		cw := 1.0
		cv.fill([][2]float64{{cord[0] - cw, cord[1]}, {cord[0] + cw, cord[1]}, {shadeTop[0] + cw, shadeTop[1]}, {shadeTop[0] - cw, shadeTop[1]}}, flat(col{30, 30, 30}))
		sh := hgt * 0.08
		cv.fill([][2]float64{r.project(t.x0-half*0.4, t.y0, z), r.project(t.x0+half*0.4, t.y0, z), r.project(t.x0+half, t.y0+sh, z), r.project(t.x0-half, t.y0+sh, z)}, flat(t.c))
		// The bulb, bright.
		b := r.project(t.x0, t.y0+sh, z)
		bs := r.f * half * 0.3 / z
		cv.fill([][2]float64{{b[0] - bs, b[1]}, {b[0] + bs, b[1]}, {b[0] + bs, b[1] + bs}, {b[0] - bs, b[1] + bs}}, flat(col{255, 250, 235}))
	}
}

// look is how an image is rendered: size, re-framing, colour and noise.
type look struct {
	w, h      int
	s, tx, ty float64
	gain      col
	noise     float64
	seed      uint64
}

// render draws the room as seen through l and returns an 8-bit image.
func (r *room) render(l look) *image.RGBA {
	cv := &canvas{w: l.w, h: l.h, pix: make([]col, l.w*l.h), s: l.s, tx: l.tx, ty: l.ty,
		k: float64(l.w) / float64(r.W), cx: float64(r.W) / 2, cy: float64(r.H) / 2}
	for i := range cv.pix {
		cv.pix[i] = col{128, 128, 128}
	}
	r.draw(cv)
	// A slight blur, as a lens and demosaicing give, then colour and noise.
	img := image.NewRGBA(image.Rect(0, 0, l.w, l.h))
	rng := rand.New(rand.NewPCG(l.seed, 99))
	tmp := make([]col, len(cv.pix))
	w, h := l.w, l.h
	for y := range h {
		row := cv.pix[y*w : (y+1)*w]
		for x := range w {
			a, b, c := row[max(0, x-1)], row[x], row[min(w-1, x+1)]
			tmp[y*w+x] = col{(a[0] + 2*b[0] + c[0]) / 4, (a[1] + 2*b[1] + c[1]) / 4, (a[2] + 2*b[2] + c[2]) / 4}
		}
	}
	for y := range h {
		up, dn := max(0, y-1)*w, min(h-1, y+1)*w
		for x := range w {
			a, b, c := tmp[up+x], tmp[y*w+x], tmp[dn+x]
			i := img.PixOffset(x, y)
			for ch := range 3 {
				v := (a[ch]+2*b[ch]+c[ch])/4*l.gain[ch] + rng.NormFloat64()*l.noise
				img.Pix[i+ch] = uint8(min(255, max(0, v+0.5)))
			}
			img.Pix[i+3] = 255
		}
	}
	return img
}

func (r *room) clone() *room {
	c := *r
	c.openings = append([]opening(nil), r.openings...)
	c.things = append([]thing(nil), r.things...)
	return &c
}
