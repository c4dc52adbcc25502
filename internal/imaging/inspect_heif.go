package imaging

import (
	"encoding/binary"
	"fmt"
)

// HEIF (HEIC) and AVIF are ISO-BMFF containers: a "meta" box lists items
// (the images, an Exif block, thumbnails, the tiles of a grid), says which
// one is the primary image ("pitm") and gives each item properties ("iprp":
// its size "ispe", rotation "irot", mirroring "imir", colour "colr"…).
//
// This walker is ours, not a library's: the one Go reader of these boxes
// (go4.org/media/heif) calls itself a work in progress, has no imir, logs,
// and sizes its slices from the counts a file declares. Here every count is
// bounded by the bytes that hold it, nothing is allocated beyond a few small
// slices, and only what the checks and the orientation need is read. See
// docs/imaging.md, "HEIC and AVIF".

// heifMeta is what inspectHEIF learns about the primary image.
type heifMeta struct {
	primary   uint32
	itemType  string // "hvc1", "av01", "grid", "iden"…
	width     int    // ispe, as coded (before irot/imir)
	height    int
	irot      int  // counter-clockwise quarter turns, 0..3
	imir      int  // -1 none; 0 top-bottom exchanged; 1 left-right exchanged
	transform bool // irot or imir present: the container says how to turn the image
	bitDepth  int
	alpha     bool
	icc       []byte // colr "prof"/"rICC" payload of the primary image
	exif      []byte // the primary image's Exif item, from its TIFF header on
}

// bmffBox is one box: its type and where its payload lies in the file.
type bmffBox struct {
	typ        string
	start, end int // payload, after the header
}

// walkBMFF calls visit for each box in data[pos:end]. A box running past end
// is a truncated file when it is a top-level box (atTop), corrupt otherwise.
func walkBMFF(data []byte, pos, end int, atTop bool, visit func(bmffBox) error) error {
	for pos < end {
		if end-pos < 8 {
			return corruptf("heif: box header at offset %d cut short", pos)
		}
		size := uint64(binary.BigEndian.Uint32(data[pos:]))
		typ := string(data[pos+4 : pos+8])
		hdr := 8
		switch size {
		case 0: // to the end of the enclosing box
			size = uint64(end - pos)
		case 1:
			if end-pos < 16 {
				return corruptf("heif: box %q at offset %d cut short", typ, pos)
			}
			size, hdr = binary.BigEndian.Uint64(data[pos+8:]), 16
		}
		if size < uint64(hdr) {
			return corruptf("heif: box %q at offset %d has size %d", typ, pos, size)
		}
		if size > uint64(end-pos) {
			if atTop {
				return truncatedf("heif: box %q at offset %d needs %d bytes, %d follow", typ, pos, size, end-pos)
			}
			return corruptf("heif: box %q at offset %d runs past its parent", typ, pos)
		}
		b := bmffBox{typ: typ, start: pos + hdr, end: pos + int(size)}
		if err := visit(b); err != nil {
			return stopOK(err)
		}
		pos = b.end
	}
	return nil
}

// bmffReader reads big-endian fields from a box payload, remembering the
// first overrun instead of panicking.
type bmffReader struct {
	p   []byte
	bad bool
}

func (r *bmffReader) n(size int) uint64 {
	if size == 0 {
		return 0
	}
	if len(r.p) < size {
		r.bad, r.p = true, nil
		return 0
	}
	var v uint64
	for _, b := range r.p[:size] {
		v = v<<8 | uint64(b)
	}
	r.p = r.p[size:]
	return v
}

func (r *bmffReader) u8() int     { return int(r.n(1)) }
func (r *bmffReader) u16() uint32 { return uint32(r.n(2)) }
func (r *bmffReader) u32() uint32 { return uint32(r.n(4)) }

// fullBox reads a FullBox's version and flags.
func (r *bmffReader) fullBox() (version int, flags uint32) {
	v := r.u32()
	return int(v >> 24), v & 0xFFFFFF
}

// heifExtent is where one piece of an item's data lies.
type heifExtent struct {
	method      int // 0: file offset; 1: inside idat
	off, length uint64
}

// inspectHEIF reads the primary image's size, orientation and coding from
// an HEIC, HEIF or AVIF file, and checks that every item's data lies within
// the file (a cut-off upload is ErrTruncated, not a decoder's failure).
func inspectHEIF(data []byte, info *Info) error {
	m, err := readHEIFMeta(data)
	if err != nil {
		return fmt.Errorf("%s: %w", info.ContentType, err)
	}
	switch m.itemType {
	case "hvc1", "av01", "grid", "iden":
	default:
		return unsupportedf("%s whose primary image is of type %q", info.ContentType, m.itemType)
	}
	if m.itemType == "av01" && info.ContentType != TypeAVIF || m.itemType == "hvc1" && info.ContentType == TypeAVIF {
		// An AVIF brand on an HEVC image or the reverse: decode by what the
		// image is.
		if m.itemType == "av01" {
			info.ContentType = TypeAVIF
		} else {
			info.ContentType = TypeHEIC
		}
	}
	info.Width, info.Height = m.width, m.height
	info.BitDepth, info.Components = m.bitDepth, 3
	if m.alpha {
		info.Components = 4
	}
	info.Orientation = 1
	switch {
	case m.transform:
		info.Orientation = heifOrientation(m.irot, m.imir)
		info.containerTransform = true
	case m.exif != nil:
		// No transformation in the container: some encoders say it only in
		// Exif, the way a JPEG does. (With irot or imir present, HEIF says
		// the Exif orientation is informative only: applying both would
		// turn the picture twice.)
		info.Orientation = exifOrientation(m.exif)
	}
	return nil
}

// heifOrientation is the EXIF orientation that turns an image the way irot
// (counter-clockwise quarter turns), then imir (-1 none, 0 top and bottom
// exchanged, 1 left and right exchanged) do. HEIF applies the transforms in
// the order the item lists them; encoders write irot first.
func heifOrientation(irot, imir int) int {
	byRot := [4]int{1, 8, 3, 6} // 0°, 90° ccw, 180°, 90° cw
	switch imir {
	case 0: // rotate, then flip top to bottom
		return [4]int{4, 5, 2, 7}[irot&3]
	case 1: // rotate, then flip left to right
		return [4]int{2, 7, 4, 5}[irot&3]
	}
	return byRot[irot&3]
}

// readHEIFMeta walks the top-level boxes to the meta box and reads the
// primary item from it.
func readHEIFMeta(data []byte) (heifMeta, error) {
	m := heifMeta{imir: -1, bitDepth: 8}
	var meta *bmffBox
	err := walkBMFF(data, 0, len(data), true, func(b bmffBox) error {
		if b.typ == "meta" && meta == nil {
			meta = &b
		}
		return nil
	})
	if err != nil && meta == nil {
		return m, err
	}
	if meta == nil {
		// An image sequence without a still image (animated AVIF of the
		// oldest kind): nothing a provider would take.
		return m, unsupportedf("heif: no meta box (an image sequence without a still image)")
	}
	if meta.end-meta.start < 4 {
		return m, corruptf("heif: meta box is %d bytes", meta.end-meta.start)
	}
	var (
		hasPitm bool
		types   = map[uint32]string{}
		props   []bmffBox
		assoc   = map[uint32][]int{} // item → property indexes (1-based), in order
		locs    = map[uint32][]heifExtent{}
		idat    *bmffBox
		cdsc    = map[uint32]uint32{} // metadata item → the item it describes
		auxl    = map[uint32]uint32{} // auxiliary item → its master
	)
	err = walkBMFF(data, meta.start+4, meta.end, false, func(b bmffBox) error {
		p := data[b.start:b.end]
		switch b.typ {
		case "pitm":
			r := bmffReader{p: p}
			if v, _ := r.fullBox(); v == 0 {
				m.primary = r.u16()
			} else {
				m.primary = r.u32()
			}
			if r.bad {
				return corruptf("heif: pitm box cut short")
			}
			hasPitm = true
		case "iinf":
			return readIinf(data, b, types)
		case "iprp":
			return readIprp(data, b, &props, assoc)
		case "iloc":
			return readIloc(p, locs)
		case "idat":
			bb := b
			idat = &bb
		case "iref":
			return readIref(data, b, cdsc, auxl)
		}
		return nil
	})
	if err != nil {
		return m, err
	}
	if !hasPitm {
		return m, corruptf("heif: no primary item (pitm)")
	}
	var ok bool
	if m.itemType, ok = types[m.primary]; !ok {
		return m, corruptf("heif: primary item %d is not listed", m.primary)
	}
	for _, idx := range assoc[m.primary] {
		if idx < 1 || idx > len(props) {
			return m, corruptf("heif: item %d refers to property %d of %d", m.primary, idx, len(props))
		}
		pb := props[idx-1]
		r := bmffReader{p: data[pb.start:pb.end]}
		switch pb.typ {
		case "ispe":
			r.fullBox()
			m.width, m.height = int(r.u32()), int(r.u32())
		case "irot":
			m.irot, m.transform = r.u8()&3, true
		case "imir":
			m.imir, m.transform = r.u8()&1, true
		case "pixi":
			r.fullBox()
			if n := r.u8(); n > 0 {
				m.bitDepth = r.u8()
			}
		case "colr":
			if kind := string(r.p[:min(4, len(r.p))]); kind == "prof" || kind == "rICC" {
				m.icc = r.p[4:]
			}
		}
		if r.bad {
			return m, corruptf("heif: %s property cut short", pb.typ)
		}
	}
	if m.width <= 0 || m.height <= 0 {
		return m, corruptf("heif: primary image has no size (ispe)")
	}
	if int64(m.width)*int64(m.height) > 1<<32-1 {
		return m, corruptf("heif: image %dx%d exceeds 2^32-1 pixels", m.width, m.height)
	}
	// Every item's data must lie in the file; a cut-off upload ends early.
	for id, exts := range locs {
		for _, e := range exts {
			limit := uint64(len(data))
			if e.method == 1 {
				if idat == nil {
					return m, corruptf("heif: item %d is in an idat box there is none of", id)
				}
				limit = uint64(idat.end - idat.start)
			}
			if e.off > limit || e.length > limit-e.off {
				if e.method == 0 {
					return m, truncatedf("heif: item %d's data ends at %d, the file at %d", id, e.off+e.length, len(data))
				}
				return m, corruptf("heif: item %d runs past its idat box", id)
			}
		}
	}
	for aux, master := range auxl {
		if master == m.primary && types[aux] != "" {
			m.alpha = true // an auxiliary image: alpha or depth; costed as alpha
		}
	}
	for item, of := range cdsc {
		if of == m.primary && types[item] == "Exif" {
			m.exif = heifExif(data, locs[item], idat)
			break
		}
	}
	return m, nil
}

// readIinf reads the item types from iinf's infe boxes (version 2 and 3;
// earlier versions have no item type and are not used for images).
func readIinf(data []byte, b bmffBox, types map[uint32]string) error {
	r := bmffReader{p: data[b.start:b.end]}
	v, _ := r.fullBox()
	hdr := 4 + 2
	if v > 0 {
		hdr = 4 + 4
	}
	if b.end-b.start < hdr {
		return corruptf("heif: iinf box cut short")
	}
	return walkBMFF(data, b.start+hdr, b.end, false, func(e bmffBox) error {
		if e.typ != "infe" {
			return nil
		}
		r := bmffReader{p: data[e.start:e.end]}
		v, _ := r.fullBox()
		if v < 2 {
			return nil
		}
		var id uint32
		if v == 2 {
			id = r.u16()
		} else {
			id = r.u32()
		}
		r.u16() // protection index
		typ := string(r.p[:min(4, len(r.p))])
		if r.bad || len(typ) < 4 {
			return corruptf("heif: infe box cut short")
		}
		if len(types) >= maxHEIFItems {
			return unsupportedf("heif: more than %d items", maxHEIFItems)
		}
		types[id] = typ
		return nil
	})
}

// maxHEIFItems bounds the items, properties and locations read: a 48 MP
// iPhone photo has about 50 (48 tiles, the grid, Exif, a thumbnail).
const maxHEIFItems = 4096

// readIprp reads the property container (ipco) and the associations (ipma).
func readIprp(data []byte, b bmffBox, props *[]bmffBox, assoc map[uint32][]int) error {
	return walkBMFF(data, b.start, b.end, false, func(c bmffBox) error {
		switch c.typ {
		case "ipco":
			return walkBMFF(data, c.start, c.end, false, func(p bmffBox) error {
				if len(*props) >= maxHEIFItems {
					return unsupportedf("heif: more than %d properties", maxHEIFItems)
				}
				*props = append(*props, p)
				return nil
			})
		case "ipma":
			r := bmffReader{p: data[c.start:c.end]}
			v, flags := r.fullBox()
			n := r.u32()
			for i := uint32(0); i < n && !r.bad; i++ {
				var id uint32
				if v < 1 {
					id = r.u16()
				} else {
					id = r.u32()
				}
				k := r.u8()
				for j := 0; j < k && !r.bad; j++ {
					var idx int
					if flags&1 != 0 {
						idx = int(r.u16() & 0x7FFF)
					} else {
						idx = r.u8() & 0x7F
					}
					if len(assoc[id]) < 64 {
						assoc[id] = append(assoc[id], idx)
					}
				}
				if len(assoc) > maxHEIFItems {
					return unsupportedf("heif: more than %d items", maxHEIFItems)
				}
			}
			if r.bad {
				return corruptf("heif: ipma box cut short")
			}
		}
		return nil
	})
}

// readIloc reads where each item's data lies.
func readIloc(p []byte, locs map[uint32][]heifExtent) error {
	r := bmffReader{p: p}
	v, _ := r.fullBox()
	sizes := r.u16()
	offSize, lenSize, baseSize, idxSize := int(sizes>>12), int(sizes>>8&15), int(sizes>>4&15), int(sizes&15)
	if v == 0 {
		idxSize = 0
	}
	for _, s := range []int{offSize, lenSize, baseSize, idxSize} {
		if s != 0 && s != 4 && s != 8 {
			return corruptf("heif: iloc field size %d", s)
		}
	}
	var n uint32
	if v < 2 {
		n = r.u16()
	} else {
		n = r.u32()
	}
	for i := uint32(0); i < n && !r.bad; i++ {
		var id uint32
		if v < 2 {
			id = r.u16()
		} else {
			id = r.u32()
		}
		method := 0
		if v >= 1 {
			method = int(r.u16() & 15)
		}
		r.u16() // data reference index
		base := r.n(baseSize)
		k := int(r.u16())
		for j := 0; j < k && !r.bad; j++ {
			r.n(idxSize)
			off, length := r.n(offSize), r.n(lenSize)
			if method <= 1 && len(locs[id]) < 4096 {
				locs[id] = append(locs[id], heifExtent{method: method, off: base + off, length: length})
			}
		}
		if len(locs) > maxHEIFItems {
			return unsupportedf("heif: more than %d items", maxHEIFItems)
		}
	}
	if r.bad {
		return corruptf("heif: iloc box cut short")
	}
	return nil
}

// readIref reads the references that matter here: which item an Exif block
// describes (cdsc) and which images are auxiliary to which (auxl).
func readIref(data []byte, b bmffBox, cdsc, auxl map[uint32]uint32) error {
	r := bmffReader{p: data[b.start:b.end]}
	v, _ := r.fullBox()
	if r.bad {
		return corruptf("heif: iref box cut short")
	}
	return walkBMFF(data, b.start+4, b.end, false, func(ref bmffBox) error {
		if ref.typ != "cdsc" && ref.typ != "auxl" {
			return nil
		}
		r := bmffReader{p: data[ref.start:ref.end]}
		id := func() uint32 {
			if v == 0 {
				return r.u16()
			}
			return r.u32()
		}
		from := id()
		n := int(r.u16())
		for j := 0; j < n && !r.bad; j++ {
			to := id()
			if len(cdsc)+len(auxl) < maxHEIFItems {
				if ref.typ == "cdsc" {
					cdsc[from] = to
				} else {
					auxl[from] = to
				}
			}
		}
		if r.bad {
			return corruptf("heif: %s reference cut short", ref.typ)
		}
		return nil
	})
}

// heifExif returns an Exif item's TIFF block: the item starts with a 4-byte
// offset to the TIFF header. Only a single extent is read; anything unusual
// gives nil, and the orientation stays 1.
func heifExif(data []byte, exts []heifExtent, idat *bmffBox) []byte {
	if len(exts) != 1 {
		return nil
	}
	e := exts[0]
	src := data
	if e.method == 1 {
		if idat == nil {
			return nil
		}
		src = data[idat.start:idat.end]
	}
	if e.off > uint64(len(src)) || e.length > uint64(len(src))-e.off || e.length < 4 {
		return nil
	}
	p := src[e.off : e.off+e.length]
	skip := uint64(binary.BigEndian.Uint32(p))
	if skip > uint64(len(p)-4) {
		return nil
	}
	return p[4+skip:]
}
