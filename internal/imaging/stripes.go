package imaging

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"sync"
	"sync/atomic"
)

// Encoding is most of a transcode's time, and image/jpeg encodes on one
// core. A baseline JPEG can be cut into independent runs of MCUs with
// restart markers: at each RSTn the decoder resets its DC predictions, which
// is exactly the state an encoder starts a new image in. So horizontal
// stripes are encoded at once by the standard encoder, each as its own small
// JPEG, and their entropy-coded data is joined under one header with a
// restart interval of one stripe. Every block is coded as in a single-pass
// encode; a decoder gives the very same pixels.

// stripeUnit is the stripe height granularity: the encoder's largest MCU
// height (16 rows for 4:2:0 colour; 8 for grey, which divides it).
const stripeUnit = 16

// maxRestartInterval is the largest MCU count the DRI segment can hold.
const maxRestartInterval = 0xFFFF

// stripeHeight picks the stripe height for a w×h image on workers cores:
// about two stripes per worker (so a slow stripe does not hold the rest
// up), a multiple of stripeUnit, and few enough MCUs per stripe for the
// DRI segment even for grey (8×8 MCUs). 0 means encode in one piece.
func stripeHeight(w, h, workers int) int {
	if workers < 2 || w <= 0 || h < 2*stripeUnit {
		return 0
	}
	sh := ceilDiv(ceilDiv(h, 2*workers), stripeUnit) * stripeUnit
	// Grey MCUs are 8×8: ceil(w/8) of them per 8 rows.
	maxRows := maxRestartInterval / ceilDiv(w, 8) * 8
	sh = min(sh, maxRows/stripeUnit*stripeUnit)
	if sh < stripeUnit || sh >= h {
		return 0
	}
	return sh
}

// encodeJPEGStriped writes img as a baseline JPEG encoded in stripes of
// stripeH rows on up to workers goroutines; stripeH 0 encodes in one piece.
// Once ctx is done no further stripe starts, and it returns ctx.Err().
func encodeJPEGStriped(ctx context.Context, w io.Writer, img image.Image, o *jpeg.Options, stripeH, workers int) error {
	b := img.Bounds()
	sub, ok := img.(interface {
		SubImage(image.Rectangle) image.Image
	})
	if !ok || stripeH <= 0 || stripeH%stripeUnit != 0 || stripeH >= b.Dy() || workers < 2 {
		return jpeg.Encode(w, img, o)
	}
	n := ceilDiv(b.Dy(), stripeH)
	stripes := make([][]byte, n)
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if errs[i] = ctx.Err(); errs[i] != nil {
					continue
				}
				r := image.Rect(b.Min.X, b.Min.Y+i*stripeH, b.Max.X, min(b.Max.Y, b.Min.Y+(i+1)*stripeH))
				// Half a byte per pixel fits a photo at the usual qualities
				// (a 12 MP phone JPEG is ~0.4), so a stripe rarely regrows.
				var buf bytes.Buffer
				buf.Grow(r.Dx() * r.Dy() / 2)
				errs[i] = jpeg.Encode(&buf, sub.SubImage(r), o)
				stripes[i] = buf.Bytes()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return joinStripes(w, stripes, b.Dx(), b.Dy(), stripeH)
}

// scanParts locates, in one encoder output, the SOF payload, the start of
// the SOS segment and the entropy-coded data (without EOI).
type scanParts struct {
	sof      []byte // SOF0 payload
	sofBody  int    // offset of the SOF0 payload
	sosStart int    // offset of the SOS marker
	data     []byte // entropy-coded data of the one scan
}

func splitScan(enc []byte) (scanParts, error) {
	var p scanParts
	dataStart := 0
	_, err := walkJPEG(enc, func(s jpegSegment) error {
		switch s.marker {
		case markerSOF0:
			p.sof, p.sofBody = enc[s.body:s.end], s.body
		case markerSOS:
			p.sosStart, dataStart = s.start, s.end
			return errStopWalk
		}
		return nil
	})
	if err != nil || p.sof == nil || dataStart == 0 || len(p.sof) < 6 ||
		len(enc) < dataStart+2 || enc[len(enc)-2] != 0xFF || enc[len(enc)-1] != markerEOI {
		// Our bug, not the client's photo: not an ErrCorrupt.
		return p, errors.New("imaging: unexpected JPEG encoder output while joining stripes")
	}
	p.data = enc[dataStart : len(enc)-2]
	return p, nil
}

// mcuSize reads the MCU size from a SOF payload: one 8×8 block for a single
// component, else 8 times the largest sampling factors.
func mcuSize(sof []byte) (w, h int) {
	nf := int(sof[5])
	if nf == 1 {
		return 8, 8
	}
	maxH, maxV := 1, 1
	for c := range nf {
		if i := 6 + 3*c + 1; i < len(sof) {
			maxH, maxV = max(maxH, int(sof[i]>>4)), max(maxV, int(sof[i]&0x0F))
		}
	}
	return 8 * maxH, 8 * maxV
}

// joinStripes writes the first stripe's header with the full height and a
// DRI segment, then every stripe's scan data separated by RST0…RST7, then
// EOI. The scan data goes to w piece by piece, never copied into one buffer.
func joinStripes(w io.Writer, stripes [][]byte, width, height, stripeH int) error {
	parts := make([]scanParts, len(stripes))
	for i, s := range stripes {
		var err error
		if parts[i], err = splitScan(s); err != nil {
			return err
		}
	}
	first, enc := parts[0], stripes[0]
	mw, mh := mcuSize(first.sof)
	interval := ceilDiv(width, mw) * (stripeH / mh)
	if stripeH%mh != 0 || interval > maxRestartInterval {
		return fmt.Errorf("imaging: a stripe of %d rows does not fit the encoder's %dx%d MCUs", stripeH, mw, mh)
	}
	sosEnd := len(enc) - len(first.data) - 2
	head := make([]byte, 0, sosEnd+6)
	head = append(head, enc[:first.sosStart]...)
	binary.BigEndian.PutUint16(head[first.sofBody+1:], uint16(height))
	head = append(head, 0xFF, markerDRI, 0, 4, byte(interval>>8), byte(interval))
	head = append(head, enc[first.sosStart:sosEnd]...)

	ew := &errWriter{w: w}
	ew.write(head)
	for i, p := range parts {
		ew.write(p.data)
		if i < len(parts)-1 {
			ew.write([]byte{0xFF, markerRST0 + byte(i%8)})
		}
	}
	ew.write([]byte{0xFF, markerEOI})
	return ew.err
}

// errWriter keeps the first write error and skips the writes after it.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) write(p []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(p)
	}
}
