package pixel

// gifImage is a transparent 1x1 GIF89a, 43 bytes: the smallest image every
// mail client and browser renders. A constant, so nothing can change it.
const gifImage = "GIF89a\x01\x00\x01\x00\x80\x00\x00" + // header, 1x1, global colour table of 2
	"\x00\x00\x00\xff\xff\xff" + // colour table: black, white
	"\x21\xf9\x04\x01\x00\x00\x00\x00" + // graphic control: colour 0 transparent
	"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00" + // image descriptor
	"\x02\x02\x44\x01\x00" + // LZW min code size 2, one data block
	"\x3b" // trailer

// GIF returns a copy of the pixel image: the collector answers every pixel
// hit with it, whatever happened.
func GIF() []byte { return []byte(gifImage) }
