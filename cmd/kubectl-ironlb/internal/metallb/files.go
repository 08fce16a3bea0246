package metallb

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/report"
)

// DecodeFiles reads each of paths into s the way `kubectl apply -f` takes
// them: "-" is stdin; a directory means its .yaml, .yml and .json files, in
// name order, and, when recursive, those of its subdirectories too.
func (s *Set) DecodeFiles(paths []string, recursive bool, stdin io.Reader, rep *report.Report) error {
	for _, p := range paths {
		if p == "-" {
			if err := s.Decode(stdin, "stdin", rep); err != nil {
				return err
			}
			continue
		}
		files, err := expand(p, recursive)
		if err != nil {
			return err
		}
		for _, f := range files {
			if err := s.decodeFile(f, rep); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Set) decodeFile(path string, rep *report.Report) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return s.Decode(f, path, rep)
}

// expand returns path itself for a file, else the manifest files under the
// directory.
func expand(path string, recursive bool) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	var out []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != path && !recursive {
				return filepath.SkipDir
			}
			return nil
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml", ".json":
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no .yaml, .yml or .json files", path)
	}
	slices.Sort(out)
	return out, nil
}
