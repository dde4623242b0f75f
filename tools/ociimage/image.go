package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// The image's fixed facts. The user is numeric, so a runtime that checks
// runAsNonRoot (Kubernetes) can tell it is not root without reading
// /etc/passwd; 65532 is the "nonroot" of distroless images.
const (
	binaryPath = "/usr/bin/lightkeeper"
	caFile     = "/etc/ssl/certs/ca-certificates.crt"
	stateDir   = "/var/lib/lightkeeper"
	configFile = "/etc/lightkeeper/config.yaml"
	uid        = 65532
	gid        = 65532
	listenPort = "9180/tcp" // the daemon's default listen port
	repository = "ghcr.io/lightkeeper/lightkeeper"
	sourceURL  = "https://github.com/lightkeeper/lightkeeper"
)

type buildOptions struct {
	binary, arch, version, revision, created, license, output string
}

// entry is one file or directory of the image's layer.
type entry struct {
	name     string // without the leading slash
	mode     int64  // permission bits
	dir      bool
	uid, gid int
	data     []byte
}

// caBundle is the Mozilla root store that golang.org/x/crypto/x509roots/fallback
// carries, as PEM. Roots with a constraint (a distrust-after date) are left
// out: a PEM file cannot say it, and trusting them without it would trust
// certificates the Go bundle refuses.
func caBundle() []byte {
	var b bytes.Buffer
	for root := range bundle.Roots() {
		if root.Constraint != nil {
			continue
		}
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: root.Certificate})
	}
	return b.Bytes()
}

// imageFiles lists the layer's content, parents before children.
func imageFiles(binary, license []byte) []entry {
	dir := func(name string, mode int64) entry { return entry{name: name, mode: mode, dir: true} }
	file := func(name string, mode int64, data []byte) entry { return entry{name: name, mode: mode, data: data} }
	files := []entry{
		dir("etc", 0o755),
		file("etc/group", 0o644, []byte("root:x:0:\nlightkeeper:x:"+strconv.Itoa(gid)+":\n")),
		dir("etc/lightkeeper", 0o755),
		file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/sbin/nologin\nlightkeeper:x:"+strconv.Itoa(uid)+":"+strconv.Itoa(gid)+":lightkeeper:"+stateDir+":/sbin/nologin\n")),
		dir("etc/ssl", 0o755),
		dir("etc/ssl/certs", 0o755),
		file(caFile[1:], 0o644, caBundle()),
		dir("tmp", 0o1777),
		dir("usr", 0o755),
		dir("usr/bin", 0o755),
		file(binaryPath[1:], 0o755, binary),
	}
	if license != nil {
		files = append(files, dir("usr/share", 0o755), dir("usr/share/doc", 0o755), dir("usr/share/doc/lightkeeper", 0o755),
			file("usr/share/doc/lightkeeper/LICENSE", 0o644, license))
	}
	state := dir(stateDir[1:], 0o700)
	state.uid, state.gid = uid, gid
	return append(files, dir("var", 0o755), dir("var/lib", 0o755), state)
}

// layerTar packs files as an uncompressed layer, every time set to mtime,
// so the same inputs make the same layer digest.
func layerTar(files []entry, mtime time.Time) ([]byte, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, Uid: f.uid, Gid: f.gid, ModTime: mtime, Format: tar.FormatPAX}
		if f.dir {
			h.Typeflag, h.Name = tar.TypeDir, f.name+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// variant is the OCI platform variant of a Go architecture.
func variant(arch string) string {
	if arch == "arm64" {
		return "v8"
	}
	return ""
}

func build(o buildOptions) error {
	if o.arch != "amd64" && o.arch != "arm64" {
		return fmt.Errorf("--arch %q: want amd64 or arm64", o.arch)
	}
	created := time.Unix(0, 0).UTC()
	if o.created != "" {
		t, err := time.Parse(time.RFC3339, o.created)
		if err != nil {
			return fmt.Errorf("--created: %w", err)
		}
		created = t.UTC()
	}
	binary, err := os.ReadFile(o.binary)
	if err != nil {
		return err
	}
	var license []byte
	if o.license != "" {
		if license, err = os.ReadFile(o.license); err != nil {
			return err
		}
	}
	raw, err := layerTar(imageFiles(binary, license), created)
	if err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil },
		tarball.WithMediaType(types.OCILayer), tarball.WithCompressionLevel(gzip.BestCompression))
	if err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, MediaType: types.OCILayer, History: v1.History{
		Created:   v1.Time{Time: created},
		CreatedBy: "ociimage build (lightkeeper " + o.version + ")",
		Comment:   "the lightkeeper binary, CA certificates, a non-root user and its state directory",
	}})
	if err != nil {
		return err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Variant = "linux", o.arch, variant(o.arch)
	cfg.Created = v1.Time{Time: created}
	labels := map[string]string{
		"org.opencontainers.image.title":       "lightkeeper",
		"org.opencontainers.image.description": "GitOps reconciler for Tencent Cloud Lighthouse fleets",
		"org.opencontainers.image.version":     o.version,
		"org.opencontainers.image.created":     created.Format(time.RFC3339),
		"org.opencontainers.image.source":      sourceURL,
		"org.opencontainers.image.licenses":    "Apache-2.0",
	}
	if o.revision != "" {
		labels["org.opencontainers.image.revision"] = o.revision
	}
	cfg.Config = v1.Config{
		User:       strconv.Itoa(uid) + ":" + strconv.Itoa(gid),
		Entrypoint: []string{binaryPath},
		Cmd:        []string{"daemon", "--config", configFile},
		Env: []string{
			"PATH=/usr/bin",
			"SSL_CERT_FILE=" + caFile,
			"STATE_DIRECTORY=" + stateDir, // the daemon's default stateDirectory, as under systemd
		},
		WorkingDir:   stateDir,
		ExposedPorts: map[string]struct{}{listenPort: {}},
		Labels:       labels,
		StopSignal:   "SIGTERM",
	}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return err
	}
	return writeArchive(img, o)
}

// writeArchive writes img as an OCI image layout and packs it into
// o.output, entries sorted and timed like the layer.
func writeArchive(img v1.Image, o buildOptions) error {
	dir, err := os.MkdirTemp("", "ociimage-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendImage(img,
		layout.WithPlatform(v1.Platform{OS: "linux", Architecture: o.arch, Variant: variant(o.arch)}),
		layout.WithAnnotations(map[string]string{
			// The tag, as the OCI layout spec names it, and the full name
			// that docker load and containerd give the image.
			"org.opencontainers.image.ref.name": o.version,
			"io.containerd.image.name":          repository + ":" + o.version,
		})); err != nil {
		return err
	}
	out, err := os.Create(o.output)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(out)
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		h := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, ModTime: time.Unix(0, 0).UTC(), Format: tar.FormatPAX}
		if d.IsDir() {
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, h.Name+"/", 0o755
			return tw.WriteHeader(h)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		h.Typeflag, h.Size = tar.TypeReg, int64(len(data))
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(o.output)
		return fmt.Errorf("write %s: %w", o.output, err)
	}
	return nil
}
