// Command barefiber is the second ceiling of scripts/loadbench.sh: the same
// 1x1 GIF and response headers as the collector's /p.gif, from a bare Fiber
// handler with the collector's server settings and nothing else.
package main

import (
	"flag"
	"log"
	"time"

	"github.com/gofiber/fiber/v2"
)

// gif is the collector's pixel (tally/pixel), byte for byte.
var gif = [...]byte{
	'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0,
	0, 0, 0, 0xff, 0xff, 0xff,
	0x21, 0xf9, 4, 1, 0, 0, 0, 0,
	0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0,
	2, 2, 0x44, 1, 0,
	0x3b,
}

func main() {
	addr := flag.String("listen", "127.0.0.1:8082", "address to listen on")
	flag.Parse()
	app := fiber.New(fiber.Config{
		DisableStartupMessage: true,
		BodyLimit:             16 << 10,
		ReadBufferSize:        8 << 10,
		ReadTimeout:           10 * time.Second,
		WriteTimeout:          10 * time.Second,
		IdleTimeout:           60 * time.Second,
		Network:               fiber.NetworkTCP,
	})
	app.Get("/p.gif", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, "image/gif")
		c.Set(fiber.HeaderCacheControl, "no-store, no-cache, must-revalidate, max-age=0")
		c.Set(fiber.HeaderPragma, "no-cache")
		c.Set("Expires", "0")
		c.Set("Cross-Origin-Resource-Policy", "cross-origin")
		return c.Status(fiber.StatusOK).Send(gif[:])
	})
	log.Fatal(app.Listen(*addr))
}
