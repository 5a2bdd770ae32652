package gatehousetest_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/gatehousetest"
)

func TestDeclPositionsNamesAndPlacesTheOptions(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		decl     gatehousetest.Decl
		src      string
		wantPos  string
		wantDir  string
		wantName string
		wantZero bool
		wantKeys []string
	}{
		{"default: after options: on line 1", gatehousetest.Decl{}, "{a: 1, b: 2}", "gateway.yaml:1:10", ".", "", false, []string{"a", "b"}},
		{"a file in a directory", gatehousetest.Decl{File: filepath.Join(dir, "gateway.yaml")}, "{a: 1}",
			filepath.Join(dir, "gateway.yaml") + ":1:10", dir, "", false, []string{"a"}},
		{"a named entry", gatehousetest.Decl{Name: "chat"}, "{a: 1}", "gateway.yaml:1:10", ".", "chat", false, []string{"a"}},
		{"a block of its own", gatehousetest.Decl{Document: true}, "b: 1\na: 2", "gateway.yaml:1:1", ".", "", false, []string{"b", "a"}},
		{"an empty document is absent", gatehousetest.Decl{Document: true}, "", "gateway.yaml:1:1", ".", "", true, nil},
		{"null options are absent", gatehousetest.Decl{}, "~", "gateway.yaml:1:10", ".", "", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.decl.Options(t, tt.src)
			if got := opts.Pos().String(); got != tt.wantPos {
				t.Errorf("pos = %s, want %s", got, tt.wantPos)
			}
			if got := opts.Dir(); got != tt.wantDir {
				t.Errorf("dir = %s, want %s", got, tt.wantDir)
			}
			if got := opts.Name(); got != tt.wantName {
				t.Errorf("name = %q, want %q", got, tt.wantName)
			}
			if got := opts.IsZero(); got != tt.wantZero {
				t.Errorf("zero = %v, want %v", got, tt.wantZero)
			}
			if got := opts.Keys(); !slices.Equal(got, tt.wantKeys) {
				t.Errorf("keys = %v, want %v", got, tt.wantKeys)
			}
		})
	}
}

func TestDeclGivesItsHost(t *testing.T) {
	host := gatehouse.NewHost(gatehouse.HostOptions{Distributed: true})
	if opts := (gatehousetest.Decl{Host: host}).Options(t, "{}"); opts.Host() != host {
		t.Errorf("host = %v, want the Decl's", opts.Host())
	}
}

func TestDeclRefusesTextThatIsNotYAML(t *testing.T) {
	if _, err := (gatehousetest.Decl{}).ParseOptions("{a: [1"); err == nil {
		t.Fatal("options parsed from broken YAML")
	}
}
