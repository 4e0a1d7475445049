package dashboards

import (
	"bytes"
	"errors"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"

	"tally/dashboards/stats"
	"tally/sites"
)

// page is what the layout needs from every page.
type page struct {
	Title string
	Scope *scope
	Sites []*sites.Site // the site switcher, for admins
}

func (d *Dashboards) newPage(c *fiber.Ctx, title string) page {
	s := scopeOf(c)
	p := page{Title: title, Scope: s}
	if s.Admin {
		p.Sites = d.opts.Sites.All()
	}
	return p
}

func (d *Dashboards) render(c *fiber.Ctx, status int, name string, data any) error {
	t, ok := d.pages[name]
	if !ok {
		return errors.New("dashboards: no template " + name)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		d.opts.Logger.Error("cannot render page", "page", name, "err", err)
		return c.Status(fiber.StatusInternalServerError).SendString("The page could not be rendered.")
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(buf.Bytes())
}

type errorView struct {
	page
	Status  int
	Message string
}

func (d *Dashboards) renderError(c *fiber.Ctx, status int, msg string) error {
	return d.render(c, status, "error", errorView{page: d.newPage(c, "Error"), Status: status, Message: msg})
}

// failed answers a failed query: bad input is the caller's 400, anything
// else is logged and a 500 without details.
func (d *Dashboards) failed(c *fiber.Ctx, err error) error {
	var ie *stats.InputError
	if errors.As(err, &ie) {
		return d.renderError(c, fiber.StatusBadRequest, ie.Error())
	}
	d.opts.Logger.Error("dashboard query failed", "route", c.Route().Path, "err", err)
	return d.renderError(c, fiber.StatusInternalServerError, "The figures could not be loaded. Please try again in a moment.")
}

func (d *Dashboards) asset(c *fiber.Ctx) error {
	name := c.Params("file")
	b, err := readAsset(d.assets, name)
	if err != nil {
		return c.SendStatus(fiber.StatusNotFound)
	}
	switch {
	case strings.HasSuffix(name, ".css"):
		c.Set(fiber.HeaderContentType, "text/css; charset=utf-8")
	case strings.HasSuffix(name, ".js"):
		c.Set(fiber.HeaderContentType, "application/javascript; charset=utf-8")
	case strings.HasSuffix(name, ".svg"):
		c.Set(fiber.HeaderContentType, "image/svg+xml")
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
	return c.Send(b)
}

// parallel runs fs concurrently and returns the first error.
func parallel(fs ...func() error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(fs))
	for i, f := range fs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
