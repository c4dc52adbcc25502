package imaging

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// JPEG markers this package acts on.
const (
	markerSOF0  = 0xC0 // baseline
	markerSOF1  = 0xC1 // extended sequential, Huffman
	markerSOF2  = 0xC2 // progressive, Huffman
	markerDHT   = 0xC4
	markerDQT   = 0xDB
	markerJPG   = 0xC8
	markerDAC   = 0xCC
	markerRST0  = 0xD0
	markerRST7  = 0xD7
	markerSOI   = 0xD8
	markerDRI   = 0xDD
	markerEOI   = 0xD9
	markerSOS   = 0xDA
	markerAPP0  = 0xE0
	markerAPP1  = 0xE1
	markerAPP2  = 0xE2
	markerAPP14 = 0xEE
	markerAPP15 = 0xEF
	markerCOM   = 0xFE
	markerTEM   = 0x01
)

// MaxJPEGScans is the most scans Inspect accepts in a JPEG. Go's progressive
// decoder walks every block of the image once per scan, and a scan that
// changes nothing costs a few bytes (one end-of-band run), so a 364 KB file
// of 20,000 scans decodes for ~22 s, which no context can cut short. Real
// encoders write 1 scan (baseline), 6 or 10 (libjpeg's default progression
// for grey or colour) and rarely more than ~20 (optimised scan scripts);
// libjpeg-turbo's own tools refuse more than 100 by default, and so do we:
// at 100 MP, 100 scans still decode in a few seconds. See docs/imaging.md.
const MaxJPEGScans = 100

// errStopWalk ends a walk early without error when a visitor returns it.
var errStopWalk = errors.New("imaging: stop walk")

// jpegSegment locates one marker segment: data[start:end] holds any fill
// bytes, 0xFF, the marker, the length field and the payload data[body:end].
// For markers without a length (RSTn, TEM, EOI) body == end.
type jpegSegment struct {
	marker           byte
	start, body, end int
}

// walkJPEG calls visit for each marker segment after SOI, in order, up to and
// including EOI, and returns the offset just past EOI. After each SOS segment
// it hops over the entropy-coded scan data, so visit sees the DHT and SOS
// segments between the scans of a progressive JPEG. A visit error ends the
// walk and is returned, except errStopWalk, which ends it with a nil error.
func walkJPEG(data []byte, visit func(jpegSegment) error) (int, error) {
	if len(data) < 2 || data[0] != 0xFF || data[1] != markerSOI {
		return 0, corruptf("jpeg: no SOI marker")
	}
	pos := 2
	for {
		if pos >= len(data) {
			return pos, truncatedf("jpeg: data ends at offset %d without EOI", pos)
		}
		if data[pos] != 0xFF {
			return pos, corruptf("jpeg: byte 0x%02x at offset %d where a marker should start", data[pos], pos)
		}
		start := pos
		for pos < len(data) && data[pos] == 0xFF { // fill bytes may precede any marker
			pos++
		}
		if pos >= len(data) {
			return pos, truncatedf("jpeg: data ends inside a marker at offset %d", start)
		}
		marker := data[pos]
		pos++
		switch {
		case marker == 0x00 || marker == markerSOI:
			return start, corruptf("jpeg: unexpected marker 0x%02x at offset %d", marker, start)
		case marker == markerEOI, marker == markerTEM, marker >= markerRST0 && marker <= markerRST7:
			if err := visit(jpegSegment{marker: marker, start: start, body: pos, end: pos}); err != nil {
				return pos, stopOK(err)
			}
			if marker == markerEOI {
				return pos, nil
			}
			continue
		}
		if len(data)-pos < 2 {
			return pos, truncatedf("jpeg: data ends inside the length of marker 0x%02x at offset %d", marker, start)
		}
		n := int(binary.BigEndian.Uint16(data[pos:]))
		if n < 2 {
			return pos, corruptf("jpeg: segment 0x%02x at offset %d has length %d", marker, start, n)
		}
		end := pos + n
		if end > len(data) {
			return pos, truncatedf("jpeg: segment 0x%02x at offset %d runs past the end", marker, start)
		}
		if err := visit(jpegSegment{marker: marker, start: start, body: pos + 2, end: end}); err != nil {
			return end, stopOK(err)
		}
		pos = end
		if marker == markerSOS {
			var err error
			if pos, err = skipScan(data, pos); err != nil {
				return pos, err
			}
		}
	}
}

// stopOK turns errStopWalk into nil.
func stopOK(err error) error {
	if err == errStopWalk {
		return nil
	}
	return err
}

// skipScan returns the offset of the marker that ends the entropy-coded data
// starting at pos. Inside scan data 0xFF is followed by 0x00 (a stuffed data
// byte), by RST0..RST7 (restart markers, part of the scan) or by more 0xFF
// (fill); anything else is the next marker. bytes.IndexByte finds each 0xFF
// with SIMD, so a 15 MB scan costs well under a millisecond per megabyte.
func skipScan(data []byte, pos int) (int, error) {
	for {
		i := bytes.IndexByte(data[pos:], 0xFF)
		if i < 0 {
			return len(data), truncatedf("jpeg: scan data runs to the end without EOI")
		}
		pos += i + 1
		if pos >= len(data) {
			return len(data), truncatedf("jpeg: scan data runs to the end without EOI")
		}
		switch b := data[pos]; {
		case b == 0x00, b >= markerRST0 && b <= markerRST7:
			pos++
		case b == 0xFF:
			// Fill byte: leave pos on it so the next search starts there.
		default:
			return pos - 1, nil
		}
	}
}

// isSOF reports whether marker starts a frame header (SOF0..SOF15, which
// share their range with DHT, JPG and DAC).
func isSOF(marker byte) bool {
	return marker >= markerSOF0 && marker <= 0xCF &&
		marker != markerDHT && marker != markerJPG && marker != markerDAC
}

// inspectJPEG walks the segments of a JPEG, reads the frame header and the
// first Exif APP1, and checks there is one frame Go can decode and at least
// one scan.
func inspectJPEG(data []byte, info *Info) error {
	var sawFrame, sawExif, adobeRGB bool
	scans := 0
	defer func() { info.rgb = info.rgb || adobeRGB && info.Components == 3 }()
	_, err := walkJPEG(data, func(s jpegSegment) error {
		body := data[s.body:s.end]
		switch {
		case isSOF(s.marker):
			if sawFrame {
				return corruptf("jpeg: second frame header at offset %d", s.start)
			}
			sawFrame = true
			if len(body) < 6 {
				return corruptf("jpeg: frame header at offset %d is %d bytes", s.start, len(body))
			}
			info.Height = int(binary.BigEndian.Uint16(body[1:]))
			info.Width = int(binary.BigEndian.Uint16(body[3:]))
			components := int(body[5])
			if info.Width == 0 || info.Height == 0 {
				// Height 0 means "defined later by DNL", which Go cannot decode.
				return corruptf("jpeg: frame size %dx%d", info.Width, info.Height)
			}
			if len(body) != 6+3*components {
				return corruptf("jpeg: frame header length %d for %d components", len(body), components)
			}
			if s.marker != markerSOF0 && s.marker != markerSOF1 && s.marker != markerSOF2 {
				return unsupportedf("image/jpeg (frame type 0x%02x: arithmetic, lossless or hierarchical coding)", s.marker)
			}
			if body[0] != 8 {
				return unsupportedf("image/jpeg (%d-bit samples)", body[0])
			}
			if components != 1 && components != 3 && components != 4 {
				return unsupportedf("image/jpeg (%d components)", components)
			}
			info.Progressive = s.marker == markerSOF2
			info.Components, info.BitDepth = components, 8
			for c := range components {
				info.Sampling[c] = body[6+3*c+1]
			}
			info.rgb = components == 3 && body[6] == 'R' && body[9] == 'G' && body[12] == 'B'
		case s.marker == markerAPP14 && len(body) >= adobeSize && hasPrefix(body, "Adobe"):
			adobeRGB = body[11] == 0
		case s.marker == markerSOS:
			if !sawFrame {
				return corruptf("jpeg: scan at offset %d before the frame header", s.start)
			}
			if scans++; scans > MaxJPEGScans {
				return fmt.Errorf("%w: image/jpeg (more than %d scans)", ErrTooComplex, MaxJPEGScans)
			}
		case s.marker == markerAPP1 && !sawExif && hasPrefix(body, "Exif\x00"): // not XMP
			sawExif = true
			info.Orientation = exifOrientation(body)
		case s.marker == markerEOI && scans == 0:
			return corruptf("jpeg: EOI at offset %d before any scan", s.start)
		}
		return nil
	})
	return err
}
