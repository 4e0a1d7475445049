package dashboards

import (
	"io/fs"
	"strings"
)

func readAsset(fsys fs.FS, name string) ([]byte, error) {
	if name == "" || strings.ContainsAny(name, "/\\") || strings.HasPrefix(name, ".") {
		return nil, fs.ErrNotExist
	}
	return fs.ReadFile(fsys, name)
}
