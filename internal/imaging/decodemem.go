package imaging

// decodeOverhead covers what a decode and an encode allocate whatever the
// size: Huffman and quantisation tables, zlib and flate state, row buffers.
const decodeOverhead = 2 << 20

// DecodeBytes estimates the bytes a full Prepare of the image allocates at
// worst, from the header alone: the decode, a scaled and an oriented copy of
// the decoded image, and the encoded output. It is meant for admitting
// decodes by a memory budget, so it errs high: it counts every allocation,
// including those the collector could free before the peak, and assumes the
// costliest path Prepare may take for the image's orientation. The factors
// come from Go's decoders and were checked against measurement
// (TestDecodeBytes); docs/imaging.md has the table.
//
// Per pixel, the decode alone: a baseline 4:2:0 JPEG 1.5 B, a progressive
// one 4 B more per component sample (Go keeps every 8x8 block's coefficients
// as int32 until the last scan), a CMYK or RGB JPEG 4 B more for the
// converted image; a PNG 1 to 8 B by colour type and depth, twice when
// interlaced; a GIF 4 B for the canvas its first frame is drawn on; a WebP
// 1.5 to 4 B. It returns 0 for an Info that Inspect did not fill.
func (i Info) DecodeBytes() int64 {
	px := i.Pixels()
	if px <= 0 {
		return 0
	}
	// Bytes per pixel: what the decoder allocates, the image it returns
	// (what orient copies), what resize returns (8-bit kinds stay as they
	// are, the rest become RGBA), and what orienting a scaled image costs.
	var decoded, image, scaled, orientScaled float64
	var encodedPerByte float64 // encoder allocations per byte of the image it encodes
	switch i.ContentType {
	case TypeJPEG:
		decoded, image = jpegDecodeFactors(i)
		scaled, orientScaled = image, image
		if i.Components == 4 {
			scaled, orientScaled = 4, 4 // CMYK is scaled through RGBA
		}
		if i.Components == 3 && !i.rgb && i.Sampling[0] != 0x11 {
			// Subsampled planes cannot be turned exactly when a scaled side
			// is odd: orient converts to RGBA and turns that.
			orientScaled = 8
		}
		// The JPEG encoder writes stripes of about half a byte per pixel
		// that grow for noisy photos, then joins them: ~2 B/px measured at
		// quality 90. It reads CMYK pixel by pixel through interfaces,
		// which allocates 4 B more.
		encodedPerByte = 2 / image
		if i.Components == 4 {
			encodedPerByte = (2 + 4.5) / image
		}
	case TypePNG:
		image = pngImageBytes(i)
		decoded = image
		if i.Progressive {
			decoded += image // each Adam7 pass is decoded into its own image, then merged
		}
		scaled = image
		if i.Paletted || i.BitDepth == 16 || i.Components == 2 || i.Components == 4 {
			scaled = 4 // resize averages opaque 8-bit planes; the rest goes through RGBA
		}
		orientScaled = scaled
		// The raw pixels, deflated into a buffer sized from the input that
		// doubles as it grows: up to 2.3 times the raw bytes measured, and
		// more for 16-bit, which the encoder reads pixel by pixel.
		encodedPerByte = 2.5
		if i.BitDepth == 16 {
			encodedPerByte = 3
		}
	case TypeGIF:
		decoded = 1 + 4 // the paletted frame, at most the screen, and the RGBA canvas
		image, scaled, orientScaled = 4, 4, 4
		encodedPerByte = 2.5
	case TypeWebP:
		decoded, image = 4, 4 // lossless: NRGBA
		if !i.Lossless {
			// Lossy: YCbCr 4:2:0, with an alpha plane or not, which the PNG
			// encoder gets as an RGBA copy: costed as RGBA from there on.
			decoded = 1.5 + 4
			if i.Components == 4 {
				decoded = 2.5 + 4
			}
		}
		scaled, orientScaled = 4, 4
		encodedPerByte = 2.5
	case TypeHEIC, TypeHEIF:
		// The WebAssembly decoder works in a linear memory that grows by
		// reallocation and is kept whole by the image it returns (a view into
		// it): the input, libde265's pictures, libheif's planes and the copy
		// out, ~28 B/px allocated in all for a 12 MP 8-bit photo, measured
		// (TestHEIFDecodeMemory); more with a rotation or 10-bit samples.
		decoded, image = 36, 3
		if i.BitDepth > 8 {
			decoded = 56
		}
		scaled, orientScaled = image, 8
		encodedPerByte = 2 / image
	case TypeAVIF:
		// libavif and the AV1 decoder keep frame buffers, YUV planes and
		// an RGBA copy (8 B/px above 8 bits) in the module's memory, which
		// grows by reallocation: ~73 B/px allocated in all at 3 MP, measured
		// (TestHEIFDecodeMemory).
		decoded, image = 80, 4
		if i.BitDepth > 8 {
			decoded, image = 120, 8
		}
		scaled, orientScaled = 4, 4
		encodedPerByte = 2 / image
	default:
		return 0
	}
	oriented, rest := 0.0, scaled
	if i.Orientation > 1 {
		oriented, rest = image, scaled+orientScaled
		if i.ContentType == TypeJPEG && image < 4 && !jpegOrientsExactly(i) {
			oriented = 8
		}
	}
	// Two paths at worst. Full size: orient copies the decoded image (a GIF
	// is re-encoded even upright), and the encoder reads it. Scaled: resize
	// makes a copy and orient another, and the encoder reads that.
	scaledPath := rest + encodedPerByte*scaled
	fullPath := 0.0
	if i.Orientation > 1 || i.ContentType == TypeGIF {
		fullPath = oriented + encodedPerByte*image
	}
	return int64((decoded+max(fullPath, scaledPath))*float64(px)) + decodeOverhead
}

// jpegOrientsExactly reports whether orient can turn the planes of a JPEG's
// YCbCr image at full size: a subsampled side it mirrors must be even.
func jpegOrientsExactly(i Info) bool {
	if i.Components != 3 || i.Sampling[0] == 0x11 {
		return true
	}
	return i.Width%2 == 0 && i.Height%2 == 0 && i.Sampling[0] <= 0x22
}

// jpegDecodeFactors returns what Go's JPEG decoder allocates per pixel, and
// the bytes per pixel of the image it returns. It allocates its planes for
// whole MCUs, so a few rows and columns more than the image; that is noise
// beside the factors.
func jpegDecodeFactors(i Info) (decoded, image float64) {
	h0, v0 := float64(i.Sampling[0]>>4), float64(i.Sampling[0]&15)
	if h0 == 0 || v0 == 0 || i.Components == 1 {
		h0, v0 = 1, 1
	}
	samples := 0.0 // component samples per pixel: 1.5 at 4:2:0, 3 at 4:4:4
	for c := range max(1, min(i.Components, len(i.Sampling))) {
		h, v := float64(i.Sampling[c]>>4), float64(i.Sampling[c]&15)
		if i.Components == 1 || h == 0 || v == 0 {
			h, v = h0, v0
		}
		samples += h * v / (h0 * v0)
	}
	decoded, image = samples, samples
	if i.Components == 4 || i.rgb {
		image = 4 // converted to CMYK or RGBA after the planes are decoded
		decoded += image
	}
	if i.Progressive {
		decoded += 4 * samples // a [64]int32 block per 8x8 samples of each component
	}
	return decoded, image
}

// pngImageBytes returns the bytes per pixel of the image Go's PNG decoder
// returns: Gray or Paletted 1 (whatever the bit depth below 8), Gray16 2,
// NRGBA or RGBA 4, and their 16-bit forms 8.
func pngImageBytes(i Info) float64 {
	switch {
	case i.Paletted || i.Components == 1 && i.BitDepth <= 8:
		return 1
	case i.Components == 1:
		return 2
	case i.BitDepth == 16:
		return 8
	}
	return 4
}
