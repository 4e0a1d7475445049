package pixel

import (
	"bytes"
	"image/gif"
	"testing"
)

func TestGIF(t *testing.T) {
	b := GIF()
	if len(b) != 43 {
		t.Fatalf("the pixel is %d bytes, want 43", len(b))
	}
	img, err := gif.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a valid GIF: %v", err)
	}
	if r := img.Bounds(); r.Dx() != 1 || r.Dy() != 1 {
		t.Fatalf("the pixel is %dx%d", r.Dx(), r.Dy())
	}
	if _, _, _, a := img.At(0, 0).RGBA(); a != 0 {
		t.Fatalf("the pixel is not transparent: alpha %d", a)
	}
	b[0] = 'X'
	if GIF()[0] != 'G' {
		t.Fatal("GIF returns the image itself, not a copy")
	}
}
